//! The registry of sink types: each type's name, declared options, URI form
//! and constructor. The config parser, the `sinkbox sinks` catalog and the
//! docs tables all read the same definitions.
//!
//! An embedding application adds its own native sink type in a few lines:
//!
//! ```
//! use sinkbox::registry::{OptionKind, OptionSpec, SinkRegistry, SinkType};
//! use sinkbox::{Batch, Sink, SinkError, WriteOutcome};
//!
//! struct Counter { limit: u64, seen: u64 }
//! impl Sink for Counter {
//!     fn start(&mut self) -> Result<(), SinkError> { Ok(()) }
//!     fn write(&mut self, batch: &Batch) -> WriteOutcome {
//!         self.seen += u64::from(batch.len());
//!         WriteOutcome::Accepted
//!     }
//! }
//!
//! let mut registry = SinkRegistry::builtin();
//! registry.register(
//!     SinkType::new("counter", "counts records", |options, _context| {
//!         let limit = options.integer("limit")?.unwrap_or(0);
//!         Ok(Box::new(Counter { limit, seen: 0 }))
//!     })
//!     .option(OptionSpec::new("limit", OptionKind::Integer).default("10").help("stop counting here")),
//! )?;
//! # Ok::<(), sinkbox::registry::RegistryError>(())
//! ```

pub(crate) mod byte_size;
mod catalog;
pub(crate) mod common_options;
pub(crate) mod config_error;
pub(crate) mod duration_text;
pub(crate) mod option_spec;
pub(crate) mod sink_context;
pub(crate) mod sink_options;
pub(crate) mod sink_registry;
pub(crate) mod sink_type;
pub(crate) mod suggest;

pub use catalog::{catalog_text, options_markdown, options_text, type_markdown};
pub use option_spec::{OptionKind, OptionSpec, OptionValue};
pub use sink_context::SinkContext;
pub use sink_options::SinkOptions;
pub use sink_registry::{RegistryError, SinkRegistry};
pub use sink_type::{SinkConstructor, SinkType, UriForm, UriTarget};
pub use suggest::did_you_mean;
