"""The Pipeline API: every record read back from what the sinks wrote."""

import json
import threading

import pytest

import sinkbox


def read(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_dicts_strings_and_bytes_arrive_in_order(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    pipeline.emit({"i": 0, "nested": {"ok": True, "n": [1, 2.5, None]}, "big": 2**70})
    pipeline.emit('{"i": 1}')
    pipeline.emit(b'{"i": 2}', level="warning")
    assert pipeline.emit_many({"i": i} for i in range(3, 6)) == 3
    assert pipeline.shutdown() == []
    records = read(out)
    assert [r["i"] for r in records] == [0, 1, 2, 3, 4, 5]
    assert records[0]["nested"] == {"ok": True, "n": [1, 2.5, None]}
    assert records[0]["big"] == str(2**70)


def test_values_that_are_not_json_are_written_as_their_repr_bounded(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])

    class Odd:
        def __repr__(self):
            return "x" * 10_000

    pipeline.emit({"odd": Odd(), "set": {1}, "nan": float("nan")})
    pipeline.shutdown()
    (record,) = read(out)
    assert record["odd"].startswith("xxx") and len(record["odd"]) <= 1025
    assert record["set"] == "{1}"
    assert record["nan"] is None


def test_bad_input_raises_and_the_pipeline_goes_on(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    with pytest.raises(ValueError, match="not a single JSON value"):
        pipeline.emit("{not json")
    with pytest.raises(TypeError, match="a record is a dict"):
        pipeline.emit(42)
    with pytest.raises(ValueError, match="not a level"):
        pipeline.emit({}, level="loud")
    pipeline.emit({"i": 1})
    pipeline.shutdown()
    assert read(out) == [{"i": 1}]
    with pytest.raises(sinkbox.EmitError, match="shut down"):
        pipeline.emit({"i": 2})


def test_configuration_errors_carry_the_clis_message(tmp_path):
    with pytest.raises(sinkbox.ConfigError, match="unknown option `max_byts`"):
        sinkbox.Pipeline.from_toml('[sinks.a]\ntype = "file"\npath = "a.ndjson"\nmax_byts = 1\n')
    with pytest.raises(sinkbox.ConfigError, match="cannot read the config file"):
        sinkbox.Pipeline.from_config(tmp_path / "missing.toml")
    with pytest.raises(sinkbox.ConfigError):
        sinkbox.Pipeline(["nosuchscheme://x"])
    broken = tmp_path / "broken.wasm"
    broken.write_bytes(b"\0asm not really")
    with pytest.raises(sinkbox.ConfigError):
        sinkbox.Pipeline.from_toml(f'[sinks.w]\ntype = "wasm"\ncomponent = "{broken}"\n')


def test_when_routing_and_stats_from_python(tmp_path):
    config = tmp_path / "sinkbox.toml"
    config.write_text(
        '[sinks.errors]\ntype = "file"\npath = "errors.ndjson"\nwhen = \'level >= "error"\'\n'
        '[sinks.all]\ntype = "file"\npath = "all.ndjson"\n'
    )
    pipeline = sinkbox.Pipeline.from_config(config)
    pipeline.emit({"level": "info", "i": 0}, level="info")
    pipeline.emit({"level": "error", "i": 1}, level="error")
    assert pipeline.flush(10.0) == []
    stats = {s["name"]: s for s in pipeline.stats()}
    assert stats["all"]["records"] == 2
    pipeline.shutdown()
    assert [r["i"] for r in read(tmp_path / "errors.ndjson")] == [1]
    assert sorted(pipeline.sink_names()) == ["all", "errors"]


def test_eight_threads_each_record_exactly_once(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])

    def worker(t):
        for i in range(10_000):
            pipeline.emit({"t": t, "i": i})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline.shutdown()
    seen = {(r["t"], r["i"]) for r in read(out)}
    assert len(seen) == 80_000
    assert sum(1 for _ in open(out)) == 80_000


def test_a_forked_child_makes_its_own_pipeline_and_the_parent_loses_nothing(tmp_path):
    import os

    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    stop = threading.Event()

    def busy():
        # Another thread emitting while the forks happen.
        i = 0
        while not stop.is_set():
            pipeline.emit({"from": "thread", "i": i})
            i += 1

    thread = threading.Thread(target=busy)
    thread.start()
    pipeline.emit({"from": "parent", "i": 0})
    children = []
    for child in range(3):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                for i in range(1000):
                    pipeline.emit({"from": f"child{child}", "i": i})
                # The child's own pipeline: its records, not the parent's.
                code = 0 if pipeline.shutdown(30) == [] else 3
            except BaseException:
                code = 2
            os._exit(code)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    stop.set()
    thread.join()
    pipeline.emit({"from": "parent", "i": 1})
    pipeline.shutdown()
    records = read(out)
    assert [r["i"] for r in records if r["from"] == "parent"] == [0, 1]
    for child in range(3):
        got = [r["i"] for r in records if r["from"] == f"child{child}"]
        assert got == list(range(1000)), f"child{child}: {len(got)} records"
    emitted = [r["i"] for r in records if r["from"] == "thread"]
    assert emitted == list(range(len(emitted))), "the parent's thread lost nothing"


def test_multiprocessing_fork_workers_deliver_without_calling_shutdown(tmp_path):
    import multiprocessing
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out.ndjson"
    # In a script of its own: the workers log and return, leaving through
    # multiprocessing's exit path (os._exit, no atexit).
    script = textwrap.dedent(
        f"""
        import logging, multiprocessing, sinkbox
        sinkbox.configure(sinks=["file://{out}"])
        log = logging.getLogger("worker")

        def work(n):
            for i in range(500):
                log.info("worker %d record %d", n, i, extra={{"worker": n, "i": i}})

        if __name__ == "__main__":
            log.info("parent before", extra={{"worker": -1, "i": 0}})
            ctx = multiprocessing.get_context("fork")
            workers = [ctx.Process(target=work, args=(n,)) for n in range(3)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
                assert w.exitcode == 0, w.exitcode
            log.info("parent after", extra={{"worker": -1, "i": 1}})
        """
    )
    assert multiprocessing.get_all_start_methods()[0] in ("fork", "forkserver", "spawn")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    records = read(out)
    assert [r["i"] for r in records if r["worker"] == -1] == [0, 1]
    for n in range(3):
        got = sorted(r["i"] for r in records if r["worker"] == n)
        assert got == list(range(500)), f"worker {n}: {len(got)} records"


def test_pool_workers_ended_by_terminate_deliver_first(tmp_path):
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out.ndjson"
    # `with Pool(...)` ends with terminate(): SIGTERM to each worker.
    script = textwrap.dedent(
        f"""
        import logging, multiprocessing, sinkbox
        sinkbox.configure(sinks=["file://{out}"])
        log = logging.getLogger("pool")

        def work(n):
            for i in range(3):
                log.info("task %d record %d", n, i, extra={{"task": n, "i": i}})
            return n

        if __name__ == "__main__":
            with multiprocessing.get_context("fork").Pool(2) as pool:
                assert pool.map(work, range(4)) == [0, 1, 2, 3]
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    got = sorted((r["task"], r["i"]) for r in read(out))
    assert got == [(n, i) for n in range(4) for i in range(3)]


def test_a_pipeline_left_running_delivers_at_exit(tmp_path):
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out.ndjson"
    script = textwrap.dedent(
        f"""
        import sinkbox
        pipeline = sinkbox.Pipeline(["file://{out}"])
        for i in range(20_000):
            pipeline.emit({{"i": i}})
        # no shutdown: the interpreter's exit delivers what is queued
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert [r["i"] for r in read(out)] == list(range(20_000))


def test_a_with_block_shuts_the_pipeline_down(tmp_path):
    out = tmp_path / "out.ndjson"
    with sinkbox.Pipeline([f"file://{out}"]) as pipeline:
        pipeline.emit({"i": 1})
    assert read(out) == [{"i": 1}]
    with pytest.raises(sinkbox.EmitError, match="shut down"):
        pipeline.emit({"i": 2})


def test_floats_that_would_overflow_a_time_are_clamped_never_a_panic(tmp_path):
    import logging

    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    for timeout in (float("inf"), 1e300):
        assert pipeline.flush(timeout) == []
    for timeout in (float("nan"), -1.0):  # no wait at all
        assert isinstance(pipeline.flush(timeout), list)
    record = logging.makeLogRecord({"msg": "far away", "levelno": 20, "levelname": "INFO"})
    for created in (float("inf"), float("nan"), -1e300, 1e300):
        record.created = created
        pipeline.emit_log_record(record)
    assert pipeline.shutdown(float("inf")) == []
    stamps = [r["timestamp"] for r in read(out)]
    assert stamps == [
        "9999-12-31T23:59:59.000000Z",
        "1970-01-01T00:00:00.000000Z",
        "1970-01-01T00:00:00.000000Z",
        "9999-12-31T23:59:59.000000Z",
    ]


def test_hostile_values_raise_or_are_bounded_and_the_interpreter_lives(tmp_path):
    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])

    class Unprintable:
        def __repr__(self):
            raise RuntimeError("no repr")

    class BadStr(str):
        def __str__(self):
            raise RuntimeError("no str")

    deep = []
    for _ in range(100_000):
        deep = [deep]
    pipeline.emit({"deep": deep, "unprintable": Unprintable(), 7: "int key"})
    with pytest.raises(UnicodeEncodeError):
        pipeline.emit({"lone": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        pipeline.emit("\ud800")
    pipeline.emit({"ok": BadStr("still a str")})
    pipeline.shutdown()
    first, second = read(out)
    assert first["unprintable"] == "<unrepresentable Unprintable>"
    assert first["7"] == "int key"
    assert len(json.dumps(first["deep"])) < 10_000
    assert second == {"ok": "still a str"}


def test_a_wasm_sink_from_python(tmp_path):
    from pathlib import Path

    component = Path(__file__).resolve().parents[2] / "target/wasm32-wasip2/release/redact_sink.wasm"
    assert component.exists(), f"{component}: build the example sinks first (cargo xtask build-sinks)"
    grant = tmp_path / "grant"
    grant.mkdir()
    pipeline = sinkbox.Pipeline.from_toml(
        f"""
        [sinks.redact]
        type = "wasm"
        component = "{component}"
        grant = {{ path = "{grant}", guest_path = "/data" }}
        config = {{ path = "/data/redacted.ndjson" }}
        """
    )
    pipeline.emit({"user": "ann", "password": "hunter2"})
    pipeline.emit({"note": "paid with 4111 1111 1111 1111"})
    assert pipeline.shutdown() == []
    assert read(grant / "redacted.ndjson") == [
        {"user": "ann", "password": "[REDACTED]"},
        {"note": "paid with [REDACTED]"},
    ]


def test_a_forked_child_exits_normally_without_hanging(tmp_path):
    import subprocess
    import sys
    import textwrap

    out = tmp_path / "out.ndjson"
    script = textwrap.dedent(
        f"""
        import logging, os, sinkbox
        sinkbox.configure(sinks=["file://{out}"])
        logging.getLogger("app").warning("before fork")
        if os.fork() == 0:
            raise SystemExit(0)   # atexit and garbage collection in the child
        os.wait()
        logging.getLogger("app").warning("after fork")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert [r["message"] for r in read(out)] == ["before fork", "after fork"]
