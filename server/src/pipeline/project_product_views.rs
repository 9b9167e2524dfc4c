//! The product pages read model: everything a product page shows, in three
//! record tables, each record written only by the partition of the aggregate
//! it folds (partitions apply concurrently; a record shared by two would
//! conflict):
//!
//! - `product_view`: one per product, folding the product's events and its
//!   inventory's (same id, same partition): details, price and its history,
//!   stock, units sold;
//! - `product_review`: one per review, indexed by product; the page's rating
//!   and recent reviews are read from them;
//! - `seller_view`: one per seller, joined by the product's seller id.

use super::projector::{Drift, ReadModel};
use crate::store::projections::{generation_table, RecordWrite};
use crate::store::read::{
    ReadStore, PRODUCT_REVIEW_TABLE, PRODUCT_VIEWS, PRODUCT_VIEW_TABLE, SELLER_VIEW_TABLE,
};
use crate::store::write::WriteStore;
use crate::store::{decode_all, StoreError};
use app::live::{ProjectionNotice, PRODUCT_REVIEWS, PRODUCT_VIEW, SELLER_VIEW};
use async_trait::async_trait;
use domain::inventory::{Inventory, InventoryEvent};
use domain::party::{Seller, SellerEvent};
use domain::product::{Product, ProductEvent};
use domain::review::ReviewEvent;
use domain::views::{ProductView, ReviewView, SellerView};
use domain::{AggregateType, DomainEvent, EventId, StoredEvent};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use time::OffsetDateTime;

pub struct ProductViews;

/// A product page folds the product and its inventory (same id).
fn aggregates_of(id: &str) -> Vec<String> {
    vec![format!("product:{id}"), format!("inventory:{id}")]
}

/// One record touched by a batch, and the events that changed it.
pub struct Touched<V> {
    view: Option<V>,
    applied: Vec<EventId>,
}

impl<V> Default for Touched<V> {
    fn default() -> Self {
        Touched {
            view: None,
            applied: vec![],
        }
    }
}

impl<V> Touched<V> {
    fn loaded(view: V) -> Self {
        Touched {
            view: Some(view),
            applied: vec![],
        }
    }

    fn changed(self) -> Option<(V, Vec<EventId>)> {
        match (self.view, self.applied.is_empty()) {
            (Some(view), false) => Some((view, self.applied)),
            _ => None,
        }
    }
}

/// The records a batch touches, by aggregate id.
#[derive(Default)]
pub struct Working {
    products: HashMap<String, Touched<ProductView>>,
    reviews: HashMap<String, Touched<ReviewView>>,
    sellers: HashMap<String, Touched<SellerView>>,
}

