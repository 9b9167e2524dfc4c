//! Command handlers: load what the rules need, `decide` (pure, in `domain`),
//! commit states + events + outbox rows in one transaction, answer a receipt.
//!
//! [`CommandBus`] is the part every handler shares: retries when a
//! concurrent writer won, per-aggregate locks so writers in this process queue
//! instead of colliding, and idempotency (a client command id's first outcome
//! is kept and returned again for a repeat).

pub mod accounts;
pub mod catalog;
pub mod orders;
pub mod reviews;

use crate::pipeline::relay::RelayWaker;
use crate::store::write::{CommandRecord, Commit, WriteStore};
use crate::store::StoreError;
use domain::{
    AggregateType, CommandError, CommandMeta, DomainEvent, EventEnvelope, EventId, StoredEvent,
    WriteReceipt,
};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How often a command is re-decided when a concurrent writer won. With the
/// in-process locks a conflict needs another process writing the same store.
const MAX_ATTEMPTS: u32 = 16;

/// A short random pause before deciding again, growing with each lost race,
/// so two processes hammering one record take turns instead of colliding.
async fn back_off(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let ceiling_us = 200u64 << attempt.min(6); // 0.2 ms … 12.8 ms
    tokio::time::sleep(Duration::from_micros(random % ceiling_us)).await;
}

/// How long a client command id's outcome is kept (at least 24 h).
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(25 * 60 * 60);

pub(crate) fn unavailable(e: StoreError) -> CommandError {
    tracing::error!(error = %e, "write store failed");
    CommandError::Unavailable("the write store failed".into())
}

/// What a handler decided: the commit and what the receipt reports.
pub struct Decision {
    pub commit: Commit,
    pub aggregate_id: String,
    pub aggregate_version: u64,
}

/// Events of one command, in envelopes numbered per aggregate.
pub struct EventBatch<'a> {
    meta: &'a CommandMeta,
    occurred_at: OffsetDateTime,
    correlation_id: uuid::Uuid,
    pub events: Vec<StoredEvent>,
}

impl<'a> EventBatch<'a> {
    pub fn new(meta: &'a CommandMeta) -> Self {
        EventBatch {
            meta,
            occurred_at: OffsetDateTime::now_utc(),
            // A command that starts a flow correlates with itself.
            correlation_id: meta.correlation_id.unwrap_or(meta.command_id.0),
            events: Vec::new(),
        }
    }

    pub fn occurred_at(&self) -> OffsetDateTime {
        self.occurred_at
    }

    /// Appends `events` of one aggregate after `version`; returns the new version.
    pub fn add<E: DomainEvent>(&mut self, aggregate_id: &str, version: u64, events: &[E]) -> u64 {
        for (i, event) in events.iter().enumerate() {
            self.events.push(EventEnvelope {
                event_id: EventId::new(),
                event_type: event.event_type().to_owned(),
                schema_version: event.schema_version(),
                aggregate_type: E::AGGREGATE,
                aggregate_id: aggregate_id.to_owned(),
                aggregate_version: version + 1 + i as u64,
                occurred_at: self.occurred_at,
                actor: self.meta.actor.clone(),
                command_id: self.meta.command_id,
                correlation_id: self.correlation_id,
                payload: event.payload_json(),
            });
        }
        version + events.len() as u64
    }
}

/// Striped async locks keyed by aggregate: commands on the same aggregate
/// queue in this process rather than race to a conflict and retry.
pub struct AggregateLocks {
    stripes: Vec<Arc<Mutex<()>>>,
}

impl Default for AggregateLocks {
    fn default() -> Self {
        AggregateLocks {
            stripes: (0..1024).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }
}

impl AggregateLocks {
    /// Takes the stripes of every key, in stripe order (so two commands over
    /// the same aggregates never wait on each other in a cycle).
    pub async fn acquire(&self, keys: &[(AggregateType, String)]) -> Vec<OwnedMutexGuard<()>> {
        let mut stripes: Vec<usize> = keys
            .iter()
            .map(|(a, id)| {
                let digest = Sha256::digest(format!("{}:{id}", a.as_str()));
                (u64::from_le_bytes([
                    digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6],
                    digest[7],
                ]) % self.stripes.len() as u64) as usize
            })
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(self.stripes[s].clone().lock_owned().await);
        }
        guards
    }
}

#[derive(Clone)]
pub struct CommandBus {
    pub store: WriteStore,
    pub relay: RelayWaker,
    locks: Arc<AggregateLocks>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored key of a client command id: scoped to the account.
fn record_key(meta: &CommandMeta, key: &str) -> String {
    hex(&Sha256::digest(format!("{}\n{}", meta.actor.id, key)))
}

/// A digest of a request, for telling a repeat from a different request
/// under the same key.
pub fn request_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())
}

fn replay(record: &CommandRecord, request_hash: &str) -> Result<WriteReceipt, CommandError> {
    if record.request_hash != request_hash {
        return Err(CommandError::KeyReused);
    }
    if let Some(ok) = record.outcome.get("ok") {
        if let Ok(receipt) = serde_json::from_value::<WriteReceipt>(ok.clone()) {
            return Ok(receipt);
        }
    }
    if let Some(err) = record.outcome.get("err") {
        let error = serde_json::from_value::<CommandError>(err.clone())
            .ok()
            .or_else(|| tagged_command_error(err));
        if let Some(error) = error {
            return Err(error);
        }
    }
    Err(CommandError::Unavailable(
        "the first outcome of this command cannot be read".into(),
    ))
}

