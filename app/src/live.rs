//! The browser's side of the live feed: one `EventSource` on `/api/live`,
//! turned into signals pages can watch.
//!
//! The feed is at-most-once by nature (a tab may sleep, a proxy may drop it),
//! so pages treat it as a hint to refetch, never as the data itself, and
//! refetch everything when the server says it could not resume (`reset`).

use domain::EventId;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Read model names as they appear in notices.
pub const PRODUCT_VIEW: &str = "productView";
/// A review of the product (the notice's aggregate id) was projected.
pub const PRODUCT_REVIEWS: &str = "productReviews";
pub const SELLER_VIEW: &str = "sellerView";
/// A customer's order (sent only to that customer and staff).
pub const ORDER_VIEW: &str = "orderView";

/// Sent when a read record changed: which record, up to which version, by
/// which events. SSE event name `projected`; its SSE id is the feed position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionNotice {
    pub read_model: String,
    pub aggregate_id: String,
    pub aggregate_version: u64,
    pub event_ids: Vec<EventId>,
    #[serde(with = "time::serde::rfc3339")]
    pub event_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub projected_at: OffsetDateTime,
    /// Set on private records (an order: its customer's id): only that
    /// customer and shop staff receive the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveStatus {
    /// Server-rendered, or the browser has not connected yet.
    Connecting,
    Live,
    Offline,
}

#[derive(Clone, Copy)]
pub struct LiveFeed {
    pub status: RwSignal<LiveStatus>,
    /// The highest version each read record is known to have reached,
    /// keyed by `readModel/aggregateId`.
    versions: RwSignal<HashMap<String, u64>>,
    /// Event ids the feed reported as applied, per read model and aggregate.
    applied: RwSignal<HashMap<String, Vec<EventId>>>,
    /// Notices seen per record (`readModel/aggregateId`), whatever their
    /// version: a page showing several records refetches when this moves.
    touched: RwSignal<HashMap<String, u64>>,
    /// Bumps on every notice; list pages refetch on it.
    pub changes: RwSignal<u64>,
    /// Bumps when the feed could not resume; every page refetches.
    pub resets: RwSignal<u64>,
    /// The clock freshness labels count from; ticks each second in the browser.
    pub now: RwSignal<OffsetDateTime>,
}

fn key(read_model: &str, aggregate_id: &str) -> String {
    format!("{read_model}/{aggregate_id}")
}

impl LiveFeed {
    /// How many notices the feed reported for a record (tracked).
    pub fn touches(&self, read_model: &str, aggregate_id: &str) -> u64 {
        self.touched
            .with(|t| t.get(&key(read_model, aggregate_id)).copied().unwrap_or(0))
    }

    /// The newest version the feed reported for a record (tracked).
    pub fn version_of(&self, read_model: &str, aggregate_id: &str) -> Option<u64> {
        self.versions
            .with(|v| v.get(&key(read_model, aggregate_id)).copied())
    }

    /// Whether the feed has reported every one of `event_ids` as applied to
    /// the record, or the record reached `version` (tracked).
    pub fn has_applied(
        &self,
        read_model: &str,
        aggregate_id: &str,
        version: u64,
        event_ids: &[EventId],
    ) -> bool {
        if self
            .version_of(read_model, aggregate_id)
            .is_some_and(|v| v >= version)
        {
            return true;
        }
        self.applied.with(|a| {
            a.get(&key(read_model, aggregate_id))
                .is_some_and(|seen| event_ids.iter().all(|id| seen.contains(id)))
        })
    }

    /// Grows with every notice about one read model's records (tracked):
    /// a list of them refetches when it changes.
    pub fn progress_of(&self, read_model: &str) -> u64 {
        let prefix = format!("{read_model}/");
        self.versions.with(|v| {
            v.iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .fold(0u64, |sum, (_, version)| sum.saturating_add(*version))
        })
    }

    /// The last event the feed reported applied to a record (tracked). It
    /// changes with every notice about the record, also those that leave
    /// its version as it was (a product's stock).
    pub fn last_event_of(&self, read_model: &str, aggregate_id: &str) -> Option<EventId> {
        self.applied.with(|a| {
            a.get(&key(read_model, aggregate_id))
                .and_then(|seen| seen.last().copied())
        })
    }

    /// Opens the feed again, resuming where it was: after signing in or
    /// out, the server sends the notices the new account may see (an
    /// order's notices go only to its customer and staff).
    pub fn reconnect(&self) {
        #[cfg(feature = "hydrate")]
        browser::reconnect(*self);
    }

    pub fn record(&self, notice: ProjectionNotice) {
        let k = key(&notice.read_model, &notice.aggregate_id);
        self.versions.update(|v| {
            let slot = v.entry(k.clone()).or_default();
            *slot = (*slot).max(notice.aggregate_version);
        });
        self.touched
            .update(|t| *t.entry(k.clone()).or_default() += 1);
        self.applied.update(|a| {
            let seen = a.entry(k).or_default();
            seen.extend(notice.event_ids.iter().copied());
            // Only recent ids matter: a receipt waits seconds, not hours.
            if seen.len() > 256 {
                let excess = seen.len() - 256;
                seen.drain(..excess);
            }
        });
        self.changes.update(|c| *c += 1);
    }
}

pub fn use_live_feed() -> LiveFeed {
    use_context::<LiveFeed>().unwrap_or_else(|| {
        // Outside the App (tests, isolated components): an offline feed.
        LiveFeed {
            status: RwSignal::new(LiveStatus::Offline),
            versions: RwSignal::new(HashMap::new()),
            applied: RwSignal::new(HashMap::new()),
            touched: RwSignal::new(HashMap::new()),
            changes: RwSignal::new(0),
            resets: RwSignal::new(0),
            now: RwSignal::new(OffsetDateTime::now_utc()),
        }
    })
}

