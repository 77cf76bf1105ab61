//! A registered sink type that counts its starts and writes, for the
//! reload and registry tests.

use std::sync::Arc;

/// How often the `counted` sink type was built and started, and how many
/// records it took: tells "one shared instance" and "not restarted" apart.
#[derive(Clone, Default)]
pub struct Counts {
    pub built: Arc<std::sync::atomic::AtomicUsize>,
    pub starts: Arc<std::sync::atomic::AtomicUsize>,
    pub records: Arc<std::sync::atomic::AtomicUsize>,
}

impl Counts {
    pub fn get(counter: &std::sync::atomic::AtomicUsize) -> usize {
        counter.load(std::sync::atomic::Ordering::SeqCst)
    }
}

struct CountedSink(Counts);

impl sinkbox::Sink for CountedSink {
    fn start(&mut self) -> Result<(), sinkbox::SinkError> {
        self.0
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn write(&mut self, batch: &sinkbox::Batch) -> sinkbox::WriteOutcome {
        self.0
            .records
            .fetch_add(batch.len() as usize, std::sync::atomic::Ordering::SeqCst);
        sinkbox::WriteOutcome::Accepted
    }
}

/// The built-in registry plus a native `counted` type, and its counts.
pub fn registry_with_counted_type() -> (sinkbox::registry::SinkRegistry, Counts) {
    let counts = Counts::default();
    let mut registry = sinkbox::registry::SinkRegistry::builtin();
    let shared = counts.clone();
    registry
        .register(sinkbox::registry::SinkType::new(
            "counted",
            "counts its starts and records",
            move |_options, _context| {
                shared
                    .built
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(Box::new(CountedSink(shared.clone())))
            },
        ))
        .unwrap();
    (registry, counts)
}
