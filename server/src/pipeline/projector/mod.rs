//! The projector runtime every read model runs on.
//!
//! A read model ([`ReadModel`]) says which aggregates it folds, how to load
//! the records a batch touches, how to fold one event, and what to write.
//! The runtime does the rest, the same way for every read model:
//!
//! - **Partitions**: the events stream maps `vitrine.events.<type>.<id>` to
//!   `vitrine.events.<type>.<partition>.<id>` (a subject transform hashing the
//!   id), and each partition has its own durable consumer and task, so
//!   partitions apply concurrently while one aggregate's events stay in one.
//! - **Batches**: what the consumer has ready, up to `projector_batch`, is
//!   applied in one read-store transaction holding the records, every
//!   aggregate's last applied version and the partition's checkpoint.
//!   Messages are acknowledged only after that commit.
//! - **Exactly once in effect**: an event at or below its aggregate's applied
//!   version is skipped; a gap is healed from the write store's event log.
//! - **Poison events**: an event that fails to fold is retried with backoff
//!   (negative acks with a delay) while other aggregates keep flowing; after
//!   `max_attempts` failures it and every later event of its aggregate are
//!   **parked** as dead letters — written in the batch's transaction, then
//!   acknowledged — until an operator retries or skips them.
//! - **Generations**: see [`rebuild`]; a rebuild fills the next generation
//!   from the event log and the stream while this one keeps serving.

pub mod rebuild;
pub mod status;

use super::jetstream::{self as layout, BusError};
use super::live::LiveHub;
use crate::store::projections::{
    generation_table, BatchWrite, Checkpoint, DeadLetter, RecordWrite, UNREADABLE,
};
use crate::store::read::ReadStore;
use crate::store::write::WriteStore;
use crate::store::StoreError;
use app::live::ProjectionNotice;
use async_nats::jetstream::{self, consumer::PullConsumer, AckKind};
use async_trait::async_trait;
use domain::{AggregateType, EventId, StoredEvent};
use futures::StreamExt;
use serde::Serialize;
use status::ModelStatus;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a partition waits for messages before it beats and refreshes
/// its lag from the consumer.
const IDLE_BEAT: Duration = Duration::from_secs(1);

/// What a read model tells the runtime.
#[async_trait]
pub trait ReadModel: Send + Sync + 'static {
    /// The records a batch touches, as loaded and then folded.
    type Working: Send;

    /// Its name in the store, the API and the metrics (`product_views`).
    fn name(&self) -> &'static str;
    /// The aggregates whose events it folds.
    fn aggregates(&self) -> &'static [AggregateType];
    /// Its record tables: base name and the DDL of their indexes, with
    /// `$TABLE` for the generation's table name.
    fn tables(&self) -> &'static [(&'static str, &'static str)];

    /// Loads the records these events touch from a generation.
    async fn load(
        &self,
        read: &ReadStore,
        generation: u32,
        events: &[&StoredEvent],
    ) -> Result<Self::Working, StoreError>;

    /// Folds one event. On `Err` (the event cannot be applied: why) the
    /// working set must be unchanged.
    fn fold(&self, working: &mut Self::Working, event: &StoredEvent) -> Result<(), String>;

    /// Recomputes the read model's key figures from the write model, on its
    /// own (not through the folds), and says where the records differ.
    async fn reconcile(
        &self,
        read: &ReadStore,
        write: &WriteStore,
        generation: u32,
    ) -> Result<Vec<Drift>, StoreError>;

    /// The records to write (in the generation's tables) and the notices to
    /// publish once they are committed.
    fn finish(
        &self,
        working: Self::Working,
        generation: u32,
        projected_at: OffsetDateTime,
    ) -> Result<(Vec<RecordWrite>, Vec<ProjectionNotice>), StoreError>;
}

#[derive(Clone, Debug)]
pub struct ProjectorSettings {
    pub batch: usize,
    pub partitions: u16,
    pub max_attempts: u32,
    pub ack_wait: Duration,
    pub log_batch: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("JetStream: {0}")]
    Bus(String),
    #[error(transparent)]
    Setup(#[from] BusError),
    #[error("{0}")]
    Refused(String),
    #[error("the projector is not running")]
    Stopped,
}

/// The NATS partition of an aggregate id: FNV-1a (32 bit) of the id modulo
/// the partition count, as nats-server's `{{partition(n,2)}}` computes it.
pub fn partition_of(aggregate_id: &str, partitions: u16) -> u16 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in aggregate_id.as_bytes() {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % u32::from(partitions.max(1))) as u16
}

fn aggregate_key(event: &StoredEvent) -> String {
    format!("{}:{}", event.aggregate_type.as_str(), event.aggregate_id)
}

/// Negative-ack delay after `attempts` failures: 0.5 s doubling, at most 30 s.
fn retry_delay(attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(6);
    (Duration::from_millis(500) * 2u32.pow(exp)).min(Duration::from_secs(30))
}

/// Dead letter statuses: this event failed to apply; an earlier event of its
/// aggregate is parked; it waits for a version that has not arrived; an
/// operator skipped it.
pub const PARKED: &str = "parked";
pub const HELD: &str = "held";
pub const WAITING: &str = "waiting";
pub const SKIPPED: &str = "skipped";

/// One event to apply and where it came from.
struct Incoming {
    event: StoredEvent,
    sequence: Option<u64>,
    /// Failures allowed before parking: `max_attempts` for stream messages;
    /// 1 for the log and for retries (deterministic: retrying will not help).
    max_attempts: u32,
}

/// What to do with each incoming message after the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Ack,
    Retry(Duration),
}

/// A read record by table and id.
pub type RecordRef = (String, String);

