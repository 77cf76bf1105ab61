//! Several conditions decided together: each record is scanned once for
//! every field any of them reads, and each distinct condition is decided
//! once per record, however many sinks share it.

use std::sync::Arc;

use super::condition::Condition;
use super::field_scan::FieldTree;
use super::field_value::FieldValue;
use crate::batch::Batch;

/// Distinct conditions (by their text) and the fields they read.
#[derive(Debug, Default)]
pub(crate) struct ConditionSet {
    conditions: Vec<Arc<Condition>>,
    /// For each condition, the slot of each of its fields.
    maps: Vec<Vec<usize>>,
    tree: FieldTree,
    /// The `level` slot, if a condition reads only the level's rank: a
    /// level known at emit time answers those conditions.
    level_slot: Option<usize>,
    /// The conditions in the order they are decided: those that read more
    /// than a level first, then those that read only its rank, from
    /// `first_level_only` on.
    order: Vec<usize>,
    first_level_only: usize,
    /// Whether some condition reads more than a level: then records are
    /// scanned even when their level is known.
    needs_scan: bool,
}

/// Which records of a batch a condition keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    bits: Vec<u64>,
    kept: u32,
}

impl Verdict {
    fn new(records: u32) -> Self {
        Verdict {
            bits: vec![0; (records as usize).div_ceil(64)],
            kept: 0,
        }
    }

    pub fn keep(&mut self, index: usize) {
        let word = &mut self.bits[index / 64];
        let bit = 1u64 << (index % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.kept += 1;
        }
    }

    pub fn keeps(&self, index: usize) -> bool {
        self.bits
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    /// How many records it keeps.
    pub fn kept(&self) -> u32 {
        self.kept
    }

    /// A verdict keeping nothing.
    pub fn none(records: u32) -> Self {
        Verdict::new(records)
    }
}

/// The verdict of every condition of a set on one batch, and where each
/// record ends (to copy the kept ones without splitting again).
pub(crate) struct Verdicts {
    pub verdicts: Vec<Verdict>,
    /// `ends[i]` is the offset just past record `i`'s newline.
    ends: Vec<u32>,
}

impl ConditionSet {
    /// Adds a condition unless one with the same text is in the set; returns
    /// its index.
    pub fn add(&mut self, condition: Arc<Condition>) -> usize {
        if let Some(index) = self
            .conditions
            .iter()
            .position(|c| c.text() == condition.text())
        {
            return index;
        }
        self.conditions.push(condition);
        self.rebuild();
        self.conditions.len() - 1
    }

