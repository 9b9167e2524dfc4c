//! Why a command is refused. These travel to the browser (server functions)
//! and to JSON clients, so they are plain data with a field and a reason.

use serde::{Deserialize, Serialize};

/// A rule of the shop refused the command. Pure: raised by `decide`.
///
/// Externally tagged (`{"invalid": {"field", "reason"}}`), as is
/// [`CommandError`]: a tagged form is buffered through serde's `Content` when
/// read, which costs the browser bundle ~30 KB of code for these two types.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
pub enum DomainError {
    /// One input is not acceptable; `field` names it as the client sent it.
    #[error("{field}: {reason}")]
    #[serde(rename_all = "camelCase")]
    Invalid { field: String, reason: String },
    #[error("{aggregate} {id} does not exist")]
    NotFound { aggregate: String, id: String },
    #[error("{aggregate} {id} already exists")]
    AlreadyExists { aggregate: String, id: String },
    /// The client edited an older version than the current one.
    #[error("the record changed meanwhile: you edited version {expected}, it is now at version {actual}")]
    VersionConflict { expected: u64, actual: u64 },
    /// The aggregate's state does not allow the command (an order that has
    /// shipped cannot be cancelled, a deleted product cannot be edited, …).
    #[error("{reason}")]
    InvalidState { reason: String },
    /// Not enough units on hand for an order line.
    #[error(
        "not enough stock of product {product_id}: {requested} requested, {available} available"
    )]
    #[serde(rename_all = "camelCase")]
    InsufficientStock {
        product_id: String,
        requested: u32,
        available: u32,
    },
    /// The caller is known but may not do this (ARCHITECTURE.md, "Who may do what").
    #[error("{reason}")]
    Forbidden { reason: String },
}

impl DomainError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn not_found(aggregate: &str, id: impl ToString) -> Self {
        DomainError::NotFound {
            aggregate: aggregate.to_owned(),
            id: id.to_string(),
        }
    }

    pub fn invalid_state(reason: impl Into<String>) -> Self {
        DomainError::InvalidState {
            reason: reason.into(),
        }
    }

    pub fn forbidden(reason: impl Into<String>) -> Self {
        DomainError::Forbidden {
            reason: reason.into(),
        }
    }
}

/// What a command handler answers instead of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
pub enum CommandError {
    #[error(transparent)]
    Rejected(DomainError),
    /// The write store could not be reached or failed; nothing was written.
    #[error("the shop cannot take changes right now: {0}")]
    Unavailable(String),
    /// No session or token: sign in first.
    #[error("sign in to do this")]
    Unauthenticated,
    /// The client reused a command id (Idempotency-Key) for a different command.
    #[error("this idempotency key was already used for a different request")]
    KeyReused,
}

impl From<DomainError> for CommandError {
    fn from(e: DomainError) -> Self {
        CommandError::Rejected(e)
    }
}
