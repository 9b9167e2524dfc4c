//! SurrealDB adapters: the write store (normalized rows, the append-only
//! event log, the outbox) and the read store (denormalized read records and
//! projector checkpoints). Separate databases, so the read side can be
//! rebuilt, moved or scaled without touching the write side.

pub mod projections;
pub mod read;
pub mod write;

use surrealdb::engine::any::Any;
use surrealdb::opt::auth::Root;
use surrealdb::Surreal;

pub type Db = Surreal<Any>;

/// The stores share one SurrealDB handle rather than clone it: in SurrealDB
/// 3 every clone of a `Surreal` opens a new session (a random id, a message
/// to the engine's session task, a registry entry) and its drop closes it,
/// and the stores are cloned with the app state on every request. Measured
/// in the read benchmark: the sessions took most of a product read's time.
/// Sharing is safe here: every query uses the same namespace, database and
/// credentials, and transactions are whole scripts (`BEGIN … COMMIT`), never
/// held open on a session.
pub type SharedDb = std::sync::Arc<Db>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] surrealdb::Error),
    #[error("stored data does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// A concurrent writer won (version check or unique index); retry.
    #[error("a concurrent change won")]
    Conflict,
    #[error("migration {version} failed: {reason}")]
    Migration { version: u32, reason: String },
}

/// Marker the append transactions THROW when their version guard fails.
pub(crate) const CONFLICT_MARKER: &str = "vitrine:conflict";

impl StoreError {
    pub(crate) fn from_tx(error: surrealdb::Error) -> StoreError {
        let text = error.to_string();
        // Our own guard, a unique-index violation on (aggregate, version),
        // or the engine's optimistic transaction conflict.
        if text.contains(CONFLICT_MARKER)
            || text.contains("already contains")
            || text.contains("already exists")
            || text.to_lowercase().contains("conflict")
        {
            tracing::debug!(reason = %text, "write conflict");
            StoreError::Conflict
        } else {
            StoreError::Db(error)
        }
    }
}

/// The outcome of a transaction script: the statement that failed (not the
/// "not executed due to a failed transaction" echoes of the others).
pub(crate) fn check_tx(mut response: surrealdb::IndexedResults) -> Result<(), StoreError> {
    let mut errors: Vec<(usize, surrealdb::Error)> = response.take_errors().into_iter().collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by_key(|(i, _)| *i);
    let cause = errors
        .iter()
        .position(|(_, e)| !e.to_string().contains("failed transaction"))
        .unwrap_or(0);
    Err(StoreError::from_tx(errors.swap_remove(cause).1))
}

/// Connects to `url` (`surrealkv://path`, `mem://`, `ws://host:port`) and
/// selects the namespace and database.
pub async fn connect(
    url: &str,
    database: &str,
    user: Option<&str>,
    pass: Option<&str>,
) -> Result<Db, StoreError> {
    let db = surrealdb::engine::any::connect(url).await?;
    if let (Some(username), Some(password)) = (user, pass) {
        if !(url.starts_with("mem:") || url.starts_with("surrealkv:")) {
            db.signin(Root {
                username: username.to_owned(),
                password: password.to_owned(),
            })
            .await?;
        }
    }
    db.use_ns("vitrine").use_db(database).await?;
    Ok(db)
}

/// A migration: a version and the statements that bring the schema to it.
pub(crate) struct Migration {
    pub version: u32,
    pub statements: &'static str,
}

/// Applies, in order, every migration not yet recorded in `migration`.
pub(crate) async fn migrate(db: &Db, migrations: &[Migration]) -> Result<(), StoreError> {
    db.query("DEFINE TABLE IF NOT EXISTS migration SCHEMALESS;")
        .await?
        .check()?;
    let mut applied = db.query("SELECT VALUE version FROM migration").await?;
    let applied: Vec<serde_json::Value> = applied.take(0)?;
    let applied: Vec<u64> = applied.iter().filter_map(|v| v.as_u64()).collect();
    for m in migrations {
        if applied.contains(&u64::from(m.version)) {
            continue;
        }
        let script = format!(
            "BEGIN TRANSACTION;\n{}\nCREATE type::record('migration', $version) CONTENT {{ version: $version, appliedAt: time::now() }};\nCOMMIT TRANSACTION;",
            m.statements
        );
        db.query(script)
            .bind(("version", i64::from(m.version)))
            .await?
            .check()
            .map_err(|e| StoreError::Migration {
                version: m.version,
                reason: e.to_string(),
            })?;
        tracing::info!(version = m.version, "applied migration");
    }
    Ok(())
}

/// `SELECT`-style results as plain JSON, decoded into our own types.
pub(crate) fn decode_all<T: serde::de::DeserializeOwned>(
    rows: Vec<serde_json::Value>,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|row| serde_json::from_value(row).map_err(StoreError::from))
        .collect()
}

/// A row selected as `meta::id(id) AS key, * OMIT id`: its record key and
/// the rest decoded.
pub(crate) fn keyed_row<T: serde::de::DeserializeOwned>(
    mut row: serde_json::Value,
) -> Result<(String, T), StoreError> {
    let key = row
        .as_object_mut()
        .and_then(|o| o.remove("key"))
        .and_then(|k| k.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((key, serde_json::from_value(row)?))
}
