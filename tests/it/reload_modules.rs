//! Hot reload of a wasm sink's module: many swaps under load lose and
//! repeat nothing; a bad module never replaces a good one; a file written in
//! two steps is not loaded half-written.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{engine, guest, read_lines, wait_until};
use sha2::{Digest, Sha256};
use sinkbox::pipeline::BatchOptions;
use sinkbox::registry::SinkRegistry;
use sinkbox::reload::{ModuleSource, ReloadError, ReloadWatcher, WatchOptions};
use sinkbox::wasm::WasmSink;
use sinkbox::{Pipeline, SinkStats};

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// A pipeline with one tag sink, `tag`, running the module at `module`,
/// writing into `out`.
fn pipeline(module: &Path, out: &Path, config: &[(&str, &str)]) -> Pipeline {
    let component = engine().load(module).unwrap();
    let sink = WasmSink::new("tag", component, crate::support::granted(out, config));
    Pipeline::builder()
        .data_dir(out.join("data"))
        .batch(BatchOptions {
            max_records: 16,
            max_bytes: 1 << 20,
            timeout: Duration::from_millis(5),
        })
        .sink("tag", sink)
        .build()
        .unwrap()
}

fn numbers(path: &Path) -> Vec<usize> {
    crate::support::numbers(&read_lines(path))
}

fn stats(pipeline: &Pipeline) -> SinkStats {
    pipeline.stats().into_iter().next().unwrap()
}

#[test]
fn twenty_swaps_under_load_lose_and_repeat_nothing() {
    let out = tempfile::tempdir().unwrap();
    let (v1, v2) = (guest("tag-sink-v1"), guest("tag-sink-v2"));
    let pipeline = pipeline(&v1, out.path(), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let emitted = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (pipeline, stop, emitted) = (pipeline.clone(), stop.clone(), emitted.clone());
        std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Acquire) || i < 2000 {
                pipeline
                    .emit_json(format!(r#"{{"i":{i}}}"#).as_bytes())
                    .unwrap();
                i += 1;
                emitted.store(i, Ordering::Release);
                if i.is_multiple_of(64) {
                    std::thread::yield_now();
                }
            }
            i
        })
    };
    let mut pauses = Vec::new();
    for swap in 0..22 {
        // Let records flow between swaps, so every swap lands mid-stream.
        let before = emitted.load(Ordering::Acquire);
        wait_until("the producer moved on", || {
            emitted.load(Ordering::Acquire) > before + 50
        });
        let module = if swap % 2 == 0 { &v2 } else { &v1 };
        let report = pipeline
            .reload_sink("tag", ModuleSource::Path(module.clone()))
            .unwrap();
        assert!(!report.unchanged);
        assert_eq!(report.module_hash, hash(module));
        pauses.push(report.pause);
    }
    stop.store(true, Ordering::Release);
    let total = producer.join().unwrap();
    let stats = pipeline.shutdown().into_iter().next().unwrap();
    let first = numbers(&out.path().join("v1.ndjson"));
    let second = numbers(&out.path().join("v2.ndjson"));
    for (name, seen) in [("v1", &first), ("v2", &second)] {
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "{name}'s records are in order"
        );
    }
    let mut all: Vec<usize> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    assert_eq!(all.len(), total, "nothing lost or repeated");
    assert_eq!(all, (0..total).collect::<Vec<_>>());
    assert!(!first.is_empty() && !second.is_empty());
    assert_eq!((stats.reloads, stats.reload_failures), (22, 0));
    assert_eq!(stats.module_hash.as_deref(), Some(hash(&v1).as_str()));
    assert_eq!(stats.dead_lettered + stats.dropped, 0);
}

