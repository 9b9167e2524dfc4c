//! The read store's bookkeeping for projections, shared by every read model.
//!
//! A read model lives in **generations**: its record tables, its
//! per-aggregate positions and its dead letters carry the suffix `_g<n>`
//! (`product_view_g1`, `product_views_position_g1`, …). Reads go to the
//! active generation; a rebuild fills the next one beside it and the switch
//! is one write of `read_model:<name>` plus an in-memory flip, after which
//! the old tables are removed.
//!
//! Everything one batch of events changes — records, positions, dead
//! letters, the partition's checkpoint — is written in one transaction.

use super::read::ReadStore;
use super::{check_tx, decode_all, keyed_row, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// A generation's name for one of a read model's tables.
pub fn generation_table(base: &str, generation: u32) -> String {
    format!("{base}_g{generation}")
}

fn positions_table(model: &str, generation: u32) -> String {
    generation_table(&format!("{model}_position"), generation)
}

fn dead_letters_table(model: &str, generation: u32) -> String {
    generation_table(&format!("{model}_dead_letter"), generation)
}

/// The active generation of each read model, as this process serves it.
#[derive(Clone, Default)]
pub struct ActiveGenerations(Arc<RwLock<HashMap<String, u32>>>);

impl ActiveGenerations {
    pub fn get(&self, model: &str) -> Option<u32> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(model)
            .copied()
    }
    pub(crate) fn set(&self, model: &str, generation: u32) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(model.to_owned(), generation);
    }
}

/// `read_model:<name>`: which generation serves, which one is being built.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadModelState {
    pub active: Option<u32>,
    pub building: Option<u32>,
    /// Partitions the active generation's consumers were made for.
    #[serde(default)]
    pub partitions: u16,
}

/// How far one aggregate has been applied to a read model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    pub version: u64,
    /// Set while the aggregate's events are parked: the version that failed.
    #[serde(default)]
    pub parked_at: Option<u64>,
    /// The partition the aggregate's events arrive on.
    #[serde(default)]
    pub partition: u16,
}

/// Where one partition consumer of a read model is in the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// The last JetStream stream sequence applied.
    pub stream_sequence: u64,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_event_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub updated_at: Option<OffsetDateTime>,
}

/// An event a projector could not apply, kept with why, in the read store
/// before its message is acknowledged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// `<aggregateType>:<aggregateId>`, or `unreadable` for a message that is
    /// not an event at all.
    pub aggregate: String,
    pub aggregate_version: u64,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub partition: u16,
    pub stream_sequence: Option<u64>,
    /// The event as received (`null` for an unreadable message).
    pub event: serde_json::Value,
    /// The raw message text when it did not decode as an event.
    #[serde(default)]
    pub raw: Option<String>,
    pub reason: String,
    /// `parked` (this event failed), `held` (an earlier event of the same
    /// aggregate is parked) or `skipped` (an operator chose to skip it).
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub parked_at: OffsetDateTime,
}

/// The `aggregate` of a message that is not an event at all.
pub const UNREADABLE: &str = "unreadable";

impl DeadLetter {
    /// The row's key: sorts an aggregate's letters by version.
    pub fn key(&self) -> String {
        match (&self.stream_sequence, self.aggregate.as_str()) {
            (Some(seq), UNREADABLE) => format!("{UNREADABLE}:{seq:020}"),
            _ => format!("{}:{:020}", self.aggregate, self.aggregate_version),
        }
    }

    /// Is this the letter an operator names by `version` (an unreadable
    /// message's is its stream sequence)?
    pub fn matches(&self, version: u64) -> bool {
        if self.aggregate == UNREADABLE {
            self.stream_sequence == Some(version)
        } else {
            self.aggregate_version == version
        }
    }
}

/// A record a batch writes, in the generation's table.
#[derive(Clone, Debug, Serialize)]
pub struct RecordWrite {
    #[serde(rename = "t")]
    pub table: String,
    pub id: String,
    #[serde(rename = "c")]
    pub content: serde_json::Value,
}