pub fn provide_live_feed() {
    let feed = LiveFeed {
        status: RwSignal::new(LiveStatus::Connecting),
        versions: RwSignal::new(HashMap::new()),
        applied: RwSignal::new(HashMap::new()),
        touched: RwSignal::new(HashMap::new()),
        changes: RwSignal::new(0),
        resets: RwSignal::new(0),
        now: RwSignal::new(OffsetDateTime::now_utc()),
    };
    provide_context(feed);
    #[cfg(feature = "hydrate")]
    Effect::new(move |started: Option<()>| {
        if started.is_none() {
            browser::connect(feed);
        }
    });
}

/// Refetches when the live feed knows a newer version of the record than the
/// one shown — once per announced version, so a failing fetch is not retried
/// in a loop (the next notice or a reset retries it).
pub fn refetch_when_behind(
    feed: LiveFeed,
    id: Memo<String>,
    shown_version: Signal<Option<u64>>,
    refetches: RwSignal<u64>,
) {
    refetch_record_when_behind(feed, PRODUCT_VIEW, id, shown_version, refetches)
}

/// [`refetch_when_behind`] for a record of any read model.
pub fn refetch_record_when_behind(
    feed: LiveFeed,
    read_model: &'static str,
    id: Memo<String>,
    shown_version: Signal<Option<u64>>,
    refetches: RwSignal<u64>,
) {
    let requested = RwSignal::new(0u64);
    Effect::new(move |_| {
        let known = feed.version_of(read_model, &id.get());
        if let (Some(known), Some(shown)) = (known, shown_version.get()) {
            if known > shown && known > requested.get_untracked() {
                requested.set(known);
                refetches.update(|n| *n += 1);
            }
        }
    });
}

/// `changes`, but moving at most once per `period`: a list page refetches
/// on it without refetching for every sale in a busy shop.
pub fn throttled_changes(feed: LiveFeed, period: std::time::Duration) -> Signal<u64> {
    let out = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    {
        let pending = RwSignal::new(false);
        Effect::new(move |first: Option<()>| {
            feed.changes.track();
            if first.is_none() || pending.get_untracked() {
                return;
            }
            pending.set(true);
            set_timeout(
                move || {
                    pending.set(false);
                    out.update(|n| *n += 1);
                },
                period,
            );
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (feed, period);
    out.into()
}

/// The feed position to render into the page (server) — empty in the browser.
pub fn render_position() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::ports::Ports>()
            .map(|p| p.live.position().to_string())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        String::new()
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{LiveFeed, LiveStatus, ProjectionNotice};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::time::Duration;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    thread_local! {
        /// The open feed, closed when it is opened again.
        static SOURCE: RefCell<Option<EventSource>> = const { RefCell::new(None) };
        /// The id of the last event received: where a reopened feed resumes.
        static LAST_ID: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    fn rendered_position() -> Option<String> {
        let document = web_sys::window()?.document()?;
        let meta = document
            .query_selector("meta[name=vitrine-live-position]")
            .ok()??;
        meta.get_attribute("content").filter(|c| !c.is_empty())
    }

    fn remember(event: &MessageEvent) {
        let id = event.last_event_id();
        if !id.is_empty() {
            LAST_ID.with(|last| *last.borrow_mut() = Some(id));
        }
    }

    pub fn connect(feed: LiveFeed) {
        set_interval(
            move || feed.now.set(time::OffsetDateTime::now_utc()),
            Duration::from_secs(1),
        );
        // Resume from where the server-rendered page was; the browser itself
        // sends Last-Event-ID on its automatic reconnects.
        open(feed, rendered_position());
    }

    pub fn reconnect(feed: LiveFeed) {
        if let Some(old) = SOURCE.with(|s| s.borrow_mut().take()) {
            old.close();
        }
        feed.status.set(LiveStatus::Connecting);
        let after = LAST_ID.with(|last| last.borrow().clone());
        open(feed, after.or_else(rendered_position));
    }

    fn open(feed: LiveFeed, after: Option<String>) {
        let url = match after {
            Some(position) => format!("/api/live?after={position}"),
            None => "/api/live".to_owned(),
        };
        let Ok(source) = EventSource::new(&url) else {
            feed.status.set(LiveStatus::Offline);
            return;
        };
        let on_open = Closure::<dyn FnMut()>::new(move || feed.status.set(LiveStatus::Live));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        on_open.forget();

        let on_error = Closure::<dyn FnMut()>::new(move || feed.status.set(LiveStatus::Offline));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();

        let on_projected = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            remember(&event);
            let Some(data) = event.data().as_string() else {
                return;
            };
            match serde_json::from_str::<ProjectionNotice>(&data) {
                Ok(notice) => feed.record(notice),
                Err(e) => leptos::logging::warn!("ignoring a live notice I cannot read: {e}"),
            }
        });
        let _ = source
            .add_event_listener_with_callback("projected", on_projected.as_ref().unchecked_ref());
        on_projected.forget();

        let on_reset = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            remember(&event);
            feed.resets.update(|r| *r += 1);
        });
        let _ = source.add_event_listener_with_callback("reset", on_reset.as_ref().unchecked_ref());
        on_reset.forget();
        // The EventSource lives until the feed is opened again.
        SOURCE.with(|s| *s.borrow_mut() = Some(source));
    }
}
