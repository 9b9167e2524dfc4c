//! The public JSON API and /health, through the real router, on real parts.

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::AggregateType;
use serde_json::{json, Value};
use std::time::Duration;
use support::TestShop;
use tower::ServiceExt;

async fn call(t: &TestShop, method: &str, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    let token = t.admin_token().await;
    t.call(method, uri, Some(&token), body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_created_changed_and_read_with_exact_money_and_freshness() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;

    let (status, receipt) = call(
        &t,
        "POST",
        "/api/products",
        Some(r#"{"name":"Laptop","category":"Electronics","price":24.99,"stock":10}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let id = receipt["productId"].as_str().unwrap().to_owned();
    assert_eq!(receipt["aggregateId"], json!(id));
    assert_eq!(receipt["aggregateVersion"], json!(1));
    assert_eq!(receipt["eventIds"].as_array().unwrap().len(), 2);
    assert!(receipt["commandId"].is_string());

    let (status, receipt) = call(
        &t,
        "PATCH",
        &format!("/api/products/{id}"),
        Some(r#"{"price":19.99}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["aggregateVersion"], json!(2));

    // Read-your-writes: ask for version 2; the answer has it, from either side.
    let (status, product) =
        call(&t, "GET", &format!("/api/products/{id}?minVersion=2"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(product["price"], json!(19.99));
    assert_eq!(product["previousPrice"], json!(24.99));
    assert_eq!(product["aggregateVersion"], json!(2));
    assert_eq!(product["stock"], json!(10));
    assert!(product["eventTime"].is_string() && product["projectedAt"].is_string());

    t.wait_for_version(id.parse().unwrap(), 2, Duration::from_secs(15))
        .await;
    let (_, listing) = call(&t, "GET", "/api/products", None).await;
    assert_eq!(listing["products"][0]["productId"], json!(id));
    assert_eq!(listing["products"][0]["price"], json!(19.99));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_400_naming_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let cases = [
        (
            r#"{"name":"A","category":"B","price":19.999,"stock":1}"#,
            "price",
            "has more than two decimal places",
        ),
        (
            r#"{"name":"A","category":"B","price":-1,"stock":1}"#,
            "price",
            "must not be negative",
        ),
        (
            r#"{"name":"A","category":"B","price":0,"stock":1}"#,
            "price",
            "must be greater than 0",
        ),
        (
            r#"{"name":"A","category":"B","price":"9.99","stock":1}"#,
            "price",
            "must be a number, such as 19.99",
        ),
        (
            r#"{"name":"A","category":"B","price":1,"stock":-2}"#,
            "stock",
            "must not be negative",
        ),
        (
            r#"{"name":"A","category":"B","price":1,"stock":1.5}"#,
            "stock",
            "must be a whole number",
        ),
        (
            r#"{"name":"A","price":1,"stock":1}"#,
            "category",
            "is required",
        ),
        (
            r#"{"name":42,"category":"B","price":1,"stock":1}"#,
            "name",
            "must be a string",
        ),
        (
            r#"{"name":"  ","category":"B","price":1,"stock":1}"#,
            "name",
            "must not be empty",
        ),
    ];
    for (body, field, reason) in cases {
        let (status, error) = call(&t, "POST", "/api/products", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error["error"], json!("invalid_request"), "{body}");
        assert_eq!(error["field"], json!(field), "{body}");
        assert_eq!(error["reason"], json!(reason), "{body}");
    }
    let (status, error) = call(&t, "POST", "/api/products", Some(r#"{"name":"#)).await;
    assert_eq!(
        (status, error["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("malformed_json"))
    );
    assert_eq!(
        t.shop
            .state
            .write
            .count(AggregateType::Product)
            .await
            .unwrap(),
        0
    );
    assert_eq!(t.shop.state.write.outbox_len().await.unwrap(), 0);

    let unknown = "01a20165-0000-7000-8000-000000000000";
    let (status, error) = call(
        &t,
        "PATCH",
        &format!("/api/products/{unknown}"),
        Some(r#"{"price":1}"#),
    )
    .await;
    assert_eq!(
        (status, error["error"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (status, _) = call(&t, "GET", &format!("/api/products/{unknown}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = call(&t, "GET", "/api/live?after=yesterday", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["field"], json!("after"));
    let (status, error) = call(&t, "PUT", &format!("/api/products/{unknown}"), None).await;
    assert_eq!(
        (status, error["error"].clone()),
        (StatusCode::METHOD_NOT_ALLOWED, json!("method_not_allowed"))
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_change_from_another_site_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let request = Request::builder()
        .method("POST")
        .uri("/api/products")
        .header("content-type", "application/json")
        .header("host", "127.0.0.1:3000")
        .header("origin", "https://evil.example")
        .body(Body::from(
            r#"{"name":"A","category":"B","price":1,"stock":1}"#,
        ))
        .unwrap();
    let response = t.shop.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        t.shop
            .state
            .write
            .count(AggregateType::Product)
            .await
            .unwrap(),
        0
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_ok_then_degraded_when_the_projector_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(dir.path());
    settings.pipeline.stall_after_ms = 3000;
    let t = TestShop::start_with(dir.path(), settings).await;
    // Until the projector's first heartbeat, health honestly says degraded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (status, health) = loop {
        let (status, health) = call(&t, "GET", "/health", None).await;
        if health["status"] == json!("ok") || tokio::time::Instant::now() > deadline {
            break (status, health);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], json!("ok"), "{health}");

    t.shop.crash_projectors().await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (status, health) = call(&t, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK, "commands still work: not a 503");
    assert_eq!(health["status"], json!("degraded"), "{health}");
    assert!(
        health["problems"].to_string().contains("projector"),
        "{health}"
    );
    t.stop().await;
}
