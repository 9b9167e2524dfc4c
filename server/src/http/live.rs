//! `GET /api/live`: server-sent events. Each `projected` event carries a
//! `ProjectionNotice`; its SSE id is the live stream position, so a client
//! resumes with `Last-Event-ID` (or `?after=` from a server-rendered page),
//! also across a server restart. Too old to resume: a `reset` event.

use super::auth::Caller;
use super::error::ApiError;
use crate::pipeline::live::{LiveEntry, Resume};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use domain::ActorRole;
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;

#[derive(Deserialize)]
pub struct LiveQuery {
    after: Option<String>,
}

fn projected(entry: &LiveEntry) -> Event {
    Event::default()
        .event("projected")
        .id(entry.position.to_string())
        .json_data(&*entry.notice)
        .unwrap_or_else(|_| Event::default().comment("unencodable notice"))
}

fn reset(position: u64) -> Event {
    Event::default()
        .event("reset")
        .id(position.to_string())
        .data("refetch")
}

/// Order notices go only to the order's customer and to shop staff.
fn may_see(caller: &Caller, entry: &LiveEntry) -> bool {
    match &entry.notice.owner {
        None => true,
        Some(owner) => caller.viewer.as_ref().is_some_and(|v| {
            let actor = v.actor();
            actor.role == ActorRole::Admin || &actor.id == owner
        }),
    }
}

pub async fn live_feed(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    query: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let hub = state.live.clone();
    let position = |field: &str, text: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::invalid(field, "must be a live feed position (0, 1, 2, …)"))
    };
    let after = match query {
        Ok(Query(q)) => q.after,
        Err(e) => return Err(ApiError::invalid("after", e.body_text())),
    };
    let resume_from = match (headers.get("last-event-id"), after) {
        (Some(id), _) => Some(position(
            "Last-Event-ID",
            id.to_str().unwrap_or("not text"),
        )?),
        (None, Some(after)) => Some(position("after", &after)?),
        (None, None) => None,
    };

    // Subscribe first, then replay: a notice in between is sent once.
    let receiver = hub.subscribe();
    let (first, mut last_sent): (Vec<Event>, u64) = match resume_from {
        None => (vec![], hub.position()),
        Some(after) => match hub.since(after).await {
            Resume::Replay(entries) => {
                let last = entries.last().map_or(after, |e| e.position);
                let visible = entries.iter().filter(|e| may_see(&caller, e));
                (visible.map(projected).collect(), last)
            }
            Resume::Reset => {
                let position = hub.position();
                (vec![reset(position)], position)
            }
        },
    };
    let live = BroadcastStream::new(receiver).filter_map(move |item| {
        let event = match item {
            Ok(entry) if entry.position > last_sent => {
                last_sent = entry.position;
                may_see(&caller, &entry).then(|| projected(&entry))
            }
            Ok(_) => None,
            // This client fell behind the hub: it must refetch.
            Err(_) => Some(reset(last_sent)),
        };
        futures::future::ready(event)
    });
    // A comment first, so the response (and the client's `open`) goes out
    // at once rather than with the first notice.
    let hello = Event::default().comment("connected");
    let events = stream::iter(std::iter::once(hello).chain(first))
        .chain(live)
        .map(Ok);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
