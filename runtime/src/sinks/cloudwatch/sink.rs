//! The running `cloudwatch` sink.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use super::credentials::{self, AwsCredentials};
use super::event_batches::{LogEvent, MAX_MESSAGE_BYTES, split_into_calls, truncated};
use super::logs_api::{ApiAnswer, LogsApi, is_transient};
use crate::batch::Batch;
use crate::sink::{Health, Sink, SinkError, WriteOutcome};
use crate::sinks::util::field_template::FieldTemplate;
use crate::sinks::util::record_fields::{FieldReader, FoundFields, utf8_text};
use crate::sinks::util::record_time::now_unix_nanos;

/// Record indexes, each with why it was refused.
type RecordReasons = Vec<(u32, String)>;

/// How old an event the service takes.
const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// How far ahead of now an event the service takes.
const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;

/// What to do with a record too large for one event (1 MiB less 26 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OversizedEventAction {
    /// Cut it to the limit (at a character boundary) and send it.
    Truncate,
    /// Dead-letter it.
    Reject,
}

/// The `cloudwatch` sink's options.
#[derive(Clone, Debug)]
pub struct CloudWatchSinkOptions {
    /// The AWS region, such as `us-east-1`.
    pub region: String,
    /// Where calls go: `https://logs.<region>.amazonaws.com`, or another
    /// endpoint (LocalStack, moto, a VPC endpoint).
    pub endpoint: reqwest::Url,
    /// The log group.
    pub log_group_name: String,
    /// The stream, filled from record fields.
    pub(crate) log_stream_name: FieldTemplate,
    /// Create the group when missing.
    pub create_log_group: bool,
    /// Create each stream when missing.
    pub create_log_stream: bool,
    /// Credentials from the options; `None` reads the environment and the
    /// shared credentials file at start.
    pub credentials: Option<AwsCredentials>,
    /// Records too large for one event.
    pub oversized: OversizedEventAction,
    /// The field holding each record's time (else the time it is sent).
    pub timestamp_field: String,
    /// Deadline of one call.
    pub timeout: Duration,
    /// A PEM root certificate to trust besides the webpki roots.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Sends batches to CloudWatch Logs with `PutLogEvents`, split within the
/// service's limits (bytes, events, 24-hour span), sorted by time, one
/// stream per call. Events the service rejects as too old, too new or
/// expired are dead-lettered alone; throttling, 5xx and credential errors
/// are retried, never dropped.
pub struct CloudWatchSink {
    options: CloudWatchSinkOptions,
    api: Option<LogsApi>,
    group_ready: bool,
    streams_ready: HashSet<String>,
    last_failure: Option<String>,
}

impl CloudWatchSink {
    /// A sink; nothing is sent until it starts.
    pub fn new(options: CloudWatchSinkOptions) -> Self {
        Self {
            options,
            api: None,
            group_ready: false,
            streams_ready: HashSet::new(),
            last_failure: None,
        }
    }

    /// The batch's events, each with its stream, and the records refused
    /// before sending, each with why.
    fn events(&self, batch: &Batch) -> (Vec<(String, LogEvent)>, RecordReasons) {
        let now_ms = (now_unix_nanos() / 1_000_000) as i64;
        let mut events = Vec::with_capacity(batch.len() as usize);
        let mut refused = Vec::new();
        // The time field, then the stream name's fields, read from the raw
        // record; nothing else of it is decoded.
        let mut fields = vec![self.options.timestamp_field.as_str()];
        fields.extend(self.options.log_stream_name.fields());
        let reader = FieldReader::new(&fields);
        let mut found = FoundFields::default();
        for (i, record) in batch.records().enumerate() {
            let i = i as u32;
            reader.read(record, &mut found);
            let timestamp = reader
                .field(&found, 0)
                .unix_nanos()
                .map_or(now_ms, |nanos| (nanos / 1_000_000) as i64);
            // The service refuses these; say so per record rather than
            // have it drop them (Vector does the same).
            if timestamp < now_ms - MAX_AGE_MS {
                refused.push((
                    i,
                    "the event is more than 14 days old; CloudWatch Logs refuses it".into(),
                ));
                continue;
            }
            if timestamp > now_ms + MAX_AHEAD_MS {
                refused.push((
                    i,
                    "the event is more than 2 hours in the future; CloudWatch Logs refuses it"
                        .into(),
                ));
                continue;
            }
            let mut message = utf8_text(record).into_owned();
            if message.len() > MAX_MESSAGE_BYTES {
                match self.options.oversized {
                    OversizedEventAction::Truncate => message = truncated(message),
                    OversizedEventAction::Reject => {
                        refused.push((
                            i,
                            format!(
                                "the record is {} bytes, more than one CloudWatch event holds ({MAX_MESSAGE_BYTES}); set oversized_event_action = \"truncate\" to cut it",
                                message.len()
                            ),
                        ));
                        continue;
                    }
                }
            }
            let stream = self.options.log_stream_name.render(
                |hole| {
                    let field = reader.field(&found, hole + 1);
                    if field.is_null() { None } else { field.text() }
                },
                stream_part,
            );
            events.push((
                stream,
                LogEvent {
                    record: i,
                    timestamp,
                    message,
                },
            ));
        }
        (events, refused)
    }

