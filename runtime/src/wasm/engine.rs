//! The one wasmtime `Engine` a runtime shares, its epoch ticker, its linker
//! and its compile cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::bindings::{v0_1, v0_2};
use super::compile_cache::CompileCache;
use super::contract::{ContractPre, ContractVersion};
use super::epoch::EpochTicker;
use super::host_state::HostState;
use super::{WasmError, describe};

/// Compiles and links sink components. One per runtime; cheap to clone.
///
/// Holds the shared `Engine` (with epoch interruption on), the `Linker` that
/// offers guests WASI 0.2 (async host functions) and the `host` interface, the epoch ticker (stopped
/// when the last clone is dropped) and the compile cache.
#[derive(Clone)]
pub struct WasmEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<CompileCache>,
    max_component_size: std::sync::atomic::AtomicU64,
    _ticker: EpochTicker,
}

/// A sink component compiled and linked once; every instance of the sink is
/// created from it.
pub struct SinkComponent {
    path: PathBuf,
    pre: ContractPre,
    engine: WasmEngine,
    from_cache: bool,
    hash: String,
}

impl SinkComponent {
    /// The file the component was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the compiled code came from the compile cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The SHA-256 of the `.wasm` bytes, in hex: which module is running.
    pub fn module_hash(&self) -> &str {
        &self.hash
    }

    /// The engine the component was compiled for.
    pub fn wasm_engine(&self) -> &WasmEngine {
        &self.engine
    }

    pub(crate) fn pre(&self) -> &ContractPre {
        &self.pre
    }

    /// The version of the sink contract the component exports.
    pub fn contract(&self) -> ContractVersion {
        self.pre.version()
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine.inner.engine
    }
}

/// Which compiler an engine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compiler {
    /// Cranelift, optimising: what runs in production.
    Cranelift,
    /// Cranelift, keeping each compiled function for the next build.
    CraneliftIncremental,
    /// Winch, the baseline compiler: fast to compile, slower code.
    Winch,
}

