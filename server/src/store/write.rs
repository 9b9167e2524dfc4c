//! The write store: the normalized write model (one table per aggregate), the
//! append-only event log and the outbox, always changed together in one
//! transaction ([`Commit`]); plus accounts and the idempotency records.

use super::{decode_all, keyed_row, migrate, Db, Migration, SharedDb, StoreError, CONFLICT_MARKER};
use domain::{AggregateType, StoredEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const MIGRATIONS: &[Migration] = &[
    Migration {
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
    },
    Migration {
        version: 2,
        statements: r#"
        -- A product and its inventory share an id: versions are per aggregate
        -- type and id.
        REMOVE INDEX IF EXISTS event_aggregate_version ON event;
        DEFINE INDEX IF NOT EXISTS event_aggregate_version ON event FIELDS aggregateType, aggregateId, aggregateVersion UNIQUE;
        DEFINE TABLE IF NOT EXISTS inventory SCHEMALESS;
        DEFINE TABLE IF NOT EXISTS seller SCHEMALESS;
        DEFINE TABLE IF NOT EXISTS customer SCHEMALESS;
        DEFINE TABLE IF NOT EXISTS review SCHEMALESS;
        DEFINE TABLE IF NOT EXISTS customer_order SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS order_customer ON customer_order FIELDS customerId, status;
        DEFINE INDEX IF NOT EXISTS order_status_placed ON customer_order FIELDS status, placedAt;
        -- Sign-in accounts. Credentials are not events: they never enter the log.
        DEFINE TABLE IF NOT EXISTS account SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS account_email ON account FIELDS email UNIQUE;
        DEFINE TABLE IF NOT EXISTS session SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS session_expiry ON session FIELDS expiresAt;
        DEFINE TABLE IF NOT EXISTS api_token SCHEMALESS;
        -- First outcome of each client command id, per account, for 24 h or more.
        DEFINE TABLE IF NOT EXISTS command SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS command_expiry ON command FIELDS expiresAt;
    "#,
    },
    Migration {
        version: 3,
        statements: r#"
        -- Reviews by product, for the write model's own product-page join
        -- (what the read model saves; the read benchmark compares the two).
        DEFINE INDEX IF NOT EXISTS review_product ON review FIELDS productId;
    "#,
    },
];

/// The write model's table for an aggregate.
pub fn table(aggregate: AggregateType) -> &'static str {
    match aggregate {
        AggregateType::Product => "product",
        AggregateType::Inventory => "inventory",
        AggregateType::Seller => "seller",
        AggregateType::Customer => "customer",
        AggregateType::Review => "review",
        // `order` is a SurrealQL keyword.
        AggregateType::Order => "customer_order",
    }
}

/// One aggregate's new state: created when `expected_version` is 0, else
/// merged into the row at `expected_version` (the commit fails if another
/// writer moved it; columns only the creation wrote, such as an order's
/// `placedAt`, stay).
#[derive(Clone, Debug, Serialize)]
pub struct StateWrite {
    pub table: &'static str,
    pub id: String,
    #[serde(rename = "expected")]
    pub expected_version: u64,
    pub row: serde_json::Value,
}

impl StateWrite {
    pub fn new<S: Serialize>(
        aggregate: AggregateType,
        id: impl ToString,
        expected_version: u64,
        state: &S,
    ) -> Result<Self, StoreError> {
        Ok(StateWrite {
            table: table(aggregate),
            id: id.to_string(),
            expected_version,
            row: serde_json::to_value(state)?,
        })
    }

    /// Adds a column the queries need that the domain state does not carry.
    pub fn with(mut self, field: &str, value: serde_json::Value) -> Self {
        if let Some(row) = self.row.as_object_mut() {
            row.insert(field.to_owned(), value);
        }
        self
    }
}

/// A row that must not exist yet (an account).
#[derive(Clone, Debug, Serialize)]
pub struct RowCreate {
    pub table: &'static str,
    pub id: String,
    pub row: serde_json::Value,
}

/// The first outcome of a client command id, kept so a repeat gets it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRecord {
    /// Hash of the account and the client's key.
    pub key: String,
    /// Hash of what was asked; the same key with another request is refused.
    pub request_hash: String,
    /// `{"ok": receipt}` or `{"err": error}`, as JSON.
    pub outcome: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// Everything one command changes, written in one transaction.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub states: Vec<StateWrite>,
    pub creates: Vec<RowCreate>,
    pub events: Vec<StoredEvent>,
    pub command: Option<CommandRecord>,
}

