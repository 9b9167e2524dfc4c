//! Why a command is refused. These travel to the browser (server functions)
//! and to JSON clients, so they are plain data with a field and a reason.

use serde::{Deserialize, Serialize};

/// A rule of the shop refused the command. Pure: raised by `decide`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
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
}

impl DomainError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// What a command handler answers instead of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "camelCase")]
pub enum CommandError {
    #[error(transparent)]
    Rejected(DomainError),
    /// The write store could not be reached or failed; nothing was written.
    #[error("the shop cannot take changes right now: {0}")]
    Unavailable(String),
}

impl From<DomainError> for CommandError {
    fn from(e: DomainError) -> Self {
        CommandError::Rejected(e)
    }
}