fn ids_of(events: &[&StoredEvent], types: &[AggregateType]) -> Vec<String> {
    let mut ids: Vec<String> = events
        .iter()
        .filter(|e| types.contains(&e.aggregate_type))
        .map(|e| e.aggregate_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Folds `event` into the touched record with `apply`; on error the record
/// is left as it was.
fn fold_into<V: Clone, E: DomainEvent>(
    touched: &mut HashMap<String, Touched<V>>,
    event: &StoredEvent,
    apply: impl FnOnce(Option<V>, &domain::EventEnvelope<E>) -> Result<V, domain::views::FoldError>,
) -> Result<(), String> {
    let typed = E::decode_envelope(event).map_err(|e| e.to_string())?;
    let slot = touched.entry(event.aggregate_id.clone()).or_default();
    let next = apply(slot.view.clone(), &typed).map_err(|e| e.to_string())?;
    slot.view = Some(next);
    slot.applied.push(event.event_id);
    Ok(())
}

/// A review row of the write model: its state and the product it is about.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewRow {
    version: u64,
    rating: u8,
    product_id: String,
}

#[async_trait]
impl ReadModel for ProductViews {
    type Working = Working;

    fn name(&self) -> &'static str {
        PRODUCT_VIEWS
    }

    fn aggregates(&self) -> &'static [AggregateType] {
        &[
            AggregateType::Product,
            AggregateType::Inventory,
            AggregateType::Review,
            AggregateType::Seller,
        ]
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                PRODUCT_VIEW_TABLE,
                "DEFINE INDEX IF NOT EXISTS $TABLE_name ON $TABLE FIELDS name;",
            ),
            (
                PRODUCT_REVIEW_TABLE,
                "DEFINE INDEX IF NOT EXISTS $TABLE_product ON $TABLE FIELDS productId, submittedAt;",
            ),
            (SELLER_VIEW_TABLE, ""),
        ]
    }

    async fn load(
        &self,
        read: &ReadStore,
        generation: u32,
        events: &[&StoredEvent],
    ) -> Result<Self::Working, StoreError> {
        let mut working = Working::default();
        let products = ids_of(events, &[AggregateType::Product, AggregateType::Inventory]);
        let table = generation_table(PRODUCT_VIEW_TABLE, generation);
        for view in decode_all::<ProductView>(read.records_by_ids(&table, &products).await?)? {
            working
                .products
                .insert(view.product_id.to_string(), Touched::loaded(view));
        }
        let reviews = ids_of(events, &[AggregateType::Review]);
        let table = generation_table(PRODUCT_REVIEW_TABLE, generation);
        for view in decode_all::<ReviewView>(read.records_by_ids(&table, &reviews).await?)? {
            working
                .reviews
                .insert(view.review_id.to_string(), Touched::loaded(view));
        }
        let sellers = ids_of(events, &[AggregateType::Seller]);
        let table = generation_table(SELLER_VIEW_TABLE, generation);
        for view in decode_all::<SellerView>(read.records_by_ids(&table, &sellers).await?)? {
            working
                .sellers
                .insert(view.seller_id.to_string(), Touched::loaded(view));
        }
        Ok(working)
    }

    fn fold(&self, working: &mut Self::Working, event: &StoredEvent) -> Result<(), String> {
        match event.aggregate_type {
            AggregateType::Product => {
                fold_into::<_, ProductEvent>(&mut working.products, event, ProductView::apply)
            }
            AggregateType::Inventory => {
                let exists = working
                    .products
                    .get(&event.aggregate_id)
                    .is_some_and(|t| t.view.is_some());
                if !exists {
                    // Its product's creation has not been applied yet (it
                    // comes first in the stream; retried until it has).
                    return Err(format!(
                        "stock of product {} arrived before the product",
                        event.aggregate_id
                    ));
                }
                fold_into::<_, InventoryEvent>(
                    &mut working.products,
                    event,
                    ProductView::apply_inventory,
                )
            }
            AggregateType::Review => {
                fold_into::<_, ReviewEvent>(&mut working.reviews, event, ReviewView::apply)
            }
            AggregateType::Seller => {
                fold_into::<_, SellerEvent>(&mut working.sellers, event, SellerView::apply)
            }
            other => Err(format!(
                "a {} event is not for product pages",
                other.as_str()
            )),
        }
    }

    /// The write model's rows against the records: each product's name,
    /// price, deletion, stock, units sold and versions; each review's rating
    /// and product; each seller's name and rating. Records the write model
    /// does not have are drift too.
    async fn reconcile(
        &self,
        read: &ReadStore,
        write: &WriteStore,
        generation: u32,
    ) -> Result<Vec<Drift>, StoreError> {
        let mut drifts = Vec::new();

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
        for (id, product) in products {
            let inventory = stock.get(&id).cloned().unwrap_or_default();
            let expected = json!({
                "name": product.details.name,
                "price": product.price,
                "deleted": product.deleted,
                "version": product.version,
                "stock": inventory.available,
                "unitsSold": inventory.reserved,
                "inventoryVersion": inventory.version,
            });
            let found = views.remove(&id).map(|v| {
                json!({
                    "name": v.name,
                    "price": v.price,
                    "deleted": v.deleted,
                    "version": v.version,
                    "stock": v.stock,
                    "unitsSold": v.units_sold,
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

        let table = generation_table(PRODUCT_REVIEW_TABLE, generation);
        let rows: Vec<(String, ReviewRow)> = write.all_states(AggregateType::Review).await?;
        let mut reviews: HashMap<String, ReviewView> =
            decode_all::<ReviewView>(read.all_records(&table).await?)?
                .into_iter()
                .map(|v| (v.review_id.to_string(), v))
                .collect();
        for (id, row) in rows {
            let expected = json!({
                "rating": row.rating,
                "productId": row.product_id,
                "version": row.version,
            });
            let found = reviews.remove(&id).map(
                |v| json!({ "rating": v.rating, "productId": v.product_id, "version": v.version }),
            );
            let aggregates = vec![format!("review:{id}")];
            drifts.extend(Drift::compare(&table, &id, expected, found, aggregates));
        }
        for (id, view) in reviews {
            let found = json!({ "rating": view.rating, "productId": view.product_id });
            drifts.push(Drift::orphan(
                &table,
                &id,
                found,
                vec![format!("review:{id}")],
            ));
        }

        let table = generation_table(SELLER_VIEW_TABLE, generation);
        let rows: Vec<(String, Seller)> = write.all_states(AggregateType::Seller).await?;
        let mut sellers: HashMap<String, SellerView> =
            decode_all::<SellerView>(read.all_records(&table).await?)?
                .into_iter()
                .map(|v| (v.seller_id.to_string(), v))
                .collect();
        for (id, row) in rows {
            let expected = json!({
                "name": row.name,
                "ratingTenths": row.rating_tenths,
                "version": row.version,
            });
            let found = sellers.remove(&id).map(|v| {
                json!({ "name": v.name, "ratingTenths": v.rating_tenths, "version": v.version })
            });
            let aggregates = vec![format!("seller:{id}")];
            drifts.extend(Drift::compare(&table, &id, expected, found, aggregates));
        }
        for (id, view) in sellers {
            let found = json!({ "name": view.name, "version": view.version });
            drifts.push(Drift::orphan(
                &table,
                &id,
                found,
                vec![format!("seller:{id}")],
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
        let mut records = Vec::new();
        let mut notices = Vec::new();
        let notice =
            |read_model: &str, id: String, version, event_ids, event_time| ProjectionNotice {
                read_model: read_model.into(),
                aggregate_id: id,
                aggregate_version: version,
                event_ids,
                event_time,
                projected_at,
                owner: None,
            };

        let table = generation_table(PRODUCT_VIEW_TABLE, generation);
        for (mut view, applied) in working.products.into_values().filter_map(Touched::changed) {
            view.projected_at = projected_at;
            let id = view.product_id.to_string();
            notices.push(notice(
                PRODUCT_VIEW,
                id.clone(),
                view.version,
                applied,
                view.event_time,
            ));
            records.push(RecordWrite {
                table: table.clone(),
                id,
                content: serde_json::to_value(&view)?,
            });
        }
        let table = generation_table(PRODUCT_REVIEW_TABLE, generation);
        for (mut view, applied) in working.reviews.into_values().filter_map(Touched::changed) {
            view.projected_at = projected_at;
            // Pages listen by product: a new review changes its rating.
            notices.push(notice(
                PRODUCT_REVIEWS,
                view.product_id.to_string(),
                view.version,
                applied,
                view.submitted_at,
            ));
            records.push(RecordWrite {
                table: table.clone(),
                id: view.review_id.to_string(),
                content: serde_json::to_value(&view)?,
            });
        }
        let table = generation_table(SELLER_VIEW_TABLE, generation);
        for (mut view, applied) in working.sellers.into_values().filter_map(Touched::changed) {
            view.projected_at = projected_at;
            let id = view.seller_id.to_string();
            notices.push(notice(
                SELLER_VIEW,
                id.clone(),
                view.version,
                applied,
                projected_at,
            ));
            records.push(RecordWrite {
                table: table.clone(),
                id,
                content: serde_json::to_value(&view)?,
            });
        }
        Ok((records, notices))
    }
}
