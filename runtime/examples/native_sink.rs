//! A native sink type of your own, registered beside the built-in ones and
//! used from a configuration like any other.
//!
//! ```sh
//! cargo run -p sinkbox --example native_sink
//! ```
//!
//! `sample` keeps every `every`-th record in a file: the running sink is
//! `SampleSink`, its type (name, options, constructor) is `sample_type()`.

use std::io::Write;
use std::path::PathBuf;

use sinkbox::registry::{OptionKind, OptionSpec, SinkRegistry, SinkType};
use sinkbox::{Batch, FlushOutcome, Sink, SinkError, WriteOutcome};

/// Keeps every `every`-th record in a file.
struct SampleSink {
    path: PathBuf,
    every: u64,
    file: Option<std::fs::File>,
}

impl Sink for SampleSink {
    // Files are opened in `start`, not in the constructor, so `sinkbox
    // validate` can build the sink without side effects.
    fn start(&mut self) -> Result<(), SinkError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| SinkError::new(format!("cannot open `{}`: {e}", self.path.display())))?;
        self.file = Some(file);
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let Some(file) = self.file.as_mut() else {
            return WriteOutcome::Fatal("not started".into());
        };
        let mut kept = Vec::new();
        // Sequence numbers decide the sample, so a retried batch keeps the
        // same records: the choice is idempotent.
        for (i, record) in batch.records().enumerate() {
            if (batch.first_sequence() + i as u64).is_multiple_of(self.every) {
                kept.extend_from_slice(record);
                kept.push(b'\n');
            }
        }
        match file.write_all(&kept) {
            Ok(()) => WriteOutcome::Accepted,
            // The disk may come back: the worker retries with back-off.
            Err(err) => WriteOutcome::Retryable(format!("cannot write: {err}")),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        match self.file.as_ref().map(|f| f.sync_data()) {
            Some(Err(err)) => FlushOutcome::Retryable(format!("cannot sync: {err}")),
            _ => FlushOutcome::Done,
        }
    }
}

/// The `sample` type: its name, help, options and constructor.
fn sample_type() -> SinkType {
    SinkType::new(
        "sample",
        "keeps every `every`-th record in a file",
        |options, _context| {
            let every = options.integer_or_default("every")?;
            if every == 0 {
                return Err(options.invalid("every", "must be at least 1, such as 10"));
            }
            Ok(Box::new(SampleSink {
                path: options.require_path("path")?,
                every,
                file: None,
            }))
        },
    )
    .option(
        OptionSpec::new("path", OptionKind::Path)
            .required()
            .help("the file samples go to"),
    )
    .option(
        OptionSpec::new("every", OptionKind::Integer)
            .default("10")
            .help("keep one record in this many"),
    )
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join("sinkbox-native-sink");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    let mut registry = SinkRegistry::builtin();
    registry.register(sample_type())?;

    // A configuration may now say `type = "sample"`; bad options get the
    // same pointed errors as a built-in type's.
    let config = sinkbox::config::ConfigLoader::new(&registry)
        .toml(
            "[sinks.sampled]\ntype = \"sample\"\npath = \"sampled.ndjson\"\nevery = 25\n",
            "inline.toml",
            &dir,
        )
        .load()?;
    let pipeline = sinkbox::config::build_pipeline_with(&config, &registry)?;
    for i in 0..1000 {
        pipeline.emit(&serde_json::json!({"i": i, "message": "hello"}))?;
    }
    let stats = pipeline.shutdown();
    let kept = std::fs::read_to_string(dir.join("sampled.ndjson"))?
        .lines()
        .count();
    println!(
        "`sample` took {} records and kept {kept} of them in {}",
        stats[0].records,
        dir.join("sampled.ndjson").display()
    );
    Ok(())
}
