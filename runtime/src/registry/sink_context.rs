//! What a sink constructor may ask for while a configuration is built.
//! A trait, so the registry of types does not depend on how a
//! configuration is turned into sinks (that is `config`'s job).

use std::path::Path;
use std::sync::Arc;

use super::sink_options::SinkOptions;
use crate::composite::target::CompositeTarget;
use crate::registry::config_error::ConfigError;
use crate::wasm::{GuestLogBudget, SinkComponent};

/// Handed to every sink constructor while a configuration is built.
pub trait SinkContext {
    /// Loads the component named by the path option `option`, compiling it
    /// once per file (through the compile cache) and checking that it fits
    /// the sink contract.
    fn component(
        &mut self,
        options: &SinkOptions,
        option: &str,
    ) -> Result<Arc<SinkComponent>, ConfigError>;

    /// The sink named `name`, built once: every composite naming it gets the
    /// same instance.
    fn target(&mut self, name: &str) -> Result<CompositeTarget, ConfigError>;

    /// The diagnostics budget of sandboxed sink `sink`: the one it already
    /// has in this pipeline if its rate and burst did not change, else a new
    /// one.
    fn log_budget(&mut self, sink: &str, rate: u64, burst: u64) -> Arc<GuestLogBudget>;

    /// The value of the secret named `name` in `[secrets]`.
    fn secret(&self, name: &str) -> Result<crate::secret::Secret, String>;

    /// `text` with every `${secret:NAME}` replaced by that secret's value,
    /// and whether it had any.
    fn expand_secrets(&self, text: &str) -> Result<(String, bool), String>;

    /// Refuses a directory grant that overlaps a path the host itself uses.
    fn check_grant(
        &self,
        options: &SinkOptions,
        option: &str,
        grant: &Path,
    ) -> Result<(), ConfigError>;
}

/// The string option `option` with every `${secret:NAME}` in it filled in
/// from `[secrets]`; an unknown secret is an error at that option.
pub(crate) fn string_with_secrets(
    options: &SinkOptions,
    context: &dyn SinkContext,
    option: &str,
) -> Result<Option<String>, ConfigError> {
    options
        .string(option)?
        .map(|text| {
            context
                .expand_secrets(&text)
                .map(|(value, _)| value)
                .map_err(|why| options.invalid(option, why))
        })
        .transpose()
}
