//! The two budgets of one call into a guest: wall-clock time (`call_timeout`,
//! waiting on a server included) and CPU time (`cpu_limit`, what the guest
//! burns). The engine's epoch ticks every 10 ms while guest code runs; at
//! each tick the store checks both, so a guest spinning is cut at its CPU
//! budget and a guest waiting is cut at its wall budget.

use std::time::{Duration, Instant};

/// Which budget a stopped call ran out of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exhausted {
    Wall,
    Cpu,
}

/// The budgets of the call in progress.
pub(crate) struct CallBudget {
    wall: Duration,
    cpu: Duration,
    started: Instant,
    cpu_at_start: Duration,
    /// Set when a tick found a budget spent.
    pub exhausted: Option<Exhausted>,
}

impl CallBudget {
    /// Budgets of `wall` and `cpu` for every call.
    pub fn new(wall: Duration, cpu: Duration) -> Self {
        Self {
            wall,
            cpu,
            started: Instant::now(),
            cpu_at_start: thread_cpu_time(),
            exhausted: None,
        }
    }

    /// A call starts on this thread.
    pub fn begin(&mut self) {
        self.started = Instant::now();
        self.cpu_at_start = thread_cpu_time();
        self.exhausted = None;
    }

    /// At an epoch tick: whether the call may go on. Wall time is checked
    /// first: when both are spent (a busy loop spends them together), the
    /// message names `call_timeout`, the budget an operator sets first.
    pub fn tick(&mut self) -> bool {
        if self.started.elapsed() >= self.wall {
            self.exhausted = Some(Exhausted::Wall);
        } else if thread_cpu_time().saturating_sub(self.cpu_at_start) >= self.cpu {
            self.exhausted = Some(Exhausted::Cpu);
        }
        self.exhausted.is_none()
    }
}

/// CPU time the calling thread has used. Guest code runs on the sink's
/// own thread, so this is what the guest (and the host calls it made on
/// that thread) burned.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
