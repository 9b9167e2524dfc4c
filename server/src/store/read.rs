//! The read store: denormalized read records, one table per read model, each
//! written only by its projector, together with that projector's checkpoint.

use super::{decode_all, migrate, Db, Migration, StoreError};
use domain::views::ProductView;
use domain::ProductId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    statements: r#"
        DEFINE TABLE IF NOT EXISTS product_view SCHEMALESS;
        DEFINE INDEX IF NOT EXISTS product_view_name ON product_view FIELDS name;
        DEFINE INDEX IF NOT EXISTS product_view_product ON product_view FIELDS productId UNIQUE;
        DEFINE TABLE IF NOT EXISTS projector_checkpoint SCHEMALESS;
        -- Messages a projector could not read at all, kept rather than dropped.
        DEFINE TABLE IF NOT EXISTS dead_letter SCHEMALESS;
    "#,
}];

/// Where a projector is in the event stream.
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

#[derive(Clone)]
pub struct ReadStore {
    db: Db,
}

impl ReadStore {
    pub async fn open(db: Db) -> Result<Self, StoreError> {
        migrate(&db, MIGRATIONS).await?;
        Ok(ReadStore { db })
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.query("RETURN 1").await?.check()?;
        Ok(())
    }

    pub async fn product_view(&self, id: ProductId) -> Result<Option<ProductView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('product_view', $id)")
            .bind(("id", id.to_string()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(Some(serde_json::from_value(v)?)),
            _ => Ok(None),
        }
    }

    pub async fn product_views_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<ProductView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM product_view WHERE productId IN $ids")
            .bind(("ids", ids.to_vec()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    pub async fn all_product_views(&self) -> Result<Vec<ProductView>, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM product_view ORDER BY name")
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        decode_all(rows)
    }

    pub async fn checkpoint(&self, projector: &str) -> Result<Checkpoint, StoreError> {
        let mut res = self
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('projector_checkpoint', $name)")
            .bind(("name", projector.to_owned()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(serde_json::from_value(v)?),
            _ => Ok(Checkpoint::default()),
        }
    }

    /// Writes a batch of product records and the projector's checkpoint in
    /// one transaction: either the whole batch is applied or none of it.
    pub async fn apply_product_batch(
        &self,
        projector: &str,
        views: &[ProductView],
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        let views: Vec<serde_json::Value> = views
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?;
        self.db
            .query(
                "BEGIN TRANSACTION;
                 FOR $v IN $views { UPSERT type::record('product_view', $v.productId) CONTENT $v RETURN NONE; };
                 UPSERT type::record('projector_checkpoint', $name) CONTENT $checkpoint RETURN NONE;
                 COMMIT TRANSACTION;",
            )
            .bind(("views", views))
            .bind(("name", projector.to_owned()))
            .bind(("checkpoint", serde_json::to_value(checkpoint)?))
            .await?
            .check()?;
        Ok(())
    }

    /// Keeps a message no projector could read, with why, before it is acked.
    pub async fn park_unreadable(
        &self,
        projector: &str,
        stream_sequence: u64,
        subject: &str,
        payload: &[u8],
        reason: &str,
    ) -> Result<(), StoreError> {
        self.db
            .query(
                "UPSERT type::record('dead_letter', $key) CONTENT {
                    projector: $projector, streamSequence: $seq, subject: $subject,
                    payload: $payload, reason: $reason, parkedAt: time::now()
                 } RETURN NONE",
            )
            .bind(("key", format!("{projector}-{stream_sequence}")))
            .bind(("projector", projector.to_owned()))
            .bind(("seq", stream_sequence as i64))
            .bind(("subject", subject.to_owned()))
            .bind(("payload", String::from_utf8_lossy(payload).into_owned()))
            .bind(("reason", reason.to_owned()))
            .await?
            .check()?;
        Ok(())
    }
}
