//! JetStream layout: one stream of domain events, subjects
//! `vitrine.events.<aggregate>.<id>`, and one stream of live notices.

use crate::config::NatsSettings;
use async_nats::jetstream::{self, consumer, stream};
use std::time::Duration;

pub const EVENT_SUBJECTS: &str = "vitrine.events.>";
pub const LIVE_SUBJECT: &str = "vitrine.live";

pub fn event_subject(aggregate_type: &str, aggregate_id: &str) -> String {
    format!("vitrine.events.{aggregate_type}.{aggregate_id}")
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
        // the event id as Nats-Msg-Id makes that a no-op.
        duplicate_window: Duration::from_secs(120),
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
    events
        .create_consumer(consumer::pull::Config {
            durable_name: Some(name.to_owned()),
            filter_subjects: filter_subjects.iter().map(|s| (*s).to_owned()).collect(),
            ack_policy: consumer::AckPolicy::Explicit,
            deliver_policy: consumer::DeliverPolicy::All,
            ack_wait,
            // Never give up redelivering: a message JetStream stops
            // redelivering would be skipped silently.
            max_deliver: -1,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::Setup(e.to_string()))
}
