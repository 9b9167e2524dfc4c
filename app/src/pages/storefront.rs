//! What shoppers see: the home page (top rated, trending), search with
//! facets, and the product page with its reviews. Server-rendered, then
//! hydrated; search and links work without JavaScript (plain GET forms).

use crate::api::catalog::{
    search_catalog, storefront_showcase, CatalogItem, CatalogPage, CatalogParams, CatalogSort,
    FacetCount, Showcase,
};
use crate::api::products::{get_product, SubmitReview};
use crate::api::ProductRead;
use crate::components::Freshness;
use crate::error::AppError;
use crate::live::{throttled_changes, use_live_feed, PRODUCT_REVIEWS, PRODUCT_VIEW};
use crate::loaded::load;
use crate::pages::ReadFailed;
use domain::views::RatingSummary;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use std::time::Duration;

/// How often a list page may refetch while sales keep coming.
const LIST_REFRESH: Duration = Duration::from_secs(2);

/// "4.3 ★ (12)" or "No reviews yet".
fn rating_label(rating: &RatingSummary) -> String {
    match rating.average_tenths() {
        Some(t) => format!(
            "{}.{} out of 5 ({} review{})",
            t / 10,
            t % 10,
            rating.count,
            if rating.count == 1 { "" } else { "s" }
        ),
        None => "No reviews yet".into(),
    }
}

fn stars(rating: u8) -> String {
    let full = usize::from(rating.min(5));
    format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
}

#[component]
fn ProductCard(item: CatalogItem) -> impl IntoView {
    let href = format!("/products/{}", item.product_id);
    let rating = item
        .rating
        .average_tenths()
        .map(|t| format!("★ {}.{} ({})", t / 10, t % 10, item.rating.count));
    view! {
        <li class="product-card">
            <a href=href>
                <span class="name">{item.name.clone()}</span>
                <span class="category">{item.category.clone()}</span>
                <span class="price-line small">
                    <span class="price">{item.price.to_string()}</span>
                    {item.was.map(|was| view! { <s class="was">{was.to_string()}</s> })}
                </span>
                <span class="meta">
                    {rating.map(|r| view! { <span class="rating">{r}</span> })}
                    {(item.stock == 0).then(|| view! { <span class="out">"Out of stock"</span> })}
                </span>
            </a>
        </li>
    }
}

#[component]
fn ProductGrid(items: Vec<CatalogItem>, #[prop(into)] testid: String) -> impl IntoView {
    view! {
        <ul class="product-grid" data-testid=testid>
            {items.into_iter().map(|item| view! { <ProductCard item/> }).collect_view()}
        </ul>
    }
}

/// A GET form to `/search`: without JavaScript the browser submits it; once
/// hydrated it navigates in place with the form's fields as the query.
/// Not leptos_router's `<Form>`, whose general handling of methods and
/// encodings added ~17 KB to the first WASM bundle for this one GET form.
#[component]
fn SearchForm(children: Children) -> impl IntoView {
    let navigate = use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let query = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
                .and_then(|form| web_sys::FormData::new_with_form(&form).ok())
                .and_then(|data| {
                    web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data).ok()
                })
                .map(|params| String::from(params.to_string()));
            // Anything unexpected: let the browser submit the form itself.
            let Some(query) = query else { return };
            ev.prevent_default();
            navigate(&format!("/search?{query}"), Default::default());
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&ev, &navigate);
    };
    view! {
        <form method="get" action="/search" class="search-box" role="search" on:submit=on_submit>
            {children()}
        </form>
    }
}

