//! The `http_server` source with a real client (reqwest) on loopback:
//! bodies in every accepted shape, an answer only once the records are
//! safe, pointed refusals, credentials, and hostile clients that must not
//! take the host down.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sinkbox::secret::Secret;
use sinkbox::sources::http_server::{AckMode, HttpServerAuth, HttpServerOptions, RunningSource};
use sinkbox::{Pipeline, SinkSpec};

use crate::support::{Gate, Recorder, RecordingSink};

fn pipeline(dir: &std::path::Path, sink: RecordingSink) -> Pipeline {
    crate::support::pipeline_of(dir, 10_000, vec![SinkSpec::new("out", sink)]).unwrap()
}

fn options() -> HttpServerOptions {
    HttpServerOptions::new("127.0.0.1:0".parse().unwrap())
}

fn post(
    source: &RunningSource,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::blocking::Body>,
) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut request = client
        .post(format!("http://{}/", source.local_addr()))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[test]
fn ndjson_an_array_one_object_gzip_and_zstd_all_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let source = sinkbox::sources::http_server::start("in", p.clone(), options()).unwrap();
    let ndjson = "{\"i\":0}\n{\"i\":1}\n";
    assert_eq!(
        post(&source, &[("content-type", "application/x-ndjson")], ndjson).0,
        200
    );
    let (status, body) = post(
        &source,
        &[("content-type", "application/json")],
        r#"[{"i":2},{"i":3}]"#,
    );
    assert_eq!((status, body["records"].as_u64()), (200, Some(2)));
    assert_eq!(
        post(
            &source,
            &[("content-type", "application/json")],
            "{\n\"i\": 4\n}"
        )
        .0,
        200
    );
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(b"{\"i\":5}\n").unwrap();
    let gzip = gzip.finish().unwrap();
    assert_eq!(post(&source, &[("content-encoding", "gzip")], gzip).0, 200);
    let zstd = zstd::encode_all(&b"{\"i\":6}\n"[..], 3).unwrap();
    assert_eq!(post(&source, &[("content-encoding", "zstd")], zstd).0, 200);
    let stats = source.stats();
    assert_eq!((stats.requests, stats.accepted, stats.records), (5, 5, 7));
    source.stop();
    p.shutdown();
    let numbers = crate::support::numbers(&recorder.records.lock().unwrap());
    assert_eq!(numbers, (0..7).collect::<Vec<_>>(), "each once, in order");
}

#[test]
fn the_answer_waits_for_delivery_unless_told_received() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let p = pipeline(dir.path(), RecordingSink::gated(&recorder, &gate));
    let source = sinkbox::sources::http_server::start("in", p.clone(), options()).unwrap();
    let client = std::thread::spawn({
        let address = source.local_addr();
        move || {
            let started = Instant::now();
            let status = reqwest::blocking::Client::new()
                .post(format!("http://{address}/"))
                .body("{\"i\":1}\n")
                .send()
                .unwrap()
                .status();
            (status.as_u16(), started.elapsed())
        }
    });
    crate::support::wait_until("the sink to be handed the record", || gate.entered() == 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!client.is_finished(), "no answer before the sink delivered");
    gate.open();
    let (status, waited) = client.join().unwrap();
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(300));
    source.stop();

    // With `ack = "received"`, the answer comes once the records are queued.
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), RecordingSink::gated(&recorder, &gate));
    let mut received = options();
    received.ack = AckMode::Received;
    let source = sinkbox::sources::http_server::start("in", p.clone(), received).unwrap();
    assert_eq!(post(&source, &[], "{\"i\":1}\n").0, 200);
    assert!(recorder.records.lock().unwrap().is_empty());
    gate.open();
    source.stop();
    p.shutdown();
}

