//! The read side's queries: answered from read records only, except that a
//! single-record read asking for a version the projection has not reached
//! waits briefly, then folds the write store's event log (`source: write`).

use crate::pipeline::live::LiveHub;
use crate::pipeline::status::PipelineStatus;
use crate::store::read::ReadStore;
use crate::store::write::WriteStore;
use app::api::{CatalogListing, ProductRead, QueryError, ReadSource};
use app::live::PRODUCT_VIEW;
use app::ports::CatalogQueries;
use async_trait::async_trait;
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
}

fn unavailable(e: impl std::fmt::Display) -> QueryError {
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

#[async_trait]
impl CatalogQueries for CatalogService {
    async fn product(
        &self,
        id: ProductId,
        min_version: Option<u64>,
    ) -> Result<Option<ProductRead>, QueryError> {
        // Subscribe before reading, so a notice between the read and the
        // wait is not missed.
        let mut notices = self.live.subscribe();
        let view = self.read.product_view(id).await.map_err(unavailable)?;
        let Some(wanted) = min_version else {
            return Ok(view.map(|product| ProductRead {
                product,
                source: ReadSource::Read,
            }));
        };
        if view.as_ref().is_some_and(|v| v.version >= wanted) {
            return Ok(view.map(|product| ProductRead {
                product,
                source: ReadSource::Read,
            }));
        }
        let id_text = id.to_string();
        let reached = tokio::time::timeout(self.wait, async {
            loop {
                match notices.recv().await {
                    Ok(entry)
                        if entry.notice.read_model == PRODUCT_VIEW
                            && entry.notice.aggregate_id == id_text
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
        .unwrap_or(false);
        if reached {
            if let Some(product) = self.read.product_view(id).await.map_err(unavailable)? {
                if product.version >= wanted {
                    return Ok(Some(ProductRead {
                        product,
                        source: ReadSource::Read,
                    }));
                }
            }
        }
        Ok(self.product_from_log(id).await?.map(|product| ProductRead {
            product,
            source: ReadSource::Write,
        }))
    }

    async fn products(&self) -> Result<CatalogListing, QueryError> {
        let products = self.read.all_product_views().await.map_err(unavailable)?;
        Ok(CatalogListing {
            products,
            stale: self.status.lagging(),
        })
    }
}
