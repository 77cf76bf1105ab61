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


def test_a_forked_child_gets_a_clear_error_and_the_parent_loses_nothing(tmp_path):
    import os

    out = tmp_path / "out.ndjson"
    pipeline = sinkbox.Pipeline([f"file://{out}"])
    stop = threading.Event()

    def busy():
        # Another thread emitting while the fork happens.
        i = 0
        while not stop.is_set():
            pipeline.emit({"from": "thread", "i": i})
            i += 1

    thread = threading.Thread(target=busy)
    thread.start()
    pipeline.emit({"from": "parent", "i": 0})
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            pipeline.emit({"from": "child"})
        except sinkbox.EmitError as err:
            code = 0 if "forked" in str(err) else 2
        pipeline.shutdown()  # a no-op in the child, never a hang
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    stop.set()
    thread.join()
    assert os.WEXITSTATUS(status) == 0
    pipeline.emit({"from": "parent", "i": 1})
    pipeline.shutdown()
    records = read(out)
    assert [r["i"] for r in records if r["from"] == "parent"] == [0, 1]
    assert not any(r["from"] == "child" for r in records)
    emitted = [r["i"] for r in records if r["from"] == "thread"]
    assert emitted == list(range(len(emitted))), "the parent's thread lost nothing"


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
