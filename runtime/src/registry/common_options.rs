//! The options every sink accepts, whatever its type: queueing, retries,
//! dead letters, start and reload behaviour.

use super::option_spec::{OptionKind, OptionSpec};

/// Options every sink accepts, whatever its type.
pub const COMMON_OPTIONS: &[OptionSpec] = &[
    OptionSpec::new("queue_capacity", OptionKind::Integer)
        .default("64")
        .help("batches the sink's queue holds"),
    OptionSpec::new(
        "overflow",
        OptionKind::Choice(&["block", "drop_newest", "drop_oldest"]),
    )
    .default("block")
    .help("what a full queue does: wait, or drop the newest or oldest batch"),
    OptionSpec::new("max_retries", OptionKind::Integer)
        .help("retries of one batch answered retryable or partial before it is dead-lettered; unset: no count, max_retry_duration decides"),
    OptionSpec::new("max_retry_duration", OptionKind::Duration)
        .help("how long the sink may deliver nothing (an outage) before a batch that fails is dead-lettered instead of retried; unset: 5m, or as long as the disk buffer holds for a sink with `buffer`. Waiting on an open circuit breaker is not a retry"),
    OptionSpec::new("initial_backoff", OptionKind::Duration)
        .default("100ms")
        .help("wait before the first retry, doubled each retry"),
    OptionSpec::new("max_backoff", OptionKind::Duration)
        .default("5s")
        .help("upper bound of that wait"),
    OptionSpec::new("max_restarts", OptionKind::Integer)
        .default("3")
        .help("restarts of a failed sink for one batch before it is dead-lettered"),
    OptionSpec::new("dead_letter_max_bytes", OptionKind::Size)
        .default("256MiB")
        .help("cap on the sink's dead-letter files together; past it the oldest file is deleted and its records counted as dropped"),
    OptionSpec::new("optional", OptionKind::Bool)
        .default("false")
        .help("if `start` fails at boot, run without the sink (reported unhealthy) and retry `start` with back-off, instead of refusing to run"),
    OptionSpec::new("rollback_batches", OptionKind::Integer)
        .default("3")
        .help("after a hot reload, a fault (trap, deadline, memory, fatal) within this many batches swaps the previous module back; 0 turns rollback off"),
    OptionSpec::new("buffer", OptionKind::Table)
        .help("{ type = \"disk\", max_size = \"1GiB\", when_full = \"block\" | \"drop_newest\", sync = \"batch\" | \"interval\", max_age = \"10m\", max_age_action = \"degrade\" | \"dead_letter\" }: batches go to files under <data_dir>/buffer/<sink>/ first and survive outages, restarts and kill -9 (see reliability.md); unset: the memory queue only"),
    OptionSpec::new("when", OptionKind::Text("a condition on record fields, such as 'level >= \"warn\" and service == \"api\"'"))
        .help("only records this condition keeps reach the sink (see Routing in configuration.md); the sink numbers the records it takes from 0"),
];

/// Whether every sink accepts `option`.
pub(crate) fn is_common_option(option: &str) -> bool {
    COMMON_OPTIONS.iter().any(|spec| spec.name == option)
}
