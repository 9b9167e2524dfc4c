//! The public JSON API (`/api/...`): camelCase bodies, ids as strings, money
//! as decimal numbers in currency units, errors as `{"error","field","reason"}`.

use super::error::ApiError;
use super::json_body::JsonBody;
use crate::AppState;
use app::api::{ProductRead, ReadSource};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::product::{ChangePrice, CreateProduct};
use domain::views::ProductView;
use domain::{Actor, ActorRole, CommandId, ProductId, WriteReceipt};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(list_products).post(create_product))
        .route("/products/{id}", get(get_product).patch(change_price))
        .route("/live", get(super::live::live_feed))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
}

/// Until accounts land (issue 3), API clients act as the shop's admin.
fn api_actor() -> Actor {
    Actor {
        id: "api".into(),
        role: ActorRole::Admin,
    }
}

fn product_id(text: &str) -> Result<ProductId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("product {text} does not exist")))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptJson {
    product_id: String,
    #[serde(flatten)]
    receipt: WriteReceipt,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductJson {
    product_id: String,
    name: String,
    category: String,
    price: f64,
    previous_price: Option<f64>,
    price_dropped: bool,
    stock: u32,
    in_stock: bool,
    aggregate_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    event_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    projected_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<ReadSource>,
}

impl ProductJson {
    fn from_view(v: ProductView, source: Option<ReadSource>) -> Self {
        ProductJson {
            product_id: v.product_id.to_string(),
            price_dropped: v.price_dropped(),
            name: v.name,
            category: v.category,
            price: v.price.as_decimal_f64(),
            previous_price: v.previous_price.map(|p| p.as_decimal_f64()),
            stock: v.stock,
            in_stock: v.stock > 0,
            aggregate_version: v.version,
            event_time: v.event_time,
            projected_at: v.projected_at,
            source,
        }
    }
}

async fn create_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&headers, &body)?;
    let command = CreateProduct {
        product_id: ProductId::new(),
        name: body.string("name")?,
        category: body.string("category")?,
        price: body.money("price")?,
        stock: body.count("stock")?,
    };
    let receipt = state
        .ports
        .products
        .create_product(api_actor(), CommandId::new(), command)
        .await?;
    let location = format!("/api/products/{}", receipt.aggregate_id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ReceiptJson {
            product_id: receipt.aggregate_id.clone(),
            receipt,
        }),
    )
        .into_response())
}

async fn change_price(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ReceiptJson>, ApiError> {
    let product_id = product_id(&id)?;
    let body = JsonBody::parse(&headers, &body)?;
    let command = ChangePrice {
        product_id,
        price: body.money("price")?,
        expected_version: body.optional_version("expectedVersion")?,
        override_price_cut: body.optional_bool("overridePriceCut")?,
    };
    let receipt = state
        .ports
        .products
        .change_price(api_actor(), CommandId::new(), command)
        .await?;
    Ok(Json(ReceiptJson {
        product_id: receipt.aggregate_id.clone(),
        receipt,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductQuery {
    min_version: Option<String>,
}

async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ProductQuery>,
) -> Result<Json<ProductJson>, ApiError> {
    let product_id = product_id(&id)?;
    let min_version =
        match query.min_version {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                ApiError::invalid("minVersion", "must be a version number (1, 2, …)")
            })?),
        };
    let read = state
        .ports
        .catalog
        .product(product_id, min_version)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )
        })?;
    match read {
        Some(ProductRead { product, source }) => {
            Ok(Json(ProductJson::from_view(product, Some(source))))
        }
        None => Err(ApiError::not_found(format!("product {id} does not exist"))),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListingJson {
    products: Vec<ProductJson>,
    stale: bool,
}

async fn list_products(State(state): State<AppState>) -> Result<Json<ListingJson>, ApiError> {
    let listing = state.ports.catalog.products().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    })?;
    Ok(Json(ListingJson {
        products: listing
            .products
            .into_iter()
            .map(|p| ProductJson::from_view(p, None))
            .collect(),
        stale: listing.stale,
    }))
}
