//! The sales analytics API against hand-computed figures: an order counts
//! when placed; a cancellation and a return take theirs out; sellers see
//! only their products, customers only their own lifetime value.

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use support::TestShop;

async fn send(t: &TestShop, method: &str, uri: &str, token: &str, body: Value) -> Value {
    let (code, body) = t
        .call(method, uri, Some(token), Some(&body.to_string()))
        .await;
    assert!(code.is_success(), "{uri}: {code} {body}");
    body
}

async fn get(t: &TestShop, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    t.call("GET", uri, token, None).await
}

/// Polls until the figures reach `done`.
async fn until(t: &TestShop, uri: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = get(t, uri, Some(token)).await;
        assert_eq!(code, StatusCode::OK, "{uri}: {body}");
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{uri}: {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn order(t: &TestShop, token: &str, items: Value) -> String {
    let body = send(t, "POST", "/api/orders", token, json!({ "items": items })).await;
    body["orderId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_figures_count_placed_orders_and_corrections_take_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (ana_id, ana) = t.customer("Ana").await;
    let (ben_id, ben) = t.customer("Ben").await;
    let product = |name: &str, category: &str, price: f64| json!({"name": name, "category": category, "price": price, "stock": 50});
    let lamp = send(
        &t,
        "POST",
        "/api/products",
        &admin,
        product("Lamp", "Home", 20.0),
    )
    .await;
    let lamp = lamp["productId"].as_str().unwrap().to_owned();
    let vase = send(
        &t,
        "POST",
        "/api/products",
        &admin,
        product("Vase", "Home", 15.0),
    )
    .await;
    let vase = vase["productId"].as_str().unwrap().to_owned();
    let mug = send(
        &t,
        "POST",
        "/api/products",
        &admin,
        product("Mug", "Kitchen", 12.5),
    )
    .await;
    let mug = mug["productId"].as_str().unwrap().to_owned();

    // Ana: 2 lamps + 1 mug (52.50), kept. Ben: 1 lamp + 1 vase (35.00),
    // cancelled. Ana: 3 vases (45.00), delivered then returned. Ben: 1 mug +
    // 1 lamp (32.50), paid and kept.
    let a1 = order(
        &t,
        &ana,
        json!([{"productId": lamp, "quantity": 2}, {"productId": mug, "quantity": 1}]),
    )
    .await;
    let b1 = order(
        &t,
        &ben,
        json!([{"productId": lamp, "quantity": 1}, {"productId": vase, "quantity": 1}]),
    )
    .await;
    let a2 = order(&t, &ana, json!([{"productId": vase, "quantity": 3}])).await;
    let b2 = order(
        &t,
        &ben,
        json!([{"productId": mug, "quantity": 1}, {"productId": lamp, "quantity": 1}]),
    )
    .await;
    let _ = a1;
    send(
        &t,
        "POST",
        &format!("/api/orders/{b1}/cancel"),
        &ben,
        json!({}),
    )
    .await;
    send(
        &t,
        "POST",
        &format!("/api/orders/{a2}/pay"),
        &ana,
        json!({}),
    )
    .await;
    send(
        &t,
        "POST",
        &format!("/api/orders/{b2}/pay"),
        &ben,
        json!({}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (code, _) = t
            .call(
                "POST",
                &format!("/api/orders/{a2}/ship"),
                Some(&admin),
                Some(&json!({"trackingNumber": "T"}).to_string()),
            )
            .await;
        if code.is_success() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never confirmed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    send(
        &t,
        "POST",
        &format!("/api/orders/{a2}/deliver"),
        &admin,
        json!({}),
    )
    .await;
    send(
        &t,
        "POST",
        &format!("/api/orders/{a2}/return"),
        &ana,
        json!({"reason": "chipped"}),
    )
    .await;

    // Lamp: a1 (2, 40.00) + b2 (1, 20.00); b1 was cancelled.
    let lamp_sales = until(
        &t,
        &format!("/api/analytics/products/{lamp}/sales"),
        &admin,
        |b| b["orderCount"] == 2 && b["unitsSold"] == 3,
    )
    .await;
    assert_eq!(lamp_sales["revenue"], 60.0);
    // Vase: b1 cancelled, a2 returned: nothing left.
    let vase_sales = until(
        &t,
        &format!("/api/analytics/products/{vase}/sales"),
        &admin,
        |b| b["orderCount"] == 0,
    )
    .await;
    assert_eq!(
        (&vase_sales["unitsSold"], &vase_sales["revenue"]),
        (&json!(0), &json!(0.0))
    );
    // Home: lamps only (60.00, 2 orders); Kitchen: 2 mugs (25.00, 2 orders).
    let home = until(&t, "/api/analytics/categories/Home/revenue", &admin, |b| {
        b["revenue"] == 60.0
    })
    .await;
    assert_eq!(
        (&home["orderCount"], &home["unitsSold"]),
        (&json!(2), &json!(3))
    );
    let kitchen = get(
        &t,
        "/api/analytics/categories/Kitchen/revenue",
        Some(&admin),
    )
    .await
    .1;
    assert_eq!(
        (&kitchen["revenue"], &kitchen["orderCount"]),
        (&json!(25.0), &json!(2))
    );
    // Ana kept a1 (52.50); Ben kept b2 (32.50).
    let ana_value = until(
        &t,
        &format!("/api/analytics/customers/{ana_id}/lifetime-value"),
        &ana,
        |b| b["orderCount"] == 1,
    )
    .await;
    assert_eq!(
        (&ana_value["totalSpent"], &ana_value["averageOrderValue"]),
        (&json!(52.5), &json!(52.5))
    );
    assert!(ana_value["lastOrderAt"].is_string());
    let ben_value = get(
        &t,
        &format!("/api/analytics/customers/{ben_id}/lifetime-value"),
        Some(&admin),
    )
    .await
    .1;
    assert_eq!(
        (&ben_value["totalSpent"], &ben_value["orderCount"]),
        (&json!(32.5), &json!(1))
    );
    // Hourly: everything happened within this hour or the last.
    let hourly = get(&t, "/api/analytics/sales/hourly", Some(&admin)).await.1;
    assert_eq!(hourly["total"]["revenue"], 85.0, "{hourly:#}");
    assert_eq!(hourly["total"]["orderCount"], 2);
    assert_eq!(hourly["buckets"].as_array().unwrap().len(), 25);
    assert_eq!(hourly["timeZone"], "UTC");

    // Who may see what.
    let (code, _) = get(&t, &format!("/api/analytics/products/{lamp}/sales"), None).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = get(
        &t,
        &format!("/api/analytics/products/{lamp}/sales"),
        Some(&ana),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = get(
        &t,
        &format!("/api/analytics/customers/{ben_id}/lifetime-value"),
        Some(&ana),
    )
    .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = get(&t, "/api/analytics/categories/Home/revenue", Some(&ana)).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = get(
        &t,
        "/api/analytics/products/01a20165-0000-7000-8000-000000000000/sales",
        Some(&admin),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    // Bad parameters are named.
    for (uri, field) in [
        ("/api/analytics/sales/hourly?from=yesterday", "from"),
        (
            "/api/analytics/sales/hourly?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "to",
        ),
        (
            "/api/analytics/sales/hourly?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
            "to",
        ),
        (
            "/api/analytics/sales/hourly?since=2026-01-01T00:00:00Z",
            "since",
        ),
    ] {
        let (code, body) = get(&t, uri, Some(&admin)).await;
        assert_eq!(
            (code, &body["field"]),
            (StatusCode::BAD_REQUEST, &json!(field)),
            "{uri}: {body}"
        );
    }

    // Reconciliation recomputes the figures from the order rows: no drift.
    let report = t
        .shop
        .state
        .read_models
        .get("sales_analytics")
        .unwrap()
        .reconcile(false)
        .await
        .unwrap();
    assert!(report.drifts.is_empty(), "{:#?}", report.drifts);
    t.stop().await;
}

/// A placement the projector heals from the event log (its stream message
/// never came) adds to the figures already there, not over them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_healed_from_the_log_adds_to_the_existing_figures() {
    use server::pipeline::projector::partition_of;
    use server::store::projections::{BatchWrite, RecordWrite};
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../domain/tests/corpus/order.json"
    );
    let events: Vec<domain::StoredEvent> =
        serde_json::from_str(&std::fs::read_to_string(corpus).unwrap()).unwrap();
    // Placed (4 mugs, 50.00), payment declined, cancelled.
    let order = "0194fbc8-5208-7001-b134-82d6adfd281f";
    let story: Vec<domain::StoredEvent> = events
        .into_iter()
        .filter(|e| e.aggregate_id == order)
        .collect();
    assert_eq!(story.len(), 3);
    let mug = "01943ade-1320-7001-aa9f-592d2d6d4b64";
    let partitions = t.shop.state.settings.pipeline.partitions;
    let p = partition_of(order, partitions);
    // Other orders of this partition already sold 10 mugs for 100.00.
    let shard = json!({"key": mug, "partition": p, "units": 10, "revenue": 10_000, "orders": 2});
    let batch = BatchWrite {
        records: vec![RecordWrite {
            table: "product_sales_g1".into(),
            id: format!("{mug}_{p}"),
            content: shard,
        }],
        ..Default::default()
    };
    t.shop
        .state
        .read
        .write_batch("sales_analytics", 1, batch)
        .await
        .unwrap();
    t.shop.state.write.import_log(&story).await.unwrap();
    let js = async_nats::jetstream::new(t.shop.state.nats.clone());
    let inject = |e: &domain::StoredEvent| {
        let (js, e) = (js.clone(), e.clone());
        async move {
            js.publish(
                server::pipeline::jetstream::event_subject("order", &e.aggregate_id),
                serde_json::to_vec(&e).unwrap().into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        }
    };
    let sales = |want: (i64, i64, i64)| {
        let read = t.shop.state.read.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
            loop {
                let (tally, _) = read
                    .sales_tally("product_sales", mug, partitions)
                    .await
                    .unwrap();
                if (tally.units, tally.revenue, tally.orders) == want {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{tally:?}, wanted {want:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    // Only the declined payment reaches the stream: the placement is healed
    // from the log and added to what was there.
    inject(&story[1]).await;
    sales((14, 15_000, 3)).await;
    inject(&story[2]).await;
    sales((10, 10_000, 2)).await;
    let letters = t
        .shop
        .state
        .read_models
        .get("sales_analytics")
        .unwrap()
        .dead_letters(None)
        .await
        .unwrap();
    assert!(letters.is_empty(), "{letters:#?}");
    t.stop().await;
}
