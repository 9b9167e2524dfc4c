//! The error every server function returns: the command side's typed errors,
//! plus what can go wrong on the way (network, server).

use domain::{CommandError, DomainError};
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
// Externally tagged (serde's default): a tagged form would be buffered
// through serde's `Content` on the way in, more code in the WASM bundle
// for every answer type that can fail with it.
#[serde(rename_all = "camelCase")]
pub enum AppError {
    #[error(transparent)]
    Command(CommandError),
    #[error("not found")]
    NotFound,
    #[error("{field}: {reason}")]
    BadInput { field: String, reason: String },
    #[error("{0}")]
    Transport(String),
}

impl AppError {
    pub fn bad_input(field: &str, reason: impl Into<String>) -> Self {
        AppError::BadInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A sentence for a person, without internals.
    pub fn message(&self) -> String {
        match self {
            AppError::Command(CommandError::Rejected(DomainError::Invalid { field, reason })) => {
                format!("{}: {reason}", human_field(field))
            }
            AppError::Command(CommandError::Rejected(DomainError::VersionConflict {
                actual, ..
            })) => format!(
                "Someone changed this product meanwhile (now at version {actual}). Reload to see their change, then edit again."
            ),
            AppError::Command(e) => e.to_string(),
            AppError::NotFound => "Not found.".into(),
            AppError::BadInput { field, reason } => format!("{}: {reason}", human_field(field)),
            AppError::Transport(e) => format!("Could not reach the shop: {e}"),
        }
    }

    pub fn is_version_conflict(&self) -> bool {
        matches!(
            self,
            AppError::Command(CommandError::Rejected(DomainError::VersionConflict { .. }))
        )
    }
}

fn human_field(field: &str) -> String {
    match field {
        "price" => "Price".into(),
        "name" => "Name".into(),
        "category" => "Category".into(),
        "stock" => "Stock".into(),
        "quantity" => "Quantity".into(),
        "productId" => "Product".into(),
        "paymentMethod" => "Payment method".into(),
        "overridePriceCut" => "Price cut override".into(),
        "rating" => "Rating".into(),
        "comment" => "Comment".into(),
        "review" => "Review".into(),
        "q" => "Search".into(),
        "min_price" => "Lowest price".into(),
        "max_price" => "Highest price".into(),
        "min_rating" => "Rating".into(),
        "in_stock" => "In stock".into(),
        "sort" => "Sort".into(),
        "page" => "Page".into(),
        other => other.into(),
    }
}

impl From<CommandError> for AppError {
    fn from(e: CommandError) -> Self {
        AppError::Command(e)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_survives_the_trip_to_the_browser() {
        let errors = [
            AppError::Command(CommandError::Rejected(DomainError::invalid(
                "price", "too low",
            ))),
            AppError::Command(CommandError::Rejected(DomainError::VersionConflict {
                expected: 1,
                actual: 2,
            })),
            AppError::Command(CommandError::Unavailable("down".into())),
            AppError::NotFound,
            AppError::bad_input("stock", "must be a whole number"),
            AppError::Transport("timeout".into()),
        ];
        for e in errors {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(
                serde_json::from_str::<AppError>(&json).unwrap(),
                e,
                "{json}"
            );
        }
    }
}