#[test]
fn bad_input_is_refused_with_a_pointed_reason_and_nothing_of_it_emitted() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let mut small = options();
    small.max_body_bytes = 1024;
    small.max_records = 3;
    let source = sinkbox::sources::http_server::start("in", p.clone(), small).unwrap();
    let (status, body) = post(&source, &[], "{\"i\":1}\n{\"i\":\n{\"i\":3}\n");
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("record 2: "),
        "{body}"
    );
    assert_eq!(post(&source, &[], "1\n2\n3\n4\n").0, 400);
    assert_eq!(post(&source, &[], vec![b' '; 4096]).0, 413);
    assert_eq!(post(&source, &[("content-encoding", "br")], "x").0, 415);
    let mut big = options();
    big.max_body_bytes = 1 << 20;
    let roomy = sinkbox::sources::http_server::start("in2", p.clone(), big).unwrap();
    // 8 MiB of spaces in 8 KB: refused once decoding passes the limit.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b' '; 8 << 20]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 16 << 10, "{}", bomb.len());
    assert_eq!(post(&roomy, &[("content-encoding", "gzip")], bomb).0, 413);
    let escape = format!("{{\"a\":\"\u{1b}[2J{}", "x".repeat(5000));
    let (status, body) = post(&roomy, &[], escape);
    assert_eq!(status, 400);
    let error = body["error"].as_str().unwrap();
    assert!(error.len() < 600 && !error.contains('\u{1b}'), "{error}");
    roomy.stop();
    source.stop();
    p.shutdown();
    assert!(recorder.records.lock().unwrap().is_empty());
}

#[test]
fn credentials_are_checked_and_a_refusal_says_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let mut bearer = options();
    bearer.auth = Some(HttpServerAuth::Bearer(Secret::new("t0k3n")));
    let source = sinkbox::sources::http_server::start("in", p.clone(), bearer).unwrap();
    assert_eq!(
        post(&source, &[("authorization", "Bearer t0k3n")], "{}").0,
        200
    );
    for wrong in [&[("authorization", "Bearer nope")][..], &[]] {
        let (status, body) = post(&source, wrong, "{}");
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthorized"))
        );
    }
    source.stop();
    let mut basic = options();
    basic.auth = Some(HttpServerAuth::Basic {
        user: "edge".into(),
        password: Secret::new("pa55"),
    });
    let source = sinkbox::sources::http_server::start("in", p.clone(), basic).unwrap();
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/", source.local_addr());
    let ok = client
        .post(&url)
        .basic_auth("edge", Some("pa55"))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let bad = client
        .post(&url)
        .basic_auth("edge", Some("no"))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    assert_eq!(source.stats().unauthorized, 1);
    source.stop();
    p.shutdown();
    assert_eq!(recorder.records.lock().unwrap().len(), 2);
}

#[test]
fn slow_idle_and_oversized_clients_do_not_hold_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let mut tight = options();
    tight.header_timeout = Duration::from_millis(300);
    tight.body_timeout = Duration::from_millis(300);
    tight.max_connections = 64;
    let source = sinkbox::sources::http_server::start("in", p.clone(), tight).unwrap();
    let address = source.local_addr();
    // A slowloris: headers a byte at a time, never finished.
    let mut slow = std::net::TcpStream::connect(address).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // A body promised and never sent.
    let mut stalled = std::net::TcpStream::connect(address).unwrap();
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    // Idle connections, more than the limit.
    let idle: Vec<_> = (0..100)
        .map(|_| std::net::TcpStream::connect(address).unwrap())
        .collect();
    // A 1 MiB header.
    let mut huge = std::net::TcpStream::connect(address).unwrap();
    let header = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let _ = huge.write_all(header.as_bytes());
    let mut answer = Vec::new();
    huge.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = huge.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 431")
            || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // The slow ones are cut off, the idle ones time out, and a real
    // client still gets through.
    std::thread::sleep(Duration::from_millis(700));
    drop(idle);
    let started = Instant::now();
    assert_eq!(post(&source, &[], "{\"i\":1}\n").0, 200);
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut rest = Vec::new();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stalled.read_to_end(&mut rest);
    assert!(
        String::from_utf8_lossy(&rest).contains(" 408 "),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    drop(slow);
    source.stop();
    p.shutdown();
    assert_eq!(recorder.records.lock().unwrap().len(), 1);
}