/// Everything one batch changes, written in one transaction.
#[derive(Debug, Default)]
pub struct BatchWrite {
    /// Records removed before the batch's writes (a repair starting over).
    pub deletes: Vec<(String, String)>,
    pub records: Vec<RecordWrite>,
    pub positions: Vec<(String, Position)>,
    pub dead_letters: Vec<DeadLetter>,
    /// Dead letters resolved by a retry (their keys).
    pub resolved: Vec<String>,
    /// The partition checkpoint (`None` for writes outside the stream, such
    /// as the log scan of a rebuild).
    pub checkpoint: Option<(String, Checkpoint)>,
}

const BATCH_SCRIPT: &str = "BEGIN TRANSACTION;
    FOR $x IN $deletes { DELETE type::record($x.t, $x.id) RETURN NONE; };
    FOR $w IN $records { UPSERT type::record($w.t, $w.id) CONTENT $w.c RETURN NONE; };
    FOR $p IN $positions { UPSERT type::record($pt, $p.key) CONTENT $p.row RETURN NONE; };
    FOR $k IN $resolved { DELETE type::record($dt, $k) RETURN NONE; };
    FOR $d IN $dead { UPSERT type::record($dt, $d.key) CONTENT $d.row RETURN NONE; };
    IF $checkpoint { UPSERT type::record('projector_checkpoint', $cid) CONTENT $checkpoint RETURN NONE; };
    COMMIT TRANSACTION;";

#[derive(Serialize)]
struct Keyed<T> {
    key: String,
    row: T,
}

impl ReadStore {
    pub fn generations(&self) -> &ActiveGenerations {
        &self.active
    }

    /// The table a read model's records are read from now.
    pub fn active_table(&self, model: &str, base: &str) -> String {
        generation_table(base, self.active.get(model).unwrap_or(1))
    }

    pub async fn read_model_state(&self, model: &str) -> Result<ReadModelState, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('read_model', $name)")
            .bind(("name", model.to_owned()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(serde_json::from_value(v)?),
            _ => Ok(ReadModelState::default()),
        }
    }

    pub async fn set_read_model_state(
        &self,
        model: &str,
        state: &ReadModelState,
    ) -> Result<(), StoreError> {
        self.db
            .query("UPSERT type::record('read_model', $name) CONTENT $state RETURN NONE")
            .bind(("name", model.to_owned()))
            .bind(("state", serde_json::to_value(state)?))
            .await?
            .check()?;
        Ok(())
    }

    /// Creates a generation's tables (indexes by the read model's own DDL,
    /// which names the table `$TABLE`).
    pub async fn define_generation(
        &self,
        model: &str,
        generation: u32,
        tables: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        let mut script = String::from("BEGIN TRANSACTION;\n");
        for (base, ddl) in tables {
            let table = generation_table(base, generation);
            script.push_str(&format!("DEFINE TABLE IF NOT EXISTS {table} SCHEMALESS;\n"));
            script.push_str(&ddl.replace("$TABLE", &table));
            script.push('\n');
        }
        for table in [
            positions_table(model, generation),
            dead_letters_table(model, generation),
        ] {
            script.push_str(&format!("DEFINE TABLE IF NOT EXISTS {table} SCHEMALESS;\n"));
        }
        script.push_str("COMMIT TRANSACTION;");
        check_tx(self.db.query(script).await?)
    }

    /// Removes a generation: its tables, positions, dead letters and
    /// checkpoints.
    pub async fn drop_generation(
        &self,
        model: &str,
        generation: u32,
        bases: &[&str],
    ) -> Result<(), StoreError> {
        let mut script = String::new();
        for base in bases {
            script.push_str(&format!(
                "REMOVE TABLE IF EXISTS {};\n",
                generation_table(base, generation)
            ));
        }
        script.push_str(&format!(
            "REMOVE TABLE IF EXISTS {};\nREMOVE TABLE IF EXISTS {};\n",
            positions_table(model, generation),
            dead_letters_table(model, generation)
        ));
        script.push_str(
            "DELETE projector_checkpoint WHERE string::starts_with(meta::id(id), $prefix);",
        );
        self.db
            .query(script)
            .bind((
                "prefix",
                format!("{}_p", generation_table(model, generation)),
            ))
            .await?
            .check()?;
        Ok(())
    }

