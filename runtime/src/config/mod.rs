//! The configuration: the runtime's settings and its named sinks, from a
//! TOML file, sink URIs, environment variables and command-line overrides.
//!
//! ```toml
//! [runtime]
//! data_dir = "sinkbox-data"          # dead-letter files live here
//! [runtime.batch]
//! max_records = 1024
//! max_bytes = "1MiB"
//! timeout = "200ms"
//!
//! [sinks.console]
//! type = "stdout"
//!
//! [sinks.errors]
//! type = "wasm"
//! component = "filter_sink.wasm"
//! grant = { path = "out/errors" }
//! config = { min_level = "error" }
//! ```
//!
//! Relative paths are resolved against the directory of the file that set
//! them (the working directory for env and command-line values). Sources
//! apply in this order, later ones winning: the file, then the environment
//! (`SINKBOX_SINKS`, `SINKBOX_<SINK>__<OPTION>`), then the command line
//! (`--sink`, `--set`). See [`ConfigLoader`].

mod build;
mod build_context;
mod builtin_types;
mod loader;
pub(crate) mod model;
mod path_check;
mod raw_sink;
mod route_preview;
mod runtime_override;
pub(crate) mod secrets;
mod sink_graph;
mod sink_uri;
mod source_map;

pub use crate::registry::common_options::COMMON_OPTIONS;
pub use crate::registry::config_error::{ConfigError, SourceSpot};
pub use crate::sinks::redact_uri;
pub use crate::wasm::DEFAULT_MAX_COMPONENT_SIZE;
pub(crate) use build::BuiltFrom;
pub use build::{build_pipeline, build_pipeline_with, pipeline_from_file};
pub use build_context::BuildContext;
pub use loader::ConfigLoader;
pub use model::{Config, RuntimeConfig, SinkConfig, SourceConfig, SourceKind};
pub use route_preview::{RoutePreview, route_preview};
pub use secrets::{SecretSource, SecretStore};