#[test]
fn a_source_table_is_read_with_pointed_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("edge.token"), "t0k3n").unwrap();
    let good = "[secrets]\nedge = { file = \"edge.token\" }\n\
        [sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:0\"\npath = \"/ingest\"\nack = \"received\"\n\
        auth = { strategy = \"bearer\", token = \"${secret:edge}\" }\nmax_body_bytes = \"1MiB\"\nbody_timeout = \"5s\"\n\
        [sinks.out]\ntype = \"stdout\"\n";
    let config = sinkbox::Config::from_toml(good, "t.toml", dir.path()).unwrap();
    let options = config.sources[0].kind.server().unwrap();
    assert_eq!(config.sources[0].name, "edge");
    assert_eq!(
        (options.path.as_str(), options.ack),
        ("/ingest", AckMode::Received)
    );
    assert_eq!(options.max_body_bytes, 1 << 20);
    assert!(
        matches!(&options.auth, Some(HttpServerAuth::Bearer(token)) if token.expose() == "t0k3n")
    );
    assert!(
        !format!("{config:?}").contains("t0k3n"),
        "secrets are never printed"
    );
    for (toml, line, says) in [
        (
            "[sources.a]\ntype = \"kafka\"\n",
            2,
            "unknown source type `kafka`",
        ),
        (
            "[sources.a]\ntype = \"http_server\"\n",
            1,
            "needs `address`",
        ),
        (
            "[sources.a]\ntype = \"http_server\"\naddress = \"nowhere\"\n",
            3,
            "is not an address",
        ),
        (
            "[sources.a]\ntype = \"http_server\"\naddress = \"127.0.0.1:1\"\nack = \"maybe\"\n",
            4,
            "`maybe` is not one of `delivered`, `received`",
        ),
        (
            "[sources.a]\ntype = \"http_server\"\naddress = \"127.0.0.1:1\"\nadress = \"x\"\n",
            4,
            "unknown option `adress`",
        ),
        (
            "[sources.a]\ntype = \"http_server\"\naddress = \"127.0.0.1:1\"\nauth = { strategy = \"bearer\", token = \"${secret:nope}\" }\n",
            4,
            "nope",
        ),
    ] {
        let err = sinkbox::Config::from_toml(toml, "t.toml", dir.path()).unwrap_err();
        assert_eq!(err.line, Some(line), "{toml}: {err}");
        assert!(err.to_string().contains(says), "{toml}: {err}");
    }
}

#[test]
fn sinkbox_run_serves_its_sources_until_a_signal_and_drains_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let config = crate::support::config_file(
        dir.path(),
        &format!(
            "[runtime]\ndata_dir = \"data\"\n\
             [sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:0\"\npath = \"/ingest\"\n\
             [sinks.out]\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let mut child = crate::support::spawn_sinkbox_run(&[
        "--config".as_ref(),
        config.as_os_str(),
        "--metrics-addr".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let (stderr, reader) = crate::support::collect_stderr(&mut child);
    let [url, metrics] = <[String; 2]>::try_from(crate::support::wait_for_lines(
        &stderr,
        &["(http_server) listening on ", "metrics at "],
    ))
    .unwrap();
    assert!(url.ends_with("/ingest"), "{url}");
    let response = reqwest::blocking::Client::new()
        .post(&url)
        .body("{\"i\":1}\n{\"i\":2}\n")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // Acknowledged means delivered: the file has them before any signal.
    assert_eq!(crate::support::read_lines(&out).len(), 2);
    let scraped = reqwest::blocking::get(&metrics).unwrap().text().unwrap();
    for line in [
        "sinkbox_source_requests_total{source=\"edge\"} 1",
        "sinkbox_source_records_total{source=\"edge\"} 2",
        "sinkbox_source_responses_total{source=\"edge\",answer=\"accepted\"} 1",
    ] {
        assert!(scraped.contains(line), "{line} in:\n{scraped}");
    }
    let status = crate::support::terminate(&mut child);
    reader.join().unwrap();
    let text = stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("serving 1 source(s)"), "{text}");
    assert!(
        text.contains("source edge: 1 request(s), 2 record(s) taken; answered 1 accepted"),
        "{text}"
    );
    assert!(text.contains("ms after arriving, on average"), "{text}");
    assert!(!text.contains("event(s) from"), "no stdin was read: {text}");
}

