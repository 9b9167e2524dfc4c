//! The Order aggregate and its lifecycle:
//!
//! ```text
//! PlaceOrder ─▶ awaitingPayment ─pay ok─▶ paid ─confirm─▶ confirmed ─ship─▶ shipped ─deliver─▶ delivered ─return─▶ returned
//!                     │ └─pay declined─▶ paymentDeclined      │                │                                   (final)
//!                     └──────────────┴────cancel (releases stock, refunds if paid)┘──▶ cancelled (final)
//! ```
//!
//! Placing, cancelling and returning also change each product's Inventory:
//! those decisions return the inventory events with the order's, and the
//! handler appends all of them in one transaction. Prices come from the
//! catalog (the write model), never from the client.

use crate::authz;
use crate::error::DomainError;
use crate::event::Actor;
use crate::ids::{CustomerId, OrderId, ProductId};
use crate::inventory::{self, Inventory, InventoryEvent};
use crate::money::Money;
use crate::product::{Product, REASON_MAX_CHARS};
use crate::text;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The shop's ordering rules, from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPolicy {
    /// Orders below this total are refused (default 10.00).
    pub min_total: Money,
    pub max_lines: usize,
    pub max_quantity: u32,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        OrderPolicy {
            min_total: Money::from_minor(1_000),
            max_lines: 100,
            max_quantity: 1_000,
        }
    }
}

pub const TRACKING_MAX_CHARS: usize = 100;

// ---- commands ---------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub product_id: ProductId,
    /// Signed so that a negative quantity is refused with its reason rather
    /// than lost in a type conversion.
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrder {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub items: Vec<OrderItem>,
}

/// What the (simulated) payment provider answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum PaymentOutcome {
    #[serde(rename_all = "camelCase")]
    Approved {
        payment_id: String,
    },
    Declined {
        reason: String,
    },
}

// ---- events -----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub product_id: ProductId,
    pub product_name: String,
    /// The product's category when it was bought (since `OrderPlaced` v2),
    /// so sales by category and order history need no catalog lookup and do
    /// not change when the product is recategorized later.
    pub category: String,
    pub unit_price: Money,
    pub quantity: u32,
    pub line_total: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
    pub total: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentProcessed {
    pub payment_id: String,
    pub amount: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDeclined {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderConfirmed {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    pub tracking_number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDelivered {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub reason: String,
    /// What goes back to the customer: the amount paid, if any.
    pub refund: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderReturned {
    pub reason: String,
    pub refund: Money,
}

crate::domain_events!(
    /// Everything that happens to an order.
    OrderEvent for Order upcast with upcast_order_event {
        // v2: each line records its product's category.
        OrderPlaced = 2,
        PaymentProcessed,
        PaymentDeclined,
        OrderConfirmed,
        OrderShipped,
        OrderDelivered,
        OrderCancelled,
        OrderReturned,
    }
);

/// The category given to lines of orders placed before lines recorded one.
/// An old event cannot know better: the product may have been recategorized
/// or deleted since, so its current category would be a guess presented as
/// a fact.
pub const UNKNOWN_CATEGORY: &str = "uncategorized";

/// Upcasts a stored order event one schema version (see
/// [`crate::event::DomainEvent::upcast`]).
fn upcast_order_event(
    event_type: &str,
    from_version: u16,
    mut payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    match (event_type, from_version) {
        ("OrderPlaced", 1) => {
            let lines = payload
                .get_mut("lines")
                .ok_or("OrderPlaced v1 without lines")?;
            add_unknown_category(lines);
            Ok(payload)
        }
        _ => Err(format!(
            "no upcaster for {event_type} from v{from_version} to v{}",
            from_version + 1
        )),
    }
}

/// Gives every line without a category [`UNKNOWN_CATEGORY`].
fn add_unknown_category(lines: &mut serde_json::Value) {
    for line in lines.as_array_mut().into_iter().flatten() {
        if let Some(line) = line.as_object_mut() {
            line.entry("category")
                .or_insert_with(|| UNKNOWN_CATEGORY.into());
        }
    }
}

/// The order rows of the write model hold the lines too, and rows carry no
/// schema version: rows of orders placed before `OrderPlaced` v2 are read
/// the way the upcaster reads their events.
fn lines_of_any_row<'de, D>(deserializer: D) -> Result<Vec<OrderLine>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let mut lines = serde_json::Value::deserialize(deserializer)?;
    add_unknown_category(&mut lines);
    serde_json::from_value(lines).map_err(serde::de::Error::custom)
}

// ---- state ------------------------------------------------------------------

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Not placed yet (the state before `OrderPlaced`).
    #[default]
    New,
    AwaitingPayment,
    PaymentDeclined,
    Paid,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
    Returned,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::AwaitingPayment,
        OrderStatus::PaymentDeclined,
        OrderStatus::Paid,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Returned,
    ];

    /// Nothing leaves these.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Cancelled | OrderStatus::Returned)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::AwaitingPayment => "awaitingPayment",
            OrderStatus::PaymentDeclined => "paymentDeclined",
            OrderStatus::Paid => "paid",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Returned => "returned",
        }
    }

    /// Stock is still held for the order.
    pub fn holds_stock(self) -> bool {
        matches!(
            self,
            OrderStatus::AwaitingPayment
                | OrderStatus::PaymentDeclined
                | OrderStatus::Paid
                | OrderStatus::Confirmed
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub version: u64,
    pub status: OrderStatus,
    pub customer_id: Option<CustomerId>,
    #[serde(deserialize_with = "lines_of_any_row")]
    pub lines: Vec<OrderLine>,
    pub total: Money,
    /// What the customer has paid and not been refunded.
    pub paid: Money,
    pub payment_id: Option<String>,
    pub tracking_number: Option<String>,
}

pub fn evolve(mut state: Order, event: &OrderEvent) -> Order {
    match event {
        OrderEvent::OrderPlaced(e) => {
            state.status = OrderStatus::AwaitingPayment;
            state.customer_id = Some(e.customer_id);
            state.lines = e.lines.clone();
            state.total = e.total;
        }
        OrderEvent::PaymentProcessed(e) => {
            state.status = OrderStatus::Paid;
            state.paid = e.amount;
            state.payment_id = Some(e.payment_id.clone());
        }
        OrderEvent::PaymentDeclined(_) => state.status = OrderStatus::PaymentDeclined,
        OrderEvent::OrderConfirmed(_) => state.status = OrderStatus::Confirmed,
        OrderEvent::OrderShipped(e) => {
            state.status = OrderStatus::Shipped;
            state.tracking_number = Some(e.tracking_number.clone());
        }
        OrderEvent::OrderDelivered(_) => state.status = OrderStatus::Delivered,
        OrderEvent::OrderCancelled(e) => {
            state.status = OrderStatus::Cancelled;
            state.paid = Money::from_minor(state.paid.minor() - e.refund.minor());
        }
        OrderEvent::OrderReturned(e) => {
            state.status = OrderStatus::Returned;
            state.paid = Money::from_minor(state.paid.minor() - e.refund.minor());
        }
    }
    state.version += 1;
    state
}

/// Events for the order and for each product's inventory, appended together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderDecision {
    pub order: Vec<OrderEvent>,
    pub inventory: Vec<(ProductId, InventoryEvent)>,
}

