//! The sales analytics read model: product sales, category revenue,
//! customer lifetime value and hourly sales, as the reference service
//! counts them (`domain::analytics`).
//!
//! Order events of different orders are applied concurrently by different
//! partition tasks, and a per-product figure written by two of them would
//! conflict. So every figure is **sharded by the order's partition**: the
//! record `<key>_<p>` holds what the orders of partition `p` add to `key`,
//! and queries sum the shards. `p` is computed from the order id, not taken
//! from the task, so a rebuild (one task folding the whole log) writes the
//! same shards. One record per order (`sales_order`) remembers what it
//! counted, so a cancellation removes exactly that.
//!
//! Reconciliation recomputes every figure from the write model's order rows
//! and reports drift, but does not repair it: a shard sums many orders, and
//! folding one order again would count it twice. The remedy for drift here
//! is `vitrine rebuild sales_analytics`.

use super::projector::{partition_of, Drift, ReadModel};
use crate::store::projections::{generation_table, RecordWrite};
use crate::store::read::{
    ReadStore, CATEGORY_SALES_TABLE, CUSTOMER_VALUE_TABLE, HOURLY_SALES_TABLE, PRODUCT_SALES_TABLE,
    SALES_ANALYTICS, SALES_ORDER_TABLE,
};
use crate::store::write::WriteStore;
use crate::store::{decode_all, StoreError};
use app::live::ProjectionNotice;
use async_trait::async_trait;
use domain::analytics::{OrderSale, Tally};
use domain::order::{Order, OrderEvent, OrderStatus};
use domain::{AggregateType, DomainEvent, Money, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use time::OffsetDateTime;

pub struct SalesAnalytics {
    pub partitions: u16,
    /// The event log: a placement the runtime heals from it (a gap) is
    /// folded without passing through `load`, so `load` reads it here to
    /// load the shards it will touch.
    pub write: WriteStore,
}

/// The figure tables, each keyed `<key>_<partition>`.
pub const TALLY_TABLES: [&str; 4] = [
    PRODUCT_SALES_TABLE,
    CATEGORY_SALES_TABLE,
    CUSTOMER_VALUE_TABLE,
    HOURLY_SALES_TABLE,
];

/// One shard of one figure, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TallyRecord {
    pub key: String,
    pub partition: u16,
    #[serde(flatten)]
    pub tally: Tally,
}

pub fn shard_id(key: &str, partition: u16) -> String {
    format!("{key}_{partition}")
}

#[derive(Default)]
pub struct Working {
    orders: HashMap<String, (Option<OrderSale>, bool)>,
    /// (table, shard id) → record; `true` once changed.
    tallies: HashMap<(&'static str, String), (TallyRecord, bool)>,
}

impl SalesAnalytics {
    /// The shard ids an order touches, per table.
    fn shards(&self, sale: &OrderSale) -> Vec<(&'static str, String)> {
        let p = partition_of(&sale.order_id.to_string(), self.partitions);
        let parts = sale.parts();
        let mut ids: Vec<(&'static str, String)> = parts
            .products
            .iter()
            .map(|(id, _, _)| (PRODUCT_SALES_TABLE, shard_id(&id.to_string(), p)))
            .collect();
        ids.extend(
            parts
                .categories
                .iter()
                .map(|(c, _, _)| (CATEGORY_SALES_TABLE, shard_id(c, p))),
        );
        ids.push((
            CUSTOMER_VALUE_TABLE,
            shard_id(&parts.customer.0.to_string(), p),
        ));
        ids.push((HOURLY_SALES_TABLE, shard_id(&parts.hour.0.to_string(), p)));
        ids
    }
}

fn tally_of<'a>(
    working: &'a mut Working,
    table: &'static str,
    key: String,
    partition: u16,
) -> &'a mut TallyRecord {
    let entry = working
        .tallies
        .entry((table, shard_id(&key, partition)))
        .or_insert_with(|| {
            (
                TallyRecord {
                    key,
                    partition,
                    tally: Tally::default(),
                },
                false,
            )
        });
    entry.1 = true;
    &mut entry.0
}

#[async_trait]
impl ReadModel for SalesAnalytics {
    type Working = Working;

