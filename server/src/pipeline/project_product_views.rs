//! The product pages read model: one `ProductView` per product, folding the
//! product's events and its inventory's (same id, same partition).

use super::projector::{Drift, ReadModel};
use crate::store::projections::{generation_table, RecordWrite};
use crate::store::read::{ReadStore, PRODUCT_VIEWS, PRODUCT_VIEW_TABLE};
use crate::store::write::WriteStore;
use crate::store::{decode_all, StoreError};
use app::live::{ProjectionNotice, PRODUCT_VIEW};
use async_trait::async_trait;
use domain::inventory::{Inventory, InventoryEvent};
use domain::product::{Product, ProductEvent};
use domain::views::ProductView;
use domain::{AggregateType, DomainEvent, EventId, StoredEvent};
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

pub struct ProductViews;

/// A product page folds the product and its inventory (same id).
fn aggregates_of(id: &str) -> Vec<String> {
    vec![format!("product:{id}"), format!("inventory:{id}")]
}

/// One product page touched by a batch, and the events that changed it.
#[derive(Default)]
pub struct Touched {
    view: Option<ProductView>,
    applied: Vec<EventId>,
}

#[async_trait]
impl ReadModel for ProductViews {
    type Working = HashMap<String, Touched>;

    fn name(&self) -> &'static str {
        PRODUCT_VIEWS
    }

    fn aggregates(&self) -> &'static [AggregateType] {
        &[AggregateType::Product, AggregateType::Inventory]
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            PRODUCT_VIEW_TABLE,
            "DEFINE INDEX IF NOT EXISTS $TABLE_name ON $TABLE FIELDS name;",
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
            .records_by_ids(&generation_table(PRODUCT_VIEW_TABLE, generation), &ids)
            .await?;
        let views: Vec<ProductView> = decode_all(rows)?;
        let mut working: HashMap<String, Touched> = HashMap::with_capacity(ids.len());
        for view in views {
            working.insert(
                view.product_id.to_string(),
                Touched {
                    view: Some(view),
                    applied: vec![],
                },
            );
        }
        Ok(working)
    }

    fn fold(&self, working: &mut Self::Working, event: &StoredEvent) -> Result<(), String> {
        let touched = working.entry(event.aggregate_id.clone()).or_default();
        let current = touched.view.clone();
        let view = match event.aggregate_type {
            AggregateType::Product => {
                let typed = ProductEvent::decode_envelope(event).map_err(|e| e.to_string())?;
                ProductView::apply(current, &typed).map_err(|e| e.to_string())?
            }
            AggregateType::Inventory => {
                if current.is_none() {
                    // Its product's creation has not been applied yet (it
                    // comes first in the stream; retried until it has).
                    return Err(format!(
                        "stock of product {} arrived before the product",
                        event.aggregate_id
                    ));
                }
                let typed = InventoryEvent::decode_envelope(event).map_err(|e| e.to_string())?;
                ProductView::apply_inventory(current, &typed).map_err(|e| e.to_string())?
            }
            other => {
                return Err(format!(
                    "a {} event is not for product pages",
                    other.as_str()
                ))
            }
        };
        touched.view = Some(view);
        touched.applied.push(event.event_id);
        Ok(())
    }

    /// Every product and its stock as the write model's rows have them,
    /// against the product pages: name, price, deletion, stock, versions;
    /// pages of products the write model does not have are drift too.
    async fn reconcile(
        &self,
        read: &ReadStore,
        write: &WriteStore,
        generation: u32,
    ) -> Result<Vec<Drift>, StoreError> {
        let table = generation_table(PRODUCT_VIEW_TABLE, generation);
        let products: Vec<(String, Product)> = write.all_states(AggregateType::Product).await?;
        let stock: HashMap<String, Inventory> = write
            .all_states(AggregateType::Inventory)
            .await?
            .into_iter()
            .collect();
        let mut views: HashMap<String, ProductView> =
            decode_all::<ProductView>(read.all_records(&table).await?)?
                .into_iter()
                .map(|v| (v.product_id.to_string(), v))
                .collect();
        let mut drifts = Vec::new();
        for (id, product) in products {
            let inventory = stock.get(&id).cloned().unwrap_or_default();
            let expected = json!({
                "name": product.details.name,
                "price": product.price,
                "deleted": product.deleted,
                "version": product.version,
                "stock": inventory.available,
                "inventoryVersion": inventory.version,
            });
            let found = views.remove(&id).map(|v| {
                json!({
                    "name": v.name,
                    "price": v.price,
                    "deleted": v.deleted,
                    "version": v.version,
                    "stock": v.stock,
                    "inventoryVersion": v.inventory_version,
                })
            });
            drifts.extend(Drift::compare(
                &table,
                &id,
                expected,
                found,
                aggregates_of(&id),
            ));
        }
        for (id, view) in views {
            let found = json!({ "name": view.name, "version": view.version });
            drifts.push(Drift::orphan(&table, &id, found, aggregates_of(&id)));
        }
        Ok(drifts)
    }

    fn finish(
        &self,
        working: Self::Working,
        generation: u32,
        projected_at: OffsetDateTime,
    ) -> Result<(Vec<RecordWrite>, Vec<ProjectionNotice>), StoreError> {
        let table = generation_table(PRODUCT_VIEW_TABLE, generation);
        let mut records = Vec::new();
        let mut notices = Vec::new();
        for (_, touched) in working {
            let (Some(mut view), false) = (touched.view, touched.applied.is_empty()) else {
                continue;
            };
            view.projected_at = projected_at;
            notices.push(ProjectionNotice {
                read_model: PRODUCT_VIEW.into(),
                aggregate_id: view.product_id.to_string(),
                aggregate_version: view.version,
                event_ids: touched.applied,
                event_time: view.event_time,
                projected_at,
                owner: None,
            });
            records.push(RecordWrite {
                table: table.clone(),
                id: view.product_id.to_string(),
                content: serde_json::to_value(&view)?,
            });
        }
        Ok((records, notices))
    }
}
