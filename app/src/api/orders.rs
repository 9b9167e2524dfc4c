//! Checkout and "my orders": placing the cart as an order and paying for it,
//! and reading the signed-in customer's own orders. Staff read any
//! customer's orders through the JSON API (`GET /api/customers/{id}/orders`),
//! not here.

use super::ReadSource;
use crate::error::AppError;
use domain::views::OrderView;
use domain::{OrderId, ProductId, WriteReceipt};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The payment methods checkout offers: the simulated provider's test
/// cards (`server::payments`; `card-declined` is always declined).
pub const PAYMENT_METHODS: &[(&str, &str)] = &[
    ("card", "Test card (approved)"),
    ("card-declined", "Test card (declined)"),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRead {
    pub order: OrderView,
    pub source: ReadSource,
}

/// A customer's orders as the read model has them; list reads never wait
/// for the projection, `stale` says whether it is known to lag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderListing {
    pub orders: Vec<OrderView>,
    pub stale: bool,
}

/// What the payment provider answered at checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum PaymentResult {
    Approved,
    /// The order is cancelled by the shop (its stock released); the cart is kept.
    Declined {
        reason: String,
    },
    /// The payment could not be attempted (the provider is down, …): the
    /// order waits for payment and can be paid from its page.
    NotTaken {
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CheckoutOutcome {
    /// The order is placed and the browser is on its way to its page.
    #[serde(rename_all = "camelCase")]
    Placed {
        order_id: OrderId,
        /// The order's version after the payment: its page reads at least this.
        version: u64,
        payment: PaymentResult,
    },
    /// The shop refused the order: what to change, and the product it is about.
    #[serde(rename_all = "camelCase")]
    Refused {
        message: String,
        product_id: Option<ProductId>,
    },
}

#[cfg(feature = "ssr")]
mod server {
    use crate::api::server::caller;
    use crate::error::AppError;
    use domain::{ActorRole, CommandError, CustomerId, DomainError};

    /// The signed-in customer, or why not.
    pub fn customer() -> Result<CustomerId, AppError> {
        let viewer = caller()
            .viewer
            .ok_or(AppError::Command(CommandError::Unauthenticated))?;
        if viewer.role != ActorRole::Customer {
            return Err(AppError::Command(CommandError::Rejected(
                DomainError::forbidden("only customer accounts have orders and carts to check out"),
            )));
        }
        viewer
            .account_id
            .parse()
            .map_err(|_| AppError::Transport("the session names no customer".into()))
    }

    pub fn parse_order(id: &str) -> Result<domain::OrderId, AppError> {
        id.trim().parse().map_err(|_| AppError::NotFound)
    }

    pub fn payment_method(method: &str) -> Result<&'static str, AppError> {
        super::PAYMENT_METHODS
            .iter()
            .map(|(m, _)| *m)
            .find(|m| *m == method)
            .ok_or_else(|| {
                AppError::bad_input("paymentMethod", "choose one of the payment methods offered")
            })
    }
}

/// The signed-in customer's orders, newest first.
#[server(prefix = "/rpc")]
pub async fn my_orders() -> Result<OrderListing, AppError> {
    let customer = server::customer()?;
    let ports = super::server::ports()?;
    ports
        .order_history
        .customer_orders(customer, 200)
        .await
        .map_err(|e| AppError::Transport(e.to_string()))
}

/// One of the signed-in customer's orders (anyone else's is "not found").
/// `min_version`: the version a receipt promised (see `CatalogQueries::product`).
#[server(prefix = "/rpc")]
pub async fn get_order(id: String, min_version: Option<u64>) -> Result<OrderRead, AppError> {
    let customer = server::customer()?;
    let id = server::parse_order(&id)?;
    let ports = super::server::ports()?;
    ports
        .order_history
        .order(id, min_version)
        .await
        .map_err(|e| AppError::Transport(e.to_string()))?
        .filter(|read| read.order.customer_id == customer)
        .ok_or(AppError::NotFound)
}

