//! The per-instance state a guest's `Store` holds: its WASI context, its
//! limits and its diagnostics.

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::{v0_1, v0_2};
use super::call_budget::CallBudget;
use super::diagnostics::{GuestDiagnostics, GuestLevel, GuestStream};
use super::http_hooks::InstanceHttp;

/// Data of one sink instance's `Store`.
pub(crate) struct HostState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: GuestLimiter,
    pub diagnostics: GuestDiagnostics,
    pub http_ctx: WasiHttpCtx,
    /// The grant every `wasi:http` request passes.
    pub http: InstanceHttp,
    /// The wall and CPU budgets of the call in progress.
    pub budget: CallBudget,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http,
        }
    }
}

/// The `host` interface of one contract version: the same `log` for
/// every version (their `level` enums are distinct types with one shape).
macro_rules! host_interface {
    ($version:ident) => {
        impl $version::types::Host for HostState {}

        impl $version::host::Host for HostState {
            fn log(&mut self, level: $version::types::Level, message: String) {
                use $version::types::Level;
                let level = match level {
                    Level::Trace => GuestLevel::Trace,
                    Level::Debug => GuestLevel::Debug,
                    Level::Info => GuestLevel::Info,
                    Level::Warn => GuestLevel::Warn,
                    Level::Error => GuestLevel::Error,
                };
                self.diagnostics.log(level, GuestStream::Log, &message);
            }
        }
    };
}

host_interface!(v0_2);
host_interface!(v0_1);

/// Memory, table and instance caps of one guest instance. Unlike wasmtime's
/// `StoreLimits` it remembers that the memory cap was hit, so the host can
/// say "out of memory" instead of showing a bare trap.
pub(crate) struct GuestLimiter {
    /// Cap on all of the instance's linear memories together.
    pub memory_bytes: usize,
    pub table_elements: usize,
    /// Bytes of linear memory granted so far, across every memory (memory is
    /// only given back when the store is dropped).
    pub memory_used: usize,
    pub memory_cap_hit: Option<usize>,
}

/// Instances, memories and tables one component may create. A sink built by
/// any of the supported toolchains needs far fewer.
const MAX_INSTANCES: usize = 64;
const MAX_TABLES: usize = 64;
const MAX_MEMORIES: usize = 16;

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_used
            .saturating_add(desired.saturating_sub(current));
        if total > self.memory_bytes {
            self.memory_cap_hit = Some(total);
            return Err(wasmtime::format_err!(
                "the guest asked for {total} bytes of linear memory, over its memory_limit of {} bytes",
                self.memory_bytes
            ));
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}