    fn name(&self) -> &'static str {
        SALES_ANALYTICS
    }

    fn aggregates(&self) -> &'static [AggregateType] {
        &[AggregateType::Order]
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (SALES_ORDER_TABLE, ""),
            (PRODUCT_SALES_TABLE, ""),
            (CATEGORY_SALES_TABLE, ""),
            (CUSTOMER_VALUE_TABLE, ""),
            (HOURLY_SALES_TABLE, ""),
        ]
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
        let table = generation_table(SALES_ORDER_TABLE, generation);
        let sales: Vec<OrderSale> = decode_all(read.records_by_ids(&table, &ids).await?)?;
        // The shards the batch may touch: those of the orders it places and
        // of the orders it may take out.
        let mut shards: BTreeMap<&'static str, HashSet<String>> = BTreeMap::new();
        for sale in &sales {
            for (t, id) in self.shards(sale) {
                shards.entry(t).or_default().insert(id);
            }
        }
        let mut placements: Vec<OrderSale> = Vec::new();
        for event in events {
            if let Ok(typed) = OrderEvent::decode_envelope(event) {
                if matches!(typed.payload, OrderEvent::OrderPlaced(_)) {
                    if let Ok((sale, _)) = OrderSale::apply(None, &typed) {
                        placements.push(sale);
                    }
                }
            }
        }
        // Orders neither recorded nor placed in this batch: their placement
        // will be healed from the log; its shards must be loaded, or they
        // would be written from zero over the other orders' figures.
        let known: HashSet<String> = sales
            .iter()
            .map(|s| s.order_id.to_string())
            .chain(placements.iter().map(|s| s.order_id.to_string()))
            .collect();
        for id in ids.iter().filter(|id| !known.contains(*id)) {
            let placed = self.write.events_of(AggregateType::Order, id, 1, 1).await?;
            for event in placed {
                if let Ok(typed) = OrderEvent::decode_envelope(&event) {
                    if let Ok((sale, _)) = OrderSale::apply(None, &typed) {
                        placements.push(sale);
                    }
                }
            }
        }
        for sale in &placements {
            for (t, id) in self.shards(sale) {
                shards.entry(t).or_default().insert(id);
            }
        }
        let mut working = Working::default();
        for (t, ids) in shards {
            let ids: Vec<String> = ids.into_iter().collect();
            let records: Vec<TallyRecord> = decode_all(
                read.records_by_ids(&generation_table(t, generation), &ids)
                    .await?,
            )?;
            for record in records {
                let id = shard_id(&record.key, record.partition);
                working.tallies.insert((t, id), (record, false));
            }
        }
        for sale in sales {
            working
                .orders
                .insert(sale.order_id.to_string(), (Some(sale), false));
        }
        Ok(working)
    }

    fn fold(&self, working: &mut Self::Working, event: &StoredEvent) -> Result<(), String> {
        let typed = OrderEvent::decode_envelope(event).map_err(|e| e.to_string())?;
        let current = working
            .orders
            .get(&event.aggregate_id)
            .and_then(|(sale, _)| sale.clone());
        let (sale, sign) = OrderSale::apply(current, &typed).map_err(|e| e.to_string())?;
        if sign != 0 {
            let p = partition_of(&event.aggregate_id, self.partitions);
            let parts = sale.parts();
            for (product, units, revenue) in parts.products {
                tally_of(working, PRODUCT_SALES_TABLE, product.to_string(), p)
                    .tally
                    .add(sign, units, revenue, sale.placed_at);
            }
            for (category, units, revenue) in parts.categories {
                tally_of(working, CATEGORY_SALES_TABLE, category, p)
                    .tally
                    .add(sign, units, revenue, sale.placed_at);
            }
            let (customer, units, total) = parts.customer;
            tally_of(working, CUSTOMER_VALUE_TABLE, customer.to_string(), p)
                .tally
                .add(sign, units, total, sale.placed_at);
            let (hour, units, total) = parts.hour;
            tally_of(working, HOURLY_SALES_TABLE, hour.to_string(), p)
                .tally
                .add(sign, units, total, sale.placed_at);
        }
        working
            .orders
            .insert(event.aggregate_id.clone(), (Some(sale), true));
        Ok(())
    }

    async fn reconcile(
        &self,
        read: &ReadStore,
        write: &WriteStore,
        generation: u32,
    ) -> Result<Vec<Drift>, StoreError> {
        // Expected figures, from the order rows alone.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct OrderRow {
            #[serde(flatten)]
            order: Order,
            #[serde(default, with = "time::serde::rfc3339::option")]
            placed_at: Option<OffsetDateTime>,
        }
        let orders: Vec<(String, OrderRow)> = write.all_states(AggregateType::Order).await?;
        let mut expected: BTreeMap<(&'static str, String), (i64, i64, i64)> = BTreeMap::new();
        let mut add = |table, key: String, units: i64, revenue: i64| {
            let e = expected.entry((table, key)).or_default();
            e.0 += units;
            e.1 += revenue;
            e.2 += 1;
        };
        for (_, row) in &orders {
            let order = &row.order;
            if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Returned)
                || order.lines.is_empty()
            {
                continue;
            }
            let mut products: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            let mut categories: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for line in &order.lines {
                let p = products.entry(line.product_id.to_string()).or_default();
                p.0 += i64::from(line.quantity);
                p.1 += line.line_total.minor();
                let c = categories.entry(line.category.clone()).or_default();
                c.0 += i64::from(line.quantity);
                c.1 += line.line_total.minor();
            }
            for (id, (u, r)) in products {
                add(PRODUCT_SALES_TABLE, id, u, r);
            }
            for (c, (u, r)) in categories {
                add(CATEGORY_SALES_TABLE, c, u, r);
            }
            let units: i64 = order.lines.iter().map(|l| i64::from(l.quantity)).sum();
            let total: i64 = order.lines.iter().map(|l| l.line_total.minor()).sum();
            if let Some(customer) = order.customer_id {
                add(CUSTOMER_VALUE_TABLE, customer.to_string(), units, total);
            }
            if let Some(placed) = row.placed_at {
                add(
                    HOURLY_SALES_TABLE,
                    domain::analytics::hour_of(placed).to_string(),
                    units,
                    total,
                );
            }
        }
        // Found: the shards summed per key.
        let mut found: BTreeMap<(&'static str, String), (i64, i64, i64)> = BTreeMap::new();
        for table in TALLY_TABLES {
            let records: Vec<TallyRecord> = decode_all(
                read.all_records(&generation_table(table, generation))
                    .await?,
            )?;
            for r in records {
                let f = found.entry((table, r.key)).or_default();
                f.0 += r.tally.units;
                f.1 += r.tally.revenue;
                f.2 += r.tally.orders;
            }
        }
        let figures = |(units, revenue, orders): (i64, i64, i64)| json!({ "units": units, "revenue": Money::from_minor(revenue), "orders": orders });
        let mut drifts = Vec::new();
        let keys: HashSet<&(&'static str, String)> = expected.keys().chain(found.keys()).collect();
        for key in keys {
            let want = expected.get(key).copied().unwrap_or_default();
            let have = found.get(key).copied().unwrap_or_default();
            if want != have {
                // Report only (see the module docs): no aggregates to fold,
                // no record to delete.
                let mut drift = Drift::compare(
                    &generation_table(key.0, generation),
                    &key.1,
                    figures(want),
                    Some(figures(have)),
                    vec![],
                )
                .unwrap_or_else(|| Drift::orphan(key.0, &key.1, figures(have), vec![]));
                drift.deletes.clear();
                drifts.push(drift);
            }
        }
        drifts.sort_by(|a, b| a.record.cmp(&b.record));
        Ok(drifts)
    }

    fn finish(
        &self,
        working: Self::Working,
        generation: u32,
        _projected_at: OffsetDateTime,
    ) -> Result<(Vec<RecordWrite>, Vec<ProjectionNotice>), StoreError> {
        let mut records = Vec::new();
        let table = generation_table(SALES_ORDER_TABLE, generation);
        for (id, (sale, changed)) in working.orders {
            if let (Some(sale), true) = (sale, changed) {
                records.push(RecordWrite {
                    table: table.clone(),
                    id,
                    content: serde_json::to_value(&sale)?,
                });
            }
        }
        for ((t, id), (record, changed)) in working.tallies {
            if changed {
                records.push(RecordWrite {
                    table: generation_table(t, generation),
                    id,
                    content: serde_json::to_value(&record)?,
                });
            }
        }
        // No live notices: figures change with every order, and the
        // analytics API says how fresh it is (sync-status, `stale`).
        Ok((records, vec![]))
    }
}