    fn ensure_group(&mut self, api: &LogsApi) -> Result<(), String> {
        if self.options.create_log_group && !self.group_ready {
            api.create_log_group(&self.options.log_group_name)?;
        }
        self.group_ready = true;
        Ok(())
    }

    fn ensure_stream(&mut self, api: &LogsApi, stream: &str) -> Result<(), String> {
        if self.options.create_log_stream && !self.streams_ready.contains(stream) {
            api.create_log_stream(&self.options.log_group_name, stream)?;
            if self.streams_ready.len() > 10_000 {
                // Bounded: a stream template over an unbounded field.
                self.streams_ready.clear();
            }
            self.streams_ready.insert(stream.to_owned());
        }
        Ok(())
    }
}

/// A field value as part of a stream name: no `:` or `*`, at most 512 bytes.
fn stream_part(value: &str) -> String {
    let mut part: String = value
        .chars()
        .map(|c| if matches!(c, ':' | '*') { '_' } else { c })
        .collect();
    if part.len() > 512 {
        let mut end = 512;
        while !part.is_char_boundary(end) {
            end -= 1;
        }
        part.truncate(end);
    }
    part
}

impl Sink for CloudWatchSink {
    fn start(&mut self) -> Result<(), SinkError> {
        let credentials = match &self.options.credentials {
            Some(credentials) => credentials.clone(),
            None => {
                let (credentials, from) =
                    credentials::from_environment(|name| std::env::var(name).ok())
                        .map_err(SinkError::new)?;
                tracing::debug!("cloudwatch: AWS credentials from {from}");
                credentials
            }
        };
        let api = LogsApi::new(
            self.options.endpoint.clone(),
            self.options.region.clone(),
            credentials,
            self.options.timeout,
            self.options.ca_file.as_deref(),
        )
        .map_err(SinkError::new)?;
        self.api = Some(api);
        self.group_ready = false;
        self.streams_ready.clear();
        Ok(())
    }

    fn write(&mut self, batch: &Batch) -> WriteOutcome {
        let Some(api) = self.api.take() else {
            return WriteOutcome::Fatal("the sink is not started".into());
        };
        let outcome = self.send(&api, batch);
        self.api = Some(api);
        outcome
    }

