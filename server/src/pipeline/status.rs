//! What the pipeline's tasks report about themselves, for /health and for
//! list reads' `stale` flag.

use super::projector::status::ModelStatus;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Debug, Default)]
pub struct PipelineStatus {
    /// Outbox rows left after the relay's last round.
    pub relay_backlog: AtomicU64,
    pub relay_failing: AtomicBool,
    /// When the relay last finished a round (unix ms).
    pub relay_heartbeat: AtomicI64,
    /// Commit time of the oldest event the relay still has to publish (unix
    /// ms; 0 when none): the relay's lag.
    pub relay_oldest_unpublished: AtomicI64,
    /// Each read model's projector.
    pub models: RwLock<Vec<Arc<ModelStatus>>>,
}

impl PipelineStatus {
    pub fn relay_beat(&self) {
        self.relay_heartbeat.store(now_millis(), Ordering::Relaxed);
    }
    pub fn models(&self) -> Vec<Arc<ModelStatus>> {
        self.models
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    pub fn model(&self, name: &str) -> Option<Arc<ModelStatus>> {
        self.models().into_iter().find(|m| m.name == name)
    }
    /// Milliseconds since the given heartbeat; `None` before the first one.
    pub fn since(heartbeat: &AtomicI64) -> Option<i64> {
        match heartbeat.load(Ordering::Relaxed) {
            0 => None,
            t => Some(now_millis() - t),
        }
    }
    /// True when the read side is known to be behind the write side.
    pub fn lagging(&self) -> bool {
        self.relay_backlog.load(Ordering::Relaxed) > 0
            || self.models().iter().any(|m| m.behind() > 0)
    }
}
