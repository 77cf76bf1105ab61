//! `sinkbox cache list | prune | clear`: the compile cache's entries, and
//! room made in it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sinkbox::registry::SinkRegistry;

/// What to do with the cache.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum CacheAction {
    /// Every entry, least recently used first, with its size and the total.
    List,
    /// Delete the least recently used entries until the rest fit.
    Prune {
        /// The size to prune to (default: the config's `cache_max_size`,
        /// 1GiB unless set).
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
    },
    /// Delete every entry: the next start of each sink compiles it again.
    Clear,
}

/// The cache directory and size cap: from `--dir`, else the config's
/// `[runtime]` (or SINKBOX_CACHE_DIR, or the default).
fn cache_dir(dir: Option<&Path>, config: Option<&Path>) -> anyhow::Result<(PathBuf, u64)> {
    let registry = SinkRegistry::builtin();
    let mut loader = sinkbox::config::ConfigLoader::new(&registry);
    if let Some(config) = config {
        loader = loader.file(config);
    }
    let runtime = loader.load().map(|c| c.runtime);
    let (configured, max) = match runtime {
        Ok(runtime) => (runtime.effective_cache_dir(), runtime.cache_max_size),
        Err(err) if config.is_some() => anyhow::bail!("{err}"),
        Err(_) => (
            sinkbox::wasm::WasmEngine::default_cache_dir(),
            sinkbox::wasm::DEFAULT_CACHE_MAX_SIZE,
        ),
    };
    let dir = dir.map(Path::to_owned).or(configured).ok_or_else(|| {
        anyhow::anyhow!("no cache directory: set SINKBOX_CACHE_DIR, HOME, or --dir")
    })?;
    Ok((dir, max))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Runs one cache action.
pub fn cache(
    action: &CacheAction,
    dir: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (dir, max) = cache_dir(dir, config)?;
    if !dir.exists() {
        println!("{}: no compile cache yet", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let entries = sinkbox::wasm::cache_entries(&dir)
        .map_err(|e| anyhow::anyhow!("cannot read the cache `{}`: {e}", dir.display()))?;
    match action {
        CacheAction::List => {
            for entry in entries.iter().filter(|e| !e.is_function()) {
                let age = entry.last_used.elapsed().unwrap_or_default();
                println!(
                    "{:>10}  used {:>8} ago  {}",
                    mib(entry.bytes),
                    humantime::format_duration(std::time::Duration::from_secs(age.as_secs()))
                        .to_string(),
                    entry
                        .path
                        .strip_prefix(&dir)
                        .unwrap_or(&entry.path)
                        .display()
                );
            }
            let functions: Vec<_> = entries.iter().filter(|e| e.is_function()).collect();
            if !functions.is_empty() {
                println!(
                    "{:>10}  {} compiled functions (Cranelift's incremental cache, functions/)",
                    mib(functions.iter().map(|e| e.bytes).sum()),
                    functions.len()
                );
            }
            let fast_start = entries.iter().filter(|e| e.is_fast_start()).count();
            if fast_start > 0 {
                println!("({fast_start} under winch/: Winch builds for --fast-start)");
            }
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            println!(
                "{} entries, {} in {} (cache_max_size {})",
                entries.len() - functions.len(),
                mib(total),
                dir.display(),
                mib(max)
            );
        }
        CacheAction::Prune { max_size } => {
            let max = match max_size {
                Some(text) => text
                    .parse::<bytesize::ByteSize>()
                    .map_err(|_| {
                        anyhow::anyhow!("--max-size `{text}` is not a size, such as 500MiB")
                    })?
                    .as_u64(),
                None => max,
            };
            let removed = sinkbox::wasm::prune_cache(&dir, max, None)
                .map_err(|e| anyhow::anyhow!("cannot prune `{}`: {e}", dir.display()))?;
            println!(
                "removed {} entries ({}); the cache is within {}",
                removed.len(),
                mib(removed.iter().map(|e| e.bytes).sum()),
                mib(max)
            );
        }
        CacheAction::Clear => {
            let removed = sinkbox::wasm::prune_cache(&dir, 0, None)
                .map_err(|e| anyhow::anyhow!("cannot clear `{}`: {e}", dir.display()))?;
            println!(
                "removed {} entries ({}) from {}",
                removed.len(),
                mib(removed.iter().map(|e| e.bytes).sum()),
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