/// Outcomes kept before 2026-12-06 hold `CommandError` in its earlier
/// tagged form (`{"kind": "rejected", "detail": {"kind": "invalid", …}}`);
/// they are kept for a day, so a repeat within it still gets its refusal.
fn tagged_command_error(value: &serde_json::Value) -> Option<CommandError> {
    use serde_json::{Map, Value};
    let kind = value.get("kind")?.as_str()?;
    let external = match value.get("detail") {
        None => Value::String(kind.to_owned()),
        Some(detail) if kind == "rejected" => {
            let mut fields = detail.as_object()?.clone();
            let rule = fields.remove("kind")?.as_str()?.to_owned();
            let inner = Map::from_iter([(rule, Value::Object(fields))]);
            Value::Object(Map::from_iter([(kind.to_owned(), Value::Object(inner))]))
        }
        Some(detail) => Value::Object(Map::from_iter([(kind.to_owned(), detail.clone())])),
    };
    serde_json::from_value(external).ok()
}

impl CommandBus {
    pub fn new(store: WriteStore, relay: RelayWaker) -> Self {
        CommandBus {
            store,
            relay,
            locks: Arc::new(AggregateLocks::default()),
        }
    }

    /// Runs one command: `decide` loads state and decides; the bus commits,
    /// retrying on a lost race, and keeps the outcome for a client command id.
    /// `locks` names the aggregates the command writes.
    pub async fn run<F, Fut>(
        &self,
        meta: &CommandMeta,
        locks: &[(AggregateType, String)],
        decide: F,
    ) -> Result<WriteReceipt, CommandError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Decision, CommandError>>,
    {
        let idempotency = meta
            .idempotency
            .as_ref()
            .map(|i| (record_key(meta, &i.key), i.request_hash.clone()));
        if let Some((key, hash)) = &idempotency {
            if let Some(record) = self.store.command_record(key).await.map_err(unavailable)? {
                return replay(&record, hash);
            }
        }
        let _guards = self.locks.acquire(locks).await;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                back_off(attempt).await;
            }
            let decision = match decide().await {
                Ok(d) => d,
                Err(error @ CommandError::Rejected(_)) => {
                    if let Some((key, hash)) = &idempotency {
                        self.keep_outcome(key, hash, serde_json::json!({ "err": error }))
                            .await;
                    }
                    return Err(error);
                }
                Err(other) => return Err(other),
            };
            let receipt = WriteReceipt {
                command_id: meta.command_id,
                aggregate_id: decision.aggregate_id.clone(),
                aggregate_version: decision.aggregate_version,
                event_ids: decision.commit.events.iter().map(|e| e.event_id).collect(),
            };
            let mut commit = decision.commit;
            if commit.events.is_empty() && commit.creates.is_empty() {
                // Nothing changes (the price is already that price).
                return Ok(receipt);
            }
            if let Some((key, hash)) = &idempotency {
                commit.command = Some(CommandRecord {
                    key: key.clone(),
                    request_hash: hash.clone(),
                    outcome: serde_json::json!({ "ok": receipt }),
                    expires_at: OffsetDateTime::now_utc() + IDEMPOTENCY_RETENTION,
                });
            }
            match self.store.commit(&commit).await {
                Ok(()) => {
                    // Still under the aggregates' locks: hand-offs of one
                    // aggregate reach the relay in version order.
                    self.relay.hand_off(&commit.events);
                    return Ok(receipt);
                }
                Err(StoreError::Conflict) => {
                    // Someone else wrote first — maybe the same command sent
                    // twice at once: then answer what the first one got.
                    if let Some((key, hash)) = &idempotency {
                        if let Some(record) =
                            self.store.command_record(key).await.map_err(unavailable)?
                        {
                            return replay(&record, hash);
                        }
                    }
                    continue;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(CommandError::Unavailable(
            "too many concurrent changes to the same records; try again".into(),
        ))
    }

    async fn keep_outcome(&self, key: &str, hash: &str, outcome: serde_json::Value) {
        let record = CommandRecord {
            key: key.to_owned(),
            request_hash: hash.to_owned(),
            outcome,
            expires_at: OffsetDateTime::now_utc() + IDEMPOTENCY_RETENTION,
        };
        if let Err(e) = self.store.record_command(&record).await {
            // The refusal stands; a repeat is decided again (and refused again).
            tracing::warn!(error = %e, "could not keep a refused command's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tagged_command_error;
    use domain::{CommandError, DomainError};
    use serde_json::json;

    #[test]
    fn outcomes_kept_in_the_earlier_tagged_form_still_read() {
        let cases = [
            (
                json!({"kind": "rejected", "detail": {"kind": "invalid", "field": "price", "reason": "too low"}}),
                CommandError::Rejected(DomainError::invalid("price", "too low")),
            ),
            (
                json!({"kind": "rejected", "detail": {"kind": "insufficientStock", "productId": "p1", "requested": 3, "available": 1}}),
                CommandError::Rejected(DomainError::InsufficientStock {
                    product_id: "p1".into(),
                    requested: 3,
                    available: 1,
                }),
            ),
            (
                json!({"kind": "unavailable", "detail": "down"}),
                CommandError::Unavailable("down".into()),
            ),
            (json!({"kind": "keyReused"}), CommandError::KeyReused),
        ];
        for (stored, expected) in cases {
            assert_eq!(tagged_command_error(&stored), Some(expected), "{stored}");
        }
        assert_eq!(tagged_command_error(&json!({"kind": "nonsense"})), None);
        assert_eq!(tagged_command_error(&json!("keyReused")), None);
    }

    #[test]
    fn the_current_form_is_externally_tagged() {
        let error = CommandError::Rejected(DomainError::invalid("price", "too low"));
        let value = serde_json::to_value(&error).unwrap();
        assert_eq!(
            value,
            json!({"rejected": {"invalid": {"field": "price", "reason": "too low"}}})
        );
        assert_eq!(
            serde_json::from_value::<CommandError>(value).unwrap(),
            error
        );
    }
}
