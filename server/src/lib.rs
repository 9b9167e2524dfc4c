//! Vitrine's server: the composition root and the adapters.
//!
//! - `config`: settings (Leptos.toml, then `VITRINE_*`)
//! - `store`: SurrealDB write store (rows, event log, outbox) and read store
//! - `commands`: command handlers (domain `decide` + one transaction), accounts
//! - `payments`: the (simulated) payment provider
//! - `pipeline`: relay, JetStream layout, projectors, live hub
//! - `queries`: the read side's queries
//! - `http`: JSON API, SSE, health
//! - `nats_server`: the embedded nats-server child process
//! - `demo`: demo data
//! - `cli`: the operator's commands (status, rebuild, dead letters)

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod http;
pub mod nats_server;
pub mod payments;
pub mod pipeline;
pub mod queries;
pub mod store;

use app::ports::{LivePosition, Ports, ShopInfo};
use axum::extract::FromRef;
use axum::routing::get;
use axum::Router;
use commands::accounts::{AccountHandler, Credentials};
use commands::catalog::CatalogHandler;
use commands::orders::OrderHandler;
use commands::reviews::ReviewHandler;
use commands::CommandBus;
use config::Settings;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use pipeline::live::LiveHub;
use pipeline::project_order_history::OrderHistory;
use pipeline::project_product_views::ProductViews;
use pipeline::project_sales_analytics::SalesAnalytics;
use pipeline::projector::{Projection, Projector, ReadModelOps, ReadModels};
use pipeline::relay::{Relay, RelayWaker};
use pipeline::status::PipelineStatus;
use queries::{CatalogService, OrderHistoryService};
use std::sync::{Arc, Mutex};
use store::read::ReadStore;
use store::write::WriteStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What every HTTP handler can reach. Axum clones the state for every
/// request (each `State` extractor, each layer), so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The shop's parts, shared by every request through [`AppState`].
pub struct Shared {
    pub ports: Ports,
    pub catalog_commands: Arc<CatalogHandler>,
    pub orders: Arc<OrderHandler>,
    pub reviews: Arc<ReviewHandler>,
    pub accounts: Arc<AccountHandler>,
    pub write: WriteStore,
    pub read: ReadStore,
    pub live: LiveHub,
    pub nats: async_nats::Client,
    pub status: Arc<PipelineStatus>,
    pub read_models: ReadModels,
    pub settings: Arc<Settings>,
    pub leptos: LeptosOptions,
    /// Anonymous product pages and records, kept rendered.
    pub product_pages: Arc<http::response_cache::ResponseCache>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl LivePosition for LiveHub {
    fn position(&self) -> u64 {
        LiveHub::position(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("write store at {url}: {source}")]
    WriteStore {
        url: String,
        source: store::StoreError,
    },
    #[error("read store at {url}: {source}")]
    ReadStore {
        url: String,
        source: store::StoreError,
    },
    #[error(transparent)]
    Bus(#[from] pipeline::jetstream::BusError),
    #[error("read model: {0}")]
    Projection(#[from] pipeline::projector::ProjectError),
    #[error("live feed: {0}")]
    Live(String),
    #[error("settings: {0}")]
    Config(#[from] config::ConfigError),
    #[error("demo data: {0}")]
    Demo(#[from] demo::DemoError),
    #[error("setting up accounts: {0}")]
    Setup(domain::CommandError),
}

/// What every read model's projector is made of.
struct ReadModelParts<'a> {
    read: &'a ReadStore,
    write: &'a WriteStore,
    live: &'a LiveHub,
    events: &'a async_nats::jetstream::stream::Stream,
    settings: pipeline::projector::ProjectorSettings,
    shutdown: &'a CancellationToken,
}

impl ReadModelParts<'_> {
    fn build<M: pipeline::projector::ReadModel>(&self, model: M) -> Arc<dyn ReadModelOps> {
        Arc::new(Projector::new(
            Projection::new(
                model,
                self.read.clone(),
                self.write.clone(),
                self.live.clone(),
                self.events.clone(),
                self.settings.clone(),
            ),
            self.shutdown.child_token(),
        ))
    }
}

/// Compares every read model with the write model now and then, repairing
/// drift through the projection path (see `Projector::reconcile`).
async fn reconcile_periodically(
    models: ReadModels,
    every: std::time::Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
        for model in &models.0 {
            match model.reconcile(true).await {
                Ok(report) if report.drifts.is_empty() => {
                    tracing::debug!(read_model = model.name(), "reconciled: no drift")
                }
                Ok(report) => tracing::warn!(
                    read_model = model.name(),
                    drifts = report.drifts.len(),
                    remaining = report.remaining.len(),
                    "reconciled: repaired drift"
                ),
                Err(e) => {
                    tracing::warn!(read_model = model.name(), error = %e, "reconciliation failed")
                }
            }
        }
    }
}

/// A running shop: stores open, relay and projector running.
pub struct Shop {
    pub state: AppState,
    shutdown: CancellationToken,
    relay: JoinHandle<()>,
    order_process: Mutex<Option<JoinHandle<()>>>,
    events: async_nats::jetstream::stream::Stream,
}

impl Shop {
    /// Opens the stores, sets up JetStream, starts the relay, the projector
    /// and the live hub, and creates the demo catalog if asked to.
    pub async fn start(
        settings: Settings,
        nats_url: &str,
        leptos: LeptosOptions,
    ) -> Result<Shop, StartError> {
        let user = settings.db_user.as_deref();
        let pass = settings.db_pass.as_deref();
        let write_url = settings.write_db_url();
        let read_url = settings.read_db_url();
        let write_db = store::connect(&write_url, "write", user, pass)
            .await
            .map_err(|source| StartError::WriteStore {
                url: write_url.clone(),
                source,
            })?;
        let write = WriteStore::open(write_db)
            .await
            .map_err(|source| StartError::WriteStore {
                url: write_url.clone(),
                source,
            })?;
        let read_db = store::connect(&read_url, "read", user, pass)
            .await
            .map_err(|source| StartError::ReadStore {
                url: read_url.clone(),
                source,
            })?;
        let read = ReadStore::open(read_db)
            .await
            .map_err(|source| StartError::ReadStore {
                url: read_url.clone(),
                source,
            })?;

        http::metrics::install();
        let nats = pipeline::jetstream::connect(nats_url).await?;
        let js = async_nats::jetstream::new(nats.clone());
        let (events, live_stream) = pipeline::jetstream::ensure_streams(
            &js,
            &settings.nats,
            settings.pipeline.projector().partitions,
        )
        .await?;

        let shutdown = CancellationToken::new();
        let live = LiveHub::start(js.clone(), live_stream, shutdown.clone())
            .await
            .map_err(|e| StartError::Live(e.to_string()))?;
        let status = Arc::new(PipelineStatus::default());
        let relay_waker = RelayWaker::default();

        settings.time_zone()?; // refuse a wrong time zone at start, not per request
        let bus = CommandBus::new(write.clone(), relay_waker.clone());
        let catalog_commands = Arc::new(CatalogHandler {
            bus: bus.clone(),
            policy: settings.price_policy()?,
        });
        let orders = Arc::new(OrderHandler {
            bus: bus.clone(),
            policy: settings.order_policy()?,
            payments: Arc::new(payments::SimulatedPayments::default()),
        });
        let reviews = Arc::new(ReviewHandler { bus: bus.clone() });
        let accounts = Arc::new(AccountHandler {
            bus: bus.clone(),
            session_ttl: settings.accounts.session_ttl(),
            secure_cookies: settings.accounts.secure_cookies,
            recent: Default::default(),
        });
        let catalog_cache = queries::catalog_cache::CatalogCache::new(read.clone(), live.clone());
        catalog_cache.spawn(shutdown.clone());
        let product_pages = http::response_cache::ResponseCache::new(
            catalog_cache.clone(),
            settings.pipeline.kept_page_max_age(),
        );
        let catalog = Arc::new(CatalogService {
            read: read.clone(),
            write: write.clone(),
            live: live.clone(),
            status: status.clone(),
            wait: settings.pipeline.read_your_writes_wait(),
            cache: catalog_cache,
        });
        let order_history = Arc::new(OrderHistoryService {
            read: read.clone(),
            write: write.clone(),
            live: live.clone(),
            status: status.clone(),
            wait: settings.pipeline.read_your_writes_wait(),
        });
        let parts = ReadModelParts {
            read: &read,
            write: &write,
            live: &live,
            events: &events,
            settings: settings.pipeline.projector(),
            shutdown: &shutdown,
        };
        let read_models = ReadModels(vec![
            parts.build(ProductViews),
            parts.build(OrderHistory),
            parts.build(SalesAnalytics {
                partitions: settings.pipeline.projector().partitions,
                write: write.clone(),
            }),
        ]);
        *status.models.write().unwrap_or_else(|p| p.into_inner()) =
            read_models.0.iter().map(|m| m.status()).collect();
        let ports = Ports {
            catalog_commands: catalog_commands.clone(),
            orders: orders.clone(),
            reviews: reviews.clone(),
            accounts: accounts.clone(),
            catalog,
            order_history,
            live: Arc::new(live.clone()),
            pipeline: Arc::new(pipeline::operations::PipelineService {
                read_models: read_models.clone(),
                status: status.clone(),
                stall_ms: settings.pipeline.stall_after().as_millis() as i64,
            }),
            shop: ShopInfo {
                order_policy: orders.policy,
                secure_cookies: settings.accounts.secure_cookies,
            },
        };

        let relay = tokio::spawn(
            Relay {
                store: write.clone(),
                js: js.clone(),
                waker: relay_waker.clone(),
                status: status.clone(),
                batch: settings.pipeline.relay_batch,
                scan_interval: settings.pipeline.relay_scan_interval(),
            }
            .run(shutdown.clone()),
        );

        // A consumer of the layout before partitions; its place is taken by
        // the read models' partition consumers.
        let _ = events.delete_consumer("project_product_views").await;

        let demo_data = settings.demo_data;
        let shop = Shop {
            state: AppState(Arc::new(Shared {
                ports,
                catalog_commands: catalog_commands.clone(),
                orders: orders.clone(),
                reviews,
                accounts: accounts.clone(),
                write: write.clone(),
                read,
                live,
                nats,
                status,
                read_models,
                settings: Arc::new(settings),
                leptos,
                product_pages,
            })),
            shutdown,
            relay,
            order_process: Mutex::new(None),
            events,
        };
        shop.start_read_models().await?;
        if let Some(every) = shop.state.settings.pipeline.reconcile_interval() {
            tokio::spawn(reconcile_periodically(
                shop.state.read_models.clone(),
                every,
                shop.shutdown.child_token(),
            ));
        }
        shop.start_order_process().await?;
        catalog_commands
            .ensure_house_seller()
            .await
            .map_err(StartError::Setup)?;
        let settings = &shop.state.settings;
        let admin = Credentials {
            email: settings.admin_email.clone(),
            password: settings.admin_password.clone(),
        };
        if accounts
            .ensure_admin("Shop admin", &admin)
            .await
            .map_err(StartError::Setup)?
        {
            tracing::info!(email = %settings.admin_email, "created the admin account");
        }
        if demo_data {
            demo::seed(&shop.state).await?;
        }
        Ok(shop)
    }

    /// Starts every read model's projector (building a first generation
    /// from the event log when there is none).
    async fn start_read_models(&self) -> Result<(), StartError> {
        // Only the concrete projectors know how to start; the registry holds
        // them type-erased, so start through `restart` after the first build.
        for model in &self.state.read_models.0 {
            model.start().await?;
        }
        Ok(())
    }

    /// Starts the order process manager (confirms paid orders, releases
    /// the stock of declined and unpaid ones).
    pub async fn start_order_process(&self) -> Result<(), StartError> {
        let consumer = pipeline::jetstream::durable_consumer(
            &self.events,
            pipeline::process_orders::NAME,
            &[pipeline::process_orders::FILTER],
            self.state.settings.pipeline.ack_wait(),
        )
        .await?;
        let handle = tokio::spawn(
            pipeline::process_orders::OrderProcess {
                consumer,
                orders: self.state.orders.clone(),
                accounts: self.state.accounts.clone(),
                write: self.state.write.clone(),
                unpaid_timeout: self.state.settings.shop.unpaid_order_timeout(),
                sweep_every: self.state.settings.pipeline.order_sweep_interval(),
            }
            .run(self.shutdown.child_token()),
        );
        *self.order_process.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(())
    }

    /// Kills every read model's partition tasks where they stand, as a
    /// crash would: nothing is acknowledged or flushed on the way out.
    pub async fn crash_projectors(&self) {
        for model in &self.state.read_models.0 {
            model.crash().await;
        }
    }

    /// Starts the read models' partition tasks again after a crash.
    pub async fn restart_projectors(&self) -> Result<(), StartError> {
        for model in &self.state.read_models.0 {
            model.restart().await?;
        }
        Ok(())
    }

    /// The HTTP app: JSON API, live feed, health, Leptos pages and server
    /// functions (under `/rpc`, with the ports in context).
    pub fn router(&self) -> Router {
        let state = self.state.clone();
        let leptos_options = state.leptos.clone();
        let routes = generate_route_list(app::App);
        let ports = state.ports.clone();
        Router::new()
            .route("/health", get(http::health::health))
            .route("/metrics", get(http::metrics::render))
            .nest("/api", http::api::routes())
            .leptos_routes_with_context(&state, routes, move || provide_context(ports.clone()), {
                let options = leptos_options.clone();
                move || app::shell(options.clone())
            })
            .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
                app::shell,
            ))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                http::auth::resolve_caller,
            ))
            .layer(axum::middleware::from_fn(
                http::cross_site::refuse_cross_site_changes,
            ))
            .layer(axum::middleware::from_fn(http::metrics::time_commands))
            // Outermost: a kept page skips everything below.
            .layer(axum::middleware::from_fn_with_state(
                state.product_pages.clone(),
                http::response_cache::serve_product_pages,
            ))
            .with_state(state)
    }

    /// Stops the background tasks and waits for them.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for model in &self.state.read_models.0 {
            model.stop().await;
        }
        let process = self
            .order_process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = process {
            let _ = handle.await;
        }
        let _ = self.relay.await;
    }
}
