//! What building, emitting into and flushing a pipeline can report.

/// Why a pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Two sinks share a name.
    #[error("two sinks are named `{0}`; give each sink a unique name")]
    DuplicateSink(String),
    /// A sink's name breaks the naming rule.
    #[error("{0}")]
    InvalidName(String),
    /// A sink's `start` failed.
    #[error("sink `{sink}` failed to start: {message}")]
    SinkStart {
        /// The sink's name.
        sink: String,
        /// What the sink said.
        message: String,
    },
    /// The OS refused a thread.
    #[error("could not start a pipeline thread: {0}")]
    Thread(String),
}

/// Why an event was not accepted by [`Pipeline::emit`].
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The pipeline was shut down.
    #[error("the pipeline is shut down; events emitted after shutdown are refused")]
    Closed,
    /// The value could not be serialized to JSON.
    #[error("the event could not be serialized to JSON: {0}")]
    Serialize(serde_json::Error),
    /// Bytes given to [`Pipeline::emit_json`] are not one JSON value.
    #[error("not a single JSON value: {0}")]
    InvalidJson(serde_json::Error),
    /// [`Pipeline::try_emit_acknowledged`]: a sink's `block` queue is
    /// full, so the records would have to wait; nothing was emitted.
    #[error("the queue of sink `{0}` is full; try again shortly")]
    Full(String),
}

/// The result of [`Pipeline::flush`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    /// Sinks that had not finished when the deadline passed.
    pub timed_out: Vec<String>,
    /// Sinks whose flush failed, with why.
    pub failed: Vec<(String, String)>,
}

impl FlushReport {
    /// Whether every sink flushed in time.
    pub fn is_complete(&self) -> bool {
        self.timed_out.is_empty() && self.failed.is_empty()
    }
}

impl std::fmt::Display for FlushReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_complete() {
            return f.write_str("every sink flushed");
        }
        let mut parts = Vec::new();
        if !self.timed_out.is_empty() {
            parts.push(format!(
                "not finished in time: {}",
                self.timed_out.join(", ")
            ));
        }
        for (sink, why) in &self.failed {
            parts.push(format!("{sink} failed: {why}"));
        }
        f.write_str(&parts.join("; "))
    }
}
