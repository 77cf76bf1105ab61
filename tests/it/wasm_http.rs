//! Sandboxed sinks over HTTP: every request a guest makes passes the
//! sink's grant first. A hostile guest (`http-probe-sink`, which makes
//! whatever requests its records describe) tries a host not on the list, a
//! listed name that resolves to a private address, a redirect, the
//! injected secret header, bodies over the caps, a server that never
//! answers and 10,000 requests in one call; each test checks that the
//! policy held, the host stayed up and the counters say what happened.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sinkbox::wasm::{
    HttpGrant, HttpStats, SinkEgress, WasmSink, WasmSinkOptions, parse_allow_entry,
};
use sinkbox::{Batch, Sink, WriteOutcome};

use crate::elasticsearch_receiver::ElasticsearchReceiver;
use crate::recording_server::{Answer, RecordingServer};

fn secret(name: &str) -> Result<sinkbox::secret::Secret, String> {
    match name {
        "token" => Ok(sinkbox::secret::Secret::new("s3cr3t-t0ken")),
        "hook" => Ok(sinkbox::secret::Secret::new("T000/B000/XXXX")),
        other => Err(format!("no secret `{other}`")),
    }
}

fn grant(allow: &[String]) -> HttpGrant {
    HttpGrant::new(
        allow
            .iter()
            .map(|a| parse_allow_entry(a, &secret).unwrap())
            .collect(),
    )
}

struct Probe {
    sink: WasmSink,
    egress: Arc<SinkEgress>,
}

impl Probe {
    fn new(grant: HttpGrant, call_timeout: Duration) -> Self {
        let egress = Arc::new(SinkEgress::new("probe", grant).unwrap());
        let mut sink = WasmSink::new(
            "probe",
            crate::support::component("http-probe-sink"),
            WasmSinkOptions {
                call_timeout,
                // The host's work for the guest's requests runs on the
                // sink's thread and counts as its CPU: these tests bound
                // the wall time only.
                cpu_limit: call_timeout,
                http: Some(egress.clone()),
                ..WasmSinkOptions::default()
            },
        );
        sink.start().unwrap();
        Self { sink, egress }
    }

    /// Runs the instructions; what the guest saw, one summary each.
    fn run(&mut self, steps: &[Value]) -> Vec<Value> {
        let batch = Batch::from_records(steps.iter().map(Value::to_string), 0);
        match self.sink.write(&batch) {
            WriteOutcome::Rejected(summary) => {
                serde_json::from_str(&summary).unwrap_or_else(|e| panic!("{e}: {summary}"))
            }
            other => panic!("the probe answers rejected, not {other:?}"),
        }
    }

    fn stats(&self) -> HttpStats {
        self.egress.stats()
    }
}

fn error_of(summary: &Value) -> String {
    summary["errors"]
        .as_object()
        .and_then(|e| e.keys().next().cloned())
        .unwrap_or_default()
}

#[test]
fn an_allowed_request_goes_out_and_anything_else_is_refused_before_a_byte_leaves() {
    let server = RecordingServer::start("127.0.0.1:0", |_| Answer::status(200, "thanks"));
    let allowed = format!("{}/ingest", server.base_url());
    let mut probe = Probe::new(
        grant(std::slice::from_ref(&allowed)),
        Duration::from_secs(10),
    );
    let seen = probe.run(&[
        json!({"url": allowed, "body": "hello"}),
        json!({"url": format!("{}/admin", server.base_url()), "body": "x"}),
        json!({"url": allowed, "method": "DELETE"}),
        json!({"url": "http://192.0.2.1:9/ingest", "body": "x"}),
        json!({"url": allowed.replace("127.0.0.1", "127.0.0.2"), "body": "x"}),
    ]);
    assert_eq!(
        (seen[0]["ok"].as_u64(), seen[0]["status"].as_u64()),
        (Some(1), Some(200))
    );
    assert_eq!(seen[0]["body"], "thanks");
    for refused in &seen[1..] {
        assert!(
            error_of(refused).starts_with("refused by the host's HTTP grant"),
            "{refused}"
        );
    }
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "only the allowed request reached a server"
    );
    assert_eq!(requests[0].body, b"hello");
    let stats = probe.stats();
    assert_eq!(
        (
            stats.requests,
            stats.refused,
            stats.status_2xx,
            stats.bytes_out
        ),
        (1, 4, 1, 5)
    );
}

