//! What a `when` condition costs, and host routing against guest filters.
//!
//! `cargo xtask bench` runs this in release mode:
//! - the cost per record of deciding a condition over batches of 1024
//!   ~150-byte records, against no condition (which costs nothing: the batch
//!   is handed on as it is): a level threshold read from the JSON, the same
//!   threshold answered from the level known at emit time, and a
//!   three-clause condition on two fields;
//! - records/s of a pipeline feeding four `file` sinks, each with its own
//!   `when`, against four `filter-sink` wasm components doing the same
//!   selection into files of their own, side by side in one run.
//!
//! Results go to `target/bench/routing.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sinkbox::Batch;
use sinkbox::routing::{Condition, Conditions};

const ROUNDS: usize = 5;
const RECORDS: usize = 1024;

fn record(i: usize) -> String {
    let levels = ["debug", "info", "info", "warn", "error"];
    let services = ["api", "web", "db", "auth"];
    format!(
        r#"{{"timestamp":"2026-12-01T10:00:00.123456Z","level":"{}","target":"app::http","message":"GET /api/orders took {i} ms","service":"{}","http":{{"status":{}}}}}"#,
        levels[i % 5],
        services[i % 4],
        [200, 200, 404, 503][i % 4]
    )
}

/// Nanoseconds per record of deciding `conditions` over `batch`, median of
/// rounds of at least 200 ms.
fn ns_per_record(conditions: &Conditions, batch: &Batch) -> f64 {
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut records = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            std::hint::black_box(conditions.kept(std::hint::black_box(batch)));
            records += u64::from(batch.len());
        }
        rounds.push(start.elapsed().as_nanos() as f64 / records as f64);
    }
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rounds[ROUNDS / 2]
}

/// A batch as a pipeline builds it: from `emit_json` (`leveled` false), or
/// with its levels known at emit time, the way the `tracing` layer and
/// `emit_at` fill batches (`leveled` true).
fn pipeline_batch(leveled: bool) -> Batch {
    struct Capture(std::sync::Arc<std::sync::Mutex<Option<Batch>>>);
    impl sinkbox::Sink for Capture {
        fn start(&mut self) -> Result<(), sinkbox::SinkError> {
            Ok(())
        }
        fn write(&mut self, batch: &Batch) -> sinkbox::WriteOutcome {
            *self.0.lock().unwrap() = Some(batch.clone());
            sinkbox::WriteOutcome::Accepted
        }
    }
    let captured = std::sync::Arc::default();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = sinkbox::Pipeline::builder()
        .data_dir(dir.path())
        .batch(sinkbox::pipeline::BatchOptions {
            max_records: RECORDS as u32,
            max_bytes: 1 << 30,
            timeout: Duration::from_secs(3600),
        })
        .sink("capture", Capture(std::sync::Arc::clone(&captured)))
        .build()
        .unwrap();
    let levels = [
        tracing::Level::DEBUG,
        tracing::Level::INFO,
        tracing::Level::INFO,
        tracing::Level::WARN,
        tracing::Level::ERROR,
    ];
    for i in 0..RECORDS {
        if leveled {
            let value: serde_json::Value = serde_json::from_str(&record(i)).unwrap();
            pipeline.emit_at(levels[i % 5], &value).unwrap();
        } else {
            pipeline.emit_json(record(i).as_bytes()).unwrap();
        }
    }
    pipeline.shutdown();
    captured.lock().unwrap().take().unwrap()
}

fn guest_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release/filter_sink.wasm")
}

