//! The read side's queries: answered from read records only, except that a
//! single-record read asking for a version the projection has not reached
//! waits briefly, then folds the write store's event log (`source: write`).

use crate::pipeline::live::{LiveEntry, LiveHub};
use crate::pipeline::status::PipelineStatus;
use crate::store::read::{ReadStore, ORDER_HISTORY};
use crate::store::write::WriteStore;
use app::api::orders::{OrderListing, OrderRead};
use app::api::{CatalogListing, ProductRead, QueryError, ReadSource};
use app::live::{ORDER_VIEW, PRODUCT_VIEW};
use app::ports::{CatalogQueries, OrderHistoryQueries};
use async_trait::async_trait;
use domain::inventory::InventoryEvent;
use domain::order::OrderEvent;
use domain::product::ProductEvent;
use domain::views::{OrderView, ProductView};
use domain::{AggregateType, CustomerId, DomainEvent, OrderId, ProductId};
use std::sync::atomic::Ordering;
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
        if notice_reached(&mut notices, PRODUCT_VIEW, &id_text, wanted, self.wait).await {
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
}

/// Waits up to `wait` for a notice that `read_model`'s record `id` reached
/// `wanted`; `notices` was subscribed before the record was read, so a
/// notice in between is not missed.
async fn notice_reached(
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

/// Customers' order histories (read model `order_history`).
#[derive(Clone)]
pub struct OrderHistoryService {
    pub read: ReadStore,
    pub write: WriteStore,
    pub live: LiveHub,
    pub status: Arc<PipelineStatus>,
    pub wait: Duration,
}

impl OrderHistoryService {
    /// The order history is behind the write model: its projector has
    /// events to apply, or the relay has not published them yet.
    fn stale(&self) -> bool {
        self.status
            .model(ORDER_HISTORY)
            .is_some_and(|m| m.behind() > 0)
            || self.status.relay_backlog.load(Ordering::Relaxed) > 0
    }

    /// The order as the write store's event log has it, folded by the same
    /// code the projector runs.
    async fn order_from_log(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        let events = self
            .write
            .events_of(AggregateType::Order, &id.to_string(), 1, u64::MAX)
            .await
            .map_err(unavailable)?;
        let mut view = None;
        for stored in &events {
            let event = OrderEvent::decode_envelope(stored).map_err(unavailable)?;
            view = Some(OrderView::apply(view, &event).map_err(unavailable)?);
        }
        Ok(view.map(|mut v| {
            v.projected_at = OffsetDateTime::now_utc();
            v
        }))
    }
}

#[async_trait]
impl OrderHistoryQueries for OrderHistoryService {
    async fn customer_orders(
        &self,
        customer: CustomerId,
        limit: usize,
    ) -> Result<OrderListing, QueryError> {
        let orders = self
            .read
            .orders_of_customer(customer, limit)
            .await
            .map_err(unavailable)?;
        Ok(OrderListing {
            orders,
            stale: self.stale(),
        })
    }

    async fn order(
        &self,
        id: OrderId,
        min_version: Option<u64>,
    ) -> Result<Option<OrderRead>, QueryError> {
        let read = |order| OrderRead {
            order,
            source: ReadSource::Read,
        };
        let mut notices = self.live.subscribe();
        let view = self.read.order_view(id).await.map_err(unavailable)?;
        let wanted = match min_version {
            Some(wanted) if view.as_ref().is_none_or(|v| v.version < wanted) => wanted,
            _ => return Ok(view.map(read)),
        };
        let id_text = id.to_string();
        if notice_reached(&mut notices, ORDER_VIEW, &id_text, wanted, self.wait).await {
            if let Some(order) = self.read.order_view(id).await.map_err(unavailable)? {
                if order.version >= wanted {
                    return Ok(Some(read(order)));
                }
            }
        }
        Ok(self.order_from_log(id).await?.map(|order| OrderRead {
            order,
            source: ReadSource::Write,
        }))
    }
}
