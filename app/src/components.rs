//! Small pieces pages share.

use crate::live::{use_live_feed, LiveStatus};
use leptos::prelude::*;
use time::OffsetDateTime;

/// "12 s ago", "3 min ago"…
pub fn ago(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (now - then).whole_seconds().max(0);
    match secs {
        0..=4 => "just now".into(),
        5..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// How fresh what the page shows is: `live` (connected and current),
/// `syncing` (a newer version is known or a change is on its way),
/// `updated N ago` (rendered by the server, not yet connected) or `offline`.
#[component]
pub fn Freshness(
    /// When the record shown was projected.
    #[prop(into)]
    projected_at: Signal<Option<OffsetDateTime>>,
    /// True while the page knows it shows an older version than exists.
    #[prop(into)]
    syncing: Signal<bool>,
) -> impl IntoView {
    let feed = use_live_feed();
    let state = move || match (feed.status.get(), syncing.get()) {
        (LiveStatus::Offline, _) => "offline",
        (_, true) => "syncing",
        (LiveStatus::Live, false) => "live",
        (LiveStatus::Connecting, false) => "updated",
    };
    let age = move || {
        projected_at
            .get()
            .map(|t| ago(t, feed.now.get()))
            .unwrap_or_default()
    };
    let label = move || match state() {
        "offline" => format!("Offline · updated {}", age()),
        "syncing" => "Syncing…".to_owned(),
        "live" => "Live".to_owned(),
        _ => format!("Updated {}", age()),
    };
    let title = move || {
        projected_at
            .get()
            .map(|t| format!("Read model updated {}", ago(t, feed.now.get())))
            .unwrap_or_default()
    };
    view! {
        <span class="freshness" data-testid="freshness" data-state=state title=title role="status">
            <span class="dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}

/// The feed's connection state, in the header.
#[component]
pub fn LiveStatusBadge() -> impl IntoView {
    let feed = use_live_feed();
    let state = move || match feed.status.get() {
        LiveStatus::Connecting => "connecting",
        LiveStatus::Live => "live",
        LiveStatus::Offline => "offline",
    };
    let label = move || match feed.status.get() {
        LiveStatus::Connecting => "Connecting…",
        LiveStatus::Live => "Live updates on",
        LiveStatus::Offline => "Offline",
    };
    view! {
        <span class="live-badge" data-testid="live-badge" data-state=state>
            <span class="dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::ago;
    use time::{Duration, OffsetDateTime};

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(2);
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now - Duration::seconds(12), now), "12 s ago");
        assert_eq!(ago(now - Duration::minutes(3), now), "3 min ago");
        assert_eq!(ago(now - Duration::hours(5), now), "5 h ago");
        assert_eq!(ago(now - Duration::days(2), now), "2 d ago");
        assert_eq!(ago(now + Duration::seconds(3), now), "just now");
    }
}