    /// Positions of the given aggregates (`<type>:<id>`); absent ones are
    /// at version 0.
    pub async fn positions(
        &self,
        model: &str,
        generation: u32,
        keys: &[String],
    ) -> Result<HashMap<String, Position>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let mut res = self
            .db
            .query(
                "SELECT meta::id(id) AS key, * OMIT id FROM $keys.map(|$k| type::record($t, $k))",
            )
            .bind(("keys", keys.to_vec()))
            .bind(("t", positions_table(model, generation)))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        rows.into_iter().map(keyed_row).collect()
    }

    pub async fn checkpoint(&self, id: &str) -> Result<Checkpoint, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('projector_checkpoint', $name)")
            .bind(("name", id.to_owned()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(serde_json::from_value(v)?),
            _ => Ok(Checkpoint::default()),
        }
    }

    /// Writes one batch: records, positions, dead letters and checkpoint
    /// together or not at all.
    pub async fn write_batch(
        &self,
        model: &str,
        generation: u32,
        batch: BatchWrite,
    ) -> Result<(), StoreError> {
        let positions: Vec<Keyed<Position>> = batch
            .positions
            .into_iter()
            .map(|(key, row)| Keyed { key, row })
            .collect();
        let dead: Vec<Keyed<&DeadLetter>> = batch
            .dead_letters
            .iter()
            .map(|d| Keyed {
                key: d.key(),
                row: d,
            })
            .collect();
        let (cid, checkpoint) = match batch.checkpoint {
            Some((id, c)) => (id, serde_json::to_value(c)?),
            None => (String::new(), serde_json::Value::Null),
        };
        let deletes: Vec<serde_json::Value> = batch
            .deletes
            .iter()
            .map(|(t, id)| serde_json::json!({ "t": t, "id": id }))
            .collect();
        let res = self
            .db
            .query(BATCH_SCRIPT)
            .bind(("deletes", deletes))
            .bind(("records", serde_json::to_value(&batch.records)?))
            .bind(("positions", serde_json::to_value(&positions)?))
            .bind(("dead", serde_json::to_value(&dead)?))
            .bind(("resolved", batch.resolved))
            .bind(("pt", positions_table(model, generation)))
            .bind(("dt", dead_letters_table(model, generation)))
            .bind(("cid", cid))
            .bind(("checkpoint", checkpoint))
            .await?;
        check_tx(res)
    }

    /// A read model's dead letters, an aggregate's in version order.
    pub async fn dead_letters(
        &self,
        model: &str,
        generation: u32,
        aggregate: Option<&str>,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let mut res = self
            .db
            .query(
                "SELECT * OMIT id FROM type::table($t)
                 WHERE !$aggregate OR aggregate = $aggregate
                 ORDER BY aggregate, aggregateVersion, streamSequence",
            )
            .bind(("t", dead_letters_table(model, generation)))
            .bind(("aggregate", aggregate.map(str::to_owned)))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    /// Every record of a generation's table.
    pub async fn all_records(&self, table: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM type::table($t)")
            .bind(("t", table.to_owned()))
            .await?;
        Ok(res.take(0)?)
    }

    pub async fn dead_letter_count(&self, model: &str, generation: u32) -> Result<u64, StoreError> {
        let mut res = self
            .db
            .query("RETURN count(SELECT VALUE id FROM type::table($t) WHERE status != 'skipped')")
            .bind(("t", dead_letters_table(model, generation)))
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }

    /// Reads records of a generation's table by id (missing ones left out).
    pub async fn records_by_ids(
        &self,
        table: &str,
        ids: &[String],
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM $ids.map(|$k| type::record($t, $k))")
            .bind(("ids", ids.to_vec()))
            .bind(("t", table.to_owned()))
            .await?;
        Ok(res.take(0)?)
    }
}