#[test]
fn a_listed_name_that_resolves_to_a_private_address_is_refused_unless_marked_private() {
    let server = RecordingServer::start("127.0.0.1:0", |_| Answer::ok());
    let by_name = format!("http://localhost:{}/ingest", server.port);
    let mut probe = Probe::new(
        grant(std::slice::from_ref(&by_name)),
        Duration::from_secs(10),
    );
    let seen = probe.run(&[json!({"url": by_name})]);
    assert!(
        error_of(&seen[0]).contains("private address"),
        "{}",
        seen[0]
    );
    assert!(server.requests().is_empty());
    assert_eq!(probe.stats().failed, 1);

    let mut marked = grant(std::slice::from_ref(&by_name));
    marked.private_hosts = vec!["localhost".into()];
    let mut probe = Probe::new(marked, Duration::from_secs(10));
    let seen = probe.run(&[json!({"url": by_name})]);
    assert_eq!(seen[0]["status"], 200, "{}", seen[0]);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_redirect_is_handed_to_the_guest_not_followed() {
    let elsewhere = RecordingServer::start("127.0.0.1:0", |_| Answer::ok());
    let target = format!("{}/steal", elsewhere.base_url());
    let server = {
        let target = target.clone();
        RecordingServer::start("127.0.0.1:0", move |_| {
            Answer::status(302, "").with_header("Location", target.clone())
        })
    };
    let allowed = format!("{}/ingest", server.base_url());
    let mut probe = Probe::new(
        grant(std::slice::from_ref(&allowed)),
        Duration::from_secs(10),
    );
    let seen = probe.run(&[json!({"url": allowed}), json!({"url": target})]);
    assert_eq!(seen[0]["status"], 302);
    assert!(
        error_of(&seen[1]).starts_with("refused"),
        "following it by hand is checked too"
    );
    assert!(elsewhere.requests().is_empty());
    assert_eq!(probe.stats().status_3xx, 1);
}

#[test]
fn injected_secrets_reach_the_server_and_never_the_guest() {
    // The server echoes what it got (an error page repeating the path, a
    // Location header, a reflected Authorization): the guest must see
    // `***` where the host put a secret in.
    let server = RecordingServer::start("127.0.0.1:0", |request| {
        let auth = request.header("Authorization").unwrap_or("").to_owned();
        Answer::status(200, format!("you asked for {} as {auth}", request.path))
            .with_header("Location", request.path.clone())
    });
    let mut g = grant(&[
        format!("{}/api", server.base_url()),
        format!("{}/hook/${{secret:hook}}", server.base_url()),
    ]);
    g.headers = vec![("Authorization".into(), secret("token").unwrap())];
    let mut probe = Probe::new(g, Duration::from_secs(10));
    let seen = probe.run(&[
        // The guest tries to set the injected header itself.
        json!({"url": format!("{}/api", server.base_url()), "headers": {"authorization": "Bearer guest-made", "x-mine": "1"}}),
        json!({"url": format!("{}/hook/${{secret:hook}}", server.base_url())}),
        // The placeholder elsewhere is not replaced (and not allowed).
        json!({"url": format!("{}/api/${{secret:hook}}", server.base_url())}),
    ]);
    assert_eq!(seen[0]["status"], 200);
    assert_eq!(seen[1]["status"], 200);
    assert!(error_of(&seen[2]).starts_with("refused"), "{}", seen[2]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("Authorization"),
        Some("s3cr3t-t0ken"),
        "the grant's header wins"
    );
    assert_eq!(requests[0].header("x-mine"), Some("1"));
    assert_eq!(requests[1].path, "/hook/T000/B000/XXXX");
    assert_eq!(seen[1]["body"], "you asked for /hook/*** as ***");
    let guest_saw = serde_json::to_string(&seen).unwrap();
    assert!(
        !guest_saw.contains("s3cr3t") && !guest_saw.contains("XXXX"),
        "{guest_saw}"
    );
    assert!(!format!("{:?}", probe.egress).contains("s3cr3t"));
}

#[test]
fn bodies_over_the_caps_are_errors_the_guest_sees() {
    let server = RecordingServer::start("127.0.0.1:0", |request| {
        Answer::status(
            200,
            if request.path == "/big" {
                vec![b'y'; 200_000]
            } else {
                vec![]
            },
        )
    });
    let mut g = grant(&[format!("{}/*", server.base_url())]);
    g.max_request_bytes = 64 * 1024;
    g.max_response_bytes = 100_000;
    let mut probe = Probe::new(g, Duration::from_secs(10));
    let seen = probe.run(&[
        json!({"url": format!("{}/small", server.base_url()), "body_size": 64 * 1024}),
        json!({"url": format!("{}/small", server.base_url()), "body_size": 64 * 1024 + 1}),
        json!({"url": format!("{}/big", server.base_url())}),
    ]);
    assert_eq!(seen[0]["status"], 200);
    assert!(
        error_of(&seen[1]).contains("over the grant's cap"),
        "{}",
        seen[1]
    );
    assert!(
        error_of(&seen[2]).contains("HttpResponseBodySize"),
        "{}",
        seen[2]
    );
    assert_eq!(
        server.requests().len(),
        2,
        "the oversized request never left"
    );
    let stats = probe.stats();
    assert_eq!((stats.refused, stats.failed), (1, 1));
}

#[test]
fn a_server_that_never_answers_is_cut_at_the_wall_deadline_and_the_host_stays_up() {
    // Accepts connections, never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let server = RecordingServer::start("127.0.0.1:0", |_| Answer::ok());
    let mut g = grant(&[
        format!("http://127.0.0.1:{port}/*"),
        format!("{}/*", server.base_url()),
    ]);
    g.timeout = Duration::from_secs(60);
    let mut probe = Probe::new(g, Duration::from_millis(800));
    let batch = Batch::from_records(
        [json!({"url": format!("http://127.0.0.1:{port}/x")}).to_string()],
        0,
    );
    let started = std::time::Instant::now();
    let WriteOutcome::Fatal(why) = probe.sink.write(&batch) else {
        panic!("a call past its deadline is fatal")
    };
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(why.contains("call_timeout"), "{why}");
    // The request in flight went with the instance; a fresh one works.
    probe.sink.restart().unwrap();
    let seen = probe.run(&[json!({"url": format!("{}/y", server.base_url())})]);
    assert_eq!(seen[0]["status"], 200);
    drop(silent);
}

#[test]
fn ten_thousand_requests_in_one_call_stop_at_the_per_call_cap() {
    let _heavy = crate::support::exclusive();
    let server = RecordingServer::start("127.0.0.1:0", |_| Answer::ok());
    let allowed = format!("{}/ingest", server.base_url());
    let mut g = grant(std::slice::from_ref(&allowed));
    g.max_requests_per_call = 200;
    let mut probe = Probe::new(g, Duration::from_secs(60));
    let seen = probe.run(&[json!({"url": allowed, "count": 10_000})]);
    assert_eq!(seen[0]["ok"], 200, "{}", seen[0]);
    assert_eq!(
        seen[0]["errors"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap(),
        9_800
    );
    assert_eq!(server.requests().len(), 200);
    let stats = probe.stats();
    assert_eq!((stats.requests, stats.refused), (200, 9_800));
    // The next call has its own budget.
    let seen = probe.run(&[json!({"url": allowed, "count": 3})]);
    assert_eq!(seen[0]["ok"], 3);
}

#[test]
fn a_sink_without_an_http_grant_has_no_network() {
    let server = RecordingServer::start("127.0.0.1:0", |_| Answer::ok());
    let mut sink = WasmSink::new(
        "probe",
        crate::support::component("http-probe-sink"),
        WasmSinkOptions::default(),
    );
    sink.start().unwrap();
    let batch = Batch::from_records(
        [json!({"url": format!("{}/x", server.base_url())}).to_string()],
        0,
    );
    let WriteOutcome::Rejected(summary) = sink.write(&batch) else {
        panic!()
    };
    assert!(summary.contains("refused by the host"), "{summary}");
    assert!(server.requests().is_empty());
}

/// An Elasticsearch `_bulk` receiver where a document with `"bad": true`
/// fails with a mapping error and one with `"busy": true` is refused with
/// 429 the first time.
pub(crate) fn bulk_receiver() -> (
    RecordingServer,
    Arc<std::sync::Mutex<std::collections::BTreeMap<String, Value>>>,
) {
    let receiver = ElasticsearchReceiver::start(Box::new(|doc, offered| {
        if doc["bad"] == true {
            400
        } else if doc["busy"] == true && offered == 0 {
            429
        } else {
            201
        }
    }));
    (receiver.server, receiver.docs)
}

/// A pipeline with the `elasticsearch-sink` example as sink `es`, sending
/// to `server`'s `_bulk` with an API key from `[secrets]`, batches of 10.
fn elasticsearch_pipeline(dir: &std::path::Path, server: &RecordingServer) -> sinkbox::Pipeline {
    std::fs::write(dir.join("es.key"), "k3y-value").unwrap();
    let component = crate::support::guest("elasticsearch-sink");
    let bulk = format!("{}/_bulk", server.base_url());
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(
            &format!(
                "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 10\ntimeout = \"1h\"\n\
                 [secrets]\nes = {{ file = \"es.key\" }}\n\
                 [sinks.es]\ntype = \"wasm\"\ncomponent = \"{}\"\n\
                 http_allow = [\"{bulk}\"]\nhttp_headers = {{ Authorization = \"ApiKey ${{secret:es}}\" }}\n\
                 config = {{ url = \"{bulk}\", index = \"app-logs\", id_field = \"i\" }}\n\
                 max_retries = 20\ninitial_backoff = \"1ms\"\nmax_backoff = \"5ms\"\n",
                component.display()
            ),
            "t.toml",
            dir,
        )
        .load()
        .unwrap();
    assert!(!format!("{config:?}").contains("k3y"));
    sinkbox::config::build_pipeline(&config).unwrap()
}

#[test]
fn the_elasticsearch_sink_bulk_indexes_and_maps_item_errors_to_outcomes() {
    let (server, docs) = bulk_receiver();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = elasticsearch_pipeline(dir.path(), &server);
    for i in 0..20 {
        pipeline
            .emit(&json!({"i": i, "busy": i == 3, "bad": i == 15}))
            .unwrap();
    }
    let stats = pipeline.shutdown().remove(0);
    // Record 3 was refused with 429 once and sent again alone; record 15
    // is a bad document: it alone is dead-lettered, with Elasticsearch's
    // reason, and the documents after it in its batch are indexed.
    assert_eq!((stats.records, stats.dead_lettered), (19, 1), "{stats:?}");
    // The pipeline's stats carry the sink's HTTP counters.
    let http = stats
        .http
        .expect("a wasm sink with an HTTP grant has HTTP counters");
    assert_eq!(http.requests, server.requests().len() as u64);
    assert_eq!((http.status_2xx, http.refused), (http.requests, 0));
    let kept: Vec<String> = docs.lock().unwrap().keys().cloned().collect();
    let mut expected: Vec<String> = (0..20)
        .filter(|i| *i != 15)
        .map(|i| i.to_string())
        .collect();
    expected.sort();
    assert_eq!(
        kept, expected,
        "every good document is indexed, once per id"
    );
    assert!(
        docs.lock()
            .unwrap()
            .values()
            .all(|d| d["index"] == "app-logs")
    );
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/es.ndjson"));
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["record"]["i"], 15);
    assert_eq!(
        letters[0]["reason"],
        "rejected: HTTP 400: mapper_parsing_exception: failed to parse field [bad]"
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("Authorization") == Some("ApiKey k3y-value"))
    );
}

