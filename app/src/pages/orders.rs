//! "My orders": the signed-in customer's orders (`/orders`) and one order
//! (`/orders/:id`) with its lines as bought, totals, tracking number and the
//! timeline of its steps. Both follow the live feed: an order notice (sent
//! only to the order's customer and staff) makes them read again, and so
//! does a feed reset, since the feed may drop notices.

use crate::api::orders::{
    get_order, my_orders, take_notice, CancelOrder, OrderListing, OrderRead, PayOrder,
    PAYMENT_METHODS,
};
use crate::api::ReadSource;
use crate::components::Freshness;
use crate::error::AppError;
use crate::live::{refetch_record_when_behind, use_live_feed, ORDER_VIEW};
use crate::loaded::{load, Loaded};
use crate::pages::account::use_viewer;
use crate::pages::ReadFailed;
use domain::order::{OrderLine, OrderStatus};
use domain::views::{OrderView, StatusChange};
use domain::{ActorRole, CommandId, OrderId};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::time::Duration;
use time::OffsetDateTime;

/// How long an order may sit in a step the shop moves on by itself (paid →
/// confirmed, declined → cancelled) before the page reads it again without
/// waiting for the live feed.
const SETTLE_FALLBACK: Duration = Duration::from_secs(4);
const SETTLE_READS: u32 = 8;

/// Renders `children` for a signed-in customer; sends anyone else to sign
/// in first (and back to `next` after), or says the page is for customers.
#[component]
pub fn CustomersOnly(#[prop(into)] next: String, children: ChildrenFn) -> impl IntoView {
    let viewer = use_viewer();
    let children = StoredValue::new(children);
    let next = StoredValue::new(next);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                viewer
                    .map(|viewer| Suspend::new(async move {
                        match viewer.await {
                            Ok(Some(v)) if v.role == ActorRole::Customer => {
                                children.read_value()().into_any()
                            }
                            Ok(Some(_)) => view! {
                                <p class="error" role="alert">
                                    "Carts and orders are for customer accounts: sign in as a customer to shop."
                                </p>
                            }
                                .into_any(),
                            Ok(None) => {
                                let path = format!("/login?next={}", next.get_value());
                                view! { <Redirect path=path/> }.into_any()
                            }
                            Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                        }
                    }))
            }}
        </Suspense>
    }
}

pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::New => "New",
        OrderStatus::AwaitingPayment => "Awaiting payment",
        OrderStatus::PaymentDeclined => "Payment declined",
        OrderStatus::Paid => "Paid",
        OrderStatus::Confirmed => "Confirmed",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Returned => "Returned",
    }
}

/// A timeline step: the first one is the order being placed.
fn step_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::AwaitingPayment => "Placed",
        other => status_label(other),
    }
}

/// Steps the shop takes by itself, shortly after (the order process).
fn settling(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Paid | OrderStatus::PaymentDeclined)
}

fn may_cancel(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::AwaitingPayment | OrderStatus::Paid | OrderStatus::Confirmed
    )
}

/// "Order #3F9A12BC": the end of the id (its start is a timestamp).
fn order_number(id: OrderId) -> String {
    let hex = id.0.simple().to_string().to_uppercase();
    format!("#{}", &hex[hex.len() - 8..])
}