    fn rebuild(&mut self) {
        let mut paths: Vec<Vec<String>> = Vec::new();
        self.maps = self
            .conditions
            .iter()
            .map(|condition| {
                condition
                    .fields
                    .iter()
                    .map(|path| match paths.iter().position(|p| p == path) {
                        Some(slot) => slot,
                        None => {
                            paths.push(path.clone());
                            paths.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        self.tree = FieldTree::new(&paths);
        let level_only: Vec<bool> = self
            .conditions
            .iter()
            .map(|c| c.reads_level_only())
            .collect();
        self.order = (0..level_only.len()).filter(|&c| !level_only[c]).collect();
        self.first_level_only = self.order.len();
        self.order
            .extend((0..level_only.len()).filter(|&c| level_only[c]));
        self.needs_scan = level_only.iter().any(|only| !only);
        self.level_slot = if level_only.iter().any(|only| *only) {
            paths.iter().position(|p| *p == ["level"])
        } else {
            None
        };
    }

    /// How many distinct conditions the set holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.conditions.len()
    }

    /// Decides every condition on every record of `batch`.
    pub fn evaluate(&self, batch: &Batch) -> Verdicts {
        let count = batch.len();
        let mut verdicts: Vec<Verdict> = (0..self.conditions.len())
            .map(|_| Verdict::new(count))
            .collect();
        let mut ends = Vec::with_capacity(count as usize);
        let mut values: Vec<FieldValue<'_>> = vec![FieldValue::Missing; self.tree.slots()];
        let levels = batch.levels();
        let bytes = batch.bytes();
        let known_ends = batch.ends();
        let mut newlines = memchr::memchr_iter(b'\n', bytes);
        let mut start = 0usize;
        for index in 0..count as usize {
            // Past the record's newline: noted by the batcher, else searched.
            let end = match known_ends {
                Some((known, base)) => (known[index] - base) as usize,
                None => match newlines.next() {
                    Some(newline) => newline + 1,
                    None => break,
                },
            };
            let Some(record) = bytes.get(start..end.saturating_sub(1)) else {
                break;
            };
            start = end;
            ends.push(end as u32);
            values.fill(FieldValue::Missing);
            let known = match (self.level_slot, levels.and_then(|l| l.get(index))) {
                (Some(slot), Some(&rank)) if rank != 0 => Some((slot, rank)),
                _ => None,
            };
            if known.is_none() || self.needs_scan {
                self.tree.scan(record, &mut values);
            }
            // Conditions that read more than the level see the record as
            // scanned; then level-only ones see the level known at emit time.
            for (position, &c) in self.order.iter().enumerate() {
                if position == self.first_level_only
                    && let Some((slot, rank)) = known
                {
                    values[slot] = FieldValue::Level(rank);
                }
                if self.conditions[c].root.holds(&values, &self.maps[c]) {
                    verdicts[c].keep(index);
                }
            }
        }
        Verdicts { verdicts, ends }
    }
}

impl Verdicts {
    /// The records `verdict` keeps as a batch of their own, copied once and
    /// numbered from 0 (the receiving lane renumbers it). `None` if it keeps
    /// every record (use the batch as it is).
    pub fn select(&self, batch: &Batch, verdict: &Verdict) -> Option<Batch> {
        if verdict.kept() == batch.len() {
            return None;
        }
        Some(copy_kept(batch, &self.ends, verdict))
    }
}

/// Copies the records `verdict` keeps, runs of kept records in one copy.
fn copy_kept(batch: &Batch, ends: &[u32], verdict: &Verdict) -> Batch {
    let bytes = batch.bytes();
    let mut out = Vec::new();
    let mut kept_ends = Vec::with_capacity(verdict.kept() as usize);
    let mut kept_len = 0u32;
    let mut levels = batch
        .levels()
        .map(|_| Vec::with_capacity(verdict.kept() as usize));
    let mut run_start: Option<usize> = None;
    let record_start = |i: usize| if i == 0 { 0 } else { ends[i - 1] as usize };
    for i in 0..ends.len() {
        let kept = verdict.keeps(i);
        if kept {
            if run_start.is_none() {
                run_start = Some(record_start(i));
            }
            kept_len += ends[i] - record_start(i) as u32;
            kept_ends.push(kept_len);
            if let (Some(levels), Some(all)) = (levels.as_mut(), batch.levels()) {
                levels.push(all.get(i).copied().unwrap_or(0));
            }
        } else if let Some(from) = run_start.take() {
            out.extend_from_slice(&bytes[from..record_start(i)]);
        }
    }
    if let Some(from) = run_start {
        out.extend_from_slice(&bytes[from..]);
    }
    let kept = Batch::with_levels(
        bytes::Bytes::from(out),
        verdict.kept(),
        0,
        levels.map(bytes::Bytes::from),
    )
    .with_ends(kept_ends);
    match batch.ack() {
        Some(ack) => kept.with_ack(ack.clone()),
        None => kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(conditions: &[&str]) -> ConditionSet {
        let mut set = ConditionSet::default();
        for text in conditions {
            set.add(Arc::new(Condition::parse(text).unwrap()));
        }
        set
    }

    #[test]
    fn shared_conditions_are_kept_once_and_copies_keep_order() {
        let mut set = set(&[r#"level >= "warn""#, "n > 1"]);
        assert_eq!(
            set.add(Arc::new(Condition::parse(r#"level >= "warn""#).unwrap())),
            0
        );
        assert_eq!(set.len(), 2);
        let batch = Batch::from_records(
            [
                r#"{"level":"info","n":1}"#,
                r#"{"level":"error","n":2}"#,
                r#"{"level":"warning","n":3}"#,
                "not json",
            ],
            0,
        );
        let verdicts = set.evaluate(&batch);
        assert_eq!(verdicts.verdicts[0].kept(), 2);
        let kept = verdicts.select(&batch, &verdicts.verdicts[0]).unwrap();
        assert_eq!(
            kept.bytes(),
            b"{\"level\":\"error\",\"n\":2}\n{\"level\":\"warning\",\"n\":3}\n"
        );
        assert_eq!(verdicts.verdicts[1].kept(), 2);
    }
}
