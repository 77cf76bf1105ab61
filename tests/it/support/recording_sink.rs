//! A native sink that records what it was handed, and a gate that holds
//! its writes until a test opens it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use sinkbox::{Batch, FlushOutcome, Sink, SinkError, WriteOutcome};

/// A gate a test opens to let a blocked sink go on.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, u32)>, // (open, writes entered)
    changed: Condvar,
}

impl Gate {
    pub fn closed() -> Arc<Gate> {
        Arc::new(Gate::default())
    }
    pub fn open(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }
    pub fn pass(&self) {
        let mut state = self.state.lock().unwrap();
        state.1 += 1;
        self.changed.notify_all();
        while !state.0 {
            state = self.changed.wait(state).unwrap();
        }
    }
    pub fn entered(&self) -> u32 {
        self.state.lock().unwrap().1
    }
}

/// Records what it receives; optionally blocks every write on a gate.
#[derive(Clone, Default)]
pub struct Recorder {
    pub records: Arc<Mutex<Vec<String>>>,
    pub batches: Arc<Mutex<Vec<(u64, u32)>>>,
    pub flushes: Arc<AtomicU32>,
    pub stops: Arc<AtomicU32>,
}

pub struct RecordingSink {
    pub recorder: Recorder,
    pub gate: Option<Arc<Gate>>,
    pub panic_once: bool,
}

impl RecordingSink {
    pub fn new(recorder: &Recorder) -> Self {
        Self {
            recorder: recorder.clone(),
            gate: None,
            panic_once: false,
        }
    }
    pub fn gated(recorder: &Recorder, gate: &Arc<Gate>) -> Self {
        Self {
            gate: Some(gate.clone()),
            ..Self::new(recorder)
        }
    }
}

impl Sink for RecordingSink {
    fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if let Some(gate) = &self.gate {
            gate.pass();
        }
        if std::mem::take(&mut self.panic_once) {
            panic!("a bug in a native sink");
        }
        self.recorder
            .batches
            .lock()
            .unwrap()
            .push((batch.first_sequence(), batch.len()));
        let mut records = self.recorder.records.lock().unwrap();
        records.extend(
            batch
                .records()
                .map(|r| String::from_utf8(r.to_vec()).unwrap()),
        );
        WriteOutcome::Accepted
    }
    fn flush(&mut self) -> FlushOutcome {
        self.recorder.flushes.fetch_add(1, Ordering::SeqCst);
        FlushOutcome::Done
    }
    fn stop(&mut self) {
        self.recorder.stops.fetch_add(1, Ordering::SeqCst);
    }
}
