//! Composite sinks built from a config, driving real sinks: failover that
//! switches back after recovery, round-robin balance, fanout past a failing
//! target, shared instances, and the load-time reference checks.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{Counts, emit_numbered, numbers, read_lines, wait_until};
use sinkbox::config::{Config, ConfigLoader, build_pipeline, build_pipeline_with};

fn parse(text: &str, dir: &Path) -> Config {
    Config::from_toml(text, "test.toml", dir).unwrap()
}

/// A loopback TCP receiver that collects lines until told to stop.
struct Receiver {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(listener: TcpListener, lines: Arc<Mutex<Vec<String>>>) -> Receiver {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let sink = lines.clone();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while !flag.load(Ordering::SeqCst) {
                    match reader.read_line(&mut line) {
                        Ok(0) => break,
                        Ok(_) if line.ends_with('\n') => {
                            sink.lock().unwrap().push(line.trim_end().to_owned());
                            line.clear();
                        }
                        _ => {}
                    }
                }
            }
        });
        Receiver {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
    }
}

#[test]
fn failover_moves_to_the_backup_and_returns_to_the_primary_after_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(listener, received.clone());
    let config = parse(
        &format!(
            r#"
            [runtime.batch]
            max_records = 5
            timeout = "1h"
            [sinks.out]
            type = "composite"
            pattern = "failover"
            targets = ["primary", "backup"]
            probe_interval = "50ms"
            [sinks.primary]
            type = "direct"
            endpoint = "tcp://127.0.0.1:{port}"
            retry_delay = "10ms"
            max_retry_delay = "20ms"
            [sinks.backup]
            type = "file"
            path = "backup.ndjson"
            "#
        ),
        dir.path(),
    );
    assert_eq!(
        config.roots().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["out"],
        "targets are fed only through their composite"
    );
    let pipeline = build_pipeline(&config).unwrap();
    emit_numbered(&pipeline, 0..10);
    assert!(pipeline.flush(Duration::from_secs(30)).is_complete());
    wait_until("the primary got the first 10", || {
        received.lock().unwrap().len() == 10
    });
    receiver.stop();

    emit_numbered(&pipeline, 10..20);
    assert!(pipeline.flush(Duration::from_secs(30)).is_complete());
    let backup = dir.path().join("backup.ndjson");
    assert_eq!(numbers(&read_lines(&backup)), (10..20).collect::<Vec<_>>());

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let receiver = Receiver::start(listener, received.clone());
    // Longer than the probe interval and the reconnect back-off.
    std::thread::sleep(Duration::from_millis(300));
    emit_numbered(&pipeline, 20..30);
    assert!(pipeline.flush(Duration::from_secs(30)).is_complete());
    wait_until("the primary got the last 10", || {
        received.lock().unwrap().len() == 20
    });
    pipeline.shutdown();
    receiver.stop();

    let primary = numbers(&received.lock().unwrap());
    assert_eq!(
        primary,
        (0..10).chain(20..30).collect::<Vec<_>>(),
        "batches went back to the primary once it recovered"
    );
    assert_eq!(numbers(&read_lines(&backup)), (10..20).collect::<Vec<_>>());
}

#[test]
fn round_robin_spreads_batches_evenly() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse(
        r#"
        [runtime.batch]
        max_records = 10
        timeout = "1h"
        [sinks.spread]
        type = "composite"
        pattern = "round_robin"
        targets = ["a", "b"]
        [sinks.a]
        type = "file"
        path = "a.ndjson"
        [sinks.b]
        type = "file"
        path = "b.ndjson"
        "#,
        dir.path(),
    );
    let pipeline = build_pipeline(&config).unwrap();
    emit_numbered(&pipeline, 0..80);
    pipeline.shutdown();
    let a = numbers(&read_lines(&dir.path().join("a.ndjson")));
    let b = numbers(&read_lines(&dir.path().join("b.ndjson")));
    assert_eq!((a.len(), b.len()), (40, 40));
    assert_eq!(
        &a[..10],
        (0..10).collect::<Vec<_>>(),
        "whole batches alternate"
    );
    assert_eq!(&b[..10], (10..20).collect::<Vec<_>>());
    let mut all: Vec<usize> = a.into_iter().chain(b).collect();
    all.sort();
    assert_eq!(all, (0..80).collect::<Vec<_>>());
}