#[test]
fn random_per_item_answers_index_dead_letter_and_retry_exactly_the_items_they_name() {
    for seed in 1..=4u64 {
        // Each document's fate from a seeded hash of its number: refused
        // for good, throttled for its first one or two offers, or stored.
        let fate =
            move |i: u64| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed).wrapping_mul(31) % 6;
        let receiver = ElasticsearchReceiver::start(Box::new(move |doc, offered| {
            let i = doc["i"].as_u64().unwrap();
            match fate(i) {
                0 => 400,
                1 if offered < 1 => 429,
                2 if offered < 2 => 503,
                _ => 201,
            }
        }));
        let dir = tempfile::tempdir().unwrap();
        let pipeline = elasticsearch_pipeline(dir.path(), &receiver.server);
        for i in 0..60u64 {
            pipeline.emit(&json!({"i": i})).unwrap();
        }
        let stats = pipeline.shutdown().remove(0);
        let refused: Vec<u64> = (0..60).filter(|i| fate(*i) == 0).collect();
        assert_eq!(
            (stats.records, stats.dead_lettered, stats.lost),
            (60 - refused.len() as u64, refused.len() as u64, 0),
            "seed {seed}: {stats:?}"
        );
        // Nothing the server stored was sent again.
        let stores = receiver.stores.lock().unwrap().clone();
        assert!(stores.values().all(|n| *n == 1), "seed {seed}: {stores:?}");
        let mut stored: Vec<u64> = stores.keys().map(|id| id.parse().unwrap()).collect();
        stored.sort_unstable();
        let expected: Vec<u64> = (0..60).filter(|i| fate(*i) != 0).collect();
        assert_eq!(stored, expected, "seed {seed}");
        // Exactly the refused documents are dead letters, each with its
        // own reason.
        let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/es.ndjson"));
        let mut dead: Vec<u64> = letters
            .iter()
            .map(|l| l["record"]["i"].as_u64().unwrap())
            .collect();
        dead.sort_unstable();
        assert_eq!(dead, refused, "seed {seed}");
        assert!(letters.iter().all(|l| l["reason"]
            == "rejected: HTTP 400: mapper_parsing_exception: failed to parse field [bad]"));
    }
}