// ---- rules ------------------------------------------------------------------

fn not_placed(state: &Order, id: OrderId) -> Result<(), DomainError> {
    if state.status == OrderStatus::New {
        Err(DomainError::not_found("order", id))
    } else {
        Ok(())
    }
}

fn refuse(state: &Order, action: &str, why: &str) -> DomainError {
    DomainError::invalid_state(format!(
        "cannot {action} an order that is {}: {why}",
        state.status.as_str()
    ))
}

/// The customer who owns the order (or an admin) may act on it.
fn owner_or_admin(state: &Order, actor: &Actor) -> Result<(), DomainError> {
    match state.customer_id {
        Some(customer) => authz::may_act_for_customer(actor, customer),
        None => authz::require_admin(actor, "act on this order"),
    }
}

/// Prices each line from the catalog and reserves its stock. `catalog` holds
/// the write model's product and inventory for every product in the order.
pub fn decide_place(
    state: &Order,
    cmd: &PlaceOrder,
    catalog: &HashMap<ProductId, (Product, Inventory)>,
    actor: &Actor,
    policy: &OrderPolicy,
) -> Result<OrderDecision, DomainError> {
    authz::may_act_for_customer(actor, cmd.customer_id)?;
    if state.status != OrderStatus::New {
        return Err(DomainError::AlreadyExists {
            aggregate: "order".into(),
            id: cmd.order_id.to_string(),
        });
    }
    if cmd.items.is_empty() {
        return Err(DomainError::invalid(
            "items",
            "must contain at least one item",
        ));
    }
    if cmd.items.len() > policy.max_lines {
        return Err(DomainError::invalid(
            "items",
            format!("at most {} lines per order", policy.max_lines),
        ));
    }
    let mut lines = Vec::with_capacity(cmd.items.len());
    let mut reservations = Vec::with_capacity(cmd.items.len());
    let mut total: i64 = 0;
    for (i, item) in cmd.items.iter().enumerate() {
        if cmd.items[..i]
            .iter()
            .any(|o| o.product_id == item.product_id)
        {
            return Err(DomainError::invalid(
                &format!("items[{i}].productId"),
                "appears twice; send one line with the whole quantity",
            ));
        }
        if item.quantity < 1 {
            return Err(DomainError::invalid(
                &format!("items[{i}].quantity"),
                "must be at least 1",
            ));
        }
        if item.quantity > i64::from(policy.max_quantity) {
            return Err(DomainError::invalid(
                &format!("items[{i}].quantity"),
                format!("must be at most {}", policy.max_quantity),
            ));
        }
        let quantity = item.quantity as u32;
        let Some((product, stock)) = catalog.get(&item.product_id).filter(|(p, _)| p.is_listed())
        else {
            return Err(DomainError::invalid(
                &format!("items[{i}].productId"),
                format!("product {} does not exist", item.product_id),
            ));
        };
        let line_total = product
            .price
            .minor()
            .checked_mul(i64::from(quantity))
            .ok_or_else(|| DomainError::invalid("items", "the order total is too large"))?;
        total = total
            .checked_add(line_total)
            .ok_or_else(|| DomainError::invalid("items", "the order total is too large"))?;
        reservations.push((
            item.product_id,
            inventory::decide_reserve(stock, item.product_id, cmd.order_id, quantity)?,
        ));
        lines.push(OrderLine {
            product_id: item.product_id,
            product_name: product.details.name.clone(),
            category: product.details.category.clone(),
            unit_price: product.price,
            quantity,
            line_total: Money::from_minor(line_total),
        });
    }
    let total = Money::from_minor(total);
    if total < policy.min_total {
        return Err(DomainError::invalid(
            "items",
            format!(
                "the order total {total} is below the minimum order of {}",
                policy.min_total
            ),
        ));
    }
    Ok(OrderDecision {
        order: vec![OrderEvent::OrderPlaced(OrderPlaced {
            customer_id: cmd.customer_id,
            lines,
            total,
        })],
        inventory: reservations,
    })
}

/// Checks that the order can be paid now and returns the amount to charge.
/// The handler then calls the payment provider and records its answer with
/// [`decide_payment_result`].
pub fn check_payable(state: &Order, id: OrderId, actor: &Actor) -> Result<Money, DomainError> {
    not_placed(state, id)?;
    owner_or_admin(state, actor)?;
    match state.status {
        OrderStatus::AwaitingPayment => Ok(state.total),
        OrderStatus::Paid
        | OrderStatus::Confirmed
        | OrderStatus::Shipped
        | OrderStatus::Delivered => Err(refuse(state, "pay for", "it is already paid")),
        OrderStatus::PaymentDeclined => Err(refuse(
            state,
            "pay for",
            "its payment was declined and its stock is being released; place a new order",
        )),
        _ => Err(refuse(state, "pay for", "it is closed")),
    }
}

pub fn decide_payment_result(
    state: &Order,
    id: OrderId,
    actor: &Actor,
    outcome: &PaymentOutcome,
) -> Result<Vec<OrderEvent>, DomainError> {
    let amount = check_payable(state, id, actor)?;
    Ok(vec![match outcome {
        PaymentOutcome::Approved { payment_id } => OrderEvent::PaymentProcessed(PaymentProcessed {
            payment_id: payment_id.clone(),
            amount,
        }),
        PaymentOutcome::Declined { reason } => OrderEvent::PaymentDeclined(PaymentDeclined {
            reason: reason.clone(),
        }),
    }])
}

pub fn decide_confirm(
    state: &Order,
    id: OrderId,
    actor: &Actor,
) -> Result<Vec<OrderEvent>, DomainError> {
    not_placed(state, id)?;
    authz::require_admin(actor, "confirm orders")?;
    if state.status != OrderStatus::Paid {
        return Err(refuse(state, "confirm", "only paid orders are confirmed"));
    }
    Ok(vec![OrderEvent::OrderConfirmed(OrderConfirmed {})])
}

pub fn decide_ship(
    state: &Order,
    id: OrderId,
    tracking_number: &str,
    actor: &Actor,
) -> Result<Vec<OrderEvent>, DomainError> {
    not_placed(state, id)?;
    authz::require_admin(actor, "ship orders")?;
    if state.status != OrderStatus::Confirmed {
        return Err(refuse(state, "ship", "only confirmed orders are shipped"));
    }
    let tracking_number = text::single_line("trackingNumber", tracking_number, TRACKING_MAX_CHARS)?;
    Ok(vec![OrderEvent::OrderShipped(OrderShipped {
        tracking_number,
    })])
}

