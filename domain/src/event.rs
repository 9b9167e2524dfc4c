//! The event envelope shared by the write store, the outbox, JetStream and the
//! projectors (ARCHITECTURE.md, "Contracts").

use crate::ids::{CommandId, EventId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AggregateType {
    Product,
}

impl AggregateType {
    /// The subject token and table prefix for this aggregate.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateType::Product => "product",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActorRole {
    Admin,
    Seller,
    Customer,
    /// The shop itself: demo data, process managers.
    System,
}

/// Who issued a command; recorded on every event as the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub id: String,
    pub role: ActorRole,
}

impl Actor {
    pub fn system(id: &str) -> Self {
        Actor {
            id: id.to_owned(),
            role: ActorRole::System,
        }
    }
    pub fn is_admin(&self) -> bool {
        matches!(self.role, ActorRole::Admin | ActorRole::System)
    }
}

/// One event with its metadata. `E` is the typed payload inside the shop and
/// `serde_json::Value` on the wire and in storage ([`StoredEvent`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope<E> {
    pub event_id: EventId,
    pub event_type: String,
    pub schema_version: u16,
    pub aggregate_type: AggregateType,
    pub aggregate_id: String,
    /// 1, 2, 3… per aggregate; the projectors' ordering and de-duplication key.
    pub aggregate_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub actor: Actor,
    /// The command that caused this event.
    pub command_id: CommandId,
    pub correlation_id: Uuid,
    pub payload: E,
}

/// An event as stored in the log and sent over JetStream: payload untyped
/// until decoded (and upcast) by its aggregate.
pub type StoredEvent = EventEnvelope<serde_json::Value>;

/// A stored event whose type or version this build does not understand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {event_type} v{schema_version}: {reason}")]
pub struct DecodeError {
    pub event_type: String,
    pub schema_version: u16,
    pub reason: String,
}

impl<E> EventEnvelope<E> {
    pub fn map_payload<F>(self, payload: F) -> EventEnvelope<F> {
        EventEnvelope {
            event_id: self.event_id,
            event_type: self.event_type,
            schema_version: self.schema_version,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            aggregate_version: self.aggregate_version,
            occurred_at: self.occurred_at,
            actor: self.actor,
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            payload,
        }
    }
}
