//! Which lane takes which records: the conditions of a set of lanes, and
//! the per-batch decision every lane of the set shares.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::condition::Condition;
use super::condition_set::ConditionSet;
use crate::batch::Batch;

/// The `when` conditions of the lanes one dispatcher feeds (the pipeline's
/// top-level sinks, or a composite's targets), by lane name.
#[derive(Debug, Default)]
pub(crate) struct RoutingTable {
    set: ConditionSet,
    /// Each lane's index in `set`, and its condition.
    by_lane: HashMap<String, (usize, Arc<Condition>)>,
}

impl RoutingTable {
    /// Gives lane `lane` the condition `when`.
    pub fn insert(&mut self, lane: &str, when: Arc<Condition>) {
        let index = self.set.add(when.clone());
        self.by_lane.insert(lane.to_owned(), (index, when));
    }

    /// Whether no lane has a condition (then batches go out undecided).
    pub fn is_empty(&self) -> bool {
        self.by_lane.is_empty()
    }

    /// A table from `(lane, condition)` pairs; `None` when no lane has one.
    pub fn from_lanes<'a>(
        lanes: impl IntoIterator<Item = (&'a str, Option<&'a Arc<Condition>>)>,
    ) -> Option<Arc<RoutingTable>> {
        let mut table = RoutingTable::default();
        for (lane, when) in lanes {
            if let Some(when) = when {
                table.insert(lane, when.clone());
            }
        }
        (!table.is_empty()).then(|| Arc::new(table))
    }
}

/// What one lane takes of a batch.
#[derive(Clone, Debug)]
pub(crate) enum Selection {
    /// The lane has no condition: the batch as it is, numbers included.
    Unfiltered(Batch),
    /// The records its condition kept (perhaps all), to be numbered by the
    /// lane; `skipped` were left out.
    Kept { batch: Batch, skipped: u32 },
    /// Its condition kept nothing.
    Nothing { skipped: u32 },
}

/// What one condition of a table kept of a batch.
enum Decision {
    /// Every record: lanes get the batch as it is.
    All,
    /// No record.
    Nothing,
    /// Some records: their one shared copy.
    Some(Batch),
}

/// A batch on its way to the lanes of one table. The first lane that needs
/// a decision makes it for every condition of the table, on its own worker
/// thread (not the producer's); the others reuse it.
pub(crate) struct RoutedBatch {
    batch: Batch,
    table: Option<Arc<RoutingTable>>,
    decided: OnceLock<Vec<Decision>>,
}

impl RoutedBatch {
    /// `batch`, to be decided by `table` (if any lane has a condition).
    pub fn new(batch: Batch, table: Option<Arc<RoutingTable>>) -> Arc<Self> {
        Arc::new(RoutedBatch {
            batch,
            table,
            decided: OnceLock::new(),
        })
    }

    /// The batch as it came, before any condition.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    /// Lane `lane`'s condition, if it has one.
    pub fn condition_of(&self, lane: &str) -> Option<&Arc<Condition>> {
        self.table
            .as_ref()
            .and_then(|t| t.by_lane.get(lane).map(|(_, when)| when))
    }

    /// What lane `lane` takes.
    pub fn for_lane(&self, lane: &str) -> Selection {
        let Some((table, index)) = self
            .table
            .as_ref()
            .and_then(|t| t.by_lane.get(lane).map(|(i, _)| (t, *i)))
        else {
            return Selection::Unfiltered(self.batch.clone());
        };
        let decided = self.decided.get_or_init(|| {
            let verdicts = table.set.evaluate(&self.batch);
            verdicts
                .verdicts
                .iter()
                .map(|verdict| match verdict.kept() {
                    0 => Decision::Nothing,
                    _ => match verdicts.select(&self.batch, verdict) {
                        Some(kept) => Decision::Some(kept),
                        None => Decision::All,
                    },
                })
                .collect()
        });
        match &decided[index] {
            Decision::All => Selection::Kept {
                batch: self.batch.clone(),
                skipped: 0,
            },
            Decision::Nothing => Selection::Nothing {
                skipped: self.batch.len(),
            },
            Decision::Some(kept) => Selection::Kept {
                batch: kept.clone(),
                skipped: self.batch.len() - kept.len(),
            },
        }
    }
}