/// Places the cart as an order (`PlaceOrder`, priced and stock-checked by
/// the write model), then pays for it. `command_id` makes a resend safe: the
/// placing and the payment (whose id derives from it) each happen once.
/// On success the cart is emptied — unless the payment was declined, so the
/// shopper can try another card — and the browser goes to the order's page.
#[server(prefix = "/rpc")]
pub async fn checkout(
    command_id: String,
    payment_method: String,
) -> Result<CheckoutOutcome, AppError> {
    use crate::api::cart::server as cart;
    use domain::order::{OrderItem, OrderStatus, PlaceOrder};
    use domain::{CommandError, CommandId, CommandMeta, Idempotency};

    let customer_id = server::customer()?;
    let method = server::payment_method(&payment_method)?;
    let ports = super::server::ports()?;
    let policy = cart::policy()?;
    let basket = cart::current(&policy);
    let refuse = |message: String, product_id: Option<ProductId>| {
        super::flash::leave(&message);
        Ok(CheckoutOutcome::Refused {
            message,
            product_id,
        })
    };
    if basket.is_empty() {
        return refuse("Your cart is empty.".into(), None);
    }
    let items: Vec<OrderItem> = basket
        .lines()
        .iter()
        .map(|l| OrderItem {
            product_id: l.product_id,
            quantity: i64::from(l.quantity),
        })
        .collect();
    let request = serde_json::json!({ "customerId": customer_id, "items": items });
    let meta = super::server::command_meta(&command_id, "place_order", &request)?;
    let place = PlaceOrder {
        order_id: OrderId::new(),
        customer_id,
        items,
    };
    let ids: Vec<ProductId> = place.items.iter().map(|i| i.product_id).collect();
    let placed = match ports.orders.place_order(meta.clone(), place).await {
        Ok(receipt) => receipt,
        Err(CommandError::Rejected(e)) => {
            let view = cart::view(&basket, policy).await?;
            let (message, product_id) = view.explain_refusal(&e, &ids);
            return refuse(message, product_id);
        }
        Err(e) => return Err(e.into()),
    };
    let order_id: OrderId = placed
        .aggregate_id
        .parse()
        .map_err(|_| AppError::Transport("the order has no order id".into()))?;

    // The payment continues the checkout's flow, under an id derived from
    // the checkout's: a resend pays once.
    let pay_id = CommandId::from_uuid(uuid::Uuid::new_v5(
        &PAYMENT_NAMESPACE,
        meta.command_id.0.as_bytes(),
    ));
    let pay_meta = CommandMeta {
        actor: meta.actor.clone(),
        command_id: pay_id,
        idempotency: Some(Idempotency {
            key: pay_id.to_string(),
            request_hash: format!("pay_order:{order_id}:{method}"),
        }),
        correlation_id: Some(meta.command_id.0),
    };
    let (version, payment) = match ports
        .orders
        .pay_order(pay_meta, order_id, method.to_owned())
        .await
    {
        Ok(paid) => {
            // Approved or declined: the order's record says (read-your-writes).
            let read = ports
                .order_history
                .order(order_id, Some(paid.aggregate_version))
                .await
                .ok()
                .flatten();
            let declined = read.as_ref().and_then(|r| {
                r.order
                    .timeline
                    .iter()
                    .find(|s| s.status == OrderStatus::PaymentDeclined)
                    .map(|s| s.note.clone().unwrap_or_default())
            });
            let payment = match declined {
                Some(reason) => PaymentResult::Declined { reason },
                None => PaymentResult::Approved,
            };
            (paid.aggregate_version, payment)
        }
        Err(e) => (
            placed.aggregate_version,
            PaymentResult::NotTaken {
                message: AppError::from(e).message(),
            },
        ),
    };
    if !matches!(payment, PaymentResult::Declined { .. }) {
        cart::store(&crate::cart::Cart::default())?;
    }
    leptos_axum::redirect(&format!("/orders/{order_id}?version={version}"));
    Ok(CheckoutOutcome::Placed {
        order_id,
        version,
        payment,
    })
}

/// Namespace of the payment command ids derived from checkout command ids.
#[cfg(feature = "ssr")]
const PAYMENT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x3b0e_5a8c_91d4_4f57_a1c2_6e9d_0b7f_4c21);

/// Pays for one of the customer's orders that waits for payment.
#[server(prefix = "/rpc")]
pub async fn pay_order(
    command_id: String,
    order_id: String,
    payment_method: String,
) -> Result<WriteReceipt, AppError> {
    server::customer()?;
    let id = server::parse_order(&order_id)?;
    let method = server::payment_method(&payment_method)?;
    let request = serde_json::json!([order_id, method]);
    let meta = super::server::command_meta(&command_id, "pay_order", &request)?;
    let ports = super::server::ports()?;
    let result = ports
        .orders
        .pay_order(meta, id, method.to_owned())
        .await
        .map_err(AppError::from);
    if let Err(e) = &result {
        super::flash::leave(&e.message());
    }
    result
}

/// Cancels one of the customer's orders before it ships (its stock is
/// released and what was paid refunded).
#[server(prefix = "/rpc")]
pub async fn cancel_order(command_id: String, order_id: String) -> Result<WriteReceipt, AppError> {
    server::customer()?;
    let id = server::parse_order(&order_id)?;
    let request = serde_json::json!([order_id]);
    let meta = super::server::command_meta(&command_id, "cancel_order", &request)?;
    let ports = super::server::ports()?;
    let result = ports
        .orders
        .cancel_order(meta, id, "cancelled by the customer".into())
        .await
        .map_err(AppError::from);
    if let Err(e) = &result {
        super::flash::leave(&e.message());
    }
    result
}

/// A message left for the order page by a form posted without JavaScript.
#[server(prefix = "/rpc")]
pub async fn take_notice() -> Result<Option<String>, AppError> {
    Ok(super::flash::take())
}