pub fn decide_deliver(
    state: &Order,
    id: OrderId,
    actor: &Actor,
) -> Result<Vec<OrderEvent>, DomainError> {
    not_placed(state, id)?;
    authz::require_admin(actor, "mark orders delivered")?;
    if state.status != OrderStatus::Shipped {
        return Err(refuse(
            state,
            "deliver",
            "only shipped orders are delivered",
        ));
    }
    Ok(vec![OrderEvent::OrderDelivered(OrderDelivered {})])
}

/// Before shipping only; releases every line's stock and refunds what was paid.
pub fn decide_cancel(
    state: &Order,
    id: OrderId,
    reason: &str,
    inventories: &HashMap<ProductId, Inventory>,
    actor: &Actor,
) -> Result<OrderDecision, DomainError> {
    not_placed(state, id)?;
    owner_or_admin(state, actor)?;
    if !state.status.holds_stock() {
        let why = match state.status {
            OrderStatus::Shipped | OrderStatus::Delivered => {
                "it has shipped; return it after delivery instead"
            }
            _ => "it is closed",
        };
        return Err(refuse(state, "cancel", why));
    }
    let reason = text::single_line("reason", reason, REASON_MAX_CHARS)?;
    let mut releases = Vec::with_capacity(state.lines.len());
    for line in &state.lines {
        let stock = inventories
            .get(&line.product_id)
            .cloned()
            .unwrap_or_default();
        releases.push((
            line.product_id,
            inventory::decide_release(&stock, id, line.quantity, &reason),
        ));
    }
    Ok(OrderDecision {
        order: vec![OrderEvent::OrderCancelled(OrderCancelled {
            reason,
            refund: state.paid,
        })],
        inventory: releases,
    })
}

