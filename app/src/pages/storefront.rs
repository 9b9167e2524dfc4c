//! What shoppers see: the catalog and a product page. Server-rendered, then
//! hydrated; links work without JavaScript.

use crate::api::products::{get_product, list_products};
use crate::components::Freshness;
use crate::error::AppError;
use crate::live::{use_live_feed, PRODUCT_VIEW};
use crate::pages::ReadFailed;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let feed = use_live_feed();
    // Any projected change may affect the list; the feed is a hint to refetch.
    let listing = Resource::new(
        move || (feed.changes.get(), feed.resets.get()),
        |_| list_products(),
    );
    view! {
        <Title text="Vitrine — catalog"/>
        <Transition fallback=|| view! { <p>"Loading the catalog…"</p> }>
            {move || Suspend::new(async move {
                match listing.await {
                    Ok(listing) => {
                        // Read inside the Transition, so hydration sees what the server rendered.
                        let newest = listing.products.iter().map(|p| p.projected_at).max();
                        let heading = view! {
                            <div class="page-heading">
                                <h1>"Catalog"</h1>
                                <Freshness projected_at=newest syncing=listing.stale/>
                            </div>
                        };
                        if listing.products.is_empty() {
                            return view! {
                                {heading}
                                <p class="empty">"No products yet."</p>
                            }
                                .into_any();
                        }
                        view! {
                            {heading}
                            <ul class="product-grid" data-testid="catalog">
                                {listing
                                    .products
                                    .into_iter()
                                    .map(|p| {
                                        let href = format!("/products/{}", p.product_id);
                                        view! {
                                            <li class="product-card">
                                                <a href=href>
                                                    <span class="name">{p.name.clone()}</span>
                                                    <span class="category">{p.category.clone()}</span>
                                                    <span class="price">{p.price.to_string()}</span>
                                                </a>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn ProductPage() -> impl IntoView {
    let feed = use_live_feed();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let refetches = RwSignal::new(0u64);
    let product = Resource::new(
        move || (id.get(), refetches.get(), feed.resets.get()),
        |(id, _, _)| get_product(id, None),
    );
    let shown_version = Signal::derive(move || {
        product
            .get()
            .and_then(|r| r.ok())
            .map(|r| r.product.version)
    });
    // The feed announced a version newer than the one shown: fetch it.
    let behind = Signal::derive(move || {
        match (
            feed.version_of(PRODUCT_VIEW, &id.get()),
            shown_version.get(),
        ) {
            (Some(known), Some(shown)) => known > shown,
            _ => false,
        }
    });
    crate::live::refetch_when_behind(feed, id, shown_version, refetches);
    let projected_at = Signal::derive(move || {
        product
            .get()
            .and_then(|r| r.ok())
            .map(|r| r.product.projected_at)
    });

    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(read) => {
                        let p = read.product;
                        let stock_label = if p.stock > 0 {
                            format!("In stock ({})", p.stock)
                        } else {
                            "Out of stock".to_owned()
                        };
                        view! {
                            <Title text=format!("{} — Vitrine", p.name)/>
                            <article class="product" data-testid="product" data-version=p.version>
                                <div class="page-heading">
                                    <h1>{p.name.clone()}</h1>
                                    <Freshness projected_at=projected_at syncing=behind/>
                                </div>
                                <p class="category">{p.category.clone()}</p>
                                <p class="price-line">
                                    <span class="price" data-testid="product-price">
                                        {p.price.to_string()}
                                    </span>
                                    {p
                                        .previous_price
                                        .filter(|_| p.price_dropped())
                                        .map(|was| {
                                            view! { <s class="was">"was " {was.to_string()}</s> }
                                        })}
                                </p>
                                <p class="stock">{stock_label}</p>
                                <crate::pages::cart::AddToCartForm product=p.clone()/>
                            </article>
                        }
                            .into_any()
                    }
                    Err(AppError::NotFound) => view! { <crate::pages::NotFound/> }.into_any(),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}
