"""Sends log records to an OTLP/HTTP logs endpoint with the OpenTelemetry
Python SDK and its OTLP/HTTP exporter (protobuf, gzip), the way an
instrumented service does: the standard library's `logging` through the
SDK's `LoggingHandler`, inside spans, batched by `BatchLogRecordProcessor`.

Usage: otel_log_sender.py ENDPOINT COUNT

Prints one JSON line per span: {"span": N, "trace_id": hex, "span_id": hex}
and exits 0 once every record was exported (non-zero if an export failed).
"""

import json
import logging
import sys

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider


class CountingExporter(OTLPLogExporter):
    """The SDK's exporter, remembering whether any export failed."""

    failures = 0

    def export(self, batch):
        result = super().export(batch)
        if result.name != "SUCCESS":
            CountingExporter.failures += 1
        return result


def main() -> int:
    endpoint, count = sys.argv[1], int(sys.argv[2])
    resource = Resource.create({"service.name": "shop", "deployment.environment": "test"})
    tracer = TracerProvider(resource=resource).get_tracer("shop.orders")
    provider = LoggerProvider(resource=resource)
    exporter = CountingExporter(endpoint=endpoint, compression=Compression.Gzip, timeout=30)
    # The processor's queue holds them all: by default it drops records
    # past 2,048 waiting, which would be the SDK's loss, not the server's.
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            exporter,
            max_queue_size=max(count + 1, 512),
            max_export_batch_size=512,
            schedule_delay_millis=50,
        )
    )
    log = logging.getLogger("shop.orders")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))
    per_span = 100
    for span_number in range(0, count, per_span):
        with tracer.start_as_current_span(f"batch-{span_number}") as span:
            context = span.get_span_context()
            print(
                json.dumps(
                    {
                        "span": span_number // per_span,
                        "trace_id": format(context.trace_id, "032x"),
                        "span_id": format(context.span_id, "016x"),
                    }
                )
            )
            for i in range(span_number, min(span_number + per_span, count)):
                level = logging.WARNING if i % 2 else logging.INFO
                log.log(level, "order %d placed", i, extra={"order.id": i, "amount": i / 4})
    provider.shutdown()
    return 1 if CountingExporter.failures else 0


if __name__ == "__main__":
    sys.exit(main())
