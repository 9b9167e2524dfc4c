//! `vitrine`: serves the shop (starting its own nats-server unless
//! VITRINE_NATS_URL is set, and stopping it on exit), or runs an operator
//! command against a running shop (`vitrine --help`).

use anyhow::Context;
use leptos::config::get_configuration;
use server::config::Settings;
use server::nats_server::EmbeddedNats;
use server::Shop;
use tracing_subscriber::EnvFilter;

// glibc's malloc spent ~40% of the CPU under order load (arena lock
// contention in SurrealDB's many small allocations; see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,surrealdb=warn,surrealkv=warn")),
        )
        .init();

    let cli = <server::cli::Cli as clap::Parser>::parse();
    let mut settings = Settings::load().context("reading settings")?;
    if let Some(command) = cli.command {
        if !matches!(command, server::cli::Command::Serve) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            return runtime
                .block_on(server::cli::run(
                    command,
                    &settings.admin_email,
                    &settings.admin_password,
                ))
                .map_err(Into::into);
        }
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data directory {:?}", settings.data_dir))?;
    settings.data_dir = settings.data_dir.canonicalize()?;

    // Started here, on the main thread, which lives as long as the process:
    // the kernel's parent-death signal is tied to the spawning thread.
    let embedded = match &settings.nats_url {
        Some(_) => None,
        None => Some(
            EmbeddedNats::start(
                &settings.nats_server_bin,
                &settings.data_dir,
                &settings.nats.sync_interval,
            )
            .context("starting the embedded nats-server")?,
        ),
    };
    let nats_url = settings
        .nats_url
        .clone()
        .or_else(|| embedded.as_ref().map(|e| e.url.clone()))
        .context("no NATS URL")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve(settings, nats_url));
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    drop(embedded); // after the server, so the relay could finish its round
    result
}

async fn serve(settings: Settings, nats_url: String) -> anyhow::Result<()> {
    // Built by cargo-leptos, the binary knows its site; otherwise read Cargo.toml.
    let mut leptos = match get_configuration(None) {
        Ok(conf) if !conf.leptos_options.output_name.is_empty() => conf.leptos_options,
        _ => {
            get_configuration(Some("Cargo.toml"))
                .context("reading [[workspace.metadata.leptos]] from Cargo.toml")?
                .leptos_options
        }
    };
    if let Some(addr) = settings.addr {
        leptos.site_addr = addr;
    }
    let addr = leptos.site_addr;
    let shop = Shop::start(settings, &nats_url, leptos).await?;
    let app = shop.router();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    tracing::info!("Vitrine is open at http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
        })
        .await?;
    shop.stop().await;
    Ok(())
}
