//! The relay: publishes outbox rows to JetStream, in commit order per
//! aggregate, and deletes each row only after JetStream acknowledged it.
//!
//! It scans the outbox rather than reading past a cursor, so a row committed
//! late by a slower transaction is never skipped. A crash between publish and
//! delete re-publishes the row; JetStream drops it as a duplicate because the
//! message id is the event id.

use super::jetstream::event_subject;
use super::status::PipelineStatus;
use crate::store::write::WriteStore;
use async_nats::jetstream::{self, message::PublishMessage};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Wakes the relay right after a commit, so publishing does not wait for a scan.
#[derive(Clone, Default)]
pub struct RelayWaker(Arc<Notify>);

impl RelayWaker {
    pub fn wake(&self) {
        // notify_one keeps a permit if the relay is busy: no wake-up is lost.
        self.0.notify_one();
    }
    async fn woken(&self) {
        self.0.notified().await;
    }
}

pub struct Relay {
    pub store: WriteStore,
    pub js: jetstream::Context,
    pub waker: RelayWaker,
    pub status: Arc<PipelineStatus>,
    pub batch: usize,
    pub scan_interval: Duration,
}

impl Relay {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.round().await {
                Ok(published) => {
                    self.status.relay_failing.store(false, Ordering::Relaxed);
                    self.status.relay_beat();
                    backoff = Duration::from_millis(50);
                    if published == self.batch {
                        continue; // more may be waiting
                    }
                    tokio::select! {
                        _ = self.waker.woken() => {}
                        _ = tokio::time::sleep(self.scan_interval) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
                Err(e) => {
                    self.status.relay_failing.store(true, Ordering::Relaxed);
                    tracing::warn!(error = %e, retry_in = ?backoff, "relay round failed; the outbox keeps the events");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Publishes one batch; returns how many rows it published.
    async fn round(&self) -> Result<usize, RelayError> {
        let started = std::time::Instant::now();
        let rows = self.store.outbox_batch(self.batch).await?;
        let scanned = started.elapsed();
        if rows.is_empty() {
            self.status.relay_backlog.store(0, Ordering::Relaxed);
            return Ok(0);
        }
        // Publish the whole batch pipelined, then collect the acks in order.
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = &row.event;
            let payload = serde_json::to_vec(event).map_err(RelayError::Encode)?;
            let subject = event_subject(event.aggregate_type.as_str(), &event.aggregate_id);
            let ack = self
                .js
                .send_publish(
                    subject,
                    PublishMessage::build()
                        .payload(payload.into())
                        .message_id(event.event_id.to_string()),
                )
                .await
                .map_err(|e| RelayError::Publish(e.to_string()))?;
            pending.push((event.event_id.to_string(), ack));
        }
        let mut acked = Vec::with_capacity(pending.len());
        let mut failure = None;
        for (event_id, ack) in pending {
            match ack.await {
                Ok(_) => acked.push(event_id),
                Err(e) => {
                    failure = Some(RelayError::Publish(e.to_string()));
                    break;
                }
            }
        }
        let published = started.elapsed();
        self.store.delete_outbox(&acked).await?;
        tracing::debug!(rows = rows.len(), ?scanned, ?published, deleted = ?started.elapsed(), "relay round");
        // Counting the outbox costs a scan: only when a full batch says more
        // may be waiting, not on every round of the hot path.
        let left = if failure.is_none() && rows.len() < self.batch {
            0
        } else {
            self.store.outbox_len().await.unwrap_or(rows.len() as u64)
        };
        self.status.relay_backlog.store(left, Ordering::Relaxed);
        match failure {
            Some(e) => Err(e),
            None => Ok(acked.len()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot encode event: {0}")]
    Encode(serde_json::Error),
    #[error("JetStream did not take the event: {0}")]
    Publish(String),
}
