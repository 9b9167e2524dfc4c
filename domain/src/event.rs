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
    Inventory,
    Seller,
    Customer,
    Review,
    Order,
}

impl AggregateType {
    pub const ALL: [AggregateType; 6] = [
        AggregateType::Product,
        AggregateType::Inventory,
        AggregateType::Seller,
        AggregateType::Customer,
        AggregateType::Review,
        AggregateType::Order,
    ];

    /// The subject token and the write model's table for this aggregate.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateType::Product => "product",
            AggregateType::Inventory => "inventory",
            AggregateType::Seller => "seller",
            AggregateType::Customer => "customer",
            AggregateType::Review => "review",
            AggregateType::Order => "order",
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

/// What travels with every command besides its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandMeta {
    pub actor: Actor,
    pub command_id: CommandId,
    /// Set when the client chose the command id (a server function's id, an
    /// `Idempotency-Key`): a repeat gets the first outcome back.
    pub idempotency: Option<Idempotency>,
    /// The flow this command continues (a process manager reacting to an
    /// event passes the event's correlation id); `None` starts a new one.
    pub correlation_id: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Idempotency {
    /// The client's key, scoped to the actor by the command bus.
    pub key: String,
    /// A digest of what was asked (endpoint and body).
    pub request_hash: String,
}

impl CommandMeta {
    /// A command without a client key: run every time it is sent.
    pub fn new(actor: Actor) -> Self {
        CommandMeta {
            actor,
            command_id: CommandId::new(),
            idempotency: None,
            correlation_id: None,
        }
    }
}

/// A typed event payload: its name and schema version in the envelope, its
/// JSON payload, and how stored payloads (of any version ever written) decode.
pub trait DomainEvent: Sized {
    /// The aggregate whose log this event belongs to.
    const AGGREGATE: AggregateType;

    fn event_type(&self) -> &'static str;

    /// The schema version this build writes.
    fn schema_version(&self) -> u16 {
        1
    }

    fn payload_json(&self) -> serde_json::Value;

    /// Decodes a payload written at the current schema version; `None` for an
    /// event type this aggregate does not have.
    fn decode_current(
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Option<Result<Self, serde_json::Error>>;

    /// Rewrites a payload of an older schema version into the current shape.
    /// Every version ever written must stay decodable; none is older yet.
    fn upcast(
        _event_type: &str,
        _from_version: u16,
        _payload: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        Err("unknown schema version".into())
    }

    fn decode(
        event_type: &str,
        schema_version: u16,
        payload: &serde_json::Value,
    ) -> Result<Self, DecodeError> {
        let fail = |reason: String| DecodeError {
            event_type: event_type.to_owned(),
            schema_version,
            reason,
        };
        let payload = if schema_version == 1 {
            payload.clone()
        } else {
            Self::upcast(event_type, schema_version, payload.clone()).map_err(fail)?
        };
        match Self::decode_current(event_type, &payload) {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(fail(e.to_string())),
            None => Err(fail(format!(
                "not an event of the {} aggregate",
                Self::AGGREGATE.as_str()
            ))),
        }
    }

    fn decode_envelope(stored: &StoredEvent) -> Result<EventEnvelope<Self>, DecodeError> {
        let payload = Self::decode(&stored.event_type, stored.schema_version, &stored.payload)?;
        Ok(stored.clone().map_payload(payload))
    }
}

/// Declares an aggregate's event enum: one variant per payload struct of the
/// same name, and its [`DomainEvent`] implementation.
#[macro_export]
macro_rules! domain_events {
    ($(#[$doc:meta])* $enum:ident for $aggregate:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $enum {
            $($variant($variant)),+
        }

        impl $crate::event::DomainEvent for $enum {
            const AGGREGATE: $crate::event::AggregateType = $crate::event::AggregateType::$aggregate;

            fn event_type(&self) -> &'static str {
                match self {
                    $($enum::$variant(_) => stringify!($variant)),+
                }
            }

            fn payload_json(&self) -> serde_json::Value {
                let value = match self {
                    $($enum::$variant(e) => serde_json::to_value(e)),+
                };
                // Plain structs of strings, numbers and lists always serialize.
                value.unwrap_or(serde_json::Value::Null)
            }

            fn decode_current(
                event_type: &str,
                payload: &serde_json::Value,
            ) -> Option<Result<Self, serde_json::Error>> {
                match event_type {
                    $(stringify!($variant) => Some(
                        serde_json::from_value(payload.clone()).map($enum::$variant),
                    ),)+
                    _ => None,
                }
            }
        }
    };
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
