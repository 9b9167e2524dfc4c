//! Read-path benchmark: each figure a ratio measured side by side in one run,
//! on one machine, with the same client:
//!
//! 1. `GET /api/products/{id}` (JSON product page record) against an axum
//!    handler returning a static body of the same size;
//! 2. the server-rendered product page against a static HTML page of the
//!    same size;
//! 3. the CQRS read (the `CatalogQueries::product` port: in-memory catalog,
//!    plus the read store's reviews when not cached) and the read store's
//!    records without the cache, against the equivalent join over the write
//!    model (`WriteStore::product_page_by_join`, seed 004's five tables),
//!    in-process, on the same data.
//!
//! 4. Catalog search over `--catalog` synthetic products (default 100,000)
//!    held in memory: the memory it takes and the latency of searches.
//!
//! The shop runs with demo data on the default embedded stores and its own
//! nats-server. HTTP load: `--clients` concurrent keep-alive connections
//! (reqwest) for `--seconds` per target after a warm-up, client and server
//! sharing the machine's cores.
//!
//! Run: `make bench-reads` (release), or
//! `cargo run --release -p server --example bench-reads -- --seconds 10 --clients 32`.

use axum::response::IntoResponse;
use server::config::Settings;
use server::nats_server::EmbeddedNats;
use server::Shop;
use std::sync::Arc;
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

/// A cookie the shop does not read: any cookie makes the page rendered for
/// this visitor rather than served as kept, so this measures rendering.
const VISITOR_COOKIE: &str = "theme=dark";

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::load()?;
    settings.data_dir = dir.path().to_owned();
    settings.demo_data = true;
    settings.nats_url = None;
    let nats = EmbeddedNats::start(
        &settings.nats_server_bin,
        &settings.data_dir,
        &settings.nats.sync_interval,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(settings, nats.url.clone()))?;
    drop(nats);
    Ok(())
}

