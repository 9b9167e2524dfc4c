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

/// An order line as the customer's history shows it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LineJson {
    product_id: String,
    product_name: String,
    category: String,
    unit_price: f64,
    quantity: u32,
    line_total: f64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StepJson {
    status: &'static str,
    at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// An order in a customer's history (read model `order_history`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderJson {
    order_id: String,
    customer_id: String,
    status: &'static str,
    lines: Vec<LineJson>,
    total: f64,
    paid: f64,
    refunded: f64,
    tracking_number: Option<String>,
    timeline: Vec<StepJson>,
    placed_at: String,
    aggregate_version: u64,
    event_time: String,
    projected_at: String,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl From<domain::views::OrderView> for OrderJson {
    fn from(v: domain::views::OrderView) -> Self {
        OrderJson {
            order_id: v.order_id.to_string(),
            customer_id: v.customer_id.to_string(),
            status: v.status.as_str(),
            lines: v
                .lines
                .into_iter()
                .map(|l| LineJson {
                    product_id: l.product_id.to_string(),
                    product_name: l.product_name,
                    category: l.category,
                    unit_price: l.unit_price.as_decimal_f64(),
                    quantity: l.quantity,
                    line_total: l.line_total.as_decimal_f64(),
                })
                .collect(),
            total: v.total.as_decimal_f64(),
            paid: v.paid.as_decimal_f64(),
            refunded: v.refunded.as_decimal_f64(),
            tracking_number: v.tracking_number,
            timeline: v
                .timeline
                .into_iter()
                .map(|s| StepJson {
                    status: s.status.as_str(),
                    at: rfc3339(s.at),
                    note: s.note,
                })
                .collect(),
            placed_at: rfc3339(v.placed_at),
            aggregate_version: v.version,
            event_time: rfc3339(v.event_time),
            projected_at: rfc3339(v.projected_at),
        }
    }
}

/// `GET /api/customers/{id}/orders`: that customer's orders, newest first,
/// from the order history read model (`stale` while the pipeline lags).
/// Only the customer and shop staff may read it.
pub(super) async fn customer_orders(
    State(state): State<AppState>,
    axum::Extension(caller): axum::Extension<crate::http::auth::Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let actor = caller.actor()?;
    let customer: domain::CustomerId = id
        .parse()
        .map_err(|_| ApiError::invalid("id", "must be a customer id"))?;
    let allowed = actor.role == domain::ActorRole::Admin
        || (actor.role == domain::ActorRole::Customer && actor.id == customer.to_string());
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the customer and shop staff see a customer's orders",
        ));
    }
    let listing = state
        .ports
        .order_history
        .customer_orders(customer, 200)
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again"))?;
    let orders: Vec<OrderJson> = listing.orders.into_iter().map(OrderJson::from).collect();
    Ok(Json(serde_json::json!({
        "customerId": customer.to_string(),
        "orders": orders,
        "stale": listing.stale,
    })))
}