#[test]
fn a_full_pipeline_answers_503_at_once_and_takes_nothing_of_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let (recorder, gate) = (Recorder::default(), Gate::closed());
    let p = crate::support::pipeline_of(
        dir.path(),
        10_000,
        vec![SinkSpec::new("slow", RecordingSink::gated(&recorder, &gate)).queue_capacity(1)],
    )
    .unwrap();
    let mut received = options();
    received.ack = AckMode::Received;
    let source = sinkbox::sources::http_server::start("in", p.clone(), received).unwrap();
    // The worker holds the first batch in the gate; the second fills the
    // queue.
    assert_eq!(post(&source, &[], "{\"i\":1}\n").0, 200);
    crate::support::wait_until("the sink to hold the first batch", || gate.entered() == 1);
    assert_eq!(post(&source, &[], "{\"i\":2}\n").0, 200);
    let started = Instant::now();
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!("http://{}/", source.local_addr()))
        .body("{\"i\":3}\n")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("queue of sink `slow` is full"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered at once"
    );
    gate.open();
    source.stop();
    p.shutdown();
    let kept: Vec<String> = recorder.records.lock().unwrap().clone();
    assert_eq!(
        kept,
        ["{\"i\":1}", "{\"i\":2}"],
        "the refused request left nothing behind"
    );
}

/// A self-signed certificate for `localhost`, written as `name.crt` and
/// `name.key` in `dir`; its PEM.
fn certificate(dir: &std::path::Path, name: &str) -> String {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = certified.cert.pem();
    std::fs::write(dir.join(format!("{name}.crt")), &pem).unwrap();
    std::fs::write(
        dir.join(format!("{name}.key")),
        certified.signing_key.serialize_pem(),
    )
    .unwrap();
    pem
}

/// A client that trusts only `pem`, reaching `localhost` at `address`.
fn trusting(pem: &str, address: std::net::SocketAddr) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .resolve("localhost", address)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn tls_serves_https_and_a_renewed_certificate_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate(dir.path(), "server");
    let config = "[sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:0\"\n\
         tls = { crt_file = \"server.crt\", key_file = \"server.key\" }\n[sinks.out]\ntype = \"stdout\"\n";
    let loaded = sinkbox::Config::from_toml(config, "t.toml", dir.path()).unwrap();
    let options = loaded.sources[0].kind.server().unwrap().clone();
    assert_eq!(
        options.tls.as_ref().unwrap().crt_file,
        dir.path().join("server.crt"),
        "relative to the configuration's directory"
    );
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let source = sinkbox::sources::http_server::start("edge", p.clone(), options).unwrap();
    let address = source.local_addr();
    let url = format!("https://localhost:{}/", address.port());
    let send = |client: &reqwest::blocking::Client, i: u32| {
        client
            .post(&url)
            .body(format!("{{\"i\":{i}}}\n"))
            .send()
            .map(|r| r.status().as_u16())
    };
    assert_eq!(send(&trusting(&first, address), 0).unwrap(), 200);
    // Plain HTTP to the TLS port gets no answer, and the source stays up.
    assert!(
        reqwest::blocking::Client::new()
            .post(format!("http://{address}/"))
            .body("{\"i\":99}\n")
            .send()
            .is_err_and(|e| !e.is_status())
    );
    // The certificate is renewed on disk: new connections get the new one.
    std::thread::sleep(Duration::from_millis(1100));
    let renewed = certificate(dir.path(), "server");
    crate::support::wait_until("the renewed certificate to be served", || {
        send(&trusting(&renewed, address), 1).is_ok()
    });
    assert!(
        send(&trusting(&first, address), 2).is_err(),
        "the old certificate is no longer served"
    );
    // A broken renewal keeps the certificate before it.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(dir.path().join("server.key"), "not a key").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(send(&trusting(&renewed, address), 3).unwrap(), 200);
    source.stop();
    p.shutdown();
    let numbers = crate::support::numbers(&recorder.records.lock().unwrap());
    assert_eq!(numbers, [0, 1, 3]);

    // A certificate that does not load stops the source from starting.
    std::fs::write(dir.path().join("broken.crt"), "-----BEGIN NOTHING-----").unwrap();
    let mut broken = options_with_tls(dir.path());
    broken.tls.as_mut().unwrap().crt_file = dir.path().join("broken.crt");
    let p = pipeline(dir.path(), RecordingSink::new(&Recorder::default()));
    let err = sinkbox::sources::http_server::start("edge", p.clone(), broken)
        .err()
        .unwrap();
    assert!(err.contains("holds no readable PEM certificate"), "{err}");
    p.shutdown();
}

fn options_with_tls(dir: &std::path::Path) -> HttpServerOptions {
    let mut tls = options();
    tls.tls = Some(sinkbox::sources::util::tls::TlsFiles {
        crt_file: dir.join("server.crt"),
        key_file: dir.join("server.key"),
    });
    tls
}

