//! Orders and accounts through the JSON API, on real parts (nats-server,
//! embedded SurrealDB, the order process manager): the whole order life,
//! the process manager's reactions, who may do what, idempotency keys, and
//! cookie sessions.

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use domain::inventory::Inventory;
use domain::order::{Order, OrderStatus};
use domain::product::Product;
use domain::review::Review;
use domain::{AggregateType, Money, ReviewId};
use serde_json::{json, Value};
use std::time::Duration;
use support::TestShop;
use tower::ServiceExt;

/// The router's answer: status, headers and JSON body (`Null` if none).
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

/// Calls the router with any headers (`t.call` sets only a bearer token).
async fn send(
    t: &TestShop,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Body::from(body.unwrap_or("").to_owned()))
        .unwrap();
    let response = t.shop.router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn post(t: &TestShop, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    t.call("POST", uri, Some(token), Some(&body.to_string()))
        .await
}

/// Creates a product through the API; returns its id.
async fn create_product(t: &TestShop, token: &str, name: &str, price: f64, stock: u32) -> String {
    let (status, receipt) = post(
        t,
        token,
        "/api/products",
        json!({"name": name, "category": "Home", "price": price, "stock": stock}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    receipt["productId"].as_str().unwrap().to_owned()
}

fn order_body(product: &str, quantity: i64) -> Value {
    json!({"items": [{"productId": product, "quantity": quantity}]})
}

/// Places an order of `quantity` units as `token`; returns the order id.
async fn place(t: &TestShop, token: &str, product: &str, quantity: i64) -> String {
    let (status, receipt) = post(t, token, "/api/orders", order_body(product, quantity)).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    receipt["orderId"].as_str().unwrap().to_owned()
}

/// `POST /api/orders/{id}/{action}` with an optional body.
async fn act(
    t: &TestShop,
    token: &str,
    order: &str,
    action: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| b.to_string());
    t.call(
        "POST",
        &format!("/api/orders/{order}/{action}"),
        Some(token),
        body.as_deref(),
    )
    .await
}

async fn order_state(t: &TestShop, id: &str) -> Order {
    t.shop
        .state
        .write
        .load(AggregateType::Order, id)
        .await
        .unwrap()
}

async fn stock(t: &TestShop, product: &str) -> Inventory {
    t.shop
        .state
        .write
        .load(AggregateType::Inventory, product)
        .await
        .unwrap()
}

async fn product_state(t: &TestShop, product: &str) -> Product {
    t.shop
        .state
        .write
        .load(AggregateType::Product, product)
        .await
        .unwrap()
}

async fn count(t: &TestShop, aggregate: AggregateType) -> u64 {
    t.shop.state.write.count(aggregate).await.unwrap()
}

/// Polls the write store until the order reaches `status` (at most 10 s).
async fn wait_for_status(t: &TestShop, id: &str, status: OrderStatus) -> Order {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let order = order_state(t, id).await;
        if order.status == status {
            return order;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {id} is {:?}, not {status:?}, after 10 s",
            order.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_error(reply: &(StatusCode, Value), status: StatusCode, error: &str, context: &str) {
    assert_eq!(reply.0, status, "{context}: {}", reply.1);
    assert_eq!(reply.1["error"], json!(error), "{context}: {}", reply.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_lives_from_placement_to_return_at_catalog_prices() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (customer_id, customer) = t.customer("Ana").await;
    let product = create_product(&t, &admin, "Desk lamp", 25.00, 5).await;

    // The client's price is ignored: prices come from the catalog.
    let (status, receipt) = post(
        &t,
        &customer,
        "/api/orders",
        json!({"items": [{"productId": product, "quantity": 2, "price": 0.01}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let id = receipt["orderId"].as_str().unwrap().to_owned();
    assert_eq!(receipt["aggregateId"], json!(id));
    assert_eq!(receipt["aggregateVersion"], json!(1));
    // OrderPlaced and the product's StockReserved, in one commit.
    assert_eq!(receipt["eventIds"].as_array().unwrap().len(), 2);
    let order = order_state(&t, &id).await;
    assert_eq!(order.status, OrderStatus::AwaitingPayment);
    assert_eq!(order.customer_id.unwrap().to_string(), customer_id);
    assert_eq!(order.total, Money::from_minor(5_000));
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].product_id.to_string(), product);
    assert_eq!(order.lines[0].category, "Home", "the category as bought");
    assert_eq!(order.lines[0].unit_price, Money::from_minor(2_500));
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(order.lines[0].line_total, Money::from_minor(5_000));
    assert_eq!(stock(&t, &product).await.available, 3);

    let (status, receipt) = act(&t, &customer, &id, "pay", None).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["aggregateVersion"], json!(2));
    // The process manager confirms a paid order.
    let order = wait_for_status(&t, &id, OrderStatus::Confirmed).await;
    assert_eq!(order.paid, Money::from_minor(5_000));
    assert!(order.payment_id.is_some());

    let (status, receipt) = act(
        &t,
        &admin,
        &id,
        "ship",
        Some(json!({"trackingNumber": "TRK-42"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let order = order_state(&t, &id).await;
    assert_eq!(order.status, OrderStatus::Shipped);
    assert_eq!(order.tracking_number.as_deref(), Some("TRK-42"));
    assert_eq!(
        stock(&t, &product).await.available,
        3,
        "shipping sells the reserved units"
    );
    let (status, receipt) = act(&t, &admin, &id, "deliver", None).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(order_state(&t, &id).await.status, OrderStatus::Delivered);

    // A customer who received the product reviews it, once.
    let reviews = format!("/api/products/{product}/reviews");
    let review = json!({"rating": 5, "comment": "Bright and steady."});
    let (status, receipt) = post(&t, &customer, &reviews, review.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let review_id = ReviewId::of(product.parse().unwrap(), customer_id.parse().unwrap());
    assert_eq!(receipt["reviewId"], json!(review_id.to_string()));
    let stored: Review = t
        .shop
        .state
        .write
        .load(AggregateType::Review, review_id)
        .await
        .unwrap();
    assert_eq!((stored.version, stored.rating), (1, 5));
    let again = post(
        &t,
        &customer,
        &reviews,
        json!({"rating": 1, "comment": "Changed my mind."}),
    )
    .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict", "second review");
    assert_eq!(count(&t, AggregateType::Review).await, 1);

    let (status, receipt) = act(
        &t,
        &customer,
        &id,
        "return",
        Some(json!({"reason": "too bright"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let order = order_state(&t, &id).await;
    assert_eq!(order.status, OrderStatus::Returned);
    assert_eq!(order.paid, Money::ZERO, "the payment was refunded");
    assert_eq!(stock(&t, &product).await.available, 5);

    // Returned is final: every further step is refused and writes nothing.
    let version = order.version;
    let steps: [(&str, &str, Option<Value>); 9] = [
        (&customer, "pay", None),
        (&customer, "cancel", None),
        (&customer, "return", None),
        (&admin, "pay", None),
        (&admin, "confirm", None),
        (&admin, "ship", Some(json!({"trackingNumber": "TRK-43"}))),
        (&admin, "deliver", None),
        (&admin, "cancel", Some(json!({"reason": "late"}))),
        (&admin, "return", None),
    ];
    for (token, action, body) in steps {
        let reply = act(&t, token, &id, action, body).await;
        assert_error(&reply, StatusCode::CONFLICT, "invalid_state", action);
        assert!(
            reply.1["reason"].as_str().unwrap().contains("returned"),
            "{action}: {}",
            reply.1
        );
    }
    assert_eq!(order_state(&t, &id).await.version, version);
    assert_eq!(stock(&t, &product).await.available, 5);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_cancels_the_order_and_releases_its_stock() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (_, customer) = t.customer("Ben").await;
    let product = create_product(&t, &admin, "Kettle", 25.00, 5).await;
    let id = place(&t, &customer, &product, 2).await;
    assert_eq!(stock(&t, &product).await.available, 3);

    let (status, receipt) = act(
        &t,
        &customer,
        &id,
        "pay",
        Some(json!({"paymentMethod": "card-declined"})),
    )
    .await;
    // The command succeeded: it recorded the provider's "declined".
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["aggregateVersion"], json!(2));

    let order = wait_for_status(&t, &id, OrderStatus::Cancelled).await;
    assert_eq!(order.paid, Money::ZERO);
    assert!(order.payment_id.is_none());
    let inventory = stock(&t, &product).await;
    assert_eq!(inventory.available, 5, "{inventory:?}");
    assert_eq!(inventory.reserved, 0, "{inventory:?}");
    // PaymentDeclined, then the process manager's OrderCancelled.
    let events = t
        .shop
        .state
        .write
        .events_of(AggregateType::Order, &id, 1, u64::MAX)
        .await
        .unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types.len(), 3, "{types:?}");
    assert_eq!(events[2].actor.role, domain::ActorRole::System);

    // Nothing more can be paid on a cancelled order.
    let reply = act(&t, &customer, &id, "pay", None).await;
    assert_error(&reply, StatusCode::CONFLICT, "invalid_state", "pay");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_order_is_cancelled_after_the_timeout_and_its_stock_released() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(dir.path());
    settings.shop.unpaid_order_timeout_minutes = 0.005; // 0.3 s
    settings.pipeline.order_sweep_interval_ms = 100;
    let t = TestShop::start_with(dir.path(), settings).await;
    let admin = t.admin_token().await;
    let (_, customer) = t.customer("Cleo").await;
    let product = create_product(&t, &admin, "Teapot", 25.00, 5).await;
    let id = place(&t, &customer, &product, 3).await;
    assert_eq!(stock(&t, &product).await.available, 2);

    let order = wait_for_status(&t, &id, OrderStatus::Cancelled).await;
    assert_eq!(order.paid, Money::ZERO);
    let inventory = stock(&t, &product).await;
    assert_eq!(inventory.available, 5, "{inventory:?}");
    assert_eq!(inventory.reserved, 0, "{inventory:?}");
    let events = t
        .shop
        .state
        .write
        .events_of(AggregateType::Order, &id, 1, u64::MAX)
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "placed, then cancelled once");
    assert_eq!(events[1].actor.role, domain::ActorRole::System);

    // Later sweeps leave it alone.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(order_state(&t, &id).await.version, order.version);
    assert_eq!(stock(&t, &product).await.available, 5);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_cancels_before_shipping_but_not_after() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (_, customer) = t.customer("Dora").await;
    let product = create_product(&t, &admin, "Rug", 25.00, 5).await;

    // Unpaid: cancelled by the customer, the stock comes back.
    let unpaid = place(&t, &customer, &product, 2).await;
    assert_eq!(stock(&t, &product).await.available, 3);
    let (status, receipt) = act(
        &t,
        &customer,
        &unpaid,
        "cancel",
        Some(json!({"reason": "ordered the wrong colour"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(
        order_state(&t, &unpaid).await.status,
        OrderStatus::Cancelled
    );
    assert_eq!(stock(&t, &product).await.available, 5);

    // Paid and confirmed: cancelling still releases the stock and refunds.
    let paid = place(&t, &customer, &product, 1).await;
    let (status, _) = act(&t, &customer, &paid, "pay", None).await;
    assert_eq!(status, StatusCode::OK);
    wait_for_status(&t, &paid, OrderStatus::Confirmed).await;
    assert_eq!(stock(&t, &product).await.available, 4);
    let (status, receipt) = act(&t, &customer, &paid, "cancel", None).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let order = order_state(&t, &paid).await;
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert_eq!(order.paid, Money::ZERO, "refunded");
    assert_eq!(stock(&t, &product).await.available, 5);

    // Shipped: too late to cancel.
    let shipped = place(&t, &customer, &product, 2).await;
    let (status, _) = act(&t, &customer, &shipped, "pay", None).await;
    assert_eq!(status, StatusCode::OK);
    wait_for_status(&t, &shipped, OrderStatus::Confirmed).await;
    let (status, _) = act(
        &t,
        &admin,
        &shipped,
        "ship",
        Some(json!({"trackingNumber": "TRK-7"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let version = order_state(&t, &shipped).await.version;
    for token in [&customer, &admin] {
        let reply = act(&t, token, &shipped, "cancel", None).await;
        assert_error(&reply, StatusCode::CONFLICT, "invalid_state", "cancel");
        let reason = reply.1["reason"].as_str().unwrap();
        assert!(reason.contains("shipped"), "{reason}");
    }
    assert_eq!(order_state(&t, &shipped).await.version, version);
    assert_eq!(order_state(&t, &shipped).await.status, OrderStatus::Shipped);
    assert_eq!(stock(&t, &product).await.available, 3);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_right_callers_may_change_orders_and_products() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (ana_id, ana) = t.customer("Ana").await;
    let (_, ben) = t.customer("Ben").await;
    let house = create_product(&t, &admin, "Lamp", 25.00, 10).await;
    let order = place(&t, &ana, &house, 1).await;

    // ---- no caller: 401 on every command endpoint, nothing written
    let product_uri = format!("/api/products/{house}");
    let order_uri = |action: &str| format!("/api/orders/{order}/{action}");
    let anonymous: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/api/products".into(),
            json!({"name": "A", "category": "B", "price": 12, "stock": 1}),
        ),
        ("PATCH", product_uri.clone(), json!({"price": 20})),
        ("PATCH", product_uri.clone(), json!({"name": "Lamp 2"})),
        ("DELETE", product_uri.clone(), json!({"reason": "gone"})),
        (
            "POST",
            format!("{product_uri}/stock"),
            json!({"delta": 1, "reason": "delivery"}),
        ),
        (
            "POST",
            format!("{product_uri}/reviews"),
            json!({"rating": 5, "comment": "Great lamp", "customerId": ana_id}),
        ),
        (
            "POST",
            "/api/orders".into(),
            json!({"customerId": ana_id, "items": [{"productId": house, "quantity": 1}]}),
        ),
        ("POST", order_uri("pay"), json!({})),
        ("POST", order_uri("confirm"), json!({})),
        ("POST", order_uri("ship"), json!({"trackingNumber": "T"})),
        ("POST", order_uri("deliver"), json!({})),
        ("POST", order_uri("cancel"), json!({})),
        ("POST", order_uri("return"), json!({})),
        (
            "POST",
            "/api/auth/tokens".into(),
            json!({"email": "admin@vitrine.example", "label": "x"}),
        ),
        (
            "POST",
            "/api/sellers".into(),
            json!({"name": "S", "email": "s@example.com", "password": "long enough"}),
        ),
    ];
    let orders_before = count(&t, AggregateType::Order).await;
    let products_before = count(&t, AggregateType::Product).await;
    let sellers_before = count(&t, AggregateType::Seller).await;
    let order_version = order_state(&t, &order).await.version;
    let product_version = product_state(&t, &house).await.version;
    let stock_version = stock(&t, &house).await.version;
    for (method, uri, body) in &anonymous {
        let reply = t.call(method, uri, None, Some(&body.to_string())).await;
        assert_error(
            &reply,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            &format!("{method} {uri}"),
        );
    }
    let reply = t.call("GET", "/api/auth/me", None, None).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthenticated", "me");
    assert_eq!(count(&t, AggregateType::Order).await, orders_before);
    assert_eq!(count(&t, AggregateType::Product).await, products_before);
    assert_eq!(count(&t, AggregateType::Seller).await, sellers_before);
    assert_eq!(count(&t, AggregateType::Review).await, 0);
    assert_eq!(order_state(&t, &order).await.version, order_version);
    assert_eq!(product_state(&t, &house).await.version, product_version);
    assert_eq!(stock(&t, &house).await.version, stock_version);

    // ---- another customer's order
    for (action, body) in [
        ("pay", None),
        ("cancel", Some(json!({"reason": "not mine"}))),
        ("return", None),
        ("confirm", None),
    ] {
        let reply = act(&t, &ben, &order, action, body).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden", action);
    }
    let reply = post(
        &t,
        &ben,
        "/api/orders",
        json!({"customerId": ana_id, "items": [{"productId": house, "quantity": 1}]}),
    )
    .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "forbidden", "order for Ana");
    assert_eq!(order_state(&t, &order).await.version, order_version);
    assert_eq!(
        order_state(&t, &order).await.status,
        OrderStatus::AwaitingPayment
    );
    assert_eq!(count(&t, AggregateType::Order).await, orders_before);
    assert_eq!(stock(&t, &house).await.version, stock_version);

    // ---- customers do not run the shop
    for (action, body) in [
        ("confirm", None),
        ("ship", Some(json!({"trackingNumber": "TRK-1"}))),
        ("deliver", None),
    ] {
        let reply = act(&t, &ana, &order, action, body).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "forbidden", action);
    }
    let customer_refusals: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/api/products".into(),
            json!({"name": "Mine", "category": "B", "price": 12, "stock": 1}),
        ),
        ("PATCH", product_uri.clone(), json!({"price": 20})),
        ("PATCH", product_uri.clone(), json!({"name": "Mine now"})),
        ("DELETE", product_uri.clone(), json!({"reason": "gone"})),
        (
            "POST",
            format!("{product_uri}/stock"),
            json!({"delta": 5, "reason": "found some"}),
        ),
        (
            "POST",
            "/api/sellers".into(),
            json!({"name": "S", "email": "s2@example.com", "password": "long enough"}),
        ),
        (
            "POST",
            "/api/auth/tokens".into(),
            json!({"email": "admin@vitrine.example", "label": "steal"}),
        ),
    ];
    for (method, uri, body) in &customer_refusals {
        let reply = t
            .call(method, uri, Some(&ana), Some(&body.to_string()))
            .await;
        assert_error(
            &reply,
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("customer {method} {uri}"),
        );
    }
    assert_eq!(order_state(&t, &order).await.version, order_version);
    assert_eq!(product_state(&t, &house).await.version, product_version);
    assert_eq!(stock(&t, &house).await.version, stock_version);
    assert_eq!(count(&t, AggregateType::Product).await, products_before);
    assert_eq!(count(&t, AggregateType::Seller).await, sellers_before);

    // ---- sellers: their own products only
    let mut sellers = Vec::new();
    for name in ["Sol", "Tess"] {
        let email = format!("{}@sellers.example", name.to_lowercase());
        let (status, receipt) = post(
            &t,
            &admin,
            "/api/sellers",
            json!({"name": name, "email": email, "password": "seller password", "rating": 4.5}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        let id = receipt["sellerId"].as_str().unwrap().to_owned();
        sellers.push((id, t.token_for(&email).await));
    }
    let (sol_id, sol) = &sellers[0];
    let (tess_id, tess) = &sellers[1];
    let sols = create_product(&t, sol, "Sol's vase", 40.00, 4).await;
    assert_eq!(
        product_state(&t, &sols)
            .await
            .seller_id
            .unwrap()
            .to_string(),
        *sol_id
    );
    let reply = post(
        &t,
        sol,
        "/api/products",
        json!({"name": "Fake", "category": "B", "price": 12, "stock": 1, "sellerId": tess_id}),
    )
    .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "forbidden", "for Tess");

    let before: Vec<(u64, u64)> = vec![
        (
            product_state(&t, &sols).await.version,
            stock(&t, &sols).await.version,
        ),
        (product_version, stock_version),
    ];
    for (who, target) in [(tess, &sols), (sol, &house)] {
        let uri = format!("/api/products/{target}");
        let attempts: [(&str, String, Value); 4] = [
            ("PATCH", uri.clone(), json!({"price": 30})),
            ("PATCH", uri.clone(), json!({"name": "Taken over"})),
            ("DELETE", uri.clone(), json!({"reason": "mine now"})),
            (
                "POST",
                format!("{uri}/stock"),
                json!({"delta": -1, "reason": "took one"}),
            ),
        ];
        for (method, uri, body) in &attempts {
            let reply = t
                .call(method, uri, Some(who), Some(&body.to_string()))
                .await;
            assert_error(
                &reply,
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!("seller {method} {uri}"),
            );
        }
    }
    let after = vec![
        (
            product_state(&t, &sols).await.version,
            stock(&t, &sols).await.version,
        ),
        (
            product_state(&t, &house).await.version,
            stock(&t, &house).await.version,
        ),
    ];
    assert_eq!(before, after, "nothing written");
    // Sellers do not run orders either, nor order for a customer.
    let reply = act(&t, sol, &order, "confirm", None).await;
    assert_error(&reply, StatusCode::FORBIDDEN, "forbidden", "seller confirm");
    let reply = post(
        &t,
        sol,
        "/api/orders",
        json!({"customerId": ana_id, "items": [{"productId": sols, "quantity": 1}]}),
    )
    .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "forbidden", "seller orders");
    // Their own product they do manage.
    let (status, receipt) = t
        .call(
            "PATCH",
            &format!("/api/products/{sols}"),
            Some(sol),
            Some(r#"{"price":35}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let (status, receipt) = post(
        &t,
        sol,
        &format!("/api/products/{sols}/stock"),
        json!({"delta": 2, "reason": "delivery"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(stock(&t, &sols).await.available, 6);

    // ---- the admin may do all
    let sols_uri = format!("/api/products/{sols}");
    for (method, uri, body) in [
        ("PATCH", sols_uri.clone(), json!({"price": 30})),
        ("PATCH", sols_uri.clone(), json!({"description": "Blue."})),
        (
            "POST",
            format!("{sols_uri}/stock"),
            json!({"delta": -1, "reason": "broken"}),
        ),
    ] {
        let (status, receipt) = t
            .call(method, &uri, Some(&admin), Some(&body.to_string()))
            .await;
        assert_eq!(status, StatusCode::OK, "admin {method} {uri}: {receipt}");
    }
    assert_eq!(
        product_state(&t, &sols).await.price,
        Money::from_minor(3_000)
    );
    assert_eq!(stock(&t, &sols).await.available, 5);
    let (status, receipt) = post(
        &t,
        &admin,
        "/api/orders",
        json!({"customerId": ana_id, "items": [{"productId": sols, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let for_ana = receipt["orderId"].as_str().unwrap().to_owned();
    assert_eq!(
        order_state(&t, &for_ana)
            .await
            .customer_id
            .unwrap()
            .to_string(),
        ana_id
    );
    let (status, receipt) = act(&t, &admin, &order, "cancel", None).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(stock(&t, &house).await.available, 10);
    let (status, receipt) = t
        .call(
            "DELETE",
            &sols_uri,
            Some(&admin),
            Some(r#"{"reason":"discontinued"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert!(product_state(&t, &sols).await.deleted);
    t.stop().await;
}

/// `POST /api/orders` with an `Idempotency-Key` header.
async fn place_with_key(t: &TestShop, token: &str, key: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    send(
        t,
        "POST",
        "/api/orders",
        &[("authorization", &auth), ("idempotency-key", key)],
        Some(&body.to_string()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_gets_the_first_outcome_again() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (_, ana) = t.customer("Ana").await;
    let (_, ben) = t.customer("Ben").await;
    let product = create_product(&t, &admin, "Mug", 25.00, 5).await;
    let body = order_body(&product, 1);

    let first = place_with_key(&t, &ana, "k1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let repeat = place_with_key(&t, &ana, "k1", &body).await;
    assert_eq!(repeat.status, StatusCode::CREATED, "{}", repeat.body);
    assert_eq!(repeat.body, first.body, "the same receipt");
    assert_eq!(
        repeat.headers.get(header::LOCATION),
        first.headers.get(header::LOCATION)
    );
    assert_eq!(count(&t, AggregateType::Order).await, 1);
    let inventory = stock(&t, &product).await;
    assert_eq!(
        (inventory.available, inventory.version),
        (4, 2),
        "moved once"
    );

    // The same key for another request is a client bug.
    let reused = place_with_key(&t, &ana, "k1", &order_body(&product, 2)).await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reused.body
    );
    assert_eq!(reused.body["error"], json!("idempotency_key_reused"));
    assert_eq!(reused.body["field"], json!("Idempotency-Key"));
    assert_eq!(count(&t, AggregateType::Order).await, 1);
    assert_eq!(stock(&t, &product).await.version, 2);

    // Keys belong to the caller: Ben's k1 is his own.
    let bens = place_with_key(&t, &ben, "k1", &body).await;
    assert_eq!(bens.status, StatusCode::CREATED, "{}", bens.body);
    assert_ne!(bens.body["orderId"], first.body["orderId"]);
    assert_eq!(count(&t, AggregateType::Order).await, 2);
    assert_eq!(stock(&t, &product).await.available, 3);

    // A refusal is an outcome too: kept even after the stock changed.
    let other = create_product(&t, &admin, "Bowl", 25.00, 5).await;
    let greedy = order_body(&other, 7);
    let refused = place_with_key(&t, &ana, "k2", &greedy).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["error"], json!("insufficient_stock"));
    let (status, receipt) = post(
        &t,
        &admin,
        &format!("/api/products/{other}/stock"),
        json!({"delta": 10, "reason": "delivery"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let again = place_with_key(&t, &ana, "k2", &greedy).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.body, refused.body);
    assert_eq!(count(&t, AggregateType::Order).await, 2);
    assert_eq!(stock(&t, &other).await.available, 15);
    // A new key is a new command, decided on today's stock.
    let fresh = place_with_key(&t, &ana, "k3", &greedy).await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.body);
    assert_eq!(stock(&t, &other).await.available, 8);

    // Sent several times at once (a client retrying on a timeout): one order.
    let orders_before = count(&t, AggregateType::Order).await;
    let available_before = stock(&t, &product).await.available;
    let racing =
        futures::future::join_all((0..6).map(|_| place_with_key(&t, &ana, "k-race", &body))).await;
    for reply in &racing {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body, racing[0].body, "one receipt for all");
    }
    assert_eq!(count(&t, AggregateType::Order).await, orders_before + 1);
    assert_eq!(stock(&t, &product).await.available, available_before - 1);

    // Transitions too: a repeated payment is the first payment.
    let order = first.body["orderId"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {ana}");
    let pay_uri = format!("/api/orders/{order}/pay");
    let headers = [
        ("authorization", auth.as_str()),
        ("idempotency-key", "pay-1"),
    ];
    let paid = send(&t, "POST", &pay_uri, &headers, None).await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    wait_for_status(&t, &order, OrderStatus::Confirmed).await;
    let repaid = send(&t, "POST", &pay_uri, &headers, None).await;
    assert_eq!(repaid.status, StatusCode::OK, "{}", repaid.body);
    assert_eq!(repaid.body, paid.body);
    let events = t
        .shop
        .state
        .write
        .events_of(AggregateType::Order, &order, 1, u64::MAX)
        .await
        .unwrap();
    let paid_events = events
        .iter()
        .filter(|e| e.event_type.contains("Payment"))
        .count();
    assert_eq!(paid_events, 1, "charged once");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordering_more_than_the_stock_is_a_409_naming_the_product() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (_, customer) = t.customer("Eve").await;
    let plenty = create_product(&t, &admin, "Spoon", 25.00, 50).await;
    let scarce = create_product(&t, &admin, "Fork", 25.00, 3).await;

    let reply = post(
        &t,
        &customer,
        "/api/orders",
        json!({"items": [
            {"productId": plenty, "quantity": 2},
            {"productId": scarce, "quantity": 4},
        ]}),
    )
    .await;
    assert_error(&reply, StatusCode::CONFLICT, "insufficient_stock", "4 of 3");
    assert_eq!(reply.1["field"], json!("items"));
    let reason = reply.1["reason"].as_str().unwrap();
    assert!(reason.contains(&scarce), "{reason}");
    assert!(!reason.contains(&plenty), "{reason}");
    // All or nothing: the line that fitted reserved nothing either.
    assert_eq!(count(&t, AggregateType::Order).await, 0);
    let (a, b) = (stock(&t, &plenty).await, stock(&t, &scarce).await);
    assert_eq!((a.available, a.version), (50, 1));
    assert_eq!((b.available, b.version), (3, 1));

    // Exactly what is left is fine.
    place(&t, &customer, &scarce, 3).await;
    assert_eq!(stock(&t, &scarce).await.available, 0);
    let reply = post(&t, &customer, "/api/orders", order_body(&scarce, 1)).await;
    assert_error(
        &reply,
        StatusCode::CONFLICT,
        "insufficient_stock",
        "sold out",
    );
    assert!(reply.1["reason"].as_str().unwrap().contains(&scarce));
    t.stop().await;
}

/// The session cookie a response sets, parsed.
fn set_cookie(reply: &Reply) -> cookie::Cookie<'static> {
    let value = reply
        .headers
        .get(header::SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned();
    cookie::Cookie::parse(value).unwrap()
}

async fn me(t: &TestShop, cookie: String) -> Reply {
    send(t, "GET", "/api/auth/me", &[("cookie", &cookie)], None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_login_and_logout_rotate_and_end_the_session_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let email = "fay@example.com";
    let password = "correct horse battery";
    let signup = json!({"name": "Fay", "email": email, "password": password}).to_string();

    let reply = send(&t, "POST", "/api/auth/signup", &[], Some(&signup)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let account = reply.body["accountId"].as_str().unwrap().to_owned();
    assert_eq!(reply.body["email"], json!(email));
    assert_eq!(reply.body["role"], json!("customer"));
    assert!(reply.body["sessionExpiresAt"].is_string());
    let first = set_cookie(&reply);
    assert_eq!(first.name(), "vitrine_session");
    assert!(!first.value().is_empty());
    assert_eq!(first.http_only(), Some(true));
    assert_eq!(first.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(first.path(), Some("/"));
    assert!(first.max_age().is_some_and(|a| a.whole_seconds() > 0));
    assert_eq!(count(&t, AggregateType::Customer).await, 1);
    let customer: domain::party::Customer = t
        .shop
        .state
        .write
        .load(AggregateType::Customer, &account)
        .await
        .unwrap();
    assert_eq!(customer.version, 1);

    let cookie_header = |c: &cookie::Cookie<'static>| format!("vitrine_session={}", c.value());
    let reply = me(&t, cookie_header(&first)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["accountId"], json!(account));
    assert_eq!(reply.body["email"], json!(email));
    assert_eq!(reply.body["name"], json!("Fay"));

    // Signing in again (the browser still sends the old cookie) rotates it.
    let login = json!({"email": email, "password": password}).to_string();
    let old = cookie_header(&first);
    let reply = send(
        &t,
        "POST",
        "/api/auth/login",
        &[("cookie", &old)],
        Some(&login),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["accountId"], json!(account));
    let second = set_cookie(&reply);
    assert_eq!(second.name(), "vitrine_session");
    assert_eq!(second.http_only(), Some(true));
    assert_eq!(second.same_site(), Some(cookie::SameSite::Lax));
    assert_ne!(second.value(), first.value(), "a new session id");
    let reply = me(&t, old.clone()).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let reply = me(&t, cookie_header(&second)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // The cookie authenticates commands too (same-site requests).
    let reply = send(
        &t,
        "POST",
        &format!("/api/orders/{}/pay", domain::OrderId::new()),
        &[("cookie", &cookie_header(&second))],
        None,
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "signed in: {}",
        reply.body
    );

    // Logout ends the session and clears the cookie.
    let reply = send(
        &t,
        "POST",
        "/api/auth/logout",
        &[("cookie", &cookie_header(&second))],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let cleared = set_cookie(&reply);
    assert_eq!(cleared.name(), "vitrine_session");
    assert_eq!(cleared.value(), "");
    assert_eq!(cleared.max_age(), Some(cookie::time::Duration::ZERO));
    let reply = me(&t, cookie_header(&second)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["error"], json!("unauthenticated"));

    // A wrong password and an unknown email get the same answer.
    let wrong_password = json!({"email": email, "password": "incorrect horse"}).to_string();
    let unknown_email = json!({"email": "nobody@example.com", "password": password}).to_string();
    let mut reasons = Vec::new();
    for body in [&wrong_password, &unknown_email] {
        let reply = send(&t, "POST", "/api/auth/login", &[], Some(body)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert_eq!(reply.body["error"], json!("unauthenticated"));
        assert!(reply.body.get("field").is_none(), "{}", reply.body);
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
        reasons.push(reply.body["reason"].as_str().unwrap().to_owned());
    }
    assert_eq!(reasons[0], reasons[1]);
    assert!(
        reasons[0].contains("email or password"),
        "names neither alone: {}",
        reasons[0]
    );

    // The email is taken, in any letter case.
    for taken in [email, "FAY@Example.com"] {
        let body = json!({"name": "Fay 2", "email": taken, "password": password}).to_string();
        let reply = send(&t, "POST", "/api/auth/signup", &[], Some(&body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert_eq!(reply.body["error"], json!("invalid_request"));
        assert_eq!(reply.body["field"], json!("email"));
        assert!(reply.headers.get(header::SET_COOKIE).is_none());
    }
    assert_eq!(count(&t, AggregateType::Customer).await, 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_racing_for_one_email_leave_one_account_and_say_why_to_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let t = std::sync::Arc::new(TestShop::start(dir.path()).await);
    let body = r#"{"name":"Twin","email":"twin@example.com","password":"long enough password"}"#;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            t.call("POST", "/api/auth/signup", None, Some(body)).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        if status == StatusCode::CREATED {
            created += 1;
        } else {
            // Never a 503 from exhausted retries: the loser is told why.
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert_eq!(answer["field"], json!("email"), "{answer}");
            assert_eq!(answer["reason"], json!("is already registered"), "{answer}");
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        t.shop
            .state
            .write
            .count(AggregateType::Customer)
            .await
            .unwrap(),
        1
    );
    match std::sync::Arc::try_unwrap(t) {
        Ok(t) => t.stop().await,
        Err(_) => panic!("test shop still shared"),
    }
}
