//! A read model rebuilt from the event log into a new generation while
//! reads and writes go on: reads never fail, the switch is atomic, the new
//! generation holds every event (including history the stream never had).

#![allow(clippy::unwrap_used)]

mod support;

#[path = "../../bench/generate_events.rs"]
mod generate_events;

use domain::product::{ChangePrice, CreateProduct, ProductDetails};
use domain::{Money, ProductId};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::TestShop;

const MODEL: &str = "product_views";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_from_the_event_log_switches_while_reads_and_writes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(TestShop::start(dir.path()).await);

    // Products changed by commands during the rebuild.
    let mut live = Vec::new();
    for n in 0..3 {
        let id = ProductId::new();
        t.create_product(CreateProduct {
            product_id: id,
            seller_id: None,
            details: ProductDetails {
                name: format!("Live product {n}"),
                category: "Test".into(),
                ..ProductDetails::default()
            },
            price: Money::from_minor(50_000),
            stock: 5,
        })
        .await
        .unwrap();
        live.push(id);
    }
    for id in &live {
        t.wait_for_version(*id, 1, Duration::from_secs(10)).await;
    }
    // History the stream never carried: only a rebuild from the log finds it.
    let generated = generate_events::generate(&t.shop.state.write, 20_000, 50).await;
    assert!(generated.events >= 20_000);
    let some_generated = *generated.products.keys().next().unwrap();
    assert!(t.read(some_generated).await.is_none());

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut traffic = Vec::new();
    for reader in 0..2 {
        let (t, stop, reads, failures, live) = (
            t.clone(),
            stop.clone(),
            reads.clone(),
            failures.clone(),
            live.clone(),
        );
        traffic.push(tokio::spawn(async move {
            let catalog = &t.shop.state.ports.catalog;
            let mut n = reader;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let ok = if n % 10 == 0 {
                    catalog
                        .products()
                        .await
                        .is_ok_and(|l| !l.products.is_empty())
                } else {
                    matches!(
                        catalog.product(live[n % live.len()], None).await,
                        Ok(Some(_))
                    )
                };
                reads.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    {
        let (t, stop, live) = (t.clone(), stop.clone(), live.clone());
        traffic.push(tokio::spawn(async move {
            let mut price = 50_000;
            while !stop.load(Ordering::Relaxed) {
                price -= 1;
                for id in &live {
                    t.change_price(ChangePrice {
                        product_id: *id,
                        price: Money::from_minor(price),
                        expected_version: None,
                        override_price_cut: false,
                    })
                    .await
                    .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    let model = t.shop.state.read_models.get(MODEL).unwrap();
    assert_eq!(model.rebuild().unwrap(), 2);
    assert!(model.rebuild().is_err(), "one rebuild at a time");
    let status = t.shop.state.status.model(MODEL).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let progress = loop {
        let progress = status.rebuild_progress().unwrap();
        if progress.generation == 2 && progress.phase == "switched" {
            break progress;
        }
        assert!(
            !progress.phase.starts_with("failed"),
            "rebuild failed: {progress:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no switch: {progress:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Traffic goes on a moment on the new generation, then stops.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in traffic {
        task.await.unwrap();
    }
    println!(
        "rebuilt {} of {} events at {:.0} events/s; {} reads during it",
        progress.done,
        progress.total,
        progress.events_per_second,
        reads.load(Ordering::Relaxed)
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no read failed");
    assert!(reads.load(Ordering::Relaxed) > 10);
    assert!(progress.done >= generated.events as u64);
    assert!(progress.events_per_second > 0.0);
    assert_eq!(status.generation.load(Ordering::Relaxed), 2);
    assert_eq!(
        t.shop
            .state
            .read
            .read_model_state(MODEL)
            .await
            .unwrap()
            .active,
        Some(2)
    );

    // Every generated product, exactly as its history says.
    for (id, want) in &generated.products {
        let view = t.read(*id).await.expect("generated product rebuilt");
        assert_eq!(
            (view.version, view.price, view.stock, view.inventory_version),
            (want.version, want.price, want.stock, want.inventory_version),
            "product {id}"
        );
    }
    // The live products caught up with every command, through the switch.
    for id in &live {
        let version = t
            .shop
            .state
            .write
            .events_of(domain::AggregateType::Product, &id.to_string(), 1, u64::MAX)
            .await
            .unwrap()
            .len() as u64;
        t.wait_for_version(*id, version, Duration::from_secs(10))
            .await;
    }
    // The old generation is gone once the grace period is over.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = Arc::into_inner(t).unwrap();
    t.stop().await;
}
