//! `cloudwatch`: records to AWS CloudWatch Logs, within its limits.

pub(crate) mod config;
pub(crate) mod credentials;
pub(crate) mod event_batches;
pub(crate) mod logs_api;
pub(crate) mod sink;

pub use credentials::AwsCredentials;
pub use sink::{CloudWatchSink, CloudWatchSinkOptions, OversizedEventAction};
