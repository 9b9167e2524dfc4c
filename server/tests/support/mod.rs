//! A real shop for tests: a real nats-server (JetStream on disk in a temp
//! directory) and embedded SurrealDB (SurrealKV on disk, so a restart test
//! restarts on the same files).

#![allow(dead_code, clippy::unwrap_used)]

use app::live::ProjectionNotice;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::product::{ChangePrice, CreateProduct};
use domain::views::ProductView;
use domain::ProductId;
use domain::{Actor, ActorRole, CommandError, CommandMeta, WriteReceipt};
use leptos::config::LeptosOptions;
use serde_json::Value;
use server::config::Settings;
use server::nats_server::EmbeddedNats;
use server::Shop;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::broadcast;
use tower::ServiceExt;

pub fn nats_bin() -> PathBuf {
    std::env::var_os("VITRINE_NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

pub fn admin() -> Actor {
    Actor {
        id: "test-admin".into(),
        role: ActorRole::Admin,
    }
}

pub fn settings(dir: &Path) -> Settings {
    let mut s = Settings::defaults().unwrap();
    s.data_dir = dir.to_owned();
    s.demo_data = false;
    // Redeliver quickly after a simulated crash.
    s.pipeline.ack_wait_ms = 1000;
    s.pipeline.relay_scan_interval_ms = 200;
    s
}

pub struct TestShop {
    pub shop: Shop,
    pub nats: EmbeddedNats,
}

impl TestShop {
    pub async fn start(dir: &Path) -> TestShop {
        Self::start_with(dir, settings(dir)).await
    }

    pub async fn start_with(dir: &Path, s: Settings) -> TestShop {
        // RUST_LOG=server=debug shows the shop's log beside a failing test.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .try_init();
        let nats = EmbeddedNats::start(&nats_bin(), dir, &s.nats.sync_interval)
            .expect("nats-server must be installed (make tools)");
        let leptos = LeptosOptions::builder().output_name("vitrine").build();
        let shop = Shop::start(s, &nats.url, leptos).await.unwrap();
        TestShop { shop, nats }
    }

    pub async fn stop(self) {
        self.shop.stop().await;
        drop(self.nats);
    }

    /// Sends the command as an admin, through the same port the UI uses.
    pub async fn create_product(
        &self,
        command: CreateProduct,
    ) -> Result<WriteReceipt, CommandError> {
        let products = &self.shop.state.ports.catalog_commands;
        products
            .create_product(CommandMeta::new(admin()), command)
            .await
    }

    pub async fn change_price(&self, command: ChangePrice) -> Result<WriteReceipt, CommandError> {
        let products = &self.shop.state.ports.catalog_commands;
        products
            .change_price(CommandMeta::new(admin()), command)
            .await
    }

    /// A bearer token for the admin account the shop created at start.
    pub async fn admin_token(&self) -> String {
        let email = self.shop.state.settings.admin_email.clone();
        self.token_for(&email).await
    }

    /// A bearer token for any account, issued by staff.
    pub async fn token_for(&self, email: &str) -> String {
        self.shop
            .state
            .accounts
            .issue_token(&CommandMeta::new(Actor::system("test")), email, "test")
            .await
            .unwrap()
    }

    /// Signs a customer up; returns their customer id and a bearer token.
    pub async fn customer(&self, name: &str) -> (String, String) {
        let email = format!(
            "{}-{}@example.com",
            name.to_lowercase().replace(' ', "."),
            uuid::Uuid::now_v7().simple()
        );
        let receipt = self
            .shop
            .state
            .accounts
            .sign_up(
                CommandMeta::new(Actor::system("test")),
                name.into(),
                server::commands::accounts::Credentials {
                    email: email.clone(),
                    password: "correct horse battery".into(),
                },
            )
            .await
            .unwrap();
        (receipt.aggregate_id, self.token_for(&email).await)
    }

    /// Calls the router with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Body::from(body.unwrap_or("").to_owned()))
            .unwrap();
        let response = self.shop.router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// GETs `uri` without credentials and returns its body as text (pages,
    /// `/metrics`).
    pub async fn get_text(&self, uri: &str) -> (StatusCode, String) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = self.shop.router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn notices(&self) -> broadcast::Receiver<server::pipeline::live::LiveEntry> {
        self.shop.state.live.subscribe()
    }

    pub async fn read(&self, id: ProductId) -> Option<ProductView> {
        self.shop.state.read.product_view(id).await.unwrap()
    }

    /// Polls the read store until the record reaches `version`.
    pub async fn wait_for_version(
        &self,
        id: ProductId,
        version: u64,
        within: Duration,
    ) -> ProductView {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(v) = self.read(id).await {
                if v.version >= version {
                    return v;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "read record of {id} did not reach version {version} within {within:?} (has {:?})",
                self.read(id).await.map(|v| v.version)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits for the live notice that reports `id` at `version` or later.
pub async fn wait_for_notice(
    rx: &mut broadcast::Receiver<server::pipeline::live::LiveEntry>,
    id: &str,
    version: u64,
) -> ProjectionNotice {
    let fut = async {
        loop {
            match rx.recv().await {
                Ok(e) if e.notice.aggregate_id == id && e.notice.aggregate_version >= version => {
                    return (*e.notice).clone()
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("live hub closed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), fut)
        .await
        .expect("no live notice within 15 s")
}
