//! Operating the event pipeline: how fresh each read model is (for
//! everyone: `GET /api/analytics/sync-status`), and, for shop staff, dead
//! letters (list, inspect, retry, skip), rebuilds and reconciliation. The CLI
//! (`vitrine dead-letters …`, `vitrine rebuild …`) and the admin UI call these.

use super::super::auth::Caller;
use super::super::error::ApiError;
use super::CommandRequest;
use crate::pipeline::projector::{ProjectError, ReadModelOps};
use crate::pipeline::status::PipelineStatus;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use domain::ActorRole;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn require_staff(caller: &Caller) -> Result<(), ApiError> {
    staff_only(&caller.actor()?)
}

fn staff_only(actor: &domain::Actor) -> Result<(), ApiError> {
    if actor.role != ActorRole::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only shop staff may operate the read models",
        ));
    }
    Ok(())
}

fn model<'a>(state: &'a AppState, name: &str) -> Result<&'a Arc<dyn ReadModelOps>, ApiError> {
    state.read_models.get(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no read model {name:?}; there are {}",
            state.read_models.names().join(", ")
        ))
    })
}

impl From<ProjectError> for ApiError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Refused(reason) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", reason)
            }
            ProjectError::Stopped => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the read model's projector is not running",
            ),
            other => {
                tracing::error!(error = %other, "read model operation failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the read store or JetStream failed; try again",
                )
            }
        }
    }
}

fn rfc3339(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// `GET /api/analytics/sync-status`: the reference service's two fields
/// (for the slowest read model) and one entry per read model.
pub(crate) async fn sync_status(State(state): State<AppState>) -> Json<Value> {
    let s = &state.status;
    let now = OffsetDateTime::now_utc();
    let stall_ms = state.settings.pipeline.stall_after().as_millis() as i64;
    let mut models = Vec::new();
    let mut oldest: Option<OffsetDateTime> = None;
    let mut worst_lag = 0.0f64;
    let mut all_healthy = true;
    for model in s.models() {
        let health = model.health(now, stall_ms);
        all_healthy &= health.healthy;
        if let Some(lag) = health.seconds_behind {
            worst_lag = worst_lag.max(lag);
        }
        let last = model.last_event_time();
        oldest = match (oldest, last) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        models.push(json!({
            "name": health.name,
            "generation": health.generation,
            "eventsBehind": health.events_behind,
            "secondsBehind": health.seconds_behind,
            "lastProcessedEventTimestamp": rfc3339(last),
            "heartbeatAgeSeconds": health.heartbeat_age_seconds,
            "healthy": health.healthy,
            "deadLetters": health.dead_letters,
            "eventsApplied": health.events_applied,
            "rebuild": model.rebuild_progress(),
        }));
    }
    let backlog = s.relay_backlog.load(Ordering::Relaxed);
    let relay_healthy = !s.relay_failing.load(Ordering::Relaxed)
        && PipelineStatus::since(&s.relay_heartbeat).is_some_and(|ms| ms < stall_ms);
    let relay_lag = state
        .write
        .oldest_unpublished()
        .await
        .ok()
        .flatten()
        .map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0));
    let lag = worst_lag.max(relay_lag);
    let status = if !all_healthy || !relay_healthy {
        "stalled"
    } else if lag > 0.0 || backlog > 0 {
        "syncing"
    } else {
        "synced"
    };
    Json(json!({
        "lastProcessedEventTimestamp": rfc3339(oldest),
        "lagSeconds": lag,
        "status": status,
        "checkedAt": rfc3339(Some(now)),
        "relay": {
            "outboxBacklog": backlog,
            "lagSeconds": relay_lag,
            "healthy": relay_healthy,
        },
        "readModels": models,
    }))
}

/// `GET /api/admin/read-models`
pub(crate) async fn read_models(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    require_staff(&caller)?;
    let Json(status) = sync_status(State(state)).await;
    Ok(Json(status["readModels"].clone()))
}

/// `POST /api/admin/read-models/{name}/rebuild`: 202 with the generation.
pub(crate) async fn rebuild(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_staff(&caller)?;
    let generation = model(&state, &name)?.rebuild()?;
    tracing::info!(read_model = %name, generation, "rebuild requested");
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({ "readModel": name, "generation": generation, "progress": format!("/api/admin/read-models") }),
        ),
    ))
}

#[derive(Deserialize)]
pub(crate) struct LetterQuery {
    aggregate: Option<String>,
}

/// `GET /api/admin/read-models/{name}/dead-letters?aggregate=`
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(query): Query<LetterQuery>,
) -> Result<Json<Value>, ApiError> {
    require_staff(&caller)?;
    let letters = model(&state, &name)?
        .dead_letters(query.aggregate.as_deref())
        .await?;
    Ok(Json(json!({ "readModel": name, "deadLetters": letters })))
}

/// `POST /api/admin/read-models/{name}/dead-letters/retry` `{aggregate?}`
pub(crate) async fn retry(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CommandRequest { meta, body }: CommandRequest<true>,
) -> Result<Json<Value>, ApiError> {
    staff_only(&meta.actor)?;
    body.only(&["aggregate"], &[])?;
    let aggregate = body.optional_string("aggregate")?;
    let report = model(&state, &name)?.retry(aggregate).await?;
    Ok(Json(json!(report)))
}

/// `POST /api/admin/read-models/{name}/dead-letters/skip`
/// `{aggregate, version}` (an unreadable message: `aggregate: "unreadable"`,
/// `version`: its stream sequence).
pub(crate) async fn skip(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Json<Value>, ApiError> {
    staff_only(&meta.actor)?;
    body.only(&["aggregate", "version"], &[])?;
    let aggregate = body.string("aggregate")?;
    let version = body.integer("version")?;
    let version = u64::try_from(version)
        .map_err(|_| ApiError::invalid("version", "must be a positive whole number"))?;
    let report = model(&state, &name)?.skip(aggregate, version).await?;
    Ok(Json(json!(report)))
}

/// `POST /api/admin/read-models/{name}/reconcile` `{repair?}` (default
/// true): drift between the read model and the write model, repaired.
pub(crate) async fn reconcile(
    State(state): State<AppState>,
    Path(name): Path<String>,
    CommandRequest { meta, body }: CommandRequest<true>,
) -> Result<Json<Value>, ApiError> {
    staff_only(&meta.actor)?;
    body.only(&["repair"], &[])?;
    let repair = !body.present("repair") || body.optional_bool("repair")?;
    let report = model(&state, &name)?.reconcile(repair).await?;
    Ok(Json(json!(report)))
}
