//! The C example sink (`example-sinks/csv-sink-c`, over `guest-sdk-c`):
//! the conformance suite, `sinkbox run` beside a native sink with every
//! cell checked, and its per-record answers when the file is full.

use std::time::Duration;

use sinkbox::pipeline::{BatchOptions, RetryPolicy};
use sinkbox::wasm::WasmSink;
use sinkbox::{Pipeline, SinkSpec};

use crate::support::{
    component, dead_letters, granted, guest, read_lines, run_config_with_input, sinkbox,
};

#[test]
fn the_c_example_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let output = sinkbox()
        .arg("check")
        .arg(guest("csv-sink-c"))
        .arg("--grant")
        .arg(dir.path())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{said}");
    assert!(said.contains("ok: 10 steps passed"), "{said}");
}

#[test]
fn the_c_sink_writes_csv_beside_a_native_sink_and_refuses_non_objects_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("csv")).unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sinks.csv]\ntype = \"wasm\"\ncomponent = \"{}\"\nmemory_limit = \"16MiB\"\ncall_timeout = \"2s\"\n\
             grant = {{ path = \"csv\", guest_path = \"/data\" }}\n\
             config = {{ columns = \"ts,level,message,n,ctx\", path = \"/data/out.csv\" }}\n\
             [sinks.archive]\ntype = \"file\"\npath = \"archive.ndjson\"\n",
            guest("csv-sink-c").display()
        ),
    )
    .unwrap();
    let input = [
        r#"{"ts":"2026-12-06T10:00:00Z","level":"info","message":"plain","n":1}"#,
        r#"{"level":"warn","message":"a, comma and \"quotes\"","n":2.5,"ctx":{"k":[1,2]}}"#,
        r#""a bare string""#,
        r#"{"message":"line\nbreak, tab\t, unicode é 中 😀 \u00e9 \ud83d\ude00","n":null,"ts":"x"}"#,
        r#"[1,2,3]"#,
        r#"{"level":"error","unused":true}"#,
    ];
    let (ok, printed) =
        run_config_with_input(&config, "warn", (input.join("\n") + "\n").as_bytes());
    assert!(
        !ok,
        "records were dead-lettered, so the exit code says so: {printed}"
    );
    let csv = std::fs::read_to_string(dir.path().join("csv/out.csv"))
        .unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(
        csv,
        "ts,level,message,n,ctx\r\n\
         2026-12-06T10:00:00Z,info,plain,1,\r\n\
         ,warn,\"a, comma and \"\"quotes\"\"\",2.5,\"{\"\"k\"\":[1,2]}\"\r\n\
         x,,\"line\nbreak, tab\t, unicode é 中 😀 é 😀\",null,\r\n\
         ,error,,,\r\n"
    );
    assert_eq!(
        read_lines(&dir.path().join("archive.ndjson")).len(),
        input.len(),
        "the native sink beside it has every record"
    );
    let dead = dead_letters(&dir.path().join("data/dead-letter/csv.ndjson"));
    let refused: Vec<&str> = dead
        .iter()
        .map(|d| d["record"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let sequences: Vec<u64> = dead
        .iter()
        .map(|d| d["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [2, 4], "each refused record alone: {dead:?}");
    assert!(
        dead.iter()
            .all(|d| d["reason"] == "rejected: not a JSON object"),
        "{dead:?}"
    );
    assert!(
        refused.iter().any(|r| r.contains("a bare string")),
        "{dead:?}"
    );
}

/// A pipeline whose one sink is the CSV sink `guest_name` writing into
/// `grant` with `config`, in batches of `batch`: one retry, then dead
/// letters under `dir/data`.
fn csv_pipeline(
    dir: &std::path::Path,
    grant: &std::path::Path,
    guest_name: &str,
    config: &[(&str, &str)],
    batch: u32,
) -> Pipeline {
    let sink = WasmSink::new("csv", component(guest_name), granted(grant, config));
    Pipeline::builder()
        .data_dir(dir.join("data"))
        .batch(BatchOptions {
            max_records: batch,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(3600),
        })
        .sink_spec(SinkSpec::new("csv", sink).retry(RetryPolicy {
            max_retries: Some(1),
            max_retry_duration: None,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            max_restarts: 1,
        }))
        .build()
        .unwrap()
}

#[test]
fn a_full_file_keeps_the_rows_that_fit_and_retries_the_rest_in_order() {
    let _heavy = crate::support::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let grant = dir.path().join("grant");
    std::fs::create_dir(&grant).unwrap();
    // The header ("message\r\n", 9 bytes) and rows of 8 ("row-NN\r\n"):
    // 100 bytes hold the header and 11 rows.
    let pipeline = csv_pipeline(
        dir.path(),
        &grant,
        "csv-sink-c",
        &[("columns", "message"), ("max_bytes", "100")],
        20,
    );
    for i in 0..20 {
        pipeline
            .emit_json(format!(r#"{{"message":"row-{i:02}"}}"#).as_bytes())
            .unwrap();
    }
    let stats = pipeline.shutdown().pop().unwrap();
    let csv = std::fs::read_to_string(grant.join("records.csv")).unwrap();
    let rows: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(rows[0], "message");
    let kept: Vec<String> = (0..rows.len() - 1).map(|i| format!("row-{i:02}")).collect();
    assert_eq!(
        rows[1..],
        kept[..],
        "the rows that fit, in order, none twice"
    );
    assert!(csv.len() <= 100, "{} bytes", csv.len());
    assert_eq!(stats.records as usize, kept.len(), "{stats:?}");
    // The rest was retried (alone, in order) and then dead-lettered: what
    // the sink said, record by record.
    let dead = dead_letters(&dir.path().join("data/dead-letter/csv.ndjson"));
    assert_eq!(dead.len(), 20 - kept.len(), "{dead:?}");
    assert!(
        dead.iter()
            .all(|d| d["reason"].as_str().unwrap().contains("max_bytes")),
        "{dead:?}"
    );
    assert!(stats.retries >= 1, "{stats:?}");
}

#[test]
fn check_catches_a_partial_count_past_the_batch() {
    let output = sinkbox()
        .arg("check")
        .arg(guest("hostile-sink-c"))
        .args(["--config", "mode=partial_past"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("`partial` says 21 of the batch's 16 records were delivered: it must count fewer than the batch holds"),
        "{said}"
    );
}

#[test]
fn the_c_sdk_hands_the_host_valid_utf8_whatever_the_sink_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    std::fs::write(&input, "{\"a\":1}\n").unwrap();
    let output = sinkbox()
        .arg("check")
        .arg(guest("hostile-sink-c"))
        .args(["--config", "mode=bad_utf8", "--input"])
        .arg(&input)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "refused, not broken: {said}");
    assert!(said.contains("rejected: not utf-8: ??? end"), "{said}");
}

/// Runs `records` through `guest` (batches of 4, a file of at most
/// `max_bytes`), returns the CSV and the dead-lettered sequence numbers
/// with their reasons.
fn csv_of(guest_name: &str, records: &[&str], max_bytes: &str) -> (String, Vec<(u64, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let grant = dir.path().join("grant");
    std::fs::create_dir(&grant).unwrap();
    let pipeline = csv_pipeline(
        dir.path(),
        &grant,
        guest_name,
        &[
            ("columns", "ts,level,message,n,ctx"),
            ("max_bytes", max_bytes),
        ],
        4,
    );
    for record in records {
        pipeline.emit_json(record.as_bytes()).unwrap();
    }
    pipeline.shutdown();
    let csv = std::fs::read_to_string(grant.join("records.csv")).unwrap();
    let dead = dead_letters(&dir.path().join("data/dead-letter/csv.ndjson"))
        .iter()
        .map(|d| {
            (
                d["sequence"].as_u64().unwrap(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (csv, dead)
}

#[test]
fn the_c_and_rust_csv_sinks_write_the_same_bytes_and_answer_the_same() {
    let _heavy = crate::support::exclusive();
    let records = [
        r#"{"ts":"2026-12-06T10:00:00Z","level":"info","message":"plain","n":1}"#,
        r#"{"level":"warn","message":"a, comma and \"quotes\"","n":2.5,"ctx":{"k":[1,2]}}"#,
        r#""a bare string""#,
        r#"{"message":"line\nbreak, tab\t, unicode é 中 😀 \u00e9 \ud83d\ude00","n":null,"ts":"x"}"#,
        r#"[1,2,3]"#,
        r#"{"level":"error","unused":true,"n":-0.5e3}"#,
        r#"{"message":"\\ backslash \/ slash \b\f\r","n":true}"#,
        r#"{}"#,
        r#"{"ctx":[],"n":"12,5"}"#,
    ];
    for max_bytes in ["0", "160"] {
        let rust = csv_of("csv-sink", &records, max_bytes);
        let c = csv_of("csv-sink-c", &records, max_bytes);
        assert_eq!(c, rust, "max_bytes = {max_bytes}");
        assert!(
            rust.1
                .iter()
                .any(|(_, why)| why.contains("not a JSON object"))
        );
        if max_bytes != "0" {
            assert!(rust.0.len() <= 160, "{}", rust.0);
            assert!(
                rust.1.iter().any(|(_, why)| why.contains("max_bytes")),
                "{:?}",
                rust.1
            );
        }
    }
}
