//! Operating the event pipeline from the admin portal (shop staff only):
//! each read model's freshness and health, its dead letters (retry, skip),
//! a rebuild and a reconciliation. The JSON API (`/api/admin/read-models`)
//! and the CLI do the same through the same projector operations.

#[cfg(feature = "ssr")]
use super::server;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One read model as its projector reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadModelHealth {
    pub name: String,
    pub generation: u32,
    pub events_behind: u64,
    /// `None` while behind with nothing applied yet.
    pub seconds_behind: Option<f64>,
    /// Since the stalest partition's last sign of life.
    pub heartbeat_age_seconds: Option<f64>,
    /// Beating, and not failing: a stalled projector is never healthy.
    pub healthy: bool,
    pub dead_letters: u64,
    pub events_applied: u64,
    pub rebuild: Option<RebuildProgress>,
}

/// Progress of a rebuild, for the admin page, the JSON API and the CLI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildProgress {
    pub generation: u32,
    /// `scanning the event log`, `catching up`, `switched`, `failed: …`
    pub phase: String,
    pub done: u64,
    pub total: u64,
    pub events_per_second: f64,
    pub eta_seconds: Option<f64>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<time::OffsetDateTime>,
}

impl RebuildProgress {
    /// A rebuild of `generation` that starts now, in `phase`.
    pub fn starting(generation: u32, phase: &str) -> Self {
        RebuildProgress {
            generation,
            phase: phase.into(),
            done: 0,
            total: 0,
            events_per_second: 0.0,
            eta_seconds: None,
            started_at: time::OffsetDateTime::now_utc(),
            finished_at: None,
        }
    }
}

/// An event the projector could not apply, kept until retried or skipped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub aggregate: String,
    /// The version to name when skipping it (an unreadable message's stream
    /// sequence).
    pub version: u64,
    pub event_type: Option<String>,
    /// `parked`, `held`, `waiting` or `skipped`.
    pub status: String,
    pub reason: String,
    pub parked_at: String,
}

/// Server-side: staff only, then the pipeline port.
#[cfg(feature = "ssr")]
fn staff_ports() -> Result<std::sync::Arc<dyn crate::ports::PipelineOperations>, AppError> {
    let actor = server::caller().actor()?;
    if actor.role != domain::ActorRole::Admin {
        return Err(AppError::Command(domain::CommandError::Rejected(
            domain::DomainError::forbidden("only shop staff may operate the read models"),
        )));
    }
    Ok(server::ports()?.pipeline)
}

#[server(prefix = "/rpc")]
pub async fn pipeline_health() -> Result<Vec<ReadModelHealth>, AppError> {
    Ok(staff_ports()?.read_models())
}

#[server(prefix = "/rpc")]
pub async fn dead_letters(read_model: String) -> Result<Vec<DeadLetterView>, AppError> {
    staff_ports()?.dead_letters(&read_model).await
}

/// Applies a read model's parked events again; what happened, in a sentence.
#[server(prefix = "/rpc")]
pub async fn retry_dead_letters(read_model: String) -> Result<String, AppError> {
    staff_ports()?.retry(&read_model).await
}

#[server(prefix = "/rpc")]
pub async fn skip_dead_letter(
    read_model: String,
    aggregate: String,
    version: u64,
) -> Result<String, AppError> {
    staff_ports()?.skip(&read_model, aggregate, version).await
}

#[server(prefix = "/rpc")]
pub async fn rebuild_read_model(read_model: String) -> Result<String, AppError> {
    staff_ports()?.rebuild(&read_model)
}

/// Compares the read model with the write model and repairs what drifted.
#[server(prefix = "/rpc")]
pub async fn reconcile_read_model(read_model: String) -> Result<String, AppError> {
    staff_ports()?.reconcile(&read_model).await
}
