//! The catalog's reads: one product page, and search with facets
//! (`GET /api/products?q=&category=&min_price=&max_price=&min_rating=&in_stock=&sort=&page=`,
//! also at `/api/products/search` as in seed 001).

use super::products::product_id;
use crate::http::error::ApiError;
use crate::AppState;
use app::api::catalog::{CatalogItem, CatalogParams, Facets};
use app::api::{ProductRead, ReadSource};
use app::error::AppError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use domain::views::{RatingSummary, ReviewView};
use domain::Money;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        e.to_string(),
    )
}

/// An average rating with one decimal, as shops show it.
fn average(rating: &RatingSummary) -> Option<f64> {
    rating.average_tenths().map(|t| t as f64 / 10.0)
}

fn decimal(m: Money) -> f64 {
    m.as_decimal_f64()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewJson {
    review_id: String,
    customer_id: String,
    rating: u8,
    comment: String,
    #[serde(with = "time::serde::rfc3339")]
    submitted_at: OffsetDateTime,
}

impl From<&ReviewView> for ReviewJson {
    fn from(r: &ReviewView) -> Self {
        ReviewJson {
            review_id: r.review_id.to_string(),
            customer_id: r.customer_id.to_string(),
            rating: r.rating,
            comment: r.comment.clone(),
            submitted_at: r.submitted_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerJson {
    seller_id: String,
    name: String,
    /// 0.0–5.0.
    rating: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingJson {
    name: String,
    price: f64,
    /// Business days to delivery.
    days: u16,
}

/// The product page's record, as the JSON API serves it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductJson {
    product_id: String,
    seller_id: Option<String>,
    seller: Option<SellerJson>,
    name: String,
    description: String,
    category: String,
    tags: Vec<String>,
    image_url: Option<String>,
    shipping_options: Vec<ShippingJson>,
    price: f64,
    previous_price: Option<f64>,
    price_dropped: bool,
    /// Evaluated when read: time passes without events.
    lowest_price_30_days: f64,
    price_30_days_ago: Option<f64>,
    price_90_days_ago: Option<f64>,
    stock: u32,
    in_stock: bool,
    rating: Option<f64>,
    review_count: u64,
    recent_reviews: Vec<ReviewJson>,
    units_sold: u64,
    units_sold_24h: u64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    aggregate_version: u64,
    inventory_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    event_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    projected_at: OffsetDateTime,
    source: ReadSource,
}

impl ProductJson {
    fn from_read(read: ProductRead, now: OffsetDateTime) -> Self {
        let ProductRead {
            product: v,
            source,
            extras,
        } = read;
        let pricing = v.pricing(now);
        ProductJson {
            product_id: v.product_id.to_string(),
            seller_id: v.seller_id.map(|s| s.to_string()),
            seller: extras.seller.map(|s| SellerJson {
                seller_id: s.seller_id.to_string(),
                name: s.name,
                rating: s.rating_tenths.map(|t| f64::from(t) / 10.0),
            }),
            price_dropped: v.price_dropped(),
            lowest_price_30_days: decimal(pricing.lowest_30_days),
            price_30_days_ago: pricing.price_30_days_ago.map(decimal),
            price_90_days_ago: pricing.price_90_days_ago.map(decimal),
            units_sold_24h: v.units_sold_recently(now),
            rating: average(&extras.rating),
            review_count: extras.rating.count,
            recent_reviews: extras.recent_reviews.iter().map(ReviewJson::from).collect(),
            price: decimal(v.price),
            previous_price: v.previous_price.map(decimal),
            stock: v.stock,
            in_stock: v.stock > 0,
            units_sold: v.units_sold,
            created_at: v.created_at,
            aggregate_version: v.version,
            inventory_version: v.inventory_version,
            event_time: v.event_time,
            projected_at: v.projected_at,
            name: v.name,
            description: v.description,
            category: v.category,
            tags: v.tags,
            image_url: v.image_url,
            shipping_options: v
                .shipping_options
                .iter()
                .map(|o| ShippingJson {
                    name: o.name.clone(),
                    price: decimal(o.price),
                    days: o.days,
                })
                .collect(),
            source,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductQuery {
    min_version: Option<String>,
}

pub(super) async fn get_product(
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
        .map_err(unavailable)?;
    match read {
        Some(read) if !read.product.deleted => Ok(Json(ProductJson::from_read(
            read,
            OffsetDateTime::now_utc(),
        ))),
        _ => Err(ApiError::not_found(format!("product {id} does not exist"))),
    }
}

/// One product in a list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductSummaryJson {
    product_id: String,
    name: String,
    category: String,
    image_url: Option<String>,
    price: f64,
    previous_price: Option<f64>,
    price_dropped: bool,
    stock: u32,
    in_stock: bool,
    rating: Option<f64>,
    review_count: u64,
    units_sold: u64,
    units_sold_24h: u64,
    aggregate_version: u64,
    #[serde(with = "time::serde::rfc3339")]
    projected_at: OffsetDateTime,
}

impl From<CatalogItem> for ProductSummaryJson {
    fn from(i: CatalogItem) -> Self {
        ProductSummaryJson {
            product_id: i.product_id.to_string(),
            rating: average(&i.rating),
            review_count: i.rating.count,
            price: decimal(i.price),
            previous_price: i.was.map(decimal),
            price_dropped: i.was.is_some(),
            in_stock: i.stock > 0,
            stock: i.stock,
            units_sold: i.units_sold,
            units_sold_24h: i.units_sold_24h,
            aggregate_version: i.version,
            projected_at: i.projected_at,
            name: i.name,
            category: i.category,
            image_url: i.image_url,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchJson {
    products: Vec<ProductSummaryJson>,
    total: u64,
    page: u32,
    pages: u32,
    per_page: u32,
    facets: Facets,
    #[serde(with = "time::serde::rfc3339::option")]
    projected_at: Option<OffsetDateTime>,
    /// Lists never wait for the projection: true when it is known to lag.
    stale: bool,
}

const SEARCH_PARAMS: [&str; 9] = [
    "q",
    "category",
    "min_price",
    "max_price",
    "min_rating",
    "in_stock",
    "sort",
    "page",
    "per_page",
];

pub(super) async fn search_products(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<SearchJson>, ApiError> {
    // A misspelt filter would silently widen the search: refuse it.
    if let Some(unknown) = raw.keys().find(|k| !SEARCH_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            unknown,
            format!("is not a search parameter ({})", SEARCH_PARAMS.join(", ")),
        ));
    }
    let get = |k: &str| raw.get(k).cloned();
    let params = CatalogParams {
        q: get("q"),
        category: get("category"),
        min_price: get("min_price"),
        max_price: get("max_price"),
        min_rating: get("min_rating"),
        in_stock: get("in_stock"),
        sort: get("sort"),
        page: get("page"),
        per_page: get("per_page"),
    };
    let query = params.check().map_err(|e| match e {
        AppError::BadInput { field, reason } => ApiError::invalid(&field, reason),
        other => unavailable(other),
    })?;
    let page = state
        .ports
        .catalog
        .search(query)
        .await
        .map_err(unavailable)?;
    Ok(Json(SearchJson {
        total: page.total,
        page: page.query.page,
        pages: page.pages,
        per_page: page.query.per_page,
        facets: page.facets,
        projected_at: page.projected_at,
        stale: page.stale,
        products: page.items.into_iter().map(Into::into).collect(),
    }))
}
