//! The read side's queries: answered from read records only (held in memory
//! by the catalog cache), except that a single-record read asking for a
//! version the projection has not reached waits briefly, then folds the write
//! store's event log (`source: write`).

pub mod catalog_cache;
pub mod catalog_search;
mod order_history;

pub use order_history::OrderHistoryService;

use crate::pipeline::live::{LiveEntry, LiveHub};
use crate::pipeline::status::PipelineStatus;
use crate::store::read::ReadStore;
use crate::store::write::WriteStore;
use app::api::catalog::{CatalogPage, CatalogQuery, ProductExtras, Showcase};
use app::api::{CatalogListing, ProductRead, QueryError, ReadSource};
use app::live::PRODUCT_VIEW;
use app::ports::CatalogQueries;
use async_trait::async_trait;
use catalog_cache::CatalogCache;
use domain::inventory::InventoryEvent;
use domain::product::ProductEvent;
use domain::views::ProductView;
use domain::{AggregateType, DomainEvent, ProductId};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct CatalogService {
    pub read: ReadStore,
    pub write: WriteStore,
    pub live: LiveHub,
    pub status: Arc<PipelineStatus>,
    pub wait: Duration,
    pub cache: Arc<CatalogCache>,
}

/// Waits up to `wait` for a notice that `read_model`'s record `id` reached
/// `wanted`; `notices` was subscribed before the record was read, so a
/// notice in between is not missed.
pub(crate) async fn notice_reached(
    notices: &mut tokio::sync::broadcast::Receiver<LiveEntry>,
    read_model: &str,
    id: &str,
    wanted: u64,
    wait: Duration,
) -> bool {
    tokio::time::timeout(wait, async {
        loop {
            match notices.recv().await {
                Ok(entry)
                    if entry.notice.read_model == read_model
                        && entry.notice.aggregate_id == id
                        && entry.notice.aggregate_version >= wanted =>
                {
                    return true
                }
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return false,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
            }
        }
    })
    .await
    .unwrap_or(false)
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> QueryError {
    tracing::error!(error = %e, "read failed");
    QueryError::Unavailable("the store failed".into())
}

impl CatalogService {
    /// The product as the write store's event log has it, folded by the same
    /// code the projector runs.
    async fn product_from_log(&self, id: ProductId) -> Result<Option<ProductView>, QueryError> {
        let events = self
            .write
            .events_of(AggregateType::Product, &id.to_string(), 1, u64::MAX)
            .await
            .map_err(unavailable)?;
        let stock = self
            .write
            .events_of(AggregateType::Inventory, &id.to_string(), 1, u64::MAX)
            .await
            .map_err(unavailable)?;
        let mut view = None;
        for stored in &events {
            let event = ProductEvent::decode_envelope(stored).map_err(unavailable)?;
            view = Some(ProductView::apply(view, &event).map_err(unavailable)?);
        }
        if view.is_some() {
            for stored in &stock {
                let event = InventoryEvent::decode_envelope(stored).map_err(unavailable)?;
                view = Some(ProductView::apply_inventory(view, &event).map_err(unavailable)?);
            }
        }
        Ok(view.map(|mut v| {
            v.projected_at = OffsetDateTime::now_utc();
            v
        }))
    }
}

impl CatalogService {
    /// The product record at `min_version` or later: from the read store,
    /// waiting briefly for the projection, else folded from the event log.
    async fn product_at_least(
        &self,
        id: ProductId,
        min_version: Option<u64>,
    ) -> Result<Option<(ProductView, ReadSource)>, QueryError> {
        // Subscribe before reading, so a notice between the read and the
        // wait is not missed.
        let mut notices = self.live.subscribe();
        let view = self.read.product_view(id).await.map_err(unavailable)?;
        let Some(wanted) = min_version else {
            return Ok(view.map(|v| (v, ReadSource::Read)));
        };
        if view.as_ref().is_some_and(|v| v.version >= wanted) {
            return Ok(view.map(|v| (v, ReadSource::Read)));
        }
        let id_text = id.to_string();
        let reached = notice_reached(&mut notices, PRODUCT_VIEW, &id_text, wanted, self.wait).await;
        if reached {
            if let Some(view) = self.read.product_view(id).await.map_err(unavailable)? {
                if view.version >= wanted {
                    return Ok(Some((view, ReadSource::Read)));
                }
            }
        }
        Ok(self
            .product_from_log(id)
            .await?
            .map(|v| (v, ReadSource::Write)))
    }

    /// Rating, recent reviews and seller of a product page.
    async fn extras(&self, product: &ProductView) -> Result<ProductExtras, QueryError> {
        let rating = self
            .cache
            .entry(product.product_id)
            .map(|e| e.rating)
            .unwrap_or_default();
        let recent_reviews = self
            .cache
            .recent_reviews(product.product_id)
            .await
            .map_err(unavailable)?;
        Ok(ProductExtras {
            rating,
            recent_reviews: recent_reviews.as_ref().clone(),
            seller: product.seller_id.and_then(|s| self.cache.seller(s)),
        })
    }
}

#[async_trait]
impl CatalogQueries for CatalogService {
    async fn product(
        &self,
        id: ProductId,
        min_version: Option<u64>,
    ) -> Result<Option<ProductRead>, QueryError> {
        self.cache.ensure_fresh().await.map_err(unavailable)?;
        let cached = self.cache.entry(id).map(|e| e.view.clone());
        let wanted = min_version.unwrap_or(0);
        let product = match cached {
            Some(view) if view.version >= wanted => Some((view, ReadSource::Read)),
            _ => self.product_at_least(id, min_version).await?,
        };
        match product {
            Some((product, source)) => Ok(Some(ProductRead {
                extras: self.extras(&product).await?,
                product,
                source,
            })),
            None => Ok(None),
        }
    }

    async fn products(&self) -> Result<CatalogListing, QueryError> {
        let products = self.read.all_product_views().await.map_err(unavailable)?;
        Ok(CatalogListing {
            products,
            stale: self.status.lagging(),
        })
    }

    async fn products_by_ids(&self, ids: &[ProductId]) -> Result<CatalogListing, QueryError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let products = self
            .read
            .product_views_by_ids(&ids)
            .await
            .map_err(unavailable)?;
        Ok(CatalogListing {
            products,
            stale: self.status.lagging(),
        })
    }

    async fn search(&self, query: CatalogQuery) -> Result<CatalogPage, QueryError> {
        self.cache.ensure_fresh().await.map_err(unavailable)?;
        let now = OffsetDateTime::now_utc();
        let page = self.cache.with_index(|index| {
            let found = index.search(&query);
            CatalogPage {
                items: found.entries.iter().map(|e| e.item(now)).collect(),
                total: found.total,
                pages: found.pages,
                facets: found.facets,
                projected_at: index.newest_projection(),
                stale: false,
                query,
            }
        });
        Ok(CatalogPage {
            stale: self.status.lagging(),
            ..page
        })
    }

    async fn showcase(&self, limit: usize) -> Result<Showcase, QueryError> {
        self.cache.ensure_fresh().await.map_err(unavailable)?;
        let now = OffsetDateTime::now_utc();
        Ok(self.cache.with_index(|index| Showcase {
            top_rated: index.top_rated(limit).iter().map(|e| e.item(now)).collect(),
            trending: index
                .trending(limit, now)
                .iter()
                .map(|e| e.item(now))
                .collect(),
            categories: index.categories(),
            projected_at: index.newest_projection(),
            stale: self.status.lagging(),
        }))
    }
}
