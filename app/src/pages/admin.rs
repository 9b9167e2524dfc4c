//! The admin portal: the product list, a create form and the price editor.
//!
//! Every edit is optimistic: the new price shows at once as pending, becomes
//! confirmed when the live feed reports that the product's read record has
//! applied the command's events, and rolls back with the reason when the
//! command is refused.

use crate::api::products::{change_price, create_product, get_product, list_products};
use crate::components::Freshness;
use crate::error::AppError;
use crate::live::{use_live_feed, PRODUCT_VIEW};
use crate::loaded::load;
use crate::pages::account::ManagersOnly;
use crate::pages::ReadFailed;
use domain::{CommandId, Money, WriteReceipt};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::time::Duration;

/// Without a live notice after this long, ask the server directly
/// (`minVersion`), which answers from the write model if it must.
const CONFIRM_FALLBACK: Duration = Duration::from_secs(4);

#[derive(Clone, Debug, PartialEq)]
enum Edit {
    Idle,
    /// Shown at once; `receipt` arrives when the command is accepted.
    Pending {
        price: Money,
        receipt: Option<WriteReceipt>,
    },
    Confirmed {
        version: u64,
    },
    Failed {
        message: String,
        conflict: bool,
    },
}

impl Edit {
    fn state(&self) -> &'static str {
        match self {
            Edit::Idle => "idle",
            Edit::Pending { .. } => "pending",
            Edit::Confirmed { .. } => "confirmed",
            Edit::Failed { .. } => "failed",
        }
    }
}

#[component]
pub fn AdminProductsPage() -> impl IntoView {
    view! { <ManagersOnly><ProductList/></ManagersOnly> }
}

#[component]
pub fn AdminProductPage() -> impl IntoView {
    view! { <ManagersOnly><PriceEditor/></ManagersOnly> }
}

