//! The cart and checkout. Every form is an `ActionForm`: without JavaScript
//! it posts and the server redirects (back to the page, or to the new
//! order); with it, the page updates in place.
//!
//! - `CartLink`: "Cart (n)" in the header
//! - `AddToCartForm`: on the product page
//! - `CartPage` (`/cart`): lines priced from the catalog, stock warnings,
//!   the minimum order, quantity and remove
//! - `CheckoutPage` (`/checkout`): places the order and pays, showing
//!   "processing" at once; the order's page then follows it live

use crate::api::cart::{get_cart, AddToCart, RemoveFromCart, UpdateCartLine};
use crate::api::orders::{Checkout, CheckoutOutcome, PAYMENT_METHODS};
use crate::cart::{Availability, CartLineView, CartSummary, CartView};
use crate::components::Freshness;
use crate::live::{use_live_feed, PRODUCT_VIEW};
use crate::loaded::{load, Loaded};
use crate::pages::orders::CustomersOnly;
use crate::pages::ReadFailed;
use domain::views::ProductView;
use domain::{CommandId, ProductId};
use leptos::prelude::*;
use leptos_meta::Title;

/// The cart as the header and pages share it: a summary that refetches
/// whenever a cart form completes.
#[derive(Clone, Copy)]
pub struct CartContext {
    pub summary: Loaded<CartSummary>,
    changes: RwSignal<u64>,
}

impl CartContext {
    /// Something changed the cart: read it again.
    pub fn changed(&self) {
        self.changes.update(|n| *n += 1);
    }

    /// Bumps when the cart changed (tracked).
    pub fn changes(&self) -> u64 {
        self.changes.get()
    }
}

pub fn provide_cart() {
    let changes = RwSignal::new(0u64);
    let summary = load(
        move || changes.get(),
        |_| crate::api::cart::summarize_cart(),
    );
    provide_context(CartContext { summary, changes });
}

pub fn use_cart() -> CartContext {
    expect_context::<CartContext>()
}

/// Reads the cart again each time a form's action completes.
fn refresh_after(cart: CartContext, version: RwSignal<usize>) {
    Effect::new(move |_| {
        if version.get() > 0 {
            cart.changed();
        }
    });
}

#[component]
pub fn CartLink() -> impl IntoView {
    let cart = use_cart();
    // One text node: "Cart (" + count + ")" as three would not hydrate.
    let label = move || {
        Suspend::new(async move {
            let units = cart.summary.await.map(|s| s.units).unwrap_or(0);
            format!("Cart ({units})")
        })
    };
    view! {
        <a href="/cart" class="cart-link" data-testid="cart-link">
            <Transition fallback=|| "Cart">{label}</Transition>
        </a>
    }
}

/// "Add to cart" with a quantity; disabled, and saying why, when the
/// product is out of stock or no longer sold.
#[component]
pub fn AddToCartForm(product: ProductView) -> impl IntoView {
    let cart = use_cart();
    let add = ServerAction::<AddToCart>::new();
    refresh_after(cart, add.version());
    let available = !product.deleted && product.stock > 0;
    let id = product.product_id.to_string();
    let why_id = format!("why-not-{id}");
    let why = (!available).then(|| {
        let text = if product.deleted {
            "No longer sold: it can't be added to your cart."
        } else {
            "Out of stock: it can't be added to your cart right now."
        };
        view! { <p class="note" id=why_id.clone() data-testid="add-to-cart-unavailable">{text}</p> }
    });
    view! {
        <ActionForm action=add attr:class="add-to-cart" attr:data-testid="add-to-cart">
            <input type="hidden" name="product_id" value=id/>
            <label>
                "Quantity"
                <input
                    type="number"
                    name="quantity"
                    value="1"
                    min="1"
                    max=product.stock.max(1)
                    step="1"
                    inputmode="numeric"
                    required
                    disabled=!available
                />
            </label>
            <button
                type="submit"
                disabled=move || !available || add.pending().get()
                aria-describedby=(!available).then_some(why_id)
            >
                "Add to cart"
            </button>
        </ActionForm>
        {why}
        <p class="form-status" role="status" data-testid="add-to-cart-status">
            {move || {
                matches!(add.value().get(), Some(Ok(_)))
                    .then(|| view! { "Added to your cart. " <a href="/cart">"View cart"</a> })
            }}
        </p>
        {move || {
            add.value()
                .get()
                .and_then(Result::err)
                .map(|e| view! { <p class="error" role="alert">{e.message()}</p> })
        }}
    }
}

