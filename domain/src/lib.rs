//! Vitrine's pure domain: the shop's language as types and rules.
//!
//! Nothing here does I/O, awaits, or knows about Leptos, SurrealDB or NATS.
//! It compiles for the server and for the browser, so the browser reuses the
//! same validation and read-record folds for optimistic updates.

pub mod analytics;
pub mod authz;
pub mod error;
pub mod event;
pub mod ids;
pub mod inventory;
pub mod money;
pub mod order;
pub mod party;
pub mod product;
pub mod receipt;
pub mod review;
pub mod text;
pub mod views;

pub use error::{CommandError, DomainError};
pub use event::{
    Actor, ActorRole, AggregateType, CommandMeta, DomainEvent, EventEnvelope, Idempotency,
    StoredEvent,
};
pub use ids::{AccountId, CommandId, CustomerId, EventId, OrderId, ProductId, ReviewId, SellerId};
pub use money::{Money, MoneyError};
pub use receipt::WriteReceipt;
