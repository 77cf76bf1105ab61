//! Splitting a batch into `PutLogEvents` calls within the service's
//! limits: at most 1,048,576 bytes per call counting 26 bytes per event,
//! at most 10,000 events, a span of at most 24 hours, one stream per call,
//! events in time order within each call.

use std::ops::Range;

/// The most bytes of one call, counting [`EVENT_OVERHEAD`] per event.
pub(crate) const MAX_CALL_BYTES: usize = 1_048_576;
/// Bytes the service counts for each event besides its message.
pub(crate) const EVENT_OVERHEAD: usize = 26;
/// The most events in one call.
pub(crate) const MAX_CALL_EVENTS: usize = 10_000;
/// The widest span of timestamps in one call, in milliseconds.
pub(crate) const MAX_CALL_SPAN_MS: i64 = 24 * 3600 * 1000;
/// The longest message one event may carry.
pub(crate) const MAX_MESSAGE_BYTES: usize = MAX_CALL_BYTES - EVENT_OVERHEAD;

/// One record as an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogEvent {
    /// The record's index in its batch.
    pub record: u32,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The event's text.
    pub message: String,
}

/// One call's events, for one stream, sorted by time.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EventCall {
    /// Which stream.
    pub stream: String,
    /// The events, in time order (records of equal time in batch order).
    pub events: Vec<LogEvent>,
}

impl EventCall {
    /// The lowest batch index among its events.
    pub fn first_record(&self) -> u32 {
        self.events.iter().map(|e| e.record).min().unwrap_or(0)
    }

    /// The batch indexes of its events at call positions `positions`.
    pub fn records(&self, positions: Range<usize>) -> impl Iterator<Item = u32> + '_ {
        self.events[positions.start.min(self.events.len())..positions.end.min(self.events.len())]
            .iter()
            .map(|e| e.record)
    }
}

/// Groups `events` (in batch order, each with its stream) by stream and
/// splits each stream's events, in batch order, into calls within the
/// limits; calls come ordered by their first record.
pub(crate) fn split_into_calls(events: Vec<(String, LogEvent)>) -> Vec<EventCall> {
    let mut calls: Vec<EventCall> = Vec::new();
    // Per stream, the call still open and its byte count and time span.
    let mut open: Vec<(String, usize, usize, i64, i64)> = Vec::new();
    for (stream, event) in events {
        let size = event.message.len() + EVENT_OVERHEAD;
        let slot = open.iter().position(|(s, ..)| *s == stream);
        let fits = slot.is_some_and(|at| {
            let (_, call, bytes, low, high) = &open[at];
            calls[*call].events.len() < MAX_CALL_EVENTS
                && bytes + size <= MAX_CALL_BYTES
                && event.timestamp.max(*high) - event.timestamp.min(*low) <= MAX_CALL_SPAN_MS
        });
        if fits {
            let at = slot.unwrap_or_default();
            let (_, call, bytes, low, high) = &mut open[at];
            *bytes += size;
            *low = (*low).min(event.timestamp);
            *high = (*high).max(event.timestamp);
            calls[*call].events.push(event);
        } else {
            let timestamp = event.timestamp;
            calls.push(EventCall {
                stream: stream.clone(),
                events: vec![event],
            });
            let entry = (stream, calls.len() - 1, size, timestamp, timestamp);
            match slot {
                Some(at) => open[at] = entry,
                None => open.push(entry),
            }
        }
    }
    for call in &mut calls {
        call.events.sort_by_key(|e| e.timestamp);
    }
    calls.sort_by_key(EventCall::first_record);
    calls
}

/// `message` cut to [`MAX_MESSAGE_BYTES`] at a character boundary.
pub(crate) fn truncated(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(record: u32, timestamp: i64, size: usize) -> (String, LogEvent) {
        (
            "s".into(),
            LogEvent {
                record,
                timestamp,
                message: "x".repeat(size),
            },
        )
    }

    fn check_limits(calls: &[EventCall]) {
        for call in calls {
            assert!(call.events.len() <= MAX_CALL_EVENTS);
            let bytes: usize = call
                .events
                .iter()
                .map(|e| e.message.len() + EVENT_OVERHEAD)
                .sum();
            assert!(bytes <= MAX_CALL_BYTES, "{bytes} bytes in one call");
            let low = call.events.iter().map(|e| e.timestamp).min().unwrap();
            let high = call.events.iter().map(|e| e.timestamp).max().unwrap();
            assert!(high - low <= MAX_CALL_SPAN_MS);
            assert!(
                call.events
                    .windows(2)
                    .all(|w| w[0].timestamp <= w[1].timestamp)
            );
        }
    }

    #[test]
    fn the_event_count_limit_splits_calls() {
        let events = (0..25_000).map(|i| event(i, 1_000, 1)).collect();
        let calls = split_into_calls(events);
        assert_eq!(
            calls.iter().map(|c| c.events.len()).collect::<Vec<_>>(),
            [10_000, 10_000, 5_000]
        );
        check_limits(&calls);
    }

    #[test]
    fn the_byte_limit_counts_26_bytes_per_event() {
        // 1,000 events of 1,022 bytes: 1,048 bytes each as counted, so
        // 1,000 fit (1,048,000) and the 1,001st does not.
        let events = (0..1_001).map(|i| event(i, 0, 1_022)).collect();
        let calls = split_into_calls(events);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].events.len(), 1_000);
        // Exactly at the limit still fits.
        let exact = vec![event(0, 0, MAX_MESSAGE_BYTES)];
        assert_eq!(split_into_calls(exact).len(), 1);
        check_limits(&calls);
    }

    #[test]
    fn a_span_over_24_hours_starts_a_new_call_and_calls_are_sorted() {
        let day = MAX_CALL_SPAN_MS;
        let events = vec![
            event(0, 5_000, 1),
            event(1, 1_000, 1),
            event(2, 1_000 + day, 1),
            event(3, 1_001 + day, 1),
        ];
        let calls = split_into_calls(events);
        check_limits(&calls);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0].events.iter().map(|e| e.record).collect::<Vec<_>>(),
            [1, 0, 2]
        );
        assert_eq!(calls[1].events[0].record, 3);
    }

    #[test]
    fn streams_get_their_own_calls() {
        let mut events = Vec::new();
        for i in 0..6u32 {
            let (_, e) = event(i, i64::from(i), 1);
            events.push((if i % 2 == 0 { "a" } else { "b" }.to_string(), e));
        }
        let calls = split_into_calls(events);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].stream, "a");
        assert_eq!(calls[0].records(0..3).collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!(calls[1].records(0..3).collect::<Vec<_>>(), [1, 3, 5]);
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = truncated(long);
        assert!(cut.len() <= MAX_MESSAGE_BYTES && cut.len() >= MAX_MESSAGE_BYTES - 1);
    }
}
