//! The relay: publishes outbox rows to JetStream, in commit order per
//! aggregate, and deletes each row only after JetStream acknowledged it.
//!
//! The hot path: the command bus hands the events it just committed to the
//! relay in-process ([`RelayWaker::hand_off`]), so publishing costs no read
//! of the outbox. The outbox stays the source of truth: at start, and every
//! `scan_interval` while idle, the relay scans it for rows older than that
//! interval — events committed by another process, or whose hand-off was lost
//! in a crash or a failed publish — and publishes those. A crash between
//! publish and delete re-publishes a row; JetStream drops it as a duplicate
//! because the message id is the event id.

use super::jetstream::event_subject;
use super::status::PipelineStatus;
use crate::store::write::WriteStore;
use async_nats::jetstream::{self, message::PublishMessage};
use domain::StoredEvent;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Beyond this many events waiting in memory, hand-offs are dropped: the
/// outbox still has them and the scan publishes them (NATS down for long).
const MAX_HANDED_OFF: usize = 100_000;

/// Carries committed events from the command bus to the relay.
#[derive(Clone, Default)]
pub struct RelayWaker {
    queue: Arc<Mutex<VecDeque<StoredEvent>>>,
    notify: Arc<Notify>,
    /// Set when a hand-off was dropped: the relay reads the outbox next.
    overflowed: Arc<AtomicBool>,
}

impl RelayWaker {
    /// Call after the commit, while still holding the aggregates' locks, so
    /// events of one aggregate are handed off in version order.
    pub fn hand_off(&self, events: &[StoredEvent]) {
        {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.len() + events.len() <= MAX_HANDED_OFF {
                queue.extend(events.iter().cloned());
            } else {
                self.overflowed.store(true, Ordering::Relaxed);
            }
        }
        // notify_one keeps a permit if the relay is busy: no wake-up is lost.
        self.notify.notify_one();
    }

    fn take(&self, max: usize) -> Vec<StoredEvent> {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let n = queue.len().min(max);
        queue.drain(..n).collect()
    }

    fn waiting(&self) -> usize {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    async fn woken(&self) {
        self.notify.notified().await;
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
        // At start everything in the outbox is unpublished or unconfirmed.
        let mut scan: Option<Option<OffsetDateTime>> = Some(None);
        let mut deleting = Deleting::default();
        loop {
            let result = match scan {
                Some(older_than) => self.scan(older_than, &mut deleting).await,
                None => {
                    let events = self.waker.take(self.batch);
                    if events.is_empty() {
                        // Idle: let the last delete land before waiting.
                        deleting.finish().await.map(|()| 0)
                    } else {
                        self.publish(&events, &mut deleting).await
                    }
                }
            };
            match result {
                Ok(published) => {
                    self.status.relay_failing.store(false, Ordering::Relaxed);
                    self.status.relay_beat();
                    backoff = Duration::from_millis(50);
                    let full = published == self.batch;
                    if scan.is_some() && full {
                        continue; // more may be waiting in the outbox
                    }
                    scan = None;
                    if self.waker.overflowed.swap(false, Ordering::Relaxed) {
                        // Dropped hand-offs are the oldest rows: read them
                        // now rather than wait for the relay to go idle.
                        scan = Some(None);
                        continue;
                    }
                    if full || self.waker.waiting() > 0 {
                        continue;
                    }
                    if let Err(e) = deleting.finish().await {
                        tracing::warn!(error = %e, "outbox delete failed; the scan publishes those rows again");
                        scan = Some(None);
                        continue;
                    }
                    self.status.relay_backlog.store(0, Ordering::Relaxed);
                    tokio::select! {
                        _ = self.waker.woken() => {}
                        _ = tokio::time::sleep(self.scan_interval) => {
                            scan = Some(Some(OffsetDateTime::now_utc() - self.scan_interval));
                        }
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
                    // Whatever was handed off and not acknowledged is in the
                    // outbox: read it from there, in commit order.
                    scan = Some(None);
                }
            }
        }
    }

    /// Publishes outbox rows committed before `older_than` (all if `None`).
    async fn scan(
        &self,
        older_than: Option<OffsetDateTime>,
        deleting: &mut Deleting,
    ) -> Result<usize, RelayError> {
        // Rows whose delete is still on its way are not to be sent again.
        deleting.finish().await?;
        let rows = self.store.outbox_batch(self.batch, older_than).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let events: Vec<StoredEvent> = rows.into_iter().map(|r| r.event).collect();
        let published = self.publish(&events, deleting).await?;
        deleting.finish().await?;
        if older_than.is_some() {
            tracing::info!(published, "relay published events from the outbox scan");
        }
        let left = self.store.outbox_len().await.unwrap_or(0);
        self.status.relay_backlog.store(left, Ordering::Relaxed);
        Ok(published)
    }

    /// Publishes events pipelined, collects the acks in order, and starts
    /// deleting the acknowledged events' outbox rows; that delete runs while
    /// the next round publishes (the previous round's is awaited here first).
    async fn publish(
        &self,
        events: &[StoredEvent],
        deleting: &mut Deleting,
    ) -> Result<usize, RelayError> {
        let started = std::time::Instant::now();
        let mut pending = Vec::with_capacity(events.len());
        for event in events {
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
        deleting.finish().await?;
        let mut acked = Vec::with_capacity(pending.len());
        let mut failure = None;
        let lag = metrics::histogram!("vitrine_relay_lag_seconds");
        for ((event_id, ack), event) in pending.into_iter().zip(events) {
            match ack.await {
                Ok(_) => {
                    // Commit to JetStream's acknowledgement.
                    lag.record((OffsetDateTime::now_utc() - event.occurred_at).as_seconds_f64());
                    acked.push(event_id)
                }
                Err(e) => {
                    failure = Some(RelayError::Publish(e.to_string()));
                    break;
                }
            }
        }
        tracing::debug!(events = events.len(), acked = ?started.elapsed(), "relay round");
        metrics::counter!("vitrine_events_published_total").increment(acked.len() as u64);
        let acked_count = acked.len();
        deleting.start(&self.store, acked);
        self.status
            .relay_backlog
            .store(self.waker.waiting() as u64, Ordering::Relaxed);
        match failure {
            Some(e) => Err(e),
            None => Ok(acked_count),
        }
    }
}

/// The outbox delete of the last round, running in its own task so the
/// next round's publishing does not wait for it. A crash before it lands
/// publishes those events again, and JetStream drops them as duplicates
/// (the message id is the event id).
#[derive(Default)]
struct Deleting(Option<tokio::task::JoinHandle<Result<(), crate::store::StoreError>>>);

impl Deleting {
    fn start(&mut self, store: &WriteStore, event_ids: Vec<String>) {
        debug_assert!(self.0.is_none(), "one outbox delete at a time");
        if event_ids.is_empty() {
            return;
        }
        let store = store.clone();
        self.0 = Some(tokio::spawn(async move {
            store.delete_outbox(&event_ids).await
        }));
    }

    /// Waits for the delete in flight, if any.
    async fn finish(&mut self) -> Result<(), RelayError> {
        match self.0.take() {
            None => Ok(()),
            Some(task) => match task.await {
                Ok(result) => Ok(result?),
                Err(e) => Err(RelayError::DeleteTask(e.to_string())),
            },
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
    #[error("the outbox delete did not finish: {0}")]
    DeleteTask(String),
}
