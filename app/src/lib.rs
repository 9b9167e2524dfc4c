//! Vitrine's UI, shared by the server (SSR) and the browser (hydrate).
//!
//! - `pages/`: storefront and admin pages
//! - `components/`: pieces pages share (freshness badge, price)
//! - `api/`: the `#[server]` functions, thin: they call a port from context
//! - `live`: the browser's side of the live feed (SSE → signals)
//! - `loaded`: how a page loads a server function's answer (a resource)
//! - `cart`: the shopping cart (a cookie) and its priced view
//! - `ports` (server only): what the server must implement

// The server and the browser must render the same kind of views: erased
// and static views leave different hydration markers in the HTML, and a
// page rendered with one does not hydrate with the other.
// `.cargo/config.toml` sets the flag for every build (rustdoc, which
// renders no views, does not get it).
#[cfg(not(any(erase_components, doc, doctest)))]
compile_error!("build with `--cfg erase_components` (see .cargo/config.toml)");

pub mod api;
pub mod cart;
pub mod components;
pub mod error;
pub mod live;
pub mod loaded;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, SsrMode};

/// The HTML document around the app, rendered on the server only. It carries
/// the live feed's position at render time, so the browser resumes the feed
/// from there and misses no change made between render and hydration.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let live_position = live::render_position();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="vitrine-live-position" content=live_position/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    live::provide_live_feed();
    let viewer: pages::account::ViewerResource =
        loaded::load(|| (), |_| api::account::current_viewer());
    provide_context(viewer);
    pages::cart::provide_cart();
    // Order notices go only to their customer: after signing in or out the
    // feed is opened again as the new account.
    let feed = live::use_live_feed();
    Effect::new(move |known: Option<Option<Option<String>>>| {
        let known = known.flatten();
        let now = match viewer.get() {
            Some(Ok(v)) => Some(v.map(|v| v.account_id)),
            _ => return known,
        };
        if known.is_some() && known != now {
            feed.reconnect();
        }
        now
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/vitrine.css"/>
        <Title text="Vitrine"/>
        <Router>
            <header class="site-header">
                <A href="/" attr:class="brand">"Vitrine"</A>
                <nav aria-label="Main">
                    <A href="/">"Shop"</A>
                    <A href="/orders">"My orders"</A>
                    <A href="/admin/products">"Admin"</A>
                </nav>
                <pages::cart::CartLink/>
                <components::LiveStatusBadge/>
                <pages::account::AccountMenu/>
            </header>
            <main>
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    // Async: the whole page is rendered before it is sent, so
                    // browsing works without JavaScript.
                    <Route path=path!("/") view=pages::storefront::HomePage ssr=SsrMode::Async/>
                    <Route
                        path=path!("/search")
                        view=pages::storefront::SearchPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/products/:id")
                        view=pages::storefront::ProductPage
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/cart") view={Lazy::<pages::split::Cart>::new()} ssr=SsrMode::Async/>
                    <Route
                        path=path!("/checkout")
                        view={Lazy::<pages::split::Checkout>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/orders") view={Lazy::<pages::split::Orders>::new()} ssr=SsrMode::Async/>
                    <Route
                        path=path!("/orders/:id")
                        view={Lazy::<pages::split::Order>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/login") view={Lazy::<pages::split::SignIn>::new()} ssr=SsrMode::Async/>
                    <Route
                        path=path!("/admin/products")
                        view={Lazy::<pages::split::AdminProducts>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/pipeline")
                        view={Lazy::<pages::split::AdminPipeline>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/products/:id")
                        view={Lazy::<pages::split::AdminProduct>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}
