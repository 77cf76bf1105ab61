//! The adapter that makes a sink component look like any other [`Sink`].

use std::path::PathBuf;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::call_budget::{CallBudget, Exhausted};
use super::contract::Guest;
use super::describe;
use super::diagnostics::{GuestDiagnostics, GuestLogBuffer, GuestStream};
use super::engine::SinkComponent;
use super::epoch::EPOCH_TICK;
use super::guest_text::lift_guest_text;
use super::host_state::{GuestLimiter, HostState};
use super::http_egress::{HttpStats, SinkEgress};
use super::http_hooks::InstanceHttp;
use super::log_budget::GuestLogBudget;
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// A host directory a sink may use, the only filesystem access it gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host. Created if missing (unless read-only).
    pub host_path: PathBuf,
    /// Where the guest sees it (default `/data`).
    pub guest_path: String,
    /// Grant read access only.
    pub read_only: bool,
}

/// Limits, grants and configuration of one wasm sink.
#[derive(Clone, Debug)]
pub struct WasmSinkOptions {
    /// Cap on the instance's linear memory, in bytes (default 64 MiB).
    pub memory_limit: u64,
    /// Wall-clock deadline of one call into the guest, waiting in the host
    /// included (default 2 s).
    pub call_timeout: Duration,
    /// CPU time one call may burn (default 2 s); the call is stopped at
    /// whichever of the two comes first.
    pub cpu_limit: Duration,
    /// An optional directory grant.
    pub grant: Option<DirGrant>,
    /// The sink's own options, passed to its `start`.
    pub config: Vec<(String, String)>,
    /// If set, every guest log line is also kept here.
    pub log_capture: Option<GuestLogBuffer>,
    /// What the sink may log (`host.log`, stdout and stderr together). Clones
    /// of these options share it, so restarts and reloads of the sink spend
    /// from the same budget.
    pub log_budget: Arc<GuestLogBudget>,
    /// What the sink may send over HTTP; `None`: nothing. Clones share
    /// it (and its counters) across restarts and reloads.
    pub http: Option<Arc<SinkEgress>>,
    /// When several batches wait in the sink's queue, hand the guest one
    /// merged batch of up to this many bytes (default 1 MiB; 0: never
    /// merge), so short batch timeouts do not cost one guest call each.
    pub merge_max_bytes: u64,
}

impl Default for WasmSinkOptions {
    fn default() -> Self {
        Self {
            memory_limit: 64 * 1024 * 1024,
            call_timeout: Duration::from_secs(2),
            cpu_limit: Duration::from_secs(2),
            grant: None,
            config: Vec::new(),
            log_capture: None,
            log_budget: Arc::default(),
            http: None,
            merge_max_bytes: 1024 * 1024,
        }
    }
}

/// A sandboxed sink: one component instance in its own `Store`.
///
/// A trap, a deadline hit, a memory-cap hit or a `fatal` answer drops the
/// instance; [`Sink::restart`] makes a fresh one and calls `start` again.
pub struct WasmSink {
    name: String,
    component: Arc<SinkComponent>,
    options: WasmSinkOptions,
    live: Option<Live>,
    /// Drives guest calls on the sink's own thread; its timer bounds calls
    /// that block in the host.
    executor: Option<tokio::runtime::Runtime>,
}

struct Live {
    store: Store<HostState>,
    guest: Guest,
}

impl WasmSink {
    /// A sink named `name` running `component` with `options`. Nothing runs
    /// until [`Sink::start`].
    pub fn new(
        name: impl Into<String>,
        component: Arc<SinkComponent>,
        options: WasmSinkOptions,
    ) -> Self {
        Self {
            name: name.into(),
            component,
            options,
            live: None,
            executor: None,
        }
    }

    /// The sink's HTTP egress, if it has an HTTP grant.
    pub fn http_egress(&self) -> Option<Arc<SinkEgress>> {
        self.options.http.clone()
    }

    /// What the sink did over HTTP so far (zero without an HTTP grant).
    pub fn http_stats(&self) -> HttpStats {
        self.options
            .http
            .as_ref()
            .map(|egress| egress.stats())
            .unwrap_or_default()
    }

