//! The `postgres` sink against a real PostgreSQL server started by the
//! test (`postgres_server.rs`): every record exactly once in both write
//! modes, bad rows isolated and dead-lettered alone, a table dropped and
//! a server restarted in the middle of a run, and the password never
//! printed.

use std::time::Duration;

use crate::postgres_server::{PASSWORD, PostgresServer};
use crate::support::{dead_letters, toml_pipeline};

/// A pipeline with one `postgres` sink named `db`, batches of `batch`
/// records, the password from the secret `pg` (a file in `dir`).
fn pipeline(
    dir: &std::path::Path,
    server: &PostgresServer,
    batch: u32,
    extra: &str,
) -> sinkbox::Pipeline {
    std::fs::write(dir.join("pg.secret"), PASSWORD).unwrap();
    toml_pipeline(
        dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = {batch}\ntimeout = \"1h\"\n\
             [secrets]\npg = {{ file = \"pg.secret\" }}\n\
             [sinks.db]\ntype = \"postgres\"\n{}initial_backoff = \"50ms\"\nmax_backoff = \"500ms\"\nmax_retries = 1000\n{extra}\n",
            server.sink_toml()
        ),
    )
}

/// A dead letter's record, as JSON.
fn record_of(letter: &serde_json::Value) -> serde_json::Value {
    match &letter["record"] {
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    }
}

#[test]
fn both_write_modes_store_every_record_once_with_its_columns() {
    let server = PostgresServer::start();
    for mode in ["copy", "insert"] {
        let dir = tempfile::tempdir().unwrap();
        let table = format!("logs_{mode}");
        // Batches of 600 are loaded in pieces (256 rows each).
        let p = pipeline(
            dir.path(),
            &server,
            600,
            &format!(
                "write_mode = \"{mode}\"\ntable_name = \"{table}\"\nschema_name = \"audit\"\ncolumns = {{ service = \"service.name\" }}\n"
            ),
        );
        for i in 0..1000u64 {
            let level = ["info", "warn", "error"][(i % 3) as usize];
            p.emit(&serde_json::json!({
                "i": i,
                "level": level,
                "message": format!("line\t{i}\\ with \"quotes\" and ünïcode"),
                "timestamp": 1_764_583_200_000u64 + i,
                "service": {"name": "checkout"},
            }))
            .unwrap();
        }
        let stats = p.shutdown().remove(0);
        assert_eq!(
            (stats.records, stats.dead_lettered),
            (1000, 0),
            "{mode}: {stats:?}"
        );
        let q = |sql: &str| server.query(&sql.replace("{T}", &format!("audit.{table}")));
        assert_eq!(
            q("SELECT count(*), count(DISTINCT event->>'i') FROM {T}"),
            "1000|1000",
            "{mode}"
        );
        assert_eq!(
            q(
                "SELECT level, message, service, \"timestamp\" = to_timestamp(1764583200.007), event->>'i' FROM {T} WHERE (event->>'i')::int = 7"
            ),
            "warn|line\t7\\ with \"quotes\" and ünïcode|checkout|t|7",
            "{mode}"
        );
        assert_eq!(q("SELECT count(*) FROM {T} WHERE level = 'error'"), "333");
    }
}