/// The search box, on the home page and atop the results.
#[component]
fn SearchBox(#[prop(optional)] value: String) -> impl IntoView {
    view! {
        <SearchForm>
            <label for="search-q" class="visually-hidden">"Search the shop"</label>
            <input id="search-q" type="search" name="q" value=value placeholder="Search products"/>
            <button type="submit">"Search"</button>
        </SearchForm>
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    let feed = use_live_feed();
    let refresh = throttled_changes(feed, LIST_REFRESH);
    let showcase = load(
        move || (refresh.get(), feed.resets.get()),
        |_| storefront_showcase(),
    );
    view! {
        <Title text="Vitrine"/>
        <SearchBox/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match showcase.await {
                    Ok(s) => showcase_view(s),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn showcase_view(s: Showcase) -> AnyView {
    let categories = view! {
        <nav class="categories" aria-label="Categories">
            <ul>
                {s
                    .categories
                    .into_iter()
                    .map(|c| {
                        let href = search_href(
                            &CatalogParams::default(),
                            |p| p.category = Some(c.value.clone()),
                        );
                        view! { <li><a href=href>{c.label} " (" {c.count} ")"</a></li> }
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
    .into_any();
    let top_rated = if s.top_rated.is_empty() {
        view! { <p class="empty">"Nothing has three reviews yet."</p> }.into_any()
    } else {
        view! { <ProductGrid items=s.top_rated testid="top-rated"/> }.into_any()
    };
    let trending = if s.trending.is_empty() {
        view! { <p class="empty">"No sales in the last 24 hours."</p> }.into_any()
    } else {
        view! { <ProductGrid items=s.trending testid="trending"/> }.into_any()
    };
    view! {
        {categories}
        <section aria-labelledby="top-rated">
            <div class="page-heading">
                <h2 id="top-rated">"Top rated"</h2>
                <Freshness projected_at=s.projected_at syncing=s.stale/>
            </div>
            {top_rated}
        </section>
        <section aria-labelledby="trending">
            <h2 id="trending">"Trending today"</h2>
            {trending}
        </section>
        <p><a href="/search">"Browse the whole catalog"</a></p>
    }
    .into_any()
}

/// The search URL for `base` with one change (back to page 1).
fn search_href(base: &CatalogParams, change: impl FnOnce(&mut CatalogParams)) -> String {
    let mut p = base.clone();
    p.page = None;
    change(&mut p);
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("q", &p.q),
        ("category", &p.category),
        ("min_price", &p.min_price),
        ("max_price", &p.max_price),
        ("min_rating", &p.min_rating),
        ("in_stock", &p.in_stock),
        ("sort", &p.sort),
        ("page", &p.page),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            url.append_pair(key, v);
        }
    }
    let query = url.finish();
    if query.is_empty() {
        "/search".into()
    } else {
        format!("/search?{query}")
    }
}

/// A facet's choices as links; the chosen one is marked and leads back.
#[component]
fn FacetList(
    title: &'static str,
    choices: Vec<(FacetCount, bool, String)>,
    clear: Option<String>,
) -> impl IntoView {
    view! {
        <fieldset class="facet">
            <legend>{title}</legend>
            <ul>
                {choices
                    .into_iter()
                    .map(|(c, chosen, href)| {
                        view! {
                            <li>
                                <a href=href aria-current=chosen.then_some("true")>
                                    {c.label}
                                    <span class="count">" (" {c.count} ")"</span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
                {clear.map(|href| view! { <li><a href=href class="clear">"Any"</a></li> })}
            </ul>
        </fieldset>
    }
}

fn facets_view(page: &CatalogPage, params: &CatalogParams) -> AnyView {
    let f = &page.facets;
    let q = &page.query;
    let categories = f
        .categories
        .iter()
        .map(|c| {
            let chosen = q.category.as_deref() == Some(c.value.as_str());
            let href = search_href(params, |p| p.category = Some(c.value.clone()));
            (c.clone(), chosen, href)
        })
        .collect();
    let prices = f
        .price_ranges
        .iter()
        .map(|c| {
            let (min, max) = c.value.split_once('-').unwrap_or((c.value.as_str(), ""));
            let chosen = params.min_price.as_deref().unwrap_or("") == min
                && params.max_price.as_deref().unwrap_or("") == max;
            let href = search_href(params, |p| {
                p.min_price = Some(min.to_owned());
                p.max_price = Some(max.to_owned());
            });
            (c.clone(), chosen, href)
        })
        .collect();
    let ratings = f
        .ratings
        .iter()
        .map(|c| {
            let chosen = q.min_rating.map(|r| r.to_string()).as_deref() == Some(c.value.as_str());
            let href = search_href(params, |p| p.min_rating = Some(c.value.clone()));
            (c.clone(), chosen, href)
        })
        .collect();
    let stock_href = search_href(params, |p| {
        p.in_stock = if q.in_stock {
            None
        } else {
            Some("true".into())
        }
    });
    view! {
        <aside class="facets" aria-label="Refine the results" data-testid="facets">
            <FacetList
                title="Category"
                choices=categories
                clear=q.category.is_some().then(|| search_href(params, |p| p.category = None))
            />
            <FacetList
                title="Price"
                choices=prices
                clear=(q.min_price.is_some() || q.max_price.is_some())
                    .then(|| {
                        search_href(
                            params,
                            |p| {
                                p.min_price = None;
                                p.max_price = None;
                            },
                        )
                    })
            />
            <FacetList
                title="Rating"
                choices=ratings
                clear=q.min_rating.is_some().then(|| search_href(params, |p| p.min_rating = None))
            />
            <fieldset class="facet">
                <legend>"Availability"</legend>
                <a href=stock_href aria-current=q.in_stock.then_some("true")>
                    "In stock only" <span class="count">" (" {f.in_stock} ")"</span>
                </a>
            </fieldset>
        </aside>
    }
    .into_any()
}

#[component]
pub fn SearchPage() -> impl IntoView {
    let feed = use_live_feed();
    let refresh = throttled_changes(feed, LIST_REFRESH);
    let query = use_query_map();
    let params = Memo::new(move |_| {
        let q = query.read();
        CatalogParams {
            q: q.get("q"),
            category: q.get("category"),
            min_price: q.get("min_price"),
            max_price: q.get("max_price"),
            min_rating: q.get("min_rating"),
            in_stock: q.get("in_stock"),
            sort: q.get("sort"),
            page: q.get("page"),
            per_page: None,
        }
    });
    let results = load(
        move || (params.get(), refresh.get(), feed.resets.get()),
        |(params, _, _)| search_catalog(params),
    );
    view! {
        <Title text="Search — Vitrine"/>
        <Transition fallback=|| view! { <p>"Searching…"</p> }>
            {move || Suspend::new(async move {
                let params = params.get_untracked();
                match results.await {
                    Ok(page) => search_results(page, params).into_any(),
                    Err(e) => {
                        view! {
                            <SearchBox value=params.q.clone().unwrap_or_default()/>
                            <ReadFailed message=e.message()/>
                            <p><a href="/search">"Start a new search"</a></p>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn search_results(page: CatalogPage, params: CatalogParams) -> impl IntoView {
    let q = page.query.clone();
    let heading = match (q.text.is_empty(), q.category.as_deref()) {
        (false, _) => format!("Results for “{}”", q.text),
        (true, Some(c)) => c.to_owned(),
        (true, None) => "All products".to_owned(),
    };
    let facets = facets_view(&page, &params);
    let sort_choices = CatalogSort::ALL
        .iter()
        .map(|(sort, value, label)| {
            let selected = *sort == q.sort;
            view! { <option value=*value selected=selected>{*label}</option> }
        })
        .collect_view();
    let hidden = |name: &'static str, value: Option<String>| {
        value
            .filter(|v| !v.is_empty())
            .map(|v| view! { <input type="hidden" name=name value=v/> })
    };
    let pager = (page.pages > 1).then(|| {
        let current = q.page;
        let prev = (current > 1)
            .then(|| search_href(&params, |p| p.page = Some((current - 1).to_string())));
        let next = (current < page.pages)
            .then(|| search_href(&params, |p| p.page = Some((current + 1).to_string())));
        view! {
            <nav class="pager" aria-label="Pages">
                {prev.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
                <span>"Page " {current} " of " {page.pages}</span>
                {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
            </nav>
        }
        .into_any()
    });
    let count = format!(
        "{} product{}",
        page.total,
        if page.total == 1 { "" } else { "s" }
    );
    let form = view! {
        <SearchForm>
            <label for="search-q" class="visually-hidden">"Search the shop"</label>
            <input id="search-q" type="search" name="q" value=q.text.clone() placeholder="Search products"/>
            {hidden("category", params.category.clone())}
            {hidden("min_rating", params.min_rating.clone())}
            {hidden("in_stock", params.in_stock.clone())}
            <label>
                "From "
                <input type="text" inputmode="decimal" name="min_price" size="6"
                    value=params.min_price.clone().unwrap_or_default()/>
            </label>
            <label>
                "to "
                <input type="text" inputmode="decimal" name="max_price" size="6"
                    value=params.max_price.clone().unwrap_or_default()/>
            </label>
            <label>"Sort " <select name="sort">{sort_choices}</select></label>
            <button type="submit">"Search"</button>
        </SearchForm>
    }
    .into_any();
    let results = if page.items.is_empty() {
        view! { <p class="empty">"No products match. Try fewer words or remove a filter."</p> }
            .into_any()
    } else {
        view! { <ProductGrid items=page.items testid="catalog"/> }.into_any()
    };
    view! {
        <div class="page-heading">
            <h1>{heading}</h1>
            <Freshness projected_at=page.projected_at syncing=page.stale/>
        </div>
        {form}
        <div class="search-layout">
            {facets}
            <section aria-live="polite" aria-label="Results">
                <p class="result-count" data-testid="result-count">{count}</p>
                {results}
                {pager}
            </section>
        </div>
    }
}

#[component]
pub fn ProductPage() -> impl IntoView {
    let feed = use_live_feed();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    // Any notice for this product's record or its reviews: fetch it again
    // (the page shows stock and rating, which move without a new version).
    let touches = Memo::new(move |_| {
        let id = id.get();
        feed.touches(PRODUCT_VIEW, &id) + feed.touches(PRODUCT_REVIEWS, &id)
    });
    let product = load(
        move || (id.get(), touches.get(), feed.resets.get()),
        |(id, _, _)| get_product(id, None),
    );
    let shown_version = Signal::derive(move || {
        product
            .get()
            .and_then(|r| r.ok())
            .map(|r| r.product.version)
    });
    // The feed announced a version newer than the one shown.
    let behind = Signal::derive(move || {
        match (
            feed.version_of(PRODUCT_VIEW, &id.get()),
            shown_version.get(),
        ) {
            (Some(known), Some(shown)) => known > shown,
            _ => false,
        }
    });
    let projected_at = Signal::derive(move || {
        product
            .get()
            .and_then(|r| r.ok())
            .map(|r| r.product.projected_at)
    });
    // Outside the re-rendered part: a live refetch (every sale of this
    // product is one) must not forget a review being written or published.
    let review = ReviewDraft {
        submit: ServerAction::<SubmitReview>::new(),
        rating: RwSignal::new("5".to_owned()),
        comment: RwSignal::new(String::new()),
    };

    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(read) if !read.product.deleted => {
                        product_view(read, projected_at, behind, review).into_any()
                    }
                    Ok(_) | Err(AppError::NotFound) => {
                        view! { <crate::pages::NotFound/> }.into_any()
                    }
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn product_view(
    read: ProductRead,
    projected_at: Signal<Option<time::OffsetDateTime>>,
    behind: Signal<bool>,
    review: ReviewDraft,
) -> impl IntoView {
    let p = read.product;
    let extras = read.extras;
    let feed = use_live_feed();
    let now = feed.now.get_untracked();
    let pricing = p.pricing(now);
    let stock_label = if p.stock > 0 {
        format!("In stock ({})", p.stock)
    } else {
        "Out of stock".to_owned()
    };
    let sold_24h = p.units_sold_recently(now);
    let sold = match (p.units_sold, sold_24h) {
        (0, _) => None,
        (n, 0) => Some(format!("{n} sold")),
        (n, d) => Some(format!("{n} sold · {d} in the last 24 hours")),
    };
    let lowest = (pricing.lowest_30_days < p.price || p.price_dropped()).then(|| {
        format!(
            "Lowest price in the last 30 days: {}",
            pricing.lowest_30_days
        )
    });
    let seller = extras.seller.map(|s| {
        let rating = s
            .rating_tenths
            .map(|t| format!(" · rated {}.{} / 5", t / 10, t % 10))
            .unwrap_or_default();
        format!("Sold by {}{rating}", s.name)
    });
    let reviews = extras.recent_reviews;
    let article = view! {
        <article class="product" data-testid="product" data-version=p.version>
            <div class="page-heading">
                <h1>{p.name.clone()}</h1>
                <Freshness projected_at=projected_at syncing=behind/>
            </div>
            <p class="category">{p.category.clone()}</p>
            <p class="rating-line" data-testid="product-rating">{rating_label(&extras.rating)}</p>
            <p class="price-line">
                <span class="price" data-testid="product-price">{p.price.to_string()}</span>
                {p
                    .previous_price
                    .filter(|_| p.price_dropped())
                    .map(|was| view! { <s class="was">"was " {was.to_string()}</s> })}
            </p>
            {lowest.map(|l| view! { <p class="price-note" data-testid="lowest-price">{l}</p> })}
            <p class="stock" data-testid="product-stock">{stock_label}</p>
            <crate::pages::cart::AddToCartForm product=p.clone()/>
            {sold.map(|s| view! { <p class="sold">{s}</p> })}
            {seller.map(|s| view! { <p class="seller">{s}</p> })}
            {(!p.description.is_empty())
                .then(|| view! { <p class="description">{p.description.clone()}</p> })}
            {(!p.shipping_options.is_empty())
                .then(|| {
                    view! {
                        <ul class="shipping" aria-label="Shipping" data-testid="shipping">
                            {p
                                .shipping_options
                                .iter()
                                .map(|o| {
                                    view! {
                                        <li>
                                            {o.name.clone()} " — " {o.price.to_string()} " · "
                                            {o.days} " business days"
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
            {(!p.tags.is_empty())
                .then(|| {
                    view! {
                        <ul class="tags" aria-label="Tags">
                            {p.tags.iter().map(|t| view! { <li>{t.clone()}</li> }).collect_view()}
                        </ul>
                    }
                })}
        </article>
    }
    .into_any();
    let review_list = if reviews.is_empty() {
        view! { <p class="empty">"No reviews yet."</p> }.into_any()
    } else {
        view! {
            <ul class="review-list" data-testid="reviews">
                {reviews
                    .into_iter()
                    .map(|r| {
                        view! {
                            <li class="review">
                                <span class="stars" aria-label=format!("{} out of 5 stars", r.rating)>
                                    {stars(r.rating)}
                                </span>
                                <span class="by">
                                    " Verified buyer · "
                                    {r.submitted_at.date().to_string()}
                                </span>
                                <p>{r.comment}</p>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <Title text=format!("{} — Vitrine", p.name)/>
        {article}
        <section class="reviews" aria-labelledby="reviews-heading">
            <h2 id="reviews-heading">"Reviews"</h2>
            {review_list}
            <ReviewForm product_id=p.product_id.to_string() review/>
        </section>
    }
}

/// A review being written and its submission, kept by the product page.
#[derive(Clone, Copy)]
struct ReviewDraft {
    submit: ServerAction<SubmitReview>,
    rating: RwSignal<String>,
    comment: RwSignal<String>,
}

/// The review form: the server decides who may review and says why not; the
/// new rating shows once the review's projection lands (live).
#[component]
fn ReviewForm(product_id: String, review: ReviewDraft) -> impl IntoView {
    let feed = use_live_feed();
    let ReviewDraft {
        submit,
        rating,
        comment,
    } = review;
    let command_id = RwSignal::new(domain::CommandId::new().to_string());
    let pid = product_id.clone();
    let status = move || match submit.value().get() {
        None => None,
        Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.message()}</p> }.into_any()),
        Some(Ok(receipt)) => {
            let published = feed.has_applied(PRODUCT_REVIEWS, &pid, u64::MAX, &receipt.event_ids);
            Some(
                view! {
                    <p
                        class="edit-status"
                        data-testid="review-status"
                        data-state=if published { "confirmed" } else { "pending" }
                        role="status"
                    >
                        {if published {
                            "Thanks — your review is published."
                        } else {
                            "Thanks — publishing your review…"
                        }}
                    </p>
                }
                .into_any(),
            )
        }
    };
    // A new command id after each outcome, so a second review is a new command.
    Effect::new(move |_| {
        if submit.version().get() > 0 {
            command_id.set(domain::CommandId::new().to_string());
            if submit.value().get_untracked().is_some_and(|r| r.is_ok()) {
                comment.set(String::new());
            }
        }
    });
    view! {
        <ActionForm action=submit attr:class="form review-form" attr:data-testid="review-form">
            <h3>"Write a review"</h3>
            <input type="hidden" name="command_id" prop:value=move || command_id.get()/>
            <input type="hidden" name="product_id" value=product_id/>
            <label>
                "Rating"
                <select
                    name="rating"
                    required
                    prop:value=move || rating.get()
                    on:change=move |ev| rating.set(event_target_value(&ev))
                >
                    {[("5", "5 — excellent"), ("4", "4 — good"), ("3", "3 — fair"), ("2", "2 — poor"), ("1", "1 — bad")]
                        .into_iter()
                        .map(|(value, label)| {
                            view! {
                                <option value=value selected=move || rating.get() == value>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Your review"
                <textarea
                    name="comment"
                    rows="4"
                    minlength="3"
                    maxlength="2000"
                    required
                    prop:value=move || comment.get()
                    on:input=move |ev| comment.set(event_target_value(&ev))
                ></textarea>
            </label>
            <button type="submit" disabled=move || submit.pending().get()>"Submit review"</button>
            {status}
        </ActionForm>
    }
}