/// An outbox row: the event to publish and its place in the queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRow {
    /// Commit-time order key: unix nanos, then the event's place in its commit.
    pub position: String,
    pub event: StoredEvent,
}

#[derive(Clone)]
pub struct WriteStore {
    pub(crate) db: SharedDb,
}

const COMMIT_SCRIPT: &str = "BEGIN TRANSACTION;
    FOR $w IN $states {
        IF $w.expected = 0 {
            CREATE type::record($w.table, $w.id) CONTENT $w.row RETURN NONE;
        } ELSE {
            LET $updated = (UPDATE type::record($w.table, $w.id) MERGE $w.row WHERE version = $w.expected RETURN AFTER);
            IF array::len($updated) = 0 { THROW $conflict };
        };
    };
    FOR $r IN $creates { CREATE type::record($r.table, $r.id) CONTENT $r.row RETURN NONE; };
    FOR $e IN $events { CREATE type::record('event', $e.eventId) CONTENT $e RETURN NONE; };
    FOR $o IN $outbox { CREATE type::record('outbox', $o.event.eventId) CONTENT $o RETURN NONE; };
    IF $command { CREATE type::record('command', $command.key) CONTENT $command RETURN NONE; };
    COMMIT TRANSACTION;";

impl WriteStore {
    pub async fn open(db: Db) -> Result<Self, StoreError> {
        migrate(&db, MIGRATIONS).await?;
        Ok(WriteStore {
            db: SharedDb::new(db),
        })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.query("RETURN 1").await?.check()?;
        Ok(())
    }

    /// The state an aggregate's rules need (default when it does not exist).
    pub async fn load<T: DeserializeOwned + Default>(
        &self,
        aggregate: AggregateType,
        id: impl ToString,
    ) -> Result<T, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record($table, $id)")
            .bind(("table", table(aggregate)))
            .bind(("id", id.to_string()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(serde_json::from_value(v)?),
            _ => Ok(T::default()),
        }
    }

    /// Several aggregates of one type in one round trip, by id (missing ones
    /// are default).
    pub async fn load_many<T: DeserializeOwned + Default>(
        &self,
        aggregate: AggregateType,
        ids: &[String],
    ) -> Result<HashMap<String, T>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut res = self
            .db
            .query("RETURN array::map($ids, |$i| (SELECT * OMIT id FROM ONLY type::record($table, $i)))")
            .bind(("table", table(aggregate)))
            .bind(("ids", ids.to_vec()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        let mut out = HashMap::with_capacity(ids.len());
        for (id, row) in ids.iter().zip(
            rows.into_iter()
                .chain(std::iter::repeat(serde_json::Value::Null)),
        ) {
            let state = if row.is_null() {
                T::default()
            } else {
                serde_json::from_value(row)?
            };
            out.insert(id.clone(), state);
        }
        Ok(out)
    }

    /// Rows of aggregates of any types in one round trip, in the order asked
    /// (`Null` for a missing one): a command that needs several reads them
    /// all at once.
    pub async fn load_rows(
        &self,
        keys: &[(AggregateType, String)],
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let keys: Vec<serde_json::Value> = keys
            .iter()
            .map(|(a, id)| serde_json::json!({ "table": table(*a), "id": id }))
            .collect();
        let n = keys.len();
        let mut res = self
            .db
            .query("RETURN array::map($keys, |$k| (SELECT * OMIT id FROM ONLY type::record($k.table, $k.id)))")
            .bind(("keys", keys))
            .await?;
        let mut rows: Vec<serde_json::Value> = res.take(0)?;
        rows.resize(n, serde_json::Value::Null);
        Ok(rows)
    }

    pub async fn count(&self, aggregate: AggregateType) -> Result<u64, StoreError> {
        let mut res = self
            .db
            .query("RETURN count(SELECT VALUE id FROM type::table($table))")
            .bind(("table", table(aggregate)))
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }

    /// Writes states, rows, events, outbox rows and the command record in one
    /// transaction. `Conflict` when a concurrent writer won (version guard,
    /// the unique (type, id, version) index on events, or an existing row).
    pub async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let (event_rows, outbox_rows) = event_and_outbox_rows(&commit.events)?;
        let command = match &commit.command {
            Some(c) => serde_json::to_value(c)?,
            None => serde_json::Value::Null,
        };
        let response = self
            .db
            .query(COMMIT_SCRIPT)
            .bind(("states", serde_json::to_value(&commit.states)?))
            .bind(("creates", serde_json::to_value(&commit.creates)?))
            .bind(("events", event_rows))
            .bind(("outbox", outbox_rows))
            .bind(("command", command))
            .bind(("conflict", CONFLICT_MARKER))
            .await
            .map_err(StoreError::from_tx)?;
        super::check_tx(response)
    }

