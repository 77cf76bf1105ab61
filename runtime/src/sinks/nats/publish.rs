//! Publishing one batch to JetStream and reading the stream's
//! acknowledgements.
//!
//! A JetStream publish is a core NATS publish with a reply subject: the
//! stream answers there with `{"stream":…,"seq":…}` or an error. The
//! batch's publishes share one reply subscription, `<inbox>.*`, each
//! message's reply subject ending in its index; async-nats' JetStream
//! context would give every message its own ack future, timer and
//! semaphore permit and read every ack through an untagged serde enum,
//! which cost more CPU than the rest of the sink.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;
use std::time::Duration;

use async_nats::client::PublishErrorKind;
use async_nats::{HeaderMap, StatusCode, Subject};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::batch::Batch;
use crate::sink::WriteOutcome;
use crate::sinks::util::field_template::FieldTemplate;
use crate::sinks::util::http::response_class::bounded_text;
use crate::sinks::util::record_fields::{FieldReader, FoundFields};

/// JetStream's error code for "no stream captures this subject".
const STREAM_NOT_FOUND: u64 = 10059;

/// One message to publish.
pub(super) struct Message {
    pub subject: Subject,
    pub payload: Bytes,
    /// `Nats-Msg-Id`, when the sink dedupes.
    pub headers: Option<HeaderMap>,
}

/// The batch's messages, each built as it is about to be sent (the
/// server works on the first while the rest are built). The payload is a
/// slice of the batch's own buffer (no copy); a record whose subject
/// fields are spelled as the previous record's shares its subject, which is
/// not rendered again.
pub(super) fn messages<'b>(
    batch: &'b Batch,
    subject: &'b FieldTemplate,
    run_id: &'b str,
    dedupe: bool,
) -> impl Iterator<Item = Message> + Send + 'b {
    // The subject's fields, read from the raw record; nothing else of it
    // is decoded.
    let fields = subject.fields();
    let reader = FieldReader::new(&fields);
    let holes = fields.len();
    let mut found = FoundFields::default();
    let shared = batch.shared_bytes();
    let mut previous: Vec<Option<(bool, &'b [u8])>> = Vec::with_capacity(holes);
    let mut last: Option<Subject> = None;
    let mut id = String::with_capacity(run_id.len() + 21);
    batch.records().enumerate().map(move |(i, record)| {
        reader.read(record, &mut found);
        let spelling = |hole| reader.field(&found, hole).spelling();
        let subject = match &last {
            Some(subject) if (0..holes).all(|hole| spelling(hole) == previous[hole]) => {
                subject.clone()
            }
            _ => {
                previous.clear();
                previous.extend((0..holes).map(spelling));
                let text = subject.render(
                    |hole| {
                        let field = reader.field(&found, hole);
                        if field.is_null() { None } else { field.text() }
                    },
                    subject_token,
                );
                let subject = Subject::from(text);
                last = Some(subject.clone());
                subject
            }
        };
        let headers = dedupe.then(|| {
            id.clear();
            let _ = write!(id, "{run_id}-{}", batch.first_sequence() + i as u64);
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            headers
        });
        Message {
            subject,
            payload: shared.slice_ref(record),
            headers,
        }
    })
}