#[test]
fn fanout_delivers_to_every_target_and_a_failing_one_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = parse(
        &format!(
            r#"
            [runtime]
            data_dir = "data"
            [runtime.batch]
            max_records = 25
            timeout = "1h"
            [sinks.all]
            type = "composite"
            pattern = "fanout"
            targets = ["good", "also_good", "down"]
            [sinks.good]
            type = "file"
            path = "good.ndjson"
            [sinks.also_good]
            type = "file"
            path = "also.ndjson"
            [sinks.down]
            type = "direct"
            endpoint = "tcp://127.0.0.1:{port}"
            max_retries = 10
            initial_backoff = "50ms"
            max_backoff = "50ms"
            retry_delay = "1ms"
            max_retry_delay = "1ms"
            "#
        ),
        dir.path(),
    );
    let pipeline = build_pipeline(&config).unwrap();
    emit_numbered(&pipeline, 0..100);
    let good = dir.path().join("good.ndjson");
    let also = dir.path().join("also.ndjson");
    let dead = dir.path().join("data/dead-letter/all.down.ndjson");
    // Each of the 4 batches spends ~0.5 s retrying on `down`; the healthy
    // targets get all of them long before that lane is through.
    wait_until("the healthy targets have every record", || {
        read_lines(&good).len() == 100 && read_lines(&also).len() == 100
    });
    assert!(
        crate::support::dead_letters(&dead).len() < 100,
        "the failing target was still retrying while the others were done"
    );
    pipeline.shutdown();
    assert_eq!(numbers(&read_lines(&good)), (0..100).collect::<Vec<_>>());
    assert_eq!(numbers(&read_lines(&also)), (0..100).collect::<Vec<_>>());
    assert_eq!(
        crate::support::dead_letters(&dead).len(),
        100,
        "the failing target's records are dead-lettered under its own name, not lost"
    );
}

#[test]
fn a_sink_named_by_two_composites_is_one_shared_instance() {
    let (registry, counts) = crate::support::registry_with_counted_type();
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigLoader::new(&registry)
        .toml(
            r#"
            [sinks.first]
            type = "composite"
            pattern = "fanout"
            targets = ["shared"]
            [sinks.second]
            type = "composite"
            pattern = "failover"
            targets = ["shared"]
            [sinks.shared]
            type = "counted"
            "#,
            "test.toml",
            dir.path(),
        )
        .load()
        .unwrap();
    let pipeline = build_pipeline_with(&config, &registry).unwrap();
    emit_numbered(&pipeline, 0..10);
    pipeline.shutdown();
    assert_eq!(Counts::get(&counts.built), 1, "built once");
    assert_eq!(Counts::get(&counts.starts), 1, "started once");
    assert_eq!(
        Counts::get(&counts.records),
        20,
        "both composites deliver to it"
    );
}

fn load_error(text: &str) -> String {
    Config::from_toml(text, "test.toml", Path::new("/tmp"))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_cycle_between_composites_is_reported_with_the_whole_cycle() {
    let message = load_error(
        r#"
        [sinks.a]
        type = "composite"
        pattern = "fanout"
        targets = ["b"]
        [sinks.b]
        type = "composite"
        pattern = "failover"
        targets = ["console", "c"]
        [sinks.c]
        type = "composite"
        pattern = "round_robin"
        targets = ["a"]
        [sinks.console]
        type = "stdout"
        "#,
    );
    assert_eq!(
        message,
        "test.toml:5: sinks.a.targets: composite cycle: a -> b -> c -> a; a composite cannot reach itself through its targets"
    );
    let message =
        load_error("[sinks.me]\ntype = \"composite\"\npattern = \"fanout\"\ntargets = [\"me\"]\n");
    assert_eq!(
        message,
        "test.toml:4: sinks.me.targets: composite cycle: me -> me; a composite cannot reach itself through its targets"
    );
}

#[test]
fn a_composite_naming_a_missing_sink_is_an_error_at_load() {
    assert_eq!(
        load_error(
            "[sinks.all]\ntype = \"composite\"\npattern = \"fanout\"\ntargets = [\"consle\"]\n[sinks.console]\ntype = \"stdout\"\n"
        ),
        "test.toml:4: sinks.all.targets: `consle` is not a configured sink; configured sinks: all, console (did you mean `console`?)"
    );
    assert_eq!(
        load_error("[sinks.all]\ntype = \"composite\"\npattern = \"mirror\"\ntargets = []\n"),
        "test.toml:3: sinks.all.pattern: `mirror` is not one of `fanout`, `round_robin`, `failover`"
    );
}