/// A receiver that behaves like a Slack incoming webhook: `POST` a JSON
/// body with a non-empty `text` to the webhook's path and it answers
/// `ok`; a wrong path is `404 no_service`, a bad body `400
/// invalid_payload` or `no_text`, and the first message gets `429` with
/// `Retry-After: 1` when `rate_limited`.
fn slack_receiver(rate_limited: bool) -> (RecordingServer, Arc<std::sync::Mutex<Vec<String>>>) {
    let texts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let limited = std::sync::atomic::AtomicBool::new(!rate_limited);
    let server = {
        let texts = texts.clone();
        RecordingServer::start("127.0.0.1:0", move |request| {
            if request.path != "/services/T000/B000/XXXX" {
                return Answer::status(404, "no_service");
            }
            if !limited.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Answer::status(429, "rate_limited").with_header("Retry-After", "1");
            }
            let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                return Answer::status(400, "invalid_payload");
            };
            match body["text"].as_str() {
                Some(text) if !text.is_empty() => {
                    texts.lock().unwrap().push(text.to_owned());
                    Answer::status(200, "ok")
                }
                _ => Answer::status(400, "no_text"),
            }
        })
    };
    (server, texts)
}

/// The Slack sink posts one message per batch it is handed; merging queued
/// batches (`merge_max_bytes = "0"` turns it off) would make the count of
/// messages depend on timing.
fn slack_pipeline(dir: &std::path::Path, base: &str, secret_value: &str) -> sinkbox::Pipeline {
    std::fs::write(dir.join("slack.secret"), secret_value).unwrap();
    let component = crate::support::guest("slack-sink-py");
    let url = format!("{base}/services/${{secret:slack}}");
    let registry = sinkbox::registry::SinkRegistry::builtin();
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(
            &format!(
                "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 10\ntimeout = \"1h\"\n\
                 [secrets]\nslack = {{ file = \"slack.secret\" }}\n\
                 [sinks.alerts]\ntype = \"wasm\"\ncomponent = \"{}\"\n\
                 http_allow = [\"{url}\"]\nconfig = {{ url = \"{url}\", max_lines = 3 }}\n\
                 max_retries = 3\ninitial_backoff = \"10ms\"\nmerge_max_bytes = \"0\"\n",
                component.display()
            ),
            "t.toml",
            dir,
        )
        .load()
        .unwrap();
    sinkbox::config::build_pipeline(&config).unwrap()
}

