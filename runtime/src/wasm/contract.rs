//! Which version of the sink contract a component speaks, and calling it
//! in that version. The host serves `sinkbox:sink@0.1.0` components as
//! before and `@0.2.0` ones with their per-record answers; every answer is
//! lifted (its texts bounded and escaped) into the one native outcome the
//! pipeline knows.

use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::bindings::{v0_1, v0_2};
use super::guest_text::lift_guest_text;
use super::host_state::HostState;
use crate::batch::Batch;
use crate::sink::{FlushOutcome, Health, RecordResult, RecordResults, WriteOutcome};

/// A version of the sink contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ContractVersion {
    /// `sinkbox:sink@0.1.0`: whole-batch outcomes only.
    #[serde(rename = "0.1.0")]
    V0_1,
    /// `sinkbox:sink@0.2.0`: per-record results, drops, indeterminate
    /// sends, a server's wait, warnings.
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl ContractVersion {
    /// The interface a component of this version exports.
    pub fn interface(self) -> &'static str {
        match self {
            ContractVersion::V0_1 => "sinkbox:sink/sink@0.1.0",
            ContractVersion::V0_2 => "sinkbox:sink/sink@0.2.0",
        }
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.interface())
    }
}

/// A component linked once, in the version it exports.
pub(crate) enum ContractPre {
    V0_1(v0_1::SinkWorldPre<HostState>),
    V0_2(v0_2::SinkWorldPre<HostState>),
}

impl ContractPre {
    /// The component's sink export, in the newest version it has; why it
    /// fits neither otherwise.
    pub fn new(instance_pre: InstancePre<HostState>) -> Result<Self, String> {
        match v0_2::SinkWorldPre::new(instance_pre.clone()) {
            Ok(pre) => Ok(Self::V0_2(pre)),
            Err(newest) => v0_1::SinkWorldPre::new(instance_pre)
                .map(Self::V0_1)
                .map_err(|_| super::describe(newest)),
        }
    }

    /// The version the component speaks.
    pub fn version(&self) -> ContractVersion {
        match self {
            ContractPre::V0_1(_) => ContractVersion::V0_1,
            ContractPre::V0_2(_) => ContractVersion::V0_2,
        }
    }

    /// A new instance in `store`.
    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            ContractPre::V0_1(pre) => Guest::V0_1(pre.instantiate_async(store).await?),
            ContractPre::V0_2(pre) => Guest::V0_2(pre.instantiate_async(store).await?),
        })
    }
}

/// A running instance, in the version it speaks.
pub(crate) enum Guest {
    V0_1(v0_1::SinkWorld),
    V0_2(v0_2::SinkWorld),
}

impl Guest {
    /// `start(config)`: the guest's refusal, if it refused.
    pub async fn start(
        &self,
        store: &mut Store<HostState>,
        config: &[(&str, &str)],
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Guest::V0_1(world) => {
                world
                    .sinkbox_sink0_1_0_sink()
                    .call_start(store, config)
                    .await
            }
            Guest::V0_2(world) => {
                world
                    .sinkbox_sink0_2_0_sink()
                    .call_start(store, config)
                    .await
            }
        }
    }

    /// `write(batch)`, its answer lifted.
    pub async fn write(
        &self,
        store: &mut Store<HostState>,
        batch: &Batch,
    ) -> wasmtime::Result<WriteOutcome> {
        match self {
            Guest::V0_1(world) => {
                let arg = v0_1::Batch {
                    records: batch.bytes(),
                    count: batch.len(),
                    first_sequence: batch.first_sequence(),
                };
                let answer = world
                    .sinkbox_sink0_1_0_sink()
                    .call_write(store, arg)
                    .await?;
                Ok(lift_v0_1(answer))
            }
            Guest::V0_2(world) => {
                let arg = v0_2::Batch {
                    records: batch.bytes(),
                    count: batch.len(),
                    first_sequence: batch.first_sequence(),
                };
                let answer = world
                    .sinkbox_sink0_2_0_sink()
                    .call_write(store, arg)
                    .await?;
                Ok(lift_v0_2(answer, batch.len()))
            }
        }
    }

    /// `flush()`, its answer lifted.
    pub async fn flush(&self, store: &mut Store<HostState>) -> wasmtime::Result<FlushOutcome> {
        Ok(match self {
            Guest::V0_1(world) => match world.sinkbox_sink0_1_0_sink().call_flush(store).await? {
                v0_1::FlushOutcome::Done => FlushOutcome::Done,
                v0_1::FlushOutcome::Retryable(why) => {
                    FlushOutcome::Retryable(lift_guest_text(&why))
                }
                v0_1::FlushOutcome::Fatal(why) => FlushOutcome::Fatal(lift_guest_text(&why)),
            },
            Guest::V0_2(world) => match world.sinkbox_sink0_2_0_sink().call_flush(store).await? {
                v0_2::FlushOutcome::Done => FlushOutcome::Done,
                v0_2::FlushOutcome::Retryable(why) => {
                    FlushOutcome::Retryable(lift_guest_text(&why))
                }
                v0_2::FlushOutcome::Fatal(why) => FlushOutcome::Fatal(lift_guest_text(&why)),
            },
        })
    }

    /// `stop()`.
    pub async fn stop(&self, store: &mut Store<HostState>) -> wasmtime::Result<()> {
        match self {
            Guest::V0_1(world) => world.sinkbox_sink0_1_0_sink().call_stop(store).await,
            Guest::V0_2(world) => world.sinkbox_sink0_2_0_sink().call_stop(store).await,
        }
    }

    /// `health()`, lifted.
    pub async fn health(&self, store: &mut Store<HostState>) -> wasmtime::Result<Health> {
        Ok(match self {
            Guest::V0_1(world) => match world.sinkbox_sink0_1_0_sink().call_health(store).await? {
                v0_1::HealthStatus::Healthy => Health::Healthy,
                v0_1::HealthStatus::Degraded(why) => Health::Degraded(lift_guest_text(&why)),
                v0_1::HealthStatus::Unhealthy(why) => Health::Unhealthy(lift_guest_text(&why)),
            },
            Guest::V0_2(world) => match world.sinkbox_sink0_2_0_sink().call_health(store).await? {
                v0_2::HealthStatus::Healthy => Health::Healthy,
                v0_2::HealthStatus::Degraded(why) => Health::Degraded(lift_guest_text(&why)),
                v0_2::HealthStatus::Unhealthy(why) => Health::Unhealthy(lift_guest_text(&why)),
            },
        })
    }
}

