pub mod account;
pub mod admin;
pub mod cart;
pub mod orders;
pub mod pipeline;
pub mod split;
pub mod storefront;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="empty">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the shop"</a></p>
        </section>
    }
}

/// Shown where a read failed: what happened, in words.
#[component]
pub fn ReadFailed(message: String) -> impl IntoView {
    view! { <p class="error" role="alert">{message}</p> }
}
