//! One sink instance used by several composites: started by its first user,
//! stopped by its last.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// A handle to a named sink shared by every composite that names it. Each
/// handle is a [`Sink`]; calls from different handles take turns.
pub struct SharedSink {
    inner: Arc<Shared>,
    /// Whether this handle has started the sink (and so must stop it).
    started: bool,
}

struct Shared {
    name: String,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic inside the sink is caught by the worker that made the
        // call; the sink itself is then restarted, so the lock stays usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct State {
    sink: Box<dyn Sink>,
    users: usize,
}

impl Clone for SharedSink {
    /// A new handle to the same instance; it starts unstarted.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            started: false,
        }
    }
}

impl SharedSink {
    /// Wraps `sink`, built for the configured sink `name`.
    pub fn new(name: &str, sink: Box<dyn Sink>) -> Self {
        Self {
            inner: Arc::new(Shared {
                name: name.to_owned(),
                state: Mutex::new(State { sink, users: 0 }),
            }),
            started: false,
        }
    }

    /// The configured name of the shared sink.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether two handles drive the same instance.
    pub fn same_instance(&self, other: &SharedSink) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }
}

impl Sink for SharedSink {
    fn start(&mut self) -> Result<(), SinkError> {
        if self.started {
            return Ok(());
        }
        let inner = self.inner.clone();
        let mut state = inner.lock();
        if state.users == 0 {
            state.sink.start()?;
        }
        state.users += 1;
        self.started = true;
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        self.state().sink.write(batch)
    }

    fn flush(&mut self) -> FlushOutcome {
        self.state().sink.flush()
    }

    fn stop(&mut self) {
        if !std::mem::take(&mut self.started) {
            return;
        }
        let mut state = self.state();
        state.users -= 1;
        if state.users == 0 {
            state.sink.stop();
        }
    }

    fn health(&mut self) -> Health {
        self.state().sink.health()
    }

    fn needs_restart(&self) -> bool {
        self.state().sink.needs_restart()
    }

    fn restart(&mut self) -> Result<(), SinkError> {
        let inner = self.inner.clone();
        let mut state = inner.lock();
        let result = state.sink.restart();
        if result.is_ok() && !self.started {
            state.users += 1;
            self.started = true;
        }
        result
    }
}

impl Drop for SharedSink {
    fn drop(&mut self) {
        self.stop();
    }
}