#[component]
fn ProductList() -> impl IntoView {
    let feed = use_live_feed();
    let listing = load(
        move || (feed.changes.get(), feed.resets.get()),
        |_| list_products(),
    );
    view! {
        <Title text="Admin — products"/>
        <h1>"Products"</h1>
        <p><a href="/admin/pipeline">"Read models: freshness, dead letters, rebuilds"</a></p>
        <CreateProductForm/>
        <h2>"All products"</h2>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match listing.await {
                    Ok(listing) => {
                        view! {
                            <table class="admin-table" data-testid="admin-products">
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Category"</th>
                                        <th scope="col" class="num">"Price"</th>
                                        <th scope="col" class="num">"Stock"</th>
                                        <th scope="col" class="num">"Version"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {listing
                                        .products
                                        .into_iter()
                                        .map(|p| {
                                            let href = format!("/admin/products/{}", p.product_id);
                                            view! {
                                                <tr>
                                                    <td><a href=href>{p.name}</a></td>
                                                    <td>{p.category}</td>
                                                    <td class="num">{p.price.to_string()}</td>
                                                    <td class="num">{p.stock}</td>
                                                    <td class="num">{p.version}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
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
fn CreateProductForm() -> impl IntoView {
    let feed = use_live_feed();
    let navigate = use_navigate();
    let name = RwSignal::new(String::new());
    let category = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());
    let stock = RwSignal::new("0".to_owned());
    let status = RwSignal::new(None::<Result<WriteReceipt, String>>);

    // Once the catalog has the new product, open its editor.
    Effect::new(move |_| {
        if let Some(Ok(receipt)) = status.get() {
            if feed.has_applied(
                PRODUCT_VIEW,
                &receipt.aggregate_id,
                receipt.aggregate_version,
                &receipt.event_ids,
            ) {
                navigate(
                    &format!("/admin/products/{}", receipt.aggregate_id),
                    Default::default(),
                );
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Err(e) = Money::parse(&price.get_untracked()) {
            status.set(Some(Err(format!("Price {e}."))));
            return;
        }
        status.set(None);
        spawn_local(async move {
            let result = create_product(
                CommandId::new().to_string(),
                name.get_untracked(),
                category.get_untracked(),
                description.get_untracked(),
                price.get_untracked(),
                stock.get_untracked(),
            )
            .await;
            status.set(Some(result.map_err(|e| e.message())));
        });
    };

    view! {
        <form class="card form" on:submit=on_submit data-testid="create-product">
            <h2>"New product"</h2>
            <label>"Name" <input type="text" required bind:value=name name="name"/></label>
            <label>"Category" <input type="text" required bind:value=category name="category"/></label>
            <label>"Description" <textarea bind:value=description name="description"></textarea></label>
            <label>
                "Price" <input type="text" inputmode="decimal" required bind:value=price name="price"/>
            </label>
            <label>
                "Stock" <input type="number" min="0" step="1" required bind:value=stock name="stock"/>
            </label>
            <button type="submit">"Create"</button>
            {move || match status.get() {
                Some(Ok(_)) => view! { <p class="pending" role="status">"Created — adding it to the catalog…"</p> }.into_any(),
                Some(Err(message)) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                None => ().into_any(),
            }}
        </form>
    }
}

#[component]
fn PriceEditor() -> impl IntoView {
    let feed = use_live_feed();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let refetches = RwSignal::new(0u64);
    let product = load(
        move || (id.get(), refetches.get(), feed.resets.get()),
        |(id, _, _)| get_product(id, None),
    );
    // The last record read; a failed refetch keeps it rather than blank the editor.
    let last_good = RwSignal::new(None::<domain::views::ProductView>);
    Effect::new(move |_| {
        if let Some(Ok(read)) = product.get() {
            last_good.set(Some(read.product));
        }
    });
    let current = Signal::derive(move || last_good.get());
    let edit = RwSignal::new(Edit::Idle);
    let price_input = RwSignal::new(String::new());
    let allow_cut = RwSignal::new(false);

    // Keep the form's price in step with the record while nothing is typed.
    Effect::new(move |_| {
        if let Some(p) = current.get() {
            if !matches!(edit.get_untracked(), Edit::Pending { .. }) {
                price_input.set(p.price.to_string());
            }
        }
    });

    // Someone else changed it (another tab, another admin): fetch it.
    let behind =
        Signal::derive(
            move || match (feed.version_of(PRODUCT_VIEW, &id.get()), current.get()) {
                (Some(known), Some(p)) => known > p.version,
                _ => false,
            },
        );
    crate::live::refetch_when_behind(
        feed,
        id,
        Signal::derive(move || current.get().map(|p| p.version)),
        refetches,
    );

    // Pending → confirmed when the feed reports the receipt's events applied.
    // The notice may arrive before the receipt; `has_applied` remembers it.
    Effect::new(move |_| {
        if let Edit::Pending {
            receipt: Some(receipt),
            ..
        } = edit.get()
        {
            if feed.has_applied(
                PRODUCT_VIEW,
                &receipt.aggregate_id,
                receipt.aggregate_version,
                &receipt.event_ids,
            ) {
                edit.set(Edit::Confirmed {
                    version: receipt.aggregate_version,
                });
                refetches.update(|n| *n += 1);
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(before) = current.get_untracked() else {
            return;
        };
        let text = price_input.get_untracked();
        let price = match Money::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                edit.set(Edit::Failed {
                    message: format!("Price {e}."),
                    conflict: false,
                });
                return;
            }
        };
        edit.set(Edit::Pending {
            price,
            receipt: None,
        });
        let product_id = before.product_id.to_string();
        let override_cut = allow_cut.get_untracked();
        spawn_local(async move {
            let result = change_price(
                CommandId::new().to_string(),
                product_id.clone(),
                text,
                Some(before.version),
                override_cut,
            )
            .await;
            match result {
                Ok(receipt) if receipt.event_ids.is_empty() => {
                    edit.set(Edit::Confirmed {
                        version: receipt.aggregate_version,
                    });
                }
                Ok(receipt) => {
                    let version = receipt.aggregate_version;
                    edit.set(Edit::Pending {
                        price,
                        receipt: Some(receipt),
                    });
                    confirm_without_feed(product_id, version, edit, refetches).await;
                }
                Err(e) => {
                    let conflict = e.is_version_conflict();
                    edit.set(Edit::Failed {
                        message: e.message(),
                        conflict,
                    });
                    price_input.set(before.price.to_string());
                }
            }
        });
    };

    let shown_price = move || match (edit.get(), current.get()) {
        (Edit::Pending { price, .. }, _) => Some(price.to_string()),
        (_, Some(p)) => Some(p.price.to_string()),
        _ => None,
    };
    let syncing =
        Signal::derive(move || behind.get() || matches!(edit.get(), Edit::Pending { .. }));
    let projected_at = Signal::derive(move || current.get().map(|p| p.projected_at));

    view! {
        <Title text="Admin — edit product"/>
        <p><a href="/admin/products">"← All products"</a></p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match product.await {
                    Ok(read) => {
                        let p = read.product;
                        let public_href = format!("/products/{}", p.product_id);
                        view! {
                            <div class="page-heading">
                                <h1>{p.name.clone()}</h1>
                                <Freshness projected_at=projected_at syncing=syncing/>
                            </div>
                            <p>
                                {p.category.clone()} " · stock " {p.stock} " · version "
                                <span data-testid="version">{p.version}</span> " · "
                                <a href=public_href>"View in shop"</a>
                            </p>
                        }
                            .into_any()
                    }
                    Err(AppError::NotFound) => view! { <crate::pages::NotFound/> }.into_any(),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
        <section class="card">
            <p class="price-line">
                "Price "
                <span class="price" data-testid="current-price">{shown_price}</span>
                <span class="edit-status" data-testid="edit-status" data-state=move || edit.get().state()>
                    {move || match edit.get() {
                        Edit::Pending { .. } => "pending".to_owned(),
                        Edit::Confirmed { version } => format!("confirmed (version {version})"),
                        _ => String::new(),
                    }}
                </span>
            </p>
            <form class="form" on:submit=on_submit data-testid="price-form">
                <label>
                    "New price"
                    <input type="text" inputmode="decimal" name="price" required bind:value=price_input/>
                </label>
                <label class="check">
                    <input type="checkbox" name="overridePriceCut" bind:checked=allow_cut/>
                    "Allow a cut of more than 50%"
                </label>
                <button type="submit" disabled=move || matches!(edit.get(), Edit::Pending { .. })>
                    "Save price"
                </button>
            </form>
            {move || match edit.get() {
                Edit::Failed { message, conflict } => {
                    view! {
                        <div class="error" role="alert" data-testid="edit-error">
                            <p>{message}</p>
                            {conflict
                                .then(|| {
                                    view! {
                                        <button
                                            type="button"
                                            on:click=move |_| {
                                                edit.set(Edit::Idle);
                                                refetches.update(|n| *n += 1);
                                            }
                                        >
                                            "Reload"
                                        </button>
                                    }
                                })}
                        </div>
                    }
                        .into_any()
                }
                _ => ().into_any(),
            }}
        </section>
    }
}

/// The live feed is at-most-once: if no notice confirmed the edit in time,
/// read the product asking for the receipt's version.
async fn confirm_without_feed(
    product_id: String,
    version: u64,
    edit: RwSignal<Edit>,
    refetches: RwSignal<u64>,
) {
    sleep(CONFIRM_FALLBACK).await;
    let still_waiting = matches!(
        edit.get_untracked(),
        Edit::Pending { receipt: Some(ref r), .. } if r.aggregate_version == version
    );
    if !still_waiting {
        return;
    }
    if let Ok(read) = get_product(product_id, Some(version)).await {
        if read.product.version >= version {
            edit.set(Edit::Confirmed { version });
            refetches.update(|n| *n += 1);
        }
    }
}

async fn sleep(duration: Duration) {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = tx.send(());
        },
        duration,
    );
    let _ = rx.await;
}
