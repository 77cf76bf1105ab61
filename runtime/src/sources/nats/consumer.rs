//! The running `nats` source: on a runtime and thread of its own, one task
//! asks the durable consumer for batches of messages and emits their
//! records with an end-to-end acknowledgement; another waits for each
//! batch's acknowledgement in order and then acknowledges its messages on
//! the server. While a batch waits (a slow or failing destination), its
//! messages are kept in progress so the server does not deliver them
//! again; when a sink lost records, they are negatively acknowledged with
//! `nak_delay` so they come back later, not in a storm.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, Consumer};
use futures_util::StreamExt;

use super::NatsSourceOptions;
use super::invalid_message::InvalidMessages;
use super::message_record::{Origin, record};
use crate::acknowledgement::Acknowledgement;
use crate::pipeline::{EmitError, Pipeline};
use crate::sources::RunningSource;
use crate::sources::running_source::Serving;
use crate::sources::running_source::source_runtime;
use crate::sources::util::stats::Counters;

/// Batches emitted and waiting for their acknowledgement at once, beyond
/// which asking for more waits.
const BATCHES_IN_FLIGHT: usize = 4;

/// How long a stopping source waits for the batches in flight to be
/// settled before it gives their messages back to the server.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts a `nats` source named `name` feeding `pipeline`: it connects and
/// finds (or creates) the consumer before returning, so a server that
/// cannot be reached or a consumer that does not fit is an error here.
pub fn start(
    name: &str,
    pipeline: Pipeline,
    options: NatsSourceOptions,
) -> Result<RunningSource, String> {
    let runtime = source_runtime(name)?;
    let consumer = runtime
        .block_on(async {
            tokio::time::timeout(options.server.connect_timeout * 2, consumer_of(&options))
                .await
                .unwrap_or_else(|_| Err(format!("cannot reach {} in time", options.server.url)))
        })
        .map_err(|why| format!("source `{name}`: {why}"))?;
    let counters = Arc::new(Counters::default());
    let what = format!(
        "nats {} stream {} as consumer {}",
        options.server.url, options.stream, options.consumer
    );
    let invalid = Arc::new(InvalidMessages::new(pipeline.data_dir(), name));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let run = Consuming {
        name: name.to_owned(),
        pipeline,
        options,
        counters: counters.clone(),
        invalid,
    };
    let thread = std::thread::Builder::new()
        .name(format!("source-{name}"))
        .spawn(move || runtime.block_on(run.consume(consumer, stopped)))
        .map_err(|e| format!("source `{name}`: cannot start its thread: {e}"))?;
    Ok(RunningSource::new(
        name,
        Serving::Consuming { what },
        counters,
        stop,
        thread,
    ))
}