#[test]
fn the_python_slack_sink_posts_warnings_with_the_webhook_secret_it_never_sees() {
    let _heavy = crate::support::exclusive();
    let (server, texts) = slack_receiver(true);
    let dir = tempfile::tempdir().unwrap();
    let pipeline = slack_pipeline(dir.path(), &server.base_url(), "T000/B000/XXXX");
    let started = std::time::Instant::now();
    for i in 0..20 {
        let level = match i % 5 {
            0 => "error",
            1 => "warn",
            _ => "info",
        };
        pipeline
            .emit(&json!({"level": level, "message": format!("event {i}")}))
            .unwrap();
    }
    let stats = pipeline.shutdown().remove(0);
    assert_eq!((stats.records, stats.dead_lettered), (20, 0), "{stats:?}");
    assert!(
        stats.errors.retryable >= 1,
        "the 429 was retried: {stats:?}"
    );
    // After Slack's `Retry-After: 1` (contract 0.2's `retry-after`), not
    // after the 10 ms back-off.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let texts = texts.lock().unwrap().clone();
    assert_eq!(texts.len(), 2, "one message per batch: {texts:?}");
    assert!(
        texts[0].starts_with("*4 record(s) at warn or above*"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("• `error` event 0") && texts[0].contains("• `warn` event 1"));
    assert!(texts[0].ends_with("… and 1 more"), "{}", texts[0]);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path == "/services/T000/B000/XXXX")
    );
}

