//! The `mmap` sink type: its options and URI form.

use super::sink::{MmapSink, MmapSinkOptions};
use crate::registry::option_spec::{OptionKind, OptionSpec};
use crate::registry::sink_type::{SinkType, UriForm, UriTarget};
use crate::sinks::mmap::writer::SyncPolicy;

/// The `mmap` sink type for the registry.
pub(crate) fn sink_type() -> SinkType {
    SinkType::new(
        "mmap",
        "appends every record as one JSON line through a memory-mapped file",
        |options, _context| {
            let path = options.require_path("path")?;
            let defaults = MmapSinkOptions::new(&path);
            let growth_factor = options.float_or_default("growth_factor")?;
            if !(1.1..=16.0).contains(&growth_factor) {
                return Err(
                    options.invalid("growth_factor", "must be between 1.1 and 16, such as 2.0")
                );
            }
            let initial_size = options.size_or_default("initial_size")?;
            if initial_size < 4096 {
                return Err(
                    options.invalid("initial_size", "must be at least 4KiB, such as \"64MiB\"")
                );
            }
            Ok(Box::new(MmapSink::new(MmapSinkOptions {
                path,
                initial_size,
                growth_factor,
                sync: options
                    .parse_text("sync", parse_sync_policy)?
                    .unwrap_or(defaults.sync),
            })))
        },
    )
    .option(
        OptionSpec::new("path", OptionKind::Path)
            .required()
            .written()
            .help("the file; missing directories are created"),
    )
    .option(
        OptionSpec::new("initial_size", OptionKind::Size)
            .default("64MiB")
            .help("size the file is created with"),
    )
    .option(
        OptionSpec::new("growth_factor", OptionKind::Float)
            .default("2.0")
            .help("how much the file grows when full (1.1 to 16)"),
    )
    .option(
        OptionSpec::new(
            "sync",
            OptionKind::Text(
                "\"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)",
            ),
        )
        .default("on_flush")
        .help("none (the kernel writes back: survives a process crash, not a power loss), on_flush (msync on every flush), or a size such as 4MiB (also sync every that many bytes)"),
    )
    .uri(UriForm {
        schemes: &["mmap"],
        target: UriTarget::Path("path"),
        rest_into: None,
    })
}

fn parse_sync_policy(text: &str) -> Result<SyncPolicy, String> {
    match text {
        "none" => Ok(SyncPolicy::None),
        "on_flush" => Ok(SyncPolicy::OnFlush),
        size => crate::registry::byte_size::parse(size)
            .map(SyncPolicy::EveryBytes)
            .map_err(|_| format!(
                "`{text}` is not a sync policy; use \"none\", \"on_flush\" or a size such as \"4MiB\" (sync every that many bytes)"
            )),
    }
}
