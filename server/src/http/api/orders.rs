//! Orders: `POST /api/orders` with the reference service's body, and one
//! endpoint per lifecycle step.
//!
//! Prices come from the catalog: a client's `items[].price` (which the
//! reference service sends) is accepted and ignored.

use super::products::customer_for;
use super::{CommandRequest, ReceiptJson};
use crate::http::error::ApiError;
use crate::AppState;
use app::ports::OrderCommands;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::order::{OrderItem, PlaceOrder};
use domain::{OrderId, ProductId};

pub(super) async fn place_order(
    State(state): State<AppState>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Response, ApiError> {
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
    Path((id, action)): Path<(String, String)>,
    CommandRequest { meta, body }: CommandRequest<true>,
) -> Result<Json<ReceiptJson>, ApiError> {
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