/// Requests per second and latency percentiles (ms) of one target.
struct Load {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

/// `cookie`: sent with every request (a visitor with a cart or a session,
/// whose pages are rendered for them each time rather than kept).
async fn load(
    url: &str,
    clients: usize,
    seconds: u64,
    cookie: Option<&str>,
) -> anyhow::Result<Load> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(cookie) = cookie {
        headers.insert(reqwest::header::COOKIE, cookie.parse()?);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .default_headers(headers)
        .build()?;
    // Warm-up: connections, caches.
    let warm_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < warm_until {
        client.get(url).send().await?.bytes().await?;
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < until {
                let sent = Instant::now();
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        if r.bytes().await.is_err() {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await?;
        all.extend(latencies);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok(Load {
        rps: all.len() as f64 / elapsed,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        errors,
    })
}

fn report(name: &str, l: &Load) {
    println!(
        "  {name:<34} {:>9.0} req/s   p50 {:>7.3} ms   p99 {:>7.3} ms   errors {}",
        l.rps, l.p50, l.p99, l.errors
    );
}

/// Calls per second and per-call latency (µs) of an in-process read.
async fn in_process<F, Fut>(name: &str, seconds: u64, mut call: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..100 {
        call().await?;
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let t = Instant::now();
        call().await?;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let per_second = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  {name:<34} {:>9.0} reads/s   p50 {:>9.1} µs   p99 {:>9.1} µs",
        per_second,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    Ok(per_second)
}

async fn run(settings: Settings, nats_url: String) -> anyhow::Result<()> {
    let seconds = arg("--seconds", 10) as u64;
    let clients = arg("--clients", 32);
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("vitrine")
        .build();
    let shop = Arc::new(Shop::start(settings, &nats_url, leptos).await?);
    let state = shop.state.clone();

    // The demo catalog, projected and in the catalog cache.
    let deadline = Instant::now() + Duration::from_secs(300);
    let product = loop {
        let page = state
            .ports
            .catalog
            .search(
                app::api::catalog::CatalogParams {
                    sort: Some("rating".into()),
                    ..Default::default()
                }
                .check()
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            )
            .await?;
        let pending = state.status.lagging();
        if page.total >= 288 && !pending && page.items[0].rating.count > 0 {
            break page.items[0].product_id;
        }
        anyhow::ensure!(Instant::now() < deadline, "the demo data never projected");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let shop_addr = listener.local_addr()?;
    let router = shop.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let json_url = format!("http://{shop_addr}/api/products/{product}");
    let page_url = format!("http://{shop_addr}/products/{product}");
    let json_body = reqwest::get(&json_url).await?.bytes().await?;
    let page_body = reqwest::get(&page_url).await?.bytes().await?;

    // Static responses of the same sizes.
    let static_json = json_body.clone();
    let static_html = page_body.clone();
    let statics = axum::Router::new()
        .route(
            "/static.json",
            axum::routing::get(move || {
                let body = static_json.clone();
                async move { ([("content-type", "application/json")], body).into_response() }
            }),
        )
        .route(
            "/static.html",
            axum::routing::get(move || {
                let body = static_html.clone();
                async move { ([("content-type", "text/html; charset=utf-8")], body).into_response() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let static_addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, statics).await });

    println!(
        "read benchmark: {} cores, {clients} clients, {seconds} s per target; product {product}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!("JSON product record ({} bytes):", json_body.len());
    let static_json = load(
        &format!("http://{static_addr}/static.json"),
        clients,
        seconds,
        None,
    )
    .await?;
    report("static JSON (axum, same size)", &static_json);
    let product_json = load(&json_url, clients, seconds, None).await?;
    report("GET /api/products/{id} (kept)", &product_json);
    println!(
        "  ratio {:.1}% of the static response's throughput (target >= 50%), p99 {:.2} ms (target <= 5 ms)",
        100.0 * product_json.rps / static_json.rps,
        product_json.p99
    );
    let rendered_json = load(&json_url, clients, seconds, Some(VISITOR_COOKIE)).await?;
    report("  same, with a cookie (serialized)", &rendered_json);
    println!(
        "  ratio {:.1}% of the static response's throughput, p99 {:.2} ms",
        100.0 * rendered_json.rps / static_json.rps,
        rendered_json.p99
    );

    println!("Product page HTML ({} bytes):", page_body.len());
    let static_page = load(
        &format!("http://{static_addr}/static.html"),
        clients,
        seconds,
        None,
    )
    .await?;
    report("static HTML (axum, same size)", &static_page);
    let ssr_page = load(&page_url, clients, seconds, None).await?;
    report("SSR /products/{id} (kept)", &ssr_page);
    println!(
        "  ratio {:.1}% of the static page's throughput (target >= 50%)",
        100.0 * ssr_page.rps / static_page.rps
    );
    let rendered_page = load(&page_url, clients, seconds, Some(VISITOR_COOKIE)).await?;
    report("  same, with a cookie (rendered)", &rendered_page);
    println!(
        "  ratio {:.1}% of the static page's throughput",
        100.0 * rendered_page.rps / static_page.rps
    );

    println!("Product page read, in-process, same data:");
    let catalog = state.ports.catalog.clone();
    let cqrs = in_process("CQRS read (catalog port)", seconds, || {
        let catalog = catalog.clone();
        async move {
            catalog
                .product(product, None)
                .await?
                .ok_or_else(|| anyhow::anyhow!("missing"))?;
            Ok(())
        }
    })
    .await?;
    let read = state.read.clone();
    let records = in_process("read store records, no cache", seconds, || {
        let read = read.clone();
        async move {
            let view = read
                .product_view(product)
                .await?
                .ok_or_else(|| anyhow::anyhow!("missing"))?;
            read.ratings(Some(&[product.to_string()])).await?;
            read.recent_reviews(product, 5).await?;
            if let Some(seller) = view.seller_id {
                read.seller_view(seller).await?;
            }
            Ok(())
        }
    })
    .await?;
    let write = state.write.clone();
    let id = product.to_string();
    let join = in_process("join over the write model", seconds, || {
        let write = write.clone();
        let id = id.clone();
        async move {
            let page = write.product_page_by_join(&id).await?;
            anyhow::ensure!(!page["product"].is_null(), "the join found nothing");
            Ok(())
        }
    })
    .await?;
    println!(
        "  CQRS read {:.0}x the join (target >= 20x); read store records without the cache {:.1}x",
        cqrs / join,
        records / join
    );
    drop(state);
    search_at_scale(arg("--catalog", 100_000), seconds)?;
    if let Ok(shop) = Arc::try_unwrap(shop) {
        shop.stop().await;
    }
    Ok(())
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn search_at_scale(products: usize, seconds: u64) -> anyhow::Result<()> {
    use app::api::catalog::CatalogParams;
    use domain::views::{ProductView, RatingSummary};
    use server::queries::catalog_search::{CatalogEntry, CatalogIndex};
    const WORDS: [&str; 16] = [
        "walnut",
        "linen",
        "oak",
        "ceramic",
        "brass",
        "copper",
        "wireless",
        "compact",
        "lamp",
        "blanket",
        "table",
        "clock",
        "vase",
        "skillet",
        "teapot",
        "headphones",
    ];
    const CATEGORIES: [&str; 8] = [
        "Home",
        "Kitchen",
        "Electronics",
        "Garden",
        "Books",
        "Toys",
        "Sports",
        "Beauty",
    ];
    let before = rss();
    let now = time::OffsetDateTime::now_utc();
    let mut index = CatalogIndex::default();
    for i in 0..products {
        let word = |k: usize| WORDS[(i * 7 + k * 13) % WORDS.len()];
        let view = ProductView {
            product_id: domain::ProductId::new(),
            seller_id: None,
            name: format!("{} {} {}", word(0), word(1), i),
            description: format!(
                "A {} {} for every day, made to last; pairs with the {}.",
                word(2),
                word(3),
                word(4)
            ),
            category: CATEGORIES[i % CATEGORIES.len()].into(),
            tags: vec![word(5).into(), word(6).into()],
            image_url: None,
            shipping_options: vec![],
            price: domain::Money::from_minor(500 + (i as i64 * 7919) % 50_000),
            previous_price: None,
            stock: (i % 11) as u32,
            created_at: now,
            price_history: vec![],
            units_sold: (i % 97) as u64,
            recent_sales: vec![],
            deleted: false,
            version: 1,
            inventory_version: 1,
            event_time: now,
            projected_at: now,
        };
        let rating = RatingSummary {
            count: (i % 9) as u64,
            sum: (i % 9) as u64 * (1 + i as u64 % 5),
        };
        index
            .entries
            .insert(view.product_id, Arc::new(CatalogEntry::new(view, rating)));
    }
    let after = rss();
    println!(
        "Catalog search over {products} products in memory: {:.0} MB resident for the index ({:.0} bytes a product)",
        (after.saturating_sub(before)) as f64 / 1e6,
        after.saturating_sub(before) as f64 / products as f64
    );
    let queries = [
        ("text 'walnut lamp'", "walnut lamp", None, None, None),
        (
            "text + category + price",
            "oak",
            Some("Home"),
            Some("100"),
            None,
        ),
        (
            "no text, rating >= 4, price sort",
            "",
            None,
            None,
            Some("4"),
        ),
    ];
    for (name, text, category, max_price, min_rating) in queries {
        let query = CatalogParams {
            q: Some(text.into()),
            category: category.map(Into::into),
            max_price: max_price.map(Into::into),
            min_rating: min_rating.map(Into::into),
            sort: min_rating.map(|_| "price_asc".into()),
            ..Default::default()
        }
        .check()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut latencies = Vec::new();
        let until = Instant::now() + Duration::from_secs(seconds.min(5));
        let mut total = 0;
        while Instant::now() < until {
            let t = Instant::now();
            total = index.search(&query).total;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        println!(
            "  {name:<34} {total:>7} hits   p50 {:>7.2} ms   p99 {:>7.2} ms",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99)
        );
    }
    Ok(())
}
