//! The live hub: projectors publish a notice after each committed batch; the
//! hub follows the live stream and fans notices out to SSE clients.
//!
//! Notices go through a JetStream stream rather than straight to the clients
//! so that (a) the SSE id is the stream sequence, which survives a restart, and
//! a client can resume from it, and (b) several web nodes see every notice.

use super::jetstream::LIVE_SUBJECT;
use app::live::ProjectionNotice;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Notices kept in memory for quick resumption; older ones are read back
/// from the live stream.
const RING: usize = 4096;
/// Beyond this many missed notices, a client is told to refetch instead.
const MAX_REPLAY: u64 = 10_000;

#[derive(Clone, Debug)]
pub struct LiveEntry {
    pub position: u64,
    pub notice: Arc<ProjectionNotice>,
}

/// What a resuming client gets.
#[derive(Debug)]
pub enum Resume {
    /// These notices, then the live ones.
    Replay(Vec<LiveEntry>),
    /// Too far back (or from another store): refetch everything.
    Reset,
}

#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

struct Inner {
    js: jetstream::Context,
    live_stream: stream::Stream,
    position: AtomicU64,
    /// Bumped whenever notices may have been lost (a notice not published,
    /// the follower restarted): caches built from notices start over.
    epoch: AtomicU64,
    ring: Mutex<VecDeque<LiveEntry>>,
    sender: broadcast::Sender<LiveEntry>,
}

impl LiveHub {
    /// Starts following the live stream from its current end.
    pub async fn start(
        js: jetstream::Context,
        mut live_stream: stream::Stream,
        shutdown: CancellationToken,
    ) -> Result<LiveHub, async_nats::Error> {
        let last = live_stream.info().await?.state.last_sequence;
        let (sender, _) = broadcast::channel(RING);
        let hub = LiveHub {
            inner: Arc::new(Inner {
                js,
                live_stream,
                position: AtomicU64::new(last),
                epoch: AtomicU64::new(0),
                ring: Mutex::new(VecDeque::with_capacity(RING)),
                sender,
            }),
        };
        let follower = hub.clone();
        tokio::spawn(async move { follower.follow(last + 1, shutdown).await });
        Ok(hub)
    }

    /// The position of the newest notice this hub has seen.
    pub fn position(&self) -> u64 {
        self.inner.position.load(Ordering::Acquire)
    }

    /// Changes when notices may have been lost since the last look.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    fn notices_lost(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEntry> {
        self.inner.sender.subscribe()
    }

    /// Publishes notices after a projector committed, pipelined. At-most-once
    /// by design: the records are already written; a lost notice only delays
    /// the browser until its fallback read.
    pub async fn publish_all(&self, notices: &[ProjectionNotice]) {
        let mut acks = Vec::with_capacity(notices.len());
        for notice in notices {
            let payload = match serde_json::to_vec(notice) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode a live notice");
                    self.notices_lost();
                    continue;
                }
            };
            match self.inner.js.publish(LIVE_SUBJECT, payload.into()).await {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish a live notice");
                    self.notices_lost();
                }
            }
        }
        for ack in acks {
            if let Err(e) = ack.await {
                tracing::warn!(error = %e, "live notice not acknowledged");
                self.notices_lost();
            }
        }
    }

    /// The notices after `after`, for a reconnecting client.
    pub async fn since(&self, after: u64) -> Resume {
        let now = self.position();
        if after > now {
            return Resume::Reset; // an id from another store or a wiped stream
        }
        if after == now {
            return Resume::Replay(vec![]);
        }
        if now - after > MAX_REPLAY {
            return Resume::Reset;
        }
        {
            let ring = self.inner.ring.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(first) = ring.front() {
                if first.position <= after + 1 {
                    return Resume::Replay(
                        ring.iter()
                            .filter(|e| e.position > after)
                            .cloned()
                            .collect(),
                    );
                }
            }
        }
        // Older than memory (or after a restart): read the stream back.
        let mut entries = Vec::new();
        for position in after + 1..=now {
            match self.inner.live_stream.get_raw_message(position).await {
                Ok(message) => match serde_json::from_slice::<ProjectionNotice>(&message.payload) {
                    Ok(notice) => entries.push(LiveEntry {
                        position,
                        notice: Arc::new(notice),
                    }),
                    Err(_) => return Resume::Reset,
                },
                // Trimmed by the stream's limits: the client must refetch.
                Err(_) => return Resume::Reset,
            }
        }
        Resume::Replay(entries)
    }

    async fn follow(&self, from: u64, shutdown: CancellationToken) {
        let mut start = from;
        loop {
            let result = self.follow_once(start, &shutdown).await;
            if shutdown.is_cancelled() {
                return;
            }
            if let Err(e) = result {
                tracing::warn!(error = %e, "live feed follower stopped; restarting");
            }
            self.notices_lost();
            start = self.position() + 1;
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn follow_once(
        &self,
        from: u64,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let consumer = self
            .inner
            .live_stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        loop {
            let next = tokio::select! {
                next = messages.next() => next,
                _ = shutdown.cancelled() => return Ok(()),
            };
            let Some(message) = next else {
                return Ok(());
            };
            let message = message?;
            let position = message.info()?.stream_sequence;
            let notice = match serde_json::from_slice::<ProjectionNotice>(&message.payload) {
                Ok(n) => Arc::new(n),
                Err(e) => {
                    tracing::warn!(error = %e, position, "skipping an unreadable live notice");
                    self.inner.position.store(position, Ordering::Release);
                    continue;
                }
            };
            let entry = LiveEntry { position, notice };
            {
                let mut ring = self.inner.ring.lock().unwrap_or_else(|p| p.into_inner());
                if ring.len() == RING {
                    ring.pop_front();
                }
                ring.push_back(entry.clone());
            }
            self.inner.position.store(position, Ordering::Release);
            // No receivers is fine: nobody is watching.
            let _ = self.inner.sender.send(entry);
        }
    }
}