/// A read record that differs from what the write model says it should be.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// `<table>:<id>` of the read record.
    pub record: String,
    pub field: String,
    pub expected: serde_json::Value,
    pub found: serde_json::Value,
    /// The aggregates (`<type>:<id>`) whose events make the record: a repair
    /// folds them again from the event log.
    pub aggregates: Vec<String>,
    /// Records to remove before that (the record itself, in its table).
    #[serde(skip)]
    pub deletes: Vec<RecordRef>,
}

impl Drift {
    /// The drift of one record whose key figures are `found` (`None`: no
    /// record) where the write model says `expected`; `None` when they agree.
    pub fn compare(
        table: &str,
        id: &str,
        expected: serde_json::Value,
        found: Option<serde_json::Value>,
        aggregates: Vec<String>,
    ) -> Option<Drift> {
        let fields: Vec<&str> = match found.as_ref().and_then(|f| f.as_object()) {
            None => vec!["record"],
            Some(f) => expected
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| f.get(*k) != Some(*v))
                .map(|(k, _)| k.as_str())
                .collect(),
        };
        let field = fields.join(",");
        (!field.is_empty()).then(|| Drift {
            record: format!("{table}:{id}"),
            field,
            found: found.unwrap_or(serde_json::Value::Null),
            expected,
            aggregates,
            deletes: vec![(table.to_owned(), id.to_owned())],
        })
    }

    /// A record of something the write model does not have.
    pub fn orphan(
        table: &str,
        id: &str,
        found: serde_json::Value,
        aggregates: Vec<String>,
    ) -> Drift {
        Drift {
            record: format!("{table}:{id}"),
            field: "record".into(),
            expected: serde_json::Value::Null,
            found,
            aggregates,
            deletes: vec![(table.to_owned(), id.to_owned())],
        }
    }
}

/// What a reconciliation found and did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    pub read_model: &'static str,
    pub generation: u32,
    pub drifts: Vec<Drift>,
    /// Aggregates folded again from the log.
    pub repaired: usize,
    /// Drifts left after the repair (records changing meanwhile show here
    /// until the projection catches up).
    pub remaining: Vec<Drift>,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

/// The outcome of an operator's retry or skip.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryReport {
    /// Aggregates whose parked events all applied now.
    pub drained: Vec<String>,
    /// Aggregates still parked, with why.
    pub still_parked: Vec<(String, String)>,
    pub applied_events: usize,
}

impl RetryReport {
    fn merge(&mut self, other: RetryReport) {
        self.drained.extend(other.drained);
        self.still_parked.extend(other.still_parked);
        self.applied_events += other.applied_events;
    }
}

enum Control {
    Retry {
        aggregate: Option<String>,
        reply: oneshot::Sender<Result<RetryReport, ProjectError>>,
    },
    Skip {
        aggregate: String,
        version: u64,
        reply: oneshot::Sender<Result<RetryReport, ProjectError>>,
    },
    /// Fold these aggregates again from the event log, from scratch.
    Repair {
        aggregates: Vec<String>,
        deletes: Vec<RecordRef>,
        reply: oneshot::Sender<Result<usize, ProjectError>>,
    },
}

/// The shared part of one read model's projector.
pub struct Projection<M: ReadModel> {
    pub model: M,
    pub read: ReadStore,
    pub write: WriteStore,
    pub live: LiveHub,
    pub events: jetstream::stream::Stream,
    pub settings: ProjectorSettings,
    pub status: Arc<ModelStatus>,
    /// Fold failures per event, for the parking decision.
    attempts: Mutex<HashMap<EventId, u32>>,
    /// Aggregates (per generation) with events held for a gap.
    waiting: Mutex<HashSet<(u32, String)>>,
}

/// A generation's partition tasks.
struct Running {
    generation: u32,
    token: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    controls: Vec<mpsc::Sender<Control>>,
}

/// One read model's projector: the shared part and the running generation.
pub struct Projector<M: ReadModel> {
    shared: Arc<Projection<M>>,
    running: tokio::sync::Mutex<Option<Running>>,
    shutdown: CancellationToken,
    rebuilding: AtomicBool,
    building_generation: AtomicU32,
}

impl<M: ReadModel> Projection<M> {
    pub fn new(
        model: M,
        read: ReadStore,
        write: WriteStore,
        live: LiveHub,
        events: jetstream::stream::Stream,
        settings: ProjectorSettings,
    ) -> Self {
        let status = Arc::new(ModelStatus::new(model.name(), settings.partitions));
        Projection {
            model,
            read,
            write,
            live,
            events,
            settings,
            status,
            attempts: Mutex::new(HashMap::new()),
            waiting: Mutex::new(HashSet::new()),
        }
    }

    fn consumer_name(&self, generation: u32, partition: u16) -> String {
        format!(
            "{}_p{partition}",
            generation_table(self.model.name(), generation)
        )
    }

    fn filters(&self, partition: u16) -> Vec<String> {
        self.model
            .aggregates()
            .iter()
            .map(|a| layout::partition_subject(a.as_str(), partition))
            .collect()
    }

