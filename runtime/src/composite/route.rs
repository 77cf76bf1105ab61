//! `route`: ordered rules, each a condition and its targets, decided once
//! per record on the host.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::target::CompositeTarget;
use super::target_lanes::TargetLanes;
use crate::batch::Batch;
use crate::routing::Condition;
use crate::routing::condition_set::{ConditionSet, Verdict};
use crate::sink::{FlushOutcome, Health, Sink, SinkError, WriteOutcome};

/// Whether a record goes to the first rule that takes it, or to all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteMode {
    /// The first matching rule's targets only (the default).
    FirstMatch,
    /// Every matching rule's targets.
    All,
}

/// Where records go that no rule takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteDefault {
    /// Nowhere: they are counted as unrouted and a warning says so once.
    Unset,
    /// Nowhere, on purpose: counted as unrouted, no warning.
    Drop,
    /// To this target (an index into the targets).
    Target(usize),
}

/// One rule: records its condition keeps go to its targets.
#[derive(Clone, Debug)]
pub struct RouteRule {
    /// The rule's condition.
    pub when: Arc<Condition>,
    /// Indexes into the route's targets.
    pub targets: Vec<usize>,
}

/// What a route did, read by its lane for [`SinkStats`].
#[derive(Debug, Default)]
pub struct RouteCounters {
    unrouted: AtomicU64,
    per_target: Vec<(String, AtomicU64)>,
}

impl crate::sink::RoutedCounts for RouteCounters {
    fn routed(&self) -> Vec<(String, u64)> {
        self.per_target
            .iter()
            .map(|(name, n)| (name.clone(), n.load(Relaxed)))
            .collect()
    }

    fn unrouted(&self) -> u64 {
        self.unrouted.load(Relaxed)
    }
}

/// Hands each record to the targets of the rules that take it. Each target
/// has its own queue and worker, like a fanout's. A record no rule takes
/// goes to the default target; without one it is counted as unrouted
/// (never dropped unsaid).
pub struct RouteSink {
    name: String,
    rules: Vec<RouteRule>,
    /// The set index of each rule's condition.
    rule_conditions: Vec<usize>,
    conditions: ConditionSet,
    mode: RouteMode,
    default: RouteDefault,
    targets: Vec<CompositeTarget>,
    lanes: TargetLanes,
    counters: Arc<RouteCounters>,
    warned: AtomicBool,
    flush_timeout: Duration,
}

impl RouteSink {
    /// A route over `targets` with `rules` (whose target indexes point into
    /// `targets`).
    pub fn new(
        name: String,
        targets: Vec<CompositeTarget>,
        rules: Vec<RouteRule>,
        mode: RouteMode,
        default: RouteDefault,
        flush_timeout: Duration,
    ) -> Self {
        let mut conditions = ConditionSet::default();
        let rule_conditions = rules
            .iter()
            .map(|rule| conditions.add(rule.when.clone()))
            .collect();
        let counters = Arc::new(RouteCounters {
            unrouted: AtomicU64::new(0),
            per_target: targets
                .iter()
                .map(|t| (t.name.clone(), AtomicU64::new(0)))
                .collect(),
        });
        Self {
            lanes: TargetLanes::new(&name, &targets, true),
            name,
            rules,
            rule_conditions,
            conditions,
            mode,
            default,
            targets,
            counters,
            warned: AtomicBool::new(false),
            flush_timeout,
        }
    }

    /// Which records each target takes.
    fn decide(
        &self,
        batch: &Batch,
    ) -> (Vec<Verdict>, u64, crate::routing::condition_set::Verdicts) {
        let verdicts = self.conditions.evaluate(batch);
        let mut per_target: Vec<Verdict> = self
            .targets
            .iter()
            .map(|_| Verdict::none(batch.len()))
            .collect();
        let mut unrouted = 0u64;
        for record in 0..batch.len() as usize {
            let mut taken = false;
            for (rule, &condition) in self.rules.iter().zip(&self.rule_conditions) {
                if verdicts.verdicts[condition].keeps(record) {
                    for &target in &rule.targets {
                        per_target[target].keep(record);
                    }
                    taken = true;
                    if self.mode == RouteMode::FirstMatch {
                        break;
                    }
                }
            }
            if !taken {
                match self.default {
                    RouteDefault::Target(target) => per_target[target].keep(record),
                    RouteDefault::Unset | RouteDefault::Drop => unrouted += 1,
                }
            }
        }
        (per_target, unrouted, verdicts)
    }
}

impl Sink for RouteSink {
    fn routed_counts(&self) -> Option<Arc<dyn crate::sink::RoutedCounts>> {
        Some(self.counters.clone())
    }

    fn start(&mut self) -> Result<(), SinkError> {
        self.lanes
            .start(&self.targets)
            .map_err(|e| SinkError::new(format!("route {e}")))
    }

    fn abandon(&mut self) {
        self.lanes.abandon();
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        if !self.lanes.is_started() {
            return WriteOutcome::Fatal("the route is not started".into());
        }
        let (per_target, unrouted, verdicts) = self.decide(batch);
        for (index, verdict) in per_target.iter().enumerate() {
            let kept = verdict.kept();
            if kept == 0 {
                continue;
            }
            let selected = match verdicts.select(batch, verdict) {
                Some(copy) => copy,
                None => batch.clone(),
            };
            self.lanes.push(index, selected);
            self.counters.per_target[index]
                .1
                .fetch_add(u64::from(kept), Relaxed);
        }
        if unrouted > 0 {
            self.counters.unrouted.fetch_add(unrouted, Relaxed);
            if self.default == RouteDefault::Unset && !self.warned.swap(true, Relaxed) {
                tracing::warn!(
                    sink = %self.name,
                    "{unrouted} record(s) matched no rule and the route has no `default`; they are counted as unrouted and not delivered. Set `default` to a sink name, or to \"drop\" to drop them on purpose"
                );
            }
        }
        WriteOutcome::Accepted
    }

    fn flush(&mut self) -> FlushOutcome {
        self.lanes.flush(self.flush_timeout)
    }

    fn stop(&mut self) {
        self.lanes.stop();
    }

    fn health(&mut self) -> Health {
        self.lanes.health()
    }

    fn restart(&mut self) -> Result<(), SinkError> {
        if self.lanes.is_started() {
            Ok(())
        } else {
            self.start()
        }
    }
}