/// A field value as one subject token: no spaces, dots or wildcards.
fn subject_token(value: &str) -> String {
    let token: String = value
        .chars()
        .map(|c| {
            if c.is_whitespace() || matches!(c, '.' | '*' | '>') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if token.is_empty() {
        "unknown".into()
    } else {
        token
    }
}

/// What became of one batch's publishes.
#[derive(Debug, Default)]
pub(super) struct Published {
    /// Records refused for good (too large for the server).
    pub refused: Vec<(Range<u32>, String)>,
    /// The first record whose publish or ack failed for a transient
    /// reason, and why.
    pub failed_at: Option<(u32, String)>,
    /// No stream captures a subject: make it again before the retry.
    pub stream_missing: bool,
}

impl Published {
    /// The batch's outcome: refusals before the first failure stand, and
    /// everything from the failure on is retried.
    pub fn outcome(self, len: u32) -> WriteOutcome {
        let handled = self.failed_at.as_ref().map_or(len, |(at, _)| *at);
        let refused: Vec<_> = self
            .refused
            .into_iter()
            .filter(|(range, _)| range.start < handled)
            .collect();
        let retry_reason = self.failed_at.map(|(_, why)| why).unwrap_or_default();
        WriteOutcome::settled(len, handled, refused, retry_reason)
    }
}

/// How many publishes may await their acks, and how long to wait for one.
#[derive(Clone, Copy, Debug)]
pub(super) struct AckLimits {
    pub max_in_flight: usize,
    pub ack_timeout: Duration,
}

/// What is known of one message.
#[derive(Debug, PartialEq)]
enum Answer {
    /// Sent; no ack yet.
    Waiting,
    /// Stored by the stream (or refused for good, counted in `refused`).
    Settled,
    /// Not stored: retry it.
    Failed {
        reason: String,
        stream_missing: bool,
    },
}

/// Publishes `len` messages with their acks awaited, at most
/// `limits.max_in_flight` at once.
pub(super) async fn publish(
    client: &async_nats::Client,
    messages: impl Iterator<Item = Message>,
    len: u32,
    limits: AckLimits,
) -> Published {
    let mut published = Published::default();
    let inbox = client.new_inbox();
    // Subscribed before the first publish goes out on the same connection,
    // so the server knows where to answer.
    let acks = match client.subscribe(format!("{inbox}.*")).await {
        Ok(acks) => acks,
        Err(err) => {
            published.failed_at = Some((
                0,
                format!(
                    "cannot subscribe to the acknowledgements: {}",
                    bounded_text(err.to_string().as_bytes())
                ),
            ));
            return published;
        }
    };
    let mut answers = Answers::new(acks, len as usize, limits.ack_timeout);
    let mut reply = String::with_capacity(inbox.len() + 11);
    'publishing: for (i, message) in messages.enumerate() {
        while answers.waiting >= limits.max_in_flight.max(1) {
            if !answers.take_one().await {
                break 'publishing;
            }
        }
        reply.clear();
        let _ = write!(reply, "{inbox}.{i}");
        let reply = Subject::from(reply.as_str());
        let sent = match message.headers {
            Some(headers) => {
                client
                    .publish_with_reply_and_headers(
                        message.subject,
                        reply,
                        headers,
                        message.payload,
                    )
                    .await
            }
            None => {
                client
                    .publish_with_reply(message.subject, reply, message.payload)
                    .await
            }
        };
        match sent {
            Ok(()) => answers.push(Answer::Waiting),
            Err(err) if err.kind() == PublishErrorKind::MaxPayloadExceeded => {
                let i = i as u32;
                published
                    .refused
                    .push((i..i + 1, bounded_text(err.to_string().as_bytes())));
                answers.push(Answer::Settled);
            }
            Err(err) => {
                answers.push(Answer::Failed {
                    reason: format!(
                        "publish failed: {}",
                        bounded_text(err.to_string().as_bytes())
                    ),
                    stream_missing: false,
                });
                break;
            }
        }
    }
    // Past one message's deadline the rest are not waited for: the retry
    // starts at the first message not stored anyway.
    while answers.waiting > 0 && answers.take_one().await {}
    let mut answers = answers.answers;
    // The first message not stored decides where the retry starts.
    let first_unsettled = answers.iter().position(|answer| *answer != Answer::Settled);
    published.failed_at = match first_unsettled {
        Some(at) => Some((
            at as u32,
            match answers.swap_remove(at) {
                Answer::Failed {
                    reason,
                    stream_missing,
                } => {
                    published.stream_missing = stream_missing;
                    reason
                }
                _ => format!("no acknowledgement within {:?}", limits.ack_timeout),
            },
        )),
        None if answers.len() < len as usize => Some((
            answers.len() as u32,
            "not sent: the batch was cut short".into(),
        )),
        None => None,
    };
    published
}

/// The batch's messages' answers as they come in on the reply
/// subscription.
struct Answers {
    acks: async_nats::Subscriber,
    /// By message index.
    answers: Vec<Answer>,
    /// When each message was handed to the client.
    sent_at: Vec<tokio::time::Instant>,
    /// Messages still waiting for an answer.
    waiting: usize,
    /// No message before this one is waiting.
    oldest_waiting: usize,
    ack_timeout: Duration,
}

impl Answers {
    fn new(acks: async_nats::Subscriber, len: usize, ack_timeout: Duration) -> Self {
        Self {
            acks,
            answers: Vec::with_capacity(len),
            sent_at: Vec::with_capacity(len),
            waiting: 0,
            oldest_waiting: 0,
            ack_timeout,
        }
    }

    /// The next message's answer so far (`Waiting` once it is sent).
    fn push(&mut self, answer: Answer) {
        if answer == Answer::Waiting {
            self.waiting += 1;
        }
        self.answers.push(answer);
        self.sent_at.push(tokio::time::Instant::now());
    }

    /// Waits for the next answer; `false` once the oldest message still
    /// waiting has waited `ack_timeout` since it was sent (or the
    /// connection is gone). Its deadline holds whatever else arrives.
    async fn take_one(&mut self) -> bool {
        while self
            .answers
            .get(self.oldest_waiting)
            .is_some_and(|answer| *answer != Answer::Waiting)
        {
            self.oldest_waiting += 1;
        }
        let Some(sent_at) = self.sent_at.get(self.oldest_waiting) else {
            return false;
        };
        let deadline = *sent_at + self.ack_timeout;
        let Ok(Some(message)) = tokio::time::timeout_at(deadline, self.acks.next()).await else {
            return false;
        };
        let index = message
            .subject
            .rsplit('.')
            .next()
            .and_then(|index| index.parse::<usize>().ok());
        // An answer to nothing this batch is waiting for is ignored.
        if let Some(answer) = index
            .and_then(|index| self.answers.get_mut(index))
            .filter(|answer| **answer == Answer::Waiting)
        {
            *answer = answer_of(&message);
            self.waiting -= 1;
        }
        true
    }
}

/// A JetStream publish ack (`{"stream":"S","seq":7}`) or its refusal
/// (`{"error":{"code":503,"err_code":10077,"description":"…"}}`).
#[derive(serde::Deserialize)]
struct PublishAck<'a> {
    #[serde(default, borrow)]
    error: Option<AckError<'a>>,
    #[serde(default, borrow)]
    stream: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct AckError<'a> {
    #[serde(default)]
    err_code: u64,
    #[serde(default, borrow)]
    description: Cow<'a, str>,
}