    fn instantiate(&self) -> Result<Live, String> {
        let diagnostics = GuestDiagnostics::new(
            &self.name,
            self.options.log_budget.clone(),
            self.options.log_capture.clone(),
        );
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(diagnostics.output(GuestStream::Stdout))
            .stderr(diagnostics.output(GuestStream::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            // Each sink has its own worker thread, so file I/O may block it.
            .allow_blocking_current_thread(true);
        if let Some(grant) = &self.options.grant {
            if !grant.read_only {
                std::fs::create_dir_all(&grant.host_path).map_err(|e| {
                    format!(
                        "cannot create the granted directory `{}`: {e}",
                        grant.host_path.display()
                    )
                })?;
            }
            let perms = if grant.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            wasi.preopened_dir(&grant.host_path, &grant.guest_path, perms)
                .map_err(|e| {
                    format!(
                        "cannot grant the directory `{}`: {}",
                        grant.host_path.display(),
                        describe(e)
                    )
                })?;
        }
        let state = HostState {
            wasi: wasi.build(),
            table: Default::default(),
            limiter: GuestLimiter {
                memory_bytes: usize::try_from(self.options.memory_limit).unwrap_or(usize::MAX),
                table_elements: 100_000,
                memory_used: 0,
                memory_cap_hit: None,
            },
            diagnostics,
            http_ctx: wasmtime_wasi_http::WasiHttpCtx::new(),
            http: InstanceHttp::new(self.options.http.clone()),
            budget: CallBudget::new(self.options.call_timeout, self.options.cpu_limit),
        };
        let mut store = Store::new(self.component.engine(), state);
        store.limiter(|state| &mut state.limiter);
        // Every tick while guest code runs checks the call's two budgets.
        store.epoch_deadline_callback(|mut store| {
            if store.data_mut().budget.tick() {
                Ok(UpdateDeadline::Continue(1))
            } else {
                Err(Trap::Interrupt.into())
            }
        });
        store.set_epoch_deadline(1);
        let executor = self.executor()?;
        let instantiated = executor.block_on(within_wall_clock(
            self.wall_clock_limit(),
            self.component.pre().instantiate(&mut store),
        ));
        match instantiated {
            Some(Ok(guest)) => Ok(Live { store, guest }),
            Some(Err(err)) => Err(self.describe_fault("instantiate", err, &store)),
            None => Err(self.describe_blocked("instantiate")),
        }
    }

    fn executor(&self) -> Result<&tokio::runtime::Runtime, String> {
        self.executor
            .as_ref()
            .ok_or_else(|| "the sink's executor is not running".to_owned())
    }

    /// The wall-clock bound of one call. Epoch interruption stops a guest
    /// burning CPU at `call_timeout`; this timer, a little later, stops one
    /// waiting inside a host call.
    fn wall_clock_limit(&self) -> Duration {
        self.options.call_timeout + 2 * EPOCH_TICK
    }

    fn describe_blocked(&self, func: &str) -> String {
        format!(
            "`{func}` did not return within its call_timeout of {:?} (it was blocked in a host call, such as a sleep) and was stopped",
            self.options.call_timeout
        )
    }

    /// Runs one guest call under the deadline. A fault drops the instance.
    fn call<R>(
        &mut self,
        func: &str,
        f: impl AsyncFnOnce(&Guest, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        let (Some(live), Some(executor)) = (self.live.as_mut(), self.executor.as_ref()) else {
            return Err("the sink has no running instance".into());
        };
        live.store.data_mut().budget.begin();
        live.store.set_epoch_deadline(1);
        live.store.data_mut().http.begin_call();
        let limit = self.options.call_timeout + 2 * EPOCH_TICK;
        let result = executor.block_on(within_wall_clock(limit, f(&live.guest, &mut live.store)));
        match result {
            Some(Ok(value)) => Ok(value),
            Some(Err(err)) => {
                let live = self.live.take().expect("checked above");
                Err(self.describe_fault(func, err, &live.store))
            }
            None => {
                // The call's future was dropped mid-call: the instance is unusable.
                self.live = None;
                Err(self.describe_blocked(func))
            }
        }
    }

    /// Says why a call failed, in bounded and escaped text (a trap's message
    /// can carry guest-chosen names).
    fn describe_fault(&self, func: &str, err: wasmtime::Error, store: &Store<HostState>) -> String {
        lift_guest_text(&self.describe_fault_raw(func, err, store))
    }

    fn describe_fault_raw(
        &self,
        func: &str,
        err: wasmtime::Error,
        store: &Store<HostState>,
    ) -> String {
        if let Some(desired) = store.data().limiter.memory_cap_hit {
            return format!(
                "`{func}` ran out of memory: it asked for {desired} bytes, over its memory_limit of {} bytes",
                self.options.memory_limit
            );
        }
        if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt)
            && store.data().budget.exhausted == Some(Exhausted::Cpu)
        {
            return format!(
                "`{func}` used more than its cpu_limit of {:?} of CPU time and was stopped",
                self.options.cpu_limit
            );
        }
        if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return format!(
                "`{func}` ran past its call_timeout of {:?} and was stopped",
                self.options.call_timeout
            );
        }
        if let Some(trap) = err.downcast_ref::<Trap>().copied() {
            // The full guest backtrace is for whoever debugs the sink, not for
            // every counter line and dead-letter record.
            tracing::debug!(sink = %self.name, "`{func}` trapped: {}", crate::untrusted_text::bound_and_escape(&describe(err), 16 * 1024));
            return format!("`{func}` trapped: {trap}");
        }
        format!("`{func}` failed: {}", describe(err))
    }
}

/// Runs `call` to completion, or gives up (`None`) once `limit` has passed.
///
/// Most calls finish on their first poll, never waiting on the host; the
/// timer is armed only for a call that does wait, which keeps it off the
/// per-batch path.
async fn within_wall_clock<F: Future>(limit: Duration, call: F) -> Option<F::Output> {
    let started = tokio::time::Instant::now();
    let mut call = std::pin::pin!(call);
    let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
    if let Poll::Ready(output) = first {
        return Some(output);
    }
    tokio::time::timeout_at(started + limit, call).await.ok()
}

impl WasmSink {
    /// Calls the guest's `stop` but keeps the instance, so a conformance
    /// check can call it twice, as the contract allows.
    pub(crate) fn stop_guest(&mut self) -> Result<(), String> {
        self.call("stop", async |guest, store| guest.stop(store).await)
    }
}

impl WasmSink {
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The component it runs.
    pub fn component(&self) -> &Arc<SinkComponent> {
        &self.component
    }

