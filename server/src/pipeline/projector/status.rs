//! What a read model's projector reports about itself: per partition, how
//! far behind it is and when it last showed signs of life; for the model,
//! its generation, dead letters and any rebuild in progress.

use crate::store::projections::Checkpoint;
use crate::store::read::ReadStore;
use app::api::pipeline::ReadModelHealth;
pub use app::api::pipeline::RebuildProgress;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use time::OffsetDateTime;

pub(crate) fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Debug, Default)]
pub struct PartitionStatus {
    /// Events the consumer has not had acknowledged yet (pending + in flight).
    pub behind: AtomicU64,
    /// Last stream sequence applied.
    pub sequence: AtomicU64,
    /// Occurrence time of the last event applied (unix ms, 0 = none).
    pub last_event_time: AtomicI64,
    /// Last sign of life (unix ms): a batch applied or the consumer answered.
    pub heartbeat: AtomicI64,
    pub failing: AtomicBool,
    pub applied_total: AtomicU64,
}

impl PartitionStatus {
    pub fn beat(&self) {
        self.heartbeat.store(now_millis(), Ordering::Relaxed);
    }
    pub fn set_behind(&self, behind: u64) {
        self.behind.store(behind, Ordering::Relaxed);
    }
    pub(crate) fn applied(&self, events: u64, pending: u64, checkpoint: &Checkpoint) {
        self.applied_total.fetch_add(events, Ordering::Relaxed);
        self.behind.store(pending, Ordering::Relaxed);
        self.sequence
            .store(checkpoint.stream_sequence, Ordering::Relaxed);
        if let Some(t) = checkpoint.last_event_time {
            self.last_event_time.store(
                (t.unix_timestamp_nanos() / 1_000_000) as i64,
                Ordering::Relaxed,
            );
        }
    }
}

#[derive(Debug)]
pub struct ModelStatus {
    pub name: &'static str,
    pub generation: AtomicU32,
    pub partitions: Vec<PartitionStatus>,
    pub dead_letters: AtomicU64,
    pub rebuild: Mutex<Option<RebuildProgress>>,
}

impl ModelStatus {
    pub fn new(name: &'static str, partitions: u16) -> Self {
        ModelStatus {
            name,
            generation: AtomicU32::new(0),
            partitions: (0..partitions)
                .map(|_| PartitionStatus::default())
                .collect(),
            dead_letters: AtomicU64::new(0),
            rebuild: Mutex::new(None),
        }
    }

    pub fn set_generation(&self, generation: u32) {
        self.generation.store(generation, Ordering::Relaxed);
    }

    pub async fn refresh_dead_letters(&self, read: &ReadStore, generation: u32) {
        match read.dead_letter_count(self.name, generation).await {
            Ok(n) => self.dead_letters.store(n, Ordering::Relaxed),
            Err(e) => tracing::warn!(model = self.name, error = %e, "cannot count dead letters"),
        }
    }

    pub fn behind(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| p.behind.load(Ordering::Relaxed))
            .sum()
    }

    /// The newest event time applied by any partition.
    pub fn last_event_time(&self) -> Option<OffsetDateTime> {
        let ms = self
            .partitions
            .iter()
            .map(|p| p.last_event_time.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        (ms > 0)
            .then(|| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
            .flatten()
    }

    /// Milliseconds since the stalest partition's last sign of life.
    pub fn oldest_beat_ms(&self) -> Option<i64> {
        let now = now_millis();
        self.partitions
            .iter()
            .map(|p| match p.heartbeat.load(Ordering::Relaxed) {
                0 => None,
                t => Some(now - t),
            })
            .try_fold(0i64, |acc, ms| ms.map(|ms| acc.max(ms)))
    }

    pub fn failing(&self) -> bool {
        self.partitions
            .iter()
            .any(|p| p.failing.load(Ordering::Relaxed))
    }

    pub fn applied_total(&self) -> u64 {
        self.partitions
            .iter()
            .map(|p| p.applied_total.load(Ordering::Relaxed))
            .sum()
    }

    /// How fresh and how well the read model is, at `now`; a projector
    /// silent for `stall_ms` or longer is not healthy, however small its last
    /// known lag (it may be stuck).
    pub fn health(&self, now: OffsetDateTime, stall_ms: i64) -> ReadModelHealth {
        let behind = self.behind();
        let seconds_behind = match (behind, self.last_event_time()) {
            (0, _) => Some(0.0),
            (_, Some(t)) => Some((now - t).as_seconds_f64().max(0.0)),
            // Behind, and nothing applied yet: as old as the shop's data.
            (_, None) => None,
        };
        let beat_ms = self.oldest_beat_ms();
        ReadModelHealth {
            name: self.name.to_owned(),
            generation: self.generation.load(Ordering::Relaxed),
            events_behind: behind,
            seconds_behind,
            heartbeat_age_seconds: beat_ms.map(|ms| ms as f64 / 1000.0),
            healthy: !self.failing() && beat_ms.is_some_and(|ms| ms < stall_ms),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            events_applied: self.applied_total(),
            rebuild: self.rebuild_progress(),
        }
    }

    pub fn rebuild_progress(&self) -> Option<RebuildProgress> {
        self.rebuild
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_rebuild(&self, progress: Option<RebuildProgress>) {
        *self.rebuild.lock().unwrap_or_else(|p| p.into_inner()) = progress;
    }
}