#[test]
fn a_bad_module_never_replaces_a_good_one() {
    let out = tempfile::tempdir().unwrap();
    let v1 = guest("tag-sink-v1");
    // Version 2 refuses to start under this config.
    let pipeline = pipeline(&v1, out.path(), &[("refuse_version", "2")]);
    let good = std::fs::read(&v1).unwrap();
    let not_a_sink = wat::parse_str(
        r#"(component
             (core module $m (func (export "f") (result i32) i32.const 1))
             (core instance $i (instantiate $m))
             (func (export "answer") (result u32) (canon lift (core func $i "f"))))"#,
    )
    .unwrap();
    let cases: Vec<(&str, ModuleSource, &str)> = vec![
        (
            "truncated",
            ModuleSource::Bytes(good[..good.len() / 2].to_vec()),
            "is not a valid component",
        ),
        (
            "garbage",
            ModuleSource::Bytes(b"definitely not wasm".to_vec()),
            "is not a WebAssembly file",
        ),
        (
            "core module",
            ModuleSource::Bytes(wat::parse_str("(module)").unwrap()),
            "is a core WebAssembly module, not a component",
        ),
        (
            "not a sink",
            ModuleSource::Bytes(not_a_sink),
            "does not export the `sinkbox:sink/sink@0.2.0` interface",
        ),
        (
            "start fails",
            ModuleSource::Path(guest("tag-sink-v2")),
            "the new instance failed to start: the sink refused its configuration: version 2 is told to refuse to start",
        ),
        (
            "missing file",
            ModuleSource::Path(out.path().join("nope.wasm")),
            "cannot read",
        ),
    ];
    let mut sent = 0;
    for (number, (case, source, expected)) in cases.into_iter().enumerate() {
        let err = pipeline.reload_sink("tag", source).unwrap_err();
        let ReloadError::Refused { sink, message } = &err else {
            panic!("{case}: {err:?}")
        };
        assert_eq!(sink, "tag");
        assert!(message.contains(expected), "{case}: {message}");
        assert!(
            err.to_string()
                .starts_with("sink `tag` keeps its running module; the new one was refused: "),
            "{err}"
        );
        let stats = stats(&pipeline);
        assert_eq!(stats.reload_failures, number as u64 + 1, "{case}");
        assert_eq!(stats.last_reload_error.as_deref(), Some(message.as_str()));
        assert_eq!(
            stats.module_hash.as_deref(),
            Some(hash(&v1).as_str()),
            "{case}"
        );
        // The old instance keeps receiving.
        for _ in 0..5 {
            pipeline
                .emit_json(format!(r#"{{"i":{sent}}}"#).as_bytes())
                .unwrap();
            sent += 1;
        }
        assert!(pipeline.flush(Duration::from_secs(30)).is_complete());
        assert_eq!(
            numbers(&out.path().join("v1.ndjson")),
            (0..sent).collect::<Vec<_>>(),
            "{case}"
        );
    }
    assert!(matches!(
        pipeline.reload_sink("nope", ModuleSource::Path(v1.clone())),
        Err(ReloadError::NoSuchSink(_))
    ));
    let unchanged = pipeline
        .reload_sink("tag", ModuleSource::Path(v1.clone()))
        .unwrap();
    assert!(unchanged.unchanged, "the running module is not reloaded");
    pipeline.shutdown();
    assert!(!out.path().join("v2.ndjson").exists());
}

#[test]
fn the_watcher_skips_a_half_written_file_and_picks_up_the_next_good_one() {
    let out = tempfile::tempdir().unwrap();
    let modules = tempfile::tempdir().unwrap();
    let live = modules.path().join("sink.wasm");
    let (v1, v2) = (guest("tag-sink-v1"), guest("tag-sink-v2"));
    std::fs::copy(&v1, &live).unwrap();
    let pipeline = pipeline(&live, out.path(), &[]);
    let _watcher = ReloadWatcher::start(
        pipeline.clone(),
        None,
        SinkRegistry::builtin(),
        WatchOptions {
            debounce: Duration::from_millis(800),
            ..WatchOptions::default()
        },
    )
    .unwrap();
    let emit = |range: std::ops::Range<usize>| {
        for i in range {
            pipeline
                .emit_json(format!(r#"{{"i":{i}}}"#).as_bytes())
                .unwrap();
        }
    };
    emit(0..50);

    // Two steps: truncate and write half, then the rest.
    let bytes = std::fs::read(&v2).unwrap();
    std::fs::write(&live, &bytes[..bytes.len() / 2]).unwrap();
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&live)
            .unwrap();
        file.write_all(&bytes[bytes.len() / 2..]).unwrap();
    }
    let v2_hash = hash(&v2);
    wait_until("v2 is running", || {
        stats(&pipeline).module_hash.as_deref() == Some(v2_hash.as_str())
    });
    assert_eq!(
        stats(&pipeline).reload_failures,
        0,
        "the half-written file was never tried"
    );
    emit(50..100);

    // A broken file is refused; the next good one is picked up.
    std::fs::write(&live, b"broken").unwrap();
    wait_until("the broken file was refused", || {
        stats(&pipeline).reload_failures == 1
    });
    assert_eq!(
        stats(&pipeline).module_hash.as_deref(),
        Some(v2_hash.as_str())
    );
    emit(100..150);
    std::fs::copy(&v1, &live).unwrap();
    let v1_hash = hash(&v1);
    wait_until("v1 is back", || {
        stats(&pipeline).module_hash.as_deref() == Some(v1_hash.as_str())
    });
    emit(150..200);
    pipeline.shutdown();
    let mut all: Vec<usize> = numbers(&out.path().join("v1.ndjson"))
        .into_iter()
        .chain(numbers(&out.path().join("v2.ndjson")))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..200).collect::<Vec<_>>());
}

#[test]
fn run_watch_reloads_a_module_the_operator_replaces() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("tag.wasm");
    std::fs::copy(guest("tag-sink-v1"), &live).unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        "[sinks.tag]\ntype = \"wasm\"\ncomponent = \"tag.wasm\"\ngrant = { path = \"out\" }\n",
    )
    .unwrap();
    let mut child = crate::support::spawn_sinkbox_run(&[
        "--watch".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    let (stderr, reader) = crate::support::collect_stderr(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..10 {
        writeln!(stdin, r#"{{"i":{i}}}"#).unwrap();
    }
    stdin.flush().unwrap();
    let out = dir.path().join("out");
    wait_until("the watcher is running", || {
        stderr.lock().unwrap().contains("watching the sink modules")
    });
    std::fs::copy(guest("tag-sink-v2"), &live).unwrap();
    wait_until("the module reload is logged", || {
        stderr.lock().unwrap().contains("module reloaded")
    });
    for i in 10..20 {
        writeln!(stdin, r#"{{"i":{i}}}"#).unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("tag: 1 reload(s), 0 refused"), "{stderr}");
    let mut all: Vec<usize> = numbers(&out.join("v1.ndjson"))
        .into_iter()
        .chain(numbers(&out.join("v2.ndjson")))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..20).collect::<Vec<_>>(), "{stderr}");
    assert!(!numbers(&out.join("v2.ndjson")).is_empty());
}
