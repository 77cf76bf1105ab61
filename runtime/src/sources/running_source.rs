//! A running source, whatever it takes records from: its name, where it
//! serves, its counters, and the thread that runs it until it is stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::sources::util::stats::{Counters, SourceStats};

/// The runtime a source runs on: two workers of its own, named after it,
/// so a busy source never takes a sink's threads.
pub(crate) fn source_runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("source-{name}"))
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("source `{name}`: cannot start its runtime: {e}"))
}

/// Where a source takes records from.
#[derive(Clone, Debug)]
pub(crate) enum Serving {
    /// An HTTP source listening on `address`, records at `path`.
    Listening {
        address: SocketAddr,
        path: String,
        tls: bool,
    },
    /// A source consuming from a broker, as `what` says.
    Consuming { what: String },
}

/// A running source. Stops when [`Self::stop`] is called or it is
/// dropped.
pub struct RunningSource {
    name: String,
    serving: Serving,
    counters: Arc<Counters>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningSource {
    pub(crate) fn new(
        name: &str,
        serving: Serving,
        counters: Arc<Counters>,
        stop: tokio::sync::watch::Sender<bool>,
        thread: JoinHandle<()>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            serving,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Where it listens (the port chosen, when it was 0); `0.0.0.0:0` for
    /// a source that does not listen (`nats`).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.serving {
            Serving::Listening { address, .. } => *address,
            Serving::Consuming { .. } => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// The records path it serves; empty for a source that does not listen.
    pub fn path(&self) -> &str {
        match &self.serving {
            Serving::Listening { path, .. } => path,
            Serving::Consuming { .. } => "",
        }
    }

    /// Where it takes records from, for people: `listening on
    /// http://127.0.0.1:8080/`, `consuming nats://… stream LOGS as …`.
    pub fn describe(&self) -> String {
        match &self.serving {
            Serving::Listening { address, path, tls } => {
                let scheme = if *tls { "https" } else { "http" };
                format!("listening on {scheme}://{address}{path}")
            }
            Serving::Consuming { what } => format!("consuming {what}"),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its counters.
    pub fn stats(&self) -> SourceStats {
        self.counters.snapshot()
    }

    /// Reads its counters from another thread (a metrics endpoint), for as
    /// long as the reader lives.
    pub fn stats_reader(&self) -> impl Fn() -> SourceStats + Send + Sync + 'static {
        let counters = self.counters.clone();
        move || counters.snapshot()
    }

    /// Stops taking records, lets those in flight be answered or
    /// acknowledged (up to a few seconds), and returns once it is gone.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningSource {
    fn drop(&mut self) {
        self.shut();
    }
}