#[test]
fn the_python_slack_sink_dead_letters_what_slack_refuses() {
    let _heavy = crate::support::exclusive();
    let (server, _texts) = slack_receiver(false);
    let dir = tempfile::tempdir().unwrap();
    // The operator's secret is wrong: Slack answers 404 no_service.
    let pipeline = slack_pipeline(dir.path(), &server.base_url(), "T000/B000/WRONG");
    pipeline
        .emit(&json!({"level": "error", "message": "disk full"}))
        .unwrap();
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(stats.dead_lettered, 1, "{stats:?}");
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/alerts.ndjson"));
    assert_eq!(letters[0]["reason"], "rejected: HTTP 404: no_service");
    assert!(
        !letters[0].to_string().contains("WRONG"),
        "the secret is not in the dead letter"
    );
}

#[test]
fn the_javascript_webhook_sink_posts_batches_and_maps_statuses_to_outcomes() {
    let _heavy = crate::support::exclusive();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = RecordingServer::start("127.0.0.1:0", move |request| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if body
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["poison"] == true))
        {
            return Answer::status(400, "poison record");
        }
        match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => Answer::status(503, "warming up").with_header("Retry-After", "1"),
            _ => Answer::status(200, "ok"),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hook.token"), "t0k3n").unwrap();
    let url = format!("{}/hook", server.base_url());
    let pipeline = webhook_pipeline(
        dir.path(),
        &url,
        "[secrets]\nhook = { file = \"hook.token\" }\n",
        "http_headers = { \"X-Hook-Token\" = \"${secret:hook}\" }\n",
    );
    let started = std::time::Instant::now();
    for i in 0..15 {
        pipeline.emit(&json!({"i": i, "poison": i == 12})).unwrap();
    }
    let stats = pipeline.shutdown().remove(0);
    // The 503's `Retry-After: 1` was waited out (`retry-after`), not the
    // 10 ms back-off.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/hook.ndjson"));
    assert_eq!(
        (stats.records, stats.dead_lettered),
        (10, 5),
        "{stats:?} {:?}",
        letters.first()
    );
    assert!(stats.errors.retryable >= 1, "the 503 was retried");
    // Requests holding the poison record were answered 400 (the worker may
    // first have sent queued batches merged; then each went again alone);
    // of the others, the first was answered 503.
    let delivered: Vec<u64> = server
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter(|batch| {
            !batch
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["poison"] == true)
        })
        .skip(1)
        .flat_map(|batch| {
            batch
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["i"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|i| *i < 10)
        .collect();
    assert_eq!(delivered, (0..10).collect::<Vec<_>>());
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("X-Hook-Token") == Some("t0k3n"))
    );
    let letters = crate::support::dead_letters(&dir.path().join("data/dead-letter/hook.ndjson"));
    assert_eq!(letters[0]["reason"], "rejected: HTTP 400: poison record");
}

