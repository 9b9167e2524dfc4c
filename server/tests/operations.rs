//! What an operator sees and does: sync status, Prometheus metrics, the
//! admin API for read models (staff only), and the `vitrine` CLI against a
//! running shop.

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::StatusCode;
use domain::product::{CreateProduct, ProductDetails};
use domain::{Money, ProductId};
use std::time::Duration;
use support::TestShop;
use tokio::process::Command;

async fn product(t: &TestShop) -> ProductId {
    let id = ProductId::new();
    t.create_product(CreateProduct {
        product_id: id,
        seller_id: None,
        details: ProductDetails {
            name: "Kettle".into(),
            category: "Kitchen".into(),
            ..ProductDetails::default()
        },
        price: Money::from_minor(3_000),
        stock: 4,
    })
    .await
    .unwrap();
    t.wait_for_version(id, 1, Duration::from_secs(10)).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_status_and_metrics_say_how_fresh_each_read_model_is() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    product(&t).await;
    // Synced once the projector's heartbeat has seen the consumer empty.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        let (code, status) = t
            .call("GET", "/api/analytics/sync-status", None, None)
            .await;
        assert_eq!(code, StatusCode::OK);
        if status["status"] == "synced" {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["lagSeconds"], 0.0);
    assert!(
        status["lastProcessedEventTimestamp"].is_string(),
        "{status:#}"
    );
    let model = &status["readModels"][0];
    assert_eq!(model["name"], "product_views");
    assert_eq!(model["generation"], 1);
    assert_eq!(model["eventsBehind"], 0);
    assert_eq!(model["healthy"], true);
    assert_eq!(
        model["eventsApplied"], 3,
        "the house seller, ProductCreated and its stock"
    );
    assert_eq!(status["relay"]["outboxBacklog"], 0);

    let (_, response) = t.get_text("/metrics").await;
    for series in [
        "vitrine_read_model_events_behind{read_model=\"product_views\"} 0",
        "vitrine_read_model_dead_letters{read_model=\"product_views\"} 0",
        "vitrine_outbox_backlog 0",
        "vitrine_events_applied_total{read_model=\"product_views\"}",
        "vitrine_relay_lag_seconds_bucket",
        "vitrine_event_visible_seconds_bucket",
    ] {
        assert!(
            response.contains(series),
            "{series} missing in:\n{response}"
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_projector_is_reported_however_small_its_last_lag() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = support::settings(dir.path());
    s.pipeline.stall_after_ms = 1500;
    let t = TestShop::start_with(dir.path(), s).await;
    product(&t).await;
    t.shop.crash_projectors().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, status) = t
        .call("GET", "/api/analytics/sync-status", None, None)
        .await;
    assert_eq!(status["readModels"][0]["healthy"], false, "{status:#}");
    assert_eq!(status["status"], "stalled");
    assert!(
        status["readModels"][0]["heartbeatAgeSeconds"]
            .as_f64()
            .unwrap()
            >= 1.5
    );
    t.shop.restart_projectors().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, status) = t
            .call("GET", "/api/analytics/sync-status", None, None)
            .await;
        if status["readModels"][0]["healthy"] == true {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_staff_operate_read_models_and_bad_requests_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (_, customer) = t.customer("Ada").await;
    let list = "/api/admin/read-models";
    assert_eq!(
        t.call("GET", list, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.call("GET", list, Some(&customer), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (code, models) = t.call("GET", list, Some(&admin), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(models[0]["name"], "product_views");

    let (code, body) = t
        .call(
            "GET",
            "/api/admin/read-models/nope/dead-letters",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    let skip = "/api/admin/read-models/product_views/dead-letters/skip";
    let (code, body) = t
        .call(
            "POST",
            skip,
            Some(&admin),
            Some(r#"{"aggregate":"product:x","version":-1}"#),
        )
        .await;
    assert_eq!(
        (code, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("version"))
    );
    let (code, body) = t
        .call(
            "POST",
            skip,
            Some(&admin),
            Some(r#"{"aggregate":"product:x","version":3,"force":true}"#),
        )
        .await;
    assert_eq!(
        (code, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("force"))
    );
    let (code, body) = t
        .call(
            "POST",
            skip,
            Some(&admin),
            Some(r#"{"aggregate":"product:x","version":3}"#),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("no dead letter"));
    let retry = "/api/admin/read-models/product_views/dead-letters/retry";
    let (code, report) = t.call("POST", retry, Some(&admin), None).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(report["drained"], serde_json::json!([]));

    // A rebuild through the API; a second one while it runs is a 409.
    let id = product(&t).await;
    let rebuild = "/api/admin/read-models/product_views/rebuild";
    let (code, started) = t.call("POST", rebuild, Some(&admin), None).await;
    assert_eq!(
        (code, started["generation"].as_u64()),
        (StatusCode::ACCEPTED, Some(2))
    );
    let (code, _) = t.call("POST", rebuild, Some(&customer), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, models) = t.call("GET", list, Some(&admin), None).await;
        if models[0]["generation"] == 2 && models[0]["rebuild"]["phase"] == "switched" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{models:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(t.read(id).await.unwrap().version, 1);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reports_status_and_dead_letters_of_a_running_shop() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = t.shop.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let token = t.admin_token().await;
    let (admin_email, admin_password) = (
        t.shop.state.settings.admin_email.clone(),
        t.shop.state.settings.admin_password.clone(),
    );
    let cli = |args: &[&str], token: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vitrine"));
        command
            .args(args)
            .env("VITRINE_URL", &url)
            .env_remove("VITRINE_TOKEN")
            // Without a token the CLI signs in as the settings' admin.
            .env("VITRINE_ADMIN_EMAIL", &admin_email)
            .env("VITRINE_ADMIN_PASSWORD", &admin_password);
        if let Some(token) = token {
            command.env("VITRINE_TOKEN", token);
        }
        command.output()
    };
    let out = cli(&["status"], Some(&token)).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["readModels"][0]["name"], "product_views");

    let out = cli(&["dead-letters", "list", "product_views"], None)
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        &["dead-letters", "skip", "product_views", "product:x", "1"],
        Some(&token),
    )
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("409"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["status"], Some("not-a-token")).await.unwrap();
    assert!(!out.status.success());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_finds_drift_against_the_write_model_and_repairs_it() {
    use server::store::projections::{BatchWrite, RecordWrite};
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let id = product(&t).await;
    let path = "/api/admin/read-models/product_views/reconcile";
    let (code, report) = t.call("POST", path, Some(&admin), None).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(report["drifts"], serde_json::json!([]), "{report:#}");

    // Drift as a bug or a hand edit would leave it: a wrong price and stock,
    // and a page for a product the write model never had.
    let mut wrong = t.read(id).await.unwrap();
    wrong.price = Money::from_minor(1);
    wrong.stock = 99;
    let mut orphan = wrong.clone();
    orphan.product_id = ProductId::new();
    let table = "product_view_g1".to_owned();
    let batch = BatchWrite {
        records: [&wrong, &orphan]
            .iter()
            .map(|v| RecordWrite {
                table: table.clone(),
                id: v.product_id.to_string(),
                content: serde_json::to_value(v).unwrap(),
            })
            .collect(),
        ..Default::default()
    };
    t.shop
        .state
        .read
        .write_batch("product_views", 1, batch)
        .await
        .unwrap();

    let (code, report) = t
        .call("POST", path, Some(&admin), Some(r#"{"repair":false}"#))
        .await;
    assert_eq!(code, StatusCode::OK, "{report}");
    let mut fields: Vec<&str> = report["drifts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["price,stock", "record"], "{report:#}");
    assert_eq!(report["repaired"], 0);
    assert_eq!(t.read(id).await.unwrap().price, Money::from_minor(1));

    let (code, report) = t.call("POST", path, Some(&admin), None).await;
    assert_eq!(code, StatusCode::OK, "{report}");
    assert_eq!(report["drifts"].as_array().unwrap().len(), 2);
    assert_eq!(report["remaining"], serde_json::json!([]), "{report:#}");
    let view = t.read(id).await.unwrap();
    assert_eq!(
        (view.price, view.stock, view.version),
        (Money::from_minor(3_000), 4, 1)
    );
    assert!(t.read(orphan.product_id).await.is_none());
    let (code, _) = t
        .call("POST", path, Some(&admin), Some(r#"{"repair":"yes"}"#))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    t.stop().await;
}