    fn note_failure(&self, event: EventId) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = attempts.entry(event).or_insert(0);
        *n += 1;
        *n
    }

    fn forget_failures(&self, event: &EventId) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts.remove(event);
    }

    /// Applies events to a generation in one transaction and says what to do
    /// with each (ack, or retry later). `retrying` names aggregates whose
    /// parked events an operator asked to apply again; `extra` carries dead
    /// letters and resolutions decided by the caller.
    async fn apply(
        &self,
        generation: u32,
        partition: u16,
        mut incoming: Vec<Incoming>,
        retrying: &HashSet<String>,
        fresh: &HashSet<String>,
        mut extra: BatchWrite,
    ) -> Result<(Vec<Verdict>, Vec<ProjectionNotice>, usize), ProjectError> {
        let name = self.model.name();
        let received = incoming.len();
        // Events held for a gap join their aggregate's next batch.
        let waiting_here: Vec<String> = {
            let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            let mut keys: Vec<String> = incoming
                .iter()
                .map(|i| aggregate_key(&i.event))
                .filter(|k| waiting.contains(&(generation, k.clone())))
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        for key in &waiting_here {
            for letter in self.read.dead_letters(name, generation, Some(key)).await? {
                if letter.status != WAITING {
                    continue;
                }
                if let Ok(event) = serde_json::from_value::<StoredEvent>(letter.event.clone()) {
                    extra.resolved.push(letter.key());
                    incoming.push(Incoming {
                        event,
                        sequence: letter.stream_sequence,
                        max_attempts: 1,
                    });
                }
            }
        }

        // Aggregates in order of first appearance (stream order: a product's
        // creation comes before its first stock change), each one's events
        // in version order.
        let mut order: Vec<String> = Vec::new();
        let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, inc) in incoming.iter().enumerate() {
            let key = aggregate_key(&inc.event);
            let entry = groups.entry(key.clone()).or_default();
            if entry.is_empty() {
                order.push(key);
            }
            entry.push(i);
        }
        for idxs in groups.values_mut() {
            idxs.sort_by_key(|&i| (incoming[i].event.aggregate_version, incoming[i].sequence));
        }
        let mut keys: Vec<String> = order.clone();
        keys.extend(retrying.iter().cloned());
        keys.sort();
        keys.dedup();
        let mut positions = self.read.positions(name, generation, &keys).await?;
        // Aggregates being repaired start over: no position, no record.
        positions.retain(|k, _| !fresh.contains(k));
        let refs: Vec<&StoredEvent> = incoming
            .iter()
            .map(|i| &i.event)
            .filter(|e| !fresh.contains(&aggregate_key(e)))
            .collect();
        let mut working = self.model.load(&self.read, generation, &refs).await?;

        let mut verdicts = vec![Verdict::Ack; incoming.len()];
        let now = OffsetDateTime::now_utc();
        let letter =
            |event: &StoredEvent, sequence: Option<u64>, status: &str, reason: &str| DeadLetter {
                aggregate: aggregate_key(event),
                aggregate_version: event.aggregate_version,
                event_id: Some(event.event_id.to_string()),
                event_type: Some(event.event_type.clone()),
                partition,
                stream_sequence: sequence,
                event: serde_json::to_value(event).unwrap_or(serde_json::Value::Null),
                raw: None,
                reason: reason.to_owned(),
                status: status.to_owned(),
                parked_at: now,
            };
        let mut applied = 0usize;
        let mut now_waiting: Vec<String> = Vec::new();
        for key in &order {
            let idxs = &groups[key];
            let before = positions.get(key).cloned().unwrap_or_default();
            let mut pos = before.clone();
            pos.partition = partition;
            if retrying.contains(key) {
                pos.parked_at = None;
            }
            if let Some(parked) = pos.parked_at {
                for &i in idxs {
                    let e = &incoming[i].event;
                    if e.aggregate_version > pos.version {
                        extra.dead_letters.push(letter(
                            e,
                            incoming[i].sequence,
                            HELD,
                            &format!("held behind parked version {parked} of {key}"),
                        ));
                    }
                }
                continue;
            }
            for (j, &i) in idxs.iter().enumerate() {
                let e = &incoming[i].event;
                if e.aggregate_version <= pos.version {
                    continue; // a redelivery or duplicate: already in effect
                }
                let mut failure: Option<(StoredEvent, String)> = None;
                if e.aggregate_version > pos.version + 1 {
                    let missing = self
                        .write
                        .events_of(
                            e.aggregate_type,
                            &e.aggregate_id,
                            pos.version + 1,
                            e.aggregate_version - 1,
                        )
                        .await?;
                    for m in &missing {
                        if m.aggregate_version != pos.version + 1 {
                            break;
                        }
                        match self.model.fold(&mut working, m) {
                            Ok(()) => {
                                pos.version = m.aggregate_version;
                                applied += 1;
                            }
                            Err(reason) => {
                                failure = Some((m.clone(), reason));
                                break;
                            }
                        }
                    }
                    if failure.is_none() && pos.version + 1 != e.aggregate_version {
                        // The gap is not in the log either (yet): hold this
                        // and the later events, stored, until it arrives.
                        let why = format!(
                            "waiting for version {} of {key}, in neither the stream so far nor the event log",
                            pos.version + 1
                        );
                        for &r in &idxs[j..] {
                            let later = &incoming[r].event;
                            if later.aggregate_version > pos.version {
                                extra.dead_letters.push(letter(
                                    later,
                                    incoming[r].sequence,
                                    WAITING,
                                    &why,
                                ));
                            }
                        }
                        now_waiting.push(key.clone());
                        break;
                    }
                    if failure.is_none() {
                        tracing::info!(model = name, aggregate = %key, to = pos.version, "healed a gap from the event log");
                    }
                }
                if failure.is_none() {
                    match self.model.fold(&mut working, e) {
                        Ok(()) => {
                            pos.version = e.aggregate_version;
                            applied += 1;
                            self.forget_failures(&e.event_id);
                            continue;
                        }
                        Err(reason) => failure = Some((e.clone(), reason)),
                    }
                }
                let Some((failed, reason)) = failure else {
                    continue;
                };
                let attempts = self.note_failure(e.event_id);
                let rest = &idxs[j..];
                if attempts >= incoming[i].max_attempts {
                    tracing::error!(model = name, aggregate = %key, version = failed.aggregate_version, %reason, attempts, "parked an event and its successors");
                    metrics::counter!("vitrine_events_parked_total", "read_model" => name)
                        .increment(1);
                    pos.parked_at = Some(failed.aggregate_version);
                    if failed.event_id != e.event_id {
                        extra
                            .dead_letters
                            .push(letter(&failed, None, PARKED, &reason));
                    }
                    for &r in rest {
                        let later = &incoming[r].event;
                        if later.aggregate_version <= pos.version {
                            continue;
                        }
                        let (status, why) = if later.event_id == failed.event_id {
                            (PARKED, reason.clone())
                        } else {
                            (
                                HELD,
                                format!(
                                    "held behind parked version {} of {key}",
                                    failed.aggregate_version
                                ),
                            )
                        };
                        extra
                            .dead_letters
                            .push(letter(later, incoming[r].sequence, status, &why));
                    }
                    self.forget_failures(&e.event_id);
                } else {
                    tracing::warn!(model = name, aggregate = %key, version = failed.aggregate_version, %reason, attempts, "an event failed to apply; retrying");
                    for &r in rest {
                        verdicts[r] = Verdict::Retry(retry_delay(attempts));
                    }
                }
                break;
            }
            if pos != before {
                extra.positions.push((key.clone(), pos));
            }
        }
        for key in retrying {
            // An aggregate retried with nothing left to apply is unparked.
            if !groups.contains_key(key) {
                let mut pos = positions.get(key).cloned().unwrap_or_default();
                if pos.parked_at.take().is_some() {
                    extra.positions.push((key.clone(), pos));
                }
            }
        }
        // Held events fed back in but neither applied nor held again (a
        // retry verdict cannot reach them: they were acknowledged) park.
        for (i, inc) in incoming.iter().enumerate().skip(received) {
            if verdicts[i] != Verdict::Ack {
                extra.dead_letters.push(letter(
                    &inc.event,
                    inc.sequence,
                    PARKED,
                    "a held event failed to apply once its gap was filled",
                ));
            }
        }
        let projected_at = OffsetDateTime::now_utc();
        let (records, notices) = self.model.finish(working, generation, projected_at)?;
        extra.records = records;
        let lettered = !extra.dead_letters.is_empty() || !extra.resolved.is_empty();
        self.read.write_batch(name, generation, extra).await?;
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            for key in waiting_here {
                waiting.remove(&(generation, key));
            }
            for key in now_waiting {
                waiting.insert((generation, key));
            }
        }
        if lettered {
            self.status
                .refresh_dead_letters(&self.read, generation)
                .await;
        }
        verdicts.truncate(received);
        Ok((verdicts, notices, applied))
    }

    /// Remembers the aggregates with events held for a gap (after a restart).
    async fn load_waiting(&self, generation: u32) -> Result<(), ProjectError> {
        let letters = self
            .read
            .dead_letters(self.model.name(), generation, None)
            .await?;
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        for letter in letters {
            if letter.status == WAITING {
                waiting.insert((generation, letter.aggregate));
            }
        }
        Ok(())
    }
}

