//! Customers' order histories: one `OrderView` per order — the lines as they
//! were bought, totals, status and a timeline — folded from order events.

use super::projector::{Drift, ReadModel};
use crate::store::projections::{generation_table, RecordWrite};
use crate::store::read::{ReadStore, ORDER_HISTORY, ORDER_VIEW_TABLE};
use crate::store::write::WriteStore;
use crate::store::{decode_all, StoreError};
use app::live::ProjectionNotice;
use async_trait::async_trait;
use domain::order::{Order, OrderEvent};
use domain::views::OrderView;
use domain::{AggregateType, DomainEvent, EventId, StoredEvent};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

/// The name of order records in live notices.
pub const ORDER_NOTICE: &str = app::live::ORDER_VIEW;

pub struct OrderHistory;

#[derive(Default)]
pub struct Touched {
    view: Option<OrderView>,
    applied: Vec<EventId>,
}

#[async_trait]
impl ReadModel for OrderHistory {
    type Working = HashMap<String, Touched>;

    fn name(&self) -> &'static str {
        ORDER_HISTORY
    }

    fn aggregates(&self) -> &'static [AggregateType] {
        &[AggregateType::Order]
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            ORDER_VIEW_TABLE,
            "DEFINE INDEX IF NOT EXISTS $TABLE_customer ON $TABLE FIELDS customerId, placedAt;",
        )]
    }

    async fn load(
        &self,
        read: &ReadStore,
        generation: u32,
        events: &[&StoredEvent],
    ) -> Result<Self::Working, StoreError> {
        let mut ids: Vec<String> = events.iter().map(|e| e.aggregate_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let rows = read
            .records_by_ids(&generation_table(ORDER_VIEW_TABLE, generation), &ids)
            .await?;
        Ok(decode_all::<OrderView>(rows)?
            .into_iter()
            .map(|v| {
                (
                    v.order_id.to_string(),
                    Touched {
                        view: Some(v),
                        applied: vec![],
                    },
                )
            })
            .collect())
    }

    fn fold(&self, working: &mut Self::Working, event: &StoredEvent) -> Result<(), String> {
        let typed = OrderEvent::decode_envelope(event).map_err(|e| e.to_string())?;
        let touched = working.entry(event.aggregate_id.clone()).or_default();
        let view = OrderView::apply(touched.view.clone(), &typed).map_err(|e| e.to_string())?;
        touched.view = Some(view);
        touched.applied.push(event.event_id);
        Ok(())
    }

    /// Every order row of the write model against its history entry:
    /// customer, status, total, amount paid, version; entries for orders the
    /// write model does not have are drift too.
    async fn reconcile(
        &self,
        read: &ReadStore,
        write: &WriteStore,
        generation: u32,
    ) -> Result<Vec<Drift>, StoreError> {
        let table = generation_table(ORDER_VIEW_TABLE, generation);
        let orders: Vec<(String, Order)> = write.all_states(AggregateType::Order).await?;
        let mut views: HashMap<String, OrderView> =
            decode_all::<OrderView>(read.all_records(&table).await?)?
                .into_iter()
                .map(|v| (v.order_id.to_string(), v))
                .collect();
        let mut drifts = Vec::new();
        for (id, order) in orders {
            let expected = json!({
                "customerId": order.customer_id,
                "status": order.status,
                "total": order.total,
                "paid": order.paid,
                "lines": order.lines.len(),
                "version": order.version,
            });
            let found = views.remove(&id).map(|v| {
                json!({
                    "customerId": Some(v.customer_id),
                    "status": v.status,
                    "total": v.total,
                    // The write model keeps what stays paid after refunds.
                    "paid": domain::Money::from_minor(v.paid.minor() - v.refunded.minor()),
                    "lines": v.lines.len(),
                    "version": v.version,
                })
            });
            let aggregates = vec![format!("order:{id}")];
            drifts.extend(Drift::compare(&table, &id, expected, found, aggregates));
        }
        for (id, view) in views {
            let found = json!({ "status": view.status, "version": view.version });
            drifts.push(Drift::orphan(
                &table,
                &id,
                found,
                vec![format!("order:{id}")],
            ));
        }
        Ok(drifts)
    }

    fn finish(
        &self,
        working: Self::Working,
        generation: u32,
        projected_at: OffsetDateTime,
    ) -> Result<(Vec<RecordWrite>, Vec<ProjectionNotice>), StoreError> {
        let table = generation_table(ORDER_VIEW_TABLE, generation);
        let mut records = Vec::new();
        let mut notices = Vec::new();
        for (_, touched) in working {
            let (Some(mut view), false) = (touched.view, touched.applied.is_empty()) else {
                continue;
            };
            view.projected_at = projected_at;
            notices.push(ProjectionNotice {
                read_model: ORDER_NOTICE.into(),
                aggregate_id: view.order_id.to_string(),
                aggregate_version: view.version,
                event_ids: touched.applied,
                event_time: view.event_time,
                projected_at,
                owner: Some(view.customer_id.to_string()),
            });
            records.push(RecordWrite {
                table: table.clone(),
                id: view.order_id.to_string(),
                content: serde_json::to_value(&view)?,
            });
        }
        Ok((records, notices))
    }
}