/// What one answer on the reply subject says.
fn answer_of(message: &async_nats::Message) -> Answer {
    let failed = |reason: String, stream_missing| Answer::Failed {
        reason,
        stream_missing,
    };
    match message.status {
        Some(StatusCode::NO_RESPONDERS) => {
            return failed(no_stream(), true);
        }
        Some(status) if !status.is_success() => {
            let description = message.description.as_deref().unwrap_or_default();
            return failed(
                format!(
                    "the server answered {status}: {}",
                    bounded_text(description.as_bytes())
                ),
                false,
            );
        }
        _ => {}
    }
    match serde_json::from_slice::<PublishAck>(&message.payload) {
        Ok(PublishAck {
            error: None,
            stream: Some(_),
        }) => Answer::Settled,
        Ok(PublishAck {
            error: Some(error), ..
        }) if error.err_code == STREAM_NOT_FOUND => failed(no_stream(), true),
        Ok(PublishAck {
            error: Some(error), ..
        }) => failed(
            format!(
                "no acknowledgement: {} (JetStream error {})",
                bounded_text(error.description.as_bytes()),
                error.err_code
            ),
            false,
        ),
        _ => failed(
            format!(
                "no acknowledgement: the answer is not a JetStream ack: {}",
                bounded_text(&message.payload)
            ),
            false,
        ),
    }
}