/// A 0.1 answer as a native outcome.
fn lift_v0_1(answer: v0_1::WriteOutcome) -> WriteOutcome {
    match answer {
        v0_1::WriteOutcome::Accepted => WriteOutcome::Accepted,
        v0_1::WriteOutcome::Retryable(why) => WriteOutcome::Retryable(lift_guest_text(&why)),
        v0_1::WriteOutcome::Rejected(why) => WriteOutcome::Rejected(lift_guest_text(&why)),
        v0_1::WriteOutcome::Partial(partial) => WriteOutcome::Partial {
            accepted: partial.accepted,
            reason: lift_guest_text(&partial.reason),
        },
        v0_1::WriteOutcome::Fatal(why) => WriteOutcome::Fatal(lift_guest_text(&why)),
    }
}

/// A 0.2 answer to a batch of `len` records as a native outcome.
fn lift_v0_2(answer: v0_2::WriteOutcome, len: u32) -> WriteOutcome {
    let whole =
        |result: RecordResult| WriteOutcome::Records(RecordResults::new().with(0..len, result));
    match answer {
        v0_2::WriteOutcome::Accepted => WriteOutcome::Accepted,
        v0_2::WriteOutcome::Warning(text) => {
            WriteOutcome::Records(RecordResults::new().warning(lift_guest_text(&text)))
        }
        v0_2::WriteOutcome::Retryable(why) => WriteOutcome::Retryable(lift_guest_text(&why)),
        v0_2::WriteOutcome::RetryAfter(retry) => WriteOutcome::Records(
            RecordResults::new()
                .retryable(0..len, lift_guest_text(&retry.reason))
                .retry_after(Duration::from_millis(retry.wait_ms)),
        ),
        v0_2::WriteOutcome::Rejected(why) => WriteOutcome::Rejected(lift_guest_text(&why)),
        v0_2::WriteOutcome::Partial(partial) => WriteOutcome::Partial {
            accepted: partial.accepted,
            reason: lift_guest_text(&partial.reason),
        },
        v0_2::WriteOutcome::PerRecord(results) => {
            // Every range is kept: cutting the list would turn the records
            // of the ranges left out into deliveries. The plan clips what
            // overlaps or runs past the batch.
            let mut lifted = RecordResults::new();
            for range in results.ranges {
                lifted = lifted.with(range.start..range.end, lift_record_result(range.outcome));
            }
            if let Some(wait) = results.retry_after_ms {
                lifted = lifted.retry_after(Duration::from_millis(wait));
            }
            if let Some(text) = results.warning {
                lifted = lifted.warning(lift_guest_text(&text));
            }
            WriteOutcome::Records(lifted)
        }
        v0_2::WriteOutcome::Dropped(dropped) => whole(RecordResult::Dropped {
            dropped: dropped.count,
            reason: lift_guest_text(&dropped.reason),
        }),
        v0_2::WriteOutcome::Indeterminate(why) => {
            whole(RecordResult::Indeterminate(lift_guest_text(&why)))
        }
        v0_2::WriteOutcome::Fatal(why) => WriteOutcome::Fatal(lift_guest_text(&why)),
    }
}

fn lift_record_result(result: v0_2::RecordResult) -> RecordResult {
    match result {
        v0_2::RecordResult::Retryable(why) => RecordResult::Retryable(lift_guest_text(&why)),
        v0_2::RecordResult::Rejected(why) => RecordResult::Rejected(lift_guest_text(&why)),
        v0_2::RecordResult::Dropped(dropped) => RecordResult::Dropped {
            dropped: dropped.count,
            reason: lift_guest_text(&dropped.reason),
        },
        v0_2::RecordResult::Indeterminate(why) => {
            RecordResult::Indeterminate(lift_guest_text(&why))
        }
    }
}
