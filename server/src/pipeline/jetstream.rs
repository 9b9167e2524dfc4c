//! JetStream layout: one stream of domain events and one of live notices.
//!
//! Events are published to `vitrine.events.<aggregate>.<id>`; the stream's
//! subject transform stores them as `vitrine.events.<aggregate>.<p>.<id>`,
//! `p` a hash of the id modulo the partition count, so each read model has
//! one consumer per partition and an aggregate's events stay in one (a
//! product and its inventory share an id, hence a partition).

use crate::config::NatsSettings;
use async_nats::jetstream::{self, consumer, stream};
use std::time::Duration;

pub const EVENT_SUBJECTS: &str = "vitrine.events.>";
pub const LIVE_SUBJECT: &str = "vitrine.live";

pub fn event_subject(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("vitrine.events.{aggregate_type}.{aggregate_id}")
}

/// The stored subjects of one aggregate type's events in one partition.
pub fn partition_subject(aggregate_type: &str, partition: u16) -> String {
    format!("vitrine.events.{aggregate_type}.{partition}.*")
}

fn partition_transform(partitions: u16) -> stream::SubjectTransform {
    stream::SubjectTransform {
        source: "vitrine.events.*.*".into(),
        destination: format!(
            "vitrine.events.{{{{wildcard(1)}}}}.{{{{partition({partitions},2)}}}}.{{{{wildcard(2)}}}}"
        ),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot set up JetStream: {0}")]
    Setup(String),
}

pub async fn connect(url: &str) -> Result<async_nats::Client, BusError> {
    async_nats::ConnectOptions::new()
        .name("vitrine")
        // Keep retrying forever: commands keep working while NATS is down,
        // the outbox holds the backlog.
        .max_reconnects(None)
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|e| BusError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

/// Creates or updates both streams; safe to run at every start.
pub async fn ensure_streams(
    js: &jetstream::Context,
    settings: &NatsSettings,
    partitions: u16,
) -> Result<(stream::Stream, stream::Stream), BusError> {
    js.create_or_update_stream(stream::Config {
        name: settings.events_stream.clone(),
        subjects: vec![EVENT_SUBJECTS.into()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        // Keep the whole history: read models are rebuilt from it.
        max_age: Duration::ZERO,
        max_messages: -1,
        max_bytes: -1,
        // The relay re-publishes after a crash between publish and delete;
        // the event id as Nats-Msg-Id makes that a no-op within the window.
        duplicate_window: Duration::from_secs(settings.duplicate_window_secs.max(1)),
        subject_transform: Some(partition_transform(partitions)),
        ..Default::default()
    })
    .await
    .map_err(|e| BusError::Setup(e.to_string()))?;
    js.create_or_update_stream(stream::Config {
        name: settings.live_stream.clone(),
        subjects: vec![LIVE_SUBJECT.into()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_messages: settings.live_history,
        max_age: Duration::from_secs(24 * 3600),
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    })
    .await
    .map_err(|e| BusError::Setup(e.to_string()))?;
    let events = js
        .get_stream(&settings.events_stream)
        .await
        .map_err(|e| BusError::Setup(e.to_string()))?;
    let live = js
        .get_stream(&settings.live_stream)
        .await
        .map_err(|e| BusError::Setup(e.to_string()))?;
    Ok((events, live))
}

/// The durable pull consumer of one read model (or process manager).
pub async fn durable_consumer(
    events: &stream::Stream,
    name: &str,
    filter_subjects: &[&str],
    ack_wait: Duration,
) -> Result<consumer::PullConsumer, BusError> {
    let filters = filter_subjects.iter().map(|s| (*s).to_owned()).collect();
    partition_consumer(events, name, filters, 1, ack_wait).await
}

/// The durable pull consumer of one partition of a read model (or of the
/// process manager), starting at `start_sequence` when it is created.
///
/// `max_deliver` is unlimited: JetStream giving up would skip an event with
/// only an advisory; the projector parks failing events itself, durably.
/// Redelivery after a failure is paced by the projector's delayed negative
/// acks (0.5 s doubling to 30 s), not by a consumer `backoff`, which would
/// also slow redelivery after a crash. `ack_wait` covers a batch's commit.
pub async fn partition_consumer(
    events: &stream::Stream,
    name: &str,
    filter_subjects: Vec<String>,
    start_sequence: u64,
    ack_wait: Duration,
) -> Result<consumer::PullConsumer, BusError> {
    events
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name.to_owned()),
            filter_subjects,
            ack_policy: consumer::AckPolicy::Explicit,
            deliver_policy: if start_sequence <= 1 {
                consumer::DeliverPolicy::All
            } else {
                consumer::DeliverPolicy::ByStartSequence { start_sequence }
            },
            ack_wait,
            max_deliver: -1,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::Setup(e.to_string()))
}
