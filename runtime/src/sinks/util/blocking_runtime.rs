//! Drives an async client (tokio-postgres, async-nats) from a sink's own
//! thread: the [`Sink`](crate::sink::Sink) trait is synchronous, so each
//! such sink owns a small tokio runtime, one worker thread that keeps its
//! connections alive between writes, and waits on it with a deadline.

use std::future::Future;
use std::time::Duration;

/// One sink's runtime. Dropping it stops its thread and every task on it.
pub(crate) struct BlockingRuntime {
    runtime: tokio::runtime::Runtime,
}

impl BlockingRuntime {
    /// A runtime whose one worker thread is named after the sink.
    pub fn new(sink: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("sinkbox-{sink}-io"))
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the sink's I/O thread: {e}"))?;
        Ok(Self { runtime })
    }

    /// Runs `future` to completion, or gives up after `deadline` (the
    /// future is dropped, which cancels what it was doing).
    pub fn run<T>(
        &self,
        deadline: Duration,
        what: &str,
        future: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        self.runtime.block_on(async {
            match tokio::time::timeout(deadline, future).await {
                Ok(result) => result,
                Err(_) => Err(format!("{what} timed out after {deadline:?}")),
            }
        })
    }

    /// Runs `future` on the I/O thread itself, beside the client's
    /// connection task, or gives up after `deadline`. A client whose
    /// every request is a message to its connection task (async-nats,
    /// tokio-postgres) then hands them over on one thread; from
    /// [`run`](Self::run), the caller's thread, each hand-off and each
    /// answer wakes the other thread.
    pub fn run_on_io_thread<T: Send + 'static>(
        &self,
        deadline: Duration,
        what: &str,
        future: impl Future<Output = Result<T, String>> + Send + 'static,
    ) -> Result<T, String> {
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(deadline, future).await });
        match self.runtime.block_on(task) {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(format!("{what} timed out after {deadline:?}")),
            Err(join) => Err(format!("{what} failed: {join}")),
        }
    }
}
