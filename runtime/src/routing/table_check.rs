//! [`Conditions`]: a set of conditions decided over a batch the way the
//! pipeline decides them, for embedders who test a routing table and for
//! the benches.

use std::sync::Arc;

use super::condition::Condition;
use super::condition_set::ConditionSet;
use crate::batch::Batch;

/// Conditions decided together over whole batches, exactly as a pipeline
/// decides its sinks' `when`s: one scan per record for all of them, each
/// distinct condition once.
#[derive(Debug, Default)]
pub struct Conditions {
    set: ConditionSet,
    indexes: Vec<usize>,
}

impl Conditions {
    /// A set of `conditions`, in order (repeats are decided once).
    pub fn new(conditions: impl IntoIterator<Item = Condition>) -> Self {
        let mut set = ConditionSet::default();
        let indexes = conditions
            .into_iter()
            .map(|c| set.add(Arc::new(c)))
            .collect();
        Self { set, indexes }
    }

    /// How many records of `batch` each condition keeps, in the order given.
    pub fn kept(&self, batch: &Batch) -> Vec<u32> {
        let verdicts = self.set.evaluate(batch);
        self.indexes
            .iter()
            .map(|&i| verdicts.verdicts[i].kept())
            .collect()
    }
}
