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

mod build_context;
mod builtin;
mod catalog;
mod option_spec;
mod sink_options;

use std::sync::Arc;

pub use build_context::BuildContext;
pub(crate) use build_context::LogBudgets;
pub use catalog::{catalog_text, options_markdown, type_markdown};
pub use option_spec::{OptionKind, OptionSpec, OptionValue};
pub use sink_options::SinkOptions;

use crate::config::ConfigError;
use crate::sink::Sink;

/// Builds a sink from its parsed options. It must not open files, connect or
/// start threads: that is `Sink::start`'s job, so `sinkbox validate` can
/// build every sink without side effects.
pub type SinkConstructor =
    dyn Fn(&SinkOptions, &mut BuildContext<'_>) -> Result<Box<dyn Sink>, ConfigError> + Send + Sync;

/// Where the location part of a sink URI goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriTarget {
    /// `scheme:///abs/path` sets this path option.
    Path(&'static str),
    /// The whole URI without its query sets this option (an endpoint).
    WholeUri(&'static str),
    /// The URI has no location (`stdout://`).
    Nothing,
}

/// How a sink type is written as a URI.
#[derive(Clone, Copy, Debug)]
pub struct UriForm {
    /// Schemes that select this type.
    pub schemes: &'static [&'static str],
    /// Where the location goes.
    pub target: UriTarget,
    /// A table option that takes every query key the type does not declare
    /// (`wasm:///s.wasm?min_level=warn` sets `config.min_level`).
    pub rest_into: Option<&'static str>,
}

/// A sink type: its name, help, options, URI form and constructor.
#[derive(Clone)]
pub struct SinkType {
    name: String,
    help: String,
    options: Arc<[OptionSpec]>,
    uri: Option<UriForm>,
    references: Option<&'static str>,
    constructor: Arc<SinkConstructor>,
}

impl std::fmt::Debug for SinkType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkType")
            .field("name", &self.name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SinkType {
    /// A type named `name` (as written in `type = "..."`) with one line of
    /// help and its constructor.
    pub fn new(
        name: impl Into<String>,
        help: impl Into<String>,
        constructor: impl Fn(&SinkOptions, &mut BuildContext<'_>) -> Result<Box<dyn Sink>, ConfigError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            options: Arc::from([]),
            uri: None,
            references: None,
            constructor: Arc::new(constructor),
        }
    }

    /// Declares one option.
    pub fn option(mut self, spec: OptionSpec) -> Self {
        let mut options = self.options.to_vec();
        options.push(spec);
        self.options = options.into();
        self
    }

    /// Declares several options.
    pub fn options(mut self, specs: &[OptionSpec]) -> Self {
        let mut options = self.options.to_vec();
        options.extend_from_slice(specs);
        self.options = options.into();
        self
    }

    /// Lets the type be written as a URI.
    pub fn uri(mut self, form: UriForm) -> Self {
        self.uri = Some(form);
        self
    }

    /// Names the `List` option whose entries are other sinks' names (a
    /// composite's `targets`): they are checked, cycle-checked, and fed only
    /// through this sink.
    pub fn references(mut self, option: &'static str) -> Self {
        self.references = Some(option);
        self
    }

    /// The name used in `type = "..."`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One line of help.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The declared options.
    pub fn option_specs(&self) -> &[OptionSpec] {
        &self.options
    }

    pub(crate) fn option_list(&self) -> Arc<[OptionSpec]> {
        self.options.clone()
    }

    /// The URI form, if any.
    pub fn uri_form(&self) -> Option<&UriForm> {
        self.uri.as_ref()
    }

    /// The option naming other sinks, if any.
    pub fn reference_option(&self) -> Option<&'static str> {
        self.references
    }

    /// Whether the type declares `option`.
    pub fn declares(&self, option: &str) -> bool {
        self.options.iter().any(|spec| spec.name == option)
    }

    pub(crate) fn construct(
        &self,
        options: &SinkOptions,
        context: &mut BuildContext<'_>,
    ) -> Result<Box<dyn Sink>, ConfigError> {
        (self.constructor)(options, context)
    }
}

/// Why a type could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is taken.
    #[error("a sink type named `{0}` is already registered; choose another name")]
    NameTaken(String),
    /// The URI scheme is taken.
    #[error("the URI scheme `{scheme}://` of `{new}` is already used by `{existing}`")]
    SchemeTaken {
        /// The scheme.
        scheme: String,
        /// The type being registered.
        new: String,
        /// The type that has it.
        existing: String,
    },
    /// An option is declared twice, or clashes with an option every sink has.
    #[error(
        "sink type `{sink_type}` declares option `{option}` twice or reuses a common option's name"
    )]
    DuplicateOption {
        /// The type.
        sink_type: String,
        /// The option.
        option: String,
    },
}

/// The sink types a configuration may use.
#[derive(Clone, Debug, Default)]
pub struct SinkRegistry {
    types: Vec<SinkType>,
}

impl SinkRegistry {
    /// A registry with no types at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A registry with every built-in type: the native sinks, `wasm` and
    /// `composite`.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        for sink_type in builtin::types() {
            registry
                .register(sink_type)
                .expect("built-in sink types have unique names, schemes and options");
        }
        registry
    }

    /// Adds a type. A name, URI scheme or option that collides is an error.
    pub fn register(&mut self, sink_type: SinkType) -> Result<(), RegistryError> {
        if self.get(sink_type.name()).is_some() {
            return Err(RegistryError::NameTaken(sink_type.name().to_owned()));
        }
        if let Some(form) = sink_type.uri_form() {
            for scheme in form.schemes {
                if let Some((existing, _)) = self.type_for_scheme(scheme) {
                    return Err(RegistryError::SchemeTaken {
                        scheme: (*scheme).to_owned(),
                        new: sink_type.name().to_owned(),
                        existing: existing.name().to_owned(),
                    });
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for spec in sink_type.option_specs() {
            if !seen.insert(spec.name)
                || crate::config::is_common_option(spec.name)
                || spec.name == "type"
            {
                return Err(RegistryError::DuplicateOption {
                    sink_type: sink_type.name().to_owned(),
                    option: spec.name.to_owned(),
                });
            }
        }
        self.types.push(sink_type);
        Ok(())
    }

    /// The type named `name`.
    pub fn get(&self, name: &str) -> Option<&SinkType> {
        self.types.iter().find(|t| t.name() == name)
    }

    /// Every type, in registration order.
    pub fn types(&self) -> &[SinkType] {
        &self.types
    }

    /// Every URI scheme.
    pub fn uri_schemes(&self) -> impl Iterator<Item = &str> {
        self.types
            .iter()
            .filter_map(|t| t.uri_form())
            .flat_map(|form| form.schemes.iter().copied())
    }

    /// The type a URI scheme selects.
    pub fn type_for_scheme(&self, scheme: &str) -> Option<(&SinkType, &UriForm)> {
        self.types.iter().find_map(|t| {
            t.uri_form()
                .filter(|form| form.schemes.contains(&scheme))
                .map(|form| (t, form))
        })
    }
}
