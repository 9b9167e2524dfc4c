//! The read store: denormalized read records, one table per read model, each
//! written only by its projector, together with that projector's checkpoint.

use super::projections::ActiveGenerations;
use super::{decode_all, migrate, Db, Migration, SharedDb, StoreError};
use domain::views::{OrderView, ProductView, RatingSummary, ReviewView, SellerView};
use domain::{CustomerId, OrderId, ProductId, SellerId};
use serde::Deserialize;
use std::collections::HashMap;

/// The product pages read model and its record table.
pub const PRODUCT_VIEWS: &str = "product_views";
pub const PRODUCT_VIEW_TABLE: &str = "product_view";
pub const PRODUCT_REVIEW_TABLE: &str = "product_review";
pub const SELLER_VIEW_TABLE: &str = "seller_view";
/// Customers' order histories and their record table.
pub const ORDER_HISTORY: &str = "order_history";
pub const ORDER_VIEW_TABLE: &str = "order_view";
/// Sales analytics: one record per order, and figures sharded by partition.
pub const SALES_ANALYTICS: &str = "sales_analytics";
pub const SALES_ORDER_TABLE: &str = "sales_order";
pub const PRODUCT_SALES_TABLE: &str = "product_sales";
pub const CATEGORY_SALES_TABLE: &str = "category_sales";
pub const CUSTOMER_VALUE_TABLE: &str = "customer_value";
pub const HOURLY_SALES_TABLE: &str = "hourly_sales";

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        statements: r#"
        DEFINE TABLE IF NOT EXISTS product_view SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS product_view_name ON product_view FIELDS name;
        DEFINE INDEX IF NOT EXISTS product_view_product ON product_view FIELDS productId UNIQUE;
        DEFINE TABLE IF NOT EXISTS projector_checkpoint SCHEMALESS;
        -- Messages a projector could not read at all, kept rather than dropped.
        DEFINE TABLE IF NOT EXISTS dead_letter SCHEMALESS;
    "#,
    },
    Migration {
        version: 2,
        statements: r#"
        -- Read models live in generations (tables suffixed `_g<n>`, see
        -- `projections`); the first generation is built from the event log.
        REMOVE TABLE IF EXISTS product_view;
        REMOVE TABLE IF EXISTS dead_letter;
        DELETE projector_checkpoint;
        DEFINE TABLE IF NOT EXISTS read_model SCHEMALESS;
    "#,
    },
];

#[derive(Clone)]
pub struct ReadStore {
    pub(crate) db: SharedDb,
    pub(crate) active: ActiveGenerations,
}