fn when(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[component]
fn StatusBadge(status: OrderStatus) -> impl IntoView {
    view! {
        <span class="status-badge" data-status=status.as_str()>{status_label(status)}</span>
    }
}

// Pages create their resources outside `CustomersOnly`: what renders
// inside it may be built more than once while the server renders, and a
// resource created there would be read as many times.

#[component]
pub fn OrdersPage() -> impl IntoView {
    let feed = use_live_feed();
    // Only this customer's order notices reach this browser.
    let orders = load(
        move || (feed.progress_of(ORDER_VIEW), feed.resets.get()),
        |_| my_orders(),
    );
    view! {
        <Title text="Your orders — Vitrine"/>
        <CustomersOnly next="/orders">
            <OrderList orders=orders/>
        </CustomersOnly>
    }
}

#[component]
fn OrderList(orders: Loaded<OrderListing>) -> impl IntoView {
    view! {
        <Transition fallback=|| view! { <p>"Loading your orders…"</p> }>
            {move || Suspend::new(async move {
                match orders.await {
                    Ok(listing) => {
                        let newest = listing.orders.iter().map(|o| o.projected_at).max();
                        let heading = view! {
                            <div class="page-heading">
                                <h1>"Your orders"</h1>
                                <Freshness projected_at=newest syncing=listing.stale/>
                            </div>
                        };
                        if listing.orders.is_empty() {
                            return view! {
                                {heading}
                                <p class="empty">"You have no orders yet."</p>
                                <p><a href="/">"Browse the shop"</a></p>
                            }
                                .into_any();
                        }
                        view! {
                            {heading}
                            <ul class="order-list" data-testid="order-list">
                                {listing.orders.into_iter().map(order_card).collect_view()}
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

fn order_card(order: OrderView) -> impl IntoView {
    let href = format!("/orders/{}", order.order_id);
    let units: u32 = order.lines.iter().map(|l| l.quantity).sum();
    view! {
        <li class="order-card" data-testid="order-card" data-order-id=order.order_id.to_string()>
            <a href=href>
                <span class="order-number">"Order " {order_number(order.order_id)}</span>
                <StatusBadge status=order.status/>
                <span class="note">
                    "Placed " <time datetime=rfc3339(order.placed_at)>{when(order.placed_at)}</time>
                    " · " {units} {if units == 1 { " item" } else { " items" }}
                </span>
                <span class="price">{order.total.to_string()}</span>
            </a>
        </li>
    }
}

/// The order page's reads, shared by the page and what it renders.
#[derive(Clone, Copy)]
struct OrderQuery {
    id: Memo<String>,
    /// A receipt's version (checkout passes it): read at least that.
    wanted: RwSignal<Option<u64>>,
    refetches: RwSignal<u64>,
    order: Loaded<OrderRead>,
    notice: Loaded<Option<String>>,
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let feed = use_live_feed();
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let wanted = RwSignal::new(
        query
            .read_untracked()
            .get("version")
            .and_then(|v| v.parse::<u64>().ok()),
    );
    let refetches = RwSignal::new(0u64);
    let order = load(
        move || (id.get(), wanted.get(), refetches.get(), feed.resets.get()),
        |(id, wanted, _, _)| get_order(id, wanted),
    );
    let notice = load(|| (), |_| take_notice());
    let q = OrderQuery {
        id,
        wanted,
        refetches,
        order,
        notice,
    };
    let next = format!("/orders/{}", id.get_untracked());
    view! {
        <Title text="Your order — Vitrine"/>
        <CustomersOnly next=next>
            <OrderDetail q=q/>
        </CustomersOnly>
    }
}

#[component]
fn OrderDetail(q: OrderQuery) -> impl IntoView {
    let feed = use_live_feed();
    let OrderQuery {
        id,
        wanted,
        refetches,
        order,
        notice,
    } = q;

    // The last order read; a failed refetch keeps it.
    let last_good = RwSignal::new(None::<OrderView>);
    Effect::new(move |_| {
        if let Some(Ok(read)) = order.get() {
            last_good.set(Some(read.order));
        }
    });
    let shown_version = Signal::derive(move || last_good.with(|o| o.as_ref().map(|o| o.version)));
    refetch_record_when_behind(feed, ORDER_VIEW, id, shown_version, refetches);
    let behind = Signal::derive(move || {
        match (feed.version_of(ORDER_VIEW, &id.get()), shown_version.get()) {
            (Some(known), Some(shown)) => known > shown,
            _ => false,
        }
    });

    // The feed may drop a notice: an order the shop is moving on by itself
    // is read again now and then until it settles.
    let settle_reads = StoredValue::new(0u32);
    Effect::new(move |_| {
        let Some((version, status)) = last_good.with(|o| o.as_ref().map(|o| (o.version, o.status)))
        else {
            return;
        };
        if !settling(status) || settle_reads.get_value() >= SETTLE_READS {
            return;
        }
        set_timeout(
            move || {
                if shown_version.get_untracked() == Some(version) {
                    settle_reads.update_value(|n| *n += 1);
                    refetches.update(|n| *n += 1);
                }
            },
            SETTLE_FALLBACK,
        );
    });

    // Say each change of status to screen readers (the region stays put
    // while the order below re-renders).
    let announcement = RwSignal::new(String::new());
    Effect::new(move |before: Option<Option<OrderStatus>>| {
        let now = last_good.with(|o| o.as_ref().map(|o| o.status));
        if let (Some(Some(before)), Some(now)) = (before, now) {
            if before != now {
                announcement.set(format!("Order status: {}", status_label(now)));
            }
        }
        now
    });

    let pay = ServerAction::<PayOrder>::new();
    let cancel = ServerAction::<CancelOrder>::new();
    let pay_id = RwSignal::new(CommandId::new().to_string());
    let cancel_id = RwSignal::new(CommandId::new().to_string());
    // After paying or cancelling, read at least the receipt's version.
    Effect::new(move |_| {
        if let Some(result) = pay.value().get() {
            pay_id.set(CommandId::new().to_string());
            if let Ok(receipt) = result {
                wanted.set(Some(receipt.aggregate_version));
                refetches.update(|n| *n += 1);
            }
        }
    });
    Effect::new(move |_| {
        if let Some(result) = cancel.value().get() {
            cancel_id.set(CommandId::new().to_string());
            if let Ok(receipt) = result {
                wanted.set(Some(receipt.aggregate_version));
                refetches.update(|n| *n += 1);
            }
        }
    });
    let action_error = move || {
        let failed = |r: Option<Result<domain::WriteReceipt, AppError>>| r.and_then(Result::err);
        failed(pay.value().get())
            .or_else(|| failed(cancel.value().get()))
            .map(|e| view! { <p class="error" role="alert" data-testid="order-error">{e.message()}</p> })
    };
    let forms = OrderForms {
        pay,
        cancel,
        pay_id,
        cancel_id,
    };

    view! {
        <p><a href="/orders">"← Your orders"</a></p>
        <p class="visually-hidden" aria-live="polite" data-testid="order-announcer">
            {announcement}
        </p>
        {action_error}
        <Transition fallback=|| view! { <p>"Loading your order…"</p> }>
            {move || Suspend::new(async move {
                let notice = notice.await.ok().flatten();
                match order.await {
                    Ok(read) => {
                        order_contents(read.order, read.source, notice, behind, forms).into_any()
                    }
                    Err(AppError::NotFound) => view! { <crate::pages::NotFound/> }.into_any(),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[derive(Clone, Copy)]
struct OrderForms {
    pay: ServerAction<PayOrder>,
    cancel: ServerAction<CancelOrder>,
    pay_id: RwSignal<String>,
    cancel_id: RwSignal<String>,
}

/// What the status means for the customer, in a sentence.
fn status_sentence(order: &OrderView) -> String {
    let note_of = |status: OrderStatus| {
        order
            .timeline
            .iter()
            .rev()
            .find(|s| s.status == status)
            .and_then(|s| s.note.clone())
            .unwrap_or_default()
    };
    match order.status {
        OrderStatus::New | OrderStatus::AwaitingPayment => "Placed, waiting for payment.".into(),
        OrderStatus::Paid => "Paid. The shop is confirming your order…".into(),
        OrderStatus::PaymentDeclined => "Payment declined. Releasing the items…".into(),
        OrderStatus::Confirmed => "Confirmed: the shop is preparing it for shipping.".into(),
        OrderStatus::Shipped => format!(
            "Shipped, tracking number {}.",
            order.tracking_number.clone().unwrap_or_default()
        ),
        OrderStatus::Delivered => "Delivered.".into(),
        OrderStatus::Cancelled => format!("Cancelled: {}.", note_of(OrderStatus::Cancelled)),
        OrderStatus::Returned => format!("Returned: {}.", note_of(OrderStatus::Returned)),
    }
}

fn order_contents(
    order: OrderView,
    source: ReadSource,
    notice: Option<String>,
    behind: Signal<bool>,
    forms: OrderForms,
) -> impl IntoView {
    let status = order.status;
    let declined = order
        .timeline
        .iter()
        .find(|s| s.status == OrderStatus::PaymentDeclined)
        .map(|s| s.note.clone().unwrap_or_else(|| "no reason given".into()));
    let declined = declined.map(|reason| {
        let nothing_charged = if order.paid == domain::Money::ZERO {
            " Nothing was charged."
        } else {
            ""
        };
        view! {
            <div class="error" data-testid="payment-declined">
                <p>
                    "Your payment was declined: " {reason} ". The order is cancelled and its items released."
                    {nothing_charged}
                </p>
                <p>
                    "Your cart still holds the items: "
                    <a href="/checkout">"try another payment method"</a>
                </p>
            </div>
        }
    });
    let settling_note = settling(status).then(|| {
        view! {
            <p class="pending" data-testid="order-processing">
                <span class="spinner" aria-hidden="true"></span>
                "Processing…"
            </p>
        }
    });
    let id = order.order_id.to_string();
    let refunded = (order.refunded > domain::Money::ZERO).then(|| {
        view! {
            <dt>"Refunded"</dt>
            <dd class="price" data-testid="order-refunded">{order.refunded.to_string()}</dd>
        }
    });
    let tracking = order.tracking_number.clone().map(|t| {
        view! {
            <dt>"Tracking number"</dt>
            <dd data-testid="tracking-number">{t}</dd>
        }
    });
    let pay_form = (status == OrderStatus::AwaitingPayment).then(|| {
        let pay = forms.pay;
        let id = id.clone();
        view! {
            <ActionForm action=pay attr:class="card form" attr:data-testid="pay-form">
                <input
                    type="hidden"
                    name="command_id"
                    value=forms.pay_id.get_untracked()
                    prop:value=forms.pay_id
                />
                <input type="hidden" name="order_id" value=id.clone()/>
                <label>
                    "Payment method"
                    <select name="payment_method">
                        {PAYMENT_METHODS
                            .iter()
                            .map(|(value, label)| view! { <option value=*value>{*label}</option> })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit" disabled=move || pay.pending().get()>
                    "Pay " {order.total.to_string()}
                </button>
            </ActionForm>
        }
    });
    let cancel_form = may_cancel(status).then(|| {
        let cancel = forms.cancel;
        let id = id.clone();
        view! {
            <ActionForm action=cancel attr:class="inline" attr:data-testid="cancel-form">
                <input
                    type="hidden"
                    name="command_id"
                    value=forms.cancel_id.get_untracked()
                    prop:value=forms.cancel_id
                />
                <input type="hidden" name="order_id" value=id.clone()/>
                <button type="submit" class="secondary" disabled=move || cancel.pending().get()>
                    "Cancel order"
                </button>
            </ActionForm>
        }
    });
    let source = match source {
        ReadSource::Read => "read",
        ReadSource::Write => "write",
    };
    view! {
        <Title text=format!("Order {} — Vitrine", order_number(order.order_id))/>
        <article
            class="order"
            data-testid="order"
            data-version=order.version
            data-source=source
        >
            <div class="page-heading">
                <h1>"Order " {order_number(order.order_id)}</h1>
                <Freshness projected_at=Some(order.projected_at) syncing=behind/>
            </div>
            {notice.map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <p class="status-line">
                <StatusBadge status=status/>
                <span class="status-text" data-testid="order-status" data-status=status.as_str()>
                    {status_sentence(&order)}
                </span>
            </p>
            {settling_note}
            {declined}
            <section aria-labelledby="order-lines-heading">
                <h2 id="order-lines-heading">"What you bought"</h2>
                <table class="order-lines" data-testid="order-lines">
                    <thead>
                        <tr>
                            <th scope="col">"Product"</th>
                            <th scope="col" class="num">"Price"</th>
                            <th scope="col" class="num">"Quantity"</th>
                            <th scope="col" class="num">"Total"</th>
                        </tr>
                    </thead>
                    <tbody>{order.lines.iter().map(order_line).collect_view()}</tbody>
                </table>
                <dl class="totals">
                    <dt>"Total"</dt>
                    <dd class="price" data-testid="order-total">{order.total.to_string()}</dd>
                    <dt>"Paid"</dt>
                    <dd class="price" data-testid="order-paid">{order.paid.to_string()}</dd>
                    {refunded}
                    {tracking}
                </dl>
            </section>
            {pay_form}
            {cancel_form}
            <section aria-labelledby="timeline-heading">
                <h2 id="timeline-heading">"Timeline"</h2>
                <ol class="timeline" data-testid="timeline">
                    {order.timeline.iter().map(timeline_step).collect_view()}
                </ol>
            </section>
        </article>
    }
}

fn order_line(line: &OrderLine) -> impl IntoView {
    let href = format!("/products/{}", line.product_id);
    view! {
        <tr>
            <td>
                <a href=href>{line.product_name.clone()}</a>
                <span class="category">" · " {line.category.clone()}</span>
            </td>
            <td class="num">{line.unit_price.to_string()}</td>
            <td class="num">{line.quantity}</td>
            <td class="num">{line.line_total.to_string()}</td>
        </tr>
    }
}

fn timeline_step(step: &StatusChange) -> impl IntoView {
    view! {
        <li data-status=step.status.as_str()>
            <span class="step">{step_label(step.status)}</span>
            " "
            <time datetime=rfc3339(step.at)>{when(step.at)}</time>
            {step.note.clone().map(|n| view! { <span class="note">" · " {n}</span> })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_use_the_random_end_of_the_id() {
        let id: OrderId = "0190f5c2-0000-7000-8000-00000a1b2c3d".parse().unwrap();
        assert_eq!(order_number(id), "#0A1B2C3D");
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(61);
        assert_eq!(when(t), "1 Jan 1970, 01:01 UTC");
    }
}