impl<M: ReadModel> Projector<M> {
    pub fn new(shared: Projection<M>, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(Projector {
            shared: Arc::new(shared),
            running: tokio::sync::Mutex::new(None),
            shutdown,
            rebuilding: AtomicBool::new(false),
            building_generation: AtomicU32::new(0),
        })
    }

    /// Serves the active generation, building the first one (or a new one,
    /// if the partition count changed) from the event log when needed.
    pub async fn start(self: &Arc<Self>) -> Result<(), ProjectError> {
        let s = &self.shared;
        let name = s.model.name();
        let state = s.read.read_model_state(name).await?;
        if let Some(building) = state.building {
            // A rebuild that did not finish: its tables are thrown away.
            tracing::warn!(
                model = name,
                generation = building,
                "dropping an unfinished rebuild"
            );
            self.discard_generation(building).await?;
            let mut state = state.clone();
            state.building = None;
            s.read.set_read_model_state(name, &state).await?;
        }
        match state.active {
            Some(active) if state.partitions == s.settings.partitions => {
                s.read.generations().set(name, active);
                s.status.set_generation(active);
                self.serve(active, None).await?;
                s.status.refresh_dead_letters(&s.read, active).await;
                Ok(())
            }
            Some(active) => {
                tracing::warn!(
                    model = name,
                    was = state.partitions,
                    now = s.settings.partitions,
                    "partition count changed: rebuilding"
                );
                // The active generation's consumers filter the old
                // partitions: it serves reads as it stands while the next
                // generation is built on the new layout.
                s.read.generations().set(name, active);
                s.status.set_generation(active);
                self.clone().start_rebuild().map(|_| ())
            }
            None => {
                // Nothing serves yet: build generation 1 before returning, so
                // a fresh shop starts with its read models in place.
                rebuild::build(self.clone(), 1).await
            }
        }
    }

    /// Starts the partition tasks of a generation. With `from_sequence`,
    /// missing consumers start there (a new generation); otherwise after the
    /// partition's checkpoint.
    async fn serve(&self, generation: u32, from_sequence: Option<u64>) -> Result<(), ProjectError> {
        let s = &self.shared;
        let token = self.shutdown.child_token();
        let serving = Arc::new(AtomicBool::new(
            s.read.generations().get(s.model.name()) == Some(generation),
        ));
        s.load_waiting(generation).await?;
        let mut tasks = Vec::new();
        let mut controls = Vec::new();
        for partition in 0..s.settings.partitions {
            let consumer = self.consumer(generation, partition, from_sequence).await?;
            let (tx, rx) = mpsc::channel(16);
            controls.push(tx);
            let worker = PartitionWorker {
                shared: s.clone(),
                generation,
                partition,
                consumer,
                serving: serving.clone(),
            };
            tasks.push(tokio::spawn(worker.run(rx, token.clone())));
        }
        let previous = self.running.lock().await.replace(Running {
            generation,
            token,
            tasks,
            controls,
        });
        if let Some(old) = previous {
            stop(old).await;
        }
        Ok(())
    }

