//! The JSON API's error body: `{"error", "field"?, "reason"}` with the right
//! status. Every failure of the API goes through here; none is plain text.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::{CommandError, DomainError};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// A stable code: `invalid_request`, `not_found`, `conflict`, …
    pub error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            field: None,
            reason: reason.into(),
            current_version: None,
        }
    }

    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.to_owned()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", reason)
        }
    }

    pub fn not_found(reason: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", reason)
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(DomainError::Invalid { field, reason }) => {
                // The domain names fields as the JSON API does.
                ApiError {
                    field: Some(field),
                    ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", reason)
                }
            }
            CommandError::Rejected(DomainError::NotFound { aggregate, id }) => {
                ApiError::not_found(format!("{aggregate} {id} does not exist"))
            }
            CommandError::Rejected(DomainError::AlreadyExists { aggregate, id }) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{aggregate} {id} already exists"),
            ),
            CommandError::Rejected(e @ DomainError::VersionConflict { actual, .. }) => ApiError {
                field: Some("expectedVersion".into()),
                current_version: Some(actual),
                ..ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            },
            CommandError::Rejected(e @ DomainError::InvalidState { .. }) => {
                ApiError::new(StatusCode::CONFLICT, "invalid_state", e.to_string())
            }
            CommandError::Rejected(e @ DomainError::InsufficientStock { .. }) => ApiError {
                field: Some("items".into()),
                ..ApiError::new(StatusCode::CONFLICT, "insufficient_stock", e.to_string())
            },
            CommandError::Rejected(e @ DomainError::Forbidden { .. }) => {
                ApiError::new(StatusCode::FORBIDDEN, "forbidden", e.to_string())
            }
            CommandError::Unavailable(reason) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
            }
            CommandError::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "sign in (POST /api/auth/login) or send a bearer token",
            ),
            e @ CommandError::KeyReused => ApiError {
                field: Some("Idempotency-Key".into()),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    e.to_string(),
                )
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}
