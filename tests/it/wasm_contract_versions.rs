//! Contract 0.2's answers from a real guest (`outcome-sink`, built with the
//! SDK) and what the host does with each; a guest built for contract 0.1
//! (`contract-0-1-sink`, raw wit-bindgen) running unchanged beside it.

use std::path::Path;
use std::time::Duration;

use crate::support::{component, fast_retry, numbers, read_lines, records};
use sinkbox::wasm::{ContractVersion, DirGrant, WasmSink, WasmSinkOptions};
use sinkbox::{Pipeline, SinkSpec};

/// A wasm sink named `name` running `guest`, writing `out.ndjson` in
/// `dir/<name>`.
fn guest_sink(dir: &Path, name: &str, guest: &str) -> WasmSink {
    WasmSink::new(
        name,
        component(guest),
        WasmSinkOptions {
            grant: Some(DirGrant {
                host_path: dir.join(name),
                guest_path: "/data".into(),
                read_only: false,
            }),
            config: vec![("path".into(), "/data/out.ndjson".into())],
            ..WasmSinkOptions::default()
        },
    )
}

fn pipeline(dir: &Path, sinks: &[(&str, &str)]) -> Pipeline {
    crate::support::pipeline_of(
        dir,
        10_000,
        sinks
            .iter()
            .map(|(name, guest)| {
                SinkSpec::new(*name, guest_sink(dir, name, guest)).retry(fast_retry())
            })
            .collect(),
    )
    .unwrap()
}

/// Emits `lines` as one batch and waits for it to be handled.
fn send(pipeline: &Pipeline, lines: &[String]) {
    for line in lines {
        pipeline.emit_json(line.as_bytes()).unwrap();
    }
    let report = pipeline.flush(Duration::from_secs(60));
    assert!(report.is_complete(), "{report}");
}

/// Five numbered records, those at `marked` carrying `"outcome":"<name>"`.
fn marked(name: &str, marked: &[usize]) -> Vec<String> {
    (0..5)
        .map(|i| {
            if marked.contains(&i) {
                format!(r#"{{"i":{i},"outcome":"{name}"}}"#)
            } else {
                format!(r#"{{"i":{i}}}"#)
            }
        })
        .collect()
}

fn stored(dir: &Path, name: &str) -> Vec<usize> {
    numbers(&read_lines(&dir.join(name).join("out.ndjson")))
}

fn dead_letters(dir: &Path, name: &str) -> Vec<serde_json::Value> {
    crate::support::dead_letters(&dir.join(format!("data/dead-letter/{name}.ndjson")))
}

#[test]
fn a_per_record_refusal_dead_letters_that_record_alone() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &[("v2", "outcome-sink")]);
    send(&p, &marked("refuse_me", &[1, 3]));
    let stats = p.shutdown().remove(0);
    assert_eq!(
        (stats.records, stats.dead_lettered, stats.retries),
        (3, 2, 0)
    );
    assert_eq!(stored(dir.path(), "v2"), [0, 2, 4]);
    let letters = dead_letters(dir.path(), "v2");
    let refused: Vec<(u64, &str)> = letters
        .iter()
        .map(|l| {
            (
                l["record"]["i"].as_u64().unwrap(),
                l["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (1, "rejected: refused record 1"),
            (3, "rejected: refused record 3")
        ]
    );
}

#[test]
fn throttled_records_are_sent_again_alone_after_the_servers_wait() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &[("v2", "outcome-sink")]);
    send(&p, &marked("throttle_once", &[1, 3]));
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (5, 0), "{stats:?}");
    // Records 1 and 3 went back, each alone, in order; nothing twice.
    assert_eq!(stored(dir.path(), "v2"), [0, 2, 4, 1, 3]);
    assert_eq!(stats.retries, 2);
}

#[test]
fn dropped_indeterminate_and_warning_answers_are_counted_as_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &[("v2", "outcome-sink")]);
    send(&p, &marked("dropped", &[0]));
    let stats = p.stats().remove(0);
    assert_eq!((stats.records, stats.dropped_by_destination), (4, 1));

    send(&p, &marked("indeterminate_once", &[0]));
    let stats = p.stats().remove(0);
    assert_eq!((stats.records, stats.indeterminate), (9, 5), "{stats:?}");
    // Stored, then sent again: the destination holds that batch twice,
    // which the indeterminate count explains.
    assert_eq!(stored(dir.path(), "v2").len(), 15);

    send(&p, &marked("warning", &[2]));
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.errors.total()), (14, 1), "{stats:?}");
}

#[test]
fn a_hostile_per_record_answer_is_cut_to_the_batch_and_its_reasons_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &[("v2", "outcome-sink")]);
    send(&p, &marked("many_ranges", &[0]));
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered, stats.lost), (0, 5, 0));
    let letters = dead_letters(dir.path(), "v2");
    assert_eq!(letters.len(), 5, "each record dead-lettered once");
    for letter in &letters {
        let reason = letter["reason"].as_str().unwrap();
        assert!(reason.len() <= 4 * 1024 + 64, "{}", reason.len());
        assert!(!reason.contains('\u{1b}'), "control characters escaped");
    }
}

#[test]
fn a_contract_0_1_component_runs_unchanged_beside_a_0_2_one() {
    let engine = crate::support::engine();
    let old =
        sinkbox::wasm::inspect_component(&engine, &crate::support::guest("contract-0-1-sink"))
            .unwrap();
    assert_eq!(old.contract, Ok(ContractVersion::V0_1));
    let new =
        sinkbox::wasm::inspect_component(&engine, &crate::support::guest("outcome-sink")).unwrap();
    assert_eq!(new.contract, Ok(ContractVersion::V0_2));

    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &[("v1", "contract-0-1-sink"), ("v2", "outcome-sink")],
    );
    send(&p, &records(0, 5, None, ""));
    // 0.1's partial: the first two stored, the rest sent again.
    send(&p, &records(5, 5, Some(7), r#""partial":true"#));
    // 0.1's rejected: the batch dead-lettered.
    send(&p, &records(10, 2, Some(11), r#""reject":true"#));
    let stats = p.shutdown();
    let (v1, v2) = (&stats[0], &stats[1]);
    assert_eq!(
        (v1.records, v1.dead_lettered, v1.errors.partial),
        (10, 2, 1)
    );
    assert_eq!(stored(dir.path(), "v1"), (0..10).collect::<Vec<_>>());
    assert_eq!((v2.records, v2.dead_lettered), (12, 0));
}