#[test]
fn the_javascript_webhook_sink_says_a_timeout_after_sending_is_indeterminate() {
    let _heavy = crate::support::exclusive();
    // The server stores the first request, then answers too late.
    let stored = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let slow_once = std::sync::atomic::AtomicBool::new(false);
    let server = {
        let stored = stored.clone();
        RecordingServer::start("127.0.0.1:0", move |request| {
            stored.lock().unwrap().push(request.body.clone());
            if !slow_once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1_500));
            }
            Answer::status(200, "ok")
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/hook", server.base_url());
    let pipeline = webhook_pipeline(dir.path(), &url, "", "http_timeout = \"300ms\"\n");
    for i in 0..5 {
        pipeline.emit(&json!({"i": i})).unwrap();
    }
    let stats = pipeline.shutdown().remove(0);
    assert_eq!(
        (stats.records, stats.indeterminate, stats.dead_lettered),
        (5, 5, 0),
        "{stats:?}"
    );
    let stored = stored.lock().unwrap();
    assert_eq!(stored.len(), 2, "stored, then sent again");
    assert_eq!(stored[0], stored[1]);
}

/// A pipeline with the JavaScript `webhook-sink-js` as sink `hook`,
/// posting to `url` (granted), batches of 5, quick retries; `tables` goes
/// before the sink (a `[secrets]` table), `sink_lines` into it.
fn webhook_pipeline(
    dir: &std::path::Path,
    url: &str,
    tables: &str,
    sink_lines: &str,
) -> sinkbox::Pipeline {
    crate::support::toml_pipeline(
        dir,
        &format!(
            "[runtime]\ndata_dir = \"data\"\n[runtime.batch]\nmax_records = 5\ntimeout = \"1h\"\n{tables}\
             [sinks.hook]\ntype = \"wasm\"\ncomponent = \"{}\"\n\
             http_allow = [\"{url}\"]\nconfig = {{ url = \"{url}\" }}\n\
             max_retries = 3\ninitial_backoff = \"10ms\"\n{sink_lines}",
            crate::support::guest("webhook-sink-js").display()
        ),
    )
}