    /// Its limits, grants and configuration.
    pub fn options(&self) -> &WasmSinkOptions {
        &self.options
    }

    /// The sink's diagnostics budget (shared by its instances).
    pub fn log_budget(&self) -> Arc<GuestLogBudget> {
        self.options.log_budget.clone()
    }
}

impl Sink for WasmSink {
    fn start(&mut self) -> Result<(), SinkError> {
        if self.executor.is_none() {
            // IO for the sink's wasi:http requests, which run on this
            // executor while the guest waits for them.
            let executor = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .enable_io()
                .build()
                .map_err(|e| SinkError::new(format!("cannot start the sink's executor: {e}")))?;
            self.executor = Some(executor);
        }
        self.live = Some(self.instantiate().map_err(SinkError::new)?);
        let config = self.options.config.clone();
        let pairs: Vec<(&str, &str)> = config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let started = self
            .call("start", async |guest, store| {
                guest.start(store, &pairs).await
            })
            .map_err(SinkError::new)?;
        if let Err(message) = started {
            self.live = None;
            return Err(SinkError::new(format!(
                "the sink refused its configuration: {}",
                lift_guest_text(&message)
            )));
        }
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        match self.call("write", async |guest, store| {
            guest.write(store, batch).await
        }) {
            Ok(WriteOutcome::Fatal(reason)) => {
                // The guest says it is broken: it gets a fresh instance.
                self.live = None;
                WriteOutcome::Fatal(reason)
            }
            Ok(outcome) => outcome,
            Err(fault) => WriteOutcome::Fatal(fault),
        }
    }

    fn flush(&mut self) -> FlushOutcome {
        match self.call("flush", async |guest, store| guest.flush(store).await) {
            Ok(FlushOutcome::Fatal(reason)) => {
                self.live = None;
                FlushOutcome::Fatal(reason)
            }
            Ok(outcome) => outcome,
            Err(fault) => FlushOutcome::Fatal(fault),
        }
    }

    fn stop(&mut self) {
        if self.live.is_some() {
            if let Err(fault) = self.call("stop", async |guest, store| guest.stop(store).await) {
                tracing::warn!(sink = %self.name, "{fault}");
            }
            self.live = None;
        }
    }

    fn health(&mut self) -> Health {
        self.call("health", async |guest, store| guest.health(store).await)
            .unwrap_or_else(Health::Unhealthy)
    }

    fn needs_restart(&self) -> bool {
        self.live.is_none()
    }

    fn restart(&mut self) -> Result<(), SinkError> {
        // A faulted instance must not be called again: drop it without `stop`.
        self.live = None;
        self.start()
    }

    fn merge_limit(&self) -> Option<usize> {
        match self.options.merge_max_bytes {
            0 => None,
            bytes => Some(usize::try_from(bytes).unwrap_or(usize::MAX)),
        }
    }
}