#[test]
fn sources_follow_a_configuration_reload() {
    use crate::recording_server::free_port;
    let dir = tempfile::tempdir().unwrap();
    let (edge_port, otel_port, metrics_port) = (free_port(), free_port(), free_port());
    let out = dir.path().join("out.ndjson");
    let config = |sources: &str| {
        crate::support::config_file(
            dir.path(),
            &format!(
                "[runtime]\ndata_dir = \"data\"\n{sources}[sinks.out]\ntype = \"file\"\npath = \"{}\"\n",
                out.display()
            ),
        )
    };
    let edge = |path: &str| {
        format!(
            "[sources.edge]\ntype = \"http_server\"\naddress = \"127.0.0.1:{edge_port}\"\npath = \"{path}\"\n"
        )
    };
    let path = config(&edge("/a"));
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut child = crate::support::spawn_sinkbox_run(&[
        "--config".as_ref(),
        path.as_os_str(),
        "--watch".as_ref(),
        "--metrics-addr".as_ref(),
        metrics_addr.as_ref(),
    ]);
    let (stderr, reader) = crate::support::collect_stderr(&mut child);
    crate::support::wait_until("the source to listen", || {
        stderr.lock().unwrap().contains("listening on")
    });
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let accepted = std::cell::Cell::new(0);
    let post = |url: String| {
        let status = client
            .post(url)
            .body("{\"i\":1}\n")
            .send()
            .map(|r| r.status().as_u16());
        if let Ok(200) = status {
            accepted.set(accepted.get() + 1);
        }
        status
    };
    assert_eq!(
        post(format!("http://127.0.0.1:{edge_port}/a")).unwrap(),
        200
    );

    // The path changes and an otlp source is added: edge restarts on its
    // port with the new path, otel starts.
    let otel = format!("[sources.otel]\ntype = \"otlp\"\naddress = \"127.0.0.1:{otel_port}\"\n");
    config(&format!("{}{otel}", edge("/b")));
    crate::support::wait_until("edge to serve its new path", || {
        post(format!("http://127.0.0.1:{edge_port}/b")).ok() == Some(200)
    });
    assert_eq!(
        post(format!("http://127.0.0.1:{edge_port}/a")).unwrap(),
        404
    );
    // Its counters went on from where they were: every record it took,
    // before the restart and after, is counted.
    let metrics = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "sinkbox_source_records_total{{source=\"edge\"}} {}\n",
            accepted.get()
        )),
        "{} records: {metrics}",
        accepted.get()
    );
    let otlp = client
        .post(format!("http://127.0.0.1:{otel_port}/v1/logs"))
        .header("content-type", "application/json")
        .body(
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#,
        )
        .send()
        .unwrap();
    assert_eq!(otlp.status().as_u16(), 200);

    // edge is removed: its port closes; a bad configuration changes nothing.
    config(&otel);
    // Polled hard on purpose: each accepted post writes the output file
    // beside the configuration, and the watcher must still see the change.
    crate::support::wait_until("edge to stop", || {
        post(format!("http://127.0.0.1:{edge_port}/b")).is_err()
    });
    config("[sources.otel]\ntype = \"otlp\"\n");
    crate::support::wait_until("the bad configuration to be refused", || {
        stderr
            .lock()
            .unwrap()
            .contains("configuration reload refused")
    });
    let status = crate::support::terminate(&mut child);
    reader.join().unwrap();
    let text = stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(
        text.contains("source `edge` restarted with its new options"),
        "{text}"
    );
    assert!(text.contains("source `otel` added"), "{text}");
    assert!(text.contains("source `edge` removed"), "{text}");
    assert!(
        text.contains("source otel: 1 request(s), 1 record(s) taken"),
        "{text}"
    );
    // Every post answered 200 and the OTLP record are in the file.
    assert_eq!(crate::support::read_lines(&out).len(), accepted.get() + 1);
}

