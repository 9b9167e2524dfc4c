//! Customers' order histories (read model `order_history`): a customer's
//! orders, and one order with read-your-writes.

use super::{notice_reached, unavailable};
use crate::pipeline::live::LiveHub;
use crate::pipeline::status::PipelineStatus;
use crate::store::read::{ReadStore, ORDER_HISTORY};
use crate::store::write::WriteStore;
use app::api::orders::{OrderListing, OrderRead};
use app::api::{QueryError, ReadSource};
use app::live::ORDER_VIEW;
use app::ports::OrderHistoryQueries;
use async_trait::async_trait;
use domain::order::OrderEvent;
use domain::views::OrderView;
use domain::{AggregateType, CustomerId, DomainEvent, OrderId};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

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
