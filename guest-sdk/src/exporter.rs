//! Bridges the generated `Guest` trait (free functions) to a [`Sink`] value.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::exports::sinkbox::sink0_2_0::sink::{
    Batch as RawBatch, FlushOutcome, Guest, HealthStatus, WriteOutcome,
};
use crate::{Batch, Config, Sink};

thread_local! {
    // A component instance is single-threaded and runs one sink.
    static STATE: RefCell<Option<Box<dyn Any>>> = RefCell::new(None);
}

/// The type `export_sink!` exports; not used directly.
pub struct Exporter<S>(PhantomData<S>);

fn with_sink<S: Sink, R>(missing: R, f: impl FnOnce(&mut S) -> R) -> R {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        match state.as_mut().and_then(|s| s.downcast_mut::<S>()) {
            Some(sink) => f(sink),
            None => missing,
        }
    })
}

impl<S: Sink> Guest for Exporter<S> {
    fn start(config: Vec<(String, String)>) -> Result<(), String> {
        let sink = S::start(Config::new(config))?;
        STATE.with(|state| *state.borrow_mut() = Some(Box::new(sink)));
        Ok(())
    }

    fn write(batch: RawBatch) -> WriteOutcome {
        with_sink::<S, _>(
            WriteOutcome::Fatal("write was called before a successful start".into()),
            |sink| sink.write(Batch::new(batch)),
        )
    }

    fn flush() -> FlushOutcome {
        with_sink::<S, _>(FlushOutcome::Done, |sink| sink.flush())
    }

    fn stop() {
        let sink = STATE.with(|state| state.borrow_mut().take());
        if let Some(mut sink) = sink.and_then(|s| s.downcast::<S>().ok()) {
            sink.stop();
        }
    }

    fn health() -> HealthStatus {
        with_sink::<S, _>(
            HealthStatus::Unhealthy("the sink is not started".into()),
            |sink| sink.health(),
        )
    }
}
