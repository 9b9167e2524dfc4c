//! Prometheus metrics at `GET /metrics`: command latency (per route), relay
//! lag and backlog, each read model's lag, apply count, visibility latency
//! and dead letters.
//!
//! Counters and histograms are recorded where things happen (the `metrics`
//! crate's macros); gauges of state are read from the pipeline's status at
//! scrape time, so they are never stale.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Instant;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (tests start several shops).
pub fn install() {
    HANDLE.get_or_init(|| {
        let buckets = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
            .and_then(|b| b.install_recorder());
        match builder {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        }
    });
}

/// Times every state-changing request (commands, over the JSON API and as
/// server functions), labelled by route and status.
pub async fn time_commands(request: Request, next: Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    // Routes by template (`/api/orders/{id}/{action}`), never by raw path:
    // ids would make a series per order. Server functions have fixed paths.
    let route = match request.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None if request.uri().path().starts_with("/rpc/") => request.uri().path().to_owned(),
        None => return next.run(request).await,
    };
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        "vitrine_command_duration_seconds",
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

pub async fn render(State(state): State<AppState>) -> Response {
    let Some(Some(handle)) = HANDLE.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are off").into_response();
    };
    let s = &state.status;
    metrics::gauge!("vitrine_outbox_backlog").set(s.relay_backlog.load(Ordering::Relaxed) as f64);
    metrics::gauge!("vitrine_relay_up").set(if s.relay_failing.load(Ordering::Relaxed) {
        0.0
    } else {
        1.0
    });
    let now = time::OffsetDateTime::now_utc();
    for model in s.models() {
        let name = model.name;
        let behind = model.behind();
        metrics::gauge!("vitrine_read_model_events_behind", "read_model" => name)
            .set(behind as f64);
        let lag = match (behind, model.last_event_time()) {
            (0, _) | (_, None) => 0.0,
            (_, Some(t)) => (now - t).as_seconds_f64().max(0.0),
        };
        metrics::gauge!("vitrine_read_model_lag_seconds", "read_model" => name).set(lag);
        metrics::gauge!("vitrine_read_model_dead_letters", "read_model" => name)
            .set(model.dead_letters.load(Ordering::Relaxed) as f64);
        metrics::gauge!("vitrine_read_model_generation", "read_model" => name)
            .set(f64::from(model.generation.load(Ordering::Relaxed)));
        metrics::gauge!("vitrine_read_model_heartbeat_age_seconds", "read_model" => name).set(
            model
                .oldest_beat_ms()
                .map_or(f64::NAN, |ms| ms as f64 / 1000.0),
        );
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