#[component]
pub fn CartPage() -> impl IntoView {
    let cart = use_cart();
    let feed = use_live_feed();
    let update = ServerAction::<UpdateCartLine>::new();
    let remove = ServerAction::<RemoveFromCart>::new();
    refresh_after(cart, update.version());
    refresh_after(cart, remove.version());

    // Price and stock come from the products' read records: read the cart
    // again when the feed reports a change to one of them.
    let shown = RwSignal::new(Vec::<String>::new());
    let product_changes = Memo::new(move |_| {
        shown.with(|ids| {
            ids.iter()
                .filter_map(|id| feed.last_event_of(PRODUCT_VIEW, id))
                .collect::<Vec<_>>()
        })
    });
    let view = load(
        move || (cart.changes(), product_changes.get(), feed.resets.get()),
        |_| get_cart(),
    );
    Effect::new(move |_| {
        if let Some(Ok(v)) = view.get() {
            shown.set(v.lines.iter().map(|l| l.product_id.to_string()).collect());
        }
    });

    // The latest refusal of either form.
    let failure = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(result) = update.value().get() {
            failure.set(result.err().map(|e| e.message()));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = remove.value().get() {
            failure.set(result.err().map(|e| e.message()));
        }
    });

    view! {
        <Title text="Your cart — Vitrine"/>
        {move || {
            failure
                .get()
                .map(|m| view! { <p class="error" role="alert" data-testid="cart-error">{m}</p> })
        }}
        <Transition fallback=|| view! { <p>"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match view.await {
                    Ok(v) => cart_contents(v, update, remove).into_any(),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn cart_contents(
    v: CartView,
    update: ServerAction<UpdateCartLine>,
    remove: ServerAction<RemoveFromCart>,
) -> impl IntoView {
    let heading = view! {
        <div class="page-heading">
            <h1>"Your cart"</h1>
            <Freshness projected_at=v.projected_at() syncing=v.stale/>
        </div>
    };
    let notice = v
        .notice
        .clone()
        .map(|m| view! { <p class="error" role="alert" data-testid="cart-error">{m}</p> });
    if v.lines.is_empty() {
        return view! {
            {heading}
            {notice}
            <p class="empty" data-testid="cart-empty">"Your cart is empty."</p>
            <p><a href="/">"Browse the shop"</a></p>
        }
        .into_any();
    }
    let max = v.policy.max_quantity;
    let blockers = v.blockers();
    let lines = v
        .lines
        .iter()
        .cloned()
        .map(|line| cart_line(line, max, update, remove))
        .collect_view();
    let checkout = if blockers.is_empty() {
        view! { <a class="button" href="/checkout" data-testid="checkout-link">"Check out"</a> }
            .into_any()
    } else {
        view! {
            <ul class="blockers" data-testid="checkout-blockers">
                {blockers.into_iter().map(|b| view! { <li>{b}</li> }).collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        {heading}
        {notice}
        <ul class="cart-lines" data-testid="cart-lines">{lines}</ul>
        <section class="card cart-summary" aria-label="Order summary">
            <p class="total-line">
                "Total " <span class="price" data-testid="cart-total">{v.total.to_string()}</span>
            </p>
            <p class="note">"Minimum order " {v.policy.min_total.to_string()}</p>
            {checkout}
        </section>
    }
    .into_any()
}

fn stock_warning(line: &CartLineView) -> Option<String> {
    match line.availability {
        Availability::InStock => None,
        Availability::Short { available } => Some(format!(
            "Only {available} left, and your cart has {}.",
            line.quantity
        )),
        Availability::OutOfStock => Some("Out of stock.".into()),
        Availability::NotSold => Some("No longer sold.".into()),
    }
}

fn cart_line(
    line: CartLineView,
    max: u32,
    update: ServerAction<UpdateCartLine>,
    remove: ServerAction<RemoveFromCart>,
) -> impl IntoView {
    let id = line.product_id.to_string();
    let href = format!("/products/{id}");
    let sold = line.availability != Availability::NotSold;
    let price_changed = line.price_changed().then(|| {
        view! {
            <p class="note" data-testid="price-changed">
                "Price changed since you added it: was " {line.price_seen.to_string()} ", now "
                {line.unit_price.to_string()} "."
            </p>
        }
    });
    let warning = stock_warning(&line)
        .map(|w| view! { <p class="warning" data-testid="stock-warning">{w}</p> });
    let name = line.name.clone();
    let quantity_form = sold.then(|| {
        let (id, name) = (id.clone(), name.clone());
        view! {
            <ActionForm action=update attr:class="line-quantity">
                <input type="hidden" name="product_id" value=id/>
                <label>
                    "Quantity" <span class="visually-hidden">" of " {name}</span>
                    <input
                        type="number"
                        name="quantity"
                        value=line.quantity
                        min="1"
                        max=max
                        step="1"
                        inputmode="numeric"
                        required
                    />
                </label>
                <button type="submit" class="secondary">"Update"</button>
            </ActionForm>
        }
    });
    let remove_id = id.clone();
    view! {
        <li class="cart-line" data-testid="cart-line" data-product-id=id>
            <div class="line-what">
                {if sold {
                    view! { <a class="name" href=href>{line.name.clone()}</a> }.into_any()
                } else {
                    view! { <span class="name">{line.name.clone()}</span> }.into_any()
                }}
                <span class="unit">{line.unit_price.to_string()} " each"</span>
                {price_changed}
                {warning}
            </div>
            {quantity_form}
            <ActionForm action=remove attr:class="line-remove">
                <input type="hidden" name="product_id" value=remove_id/>
                <button type="submit" class="link">
                    "Remove" <span class="visually-hidden">" " {name}</span>
                </button>
            </ActionForm>
            <p class="line-total price">
                <span class="visually-hidden">"Line total "</span>
                {line.line_total.to_string()}
            </p>
        </li>
    }
}

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let cart = use_cart();
    // Created here, not inside `CustomersOnly` (whose content the server
    // may build more than once).
    let view = load(move || cart.changes(), |_| get_cart());
    view! {
        <Title text="Checkout — Vitrine"/>
        <CustomersOnly next="/checkout">
            <CheckoutForm view=view/>
        </CustomersOnly>
    }
}

#[component]
fn CheckoutForm(view: Loaded<CartView>) -> impl IntoView {
    let cart = use_cart();
    let checkout = ServerAction::<Checkout>::new();
    // A fresh command id for each attempt: a resend of one attempt (a
    // retry after a network error) places and pays once.
    let command_id = RwSignal::new(CommandId::new().to_string());
    let method = RwSignal::new(PAYMENT_METHODS[0].0.to_owned());
    Effect::new(move |_| {
        if checkout.version().get() > 0 {
            command_id.set(CommandId::new().to_string());
            cart.changed();
        }
    });

    let state = move || {
        if checkout.pending().get() {
            return "processing";
        }
        match checkout.value().get() {
            Some(Ok(CheckoutOutcome::Placed { .. })) => "placed",
            Some(_) => "refused",
            None => "idle",
        }
    };
    let refusal = move || match checkout.value().get() {
        Some(Ok(CheckoutOutcome::Refused { message, .. })) => Some(message),
        Some(Err(e)) => Some(e.message()),
        _ => None,
    };
    let refused_product = Signal::derive(move || match checkout.value().get() {
        Some(Ok(CheckoutOutcome::Refused { product_id, .. })) => product_id,
        _ => None,
    });

    view! {
        <h1>"Checkout"</h1>
        // Outside the part that re-renders, so screen readers hear each change.
        <p
            class="checkout-status pending"
            role="status"
            aria-live="polite"
            data-testid="checkout-status"
            data-state=state
        >
            {move || match state() {
                "processing" => "Processing your order: placing it and taking the payment…",
                "placed" => "Order placed. Opening it…",
                _ => "",
            }}
        </p>
        {move || {
            refusal()
                .map(|m| view! { <div class="error" role="alert" data-testid="checkout-error">{m}</div> })
        }}
        <Transition fallback=|| view! { <p>"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match view.await {
                    Ok(v) => checkout_contents(v, checkout, command_id, method, refused_product)
                        .into_any(),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn checkout_contents(
    v: CartView,
    checkout: ServerAction<Checkout>,
    command_id: RwSignal<String>,
    method: RwSignal<String>,
    refused_product: Signal<Option<ProductId>>,
) -> impl IntoView {
    let notice = v
        .notice
        .clone()
        .map(|m| view! { <div class="error" role="alert" data-testid="checkout-error">{m}</div> });
    if v.lines.is_empty() {
        return view! {
            {notice}
            <p class="empty">"Your cart is empty."</p>
            <p><a href="/">"Browse the shop"</a></p>
        }
        .into_any();
    }
    let blockers = v.blockers();
    let ready = blockers.is_empty();
    let lines = v
        .lines
        .iter()
        .map(|line| {
            let id = line.product_id;
            let warning = stock_warning(line)
                .map(|w| view! { <span class="warning" data-testid="stock-warning">{w}</span> });
            view! {
                <li
                    class="summary-line"
                    class:refused=move || refused_product.get() == Some(id)
                    data-testid="checkout-line"
                >
                    <span class="name">{line.name.clone()}</span>
                    <span class="qty">"× " {line.quantity}</span>
                    <span class="price">{line.line_total.to_string()}</span>
                    {warning}
                </li>
            }
        })
        .collect_view();
    let total = v.total.to_string();
    view! {
        {notice}
        <section class="card" aria-label="Your order">
            <ul class="summary-lines">{lines}</ul>
            <p class="total-line">
                "Total " <span class="price" data-testid="checkout-total">{total.clone()}</span>
            </p>
            <p class="note">
                "Prices and stock are checked again when the order is placed. "
                <a href="/cart">"Change your cart"</a>
            </p>
        </section>
        {(!ready)
            .then(|| {
                view! {
                    <ul class="blockers" data-testid="checkout-blockers">
                        {blockers.into_iter().map(|b| view! { <li>{b}</li> }).collect_view()}
                    </ul>
                }
            })}
        <ActionForm action=checkout attr:class="card form" attr:data-testid="checkout-form">
            <input
                type="hidden"
                name="command_id"
                value=command_id.get_untracked()
                prop:value=command_id
            />
            <label>
                "Payment method"
                <select
                    name="payment_method"
                    prop:value=method
                    on:change=move |ev| method.set(event_target_value(&ev))
                >
                    {PAYMENT_METHODS
                        .iter()
                        .map(|(value, label)| {
                            let selected = method.get_untracked() == *value;
                            view! { <option value=*value selected=selected>{*label}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <button
                type="submit"
                data-testid="place-order"
                disabled=move || !ready || checkout.pending().get()
            >
                "Place order and pay " {total}
            </button>
        </ActionForm>
    }
    .into_any()
}