    async fn consumer(
        &self,
        generation: u32,
        partition: u16,
        from_sequence: Option<u64>,
    ) -> Result<PullConsumer, ProjectError> {
        let s = &self.shared;
        let name = s.consumer_name(generation, partition);
        if let Ok(existing) = s
            .events
            .get_consumer::<jetstream::consumer::pull::Config>(&name)
            .await
        {
            return Ok(existing);
        }
        let start = match from_sequence {
            Some(seq) => seq,
            None => s.read.checkpoint(&name).await?.stream_sequence + 1,
        };
        Ok(layout::partition_consumer(
            &s.events,
            &name,
            s.filters(partition),
            start,
            s.settings.ack_wait,
        )
        .await?)
    }

    async fn discard_generation(&self, generation: u32) -> Result<(), ProjectError> {
        let s = &self.shared;
        for partition in 0..s.settings.partitions.max(64) {
            let name = s.consumer_name(generation, partition);
            if s.events.delete_consumer(&name).await.is_err() && partition >= s.settings.partitions
            {
                break;
            }
        }
        let bases: Vec<&str> = s.model.tables().iter().map(|(b, _)| *b).collect();
        s.read
            .drop_generation(s.model.name(), generation, &bases)
            .await?;
        Ok(())
    }

    /// Kills the partition tasks where they stand, as a crash would.
    pub async fn crash(&self) {
        if let Some(running) = self.running.lock().await.take() {
            for task in &running.tasks {
                task.abort();
            }
        }
    }

    /// Starts the partition tasks of the active generation again.
    pub async fn restart(&self) -> Result<(), ProjectError> {
        let s = &self.shared;
        let active = s
            .read
            .generations()
            .get(s.model.name())
            .ok_or(ProjectError::Stopped)?;
        self.serve(active, None).await
    }

    pub async fn stop(&self) {
        if let Some(running) = self.running.lock().await.take() {
            stop(running).await;
        }
    }

    async fn controls(&self) -> Result<Vec<mpsc::Sender<Control>>, ProjectError> {
        let running = self.running.lock().await;
        let running = running.as_ref().ok_or(ProjectError::Stopped)?;
        Ok(running.controls.clone())
    }

    /// Applies parked events again (all, or one aggregate's), in version
    /// order; those that apply now leave the dead letters.
    pub async fn retry(&self, aggregate: Option<String>) -> Result<RetryReport, ProjectError> {
        let mut report = RetryReport::default();
        for control in self.controls().await? {
            let (reply, answer) = oneshot::channel();
            control
                .send(Control::Retry {
                    aggregate: aggregate.clone(),
                    reply,
                })
                .await
                .map_err(|_| ProjectError::Stopped)?;
            report.merge(answer.await.map_err(|_| ProjectError::Stopped)??);
        }
        Ok(report)
    }

    /// Skips one parked event (recorded as skipped, never applied), then
    /// retries the aggregate's later events.
    pub async fn skip(&self, aggregate: String, version: u64) -> Result<RetryReport, ProjectError> {
        let s = &self.shared;
        let generation = self.active_generation()?;
        let letters = s
            .read
            .dead_letters(s.model.name(), generation, Some(&aggregate))
            .await?;
        let Some(letter) = letters.iter().find(|l| l.matches(version)) else {
            return Err(ProjectError::Refused(format!(
                "{aggregate} has no dead letter at version {version}"
            )));
        };
        let controls = self.controls().await?;
        let control = controls
            .get(usize::from(letter.partition))
            .ok_or(ProjectError::Stopped)?;
        let (reply, answer) = oneshot::channel();
        control
            .send(Control::Skip {
                aggregate,
                version,
                reply,
            })
            .await
            .map_err(|_| ProjectError::Stopped)?;
        answer.await.map_err(|_| ProjectError::Stopped)?
    }

    /// Compares the read model with the write model; with `repair`, folds
    /// every drifted record's aggregates again from the event log (through
    /// the partitions' tasks, like any event) and checks again.
    pub async fn reconcile(&self, repair: bool) -> Result<ReconcileReport, ProjectError> {
        let s = &self.shared;
        let generation = self.active_generation()?;
        let drifts = s.model.reconcile(&s.read, &s.write, generation).await?;
        let mut repaired = 0;
        let mut remaining = drifts.clone();
        if repair && !drifts.is_empty() {
            let partitions = s.settings.partitions;
            let mut work: BTreeMap<u16, (Vec<String>, Vec<RecordRef>)> = BTreeMap::new();
            for drift in &drifts {
                for key in &drift.aggregates {
                    let id = key.split_once(':').map_or(key.as_str(), |(_, id)| id);
                    let entry = work.entry(partition_of(id, partitions)).or_default();
                    if !entry.0.contains(key) {
                        entry.0.push(key.clone());
                    }
                    for d in &drift.deletes {
                        if !entry.1.contains(d) {
                            entry.1.push(d.clone());
                        }
                    }
                }
            }
            let controls = self.controls().await?;
            for (partition, (aggregates, deletes)) in work {
                let control = controls
                    .get(usize::from(partition))
                    .ok_or(ProjectError::Stopped)?;
                let (reply, answer) = oneshot::channel();
                control
                    .send(Control::Repair {
                        aggregates,
                        deletes,
                        reply,
                    })
                    .await
                    .map_err(|_| ProjectError::Stopped)?;
                repaired += answer.await.map_err(|_| ProjectError::Stopped)??;
            }
            remaining = s.model.reconcile(&s.read, &s.write, generation).await?;
        }
        if !drifts.is_empty() {
            tracing::warn!(
                model = s.model.name(),
                drifts = drifts.len(),
                repaired,
                remaining = remaining.len(),
                "reconciliation found drift"
            );
        }
        metrics::counter!("vitrine_reconcile_drifts_total", "read_model" => s.model.name())
            .increment(drifts.len() as u64);
        Ok(ReconcileReport {
            read_model: s.model.name(),
            generation,
            drifts,
            repaired,
            remaining,
            checked_at: OffsetDateTime::now_utc(),
        })
    }

    pub fn active_generation(&self) -> Result<u32, ProjectError> {
        let s = &self.shared;
        s.read
            .generations()
            .get(s.model.name())
            .ok_or(ProjectError::Stopped)
    }