/// The durable consumer, created when told to, and checked: it must ask
/// for explicit acknowledgements, or acknowledging after delivery would
/// mean nothing.
async fn consumer_of(options: &NatsSourceOptions) -> Result<PullConsumer, String> {
    let client = crate::sinks::nats::connection::connect(&options.server, false).await?;
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .get_stream(&options.stream)
        .await
        .map_err(|e| format!("cannot find the stream `{}`: {e}", options.stream))?;
    let mut consumer: Consumer<PullConfig> = if options.create_consumer {
        let mut config = PullConfig {
            durable_name: Some(options.consumer.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: options.ack_wait,
            max_ack_pending: options.max_ack_pending,
            ..Default::default()
        };
        // One subject works on every server; several need 2.10.
        match options.filter_subjects.as_slice() {
            [] => {}
            [one] => config.filter_subject = one.clone(),
            several => config.filter_subjects = several.to_vec(),
        }
        stream
            .get_or_create_consumer(&options.consumer, config)
            .await
            .map_err(|e| format!("cannot create the consumer `{}`: {e}", options.consumer))?
    } else {
        stream.get_consumer(&options.consumer).await.map_err(|e| {
            format!(
                "cannot find the consumer `{}` on `{}` ({e}); create it, or set create_consumer = true",
                options.consumer, options.stream
            )
        })?
    };
    let info = consumer
        .info()
        .await
        .map_err(|e| format!("cannot read the consumer `{}`: {e}", options.consumer))?;
    if info.config.ack_policy != AckPolicy::Explicit {
        return Err(format!(
            "the consumer `{}` does not ask for explicit acknowledgements (ack_policy {:?}); sinkbox acknowledges each message once it is delivered",
            options.consumer, info.config.ack_policy
        ));
    }
    Ok(consumer)
}

/// Messages whose records were emitted together, and the acknowledgement
/// that says when they are settled.
struct InFlight {
    ack: Acknowledgement,
    messages: Vec<Message>,
    queued: Instant,
    /// A place among the batches in flight, freed once settled.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// What became of a fetched batch.
enum Emitted {
    /// Its records wait for their acknowledgement.
    Waiting(InFlight),
    /// None of its messages was a record.
    Nothing,
    /// The source is stopping or the pipeline is gone; its messages were
    /// given back.
    Stopped,
}

struct Consuming {
    name: String,
    pipeline: Pipeline,
    options: NatsSourceOptions,
    counters: Arc<Counters>,
    invalid: Arc<InvalidMessages>,
}

impl Consuming {
    async fn consume(self, consumer: PullConsumer, mut stop: tokio::sync::watch::Receiver<bool>) {
        let this = Arc::new(self);
        // Every batch emitted is with the acknowledging task at once (so its
        // messages are kept in progress); the permits bound how many.
        let (in_flight, waiting) = tokio::sync::mpsc::unbounded_channel::<InFlight>();
        let acker = tokio::spawn(this.clone().acknowledge(waiting, stop.clone()));
        let permits = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
        let mut failures = 0u32;
        loop {
            let permit = tokio::select! {
                _ = stop.changed() => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let batch = tokio::select! {
                _ = stop.changed() => break,
                batch = consumer
                    .fetch()
                    .max_messages(this.options.batch_size)
                    .expires(this.options.batch_expiry)
                    .messages() => batch,
            };
            let mut messages = match batch {
                Ok(messages) => messages,
                Err(e) => {
                    failures += 1;
                    if failures.is_power_of_two() {
                        tracing::warn!(source = %this.name, "cannot fetch messages ({failures} times): {e}");
                    }
                    tokio::select! {
                        _ = stop.changed() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    }
                }
            };
            failures = 0;
            let mut fetched = Vec::with_capacity(this.options.batch_size);
            while let Some(message) = messages.next().await {
                match message {
                    Ok(message) => fetched.push(message),
                    Err(e) => {
                        tracing::debug!(source = %this.name, "a fetch ended early: {e}");
                        break;
                    }
                }
            }
            if fetched.is_empty() {
                continue;
            }
            match this.emit(fetched, permit, &mut stop).await {
                Emitted::Waiting(flight) => {
                    if in_flight.send(flight).is_err() {
                        break;
                    }
                }
                Emitted::Nothing => {}
                Emitted::Stopped => break,
            }
        }
        drop(in_flight);
        let _ = acker.await;
    }

    /// Emits the records of `fetched` with one acknowledgement; terminates
    /// (and keeps in the dead letters) the messages that are not records.
    async fn emit(
        &self,
        fetched: Vec<Message>,
        permit: tokio::sync::OwnedSemaphorePermit,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Emitted {
        Counters::bump(&self.counters.requests, fetched.len() as u64);
        let mut records = Vec::with_capacity(fetched.len());
        let mut messages = Vec::with_capacity(fetched.len());
        for message in fetched {
            Counters::bump(&self.counters.bytes, message.payload.len() as u64);
            let (stream, stream_sequence, delivered) = match message.info() {
                Ok(info) => (info.stream.to_owned(), info.stream_sequence, info.delivered),
                Err(_) => (self.options.stream.clone(), 0, 1),
            };
            let origin = Origin {
                stream: &stream,
                subject: message.subject.as_str(),
                stream_sequence,
                delivered,
            };
            match record(
                &message.payload,
                self.options.metadata_field.as_deref(),
                &origin,
            ) {
                Ok(bytes) => {
                    records.push(bytes);
                    messages.push(message);
                }
                Err(why) => {
                    Counters::bump(&self.counters.bad_requests, 1);
                    let why = format!("not a record: {why}");
                    self.invalid.keep(
                        &message.payload,
                        message.subject.as_str(),
                        stream_sequence,
                        &why,
                    );
                    let _ = message.ack_with(AckKind::Term).await;
                }
            }
        }
        if records.is_empty() {
            return Emitted::Nothing;
        }
        let count = records.len() as u64;
        let records = Arc::new(records);
        loop {
            let pipeline = self.pipeline.clone();
            let batch = records.clone();
            let emitted = tokio::task::spawn_blocking(move || {
                pipeline.try_emit_checked_acknowledged(batch.iter())
            })
            .await;
            match emitted {
                Ok(Ok(ack)) => {
                    Counters::bump(&self.counters.records, count);
                    return Emitted::Waiting(InFlight {
                        ack,
                        messages,
                        queued: Instant::now(),
                        _permit: permit,
                    });
                }
                Ok(Err(EmitError::Full(_))) => {
                    // The pipeline pushes back: hold the messages (in
                    // progress, so the server does not send them again)
                    // and try again shortly.
                    for message in &messages {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                    tokio::select! {
                        _ = stop.changed() => {
                            give_back(&messages, None).await;
                            return Emitted::Stopped;
                        }
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    }
                }
                _ => {
                    give_back(&messages, None).await;
                    return Emitted::Stopped;
                }
            }
        }
    }

    /// Acknowledges each batch's messages on the server once its records
    /// are settled, in order, and keeps every batch still waiting in
    /// progress on the server.
    async fn acknowledge(
        self: Arc<Self>,
        mut arriving: tokio::sync::mpsc::UnboundedReceiver<InFlight>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        // The server's deadline is extended well before it passes.
        let progress_every = (self.options.ack_wait / 3).max(Duration::from_millis(100));
        let mut next_progress = Instant::now() + progress_every;
        let mut stopping_since: Option<Instant> = None;
        let mut waiting: std::collections::VecDeque<InFlight> = std::collections::VecDeque::new();
        let mut open = true;
        loop {
            if waiting.is_empty() {
                if !open {
                    break;
                }
                match arriving.recv().await {
                    Some(flight) => waiting.push_back(flight),
                    None => break,
                }
            }
            while let Ok(flight) = arriving.try_recv() {
                waiting.push_back(flight);
            }
            if stopping_since.is_none() && *stop.borrow_and_update() {
                stopping_since = Some(Instant::now());
            }
            let mut wait = next_progress.saturating_duration_since(Instant::now());
            if let Some(since) = stopping_since {
                wait = wait.min(STOP_GRACE.saturating_sub(since.elapsed()));
            }
            let head = waiting.pop_front().expect("one is waiting");
            let InFlight {
                ack,
                messages,
                queued,
                _permit,
            } = head;
            let (report, ack) = tokio::task::spawn_blocking(move || (ack.wait(wait), ack))
                .await
                .expect("waiting does not panic");
            match report {
                Some(report) if report.lost == 0 => {
                    for message in &messages {
                        let _ = message.ack().await;
                    }
                    Counters::bump(&self.counters.accepted, messages.len() as u64);
                    self.counters.acknowledged_after(queued.elapsed());
                }
                Some(report) => {
                    tracing::warn!(
                        source = %self.name,
                        "a sink lost {} records; their messages come back after {:?}",
                        report.lost,
                        self.options.nak_delay
                    );
                    Counters::bump(&self.counters.unavailable, messages.len() as u64);
                    give_back(&messages, Some(self.options.nak_delay)).await;
                }
                None if stopping_since.is_some_and(|since| since.elapsed() >= STOP_GRACE) => {
                    // Stopping, and not settled in time: every batch still
                    // waiting goes back to the server now, for another
                    // process to take.
                    let rest =
                        std::iter::once(messages).chain(waiting.drain(..).map(|f| f.messages));
                    for messages in rest {
                        Counters::bump(&self.counters.unavailable, messages.len() as u64);
                        give_back(&messages, None).await;
                    }
                    open = false;
                    arriving.close();
                }
                None => {
                    waiting.push_front(InFlight {
                        ack,
                        messages,
                        queued,
                        _permit,
                    });
                    if Instant::now() >= next_progress {
                        for flight in &waiting {
                            for message in &flight.messages {
                                let _ = message.ack_with(AckKind::Progress).await;
                            }
                        }
                        next_progress = Instant::now() + progress_every;
                    }
                }
            }
        }
    }
}

/// Negatively acknowledges `messages`: delivered again after `delay`
/// (at once without).
async fn give_back(messages: &[Message], delay: Option<Duration>) {
    for message in messages {
        let _ = message.ack_with(AckKind::Nak(delay)).await;
    }
}