#[test]
fn rows_the_server_refuses_are_dead_lettered_alone() {
    let server = PostgresServer::start();
    for mode in ["copy", "insert"] {
        let dir = tempfile::tempdir().unwrap();
        let table = format!("bad_{mode}");
        let p = pipeline(
            dir.path(),
            &server,
            1000,
            &format!("write_mode = \"{mode}\"\ntable_name = \"{table}\"\n"),
        );
        // jsonb refuses \u0000; those rows, and only those, cannot be
        // stored. Batches of 1000 are loaded in pieces of 256 rows: refused
        // rows on both sides of a piece's edge, and at a batch's ends.
        let bad = [
            0usize, 13, 14, 57, 99, 150, 255, 256, 511, 700, 999, 1000, 1513,
        ];
        for i in 0..2000usize {
            let record = if bad.contains(&i) {
                format!(r#"{{"i":{i},"message":"nul \u0000 here"}}"#)
            } else {
                format!(r#"{{"i":{i},"message":"fine"}}"#)
            };
            p.emit_json(record.as_bytes()).unwrap();
        }
        let stats = p.shutdown().remove(0);
        assert_eq!(stats.records, 1987, "{mode}: {stats:?}");
        assert_eq!(stats.dead_lettered, 13, "{mode}: {stats:?}");
        assert_eq!(
            server.query(&format!(
                "SELECT count(*), count(DISTINCT event->>'i') FROM {table}"
            )),
            "1987|1987"
        );
        let letters = dead_letters(&dir.path().join("data/dead-letter/db.ndjson"));
        let mut numbers: Vec<usize> = letters
            .iter()
            .map(|l| record_of(l)["i"].as_u64().unwrap() as usize)
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, bad, "{mode}");
        for letter in &letters {
            let reason = letter["reason"].as_str().unwrap();
            assert!(reason.contains("SQLSTATE 22"), "{reason}");
            // The sequence is the record's own.
            assert_eq!(letter["sequence"], record_of(letter)["i"], "{letter}");
        }
    }
}

#[test]
fn a_table_dropped_mid_run_is_made_again_in_both_modes() {
    let server = PostgresServer::start();
    for mode in ["copy", "insert"] {
        let dir = tempfile::tempdir().unwrap();
        let table = format!("dropped_{mode}");
        let p = pipeline(
            dir.path(),
            &server,
            50,
            &format!("write_mode = \"{mode}\"\ntable_name = \"{table}\"\n"),
        );
        for i in 0..100 {
            p.emit_json(format!(r#"{{"i":{i}}}"#).as_bytes()).unwrap();
        }
        assert!(p.flush(Duration::from_secs(30)).is_complete());
        // The INSERT mode keeps its statement prepared on the connection:
        // it must not go on naming the table that was dropped.
        server.query(&format!("DROP TABLE {table}"));
        for i in 100..200 {
            p.emit_json(format!(r#"{{"i":{i}}}"#).as_bytes()).unwrap();
        }
        let stats = p.shutdown().remove(0);
        assert_eq!(stats.records, 200, "{mode}: {stats:?}");
        assert_eq!(stats.dead_lettered, 0, "{mode}: {stats:?}");
        assert_eq!(
            server.query(&format!(
                "SELECT count(*), min((event->>'i')::int) FROM {table}"
            )),
            "100|100",
            "{mode}"
        );
    }
}

#[test]
fn a_server_restart_mid_run_loses_nothing() {
    let server = PostgresServer::start();
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &server,
        50,
        "timeout = \"5s\"\nconnect_timeout = \"1s\"\n",
    );
    for i in 0..600u64 {
        p.emit(&serde_json::json!({"i": i, "message": "before"}))
            .unwrap();
    }
    p.flush(Duration::from_secs(60));
    server.restart_after(Duration::from_millis(1500));
    for i in 600..1200u64 {
        p.emit(&serde_json::json!({"i": i, "message": "during"}))
            .unwrap();
        if i == 800 {
            server.restart_after(Duration::from_millis(500));
        }
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (1200, 0), "{stats:?}");
    let counted = server.query("SELECT count(*), count(DISTINCT event->>'i') FROM logs");
    let (total, distinct) = counted.split_once('|').unwrap();
    assert_eq!(distinct, "1200", "every record arrived");
    // At least once: a commit whose answer was lost in the crash is the
    // only way a batch arrives twice.
    let twice = total.parse::<u32>().unwrap() - 1200;
    assert!(twice <= 100, "{twice} rows stored twice");
}

#[test]
fn the_password_is_never_printed_even_when_it_is_wrong() {
    let server = PostgresServer::start();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "not-the-Password-83";
    std::fs::write(dir.path().join("pg.secret"), wrong).unwrap();
    let config = dir.path().join("sinkbox.toml");
    std::fs::write(
        &config,
        format!(
            "[runtime]\ndata_dir = \"data\"\n[secrets]\npg = {{ file = \"pg.secret\" }}\n\
             [sinks.db]\ntype = \"postgres\"\n{}max_retries = 1\ninitial_backoff = \"10ms\"\n",
            server.sink_toml()
        ),
    )
    .unwrap();
    let (_, printed) =
        crate::support::run_config_with_input(&config, "debug", b"{\"i\":1}\n{\"i\":2}\n");
    assert!(
        printed.contains("password authentication failed"),
        "{printed}"
    );
    assert!(!printed.contains(wrong), "{printed}");
    assert!(!printed.contains(PASSWORD));
    // The records were not lost: they are in the dead-letter file.
    let letters = dead_letters(&dir.path().join("data/dead-letter/db.ndjson"));
    assert_eq!(letters.len(), 2, "{printed}");
    assert!(!server.log().contains(wrong));
}
