//! `sinkbox run --metrics-addr`: the pipeline's counters over HTTP, in the
//! Prometheus text format, at `/metrics`.

use std::sync::Arc;
use std::thread::JoinHandle;

use sinkbox::Pipeline;

use super::input_lines::InputCounters;

/// The server; stops when dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

/// The sources' counters as Prometheus text (empty without sources).
pub type SourceMetrics = Box<dyn Fn() -> String + Send + 'static>;

impl MetricsServer {
    /// Serves `pipeline`'s metrics, and `input`'s counters when given, on
    /// `addr` (such as `127.0.0.1:9598`; port 0 picks one), and says where
    /// on stderr.
    pub fn start(
        addr: &str,
        pipeline: Pipeline,
        input: Option<Arc<InputCounters>>,
        sources: SourceMetrics,
    ) -> anyhow::Result<Self> {
        let server = Arc::new(
            tiny_http::Server::http(addr)
                .map_err(|e| anyhow::anyhow!("cannot serve metrics on `{addr}`: {e}"))?,
        );
        let bound = server
            .server_addr()
            .to_ip()
            .map_or_else(|| addr.to_owned(), |a| a.to_string());
        eprintln!("metrics at http://{bound}/metrics");
        let serving = server.clone();
        let thread = std::thread::Builder::new()
            .name("sinkbox-metrics".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    let response =
                        if request.url() == "/metrics" || request.url().starts_with("/metrics?") {
                            let mut text = pipeline.prometheus_text();
                            if let Some(input) = &input {
                                text.push_str(&input.prometheus_text());
                            }
                            text.push_str(&sources());
                            tiny_http::Response::from_string(text).with_header(
                                tiny_http::Header::from_bytes(
                                    &b"Content-Type"[..],
                                    &b"text/plain; version=0.0.4; charset=utf-8"[..],
                                )
                                .expect("a valid header"),
                            )
                        } else {
                            tiny_http::Response::from_string("sinkbox serves /metrics\n")
                                .with_status_code(404)
                        };
                    let _ = request.respond(response);
                }
            })?;
        Ok(Self {
            server,
            thread: Some(thread),
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
