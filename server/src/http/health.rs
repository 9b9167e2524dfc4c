//! `GET /health`: 200 `ok`; 200 `degraded` naming what lags or is down when
//! only the pipeline is affected (commands still work); 503 when a store is
//! unusable.

use crate::pipeline::status::PipelineStatus;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    status: &'static str,
    problems: Vec<String>,
    checks: serde_json::Value,
}

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let limit = Duration::from_secs(2);
    let write_ok = matches!(
        tokio::time::timeout(limit, state.write.ping()).await,
        Ok(Ok(()))
    );
    let read_ok = matches!(
        tokio::time::timeout(limit, state.read.ping()).await,
        Ok(Ok(()))
    );
    let nats_ok = matches!(
        state.nats.connection_state(),
        async_nats::connection::State::Connected
    );
    let s = &state.status;
    let stall = state.settings.pipeline.stall_after().as_millis() as i64;
    let relay_since = PipelineStatus::since(&s.relay_heartbeat);
    let backlog = s.relay_backlog.load(Ordering::Relaxed);

    let mut problems = Vec::new();
    if !write_ok {
        problems.push("write store is unavailable".to_owned());
    }
    if !read_ok {
        problems.push("read store is unavailable".to_owned());
    }
    if !nats_ok {
        problems.push("NATS is unreachable; commands are kept in the outbox".to_owned());
    }
    let relay_ok =
        !s.relay_failing.load(Ordering::Relaxed) && relay_since.is_some_and(|ms| ms < stall);
    if !relay_ok {
        problems.push(format!(
            "relay is not publishing ({backlog} events waiting in the outbox)"
        ));
    }
    let mut projectors = serde_json::Map::new();
    for model in s.models() {
        let beat = model.oldest_beat_ms();
        let ok = !model.failing() && beat.is_some_and(|ms| ms < stall);
        let behind = model.behind();
        if !ok {
            problems.push(format!(
                "{} projector is stalled ({behind} events behind)",
                model.name
            ));
        }
        let parked = model.dead_letters.load(Ordering::Relaxed);
        if parked > 0 {
            problems.push(format!(
                "{} has {parked} dead letters waiting for an operator",
                model.name
            ));
        }
        projectors.insert(
            model.name.to_owned(),
            json!({
                "status": if ok { "up" } else { "down" },
                "generation": model.generation.load(Ordering::Relaxed),
                "eventsBehind": behind,
                "deadLetters": parked,
                "lastBeatMsAgo": beat,
            }),
        );
    }

    let (code, status) = if !write_ok || !read_ok {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if problems.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::OK, "degraded")
    };
    let up = |ok: bool| if ok { "up" } else { "down" };
    let checks = json!({
        "writeStore": { "status": up(write_ok) },
        "readStore": { "status": up(read_ok) },
        "nats": { "status": up(nats_ok) },
        "relay": { "status": up(relay_ok), "outboxBacklog": backlog, "lastRoundMsAgo": relay_since },
        "projectors": projectors,
    });
    (
        code,
        Json(Health {
            status,
            problems,
            checks,
        }),
    )
}