impl ReadStore {
    /// One record of a table by id, `None` when it does not exist.
    async fn record_by_id<T: serde::de::DeserializeOwned>(
        &self,
        table: String,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record($t, $id)")
            .bind(("t", table))
            .bind(("id", id.to_owned()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(Some(serde_json::from_value(v)?)),
            _ => Ok(None),
        }
    }

    /// Several records of a table by id, in no particular order; missing
    /// ids are left out.
    pub async fn records_of<T: serde::de::DeserializeOwned>(
        &self,
        table: String,
        ids: &[String],
    ) -> Result<Vec<T>, StoreError> {
        decode_all(self.records_by_ids(&table, ids).await?)
    }

    pub async fn open(db: Db) -> Result<Self, StoreError> {
        migrate(&db, MIGRATIONS).await?;
        Ok(ReadStore {
            db: SharedDb::new(db),
            active: ActiveGenerations::default(),
        })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.query("RETURN 1").await?.check()?;
        Ok(())
    }

    fn product_table(&self) -> String {
        self.active_table(PRODUCT_VIEWS, PRODUCT_VIEW_TABLE)
    }

    pub async fn product_view(&self, id: ProductId) -> Result<Option<ProductView>, StoreError> {
        self.record_by_id(self.product_table(), &id.to_string())
            .await
    }

    pub async fn product_views_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<ProductView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM $ids.map(|$k| type::record($t, $k))")
            .bind(("t", self.product_table()))
            .bind(("ids", ids.to_vec()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    pub async fn all_product_views(&self) -> Result<Vec<ProductView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM type::table($t) ORDER BY name")
            .bind(("t", self.product_table()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// A product's most recent reviews, newest first.
    pub async fn recent_reviews(
        &self,
        product: ProductId,
        limit: usize,
    ) -> Result<Vec<ReviewView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM type::table($t) WHERE productId = $product ORDER BY submittedAt DESC LIMIT $limit")
            .bind(("t", self.active_table(PRODUCT_VIEWS, PRODUCT_REVIEW_TABLE)))
            .bind(("product", product.to_string()))
            .bind(("limit", limit as i64))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// The rating figures of these products (all products when `None`);
    /// products without reviews are absent.
    pub async fn ratings(
        &self,
        products: Option<&[String]>,
    ) -> Result<HashMap<ProductId, RatingSummary>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            product_id: ProductId,
            count: u64,
            sum: u64,
        }
        let filter = if products.is_some() {
            "WHERE productId IN $products"
        } else {
            ""
        };
        let mut res = self
            .db
            .query(format!(
                "SELECT productId, count() AS count, math::sum(rating) AS sum FROM type::table($t) {filter} GROUP BY productId"
            ))
            .bind(("t", self.active_table(PRODUCT_VIEWS, PRODUCT_REVIEW_TABLE)))
            .bind(("products", products.map(|p| p.to_vec()).unwrap_or_default()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        Ok(decode_all::<Row>(rows)?
            .into_iter()
            .map(|r| {
                (
                    r.product_id,
                    RatingSummary {
                        count: r.count,
                        sum: r.sum,
                    },
                )
            })
            .collect())
    }

    pub async fn seller_view(&self, id: SellerId) -> Result<Option<SellerView>, StoreError> {
        self.record_by_id(
            self.active_table(PRODUCT_VIEWS, SELLER_VIEW_TABLE),
            &id.to_string(),
        )
        .await
    }

    /// One order's history entry.
    pub async fn order_view(&self, id: OrderId) -> Result<Option<OrderView>, StoreError> {
        self.record_by_id(
            self.active_table(ORDER_HISTORY, ORDER_VIEW_TABLE),
            &id.to_string(),
        )
        .await
    }

    pub async fn seller_views_by_ids(&self, ids: &[String]) -> Result<Vec<SellerView>, StoreError> {
        self.records_of(self.active_table(PRODUCT_VIEWS, SELLER_VIEW_TABLE), ids)
            .await
    }

    pub async fn all_seller_views(&self) -> Result<Vec<SellerView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM type::table($t)")
            .bind(("t", self.active_table(PRODUCT_VIEWS, SELLER_VIEW_TABLE)))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// A sales figure summed over its partition shards (`<key>_<p>`), and
    /// whether any shard exists.
    pub async fn sales_tally(
        &self,
        table: &str,
        key: &str,
        partitions: u16,
    ) -> Result<(domain::analytics::Tally, bool), StoreError> {
        let ids: Vec<String> = (0..partitions).map(|p| format!("{key}_{p}")).collect();
        let shards = self.sales_shards(table, &ids).await?;
        let found = !shards.is_empty();
        Ok((
            shards
                .iter()
                .fold(domain::analytics::Tally::default(), |a, (_, t)| a.merge(t)),
            found,
        ))
    }

    /// The shards with these ids (`<key>_<p>`) of a sales figure table,
    /// with their keys.
    pub async fn sales_shards(
        &self,
        table: &str,
        ids: &[String],
    ) -> Result<Vec<(String, domain::analytics::Tally)>, StoreError> {
        #[derive(Deserialize)]
        struct Shard {
            key: String,
            #[serde(flatten)]
            tally: domain::analytics::Tally,
        }
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM $ids.map(|$k| type::record($t, $k))")
            .bind(("t", self.active_table(SALES_ANALYTICS, table)))
            .bind(("ids", ids.to_vec()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        Ok(decode_all::<Shard>(rows)?
            .into_iter()
            .map(|s| (s.key, s.tally))
            .collect())
    }

    /// A customer's orders, newest first.
    pub async fn orders_of_customer(
        &self,
        customer: CustomerId,
        limit: usize,
    ) -> Result<Vec<OrderView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM type::table($t) WHERE customerId = $customer ORDER BY placedAt DESC LIMIT $limit")
            .bind(("t", self.active_table(ORDER_HISTORY, ORDER_VIEW_TABLE)))
            .bind(("customer", customer.to_string()))
            .bind(("limit", limit as i64))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// Every order history entry (checks and tools).
    pub async fn all_order_views(&self) -> Result<Vec<OrderView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM type::table($t)")
            .bind(("t", self.active_table(ORDER_HISTORY, ORDER_VIEW_TABLE)))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// Serves the generations `read_model` records as active (a process
    /// reading a store the shop wrote, such as a check after a crash test).
    pub async fn use_active_generations(&self, models: &[&str]) -> Result<(), StoreError> {
        for model in models {
            if let Some(active) = self.read_model_state(model).await?.active {
                self.active.set(model, active);
            }
        }
        Ok(())
    }
}
