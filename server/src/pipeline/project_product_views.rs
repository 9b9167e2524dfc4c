//! The product-page projector: a durable JetStream consumer that folds product
//! events into `ProductView` read records.
//!
//! One read-store transaction per batch holds the records and the checkpoint.
//! The record's own version is the de-duplication key: a redelivered or
//! duplicate event (version ≤ applied) is skipped; a gap (version > applied+1)
//! is healed from the write store's event log before applying. Messages are
//! acknowledged only after the transaction committed, so a crash anywhere
//! means redelivery, never loss, and redelivery means a skip, never a double.

use super::live::LiveHub;
use super::status::PipelineStatus;
use crate::store::read::{Checkpoint, ReadStore};
use crate::store::write::WriteStore;
use crate::store::StoreError;
use app::live::{ProjectionNotice, PRODUCT_VIEW};
use async_nats::jetstream::{self, consumer::PullConsumer, AckKind};
use domain::inventory::InventoryEvent;
use domain::product::ProductEvent;
use domain::views::{sequence, ProductView, Sequencing};
use domain::{AggregateType, DomainEvent, EventId, StoredEvent};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

pub const NAME: &str = "project_product_views";
/// A product page shows the product and its stock (the Inventory aggregate,
/// same id).
pub const FILTER: [&str; 2] = ["vitrine.events.product.>", "vitrine.events.inventory.>"];

/// How long the projector waits for messages before reporting a heartbeat.
const IDLE_BEAT: Duration = Duration::from_secs(2);

pub struct ProductViewProjector {
    pub consumer: PullConsumer,
    pub read: ReadStore,
    pub write: WriteStore,
    pub live: LiveHub,
    pub status: Arc<PipelineStatus>,
    pub batch: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("event log has no version {version} of {aggregate_id} to heal a gap")]
    MissingFromLog { aggregate_id: String, version: u64 },
    #[error("JetStream: {0}")]
    Bus(String),
    /// This build cannot decode or fold the event; it is retried, never skipped.
    #[error("event {event_id} cannot be projected: {reason}")]
    Unprojectable { event_id: String, reason: String },
}

/// One record touched by a batch, and the events that changed it.
struct Touched {
    view: Option<ProductView>,
    applied: Vec<EventId>,
}

impl ProductViewProjector {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let result = self.consume(&shutdown).await;
            if shutdown.is_cancelled() {
                return;
            }
            self.status.projector_failing.store(true, Ordering::Relaxed);
            if let Err(e) = result {
                tracing::warn!(error = %e, retry_in = ?backoff, "product view projector stopped; restarting");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn consume(&self, shutdown: &CancellationToken) -> Result<(), ProjectError> {
        // Read once per run; this task is the checkpoint's only writer.
        let mut checkpoint = self.read.checkpoint(NAME).await?;
        let messages = self
            .consumer
            .messages()
            .await
            .map_err(|e| ProjectError::Bus(e.to_string()))?;
        // Everything already delivered, up to the batch size, in one go.
        let mut batches = messages.ready_chunks(self.batch);
        self.status
            .projector_failing
            .store(false, Ordering::Relaxed);
        loop {
            self.status.projector_beat();
            let next = tokio::select! {
                next = batches.next() => next,
                _ = tokio::time::sleep(IDLE_BEAT) => continue,
                _ = shutdown.cancelled() => return Ok(()),
            };
            let Some(batch) = next else {
                return Err(ProjectError::Bus("message stream ended".into()));
            };
            let mut messages = Vec::with_capacity(batch.len());
            for m in batch {
                messages.push(m.map_err(|e| ProjectError::Bus(e.to_string()))?);
            }
            if let Err(e) = self.apply_batch(&messages, &mut checkpoint).await {
                // Nothing was committed: let JetStream redeliver soon.
                for m in &messages {
                    let _ = m
                        .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                        .await;
                }
                return Err(e);
            }
            for m in &messages {
                if let Err(e) = m.ack().await {
                    // Committed already; a redelivery will be skipped.
                    tracing::debug!(error = %e, "ack failed after commit");
                }
            }
        }
    }

    async fn apply_batch(
        &self,
        messages: &[jetstream::Message],
        checkpoint: &mut Checkpoint,
    ) -> Result<(), ProjectError> {
        let started = std::time::Instant::now();
        let mut events: Vec<(u64, StoredEvent)> = Vec::with_capacity(messages.len());
        let mut last_sequence = 0;
        let mut pending = 0;
        for m in messages {
            let info = m.info().map_err(|e| ProjectError::Bus(e.to_string()))?;
            last_sequence = last_sequence.max(info.stream_sequence);
            pending = info.pending;
            match serde_json::from_slice::<StoredEvent>(&m.payload) {
                Ok(event) => events.push((info.stream_sequence, event)),
                Err(e) => {
                    // Kept with its reason before it is acknowledged.
                    self.read
                        .park_unreadable(
                            NAME,
                            info.stream_sequence,
                            &m.subject,
                            &m.payload,
                            &e.to_string(),
                        )
                        .await?;
                    tracing::error!(sequence = info.stream_sequence, error = %e, "parked an unreadable event");
                }
            }
        }

        // Current records of every product in the batch, in one read.
        let mut ids: Vec<String> = events.iter().map(|(_, e)| e.aggregate_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let mut touched: BTreeMap<String, Touched> = ids
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    Touched {
                        view: None,
                        applied: vec![],
                    },
                )
            })
            .collect();
        for view in self.read.product_views_by_ids(&ids).await? {
            if let Some(t) = touched.get_mut(&view.product_id.to_string()) {
                t.view = Some(view);
            }
        }

