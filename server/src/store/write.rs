//! The write store: the normalized write model, the append-only event log and
//! the outbox, always changed together in one transaction.

use super::{decode_all, migrate, Db, Migration, StoreError, CONFLICT_MARKER};
use domain::product::Product;
use domain::{ProductId, StoredEvent};
use serde::{Deserialize, Serialize};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    statements: r#"
        DEFINE TABLE IF NOT EXISTS product SCHEMALESS;
        -- The event log: the audit trail and the source every read model can be
        -- rebuilt and healed from. Never changed, never deleted.
        DEFINE TABLE IF NOT EXISTS event SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS event_aggregate_version ON event FIELDS aggregateId, aggregateVersion UNIQUE;
        DEFINE EVENT IF NOT EXISTS event_is_append_only ON event
            WHEN $event = "UPDATE" OR $event = "DELETE"
            THEN { THROW "the event log is append-only" };
        -- One row per event still to be published; deleted after JetStream's ack.
        DEFINE TABLE IF NOT EXISTS outbox SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS outbox_order ON outbox FIELDS position;
        DEFINE TABLE IF NOT EXISTS meta SCHEMALESS;
    "#,
}];

/// The product row of the write model.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductRow {
    product_id: ProductId,
    version: u64,
    name: String,
    category: String,
    price: domain::Money,
    stock: u32,
}

/// An outbox row: the event to publish and its place in the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRow {
    /// Commit-time order key: unix nanos then aggregate version.
    pub position: String,
    pub event: StoredEvent,
}

#[derive(Clone)]
pub struct WriteStore {
    db: Db,
}

impl WriteStore {
    pub async fn open(db: Db) -> Result<Self, StoreError> {
        migrate(&db, MIGRATIONS).await?;
        Ok(WriteStore { db })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.query("RETURN 1").await?.check()?;
        Ok(())
    }

    /// The state the product's rules need (default when it does not exist).
    pub async fn load_product(&self, id: ProductId) -> Result<Product, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('product', $id)")
            .bind(("id", id.to_string()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => {
                let row: ProductRow = serde_json::from_value(v)?;
                Ok(Product {
                    version: row.version,
                    name: row.name,
                    category: row.category,
                    price: row.price,
                })
            }
            _ => Ok(Product::default()),
        }
    }

    pub async fn count_products(&self) -> Result<u64, StoreError> {
        let mut res = self
            .db
            .query("RETURN count(SELECT VALUE id FROM product)")
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }

    /// Creates the product row and appends its events and outbox rows, in one
    /// transaction; fails with `Conflict` if the product exists.
    pub async fn append_product_created(
        &self,
        id: ProductId,
        state: &Product,
        stock: u32,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let row = ProductRow {
            product_id: id,
            version: state.version,
            name: state.name.clone(),
            category: state.category.clone(),
            price: state.price,
            stock,
        };
        let script = format!(
            "BEGIN TRANSACTION;
             IF (SELECT VALUE id FROM ONLY type::record('product', $id)) != NONE {{ THROW '{CONFLICT_MARKER}' }};
             CREATE type::record('product', $id) CONTENT $row RETURN NONE;
             {APPEND}
             COMMIT TRANSACTION;"
        );
        self.run_append(&script, id, serde_json::to_value(row)?, None, events)
            .await
    }

    /// Moves the product row from `expected_version` to `state` and appends
    /// the events and outbox rows, in one transaction.
    pub async fn append_product_changed(
        &self,
        id: ProductId,
        expected_version: u64,
        state: &Product,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let changes = serde_json::json!({
            "version": state.version,
            "name": state.name,
            "category": state.category,
            "price": state.price,
        });
        let script = format!(
            "BEGIN TRANSACTION;
             LET $updated = (UPDATE type::record('product', $id) MERGE $row WHERE version = $expected RETURN AFTER);
             IF array::len($updated) = 0 {{ THROW '{CONFLICT_MARKER}' }};
             {APPEND}
             COMMIT TRANSACTION;"
        );
        self.run_append(&script, id, changes, Some(expected_version), events)
            .await
    }