impl WasmEngine {
    /// An engine whose compiled components are cached under `cache_dir`
    /// (`None` compiles every time).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Self, WasmError> {
        Self::build(cache_dir, Compiler::Cranelift)
    }

    /// Like [`WasmEngine::new`], and it also keeps Cranelift's compiled
    /// functions under `cache_dir/functions/`: a rebuilt component compiles
    /// only what changed (3.5× faster for a Python sink after a one-line
    /// change), but a first compile is about 1.5× slower. `sinkbox check`
    /// and `sinkbox dev`, the author's tools, use it; `sinkbox run` does
    /// not.
    pub fn incremental(cache_dir: Option<PathBuf>) -> Result<Self, WasmError> {
        Self::build(cache_dir, Compiler::CraneliftIncremental)
    }

    /// An engine that compiles with Winch, wasmtime's baseline compiler: a
    /// Python or JavaScript sink starts in about 1.5 s instead of 7–10 s,
    /// and its code runs slower. For trying a sink (`sinkbox dev
    /// --fast-start`), not for running or measuring one. Its compiled
    /// components are cached apart, under `cache_dir/winch/`.
    pub fn fast_start(cache_dir: Option<PathBuf>) -> Result<Self, WasmError> {
        Self::build(
            cache_dir.map(|dir| dir.join(super::compile_cache::FAST_START_DIR)),
            Compiler::Winch,
        )
    }

    fn build(cache_dir: Option<PathBuf>, compiler: Compiler) -> Result<Self, WasmError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        if compiler == Compiler::Winch {
            config.strategy(wasmtime::Strategy::Winch);
        }
        let cache_dir = match cache_dir {
            Some(dir) if super::compile_cache::usable_dir(&dir)? => Some(dir),
            _ => None,
        };
        if let Some(dir) = cache_dir
            .as_ref()
            .filter(|_| compiler == Compiler::CraneliftIncremental)
        {
            // Functions compiled before are reused, whichever component
            // they were in.
            config
                .enable_incremental_compilation(Arc::new(
                    super::function_cache::FunctionCache::new(dir),
                ))
                .map_err(|e| WasmError::Engine(describe(e)))?;
        }
        let engine = Engine::new(&config).map_err(|e| WasmError::Engine(describe(e)))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| WasmError::Engine(describe(e)))?;
        // Every sink gets wasi:http; a sink without an HTTP grant has every
        // request refused (one linker and one `InstancePre` per component).
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| WasmError::Engine(describe(e)))?;
        // Both versions of the contract's `host` interface: a component
        // built for either links.
        v0_2::SinkWorld::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| WasmError::Engine(describe(e)))?;
        v0_1::SinkWorld::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| WasmError::Engine(describe(e)))?;
        let ticker = EpochTicker::start(engine.clone())
            .map_err(|e| WasmError::Engine(format!("could not start the epoch thread: {e}")))?;
        let cache = match cache_dir {
            Some(dir) => CompileCache::open(dir, &engine)?,
            None => None,
        };
        Ok(Self {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                cache,
                max_component_size: super::DEFAULT_MAX_COMPONENT_SIZE.into(),
                _ticker: ticker,
            }),
        })
    }

    /// Keeps the compile cache under `bytes`, deleting the least recently
    /// used entries after each new one (default 1 GiB, `[runtime]
    /// cache_max_size`).
    pub fn with_cache_max_size(self, bytes: u64) -> Self {
        if let Some(cache) = &self.inner.cache {
            cache.set_max_size(bytes);
        }
        self
    }

    /// Refuses component files larger than `bytes` before reading them
    /// (default 256 MiB, `[runtime] max_component_size`). Applies to every
    /// clone of the engine.
    pub fn with_max_component_size(self, bytes: u64) -> Self {
        self.inner
            .max_component_size
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
        self
    }

    fn max_component_size(&self) -> u64 {
        self.inner
            .max_component_size
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads a component file: refuses anything that is not a regular file
    /// (a FIFO would block the reader forever) and anything larger than
    /// the engine's `max_component_size`, before reading a byte of it.
    pub fn read_component(&self, path: &Path) -> Result<Vec<u8>, WasmError> {
        super::read_component_file(path, self.max_component_size())
    }

    /// The default compile cache directory: `$SINKBOX_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/sinkbox`, else `~/.cache/sinkbox`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("SINKBOX_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("sinkbox"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("sinkbox"))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Reads, compiles (or loads from the cache) and links a component, and
    /// checks that it fits the sink contract.
    pub fn load(&self, path: &Path) -> Result<Arc<SinkComponent>, WasmError> {
        let bytes = self.read_component(path)?;
        self.load_bytes(path, &bytes)
    }

    /// Like [`WasmEngine::load`], for bytes already read; `path` names them
    /// in errors.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<Arc<SinkComponent>, WasmError> {
        let (component, from_cache) = self.compile_bytes(path, bytes)?;
        let pre = self.link(path, &component)?;
        Ok(Arc::new(SinkComponent {
            path: path.to_owned(),
            pre,
            engine: self.clone(),
            from_cache,
            hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
        }))
    }

    /// Compiles a component file, using the cache when it has it.
    pub(crate) fn compile(&self, path: &Path) -> Result<(Component, bool), WasmError> {
        let bytes = self.read_component(path)?;
        self.compile_bytes(path, &bytes)
    }

    fn compile_bytes(&self, path: &Path, bytes: &[u8]) -> Result<(Component, bool), WasmError> {
        let limit = self.max_component_size();
        if bytes.len() as u64 > limit {
            return Err(WasmError::TooLarge {
                path: path.to_owned(),
                size: bytes.len() as u64,
                limit,
            });
        }
        super::check_header(path, bytes)?;
        if let Some(cache) = &self.inner.cache
            && let Some(component) = cache.get(&self.inner.engine, bytes)
        {
            return Ok((component, true));
        }
        let component =
            Component::new(&self.inner.engine, bytes).map_err(|e| WasmError::Compile {
                path: path.to_owned(),
                message: describe(e),
            })?;
        if let Some(cache) = &self.inner.cache {
            cache.put(bytes, &component);
        }
        Ok((component, false))
    }

    /// Links a compiled component against what the host offers and checks its
    /// exports against the contract.
    pub(crate) fn link(
        &self,
        path: &Path,
        component: &Component,
    ) -> Result<ContractPre, WasmError> {
        let instance_pre =
            self.inner
                .linker
                .instantiate_pre(component)
                .map_err(|e| WasmError::Contract {
                    path: path.to_owned(),
                    message: format!(
                        "it imports something sinkbox does not provide (sinks may import only \
                     `sinkbox:sink/host` and WASI 0.2): {}",
                        describe(e)
                    ),
                })?;
        ContractPre::new(instance_pre).map_err(|why| WasmError::Contract {
            path: path.to_owned(),
            message: format!(
                "it does not export the `sinkbox:sink/sink@0.2.0` interface the host calls (or the older `@0.1.0`): {why}"
            ),
        })
    }
}
