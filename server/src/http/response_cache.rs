//! Product pages, HTML and JSON, served from memory to anonymous visitors.
//!
//! A visitor without cookies or credentials gets the same bytes as every
//! other one, so a product page rendered (or its record serialized) once is
//! kept with the catalog entry it was made from, and served again while
//! that entry is still the catalog cache's current one. The catalog cache
//! follows the projection notices, so a notice for the product, its reviews
//! or the sellers ends the response's life, and so does a full reload (lost
//! notices, a rebuild's switch); a response is never served while the
//! catalog cache has notices still to apply. Some of a page moves with time
//! alone (the lowest price of 30 days, units sold in 24 hours, the header),
//! so a response also lives at most `pipeline.kept_page_max_age_ms` (1 s).
//!
//! Anything personal goes the full way: a cookie (session, cart), an
//! `Authorization` header, a query string (`minVersion`), a method but GET.
//! So do responses that are not a plain 200 or that set a cookie.

use crate::queries::catalog_cache::{CatalogCache, CatalogStamp};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::ProductId;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Responses kept (the hottest product pages and records).
const CAPACITY: usize = 4096;
/// Larger responses are served but not kept.
const MAX_KEPT_BYTES: usize = 1 << 20;

struct Kept {
    made_from: CatalogStamp,
    made_at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

pub struct ResponseCache {
    catalog: Arc<CatalogCache>,
    /// How long a response lives at most, whatever the notices say.
    max_age: Duration,
    kept: quick_cache::sync::Cache<String, Arc<Kept>>,
    hits: metrics::Counter,
    misses: metrics::Counter,
}

impl ResponseCache {
    pub fn new(catalog: Arc<CatalogCache>, max_age: Duration) -> Arc<Self> {
        Arc::new(ResponseCache {
            catalog,
            max_age,
            kept: quick_cache::sync::Cache::new(CAPACITY),
            hits: metrics::counter!("vitrine_response_cache_total", "outcome" => "hit"),
            misses: metrics::counter!("vitrine_response_cache_total", "outcome" => "miss"),
        })
    }
}

/// The product a cacheable request reads, if it is one.
fn product_read(request: &Request) -> Option<ProductId> {
    if request.method() != Method::GET || request.uri().query().is_some() {
        return None;
    }
    let headers = request.headers();
    if headers.contains_key(header::COOKIE) || headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    let path = request.uri().path();
    let id = path
        .strip_prefix("/products/")
        .or_else(|| path.strip_prefix("/api/products/"))?;
    id.parse().ok()
}

fn reply(kept: &Kept) -> Response {
    let mut response = Body::from(kept.body.clone()).into_response();
    *response.headers_mut() = kept.headers.clone();
    response
}

pub async fn serve_product_pages(
    State(cache): State<Arc<ResponseCache>>,
    request: Request,
    next: Next,
) -> Response {
    if cache.max_age.is_zero() {
        return next.run(request).await;
    }
    let Some(product) = product_read(&request) else {
        return next.run(request).await;
    };
    let key = request.uri().path().to_owned();
    if let Some(kept) = cache.kept.get(&key) {
        if kept.made_at.elapsed() < cache.max_age && cache.catalog.still_current(&kept.made_from) {
            cache.hits.increment(1);
            return reply(&kept);
        }
    }
    cache.misses.increment(1);
    // Taken before rendering: a change during the render makes the
    // response look older than it is, never newer.
    let Some(made_from) = cache.catalog.stamp(product) else {
        return next.run(request).await;
    };
    let made_at = Instant::now();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(header::SET_COOKIE) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            // The page failed while streaming: nothing whole to send or keep.
            tracing::warn!(error = %e, path = %key, "product page failed while rendering");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the page could not be rendered; try again",
            )
                .into_response();
        }
    };
    // The length is known now; the stream's framing headers no longer apply.
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.remove(header::CONTENT_LENGTH);
    if body.len() <= MAX_KEPT_BYTES {
        cache.kept.insert(
            key,
            Arc::new(Kept {
                made_from,
                made_at,
                headers: parts.headers.clone(),
                body: body.clone(),
            }),
        );
    }
    Response::from_parts(parts, Body::from(body))
}
