//! What the pipeline's tasks report about themselves, for /health and for
//! list reads' `stale` flag.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
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
    /// Messages the projector's consumer still has to deliver, as last reported.
    pub projector_pending: AtomicU64,
    pub projector_failing: AtomicBool,
    pub projector_heartbeat: AtomicI64,
    /// The last stream sequence the projector applied.
    pub projector_sequence: AtomicU64,
}

impl PipelineStatus {
    pub fn relay_beat(&self) {
        self.relay_heartbeat.store(now_millis(), Ordering::Relaxed);
    }
    pub fn projector_beat(&self) {
        self.projector_heartbeat
            .store(now_millis(), Ordering::Relaxed);
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
            || self.projector_pending.load(Ordering::Relaxed) > 0
    }
}
