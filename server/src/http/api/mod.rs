//! The public JSON API (`/api/...`): camelCase bodies, ids as strings, money
//! as decimal numbers in currency units, errors as `{"error","field","reason"}`.
//!
//! Every command endpoint needs a caller (session cookie or bearer token):
//! 401 otherwise; what the caller may do is decided by the command rules
//! (403). An `Idempotency-Key` header makes a command safe to repeat: the
//! first outcome is returned again, and the same key with another request is
//! a 422.

mod accounts;
mod analytics;
mod catalog;
mod operations;
mod orders;
mod products;

pub use catalog::ProductJson;

use super::auth::Caller;
use super::error::ApiError;
use super::json_body::{read_body, JsonBody};
use crate::commands::request_hash;
use crate::AppState;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use domain::{CommandId, CommandMeta, Idempotency, WriteReceipt};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(accounts::sign_up))
        .route("/auth/login", post(accounts::sign_in))
        .route("/auth/logout", post(accounts::sign_out))
        .route("/auth/me", get(accounts::me))
        .route("/auth/tokens", post(accounts::issue_token))
        .route("/sellers", post(accounts::register_seller))
        .route(
            "/products",
            get(catalog::search_products).post(products::create_product),
        )
        .route(
            "/products/{id}",
            get(catalog::get_product)
                .patch(products::edit_product)
                .delete(products::delete_product),
        )
        .route("/products/search", get(catalog::search_products))
        .route("/products/{id}/stock", post(products::adjust_stock))
        .route("/products/{id}/reviews", post(products::submit_review))
        .route("/orders", post(orders::place_order))
        .route("/orders/{id}/{action}", post(orders::transition))
        .route("/customers/{id}/orders", get(orders::customer_orders))
        .route("/live", get(super::live::live_feed))
        .route("/analytics/sync-status", get(operations::sync_status))
        .route(
            "/analytics/products/{id}/sales",
            get(analytics::product_sales),
        )
        .route(
            "/analytics/categories/{category}/revenue",
            get(analytics::category_revenue),
        )
        .route(
            "/analytics/customers/{id}/lifetime-value",
            get(analytics::customer_lifetime_value),
        )
        .route("/analytics/sales/hourly", get(analytics::hourly_sales))
        .route("/admin/read-models", get(operations::read_models))
        .route(
            "/admin/read-models/{name}/rebuild",
            post(operations::rebuild),
        )
        .route(
            "/admin/read-models/{name}/reconcile",
            post(operations::reconcile),
        )
        .route(
            "/admin/read-models/{name}/dead-letters",
            get(operations::dead_letters),
        )
        .route(
            "/admin/read-models/{name}/dead-letters/retry",
            post(operations::retry),
        )
        .route(
            "/admin/read-models/{name}/dead-letters/skip",
            post(operations::skip),
        )
        .route_layer(axum::middleware::from_fn(super::metrics::time_commands))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
}

/// The longest `Idempotency-Key` accepted.
const MAX_KEY_CHARS: usize = 255;

/// What every command endpoint reads from its request: the caller (or 401)
/// with the client's idempotency key, and the JSON body (limited, parsed
/// field by field). `OPTIONAL_BODY`: an empty body reads as `{}`.
pub(crate) struct CommandRequest<const OPTIONAL_BODY: bool = false> {
    pub meta: CommandMeta,
    pub body: JsonBody,
}

impl<S: Send + Sync, const OPTIONAL_BODY: bool> FromRequest<S> for CommandRequest<OPTIONAL_BODY> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Caller::anonymous);
        // The path as the client sent it (nested routers strip their prefix).
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.0.path().to_owned());
        let bytes = read_body(body).await?;
        let meta = command_meta(&caller, &parts.headers, &parts.method, &path, &bytes)?;
        let body = if OPTIONAL_BODY {
            JsonBody::parse_optional(&parts.headers, &bytes)?
        } else {
            JsonBody::parse(&parts.headers, &bytes)?
        };
        Ok(CommandRequest { meta, body })
    }
}

/// The command's metadata: the caller (or 401) and the client's key.
fn command_meta(
    caller: &Caller,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<CommandMeta, ApiError> {
    let actor = caller.actor()?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|k| {
                    !k.is_empty()
                        && k.len() <= MAX_KEY_CHARS
                        && k.chars().all(|c| c.is_ascii_graphic())
                })
                .ok_or_else(|| {
                    ApiError::invalid(
                        "Idempotency-Key",
                        format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
                    )
                })?;
            Some(Idempotency {
                key: key.to_owned(),
                request_hash: request_hash(&[method.as_str().as_bytes(), path.as_bytes(), body]),
            })
        }
    };
    Ok(CommandMeta {
        actor,
        command_id: CommandId::new(),
        idempotency,
        correlation_id: None,
    })
}

/// A receipt with the id under the aggregate's own name (`orderId`, …).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReceiptJson {
    #[serde(flatten)]
    id: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    receipt: WriteReceipt,
}

impl ReceiptJson {
    pub(crate) fn new(id_field: &str, receipt: WriteReceipt) -> Self {
        let mut id = serde_json::Map::new();
        id.insert(
            id_field.to_owned(),
            serde_json::Value::String(receipt.aggregate_id.clone()),
        );
        ReceiptJson { id, receipt }
    }
}
