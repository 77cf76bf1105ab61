//! A source type as the catalog, the configuration loader and `--source`
//! see it: its name, a line of help, the URI schemes that name it, its
//! declared options, and how its parsed options become a [`SourceKind`].

use super::source_options::SourceOptions;
use crate::registry::config_error::ConfigError;
use crate::registry::option_spec::OptionSpec;
use crate::sources::SourceKind;

/// What a `--source` URI's host and port are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UriUse {
    /// Where an HTTP source listens (`address`); the path is `path`.
    Listen,
    /// The server a consuming source connects to (`url`).
    ServerUrl,
}

/// One kind of source (`http_server`, `otlp`, `nats`).
pub struct SourceType {
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) schemes: &'static [&'static str],
    pub(crate) uri: UriUse,
    pub(crate) options: Vec<OptionSpec>,
    pub(crate) build: fn(&SourceOptions) -> Result<SourceKind, ConfigError>,
}

impl SourceType {
    /// Its `type`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One line on what it takes.
    pub fn help(&self) -> &'static str {
        self.help
    }

    /// The `--source` URI schemes that name it.
    pub fn schemes(&self) -> &'static [&'static str] {
        self.schemes
    }

    /// Its declared options (the server options every HTTP source takes,
    /// then its own).
    pub fn option_specs(&self) -> &[OptionSpec] {
        &self.options
    }

    /// The source its parsed `options` describe.
    pub(crate) fn build(&self, options: &SourceOptions) -> Result<SourceKind, ConfigError> {
        options.check_required()?;
        (self.build)(options)
    }
}
