//! The `nats` sink against a real `nats-server -js` started by the test
//! (`nats_server.rs`): every record exactly once on subjects made from its
//! fields, the server stopped (SIGTERM) and restarted mid-run, a record too large
//! for the server dead-lettered alone, and credentials never printed.

use std::time::Duration;

use crate::nats_server::NatsServer;
use crate::support::{dead_letters, toml_pipeline};

fn pipeline(dir: &std::path::Path, url: &str, batch: u32, extra: &str) -> sinkbox::Pipeline {
    toml_pipeline(
        dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = {batch}\ntimeout = \"1h\"\n\
             [sinks.bus]\ntype = \"nats\"\nurl = \"{url}\"\nsubject = \"logs.{{service}}.{{level}}\"\nstream = \"LOGS\"\n\
             initial_backoff = \"50ms\"\nmax_backoff = \"500ms\"\nmax_retries = 1000\n{extra}\n"
        ),
    )
}

fn numbers(messages: &[(String, String, Option<String>)]) -> Vec<u64> {
    let mut numbers: Vec<u64> = messages
        .iter()
        .map(|(_, payload, _)| {
            serde_json::from_str::<serde_json::Value>(payload).unwrap()["i"]
                .as_u64()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    numbers
}

#[test]
fn every_record_is_published_once_on_its_subject_with_a_message_id() {
    let server = NatsServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &server.url(), 100, "");
    for i in 0..1000u64 {
        let level = ["info", "warn"][(i % 2) as usize];
        let service = if i % 5 == 0 { "check.out" } else { "api" };
        p.emit(&serde_json::json!({"i": i, "level": level, "service": service}))
            .unwrap();
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (1000, 0), "{stats:?}");
    let messages = server.messages("LOGS");
    assert_eq!(numbers(&messages), (0..1000).collect::<Vec<_>>());
    for (subject, payload, id) in &messages {
        let record: serde_json::Value = serde_json::from_str(payload).unwrap();
        let service = if record["service"] == "api" {
            "api"
        } else {
            "check_out"
        };
        assert_eq!(
            *subject,
            format!("logs.{service}.{}", record["level"].as_str().unwrap())
        );
        let id = id.as_deref().expect("a Nats-Msg-Id header");
        assert!(id.ends_with(&format!("-{}", record["i"])), "{id}");
    }
}

#[test]
fn a_stream_deleted_after_start_is_made_again_and_nothing_is_lost() {
    let server = NatsServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    // Three publishes awaiting acks at most: the sink waits for acks
    // between publishes.
    let p = pipeline(dir.path(), &server.url(), 100, "max_in_flight = 3\n");
    // The sink made the stream at start; without it the server has no
    // one to answer the publishes ("no responders").
    server.delete_stream("LOGS");
    for i in 0..500u64 {
        p.emit(&serde_json::json!({"i": i, "level": "info", "service": "api"}))
            .unwrap();
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (500, 0), "{stats:?}");
    assert!(
        stats.retries >= 1,
        "the first write found no stream: {stats:?}"
    );
    assert_eq!(
        numbers(&server.messages("LOGS")),
        (0..500).collect::<Vec<_>>()
    );
}

#[test]
fn the_server_stopped_and_restarted_mid_run_loses_and_doubles_nothing() {
    let mut server = NatsServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(
        dir.path(),
        &server.url(),
        50,
        "ack_timeout = \"1s\"\ntimeout = \"5s\"\n",
    );
    for i in 0..2000u64 {
        p.emit(&serde_json::json!({"i": i, "level": "info", "service": "api"}))
            .unwrap();
        if i == 700 || i == 1400 {
            server.restart_after(Duration::from_millis(800));
        }
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (2000, 0), "{stats:?}");
    let messages = server.messages("LOGS");
    // Retried publishes carry the same Nats-Msg-Id: the stream keeps one.
    assert_eq!(numbers(&messages), (0..2000).collect::<Vec<_>>());
}

#[test]
fn a_publish_no_one_acknowledges_fails_one_ack_timeout_after_it_was_sent() {
    let server = NatsServer::start(&[]);
    // A plain subscriber takes the messages and never answers: no stream,
    // so no ack and no "no responders" either.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _silent = runtime.block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let subscriber = client.subscribe("void").await.unwrap();
        client.flush().await.unwrap();
        (client, subscriber)
    });
    let dir = tempfile::tempdir().unwrap();
    let p = toml_pipeline(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 50\ntimeout = \"1h\"\n\
             [sinks.bus]\ntype = \"nats\"\nurl = \"{}\"\nsubject = \"void\"\n\
             ack_timeout = \"1s\"\ntimeout = \"1500ms\"\nmax_in_flight = 10\nmax_retries = 0\n",
            server.url()
        ),
    );
    for i in 0..50u64 {
        p.emit(&serde_json::json!({"i": i})).unwrap();
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (0, 50), "{stats:?}");
    // The ack deadline (1 s after each publish) ends the wait, not the
    // batch's deadline (1.5 s): once the first ten wait past theirs, nothing
    // more is waited for (the deadline holds from each publish, not from
    // each wait).
    let letters = dead_letters(&dir.path().join("data/dead-letter/bus.ndjson"));
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("no acknowledgement within 1s"), "{reason}");
}

#[test]
fn a_record_larger_than_the_server_takes_is_dead_lettered_alone() {
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(conf.path(), "max_payload: 2048\n").unwrap();
    let server = NatsServer::start(&["-c", conf.path().to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &server.url(), 20, "");
    for i in 0..60u64 {
        let pad = if i == 7 || i == 33 {
            "x".repeat(4000)
        } else {
            String::new()
        };
        p.emit(&serde_json::json!({"i": i, "level": "info", "service": "api", "pad": pad}))
            .unwrap();
    }
    let stats = p.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (58, 2), "{stats:?}");
    let mut expected: Vec<u64> = (0..60).collect();
    expected.retain(|i| *i != 7 && *i != 33);
    assert_eq!(numbers(&server.messages("LOGS")), expected);
    let letters = dead_letters(&dir.path().join("data/dead-letter/bus.ndjson"));
    assert_eq!(letters.len(), 2);
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("max payload"),
        "{letters:?}"
    );
}

#[test]
fn credentials_come_from_secrets_and_are_never_printed() {
    let right = "nats-Pass-314";
    let server = NatsServer::start(&["--user", "app", "--pass", right]);
    for (password, works) in [(right, true), ("wrong-Pass-271", false)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nats.secret"), password).unwrap();
        let config = dir.path().join("sinkbox.toml");
        std::fs::write(
            &config,
            format!(
                "[runtime]\ndata_dir = \"data\"\n[secrets]\nnats = {{ file = \"nats.secret\" }}\n\
                 [sinks.bus]\ntype = \"nats\"\nurl = \"{}\"\nstream = \"LOGS\"\nuser = \"app\"\npassword = \"${{secret:nats}}\"\n\
                 max_retries = 2\ninitial_backoff = \"10ms\"\ntimeout = \"2s\"\n",
                server.url()
            ),
        )
        .unwrap();
        let (_, printed) = crate::support::run_config_with_input(
            &config,
            "debug",
            b"{\"i\":1}
{\"i\":2}
",
        );
        assert!(!printed.contains(password), "{printed}");
        let letters = dead_letters(&dir.path().join("data/dead-letter/bus.ndjson"));
        if works {
            assert!(letters.is_empty(), "{printed}");
        } else {
            assert_eq!(letters.len(), 2, "{printed}");
        }
    }
    assert_eq!(numbers(&server.messages_as("LOGS", "app", right)), [1, 2]);
}
