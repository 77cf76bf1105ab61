//! `direct` and `relay` against real loopback listeners started by the test:
//! the listener goes away mid-stream and comes back, and every record
//! arrives exactly once, in order.

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::wait_until;
use sinkbox::pipeline::{BatchOptions, RetryPolicy};
use sinkbox::sinks::{DirectSink, DirectSinkOptions, Endpoint, RelaySink, RelaySinkOptions};
use sinkbox::{Health, Pipeline, Sink, SinkSpec};

/// A receiver that collects NDJSON lines until stopped. Stopping closes the
/// listening socket and every connection, as a receiver that exits would.
struct Receiver {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

enum Listening {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Receiver {
    fn start(listening: Listening, lines: Arc<Mutex<Vec<String>>>) -> Receiver {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (lines, stop) = (lines.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut readers: Vec<JoinHandle<()>> = Vec::new();
                match &listening {
                    Listening::Tcp(l) => l.set_nonblocking(true).unwrap(),
                    Listening::Unix(l) => l.set_nonblocking(true).unwrap(),
                }
                while !stop.load(Ordering::SeqCst) {
                    let accepted: std::io::Result<Box<dyn ReadStream>> = match &listening {
                        Listening::Tcp(l) => {
                            l.accept().map(|(s, _)| Box::new(s) as Box<dyn ReadStream>)
                        }
                        Listening::Unix(l) => {
                            l.accept().map(|(s, _)| Box::new(s) as Box<dyn ReadStream>)
                        }
                    };
                    match accepted {
                        Ok(stream) => {
                            let (lines, stop) = (lines.clone(), stop.clone());
                            readers.push(std::thread::spawn(move || {
                                read_lines(stream, &lines, &stop)
                            }));
                        }
                        Err(err) if err.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(err) => panic!("accept failed: {err}"),
                    }
                }
                for reader in readers {
                    reader.join().unwrap();
                }
            })
        };
        Receiver {
            lines,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
    }

    fn count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }
}

trait ReadStream: std::io::Read + Send {
    fn set_timeout(&self, timeout: Duration);
}

impl ReadStream for TcpStream {
    fn set_timeout(&self, timeout: Duration) {
        self.set_nonblocking(false).unwrap();
        self.set_read_timeout(Some(timeout)).unwrap();
    }
}

impl ReadStream for UnixStream {
    fn set_timeout(&self, timeout: Duration) {
        self.set_nonblocking(false).unwrap();
        self.set_read_timeout(Some(timeout)).unwrap();
    }
}

