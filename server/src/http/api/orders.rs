//! Orders: `POST /api/orders` with the reference service's body, and one
//! endpoint per lifecycle step.
//!
//! Prices come from the catalog: a client's `items[].price` (which the
//! reference service sends) is accepted and ignored.

use super::products::customer_for;
use super::{command_meta, ReceiptJson};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::json_body::{read_body, JsonBody};
use crate::AppState;
use app::ports::OrderCommands;
use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domain::order::{OrderItem, PlaceOrder};
use domain::{OrderId, ProductId};

pub(super) async fn place_order(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let meta = command_meta(&caller, &headers, &method, uri.path(), &bytes)?;
    let body = JsonBody::parse(&headers, &bytes)?;
    body.only(&["customerId", "items"], &[])?;
    let customer_id = customer_for(&body, &meta.actor)?;
    let items = body
        .objects("items")?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.only(&["productId", "quantity"], &["price"])?;
            let text = item.string("productId")?;
            let product_id = text.parse::<ProductId>().map_err(|_| {
                ApiError::invalid(
                    &format!("items[{i}].productId"),
                    format!("product {text} does not exist"),
                )
            })?;
            Ok(OrderItem {
                product_id,
                quantity: item.integer("quantity")?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let command = PlaceOrder {
        order_id: OrderId::new(),
        customer_id,
        items,
    };
    let receipt = state.orders.place_order(meta, command).await?;
    let location = format!("/api/orders/{}", receipt.aggregate_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ReceiptJson::new("orderId", receipt)),
    )
        .into_response())
}

/// `POST /api/orders/{id}/pay|confirm|ship|deliver|cancel|return`.
pub(super) async fn transition(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, action)): Path<(String, String)>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ReceiptJson>, ApiError> {
    let bytes = read_body(body).await?;
    let known: &[&str] = match action.as_str() {
        "pay" => &["paymentMethod"],
        "confirm" | "deliver" => &[],
        "ship" => &["trackingNumber"],
        "cancel" | "return" => &["reason"],
        _ => return Err(ApiError::not_found("no such endpoint")),
    };
    let order_id: OrderId = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("order {id} does not exist")))?;
    let meta = command_meta(&caller, &headers, &method, uri.path(), &bytes)?;
    let body = JsonBody::parse_optional(&headers, &bytes)?;
    body.only(known, &[])?;
    let orders = &state.orders;
    let receipt = match action.as_str() {
        "pay" => {
            let method = body
                .optional_string("paymentMethod")?
                .unwrap_or_else(|| "card".into());
            orders.pay_order(meta, order_id, method).await?
        }
        "confirm" => orders.confirm_order(meta, order_id).await?,
        "ship" => {
            orders
                .ship_order(meta, order_id, body.string("trackingNumber")?)
                .await?
        }
        "deliver" => orders.deliver_order(meta, order_id).await?,
        "cancel" => {
            let reason = body
                .optional_string("reason")?
                .unwrap_or_else(|| "cancelled by request".into());
            orders.cancel_order(meta, order_id, reason).await?
        }
        _ => {
            let reason = body
                .optional_string("reason")?
                .unwrap_or_else(|| "returned by the customer".into());
            orders.return_order(meta, order_id, reason).await?
        }
    };
    Ok(Json(ReceiptJson::new("orderId", receipt)))
}