    pub async fn dead_letters(
        &self,
        aggregate: Option<&str>,
    ) -> Result<Vec<DeadLetter>, ProjectError> {
        let s = &self.shared;
        let generation = self.active_generation()?;
        Ok(s.read
            .dead_letters(s.model.name(), generation, aggregate)
            .await?)
    }
}

/// Fetches what one partition consumer has ready (waiting at most a second)
/// and applies it: a generation being built catches up with this.
async fn drain_once<M: ReadModel>(
    shared: &Arc<Projection<M>>,
    generation: u32,
    partition: u16,
    consumer: &PullConsumer,
) -> Result<(), ProjectError> {
    let worker = PartitionWorker {
        shared: shared.clone(),
        generation,
        partition,
        consumer: consumer.clone(),
        serving: Arc::new(AtomicBool::new(false)),
    };
    let mut batch = consumer
        .fetch()
        .max_messages(shared.settings.batch)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .map_err(|e| ProjectError::Bus(e.to_string()))?;
    let mut messages = Vec::new();
    while let Some(m) = batch.next().await {
        messages.push(m.map_err(|e| ProjectError::Bus(e.to_string()))?);
    }
    if messages.is_empty() {
        return Ok(());
    }
    let mut checkpoint = shared.read.checkpoint(&worker.checkpoint_id()).await?;
    worker.apply_messages(&messages, &mut checkpoint).await
}

async fn stop(running: Running) {
    running.token.cancel();
    for task in running.tasks {
        let _ = task.await;
    }
    drop(running.controls);
    tracing::debug!(
        generation = running.generation,
        "stopped a generation's partitions"
    );
}

/// One partition's consumer loop.
struct PartitionWorker<M: ReadModel> {
    shared: Arc<Projection<M>>,
    generation: u32,
    partition: u16,
    consumer: PullConsumer,
    serving: Arc<AtomicBool>,
}

