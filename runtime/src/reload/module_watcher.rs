//! Watches the running wasm sinks' files (and the config file) and reloads
//! what changed, once the file has been quiet for a moment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use super::ModuleSource;
use crate::Pipeline;
use crate::config::{Config, ConfigError};
use crate::registry::sink_registry::SinkRegistry;

/// How the watcher behaves.
#[derive(Clone)]
pub struct WatchOptions {
    /// A file must be quiet this long after its last change before it is
    /// read (editors and `cp` write in several steps). Default 300 ms.
    pub debounce: Duration,
    /// Called with each configuration the pipeline accepted on a reload,
    /// for what the pipeline does not own (`sinkbox run`'s sources).
    pub on_config_reloaded: Option<ConfigReloaded>,
}

/// See [`WatchOptions::on_config_reloaded`].
pub type ConfigReloaded = Arc<dyn Fn(&Config) + Send + Sync>;

impl std::fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchOptions")
            .field("debounce", &self.debounce)
            .field("on_config_reloaded", &self.on_config_reloaded.is_some())
            .finish()
    }
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(300),
            on_config_reloaded: None,
        }
    }
}

/// Loads the configuration again, from the same sources as at start.
pub type ConfigSource = Box<dyn Fn() -> Result<Config, ConfigError> + Send>;

/// Reloads a wasm sink when its module file changes, and the configuration
/// when its file changes. Every new module is compiled and validated before
/// it replaces the old one, so a half-written or broken file is refused and
/// the old instance keeps running; the next good write is picked up. Stops
/// when dropped.
pub struct ReloadWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReloadWatcher {
    /// Watches `pipeline`'s wasm sinks and, with `config`, the file at
    /// `config.0`, reloaded through `config.1` with `registry`'s types.
    pub fn start(
        pipeline: Pipeline,
        config: Option<(PathBuf, ConfigSource)>,
        registry: SinkRegistry,
        options: WatchOptions,
    ) -> Result<ReloadWatcher, notify::Error> {
        let (tx, rx) = mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Reading a file is an event too (open, close): only a
                // change to a file counts, or each reload would read the
                // config and so cause the next.
                if let Ok(event) = event
                    && (event.kind.is_create() || event.kind.is_modify() || event.kind.is_remove())
                {
                    let _ = tx.send(event.paths);
                }
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let config_digest = config.as_ref().and_then(|(path, _)| file_digest(path));
        let mut state = WatchState {
            pipeline,
            config,
            config_digest,
            registry,
            watched_dirs: Vec::new(),
            on_config_reloaded: options.on_config_reloaded.clone(),
        };
        state.rewatch(&mut watcher);
        tracing::info!(
            files = state.interesting().len(),
            "watching the sink modules and the config file for changes"
        );
        let thread = std::thread::Builder::new()
            .name("sinkbox-watch".into())
            .spawn(move || {
                let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
                while !flag.load(Ordering::Acquire) {
                    // Due changes are handled whether or not an event just
                    // came: a busy directory (a sink's output or disk buffer
                    // beside the config) must not hold a reload back.
                    if let Ok(paths) = rx.recv_timeout(Duration::from_millis(50)) {
                        let interesting = state.interesting();
                        for path in paths {
                            if interesting.iter().any(|p| same_file(p, &path)) {
                                pending.insert(path, Instant::now());
                            }
                        }
                    }
                    let due: Vec<PathBuf> = pending
                        .iter()
                        .filter(|(_, at)| at.elapsed() >= options.debounce)
                        .map(|(path, _)| path.clone())
                        .collect();
                    for path in due {
                        pending.remove(&path);
                        if state.handle(&path) {
                            state.rewatch(&mut watcher);
                        }
                    }
                }
            })
            .map_err(|e| notify::Error::generic(&e.to_string()))?;
        Ok(ReloadWatcher {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ReloadWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Compares paths as written, or as resolved when both exist.
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => {
            a.file_name() == b.file_name() && a.parent().map(canonical) == b.parent().map(canonical)
        }
    }
}

fn canonical(dir: &Path) -> PathBuf {
    dir.canonicalize().unwrap_or_else(|_| dir.to_owned())
}

/// The SHA-256 of a file's content; `None` if it cannot be read.
fn file_digest(path: &Path) -> Option<[u8; 32]> {
    use sha2::Digest;
    std::fs::read(path)
        .ok()
        .map(|bytes| sha2::Sha256::digest(bytes).into())
}

struct WatchState {
    pipeline: Pipeline,
    config: Option<(PathBuf, ConfigSource)>,
    /// The content of the config file last loaded (or refused): a reload
    /// happens once per change of content, not per write or `touch`.
    config_digest: Option<[u8; 32]>,
    registry: SinkRegistry,
    watched_dirs: Vec<PathBuf>,
    on_config_reloaded: Option<ConfigReloaded>,
}

impl WatchState {
    /// The files whose changes matter now.
    fn interesting(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .pipeline
            .module_paths()
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        if let Some((path, _)) = &self.config {
            files.push(path.clone());
        }
        files
    }

    /// Watches the directories of the interesting files: editors and `cp`
    /// often replace a file, which a watch on the file itself would miss.
    fn rewatch(&mut self, watcher: &mut impl Watcher) {
        let mut dirs: Vec<PathBuf> = self
            .interesting()
            .iter()
            .filter_map(|file| file.parent().map(canonical))
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in &dirs {
            if !self.watched_dirs.contains(dir)
                && let Err(err) = watcher.watch(dir, RecursiveMode::NonRecursive)
            {
                tracing::warn!(dir = %dir.display(), "cannot watch for changes: {err}");
            }
        }
        for dir in &self.watched_dirs {
            if !dirs.contains(dir) {
                let _ = watcher.unwatch(dir);
            }
        }
        self.watched_dirs = dirs;
    }

    /// Reloads what `path` is; returns whether the set of files may have
    /// changed (a configuration reload).
    fn handle(&mut self, path: &Path) -> bool {
        if let Some((config_path, load)) = &self.config
            && same_file(config_path, path)
        {
            let digest = file_digest(config_path);
            if digest.is_some() && digest == self.config_digest {
                tracing::debug!(
                    "the config file was written with the same content; nothing to reload"
                );
                return false;
            }
            self.config_digest = digest;
            match load() {
                Ok(config) => match self.pipeline.reload_config(config.clone(), &self.registry) {
                    Ok(report) => {
                        tracing::info!("configuration reloaded from {}: {report}", path.display());
                        if let Some(reloaded) = &self.on_config_reloaded {
                            reloaded(&config);
                        }
                    }
                    Err(err) => tracing::error!(
                        "configuration reload refused, the running one stays: {err}"
                    ),
                },
                Err(err) => {
                    tracing::error!("configuration reload refused, the running one stays: {err}")
                }
            }
            return true;
        }
        for (sink, module) in self.pipeline.module_paths() {
            if same_file(&module, path) {
                match self
                    .pipeline
                    .reload_sink(&sink, ModuleSource::Path(module.clone()))
                {
                    Ok(report) if report.unchanged => {}
                    Ok(report) => tracing::info!(
                        sink = %sink,
                        module = %&report.module_hash[..12],
                        pause = ?report.pause,
                        "module reloaded from {}",
                        module.display()
                    ),
                    Err(err) => tracing::error!(sink = %sink, "{err}"),
                }
            }
        }
        false
    }
}