        let loaded = started.elapsed();
        let mut last_event_time = None;
        for (_, event) in &events {
            let Some(t) = touched.get_mut(&event.aggregate_id) else {
                continue;
            };
            // Product and inventory events are numbered separately.
            let applied_version = match event.aggregate_type {
                AggregateType::Inventory => t.view.as_ref().map_or(0, |v| v.inventory_version),
                _ => t.view.as_ref().map_or(0, |v| v.version),
            };
            match sequence(applied_version, event.aggregate_version) {
                Sequencing::AlreadyApplied => continue,
                Sequencing::Apply => self.fold(t, event)?,
                Sequencing::Gap {
                    missing_from,
                    missing_to,
                } => {
                    // Heal from the log, then apply this one.
                    let missing = self
                        .write
                        .events_of(
                            event.aggregate_type,
                            &event.aggregate_id,
                            missing_from,
                            missing_to,
                        )
                        .await?;
                    let mut expected = missing_from;
                    for m in &missing {
                        if m.aggregate_version != expected {
                            break;
                        }
                        self.fold(t, m)?;
                        expected += 1;
                    }
                    if expected <= missing_to {
                        return Err(ProjectError::MissingFromLog {
                            aggregate_id: event.aggregate_id.clone(),
                            version: expected,
                        });
                    }
                    tracing::info!(aggregate = %event.aggregate_id, missing_from, missing_to, "healed a gap from the event log");
                    self.fold(t, event)?;
                }
            }
            last_event_time = Some(event.occurred_at);
        }

        let projected_at = OffsetDateTime::now_utc();
        let mut changed = Vec::new();
        let mut notices = Vec::new();
        for (_, t) in touched.into_iter() {
            if t.applied.is_empty() {
                continue;
            }
            if let Some(mut view) = t.view {
                view.projected_at = projected_at;
                notices.push(ProjectionNotice {
                    read_model: PRODUCT_VIEW.into(),
                    aggregate_id: view.product_id.to_string(),
                    aggregate_version: view.version,
                    event_ids: t.applied,
                    event_time: view.event_time,
                    projected_at,
                });
                changed.push(view);
            }
        }
        let next = Checkpoint {
            stream_sequence: checkpoint.stream_sequence.max(last_sequence),
            last_event_time: last_event_time.or(checkpoint.last_event_time),
            updated_at: Some(projected_at),
        };
        let folded = started.elapsed();
        self.read.apply_product_batch(NAME, &changed, &next).await?;
        let committed = started.elapsed();
        *checkpoint = next;
        self.status
            .projector_sequence
            .store(checkpoint.stream_sequence, Ordering::Relaxed);
        self.status
            .projector_pending
            .store(pending, Ordering::Relaxed);
        self.live.publish_all(&notices).await;
        tracing::debug!(events = events.len(), ?loaded, ?folded, ?committed, notified = ?started.elapsed(), "projected a batch");
        Ok(())
    }

    /// Folds one event into the touched record. An event this build cannot
    /// decode stops the projector (it is retried, never skipped).
    fn fold(&self, touched: &mut Touched, event: &StoredEvent) -> Result<(), ProjectError> {
        let unprojectable = |reason: String| ProjectError::Unprojectable {
            event_id: event.event_id.to_string(),
            reason,
        };
        let view = match event.aggregate_type {
            AggregateType::Product => {
                let typed = ProductEvent::decode_envelope(event)
                    .map_err(|e| unprojectable(e.to_string()))?;
                ProductView::apply(touched.view.take(), &typed)
            }
            AggregateType::Inventory => {
                let typed = InventoryEvent::decode_envelope(event)
                    .map_err(|e| unprojectable(e.to_string()))?;
                ProductView::apply_inventory(touched.view.take(), &typed)
            }
            other => {
                return Err(unprojectable(format!(
                    "a {} event on a product subject",
                    other.as_str()
                )))
            }
        };
        let view = view.map_err(|e| unprojectable(e.to_string()))?;
        touched.view = Some(view);
        touched.applied.push(event.event_id);
        Ok(())
    }
}
