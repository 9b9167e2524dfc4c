//! A customer's order history: every order with its lines as bought and a
//! timeline of its steps, readable by that customer and staff only, and its
//! live notices sent to no one else.

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use support::TestShop;

async fn post(t: &TestShop, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    t.call("POST", uri, Some(token), Some(&body.to_string()))
        .await
}

async fn history_until(
    t: &TestShop,
    token: &str,
    customer: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (code, body) = t
            .call(
                "GET",
                &format!("/api/customers/{customer}/orders"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_follows_an_order_through_every_step_in_their_history() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (ana_id, ana) = t.customer("Ana").await;
    let (_, ben) = t.customer("Ben").await;
    let (code, product) = post(
        &t,
        &admin,
        "/api/products",
        json!({"name": "Desk lamp", "category": "Lighting", "price": 25.0, "stock": 5}),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{product}");
    let product = product["productId"].as_str().unwrap().to_owned();

    let (code, receipt) = post(
        &t,
        &ana,
        "/api/orders",
        json!({"items": [{"productId": product, "quantity": 2}]}),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{receipt}");
    let order = receipt["orderId"].as_str().unwrap().to_owned();
    let (code, _) = post(&t, &ana, &format!("/api/orders/{order}/pay"), json!({})).await;
    assert_eq!(code, StatusCode::OK);
    // The process manager confirms; staff ship and deliver.
    history_until(&t, &ana, &ana_id, |b| {
        b["orders"][0]["status"] == "confirmed"
    })
    .await;
    let (code, _) = post(
        &t,
        &admin,
        &format!("/api/orders/{order}/ship"),
        json!({"trackingNumber": "TRK-7"}),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let (code, _) = post(
        &t,
        &admin,
        &format!("/api/orders/{order}/deliver"),
        json!({}),
    )
    .await;
    assert_eq!(code, StatusCode::OK);

    let body = history_until(&t, &ana, &ana_id, |b| {
        b["orders"][0]["status"] == "delivered"
    })
    .await;
    let entry = &body["orders"][0];
    assert_eq!(entry["orderId"], json!(order));
    assert_eq!(entry["total"], json!(50.0));
    assert_eq!(entry["paid"], json!(50.0));
    assert_eq!(entry["trackingNumber"], json!("TRK-7"));
    assert_eq!(entry["aggregateVersion"], json!(5));
    let line = &entry["lines"][0];
    assert_eq!(
        (
            &line["productName"],
            &line["category"],
            &line["unitPrice"],
            &line["quantity"]
        ),
        (
            &json!("Desk lamp"),
            &json!("Lighting"),
            &json!(25.0),
            &json!(2)
        )
    );
    let steps: Vec<&str> = entry["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "awaitingPayment",
            "paid",
            "confirmed",
            "shipped",
            "delivered"
        ]
    );
    assert_eq!(body["stale"], json!(false));

    // Only Ana and staff read it.
    let uri = format!("/api/customers/{ana_id}/orders");
    assert_eq!(
        t.call("GET", &uri, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.call("GET", &uri, Some(&ben), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (code, body) = t.call("GET", &uri, Some(&admin), None).await;
    assert_eq!(
        (code, body["orders"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let (code, body) = t
        .call("GET", "/api/customers/not-an-id/orders", Some(&admin), None)
        .await;
    assert_eq!(
        (code, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id"))
    );
    t.stop().await;
}

/// Reads SSE `projected` notices' read models for `within`.
async fn notices_seen(url: String, token: String, within: Duration) -> Vec<String> {
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{url}/api/live"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(chunk)) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .map(|n| n["readModel"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_notices_reach_only_their_customer_and_staff() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = t.shop.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let admin = t.admin_token().await;
    let (_, ana) = t.customer("Ana").await;
    let (_, ben) = t.customer("Ben").await;
    let (_, product) = post(
        &t,
        &admin,
        "/api/products",
        json!({"name": "Mug", "category": "Kitchen", "price": 12.5, "stock": 9}),
    )
    .await;
    let product = product["productId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let window = Duration::from_secs(3);
    let ana_feed = tokio::spawn(notices_seen(url.clone(), ana.clone(), window));
    let ben_feed = tokio::spawn(notices_seen(url.clone(), ben.clone(), window));
    let staff_feed = tokio::spawn(notices_seen(url.clone(), admin.clone(), window));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, _) = post(
        &t,
        &ana,
        "/api/orders",
        json!({"items": [{"productId": product, "quantity": 1}]}),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let (ana_seen, ben_seen, staff_seen) = (
        ana_feed.await.unwrap(),
        ben_feed.await.unwrap(),
        staff_feed.await.unwrap(),
    );
    assert!(ana_seen.contains(&"orderView".to_owned()), "{ana_seen:?}");
    assert!(
        staff_seen.contains(&"orderView".to_owned()),
        "{staff_seen:?}"
    );
    // Ben's feed is live (he sees the stock change) but not Ana's order.
    assert!(ben_seen.contains(&"productView".to_owned()), "{ben_seen:?}");
    assert!(!ben_seen.contains(&"orderView".to_owned()), "{ben_seen:?}");
    t.stop().await;
}