    fn health(&mut self) -> Health {
        match &self.last_failure {
            None => Health::Healthy,
            Some(why) => Health::Degraded(format!("the last call failed: {why}")),
        }
    }
}

impl CloudWatchSink {
    fn send(&mut self, api: &LogsApi, batch: &Batch) -> WriteOutcome {
        let (events, mut refused) = self.events(batch);
        let calls = split_into_calls(events);
        let mut failed_at: Option<(u32, String)> = None;
        if let Err(why) = self.ensure_group(api) {
            failed_at = Some((0, why));
        }
        for call in &calls {
            if failed_at.is_some() {
                break;
            }
            let mut answer = self
                .ensure_stream(api, &call.stream)
                .and_then(|()| api.put_log_events(&self.options.log_group_name, call));
            if let Ok(ApiAnswer::Error { kind, .. }) = &answer
                && kind == "ResourceNotFoundException"
                && (self.options.create_log_group || self.options.create_log_stream)
            {
                // Deleted since we made it: make it again, once.
                self.group_ready = false;
                self.streams_ready.remove(&call.stream);
                answer = self
                    .ensure_group(api)
                    .and_then(|()| self.ensure_stream(api, &call.stream))
                    .and_then(|()| api.put_log_events(&self.options.log_group_name, call));
            }
            match answer {
                Ok(ApiAnswer::Ok(body)) => refused.extend(rejected_events(call, &body)),
                Ok(ApiAnswer::Error { kind, .. }) if kind == "DataAlreadyAcceptedException" => {}
                Ok(ApiAnswer::Error {
                    status,
                    kind,
                    message,
                }) if !is_transient(status, &kind) => {
                    let why = format!("PutLogEvents: HTTP {status} {kind}: {message}");
                    refused.extend(call.records(0..call.events.len()).map(|r| (r, why.clone())));
                }
                Ok(ApiAnswer::Error {
                    status,
                    kind,
                    message,
                }) => {
                    failed_at = Some((
                        call.first_record(),
                        format!("PutLogEvents: HTTP {status} {kind}: {message}"),
                    ));
                }
                Err(why) => failed_at = Some((call.first_record(), why)),
            }
        }
        self.last_failure = failed_at.as_ref().map(|(_, why)| why.clone());
        let handled = failed_at.as_ref().map_or(batch.len(), |(at, _)| *at);
        let refused = ranges(refused, handled);
        let retry_reason = failed_at.map(|(_, why)| why).unwrap_or_default();
        WriteOutcome::settled(batch.len(), handled, refused, retry_reason)
    }
}

/// The records of `call` that `rejectedLogEventsInfo` names, with why.
fn rejected_events(call: &EventCall, body: &serde_json::Value) -> Vec<(u32, String)> {
    let info = &body["rejectedLogEventsInfo"];
    let index = |key: &str| info[key].as_u64().map(|i| i as usize);
    let mut out = Vec::new();
    let n = call.events.len();
    if let Some(end) = index("tooOldLogEventEndIndex") {
        out.extend(call.records(0..end).map(|r| {
            (r, "CloudWatch rejected the event as too old (more than 14 days, or before the group's retention)".to_string())
        }));
    }
    if let Some(end) = index("expiredLogEventEndIndex") {
        out.extend(call.records(0..end).map(|r| {
            (
                r,
                "CloudWatch rejected the event as older than the log group's retention".to_string(),
            )
        }));
    }
    if let Some(start) = index("tooNewLogEventStartIndex") {
        out.extend(call.records(start..n).map(|r| {
            (
                r,
                "CloudWatch rejected the event as too new (more than 2 hours ahead)".to_string(),
            )
        }));
    }
    out
}

use super::event_batches::EventCall;

/// Refused record indexes below `handled`, as ascending ranges of the
/// same reason.
fn ranges(mut refused: Vec<(u32, String)>, handled: u32) -> Vec<(Range<u32>, String)> {
    refused.retain(|(r, _)| *r < handled);
    refused.sort_by_key(|(r, _)| *r);
    refused.dedup_by_key(|(r, _)| *r);
    let mut out: Vec<(Range<u32>, String)> = Vec::new();
    for (record, why) in refused {
        match out.last_mut() {
            Some((range, last)) if range.end == record && *last == why => range.end += 1,
            _ => out.push((record..record + 1, why)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_records_become_ranges_below_the_first_failure() {
        let refused = vec![
            (4, "old".to_string()),
            (1, "old".to_string()),
            (2, "old".to_string()),
            (3, "new".to_string()),
            (9, "new".to_string()),
        ];
        assert_eq!(
            ranges(refused, 8),
            vec![
                (1..3, "old".into()),
                (3..4, "new".into()),
                (4..5, "old".into())
            ]
        );
    }

    #[test]
    fn rejected_positions_map_back_to_records() {
        let call = EventCall {
            stream: "s".into(),
            events: [7u32, 2, 5, 9]
                .iter()
                .enumerate()
                .map(|(t, &record)| LogEvent {
                    record,
                    timestamp: t as i64,
                    message: String::new(),
                })
                .collect(),
        };
        let body = serde_json::json!({"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 3}});
        let rejected: Vec<u32> = rejected_events(&call, &body)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(rejected, [7, 9]);
    }
}
