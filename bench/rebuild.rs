//! Rebuild benchmark: a read model rebuilt from a synthetic event log of
//! `--events` events (default 1,000,000) while live traffic goes on, on a
//! fresh shop with the default durable settings (SurrealKV on disk, its own
//! nats-server with `sync_interval: always`).
//!
//! Run: `make bench-rebuild` (release), or
//! `cargo run --release -p server --example bench-rebuild -- --events 1000000`.
//!
//! Reports: events written by the generator (and how fast), the rebuild's
//! events/s from start to switch, reads done during it (product pages and
//! catalog listings) with failures and latency percentiles, and price
//! changes committed during it.

#[path = "generate_events.rs"]
mod generate_events;

use app::ports::CatalogCommands;
use server::config::Settings;
use server::nats_server::EmbeddedNats;
use server::Shop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let events = arg("--events", 1_000_000);
    let per_product = arg("--per-product", 50);
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::load()?;
    settings.data_dir = dir.path().to_owned();
    settings.demo_data = false;
    settings.nats_url = None;
    // On the main thread, as the server does (parent-death signal).
    let nats = EmbeddedNats::start(
        &settings.nats_server_bin,
        &settings.data_dir,
        &settings.nats.sync_interval,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(settings, nats.url.clone(), events, per_product))?;
    drop(nats);
    Ok(())
}

async fn run(
    settings: Settings,
    nats_url: String,
    events: usize,
    per_product: usize,
) -> anyhow::Result<()> {
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("vitrine")
        .build();
    let shop = Arc::new(Shop::start(settings, &nats_url, leptos).await?);
    let state = shop.state.clone();
    println!(
        "rebuild benchmark: {} cores, {} partitions, batch {} events",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        state.settings.pipeline.partitions,
        state.settings.pipeline.rebuild_batch
    );

    let started = Instant::now();
    let generated = generate_events::generate(&state.write, events, per_product).await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} events for {} products in {secs:.1} s ({:.0} events/s, straight into the log)",
        generated.events,
        generated.products.len(),
        generated.events as f64 / secs
    );
    let live: Vec<domain::ProductId> = generated.products.keys().take(20).copied().collect();

    // Live products the commands change during the rebuild.
    let meta = domain::CommandMeta::new(domain::Actor::system("bench"));
    let mut changing = Vec::new();
    for n in 0..10 {
        let id = domain::ProductId::new();
        state
            .catalog_commands
            .create_product(
                meta.clone(),
                domain::product::CreateProduct {
                    product_id: id,
                    seller_id: None,
                    details: domain::product::ProductDetails {
                        name: format!("Live product {n}"),
                        category: "Bench".into(),
                        ..Default::default()
                    },
                    price: domain::Money::from_minor(90_000),
                    stock: 10,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        changing.push(id);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let writes = Arc::new(AtomicU64::new(0));
    let mut traffic = Vec::new();
    for reader in 0..4usize {
        let (state, stop, failures, latencies, changing) = (
            state.clone(),
            stop.clone(),
            failures.clone(),
            latencies.clone(),
            changing.clone(),
        );
        traffic.push(tokio::spawn(async move {
            let mut n = reader;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let t = Instant::now();
                let ok = if n % 50 == 0 {
                    state.ports.catalog.products().await.is_ok()
                } else {
                    matches!(
                        state
                            .ports
                            .catalog
                            .product(changing[n % changing.len()], None)
                            .await,
                        Ok(Some(_))
                    )
                };
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                latencies.lock().unwrap_or_else(|p| p.into_inner()).push(ms);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    {
        let (state, stop, writes, changing) = (
            state.clone(),
            stop.clone(),
            writes.clone(),
            changing.clone(),
        );
        traffic.push(tokio::spawn(async move {
            let mut price = 90_000;
            while !stop.load(Ordering::Relaxed) {
                price -= 1;
                for id in &changing {
                    let change = domain::product::ChangePrice {
                        product_id: *id,
                        price: domain::Money::from_minor(price),
                        expected_version: None,
                        override_price_cut: false,
                    };
                    let meta = domain::CommandMeta::new(domain::Actor::system("bench"));
                    if state
                        .catalog_commands
                        .change_price(meta, change)
                        .await
                        .is_ok()
                    {
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }

    let model = state
        .read_models
        .get("product_views")
        .ok_or_else(|| anyhow::anyhow!("no product_views"))?
        .clone();
    let status = model.status();
    let generation = model.rebuild().map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let mut last_print = Instant::now();
    let progress = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(p) = status.rebuild_progress() else {
            continue;
        };
        if p.generation != generation {
            continue;
        }
        if p.phase == "switched" || p.phase.starts_with("failed") {
            break p;
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            last_print = Instant::now();
            println!(
                "  {}: {} / {} events, {:.0} events/s, ETA {:.0} s",
                p.phase,
                p.done,
                p.total,
                p.events_per_second,
                p.eta_seconds.unwrap_or(f64::NAN)
            );
        }
    };
    let wall = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in traffic {
        let _ = t.await;
    }
    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    println!(
        "rebuild of generation {generation}: {} — {} of {} events in {wall:.1} s (start to switch) = {:.0} events/s; log scan alone {:.0} events/s",
        progress.phase,
        progress.done,
        progress.total,
        progress.done as f64 / wall,
        progress.events_per_second
    );
    println!(
        "during it: {} reads, {} failed; read latency ms median {:.2} p99 {:.2} max {:.2}; {} price changes committed",
        lat.len(),
        failures.load(Ordering::Relaxed),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN),
        writes.load(Ordering::Relaxed)
    );
    // Spot-check the rebuilt records against what the generator wrote.
    let mut wrong = 0;
    for id in &live {
        let view = state.read.product_view(*id).await?;
        let want = &generated.products[id];
        if view.map(|v| (v.version, v.price, v.stock))
            != Some((want.version, want.price, want.stock))
        {
            wrong += 1;
        }
    }
    println!(
        "spot check: {wrong} of {} generated products differ",
        live.len()
    );
    if let Ok(shop) = Arc::try_unwrap(shop) {
        shop.stop().await;
    }
    Ok(())
}