/// After delivery only; refunds what was paid and puts the units back.
pub fn decide_return(
    state: &Order,
    id: OrderId,
    reason: &str,
    inventories: &HashMap<ProductId, Inventory>,
    actor: &Actor,
) -> Result<OrderDecision, DomainError> {
    not_placed(state, id)?;
    owner_or_admin(state, actor)?;
    if state.status != OrderStatus::Delivered {
        return Err(refuse(
            state,
            "return",
            "only delivered orders can be returned",
        ));
    }
    let reason = text::single_line("reason", reason, REASON_MAX_CHARS)?;
    let restocks = state
        .lines
        .iter()
        .map(|line| {
            let stock = inventories
                .get(&line.product_id)
                .cloned()
                .unwrap_or_default();
            (
                line.product_id,
                inventory::decide_restock(&stock, id, line.quantity),
            )
        })
        .collect();
    Ok(OrderDecision {
        order: vec![OrderEvent::OrderReturned(OrderReturned {
            reason,
            refund: state.paid,
        })],
        inventory: restocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ActorRole, DomainEvent};
    use crate::ids::SellerId;
    use crate::inventory::{InventoryAdjusted, StockReleased, StockReserved};
    use crate::product::{
        self, PriceChanged, ProductCreated, ProductDeleted, ProductDetails, ProductEvent,
    };

    const LAMP_PRICE: i64 = 1_250;
    const MUG_PRICE: i64 = 400;
    /// The fixture order: 2 lamps (25.00) and 3 mugs (12.00).
    const TOTAL: i64 = 2 * LAMP_PRICE + 3 * MUG_PRICE;
    const PAYMENT_ID: &str = "pay-1";
    const DECLINE_REASON: &str = "card declined";
    const TRACKING: &str = "TRK-1";
    const REASON: &str = "changed my mind";

    fn product(name: &str, price: i64) -> Product {
        product_in(name, "Home", price)
    }

    fn product_in(name: &str, category: &str, price: i64) -> Product {
        product::evolve(
            Product::default(),
            &ProductEvent::ProductCreated(ProductCreated {
                seller_id: SellerId::HOUSE,
                details: ProductDetails {
                    name: name.into(),
                    category: category.into(),
                    ..ProductDetails::default()
                },
                price: Money::from_minor(price),
            }),
        )
    }

    fn stock(units: u32) -> Inventory {
        inventory::evolve(
            Inventory::default(),
            &InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                delta: i64::from(units),
                reason: "initial stock".into(),
                available: units,
            }),
        )
    }

    fn admin() -> Actor {
        Actor {
            id: "admin-1".into(),
            role: ActorRole::Admin,
        }
    }

    fn customer(id: CustomerId) -> Actor {
        Actor {
            id: id.to_string(),
            role: ActorRole::Customer,
        }
    }

    fn seller() -> Actor {
        Actor {
            id: SellerId::new().to_string(),
            role: ActorRole::Seller,
        }
    }

    fn item(product_id: ProductId, quantity: i64) -> OrderItem {
        OrderItem {
            product_id,
            quantity,
        }
    }

    fn given(events: &[OrderEvent]) -> Order {
        events.iter().fold(Order::default(), evolve)
    }

    fn field_of<T: std::fmt::Debug>(result: Result<T, DomainError>) -> String {
        match result {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn is_invalid_state<T: std::fmt::Debug>(result: &Result<T, DomainError>) -> bool {
        matches!(result, Err(DomainError::InvalidState { .. }))
    }

    fn is_forbidden<T: std::fmt::Debug>(result: &Result<T, DomainError>) -> bool {
        matches!(result, Err(DomainError::Forbidden { .. }))
    }

    /// A shop with a lamp (Lighting, 12.50, 10 in stock) and a mug (Kitchen,
    /// 4.00, 20 in stock), one customer, and the events of one order of 2
    /// lamps and 3 mugs.
    struct Fixture {
        lamp: ProductId,
        mug: ProductId,
        catalog: HashMap<ProductId, (Product, Inventory)>,
        customer: CustomerId,
        order_id: OrderId,
    }

    impl Fixture {
        fn new() -> Self {
            let lamp = ProductId::new();
            let mug = ProductId::new();
            let catalog = HashMap::from([
                (
                    lamp,
                    (product_in("Desk lamp", "Lighting", LAMP_PRICE), stock(10)),
                ),
                (mug, (product_in("Mug", "Kitchen", MUG_PRICE), stock(20))),
            ]);
            Fixture {
                lamp,
                mug,
                catalog,
                customer: CustomerId::new(),
                order_id: OrderId::new(),
            }
        }

        fn owner(&self) -> Actor {
            customer(self.customer)
        }

        fn place_cmd(&self, items: Vec<OrderItem>) -> PlaceOrder {
            PlaceOrder {
                order_id: self.order_id,
                customer_id: self.customer,
                items,
            }
        }

        fn place(&self, items: Vec<OrderItem>) -> Result<OrderDecision, DomainError> {
            decide_place(
                &Order::default(),
                &self.place_cmd(items),
                &self.catalog,
                &self.owner(),
                &OrderPolicy::default(),
            )
        }

        fn lines(&self) -> Vec<OrderLine> {
            vec![
                OrderLine {
                    product_id: self.lamp,
                    product_name: "Desk lamp".into(),
                    category: "Lighting".into(),
                    unit_price: Money::from_minor(LAMP_PRICE),
                    quantity: 2,
                    line_total: Money::from_minor(2 * LAMP_PRICE),
                },
                OrderLine {
                    product_id: self.mug,
                    product_name: "Mug".into(),
                    category: "Kitchen".into(),
                    unit_price: Money::from_minor(MUG_PRICE),
                    quantity: 3,
                    line_total: Money::from_minor(3 * MUG_PRICE),
                },
            ]
        }

        fn placed(&self) -> OrderEvent {
            OrderEvent::OrderPlaced(OrderPlaced {
                customer_id: self.customer,
                lines: self.lines(),
                total: Money::from_minor(TOTAL),
            })
        }

        /// The events that lead to `status` (the given-events of a test).
        fn history(&self, status: OrderStatus) -> Vec<OrderEvent> {
            let paid = OrderEvent::PaymentProcessed(PaymentProcessed {
                payment_id: PAYMENT_ID.into(),
                amount: Money::from_minor(TOTAL),
            });
            let confirmed = OrderEvent::OrderConfirmed(OrderConfirmed {});
            let shipped = OrderEvent::OrderShipped(OrderShipped {
                tracking_number: TRACKING.into(),
            });
            let delivered = OrderEvent::OrderDelivered(OrderDelivered {});
            match status {
                OrderStatus::New => vec![],
                OrderStatus::AwaitingPayment => vec![self.placed()],
                OrderStatus::PaymentDeclined => vec![
                    self.placed(),
                    OrderEvent::PaymentDeclined(PaymentDeclined {
                        reason: DECLINE_REASON.into(),
                    }),
                ],
                OrderStatus::Paid => vec![self.placed(), paid],
                OrderStatus::Confirmed => vec![self.placed(), paid, confirmed],
                OrderStatus::Shipped => vec![self.placed(), paid, confirmed, shipped],
                OrderStatus::Delivered => {
                    vec![self.placed(), paid, confirmed, shipped, delivered]
                }
                OrderStatus::Cancelled => vec![
                    self.placed(),
                    paid,
                    OrderEvent::OrderCancelled(OrderCancelled {
                        reason: REASON.into(),
                        refund: Money::from_minor(TOTAL),
                    }),
                ],
                OrderStatus::Returned => vec![
                    self.placed(),
                    paid,
                    confirmed,
                    shipped,
                    delivered,
                    OrderEvent::OrderReturned(OrderReturned {
                        reason: REASON.into(),
                        refund: Money::from_minor(TOTAL),
                    }),
                ],
            }
        }

        fn order_in(&self, status: OrderStatus) -> Order {
            let order = given(&self.history(status));
            assert_eq!(order.status, status, "fixture history for {status:?}");
            order
        }

        /// Each product's inventory with the fixture order's units reserved.
        fn inventories(&self) -> HashMap<ProductId, Inventory> {
            [(self.lamp, 2), (self.mug, 3)]
                .into_iter()
                .map(|(id, quantity)| {
                    let before = self.catalog[&id].1.clone();
                    let reserved = inventory::evolve(
                        before.clone(),
                        &InventoryEvent::StockReserved(StockReserved {
                            order_id: self.order_id,
                            quantity,
                            available: before.available - quantity,
                        }),
                    );
                    (id, reserved)
                })
                .collect()
        }

        fn run(
            &self,
            state: &Order,
            action: Action,
            actor: &Actor,
        ) -> Result<OrderDecision, DomainError> {
            let order_only = |events: Result<Vec<OrderEvent>, DomainError>| {
                events.map(|order| OrderDecision {
                    order,
                    inventory: vec![],
                })
            };
            let id = self.order_id;
            match action {
                Action::Place => decide_place(
                    state,
                    &self.place_cmd(vec![item(self.lamp, 2), item(self.mug, 3)]),
                    &self.catalog,
                    actor,
                    &OrderPolicy::default(),
                ),
                Action::PayApproved | Action::PayDeclined => {
                    let outcome = if action == Action::PayApproved {
                        PaymentOutcome::Approved {
                            payment_id: PAYMENT_ID.into(),
                        }
                    } else {
                        PaymentOutcome::Declined {
                            reason: DECLINE_REASON.into(),
                        }
                    };
                    let payable = check_payable(state, id, actor);
                    let result = decide_payment_result(state, id, actor, &outcome);
                    // Both answer the same: the handler checks before charging
                    // and records the provider's answer after.
                    assert_eq!(payable.clone().err(), result.clone().err());
                    if let Ok(amount) = payable {
                        assert_eq!(amount, state.total);
                    }
                    order_only(result)
                }
                Action::Confirm => order_only(decide_confirm(state, id, actor)),
                Action::Ship => order_only(decide_ship(state, id, TRACKING, actor)),
                Action::Deliver => order_only(decide_deliver(state, id, actor)),
                Action::Cancel => decide_cancel(state, id, REASON, &self.inventories(), actor),
                Action::Return => decide_return(state, id, REASON, &self.inventories(), actor),
            }
        }

        /// The exact decision an allowed action makes from `status`.
        fn expected(&self, status: OrderStatus, action: Action) -> OrderDecision {
            let paid = if matches!(status, OrderStatus::Paid | OrderStatus::Confirmed) {
                TOTAL
            } else {
                0
            };
            let order = |event| OrderDecision {
                order: vec![event],
                inventory: vec![],
            };
            match action {
                Action::Place => OrderDecision {
                    order: vec![self.placed()],
                    inventory: vec![
                        (
                            self.lamp,
                            InventoryEvent::StockReserved(StockReserved {
                                order_id: self.order_id,
                                quantity: 2,
                                available: 8,
                            }),
                        ),
                        (
                            self.mug,
                            InventoryEvent::StockReserved(StockReserved {
                                order_id: self.order_id,
                                quantity: 3,
                                available: 17,
                            }),
                        ),
                    ],
                },
                Action::PayApproved => order(OrderEvent::PaymentProcessed(PaymentProcessed {
                    payment_id: PAYMENT_ID.into(),
                    amount: Money::from_minor(TOTAL),
                })),
                Action::PayDeclined => order(OrderEvent::PaymentDeclined(PaymentDeclined {
                    reason: DECLINE_REASON.into(),
                })),
                Action::Confirm => order(OrderEvent::OrderConfirmed(OrderConfirmed {})),
                Action::Ship => order(OrderEvent::OrderShipped(OrderShipped {
                    tracking_number: TRACKING.into(),
                })),
                Action::Deliver => order(OrderEvent::OrderDelivered(OrderDelivered {})),
                Action::Cancel => OrderDecision {
                    order: vec![OrderEvent::OrderCancelled(OrderCancelled {
                        reason: REASON.into(),
                        refund: Money::from_minor(paid),
                    })],
                    inventory: [(self.lamp, 2, 10), (self.mug, 3, 20)]
                        .into_iter()
                        .map(|(id, quantity, available)| {
                            (
                                id,
                                InventoryEvent::StockReleased(StockReleased {
                                    order_id: self.order_id,
                                    quantity,
                                    reason: REASON.into(),
                                    available,
                                }),
                            )
                        })
                        .collect(),
                },
                Action::Return => OrderDecision {
                    order: vec![OrderEvent::OrderReturned(OrderReturned {
                        reason: REASON.into(),
                        refund: Money::from_minor(TOTAL),
                    })],
                    inventory: [(self.lamp, 2, 10), (self.mug, 3, 20)]
                        .into_iter()
                        .map(|(id, quantity, available)| {
                            (
                                id,
                                InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                                    delta: quantity,
                                    reason: format!("returned with order {}", self.order_id),
                                    available,
                                }),
                            )
                        })
                        .collect(),
                },
            }
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Action {
        Place,
        PayApproved,
        PayDeclined,
        Confirm,
        Ship,
        Deliver,
        Cancel,
        Return,
    }

    const ACTIONS: [Action; 8] = [
        Action::Place,
        Action::PayApproved,
        Action::PayDeclined,
        Action::Confirm,
        Action::Ship,
        Action::Deliver,
        Action::Cancel,
        Action::Return,
    ];

    /// The lifecycle: where each allowed (status, action) leads. Every pair
    /// not listed is refused.
    fn transition(status: OrderStatus, action: Action) -> Option<OrderStatus> {
        use OrderStatus as S;
        match (status, action) {
            (S::New, Action::Place) => Some(S::AwaitingPayment),
            (S::AwaitingPayment, Action::PayApproved) => Some(S::Paid),
            (S::AwaitingPayment, Action::PayDeclined) => Some(S::PaymentDeclined),
            (S::Paid, Action::Confirm) => Some(S::Confirmed),
            (S::Confirmed, Action::Ship) => Some(S::Shipped),
            (S::Shipped, Action::Deliver) => Some(S::Delivered),
            (S::Delivered, Action::Return) => Some(S::Returned),
            (S::AwaitingPayment | S::PaymentDeclined | S::Paid | S::Confirmed, Action::Cancel) => {
                Some(S::Cancelled)
            }
            _ => None,
        }
    }

    // ---- placing ----------------------------------------------------------

    #[test]
    fn place_prices_lines_from_the_catalog_and_reserves_stock() {
        let fx = Fixture::new();
        let decision = fx.place(vec![item(fx.lamp, 2), item(fx.mug, 3)]).unwrap();
        assert_eq!(decision, fx.expected(OrderStatus::New, Action::Place));
        let order = given(&decision.order);
        assert_eq!(order.status, OrderStatus::AwaitingPayment);
        assert_eq!(order.version, 1);
        assert_eq!(order.customer_id, Some(fx.customer));
        assert_eq!(order.total, Money::from_minor(TOTAL));
        assert_eq!(order.paid, Money::ZERO);
        assert_eq!(order.lines, fx.lines());
    }

    #[test]
    fn prices_follow_the_catalog_at_the_time_of_the_order() {
        let mut fx = Fixture::new();
        let (lamp, lamp_stock) = fx.catalog[&fx.lamp].clone();
        let repriced = product::evolve(
            lamp,
            &ProductEvent::PriceChanged(PriceChanged {
                old_price: Money::from_minor(LAMP_PRICE),
                new_price: Money::from_minor(1_999),
                cut_override: false,
            }),
        );
        fx.catalog.insert(fx.lamp, (repriced, lamp_stock));
        let decision = fx.place(vec![item(fx.lamp, 3)]).unwrap();
        let OrderEvent::OrderPlaced(placed) = &decision.order[0] else {
            panic!("expected OrderPlaced, got {decision:?}");
        };
        assert_eq!(
            placed.lines,
            vec![OrderLine {
                product_id: fx.lamp,
                product_name: "Desk lamp".into(),
                category: "Lighting".into(),
                unit_price: Money::from_minor(1_999),
                quantity: 3,
                line_total: Money::from_minor(5_997),
            }]
        );
        assert_eq!(placed.total, Money::from_minor(5_997));
    }

    #[test]
    fn place_refuses_an_empty_order() {
        let fx = Fixture::new();
        assert_eq!(field_of(fx.place(vec![])), "items");
    }

    #[test]
    fn place_refuses_more_lines_than_the_policy_allows() {
        let fx = Fixture::new();
        let policy = OrderPolicy {
            max_lines: 1,
            ..OrderPolicy::default()
        };
        let result = decide_place(
            &Order::default(),
            &fx.place_cmd(vec![item(fx.lamp, 1), item(fx.mug, 1)]),
            &fx.catalog,
            &fx.owner(),
            &policy,
        );
        assert_eq!(field_of(result), "items");
    }

    #[test]
    fn place_refuses_quantities_outside_one_to_the_maximum() {
        let mut fx = Fixture::new();
        fx.catalog
            .insert(fx.mug, (product("Mug", MUG_PRICE), stock(5_000)));
        for quantity in [0, -1, i64::MIN, 1_001, i64::MAX] {
            assert_eq!(
                field_of(fx.place(vec![item(fx.lamp, 1), item(fx.mug, quantity)])),
                "items[1].quantity",
                "quantity {quantity}"
            );
        }
        let max = OrderPolicy::default().max_quantity;
        let decision = fx.place(vec![item(fx.mug, i64::from(max))]).unwrap();
        assert_eq!(
            decision.inventory,
            vec![(
                fx.mug,
                InventoryEvent::StockReserved(StockReserved {
                    order_id: fx.order_id,
                    quantity: max,
                    available: 5_000 - max,
                })
            )]
        );
    }

    #[test]
    fn place_refuses_the_same_product_twice() {
        let fx = Fixture::new();
        assert_eq!(
            field_of(fx.place(vec![item(fx.lamp, 1), item(fx.lamp, 1)])),
            "items[1].productId"
        );
    }

    #[test]
    fn place_refuses_unknown_and_deleted_products() {
        let mut fx = Fixture::new();
        assert_eq!(
            field_of(fx.place(vec![item(fx.lamp, 1), item(ProductId::new(), 1)])),
            "items[1].productId"
        );
        let (lamp, lamp_stock) = fx.catalog[&fx.lamp].clone();
        let deleted = product::evolve(
            lamp,
            &ProductEvent::ProductDeleted(ProductDeleted {
                reason: "discontinued".into(),
            }),
        );
        fx.catalog.insert(fx.lamp, (deleted, lamp_stock));
        assert_eq!(
            field_of(fx.place(vec![item(fx.lamp, 1), item(fx.mug, 3)])),
            "items[0].productId"
        );
        // A catalog entry that was never created is unknown too.
        let never = ProductId::new();
        fx.catalog.insert(never, (Product::default(), stock(10)));
        assert_eq!(
            field_of(fx.place(vec![item(never, 1)])),
            "items[0].productId"
        );
    }

    #[test]
    fn place_refuses_a_total_below_the_minimum() {
        let mut fx = Fixture::new();
        // 2 mugs: 8.00.
        assert_eq!(field_of(fx.place(vec![item(fx.mug, 2)])), "items");
        // 9.99 is refused, exactly 10.00 accepted.
        let cheap = ProductId::new();
        fx.catalog
            .insert(cheap, (product("Pencil", 333), stock(10)));
        assert_eq!(field_of(fx.place(vec![item(cheap, 3)])), "items");
        let fiver = ProductId::new();
        fx.catalog
            .insert(fiver, (product("Notebook", 500), stock(10)));
        let decision = fx.place(vec![item(fiver, 2)]).unwrap();
        let order = given(&decision.order);
        assert_eq!(order.total, OrderPolicy::default().min_total);
    }

    #[test]
    fn place_refuses_more_than_the_stock_naming_the_product() {
        let fx = Fixture::new();
        assert_eq!(
            fx.place(vec![item(fx.lamp, 11)]),
            Err(DomainError::InsufficientStock {
                product_id: fx.lamp.to_string(),
                requested: 11,
                available: 10,
            })
        );
        assert_eq!(
            fx.place(vec![item(fx.lamp, 1), item(fx.mug, 21)]),
            Err(DomainError::InsufficientStock {
                product_id: fx.mug.to_string(),
                requested: 21,
                available: 20,
            })
        );
        // All of it is fine.
        let decision = fx.place(vec![item(fx.lamp, 10)]).unwrap();
        assert!(matches!(
            &decision.inventory[..],
            [(id, InventoryEvent::StockReserved(StockReserved { quantity: 10, available: 0, .. }))]
                if *id == fx.lamp
        ));
    }

    #[test]
    fn place_refuses_a_product_without_inventory() {
        let mut fx = Fixture::new();
        let lamp = fx.catalog[&fx.lamp].0.clone();
        fx.catalog.insert(fx.lamp, (lamp, Inventory::default()));
        assert_eq!(
            fx.place(vec![item(fx.lamp, 1)]),
            Err(DomainError::InsufficientStock {
                product_id: fx.lamp.to_string(),
                requested: 1,
                available: 0,
            })
        );
    }

    #[test]
    fn placing_an_order_twice_is_refused() {
        let fx = Fixture::new();
        for status in OrderStatus::ALL {
            let result = fx.run(&fx.order_in(status), Action::Place, &fx.owner());
            assert_eq!(
                result,
                Err(DomainError::AlreadyExists {
                    aggregate: "order".into(),
                    id: fx.order_id.to_string(),
                }),
                "{status:?}"
            );
        }
    }

    #[test]
    fn customers_place_orders_only_for_themselves() {
        let fx = Fixture::new();
        let state = Order::default();
        assert!(is_forbidden(&fx.run(
            &state,
            Action::Place,
            &customer(CustomerId::new())
        )));
        assert!(is_forbidden(&fx.run(&state, Action::Place, &seller())));
        for actor in [fx.owner(), admin(), Actor::system("demo")] {
            assert_eq!(
                fx.run(&state, Action::Place, &actor),
                Ok(fx.expected(OrderStatus::New, Action::Place)),
                "{actor:?}"
            );
        }
    }

    // ---- the lifecycle ----------------------------------------------------

    #[test]
    fn every_status_and_action_follows_the_lifecycle() {
        let fx = Fixture::new();
        for status in OrderStatus::ALL {
            let state = fx.order_in(status);
            for action in ACTIONS {
                if action == Action::Place {
                    continue; // placing twice: see placing_an_order_twice_is_refused
                }
                let result = fx.run(&state, action, &admin());
                match transition(status, action) {
                    Some(next) => {
                        let decision = result
                            .unwrap_or_else(|e| panic!("{action:?} from {status:?} refused: {e}"));
                        assert_eq!(
                            decision,
                            fx.expected(status, action),
                            "{action:?} from {status:?}"
                        );
                        let after = decision.order.iter().fold(state.clone(), evolve);
                        assert_eq!(after.status, next, "{action:?} from {status:?}");
                        assert_eq!(after.version, state.version + 1);
                    }
                    None => assert!(
                        is_invalid_state(&result),
                        "{action:?} from {status:?}: expected InvalidState, got {result:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn an_order_not_yet_placed_is_not_found() {
        let fx = Fixture::new();
        for action in ACTIONS {
            if action == Action::Place {
                continue;
            }
            assert_eq!(
                fx.run(&Order::default(), action, &admin()),
                Err(DomainError::not_found("order", fx.order_id)),
                "{action:?}"
            );
        }
    }

    #[test]
    fn an_approved_payment_pays_the_total() {
        let fx = Fixture::new();
        let state = fx.order_in(OrderStatus::AwaitingPayment);
        assert_eq!(
            check_payable(&state, fx.order_id, &fx.owner()),
            Ok(Money::from_minor(TOTAL))
        );
        let outcome = PaymentOutcome::Approved {
            payment_id: PAYMENT_ID.into(),
        };
        let events = decide_payment_result(&state, fx.order_id, &fx.owner(), &outcome).unwrap();
        assert_eq!(
            events,
            vec![OrderEvent::PaymentProcessed(PaymentProcessed {
                payment_id: PAYMENT_ID.into(),
                amount: Money::from_minor(TOTAL),
            })]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!(state.status, OrderStatus::Paid);
        assert_eq!(state.paid, Money::from_minor(TOTAL));
        assert_eq!(state.payment_id.as_deref(), Some(PAYMENT_ID));
        assert!(is_invalid_state(&check_payable(
            &state,
            fx.order_id,
            &fx.owner()
        )));
    }

    #[test]
    fn a_declined_payment_keeps_nothing_and_the_order_can_only_be_cancelled() {
        let fx = Fixture::new();
        let state = fx.order_in(OrderStatus::AwaitingPayment);
        let outcome = PaymentOutcome::Declined {
            reason: DECLINE_REASON.into(),
        };
        let events = decide_payment_result(&state, fx.order_id, &fx.owner(), &outcome).unwrap();
        assert_eq!(
            events,
            vec![OrderEvent::PaymentDeclined(PaymentDeclined {
                reason: DECLINE_REASON.into(),
            })]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!(
            (state.status, state.paid, state.payment_id.clone()),
            (OrderStatus::PaymentDeclined, Money::ZERO, None)
        );
        assert!(is_invalid_state(&check_payable(
            &state,
            fx.order_id,
            &fx.owner()
        )));
        let cancelled =
            decide_cancel(&state, fx.order_id, REASON, &fx.inventories(), &fx.owner()).unwrap();
        assert_eq!(
            cancelled,
            fx.expected(OrderStatus::PaymentDeclined, Action::Cancel)
        );
    }

    #[test]
    fn cancelling_before_payment_releases_the_stock_and_refunds_nothing() {
        let fx = Fixture::new();
        let state = fx.order_in(OrderStatus::AwaitingPayment);
        let decision =
            decide_cancel(&state, fx.order_id, REASON, &fx.inventories(), &fx.owner()).unwrap();
        assert_eq!(
            decision,
            fx.expected(OrderStatus::AwaitingPayment, Action::Cancel)
        );
        let OrderEvent::OrderCancelled(e) = &decision.order[0] else {
            panic!("expected OrderCancelled, got {decision:?}");
        };
        assert_eq!(e.refund, Money::ZERO);
        // The released units are the reserved ones: back to the initial stock.
        let inventories = fx.inventories();
        for (id, event) in &decision.inventory {
            let after = inventory::evolve(inventories[id].clone(), event);
            assert_eq!(after.available, fx.catalog[id].1.available);
            assert_eq!(after.reserved, 0);
        }
    }

    #[test]
    fn cancelling_after_payment_refunds_what_was_paid() {
        let fx = Fixture::new();
        for status in [OrderStatus::Paid, OrderStatus::Confirmed] {
            let state = fx.order_in(status);
            let decision =
                decide_cancel(&state, fx.order_id, REASON, &fx.inventories(), &admin()).unwrap();
            assert_eq!(decision, fx.expected(status, Action::Cancel));
            let state = decision.order.iter().fold(state, evolve);
            assert_eq!(
                (state.status, state.paid),
                (OrderStatus::Cancelled, Money::ZERO)
            );
        }
    }

    #[test]
    fn a_shipped_order_cannot_be_cancelled() {
        let fx = Fixture::new();
        for status in [OrderStatus::Shipped, OrderStatus::Delivered] {
            let result = decide_cancel(
                &fx.order_in(status),
                fx.order_id,
                REASON,
                &fx.inventories(),
                &admin(),
            );
            assert!(is_invalid_state(&result), "{status:?}: {result:?}");
        }
    }

    #[test]
    fn cancel_and_return_need_a_reason() {
        let fx = Fixture::new();
        let placed = fx.order_in(OrderStatus::AwaitingPayment);
        let delivered = fx.order_in(OrderStatus::Delivered);
        for reason in ["", "  ", "a\nb"] {
            assert_eq!(
                field_of(decide_cancel(
                    &placed,
                    fx.order_id,
                    reason,
                    &fx.inventories(),
                    &admin()
                )),
                "reason"
            );
            assert_eq!(
                field_of(decide_return(
                    &delivered,
                    fx.order_id,
                    reason,
                    &fx.inventories(),
                    &admin()
                )),
                "reason"
            );
        }
        let long = "x".repeat(REASON_MAX_CHARS + 1);
        assert_eq!(
            field_of(decide_cancel(
                &placed,
                fx.order_id,
                &long,
                &fx.inventories(),
                &admin()
            )),
            "reason"
        );
    }

    #[test]
    fn shipping_needs_a_tracking_number() {
        let fx = Fixture::new();
        let state = fx.order_in(OrderStatus::Confirmed);
        for tracking in ["", "   ", "TRK\n1"] {
            assert_eq!(
                field_of(decide_ship(&state, fx.order_id, tracking, &admin())),
                "trackingNumber"
            );
        }
        let long = "x".repeat(TRACKING_MAX_CHARS + 1);
        assert_eq!(
            field_of(decide_ship(&state, fx.order_id, &long, &admin())),
            "trackingNumber"
        );
        let events = decide_ship(&state, fx.order_id, "  TRK-9 ", &admin()).unwrap();
        assert_eq!(
            events,
            vec![OrderEvent::OrderShipped(OrderShipped {
                tracking_number: "TRK-9".into()
            })]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!(state.tracking_number.as_deref(), Some("TRK-9"));
    }

    #[test]
    fn returning_a_delivered_order_refunds_and_restocks() {
        let fx = Fixture::new();
        let state = fx.order_in(OrderStatus::Delivered);
        let decision =
            decide_return(&state, fx.order_id, REASON, &fx.inventories(), &fx.owner()).unwrap();
        assert_eq!(
            decision,
            fx.expected(OrderStatus::Delivered, Action::Return)
        );
        let state = decision.order.iter().fold(state, evolve);
        assert_eq!(
            (state.status, state.paid),
            (OrderStatus::Returned, Money::ZERO)
        );
    }

    #[test]
    fn a_full_lifecycle_from_placing_to_returning() {
        let fx = Fixture::new();
        let mut inventories: HashMap<ProductId, Inventory> = fx
            .catalog
            .iter()
            .map(|(id, (_, stock))| (*id, stock.clone()))
            .collect();
        let mut state = Order::default();
        let steps = [
            (Action::Place, fx.owner()),
            (Action::PayApproved, fx.owner()),
            (Action::Confirm, admin()),
            (Action::Ship, admin()),
            (Action::Deliver, Actor::system("carrier")),
            (Action::Return, fx.owner()),
        ];
        for (i, (action, actor)) in steps.into_iter().enumerate() {
            let decision = match action {
                Action::Return => {
                    decide_return(&state, fx.order_id, REASON, &inventories, &actor).unwrap()
                }
                _ => fx.run(&state, action, &actor).unwrap(),
            };
            state = decision.order.iter().fold(state, evolve);
            for (id, event) in &decision.inventory {
                let current = inventories.remove(id).unwrap();
                inventories.insert(*id, inventory::evolve(current, event));
            }
            assert_eq!(state.version, i as u64 + 1);
            assert_eq!(state.total, Money::from_minor(TOTAL));
        }
        assert_eq!(state.status, OrderStatus::Returned);
        assert_eq!(state.paid, Money::ZERO);
        assert_eq!(inventories[&fx.lamp].available, 10);
        assert_eq!(inventories[&fx.mug].available, 20);
    }

    // ---- who may do what ---------------------------------------------------

    #[test]
    fn the_owner_or_staff_pay_cancel_and_return() {
        let fx = Fixture::new();
        let cases = [
            (OrderStatus::AwaitingPayment, Action::PayApproved),
            (OrderStatus::AwaitingPayment, Action::PayDeclined),
            (OrderStatus::AwaitingPayment, Action::Cancel),
            (OrderStatus::Paid, Action::Cancel),
            (OrderStatus::Delivered, Action::Return),
        ];
        for (status, action) in cases {
            let state = fx.order_in(status);
            let other = customer(CustomerId::new());
            for refused in [other, seller()] {
                let result = fx.run(&state, action, &refused);
                assert!(
                    is_forbidden(&result),
                    "{action:?} by {refused:?}: {result:?}"
                );
            }
            for allowed in [fx.owner(), admin(), Actor::system("payments")] {
                assert_eq!(
                    fx.run(&state, action, &allowed),
                    Ok(fx.expected(status, action)),
                    "{action:?} by {allowed:?}"
                );
            }
        }
        let state = fx.order_in(OrderStatus::AwaitingPayment);
        assert!(is_forbidden(&check_payable(
            &state,
            fx.order_id,
            &customer(CustomerId::new())
        )));
        assert!(is_forbidden(&check_payable(&state, fx.order_id, &seller())));
    }

    #[test]
    fn only_staff_confirm_ship_and_deliver() {
        let fx = Fixture::new();
        let cases = [
            (OrderStatus::Paid, Action::Confirm),
            (OrderStatus::Confirmed, Action::Ship),
            (OrderStatus::Shipped, Action::Deliver),
        ];
        for (status, action) in cases {
            let state = fx.order_in(status);
            for refused in [fx.owner(), customer(CustomerId::new()), seller()] {
                let result = fx.run(&state, action, &refused);
                assert!(
                    is_forbidden(&result),
                    "{action:?} by {refused:?}: {result:?}"
                );
            }
            for allowed in [admin(), Actor::system("fulfilment")] {
                assert_eq!(
                    fx.run(&state, action, &allowed),
                    Ok(fx.expected(status, action)),
                    "{action:?} by {allowed:?}"
                );
            }
        }
    }

    // ---- stored form ------------------------------------------------------

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let fx = Fixture::new();
        let mut events = fx.history(OrderStatus::Returned);
        events.extend(fx.history(OrderStatus::Cancelled));
        events.extend(fx.history(OrderStatus::PaymentDeclined));
        let types: std::collections::HashSet<&str> =
            events.iter().map(|e| e.event_type()).collect();
        assert_eq!(types.len(), 8, "every order event type is covered");
        for event in events {
            let decoded = OrderEvent::decode(
                event.event_type(),
                event.schema_version(),
                &event.payload_json(),
            );
            assert_eq!(decoded, Ok(event));
        }
        assert!(OrderEvent::decode("StockReserved", 1, &serde_json::json!({})).is_err());
        assert!(OrderEvent::decode("OrderPlaced", 2, &serde_json::json!({})).is_err());
    }

    /// The fixture's `OrderPlaced` as a build before v2 wrote it.
    fn order_placed_v1(fx: &Fixture) -> serde_json::Value {
        let mut payload = fx.placed().payload_json();
        for line in payload["lines"].as_array_mut().unwrap() {
            line.as_object_mut().unwrap().remove("category");
        }
        payload
    }

    fn with_unknown_categories(fx: &Fixture) -> OrderEvent {
        let mut lines = fx.lines();
        for line in &mut lines {
            line.category = UNKNOWN_CATEGORY.into();
        }
        OrderEvent::OrderPlaced(OrderPlaced {
            customer_id: fx.customer,
            lines,
            total: Money::from_minor(TOTAL),
        })
    }

    #[test]
    fn order_placed_is_written_at_v2_and_everything_else_at_v1() {
        let fx = Fixture::new();
        assert_eq!(fx.placed().schema_version(), 2);
        for event in fx.history(OrderStatus::Returned).iter().skip(1) {
            assert_eq!(event.schema_version(), 1, "{}", event.event_type());
        }
    }

    #[test]
    fn order_placed_v1_upcasts_to_v2_with_unknown_categories() {
        let fx = Fixture::new();
        let v1 = order_placed_v1(&fx);
        assert!(v1["lines"][0].get("category").is_none());
        let mut v2 = v1.clone();
        for line in v2["lines"].as_array_mut().unwrap() {
            line["category"] = UNKNOWN_CATEGORY.into();
        }
        assert_eq!(upcast_order_event("OrderPlaced", 1, v1.clone()), Ok(v2));
        assert_eq!(
            OrderEvent::decode("OrderPlaced", 1, &v1),
            Ok(with_unknown_categories(&fx))
        );
        // A v1 payload is not a v2 one: v2 requires the category.
        assert!(OrderEvent::decode("OrderPlaced", 2, &v1).is_err());
        assert!(OrderEvent::decode("OrderPlaced", 1, &serde_json::json!({})).is_err());
    }

    #[test]
    fn a_decoded_v1_envelope_says_it_now_holds_v2() {
        let fx = Fixture::new();
        let stored = crate::event::StoredEvent {
            event_id: crate::ids::EventId::new(),
            event_type: "OrderPlaced".into(),
            schema_version: 1,
            aggregate_type: crate::event::AggregateType::Order,
            aggregate_id: fx.order_id.to_string(),
            aggregate_version: 1,
            occurred_at: time::OffsetDateTime::UNIX_EPOCH,
            actor: fx.owner(),
            command_id: crate::ids::CommandId::new(),
            correlation_id: uuid::Uuid::nil(),
            payload: order_placed_v1(&fx),
        };
        let decoded = OrderEvent::decode_envelope(&stored).unwrap();
        assert_eq!(decoded.schema_version, 2);
        assert_eq!(decoded.payload, with_unknown_categories(&fx));
    }

    #[test]
    fn a_version_newer_than_this_build_is_an_error_not_a_guess() {
        let fx = Fixture::new();
        let payload = fx.placed().payload_json();
        let error = OrderEvent::decode("OrderPlaced", 3, &payload).unwrap_err();
        assert_eq!(error.schema_version, 3);
        assert!(error.reason.contains("written by a newer build"), "{error}");
        let shipped = OrderEvent::decode(
            "OrderShipped",
            2,
            &serde_json::json!({"trackingNumber": "T"}),
        );
        assert!(shipped.unwrap_err().reason.contains("newer build"));
        assert!(OrderEvent::decode("OrderPlaced", u16::MAX, &payload).is_err());
        assert!(OrderEvent::decode("OrderPlaced", 0, &payload).is_err());
    }

    #[test]
    fn order_rows_written_before_v2_read_with_unknown_categories() {
        let fx = Fixture::new();
        let order = fx.order_in(OrderStatus::Paid);
        let mut row = serde_json::to_value(&order).unwrap();
        assert_eq!(serde_json::from_value::<Order>(row.clone()).unwrap(), order);
        for line in row["lines"].as_array_mut().unwrap() {
            line.as_object_mut().unwrap().remove("category");
        }
        let old: Order = serde_json::from_value(row).unwrap();
        assert_eq!(old.lines.len(), 2);
        assert!(old.lines.iter().all(|l| l.category == UNKNOWN_CATEGORY));
        assert_eq!(old.status, OrderStatus::Paid);
    }
}