fn no_stream() -> String {
    "no JetStream stream captures this subject; create one, or set `stream` so the sink creates it"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::RecordResults;

    #[test]
    fn messages_carry_each_record_its_subject_and_id() {
        let subject = FieldTemplate::parse("logs.{service}").unwrap();
        let records = [
            r#"{"service":"api","n":1}"#,
            r#"{"service":"api","n":2}"#,
            r#"{"service":"db.main","n":3}"#,
            r#"{"n":4}"#,
            r#"{"service":"api","n":5}"#,
        ];
        let batch = Batch::from_records(records.iter().map(|r| r.as_bytes()), 40);
        let built: Vec<Message> = messages(&batch, &subject, "run", true).collect();
        let subjects: Vec<&str> = built.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "logs.api",
                "logs.api",
                "logs.db_main",
                "logs.unknown",
                "logs.api"
            ]
        );
        for (i, (message, record)) in built.into_iter().zip(records).enumerate() {
            assert_eq!(message.payload, record.as_bytes());
            let id = message.headers.as_ref().unwrap().get("Nats-Msg-Id");
            assert_eq!(id.unwrap().as_str(), format!("run-{}", 40 + i));
        }
        let plain = messages(&batch, &subject, "run", false).next().unwrap();
        assert!(plain.headers.is_none());
    }

    #[test]
    fn field_values_cannot_add_subject_tokens_or_wildcards() {
        assert_eq!(subject_token("a.b *>c"), "a_b___c");
        assert_eq!(subject_token(""), "unknown");
    }

    #[test]
    fn outcomes_keep_refusals_before_the_first_failure() {
        let published = Published {
            refused: vec![(1..2, "too big".into()), (5..6, "too big".into())],
            failed_at: Some((3, "timed out".into())),
            stream_missing: false,
        };
        assert_eq!(
            published.outcome(8),
            WriteOutcome::Records(
                RecordResults::new()
                    .rejected(1..2, "too big")
                    .retryable(3..8, "timed out")
            )
        );
        assert_eq!(Published::default().outcome(4), WriteOutcome::Accepted);
    }

    fn reply(payload: &str, status: Option<StatusCode>) -> async_nats::Message {
        async_nats::Message {
            subject: "_INBOX.x.3".into(),
            reply: None,
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            headers: None,
            status,
            description: Some("no stream\x1b[2J".into()),
            length: payload.len(),
        }
    }

    #[test]
    fn answers_are_read_as_jetstream_writes_them() {
        let answer = |payload, status| answer_of(&reply(payload, status));
        assert_eq!(
            answer(r#"{"stream":"LOGS","seq":7}"#, None),
            Answer::Settled
        );
        assert_eq!(
            answer(
                r#"{"stream":"LOGS","domain":"hub","seq":7,"duplicate":true}"#,
                None
            ),
            Answer::Settled
        );
        let Answer::Failed {
            reason,
            stream_missing: false,
        } = answer(
            r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#,
            None,
        )
        else {
            panic!("an error is a failure");
        };
        assert!(
            reason.contains("maximum messages exceeded") && reason.contains("10077"),
            "{reason}"
        );
        for missing in [
            answer("", Some(StatusCode::NO_RESPONDERS)),
            answer(
                r#"{"error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
                None,
            ),
        ] {
            assert!(
                matches!(
                    missing,
                    Answer::Failed {
                        stream_missing: true,
                        ..
                    }
                ),
                "{missing:?}"
            );
        }
        // Anything else fails, its text bounded and escaped.
        for (payload, status) in [
            ("{}", None),
            ("not json", None),
            ("", Some(StatusCode::TIMEOUT)),
        ] {
            let Answer::Failed {
                reason,
                stream_missing: false,
            } = answer(payload, status)
            else {
                panic!("{payload:?} is not an ack");
            };
            assert!(!reason.contains('\x1b'), "{reason}");
        }
    }
}
