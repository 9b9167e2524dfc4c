//! The sales analytics API, in the reference service's shape (seed 003):
//! product sales, category revenue, customer lifetime value, hourly sales.
//! Staff see everything; a seller sees their own products' sales; a
//! customer sees their own lifetime value. Every answer says how fresh it
//! is: figures never wait for the projection, `stale` is true while it lags.

use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::read::{
    CATEGORY_SALES_TABLE, CUSTOMER_VALUE_TABLE, HOURLY_SALES_TABLE, PRODUCT_SALES_TABLE,
    SALES_ANALYTICS,
};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use domain::analytics::Tally;
use domain::{ActorRole, CustomerId, Money, ProductId};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The longest range of hourly sales one request may ask for.
const MAX_HOURLY_DAYS: i64 = 31;

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "analytics read failed");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
}

fn forbidden(reason: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason.to_owned())
}

fn money(minor: i64) -> f64 {
    Money::from_minor(minor).as_decimal_f64()
}

fn rfc3339(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// `stale` and the read model's last processed event, for every answer.
fn freshness(state: &AppState) -> (bool, Value) {
    let model = state.status.model(SALES_ANALYTICS);
    let behind = model.as_ref().is_some_and(|m| m.behind() > 0)
        || state
            .status
            .relay_backlog
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0;
    let last = model.and_then(|m| m.last_event_time());
    (behind, rfc3339(last))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Figures {
    units_sold: i64,
    revenue: f64,
    order_count: i64,
}

impl From<&Tally> for Figures {
    fn from(t: &Tally) -> Self {
        Figures {
            units_sold: t.units,
            revenue: money(t.revenue),
            order_count: t.orders,
        }
    }
}

/// `GET /api/analytics/products/{id}/sales`
pub(super) async fn product_sales(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor()?;
    let product: ProductId = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("product {id} does not exist")))?;
    let view = state
        .read
        .product_view(product)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::not_found(format!("product {id} does not exist")))?;
    let allowed = match actor.role {
        ActorRole::Admin => true,
        ActorRole::Seller => view.seller_id.is_some_and(|s| s.to_string() == actor.id),
        _ => false,
    };
    if !allowed {
        return Err(forbidden(
            "only shop staff and the product's seller see its sales",
        ));
    }
    let partitions = state.settings.pipeline.partitions;
    let (tally, _) = state
        .read
        .sales_tally(PRODUCT_SALES_TABLE, &product.to_string(), partitions)
        .await
        .map_err(unavailable)?;
    let (stale, last) = freshness(&state);
    Ok(Json(json!({
        "productId": product.to_string(),
        "productName": view.name,
        "unitsSold": tally.units,
        "revenue": money(tally.revenue),
        "orderCount": tally.orders,
        "lastOrderAt": rfc3339(tally.last_order_at),
        "lastProcessedEventTimestamp": last,
        "stale": stale,
    })))
}

/// `GET /api/analytics/categories/{category}/revenue`
pub(super) async fn category_revenue(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(category): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if caller.actor()?.role != ActorRole::Admin {
        return Err(forbidden("only shop staff see category revenue"));
    }
    let partitions = state.settings.pipeline.partitions;
    let (tally, _) = state
        .read
        .sales_tally(CATEGORY_SALES_TABLE, &category, partitions)
        .await
        .map_err(unavailable)?;
    let (stale, last) = freshness(&state);
    Ok(Json(json!({
        "category": category,
        "revenue": money(tally.revenue),
        "unitsSold": tally.units,
        "orderCount": tally.orders,
        "lastProcessedEventTimestamp": last,
        "stale": stale,
    })))
}

/// `GET /api/analytics/customers/{id}/lifetime-value`
pub(super) async fn customer_lifetime_value(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor()?;
    let customer: CustomerId = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("customer {id} does not exist")))?;
    let allowed = actor.role == ActorRole::Admin
        || (actor.role == ActorRole::Customer && actor.id == customer.to_string());
    if !allowed {
        return Err(forbidden(
            "only the customer and shop staff see a customer's lifetime value",
        ));
    }
    let partitions = state.settings.pipeline.partitions;
    let (tally, _) = state
        .read
        .sales_tally(CUSTOMER_VALUE_TABLE, &customer.to_string(), partitions)
        .await
        .map_err(unavailable)?;
    let average = (tally.orders > 0).then(|| money(tally.revenue / tally.orders));
    let (stale, last) = freshness(&state);
    Ok(Json(json!({
        "customerId": customer.to_string(),
        "totalSpent": money(tally.revenue),
        "orderCount": tally.orders,
        "averageOrderValue": average,
        "firstOrderAt": rfc3339(tally.first_order_at),
        "lastOrderAt": rfc3339(tally.last_order_at),
        "lastProcessedEventTimestamp": last,
        "stale": stale,
    })))
}

fn instant(field: &str, value: Option<&String>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                ApiError::invalid(field, "must be an RFC 3339 time, e.g. 2026-11-22T10:00:00Z")
            })
        })
        .transpose()
}

/// `GET /api/analytics/sales/hourly?from=&to=`: one bucket per UTC hour in
/// `[from, to)` (default: the last 24 hours), labelled in the shop's time
/// zone.
pub(super) async fn hourly_sales(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if caller.actor()?.role != ActorRole::Admin {
        return Err(forbidden("only shop staff see hourly sales"));
    }
    if let Some(unknown) = params
        .keys()
        .find(|k| !["from", "to"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(unknown, "is not a parameter (from, to)"));
    }
    let now = OffsetDateTime::now_utc();
    let to = instant("to", params.get("to"))?.unwrap_or(now);
    let from = instant("from", params.get("from"))?.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_HOURLY_DAYS) {
        return Err(ApiError::invalid(
            "to",
            format!("at most {MAX_HOURLY_DAYS} days after from"),
        ));
    }
    let zone = state.settings.time_zone().map_err(unavailable)?;
    let first = domain::analytics::hour_of(from);
    let last = domain::analytics::hour_of(to - Duration::nanoseconds(1));
    let partitions = state.settings.pipeline.partitions;
    let ids: Vec<String> = (first..=last)
        .flat_map(|h| (0..partitions).map(move |p| format!("{h}_{p}")))
        .collect();
    let shards = state
        .read
        .sales_shards(HOURLY_SALES_TABLE, &ids)
        .await
        .map_err(unavailable)?;
    let mut hours: HashMap<i64, Tally> = HashMap::new();
    for (key, tally) in shards {
        if let Ok(hour) = key.parse::<i64>() {
            let t = hours.entry(hour).or_default();
            *t = t.merge(&tally);
        }
    }
    let mut total = Tally::default();
    let buckets: Vec<Value> = (first..=last)
        .map(|hour| {
            let tally = hours.get(&hour).copied().unwrap_or_default();
            total = total.merge(&tally);
            let start = OffsetDateTime::UNIX_EPOCH + Duration::hours(hour);
            let figures = Figures::from(&tally);
            json!({
                "hourStart": rfc3339(Some(start.to_offset(zone))),
                "unitsSold": figures.units_sold,
                "revenue": figures.revenue,
                "orderCount": figures.order_count,
            })
        })
        .collect();
    let (stale, last_event) = freshness(&state);
    Ok(Json(json!({
        "timeZone": state.settings.shop.time_zone,
        "from": rfc3339(Some(from)),
        "to": rfc3339(Some(to)),
        "buckets": buckets,
        "total": Figures::from(&total),
        "lastProcessedEventTimestamp": last_event,
        "stale": stale,
    })))
}