/// The four selections, as `when` conditions and as `filter-sink` options.
const SELECTIONS: [(&str, &str); 4] = [
    (r#"level >= "warn""#, r#"{ min_level = "warn" }"#),
    (r#"level >= "error""#, r#"{ min_level = "error" }"#),
    (
        r#"service == "api""#,
        r#"{ min_level = "trace", field = "service", equals = "api" }"#,
    ),
    (
        r#"service == "db""#,
        r#"{ min_level = "trace", field = "service", equals = "db" }"#,
    ),
];

/// Records/s of a pipeline built from `toml`, fed `records`, drained.
fn pipeline_rate(dir: &Path, toml: &str, records: &[String]) -> f64 {
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(toml, "bench.toml", dir)
        .load()
        .unwrap();
    let pipeline = sinkbox::config::build_pipeline(&config).unwrap();
    let start = Instant::now();
    for record in records {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    let stats = pipeline.shutdown();
    let elapsed = start.elapsed().as_secs_f64();
    assert!(stats.iter().all(|s| s.errors.total() == 0), "{stats:?}");
    records.len() as f64 / elapsed
}

fn host_config(out: &Path) -> String {
    let mut toml = format!(
        "[runtime]\ndata_dir = \"{}\"\n[runtime.batch]\nmax_records = 1024\n",
        out.join("data").display()
    );
    for (i, (when, _)) in SELECTIONS.iter().enumerate() {
        toml.push_str(&format!(
            "[sinks.host{i}]\ntype = \"file\"\npath = \"{}\"\nwhen = '{when}'\n",
            out.join(format!("host{i}.ndjson")).display()
        ));
    }
    toml
}

fn guest_config(out: &Path, cache: &Path) -> String {
    let mut toml = format!(
        "[runtime]\ndata_dir = \"{}\"\ncache_dir = \"{}\"\n[runtime.batch]\nmax_records = 1024\n",
        out.join("data").display(),
        cache.display()
    );
    for (i, (_, options)) in SELECTIONS.iter().enumerate() {
        let grant = out.join(format!("guest{i}"));
        std::fs::create_dir_all(&grant).unwrap();
        toml.push_str(&format!(
            "[sinks.guest{i}]\ntype = \"wasm\"\ncomponent = \"{}\"\ngrant = {{ path = \"{}\" }}\nconfig = {options}\n",
            guest_path().display(),
            grant.display()
        ));
    }
    toml
}

fn main() {
    let batch = pipeline_batch(false);
    let leveled = pipeline_batch(true);
    let parse = |text: &str| Condition::parse(text).unwrap();
    let level = Conditions::new([parse(r#"level >= "warn""#)]);
    let three = Conditions::new([parse(
        r#"level >= "warn" and http.status >= 500 and http.status < 600"#,
    )]);
    assert_eq!(level.kept(&batch), level.kept(&leveled));
    let level_json = ns_per_record(&level, &batch);
    let level_known = ns_per_record(&level, &leveled);
    let three_clause = ns_per_record(&three, &batch);
    println!(
        "routing: cost per record, batch {RECORDS} of ~{} bytes (no condition: 0, the batch is handed on as it is)",
        record(0).len()
    );
    println!("  level >= \"warn\", read from the JSON      {level_json:>7.1} ns  (aim <= 20)");
    println!("  level >= \"warn\", level known at emit     {level_known:>7.1} ns  (aim <= 20)");
    println!("  three clauses on two fields               {three_clause:>7.1} ns  (aim <= 150)");

    let guest = guest_path();
    let mut pipelines = serde_json::Value::Null;
    if guest.exists() {
        let records: Vec<String> = (0..200_000).map(record).collect();
        let work = tempfile::tempdir().unwrap();
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench/cache");
        let (mut host, mut wasm) = (Vec::new(), Vec::new());
        for round in 0..3 {
            let host_dir = work.path().join(format!("host-{round}"));
            let guest_dir = work.path().join(format!("guest-{round}"));
            std::fs::create_dir_all(&host_dir).unwrap();
            std::fs::create_dir_all(&guest_dir).unwrap();
            host.push(pipeline_rate(&host_dir, &host_config(&host_dir), &records));
            wasm.push(pipeline_rate(
                &guest_dir,
                &guest_config(&guest_dir, &cache),
                &records,
            ));
            // Both sides wrote the same records.
            for i in 0..4 {
                let host_bytes = std::fs::metadata(host_dir.join(format!("host{i}.ndjson")))
                    .unwrap()
                    .len();
                let guest_bytes =
                    std::fs::metadata(guest_dir.join(format!("guest{i}/filtered.ndjson")))
                        .unwrap()
                        .len();
                assert_eq!(host_bytes, guest_bytes, "selection {i}");
            }
        }
        host.sort_by(|a, b| a.partial_cmp(b).unwrap());
        wasm.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let (h, w) = (host[1], wasm[1]);
        println!(
            "four sinks, each with its own selection: host `when` + file {h:.0} rec/s, wasm filter-sink {w:.0} rec/s, host/wasm {:.2}",
            h / w
        );
        pipelines = serde_json::json!({"host_when_records_per_s": h, "wasm_filter_records_per_s": w, "ratio": h / w});
    } else {
        println!(
            "(the filter-sink component is not built; run `cargo xtask bench` for the host vs wasm rows)"
        );
    }
    let json = serde_json::json!({
        "record_bytes": record(0).len(),
        "ns_per_record": {
            "level_threshold_json": level_json,
            "level_threshold_known_level": level_known,
            "three_clauses_two_fields": three_clause,
        },
        "four_selections": pipelines,
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("routing.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
