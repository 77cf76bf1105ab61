//! One sink type: its name, help, declared options, URI form and
//! constructor.

use std::sync::Arc;

use super::option_spec::OptionSpec;
use super::sink_context::SinkContext;
use super::sink_options::SinkOptions;
use crate::registry::config_error::ConfigError;
use crate::sink::Sink;

/// Builds a sink from its parsed options. It must not open files, connect or
/// start threads: that is `Sink::start`'s job, so `sinkbox validate` can
/// build every sink without side effects.
pub type SinkConstructor =
    dyn Fn(&SinkOptions, &mut dyn SinkContext) -> Result<Box<dyn Sink>, ConfigError> + Send + Sync;

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
    references: Vec<&'static str>,
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
        constructor: impl Fn(&SinkOptions, &mut dyn SinkContext) -> Result<Box<dyn Sink>, ConfigError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            options: Arc::from([]),
            uri: None,
            references: Vec::new(),
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

    /// Gives an option declared earlier (by a shared list such as the HTTP
    /// options) this type's own default: Loki wants smaller requests than
    /// a generic endpoint.
    pub fn default_of(mut self, option: &str, value: &'static str) -> Self {
        let mut options = self.options.to_vec();
        let spec = options.iter_mut().find(|spec| spec.name == option);
        debug_assert!(spec.is_some(), "`{option}` is not declared yet");
        if let Some(spec) = spec {
            spec.default = Some(value);
        }
        self.options = options.into();
        self
    }

    /// Lets the type be written as a URI.
    pub fn uri(mut self, form: UriForm) -> Self {
        self.uri = Some(form);
        self
    }

    /// Names an option whose values are other sinks' names (a composite's
    /// `targets`, a route's `rules` and `default`): they are checked,
    /// cycle-checked, and fed only through this sink. May be given more
    /// than once.
    pub fn references(mut self, option: &'static str) -> Self {
        self.references.push(option);
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

    /// The options naming other sinks (none for a sink that is no
    /// composite).
    pub fn reference_options(&self) -> &[&'static str] {
        &self.references
    }

    /// Whether the type declares `option`.
    pub fn declares(&self, option: &str) -> bool {
        self.options.iter().any(|spec| spec.name == option)
    }

    pub(crate) fn construct(
        &self,
        options: &SinkOptions,
        context: &mut dyn SinkContext,
    ) -> Result<Box<dyn Sink>, ConfigError> {
        (self.constructor)(options, context)
    }
}
