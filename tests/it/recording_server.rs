//! A real HTTP server on loopback for the network sinks' tests: it keeps
//! every request (path, headers, body as sent) and answers each one with
//! what a protocol's handler says. Each request is served on its own
//! thread, so a sink with several requests in flight really has them in
//! flight. Protocol receivers (Loki, OTLP) are built on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![],
            body: body.into(),
        }
    }

    pub fn ok() -> Self {
        Self::status(200, "")
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

type Handler = dyn Fn(&RawRequest) -> Answer + Send + Sync;

/// The server; it stops when dropped.
pub struct RecordingServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<RawRequest>>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingServer {
    /// A server on `addr` (`127.0.0.1:0` for any port) answering with
    /// `handler`. HEAD requests (healthchecks) get 200 and are not kept.
    pub fn start(
        addr: &str,
        handler: impl Fn(&RawRequest) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let server = Arc::new(tiny_http::Server::http(addr).unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most_in_flight = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (server, requests) = (server.clone(), requests.clone());
            let (in_flight, most_in_flight) = (in_flight.clone(), most_in_flight.clone());
            std::thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let (requests, handler) = (requests.clone(), handler.clone());
                    let (in_flight, most_in_flight) = (in_flight.clone(), most_in_flight.clone());
                    std::thread::spawn(move || {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most_in_flight.fetch_max(now, Ordering::SeqCst);
                        let mut body = Vec::new();
                        let _ = request.as_reader().read_to_end(&mut body);
                        let raw = RawRequest {
                            method: request.method().as_str().to_owned(),
                            path: request.url().to_owned(),
                            headers: request
                                .headers()
                                .iter()
                                .map(|h| {
                                    (
                                        h.field.as_str().as_str().to_owned(),
                                        h.value.as_str().to_owned(),
                                    )
                                })
                                .collect(),
                            body,
                        };
                        let answer = if raw.method == "HEAD" {
                            Answer::ok()
                        } else {
                            let answer = handler(&raw);
                            requests.lock().unwrap().push(raw);
                            answer
                        };
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        let mut response = tiny_http::Response::from_data(answer.body)
                            .with_status_code(answer.status);
                        for (name, value) in answer.headers {
                            response.add_header(
                                tiny_http::Header::from_bytes(name, value.as_bytes()).unwrap(),
                            );
                        }
                        let _ = request.respond(response);
                    });
                }
            })
        };
        Self {
            port,
            requests,
            in_flight,
            most_in_flight,
            server,
            thread: Some(thread),
        }
    }

    /// The requests kept so far, in the order they arrived.
    pub fn requests(&self) -> Vec<RawRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The most requests that were being handled at once.
    pub fn most_in_flight(&self) -> usize {
        let _ = self.in_flight.load(Ordering::SeqCst);
        self.most_in_flight.load(Ordering::SeqCst)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The `i` field of every NDJSON record in `requests`' bodies, in
/// arrival order.
pub fn ndjson_numbers(requests: &[RawRequest]) -> Vec<usize> {
    requests
        .iter()
        .flat_map(|r| {
            let lines: Vec<String> = String::from_utf8_lossy(&r.body)
                .lines()
                .map(str::to_owned)
                .collect();
            crate::support::numbers(&lines)
        })
        .collect()
}

pub use crate::support::free_port;
