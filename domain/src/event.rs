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

    /// The aggregate type named by [`AggregateType::as_str`].
    pub fn parse(name: &str) -> Option<AggregateType> {
        AggregateType::ALL.into_iter().find(|t| t.as_str() == name)
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

/// One event type of an aggregate and the schema version this build writes
/// for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventSchema {
    pub event_type: &'static str,
    pub version: u16,
}

/// A typed event payload: its name and schema version in the envelope, its
/// JSON payload, and how stored payloads (of any version ever written) decode.
///
/// Versioning: each event type has its own current version (declared in
/// [`domain_events!`]). A payload's shape never changes within a version;
/// a change bumps the version and adds an upcaster step from the previous
/// one, so every version ever written stays decodable by every later build.
pub trait DomainEvent: Sized {
    /// The aggregate whose log this event belongs to.
    const AGGREGATE: AggregateType;

    /// Every event type of this aggregate, at the version this build writes.
    const EVENT_TYPES: &'static [EventSchema];

    fn event_type(&self) -> &'static str;

    /// The schema version this build writes for this event.
    fn schema_version(&self) -> u16;

    fn payload_json(&self) -> serde_json::Value;

    /// Decodes a payload written at the current schema version; `None` for an
    /// event type this aggregate does not have.
    fn decode_current(
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Option<Result<Self, serde_json::Error>>;

    /// The version this build writes for `event_type`; `None` for an event
    /// type this aggregate does not have.
    fn current_version(event_type: &str) -> Option<u16> {
        Self::EVENT_TYPES
            .iter()
            .find(|schema| schema.event_type == event_type)
            .map(|schema| schema.version)
    }

    /// One upcasting step: rewrites a payload of version `from_version` into
    /// the shape of version `from_version + 1`. [`DomainEvent::decode`] chains
    /// the steps up to the current version. An aggregate that bumps a version
    /// provides its steps (`upcast with` in [`domain_events!`]); by default
    /// no step exists.
    fn upcast(
        event_type: &str,
        from_version: u16,
        _payload: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        Err(format!(
            "no upcaster for {event_type} from v{from_version} to v{}",
            from_version + 1
        ))
    }

    /// Decodes a stored payload of any version this build knows, upcasting it
    /// step by step (v1 → v2 → …) to the current shape first.
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
        let Some(current) = Self::current_version(event_type) else {
            return Err(fail(format!(
                "not an event of the {} aggregate",
                Self::AGGREGATE.as_str()
            )));
        };
        if schema_version > current {
            // Readers may be older than writers during a rolling deploy: the
            // caller retries or stops; guessing at the shape would corrupt.
            return Err(fail(format!(
                "written by a newer build (this build reads up to v{current})"
            )));
        }
        if schema_version == 0 {
            return Err(fail("schema versions start at 1".into()));
        }
        let mut payload = payload.clone();
        for from in schema_version..current {
            payload = Self::upcast(event_type, from, payload).map_err(&fail)?;
        }
        match Self::decode_current(event_type, &payload) {
            Some(Ok(event)) => Ok(event),
            Some(Err(e)) => Err(fail(e.to_string())),
            // current_version found it, so decode_current knows it too.
            None => Err(fail("unknown event type".into())),
        }
    }

    /// The typed envelope of a stored event. Its payload has the current
    /// shape, so its `schema_version` is the current one, not the stored one:
    /// re-encoding it must not claim an older shape.
    fn decode_envelope(stored: &StoredEvent) -> Result<EventEnvelope<Self>, DecodeError> {
        let payload = Self::decode(&stored.event_type, stored.schema_version, &stored.payload)?;
        let mut envelope = stored.clone().map_payload(payload);
        envelope.schema_version = envelope.payload.schema_version();
        Ok(envelope)
    }
}

/// Declares an aggregate's event enum: one variant per payload struct of the
/// same name, and its [`DomainEvent`] implementation. A variant is written at
/// schema version 1 unless it says otherwise (`OrderPlaced = 2`); the
/// function named by `upcast with` (a [`DomainEvent::upcast`]) must then
/// bring every older version up one step at a time.
///
/// ```text
/// domain_events!(
///     /// Everything that happens to an order.
///     OrderEvent for Order upcast with upcast_order_event {
///         OrderPlaced = 2,
///         OrderShipped,
///     }
/// );
/// ```
#[macro_export]
macro_rules! domain_events {
    (@version) => { 1 };
    (@version $version:literal) => { $version };
    (@upcast) => {};
    (@upcast $upcast:path) => {
        fn upcast(
            event_type: &str,
            from_version: u16,
            payload: serde_json::Value,
        ) -> Result<serde_json::Value, String> {
            $upcast(event_type, from_version, payload)
        }
    };
    (
        $(#[$doc:meta])* $enum:ident for $aggregate:ident
        $(upcast with $upcast:path)?
        { $($variant:ident $(= $version:literal)?),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $enum {
            $($variant($variant)),+
        }

        impl $crate::event::DomainEvent for $enum {
            const AGGREGATE: $crate::event::AggregateType = $crate::event::AggregateType::$aggregate;

            const EVENT_TYPES: &'static [$crate::event::EventSchema] = &[
                $($crate::event::EventSchema {
                    event_type: stringify!($variant),
                    version: $crate::domain_events!(@version $($version)?),
                }),+
            ];

            fn event_type(&self) -> &'static str {
                match self {
                    $($enum::$variant(_) => stringify!($variant)),+
                }
            }

            fn schema_version(&self) -> u16 {
                match self {
                    $($enum::$variant(_) => $crate::domain_events!(@version $($version)?)),+
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

            $crate::domain_events!(@upcast $($upcast)?);
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