    async fn run_append(
        &self,
        script: &str,
        id: ProductId,
        row: serde_json::Value,
        expected: Option<u64>,
        events: &[StoredEvent],
    ) -> Result<(), StoreError> {
        let (event_rows, outbox_rows) = event_and_outbox_rows(events)?;
        let mut query = self
            .db
            .query(script)
            .bind(("id", id.to_string()))
            .bind(("row", row))
            .bind(("events", event_rows))
            .bind(("outbox", outbox_rows));
        if let Some(expected) = expected {
            query = query.bind(("expected", expected as i64));
        }
        let response = query.await.map_err(StoreError::from_tx)?;
        response.check().map_err(StoreError::from_tx)?;
        Ok(())
    }

    /// The oldest outbox rows, in commit order.
    pub async fn outbox_batch(&self, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let mut res = self
            .db
            .query("SELECT position, event FROM outbox ORDER BY position LIMIT $limit")
            .bind(("limit", limit as i64))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    pub async fn outbox_len(&self) -> Result<u64, StoreError> {
        let mut res = self
            .db
            .query("RETURN count(SELECT VALUE id FROM outbox)")
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }

    /// Deletes published rows (after JetStream acknowledged them).
    pub async fn delete_outbox(&self, event_ids: &[String]) -> Result<(), StoreError> {
        if event_ids.is_empty() {
            return Ok(());
        }
        self.db
            .query("FOR $id IN $ids { DELETE type::record('outbox', $id) RETURN NONE; }")
            .bind(("ids", event_ids.to_vec()))
            .await?
            .check()?;
        Ok(())
    }

    /// Events of one aggregate with versions in `from..=to`, in order: the log
    /// projectors heal gaps from and single-record reads fall back to.
    pub async fn events_of(
        &self,
        aggregate_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut res = self
            .db
            .query(
                "SELECT * OMIT id FROM event WHERE aggregateId = $aggregate
                 AND aggregateVersion >= $from AND aggregateVersion <= $to
                 ORDER BY aggregateVersion",
            )
            .bind(("aggregate", aggregate_id.to_owned()))
            .bind(("from", from as i64))
            .bind(("to", to.min(i64::MAX as u64) as i64))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    pub async fn get_meta(&self, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let mut res = self
            .db
            .query("SELECT VALUE value FROM ONLY type::record('meta', $key)")
            .bind(("key", key.to_owned()))
            .await?;
        let v: Option<serde_json::Value> = res.take(0)?;
        Ok(v.filter(|v| !v.is_null()))
    }

    pub async fn set_meta(&self, key: &str, value: serde_json::Value) -> Result<(), StoreError> {
        self.db
            .query("UPSERT type::record('meta', $key) CONTENT { value: $value } RETURN NONE")
            .bind(("key", key.to_owned()))
            .bind(("value", value))
            .await?
            .check()?;
        Ok(())
    }
}

const APPEND: &str = "
    FOR $e IN $events { CREATE type::record('event', $e.eventId) CONTENT $e RETURN NONE; };
    FOR $o IN $outbox { CREATE type::record('outbox', $o.event.eventId) CONTENT $o RETURN NONE; };";

fn event_and_outbox_rows(
    events: &[StoredEvent],
) -> Result<(Vec<serde_json::Value>, Vec<serde_json::Value>), StoreError> {
    let mut event_rows = Vec::with_capacity(events.len());
    let mut outbox_rows = Vec::with_capacity(events.len());
    for event in events {
        event_rows.push(serde_json::to_value(event)?);
        let nanos = event.occurred_at.unix_timestamp_nanos();
        outbox_rows.push(serde_json::to_value(OutboxRow {
            // Fixed width so text order is time order, then version order.
            position: format!("{nanos:020}-{:012}", event.aggregate_version),
            event: event.clone(),
        })?);
    }
    Ok((event_rows, outbox_rows))
}