fn read_lines(stream: Box<dyn ReadStream>, lines: &Mutex<Vec<String>>, stop: &AtomicBool) {
    stream.set_timeout(Duration::from_millis(20));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stop.load(Ordering::SeqCst) {
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.ends_with('\n') => {
                lines.lock().unwrap().push(line.trim_end().to_owned());
                line.clear();
            }
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn record(i: usize) -> String {
    format!(r#"{{"i":{i},"message":"event {i}"}}"#)
}

/// Patient retries: the pipeline keeps a batch while the receiver is away.
fn patient() -> RetryPolicy {
    RetryPolicy {
        max_retries: Some(500),
        max_retry_duration: None,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_restarts: 3,
    }
}

fn fast_reconnect(endpoint: Endpoint) -> DirectSinkOptions {
    let mut options = DirectSinkOptions::new(endpoint);
    options.connect.retry_delay = Duration::from_millis(5);
    options.connect.max_retry_delay = Duration::from_millis(20);
    options
}

fn pipeline(dir: &Path, sink: impl Sink + 'static) -> Pipeline {
    Pipeline::builder()
        .data_dir(dir)
        .batch(BatchOptions {
            max_records: 10,
            timeout: Duration::from_millis(10),
            ..BatchOptions::default()
        })
        .sink_spec(SinkSpec::new("out", sink).retry(patient()))
        .build()
        .unwrap()
}

/// Sends 0..50, stops the receiver, sends 50..100 while it is away, brings
/// it back, and checks that every record arrived once, in order.
fn survives_a_receiver_restart(listen: impl Fn() -> Listening, endpoint: Endpoint) {
    let dir = tempfile::tempdir().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(listen(), lines.clone());
    let pipeline = pipeline(dir.path(), DirectSink::new(fast_reconnect(endpoint)));
    for i in 0..50 {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    wait_until("the first half arrives", || receiver.count() == 50);
    receiver.stop();

    for i in 50..100 {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    wait_until("the sink notices the receiver is gone", || {
        pipeline.stats()[0].errors.retryable > 0
    });
    assert!(matches!(
        pipeline.health()[0].1,
        Health::Degraded(_) | Health::Unhealthy(_)
    ));
    let receiver = Receiver::start(listen(), lines.clone());
    wait_until("the second half arrives", || receiver.count() == 100);
    let stats = pipeline.shutdown();
    receiver.stop();
    assert_eq!(
        *lines.lock().unwrap(),
        (0..100).map(record).collect::<Vec<_>>()
    );
    assert_eq!(stats[0].records, 100);
    assert_eq!(stats[0].dead_lettered, 0);
}

#[test]
fn direct_tcp_survives_a_receiver_restart() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    survives_a_receiver_restart(
        || Listening::Tcp(TcpListener::bind(&addr).unwrap()),
        format!("tcp://{addr}").parse().unwrap(),
    );
}

#[test]
fn direct_unix_survives_a_receiver_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receiver.sock");
    let listen = || {
        let _ = std::fs::remove_file(&path);
        Listening::Unix(UnixListener::bind(&path).unwrap())
    };
    survives_a_receiver_restart(
        listen,
        format!("unix://{}", path.display()).parse().unwrap(),
    );
}

#[test]
fn direct_ws_sends_one_message_per_batch() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut socket = tungstenite::accept(stream).unwrap();
        let mut messages = Vec::new();
        loop {
            match socket.read() {
                Ok(tungstenite::Message::Text(text)) => messages.push(text.to_string()),
                Ok(tungstenite::Message::Close(_)) | Err(_) => return messages,
                Ok(_) => {}
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("ws://127.0.0.1:{port}/ingest").parse().unwrap();
    let pipeline = pipeline(dir.path(), DirectSink::new(fast_reconnect(endpoint)));
    for i in 0..25 {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    pipeline.shutdown();
    let messages = server.join().unwrap();
    assert_eq!(messages.len(), 3, "batches of 10, 10 and 5");
    let lines: Vec<String> = messages
        .iter()
        .flat_map(|m| m.lines().map(str::to_owned))
        .collect();
    assert_eq!(lines, (0..25).map(record).collect::<Vec<_>>());
}

#[test]
fn while_the_relay_is_away_nothing_is_claimed_and_a_disk_buffer_keeps_every_batch() {
    let dir = tempfile::tempdir().unwrap();
    let socket: PathBuf = dir.path().join("relay.sock");
    let mut options = RelaySinkOptions::new(&socket);
    options.connect.retry_delay = Duration::from_millis(5);
    options.connect.max_retry_delay = Duration::from_millis(20);
    let pipeline = Pipeline::builder()
        .data_dir(dir.path())
        .batch(BatchOptions {
            max_records: 10,
            timeout: Duration::from_millis(10),
            ..BatchOptions::default()
        })
        .sink_spec(
            SinkSpec::new("out", RelaySink::new(options))
                .retry(patient())
                .queue_capacity(1)
                .disk_buffer(sinkbox::pipeline::DiskBufferOptions::default()),
        )
        .build()
        .unwrap();
    for i in 0..30 {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    wait_until("the batches wait in the disk buffer", || {
        pipeline.stats()[0].buffer.as_ref().unwrap().batches == 3
    });
    let report = pipeline.flush(Duration::from_millis(300));
    assert!(
        !report.is_complete(),
        "flush must say the batches are not delivered"
    );
    assert_eq!(
        pipeline.stats()[0].records,
        0,
        "nothing is claimed delivered"
    );
    assert!(pipeline.stats()[0].errors.retryable > 0);

    let lines = Arc::new(Mutex::new(Vec::new()));
    let relay = Receiver::start(
        Listening::Unix(UnixListener::bind(&socket).unwrap()),
        lines.clone(),
    );
    for i in 30..40 {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    let report = pipeline.flush(Duration::from_secs(60));
    assert!(report.is_complete(), "{report}");
    wait_until("the relay has everything", || relay.count() == 40);
    pipeline.shutdown();
    relay.stop();
    assert_eq!(
        *lines.lock().unwrap(),
        (0..40).map(record).collect::<Vec<_>>()
    );
}

#[test]
fn an_absent_relay_gets_retryable_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = RelaySinkOptions::new(dir.path().join("absent.sock"));
    options.connect.connect_timeout = Duration::from_secs(1);
    options.connect.retry_delay = Duration::from_millis(1);
    options.connect.max_retry_delay = Duration::from_millis(1);
    let mut sink = RelaySink::new(options);
    sink.start().unwrap();
    let outcome = sink.write(&sinkbox::Batch::from_records((0..2).map(record), 0));
    let sinkbox::WriteOutcome::Retryable(why) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("is unreachable"), "{why}");
    assert_eq!(
        sink.flush(),
        sinkbox::FlushOutcome::Done,
        "it holds nothing"
    );
    assert!(!matches!(sink.health(), Health::Healthy));
}

#[test]
fn endpoints_are_checked() {
    let err = |s: &str| s.parse::<Endpoint>().unwrap_err();
    assert_eq!(
        err("tcp://localhost"),
        "`tcp://localhost` needs a host and a port, such as tcp://127.0.0.1:9000"
    );
    assert_eq!(
        err("unix://relative.sock"),
        "`unix://relative.sock` needs an absolute socket path, such as unix:///run/sinkbox.sock"
    );
    assert!(err("http://x:1").starts_with("unknown scheme `http`"));
    assert!(err("127.0.0.1:9000").contains("is not an endpoint URI"));
    assert_eq!(
        "tcp://127.0.0.1:9000"
            .parse::<Endpoint>()
            .unwrap()
            .to_string(),
        "tcp://127.0.0.1:9000"
    );
    assert_eq!(
        err("tcp://bob:hunter2@127.0.0.1:9000"),
        "`tcp://bob:***@127.0.0.1:9000`: a tcp:// endpoint takes no user or password; only ws:// and wss:// use them (as HTTP Basic auth)"
    );
    assert_eq!(
        "wss://bob:hunter2@logs.example/in"
            .parse::<Endpoint>()
            .unwrap()
            .to_string(),
        "wss://bob:***@logs.example/in",
        "a password is never shown"
    );
}

#[test]
// tungstenite's handshake callback returns its large `ErrorResponse`.
#[allow(clippy::result_large_err)]
fn direct_ws_sends_the_uri_credentials_as_basic_auth_and_never_logs_them() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut authorization = None;
        let mut socket = tungstenite::accept_hdr(
            stream,
            |request: &tungstenite::handshake::server::Request, response| {
                authorization = request
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                Ok(response)
            },
        )
        .unwrap();
        let mut lines = 0;
        while let Ok(message) = socket.read() {
            if let tungstenite::Message::Text(text) = message {
                lines += text.lines().count();
            }
        }
        (authorization, lines)
    });
    let endpoint: Endpoint = format!("ws://bob:hunter2@127.0.0.1:{port}/ingest")
        .parse()
        .unwrap();
    let mut sink = DirectSink::new(fast_reconnect(endpoint));
    sink.start().unwrap();
    let batch = sinkbox::Batch::from_records((0..3).map(record), 0);
    assert_eq!(sink.write(&batch), sinkbox::WriteOutcome::Accepted);
    sink.stop();
    let (authorization, lines) = server.join().unwrap();
    // base64("bob:hunter2")
    assert_eq!(authorization.as_deref(), Some("Basic Ym9iOmh1bnRlcjI="));
    assert_eq!(lines, 3);

    // A refused connection's message names the endpoint without the password.
    let mut sink = DirectSink::new(fast_reconnect(
        format!("ws://bob:hunter2@127.0.0.1:{port}/ingest")
            .parse()
            .unwrap(),
    ));
    sink.start().unwrap();
    let sinkbox::WriteOutcome::Retryable(why) = sink.write(&batch) else {
        panic!("expected retryable")
    };
    assert!(why.contains("ws://bob:***@127.0.0.1"), "{why}");
    assert!(!why.contains("hunter2"), "{why}");
}

#[test]
fn direct_wss_verifies_the_server_against_ca_file() {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, certified.cert.pem()).unwrap();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // The first client does not trust the certificate and gives up
        // during the handshake; serve the next one.
        let mut socket = loop {
            let (stream, _) = listener.accept().unwrap();
            let tls = rustls::StreamOwned::new(
                rustls::ServerConnection::new(server_config.clone()).unwrap(),
                stream,
            );
            if let Ok(socket) = tungstenite::accept(tls) {
                break socket;
            }
        };
        let mut lines = Vec::new();
        loop {
            match socket.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    lines.extend(text.lines().map(str::to_owned))
                }
                Ok(tungstenite::Message::Close(_)) | Err(_) => return lines,
                Ok(_) => {}
            }
        }
    });

    // Without the CA the handshake fails: the certificate is not trusted.
    let endpoint: Endpoint = format!("wss://localhost:{port}/ingest").parse().unwrap();
    let mut untrusting = DirectSink::new(fast_reconnect(endpoint.clone()));
    let outcome = untrusting.write(&sinkbox::Batch::from_records([record(0)], 0));
    let sinkbox::WriteOutcome::Retryable(why) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("cannot connect to wss://localhost"), "{why}");
    assert!(why.to_lowercase().contains("certificate"), "{why}");

    let pipeline = pipeline(
        dir.path(),
        DirectSink::new({
            let mut options = fast_reconnect(endpoint);
            options.connect.ca_file = Some(ca_file);
            options
        }),
    );
    for i in 0..12 {
        pipeline.emit_json(record(i).as_bytes()).unwrap();
    }
    pipeline.shutdown();
    assert_eq!(
        server.join().unwrap(),
        (0..12).map(record).collect::<Vec<_>>()
    );
}