    /// A client command's first outcome, unless expired.
    pub async fn command_record(&self, key: &str) -> Result<Option<CommandRecord>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('command', $key)")
            .bind(("key", key.to_owned()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => {
                let record: CommandRecord = serde_json::from_value(v)?;
                Ok((record.expires_at > time::OffsetDateTime::now_utc()).then_some(record))
            }
            _ => Ok(None),
        }
    }

    /// Records a refused command's outcome (nothing else was written).
    pub async fn record_command(&self, record: &CommandRecord) -> Result<(), StoreError> {
        self.db
            .query("UPSERT type::record('command', $key) CONTENT $record RETURN NONE")
            .bind(("key", record.key.clone()))
            .bind(("record", serde_json::to_value(record)?))
            .await?
            .check()?;
        Ok(())
    }

    /// Forgets command outcomes past their expiry; returns how many.
    pub async fn expire_commands(&self) -> Result<u64, StoreError> {
        let mut res = self
            .db
            .query("RETURN array::len((DELETE command WHERE <datetime>expiresAt <= time::now() RETURN BEFORE))")
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }

    /// The oldest outbox rows, in commit order; with `older_than`, only rows
    /// committed before it (newer ones are on their way through the hand-off).
    pub async fn outbox_batch(
        &self,
        limit: usize,
        older_than: Option<time::OffsetDateTime>,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        // Positions start with the commit's unix nanos, fixed width: text
        // order is time order.
        let before = older_than
            .map(|t| format!("{:020}", t.unix_timestamp_nanos()))
            .unwrap_or_else(|| "~".into());
        let mut res = self
            .db
            .query("SELECT position, event FROM outbox WHERE position < $before ORDER BY position LIMIT $limit")
            .bind(("before", before))
            .bind(("limit", limit as i64))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// When the oldest event still in the outbox happened: the relay's lag.
    pub async fn oldest_unpublished(&self) -> Result<Option<time::OffsetDateTime>, StoreError> {
        let mut res = self
            .db
            .query("SELECT VALUE event.occurredAt FROM outbox ORDER BY position LIMIT 1")
            .await?;
        let rows: Vec<String> = res.take(0)?;
        Ok(rows.first().and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        }))
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
            // One statement over all the records: a FOR loop of single
            // deletes cost ~0.6 ms a row under load.
            .query("DELETE $ids.map(|$id| type::record('outbox', $id)) RETURN NONE")
            .bind(("ids", event_ids.to_vec()))
            .await?
            .check()?;
        Ok(())
    }

    /// Reads the whole event log in key (event-id) order, up to `until`,
    /// page by page: see [`LogScan`].
    pub fn scan_log(&self, limit: usize, until: time::OffsetDateTime) -> LogScan {
        LogScan {
            store: self.clone(),
            from: None,
            start_ms: 0,
            window_ms: 1_000,
            until_ms: (until.unix_timestamp_nanos() / 1_000_000).max(0) as u64,
            limit: limit.max(1),
            done: false,
        }
    }

    /// Appends events to the log as they are: no state rows, no outbox, no
    /// version checks. For importing history (and synthetic benchmark data)
    /// that a rebuild is then to read; commands never come through here.
    pub async fn import_log(&self, events: &[StoredEvent]) -> Result<(), StoreError> {
        let rows = events
            .iter()
            .map(|e| {
                let mut row = serde_json::to_value(e)?;
                if let Some(o) = row.as_object_mut() {
                    o.insert(
                        "id".into(),
                        serde_json::Value::String(e.event_id.to_string()),
                    );
                }
                Ok(row)
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        self.db
            .query("INSERT INTO event $rows RETURN NONE")
            .bind(("rows", rows))
            .await?
            .check()?;
        Ok(())
    }

    /// Every event id in the log, in no particular order: what a check of
    /// the stream against the log compares.
    pub async fn all_event_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut res = self.db.query("SELECT VALUE eventId FROM event").await?;
        let ids: Vec<serde_json::Value> = res.take(0)?;
        Ok(ids
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    }

    /// How many events of these aggregate types the log holds.
    pub async fn count_log(&self, types: &[AggregateType]) -> Result<u64, StoreError> {
        let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        let mut res = self
            .db
            .query("RETURN count(SELECT VALUE id FROM event WHERE aggregateType IN $types)")
            .bind(("types", types))
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }

    /// Events of one aggregate with versions in `from..=to`, in order: the log
    /// projectors heal gaps from and single-record reads fall back to.
    pub async fn events_of(
        &self,
        aggregate: AggregateType,
        aggregate_id: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut res = self
            .db
            .query(
                "SELECT * OMIT id FROM event WHERE aggregateType = $type AND aggregateId = $aggregate
                 AND aggregateVersion >= $from AND aggregateVersion <= $to
                 ORDER BY aggregateVersion",
            )
            .bind(("type", aggregate.as_str()))
            .bind(("aggregate", aggregate_id.to_owned()))
            .bind(("from", from as i64))
            .bind(("to", to.min(i64::MAX as u64) as i64))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// Every row of one aggregate type's table, by id: what reconciliation
    /// recomputes the read models from.
    /// A product page as a join over the write model (seed 004's five-table
    /// query): product, inventory, seller, reviews with their text from the
    /// event log, and the price history. The read model exists so that pages
    /// never run this; `bench-reads` measures both side by side.
    pub async fn product_page_by_join(&self, id: &str) -> Result<serde_json::Value, StoreError> {
        let mut res = self
            .db
            .query(
                "LET $p = SELECT * FROM ONLY type::record('product', $id);
                 LET $reviews = SELECT meta::id(id) AS rid, rating FROM review WHERE productId = $id;
                 RETURN {
                    product: $p,
                    inventory: (SELECT * FROM ONLY type::record('inventory', $id)),
                    seller: IF $p.sellerId { (SELECT * FROM ONLY type::record('seller', $p.sellerId)) } ELSE { NONE },
                    reviewCount: count($reviews),
                    averageRating: math::mean($reviews.rating),
                    recentReviews: (SELECT payload, occurredAt FROM event
                        WHERE aggregateType = 'review' AND aggregateId IN $reviews.rid
                        ORDER BY occurredAt DESC LIMIT 5),
                    priceHistory: (SELECT payload.newPrice AS price, occurredAt FROM event
                        WHERE aggregateType = 'product' AND aggregateId = $id AND eventType = 'PriceChanged'
                        ORDER BY occurredAt)
                 };",
            )
            .bind(("id", id.to_owned()))
            .await?;
        Ok(res
            .take::<Option<serde_json::Value>>(2)?
            .unwrap_or_default())
    }

    pub async fn all_states<T: DeserializeOwned>(
        &self,
        aggregate: AggregateType,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let mut res = self
            .db
            .query("SELECT meta::id(id) AS key, * OMIT id FROM type::table($table)")
            .bind(("table", table(aggregate)))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        rows.into_iter().map(keyed_row).collect()
    }

    /// Did this customer receive this product (an order with it delivered and
    /// not returned)? Reviews require it.
    pub async fn has_received(
        &self,
        customer_id: &str,
        product_id: &str,
    ) -> Result<bool, StoreError> {
        let mut res = self
            .db
            .query(
                "RETURN count(SELECT VALUE id FROM customer_order
                 WHERE customerId = $customer AND status = 'delivered'
                 AND $product IN lines.productId) > 0",
            )
            .bind(("customer", customer_id.to_owned()))
            .bind(("product", product_id.to_owned()))
            .await?;
        let found: Option<bool> = res.take(0)?;
        Ok(found.unwrap_or(false))
    }

    /// Orders still awaiting payment (or declined) that were placed before
    /// `cutoff`: the process manager releases their stock.
    pub async fn orders_to_expire(
        &self,
        cutoff: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let cutoff = cutoff
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut res = self
            .db
            .query(
                "SELECT VALUE record::id(id) FROM customer_order
                 WHERE status IN ['awaitingPayment', 'paymentDeclined'] AND <datetime>placedAt < <datetime>$cutoff
                 LIMIT $limit",
            )
            .bind(("cutoff", cutoff))
            .bind(("limit", limit as i64))
            .await?;
        let ids: Vec<serde_json::Value> = res.take(0)?;
        Ok(ids
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
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

fn event_and_outbox_rows(
    events: &[StoredEvent],
) -> Result<(Vec<serde_json::Value>, Vec<serde_json::Value>), StoreError> {
    let mut event_rows = Vec::with_capacity(events.len());
    let mut outbox_rows = Vec::with_capacity(events.len());
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    for (i, event) in events.iter().enumerate() {
        event_rows.push(serde_json::to_value(event)?);
        outbox_rows.push(serde_json::to_value(OutboxRow {
            // Fixed width so text order is commit order, then the order the
            // command emitted its events in (a product before its inventory).
            position: format!("{now:020}-{i:06}"),
            event: event.clone(),
        })?);
    }
    Ok((event_rows, outbox_rows))
}

/// The event log read in key order. Event ids are UUIDv7, so key order is
/// commit-time order near enough, and exact per aggregate (a version is
/// written after its predecessor committed). Each page is a record-id range
/// bounded on both sides by time: SurrealDB 3.3.5 reads a half-open range
/// to its end before applying `LIMIT` (a page cost as much as the log left
/// after it), so the window adapts to hold about one page.
pub struct LogScan {
    store: WriteStore,
    /// The last id read (the next page starts after it), or none: start at
    /// `start_ms`.
    from: Option<String>,
    start_ms: u64,
    window_ms: u64,
    until_ms: u64,
    limit: usize,
    done: bool,
}

/// The millisecond timestamp a UUIDv7 key starts with.
fn key_millis(key: &str) -> Option<u64> {
    let hex: String = key.chars().filter(|c| *c != '-').take(12).collect();
    u64::from_str_radix(&hex, 16).ok()
}

/// The smallest UUIDv7 key of a millisecond.
fn floor_key(ms: u64) -> String {
    format!(
        "{:08x}-{:04x}-0000-0000-000000000000",
        ms >> 16,
        ms & 0xffff
    )
}

impl LogScan {
    /// The next page's events of the given types (`None` at the end). A
    /// page may be empty of those types but never of progress.
    pub async fn next_page(
        &mut self,
        types: &[AggregateType],
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let upper_ms = self
                .start_ms
                .saturating_add(self.window_ms)
                .min(self.until_ms);
            // Both bounds are keys we build from UUIDs and numbers: safe to
            // put in the range literal.
            let start = match &self.from {
                Some(id) => format!("⟨{id}⟩>"),
                None => format!("⟨{}⟩", floor_key(self.start_ms)),
            };
            let query = format!(
                "SELECT * OMIT id FROM event:{start}..⟨{}⟩ LIMIT $limit",
                floor_key(upper_ms)
            );
            let mut res = self
                .store
                .db
                .query(query)
                .bind(("limit", self.limit as i64))
                .await?;
            let rows: Vec<serde_json::Value> = res.take(0)?;
            let events: Vec<StoredEvent> = decode_all(rows)?;
            let full = events.len() >= self.limit;
            if full {
                // The next page starts after the last event read, with a
                // window as long as this page's own span (from its first
                // event, not from the window's start: a window that began
                // long before the first event would make the next page read
                // the whole log again).
                let last = events
                    .last()
                    .map(|e| e.event_id.to_string())
                    .unwrap_or_default();
                let last_ms = key_millis(&last).unwrap_or(self.start_ms);
                let first_ms = events
                    .first()
                    .and_then(|e| key_millis(&e.event_id.to_string()))
                    .unwrap_or(self.start_ms);
                self.window_ms = last_ms.saturating_sub(first_ms).max(1);
                self.start_ms = last_ms;
                self.from = Some(last);
            } else {
                if upper_ms >= self.until_ms {
                    self.done = true;
                }
                self.start_ms = upper_ms;
                self.from = None;
                // Empty or sparse: widen (from the epoch, ~40 doublings
                // reach today).
                self.window_ms = self.window_ms.saturating_mul(2);
                if events.is_empty() {
                    continue;
                }
            }
            return Ok(Some(
                events
                    .into_iter()
                    .filter(|e| types.contains(&e.aggregate_type))
                    .collect(),
            ));
        }
    }
}