#[test]
fn a_thousand_idle_connections_neither_hold_the_source_nor_stay_open() {
    // 1,000 client sockets and as many accepted ones: room for them.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        if limit.rlim_cur < 4096 && limit.rlim_max > limit.rlim_cur {
            limit.rlim_cur = limit.rlim_max.min(4096);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let mut quick = options();
    quick.header_timeout = Duration::from_millis(500);
    let source = sinkbox::sources::http_server::start("in", p.clone(), quick).unwrap();
    let address = source.local_addr();
    let mut idle: Vec<std::net::TcpStream> = (0..1000)
        .map(|_| std::net::TcpStream::connect(address).unwrap())
        .collect();
    // A real client gets through beside them.
    assert_eq!(post(&source, &[], "{\"i\":1}\n").0, 200);
    // Each idle one is closed once its time to send a head is up.
    for stream in &mut idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut byte = [0u8; 1];
        let read = stream.read(&mut byte);
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "an idle connection was answered: {read:?}"
        );
    }
    assert_eq!(post(&source, &[], "{\"i\":2}\n").0, 200);
    source.stop();
    p.shutdown();
    assert_eq!(recorder.records.lock().unwrap().len(), 2);
}

/// Records each batch after a pause: a destination slower than its
/// clients.
struct SlowSink(Recorder);

impl sinkbox::Sink for SlowSink {
    fn start(&mut self) -> Result<(), sinkbox::SinkError> {
        Ok(())
    }

    fn write(&mut self, batch: &sinkbox::Batch) -> sinkbox::WriteOutcome {
        std::thread::sleep(Duration::from_millis(5));
        let mut records = self.0.records.lock().unwrap();
        records.extend(
            batch
                .records()
                .map(|r| String::from_utf8(r.to_vec()).unwrap()),
        );
        sinkbox::WriteOutcome::Accepted
    }
}

#[test]
fn clients_retrying_on_503_against_a_full_pipeline_lose_nothing_and_hear_200_only_when_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = crate::support::pipeline_of(
        dir.path(),
        10_000,
        vec![SinkSpec::new("slow", SlowSink(recorder.clone())).queue_capacity(1)],
    )
    .unwrap();
    let source = sinkbox::sources::http_server::start("in", p.clone(), options()).unwrap();
    let url = format!("http://{}/", source.local_addr());
    let (clients, requests, per_request) = (4usize, 25usize, 10usize);
    let refusals: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (url, recorder) = (url.clone(), recorder.clone());
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut refused = 0;
                    for r in 0..requests {
                        let first = (c * requests + r) * per_request;
                        let body: String = (first..first + per_request)
                            .map(|i| format!("{{\"i\":{i}}}\n"))
                            .collect();
                        loop {
                            let status = client
                                .post(&url)
                                .body(body.clone())
                                .send()
                                .unwrap()
                                .status();
                            if status.as_u16() == 200 {
                                break;
                            }
                            assert_eq!(status.as_u16(), 503);
                            refused += 1;
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        // A 200 means delivered: the records are there now.
                        let delivered = crate::support::numbers(&recorder.records.lock().unwrap());
                        for i in first..first + per_request {
                            assert!(
                                delivered.contains(&i),
                                "record {i} answered 200 before delivery"
                            );
                        }
                    }
                    refused
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(
        refusals > 0,
        "the pipeline was never full; the test proved nothing"
    );
    source.stop();
    p.shutdown();
    let mut delivered = crate::support::numbers(&recorder.records.lock().unwrap());
    delivered.sort_unstable();
    assert_eq!(
        delivered,
        (0..clients * requests * per_request).collect::<Vec<_>>(),
        "every record once: a refused request took nothing"
    );
}

#[test]
fn metadata_field_tells_the_aggregator_where_records_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Recorder::default();
    let p = pipeline(dir.path(), RecordingSink::new(&recorder));
    let mut tagged = options();
    tagged.metadata_field = Some("origin".into());
    let source = sinkbox::sources::http_server::start("edge", p.clone(), tagged).unwrap();
    assert_eq!(post(&source, &[], "{\"i\":0}\n[1,2]\n{}\n").0, 200);
    source.stop();
    p.shutdown();
    let records: Vec<serde_json::Value> = recorder
        .records
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(records[0]["i"], 0);
    assert_eq!(records[0]["origin"]["source"], "edge");
    let peer = records[0]["origin"]["peer"].as_str().unwrap();
    assert!(peer.starts_with("127.0.0.1:"), "{peer}");
    assert_eq!(
        records[1],
        serde_json::json!([1, 2]),
        "only objects gain the field"
    );
    assert_eq!(records[2]["origin"]["source"], "edge");
}
