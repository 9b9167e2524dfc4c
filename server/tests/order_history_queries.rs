//! The order history port the storefront reads ("my orders", checkout): a
//! customer's orders from the read model, one order with read-your-writes
//! (`min_version`) that falls back to the write model's event log when the
//! projection has not caught up, and the cart's batch read of products.

#![allow(clippy::unwrap_used)]

mod support;

use app::api::ReadSource;
use domain::order::{OrderItem, OrderStatus, PlaceOrder};
use domain::product::{CreateProduct, ProductDetails};
use domain::{Actor, ActorRole, CommandMeta, CustomerId, Money, OrderId, ProductId};
use std::time::Duration;
use support::{admin, TestShop};

fn product(name: &str, price: i64, stock: u32) -> CreateProduct {
    CreateProduct {
        product_id: ProductId::new(),
        seller_id: None,
        details: ProductDetails {
            name: name.into(),
            category: "Test".into(),
            ..ProductDetails::default()
        },
        price: Money::from_minor(price),
        stock,
    }
}

fn as_customer(id: &str) -> CommandMeta {
    CommandMeta::new(Actor {
        id: id.to_owned(),
        role: ActorRole::Customer,
    })
}

/// Polls the port until the order's record satisfies `done`.
async fn until_read(
    t: &TestShop,
    id: OrderId,
    done: impl Fn(&domain::views::OrderView) -> bool,
) -> domain::views::OrderView {
    let history = &t.shop.state.ports.order_history;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(read) = history.order(id, None).await.unwrap() {
            assert_eq!(read.source, ReadSource::Read);
            if done(&read.order) {
                return read.order;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {id} never got there"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_read_from_the_history_with_read_your_writes_and_a_write_model_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let history = t.shop.state.ports.order_history.clone();
    let orders = t.shop.state.ports.orders.clone();
    let lamp = product("Desk lamp", 2_500, 5);
    let lamp_id = lamp.product_id;
    t.create_product(lamp).await.unwrap();
    let (ana, _) = t.customer("Ana").await;
    let (ben, _) = t.customer("Ben").await;
    let ana_id: CustomerId = ana.parse().unwrap();

    let order_id = OrderId::new();
    let placed = orders
        .place_order(
            as_customer(&ana),
            PlaceOrder {
                order_id,
                customer_id: ana_id,
                items: vec![OrderItem {
                    product_id: lamp_id,
                    quantity: 2,
                }],
            },
        )
        .await
        .unwrap();
    assert_eq!(placed.aggregate_version, 1);
    // Read-your-writes: the placed order, whichever store answers.
    let read = history.order(order_id, Some(1)).await.unwrap().unwrap();
    assert!(read.order.version >= 1);
    assert_eq!(read.order.customer_id, ana_id);
    assert_eq!(read.order.lines[0].product_name, "Desk lamp");
    assert_eq!(read.order.total, Money::from_minor(5_000));

    let paid = orders
        .pay_order(as_customer(&ana), order_id, "card".into())
        .await
        .unwrap();
    assert_eq!(paid.aggregate_version, 2);
    // The order process confirms it; the history shows every step.
    let confirmed = until_read(&t, order_id, |o| o.status == OrderStatus::Confirmed).await;
    let steps: Vec<OrderStatus> = confirmed.timeline.iter().map(|s| s.status).collect();
    assert_eq!(
        steps,
        [
            OrderStatus::AwaitingPayment,
            OrderStatus::Paid,
            OrderStatus::Confirmed
        ]
    );
    assert_eq!(confirmed.paid, Money::from_minor(5_000));

    let listing = history.customer_orders(ana_id, 50).await.unwrap();
    assert_eq!(listing.orders.len(), 1);
    assert_eq!(listing.orders[0].order_id, order_id);
    assert_eq!(listing.orders[0].version, 3);
    let bens = history
        .customer_orders(ben.parse().unwrap(), 50)
        .await
        .unwrap();
    assert!(bens.orders.is_empty());

    // The projection stops: a read asking for the next version answers
    // from the event log, honestly marked; one without waits for nothing.
    t.shop.crash_projectors().await;
    let shipped = orders
        .ship_order(CommandMeta::new(admin()), order_id, "TRK-42".into())
        .await
        .unwrap();
    assert_eq!(shipped.aggregate_version, 4);
    let read = history
        .order(order_id, Some(shipped.aggregate_version))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.source, ReadSource::Write);
    assert_eq!(
        (
            read.order.version,
            read.order.status,
            read.order.tracking_number.as_deref()
        ),
        (4, OrderStatus::Shipped, Some("TRK-42"))
    );
    assert_eq!(read.order.timeline.len(), 4);
    let stale = history.order(order_id, None).await.unwrap().unwrap();
    assert_eq!(
        (stale.source, stale.order.version, stale.order.status),
        (ReadSource::Read, 3, OrderStatus::Confirmed)
    );

    // Back up: the read model has it again.
    t.shop.restart_projectors().await.unwrap();
    let caught_up = until_read(&t, order_id, |o| o.version == 4).await;
    assert_eq!(caught_up.tracking_number.as_deref(), Some("TRK-42"));
    let read = history.order(order_id, Some(4)).await.unwrap().unwrap();
    assert_eq!((read.source, read.order.version), (ReadSource::Read, 4));

    // An order that does not exist is none, with or without a version.
    assert!(history.order(OrderId::new(), None).await.unwrap().is_none());
    assert!(history
        .order(OrderId::new(), Some(1))
        .await
        .unwrap()
        .is_none());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cart_reads_its_products_in_one_query_and_skips_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let lamp = product("Lamp", 1_000, 3);
    let mug = product("Mug", 400, 0);
    let (lamp_id, mug_id) = (lamp.product_id, mug.product_id);
    t.create_product(lamp).await.unwrap();
    t.create_product(mug).await.unwrap();
    t.wait_for_version(lamp_id, 1, Duration::from_secs(15))
        .await;
    t.wait_for_version(mug_id, 1, Duration::from_secs(15)).await;

    let unknown = ProductId::new();
    let listing = t
        .shop
        .state
        .ports
        .catalog
        .products_by_ids(&[mug_id, unknown, lamp_id])
        .await
        .unwrap();
    let mut found: Vec<(ProductId, &str)> = listing
        .products
        .iter()
        .map(|p| (p.product_id, p.name.as_str()))
        .collect();
    found.sort();
    let mut expected = vec![(lamp_id, "Lamp"), (mug_id, "Mug")];
    expected.sort();
    assert_eq!(found, expected);
    let none = t
        .shop
        .state
        .ports
        .catalog
        .products_by_ids(&[unknown])
        .await
        .unwrap();
    assert!(none.products.is_empty());
    t.stop().await;
}