impl<M: ReadModel> PartitionWorker<M> {
    async fn run(mut self, mut control: mpsc::Receiver<Control>, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let result = self.consume(&mut control, &shutdown).await;
            if shutdown.is_cancelled() {
                return;
            }
            if let Some(status) = self.status() {
                status.failing.store(true, Ordering::Relaxed);
            }
            if let Err(e) = result {
                tracing::warn!(model = self.shared.model.name(), partition = self.partition, error = %e, retry_in = ?backoff, "projector partition stopped; restarting");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.cancelled() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// The partition's entry in the model's status, while this generation
    /// serves (a generation being built reports through the rebuild).
    fn status(&self) -> Option<&status::PartitionStatus> {
        self.serving
            .load(Ordering::Relaxed)
            .then(|| &self.shared.status.partitions[usize::from(self.partition)])
    }

    fn checkpoint_id(&self) -> String {
        self.shared.consumer_name(self.generation, self.partition)
    }

    async fn consume(
        &mut self,
        control: &mut mpsc::Receiver<Control>,
        shutdown: &CancellationToken,
    ) -> Result<(), ProjectError> {
        let mut checkpoint = self.shared.read.checkpoint(&self.checkpoint_id()).await?;
        let messages = self
            .consumer
            .messages()
            .await
            .map_err(|e| ProjectError::Bus(e.to_string()))?;
        let mut batches = messages.ready_chunks(self.shared.settings.batch);
        if let Some(status) = self.status() {
            status.failing.store(false, Ordering::Relaxed);
        }
        let mut beat = tokio::time::interval(IDLE_BEAT);
        loop {
            let next = tokio::select! {
                next = batches.next() => next,
                request = control.recv() => {
                    if let Some(request) = request {
                        self.handle(request).await;
                    }
                    continue;
                }
                _ = beat.tick() => {
                    self.refresh_lag().await;
                    continue;
                }
                _ = shutdown.cancelled() => return Ok(()),
            };
            let Some(batch) = next else {
                return Err(ProjectError::Bus("message stream ended".into()));
            };
            let mut messages = Vec::with_capacity(batch.len());
            for m in batch {
                messages.push(m.map_err(|e| ProjectError::Bus(e.to_string()))?);
            }
            if let Err(e) = self.apply_messages(&messages, &mut checkpoint).await {
                // Nothing was committed: let JetStream redeliver soon.
                for m in &messages {
                    let _ = m
                        .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                        .await;
                }
                return Err(e);
            }
        }
    }

    async fn refresh_lag(&mut self) {
        let behind = self
            .consumer
            .info()
            .await
            .map(|info| info.num_pending + info.num_ack_pending as u64);
        match behind {
            Ok(behind) => {
                if let Some(status) = self.status() {
                    status.set_behind(behind);
                    status.beat();
                }
            }
            Err(e) => {
                // NATS unreachable: no beat, so the lag shows as stale.
                tracing::debug!(error = %e, "consumer info unavailable");
            }
        }
    }

    async fn apply_messages(
        &self,
        messages: &[jetstream::Message],
        checkpoint: &mut Checkpoint,
    ) -> Result<(), ProjectError> {
        let s = &self.shared;
        let started = std::time::Instant::now();
        let mut incoming = Vec::with_capacity(messages.len());
        let mut message_of = Vec::with_capacity(messages.len());
        let mut extra = BatchWrite::default();
        let mut last_sequence = checkpoint.stream_sequence;
        let mut pending = 0;
        let now = OffsetDateTime::now_utc();
        for (idx, m) in messages.iter().enumerate() {
            let info = m.info().map_err(|e| ProjectError::Bus(e.to_string()))?;
            last_sequence = last_sequence.max(info.stream_sequence);
            pending = info.pending;
            match serde_json::from_slice::<StoredEvent>(&m.payload) {
                Ok(event) => {
                    incoming.push(Incoming {
                        event,
                        sequence: Some(info.stream_sequence),
                        max_attempts: s.settings.max_attempts,
                    });
                    message_of.push(idx);
                }
                Err(e) => {
                    tracing::error!(model = s.model.name(), sequence = info.stream_sequence, error = %e, "parked an unreadable message");
                    extra.dead_letters.push(DeadLetter {
                        aggregate: UNREADABLE.into(),
                        aggregate_version: 0,
                        event_id: None,
                        event_type: None,
                        partition: self.partition,
                        stream_sequence: Some(info.stream_sequence),
                        event: serde_json::Value::Null,
                        raw: Some(String::from_utf8_lossy(&m.payload).into_owned()),
                        reason: format!("not an event: {e}"),
                        status: PARKED.into(),
                        parked_at: now,
                    });
                }
            }
        }
        let events_in_batch: Vec<OffsetDateTime> =
            incoming.iter().map(|i| i.event.occurred_at).collect();
        let last_event_time = events_in_batch
            .iter()
            .copied()
            .max()
            .or(checkpoint.last_event_time);
        let next = Checkpoint {
            stream_sequence: last_sequence,
            last_event_time,
            updated_at: Some(now),
        };
        extra.checkpoint = Some((self.checkpoint_id(), next.clone()));
        let (verdicts, notices, applied) = s
            .apply(
                self.generation,
                self.partition,
                incoming,
                &HashSet::new(),
                &HashSet::new(),
                extra,
            )
            .await?;
        *checkpoint = next;
        let mut retry: HashMap<usize, Duration> = HashMap::new();
        for (i, verdict) in verdicts.iter().enumerate() {
            if let Verdict::Retry(delay) = verdict {
                retry.insert(message_of[i], *delay);
            }
        }
        for (idx, m) in messages.iter().enumerate() {
            let result = match retry.get(&idx) {
                Some(delay) => m.ack_with(AckKind::Nak(Some(*delay))).await,
                None => m.ack().await,
            };
            if let Err(e) = result {
                // Committed already; a redelivery will be skipped.
                tracing::debug!(error = %e, "ack failed after commit");
            }
        }
        if let Some(status) = self.status() {
            let model = s.model.name();
            metrics::counter!("vitrine_events_applied_total", "read_model" => model)
                .increment(applied as u64);
            let visible =
                metrics::histogram!("vitrine_event_visible_seconds", "read_model" => model);
            for event in &events_in_batch {
                visible.record(
                    (OffsetDateTime::now_utc() - *event)
                        .as_seconds_f64()
                        .max(0.0),
                );
            }
            status.applied(applied as u64, pending, checkpoint);
            status.beat();
            if !notices.is_empty() {
                s.live.publish_all(&notices).await;
            }
        }
        tracing::debug!(model = s.model.name(), partition = self.partition, events = messages.len(), elapsed = ?started.elapsed(), "projected a batch");
        Ok(())
    }

    async fn handle(&self, request: Control) {
        match request {
            Control::Retry { aggregate, reply } => {
                let _ = reply.send(self.retry(aggregate).await);
            }
            Control::Skip {
                aggregate,
                version,
                reply,
            } => {
                let result = match self.skip(&aggregate, version).await {
                    Ok(()) => self.retry(Some(aggregate)).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            Control::Repair {
                aggregates,
                deletes,
                reply,
            } => {
                let _ = reply.send(self.repair(aggregates, deletes).await);
            }
        }
    }

    /// Folds aggregates again from the event log into fresh records, in one
    /// transaction, between two batches of this partition.
    async fn repair(
        &self,
        aggregates: Vec<String>,
        deletes: Vec<RecordRef>,
    ) -> Result<usize, ProjectError> {
        let s = &self.shared;
        let mut incoming = Vec::new();
        for key in &aggregates {
            let Some((kind, id)) = key.split_once(':') else {
                continue;
            };
            let Some(kind) = AggregateType::parse(kind) else {
                continue;
            };
            for event in s.write.events_of(kind, id, 1, u64::MAX).await? {
                incoming.push(Incoming {
                    event,
                    sequence: None,
                    max_attempts: 1,
                });
            }
        }
        let fresh: HashSet<String> = aggregates.iter().cloned().collect();
        let extra = BatchWrite {
            deletes,
            ..Default::default()
        };
        let (_, notices, _) = s
            .apply(
                self.generation,
                self.partition,
                incoming,
                &HashSet::new(),
                &fresh,
                extra,
            )
            .await?;
        if self.serving.load(Ordering::Relaxed) {
            s.live.publish_all(&notices).await;
        }
        tracing::warn!(
            model = s.model.name(),
            partition = self.partition,
            ?aggregates,
            "repaired read records from the event log"
        );
        Ok(aggregates.len())
    }

    /// Applies this partition's parked events again, one aggregate at a
    /// time, each in its own transaction.
    async fn retry(&self, only: Option<String>) -> Result<RetryReport, ProjectError> {
        let s = &self.shared;
        let name = s.model.name();
        let letters = s
            .read
            .dead_letters(name, self.generation, only.as_deref())
            .await?;
        let mut by_aggregate: BTreeMap<String, Vec<DeadLetter>> = BTreeMap::new();
        for letter in letters {
            if letter.partition == self.partition && letter.status != SKIPPED {
                by_aggregate
                    .entry(letter.aggregate.clone())
                    .or_default()
                    .push(letter);
            }
        }
        let mut report = RetryReport::default();
        for (aggregate, letters) in by_aggregate {
            let mut incoming = Vec::new();
            let mut extra = BatchWrite::default();
            for letter in &letters {
                extra.resolved.push(letter.key());
                let event = match (&letter.raw, &letter.event) {
                    (Some(raw), _) => serde_json::from_str::<StoredEvent>(raw).ok(),
                    (None, event) => serde_json::from_value::<StoredEvent>(event.clone()).ok(),
                };
                match event {
                    Some(event) => incoming.push(Incoming {
                        event,
                        sequence: letter.stream_sequence,
                        max_attempts: 1,
                    }),
                    None => extra.dead_letters.push(DeadLetter {
                        reason: format!("still unreadable: {}", letter.reason),
                        parked_at: OffsetDateTime::now_utc(),
                        ..letter.clone()
                    }),
                }
            }
            let retrying: HashSet<String> = if aggregate == UNREADABLE {
                HashSet::new()
            } else {
                HashSet::from([aggregate.clone()])
            };
            let (_, notices, applied) = s
                .apply(
                    self.generation,
                    self.partition,
                    incoming,
                    &retrying,
                    &HashSet::new(),
                    extra,
                )
                .await?;
            report.applied_events += applied;
            let left = s
                .read
                .dead_letters(name, self.generation, Some(&aggregate))
                .await?;
            let left: Vec<&DeadLetter> = left.iter().filter(|l| l.status != SKIPPED).collect();
            match left.first() {
                None => report.drained.push(aggregate),
                Some(first) => report.still_parked.push((aggregate, first.reason.clone())),
            }
            if self.serving.load(Ordering::Relaxed) {
                s.live.publish_all(&notices).await;
            }
        }
        s.status
            .refresh_dead_letters(&s.read, self.generation)
            .await;
        Ok(report)
    }

    /// Records one parked event as skipped and moves its aggregate past it.
    async fn skip(&self, aggregate: &str, version: u64) -> Result<(), ProjectError> {
        let s = &self.shared;
        let name = s.model.name();
        let letters = s
            .read
            .dead_letters(name, self.generation, Some(aggregate))
            .await?;
        let Some(letter) = letters.iter().find(|l| l.matches(version)) else {
            return Err(ProjectError::Refused(format!(
                "{aggregate} has no dead letter at version {version}"
            )));
        };
        let skipped = DeadLetter {
            status: SKIPPED.into(),
            reason: format!(
                "skipped by an operator; it was parked because: {}",
                letter.reason
            ),
            ..letter.clone()
        };
        if letter.aggregate == UNREADABLE {
            // Not an event of any aggregate: nothing to move past.
            let mut batch = BatchWrite::default();
            batch.dead_letters.push(skipped);
            s.read.write_batch(name, self.generation, batch).await?;
            return Ok(());
        }
        let positions = s
            .read
            .positions(name, self.generation, &[aggregate.to_owned()])
            .await?;
        let mut position = positions.get(aggregate).cloned().unwrap_or_default();
        if position.version + 1 != version {
            return Err(ProjectError::Refused(format!(
                "{aggregate} is applied up to version {}; only version {} can be skipped next",
                position.version,
                position.version + 1
            )));
        }
        tracing::warn!(
            model = name,
            aggregate,
            version,
            "an operator skipped a parked event"
        );
        position.version = version;
        let mut batch = BatchWrite::default();
        batch.positions.push((aggregate.to_owned(), position));
        batch.dead_letters.push(skipped);
        s.read.write_batch(name, self.generation, batch).await?;
        Ok(())
    }
}

/// A read model's projector as the API, the CLI and tests drive it,
/// whatever its record type.
#[async_trait]
pub trait ReadModelOps: Send + Sync {
    fn name(&self) -> &'static str;
    fn status(&self) -> Arc<ModelStatus>;
    /// Serves the active generation (building the first one if needed).
    async fn start(&self) -> Result<(), ProjectError>;
    async fn dead_letters(&self, aggregate: Option<&str>) -> Result<Vec<DeadLetter>, ProjectError>;
    async fn retry(&self, aggregate: Option<String>) -> Result<RetryReport, ProjectError>;
    async fn skip(&self, aggregate: String, version: u64) -> Result<RetryReport, ProjectError>;
    /// Starts a rebuild; the generation being built.
    fn rebuild(&self) -> Result<u32, ProjectError>;
    async fn reconcile(&self, repair: bool) -> Result<ReconcileReport, ProjectError>;
    /// Kills the partition tasks where they stand (tests: a crash).
    async fn crash(&self);
    /// Starts the active generation's partition tasks again.
    async fn restart(&self) -> Result<(), ProjectError>;
    async fn stop(&self);
}

#[async_trait]
impl<M: ReadModel> ReadModelOps for Arc<Projector<M>> {
    fn name(&self) -> &'static str {
        self.shared.model.name()
    }
    fn status(&self) -> Arc<ModelStatus> {
        self.shared.status.clone()
    }
    async fn start(&self) -> Result<(), ProjectError> {
        Projector::start(self).await
    }
    async fn dead_letters(&self, aggregate: Option<&str>) -> Result<Vec<DeadLetter>, ProjectError> {
        Projector::dead_letters(self, aggregate).await
    }
    async fn retry(&self, aggregate: Option<String>) -> Result<RetryReport, ProjectError> {
        Projector::retry(self, aggregate).await
    }
    async fn skip(&self, aggregate: String, version: u64) -> Result<RetryReport, ProjectError> {
        Projector::skip(self, aggregate, version).await
    }
    fn rebuild(&self) -> Result<u32, ProjectError> {
        self.clone().start_rebuild()
    }
    async fn reconcile(&self, repair: bool) -> Result<ReconcileReport, ProjectError> {
        Projector::reconcile(self, repair).await
    }
    async fn crash(&self) {
        Projector::crash(self).await
    }
    async fn restart(&self) -> Result<(), ProjectError> {
        Projector::restart(self).await
    }
    async fn stop(&self) {
        Projector::stop(self).await
    }
}

/// Every read model of the shop, by name.
#[derive(Clone, Default)]
pub struct ReadModels(pub Vec<Arc<dyn ReadModelOps>>);

impl ReadModels {
    pub fn get(&self, name: &str) -> Option<&Arc<dyn ReadModelOps>> {
        self.0.iter().find(|m| m.name() == name)
    }
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|m| m.name()).collect()
    }
}
