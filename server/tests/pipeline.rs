//! The whole loop on real parts: command → write store + outbox (one
//! transaction) → relay → JetStream → projector → read record → live notice.

#![allow(clippy::unwrap_used)]

mod support;

use app::api::ReadSource;
use domain::product::{ChangePrice, CreateProduct, Product, ProductDetails};
use domain::{AggregateType, CommandMeta, EventId, Money, ProductId};
use std::collections::HashSet;
use std::time::Duration;
use support::{admin, wait_for_notice, TestShop};

fn create(name: &str, price: i64) -> CreateProduct {
    CreateProduct {
        product_id: ProductId::new(),
        seller_id: None,
        details: ProductDetails {
            name: name.into(),
            category: "Test".into(),
            ..ProductDetails::default()
        },
        price: Money::from_minor(price),
        stock: 3,
    }
}

fn change(id: ProductId, price: i64) -> ChangePrice {
    ChangePrice {
        product_id: id,
        price: Money::from_minor(price),
        expected_version: None,
        override_price_cut: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_product_reaches_its_read_record_and_the_live_feed() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let mut notices = t.notices();
    let cmd = create("Desk lamp", 8_900);
    let id = cmd.product_id;
    let receipt = t.create_product(cmd).await.unwrap();
    assert_eq!(receipt.aggregate_version, 1);
    // ProductCreated, and the initial stock on the product's Inventory.
    assert_eq!(receipt.event_ids.len(), 2);

    // Both land in the product's read record (in one notice or two).
    let mut reported = Vec::new();
    while reported.len() < 2 {
        let notice = wait_for_notice(&mut notices, &id.to_string(), 1).await;
        reported.extend(notice.event_ids);
    }
    assert_eq!(reported, receipt.event_ids);
    let view = t
        .read(id)
        .await
        .expect("read record exists once the notice is out");
    assert_eq!(
        (view.name.as_str(), view.price, view.stock, view.version),
        ("Desk lamp", Money::from_minor(8_900), 3, 1)
    );
    assert!(view.projected_at >= view.event_time);

    // The event log holds the event; the outbox row is gone once published.
    let log = t
        .shop
        .state
        .write
        .events_of(AggregateType::Product, &id.to_string(), 1, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event_id, receipt.event_ids[0]);
    assert_eq!(log[0].event_type, "ProductCreated");
    assert_eq!(t.shop.state.write.outbox_len().await.unwrap(), 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_asking_for_an_unprojected_version_falls_back_to_the_write_model() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let cmd = create("Mug", 1_000);
    let id = cmd.product_id;
    t.create_product(cmd).await.unwrap();
    t.wait_for_version(id, 1, Duration::from_secs(15)).await;

    t.shop.crash_projectors().await;
    let receipt = t.change_price(change(id, 1_200)).await.unwrap();
    let read = t
        .shop
        .state
        .ports
        .catalog
        .product(id, Some(receipt.aggregate_version))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.source, ReadSource::Write);
    assert_eq!(
        (read.product.version, read.product.price),
        (2, Money::from_minor(1_200))
    );
    // Without minVersion the read model answers, honestly older.
    let read = t
        .shop
        .state
        .ports
        .catalog
        .product(id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.source, read.product.version), (ReadSource::Read, 1));

    t.shop.restart_projectors().await.unwrap();
    let read_again = t
        .shop
        .state
        .ports
        .catalog
        .product(id, Some(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read_again.product.version, 2);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projector_crashes_mid_stream_lose_nothing_and_apply_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let mut notices = t.notices();
    let cmd = create("Skillet", 10_000);
    let id = cmd.product_id;
    t.create_product(cmd).await.unwrap();

    // 200 price changes; the projector is killed three times on the way.
    const UPDATES: i64 = 200;
    let products = t.shop.state.ports.catalog_commands.clone();
    let writer = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 1..=UPDATES {
            let r = products
                .change_price(CommandMeta::new(admin()), change(id, 10_000 + i))
                .await
                .unwrap();
            ids.extend(r.event_ids);
        }
        ids
    });
    for pause in [40u64, 90, 150] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        t.shop.crash_projectors().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        t.shop.restart_projectors().await.unwrap();
    }
    let event_ids = writer.await.unwrap();
    assert_eq!(event_ids.len(), UPDATES as usize);

    let view = t
        .wait_for_version(id, 1 + UPDATES as u64, Duration::from_secs(60))
        .await;
    assert_eq!(view.version, 1 + UPDATES as u64);
    assert_eq!(view.price, Money::from_minor(10_000 + UPDATES));
    // Applying the last event twice would make the previous price equal the price.
    assert_eq!(
        view.previous_price,
        Some(Money::from_minor(10_000 + UPDATES - 1))
    );

    // No event was reported applied twice.
    let mut seen: HashSet<EventId> = HashSet::new();
    loop {
        let entry = match notices.try_recv() {
            Ok(entry) => entry,
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
            Err(e) => panic!("missed live notices, cannot check for doubles: {e}"),
        };
        for e in &entry.notice.event_ids {
            assert!(seen.insert(*e), "event {e} was applied twice");
        }
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_or_slashing_edit_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let cmd = create("Headphones", 20_000);
    let id = cmd.product_id;
    t.create_product(cmd).await.unwrap();

    let slash = t.change_price(change(id, 5_000)).await;
    assert!(
        matches!(slash, Err(domain::CommandError::Rejected(domain::DomainError::Invalid { ref field, .. })) if field == "price")
    );
    let stale = ChangePrice {
        expected_version: Some(7),
        ..change(id, 21_000)
    };
    let stale = t.change_price(stale).await;
    assert!(matches!(
        stale,
        Err(domain::CommandError::Rejected(
            domain::DomainError::VersionConflict {
                expected: 7,
                actual: 1
            }
        ))
    ));
    let log = t
        .shop
        .state
        .write
        .events_of(AggregateType::Product, &id.to_string(), 1, 100)
        .await
        .unwrap();
    assert_eq!(log.len(), 1, "a refused command appends nothing");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_of_one_product_get_distinct_versions() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let cmd = create("Beanie", 2_900);
    let id = cmd.product_id;
    t.create_product(cmd).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let products = t.shop.state.ports.catalog_commands.clone();
        tasks.push(tokio::spawn(async move {
            products
                .change_price(CommandMeta::new(admin()), change(id, 3_000 + i))
                .await
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        if let Ok(r) = task.await.unwrap() {
            versions.push(r.aggregate_version);
        }
    }
    let distinct: HashSet<u64> = versions.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        versions.len(),
        "two commands got the same version: {versions:?}"
    );
    let log = t
        .shop
        .state
        .write
        .events_of(AggregateType::Product, &id.to_string(), 1, 100)
        .await
        .unwrap();
    assert_eq!(log.len(), 1 + versions.len());
    for (i, e) in log.iter().enumerate() {
        assert_eq!(e.aggregate_version, 1 + i as u64);
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_and_starting_on_the_same_data_keeps_every_product_and_price() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let cmd = create("Keyboard", 12_900);
    let id = cmd.product_id;
    let mut notices = t.notices();
    t.create_product(cmd).await.unwrap();
    t.change_price(change(id, 11_900)).await.unwrap();
    t.wait_for_version(id, 2, Duration::from_secs(15)).await;
    // The read record can land before the hub has read its notice back from
    // the live stream: take the position once the hub has it.
    wait_for_notice(&mut notices, &id.to_string(), 2).await;
    let live_position = t.shop.state.live.position();
    t.stop().await;

    let t = TestShop::start(dir.path()).await;
    let view = t.read(id).await.expect("read record survives a restart");
    assert_eq!((view.version, view.price), (2, Money::from_minor(11_900)));
    assert_eq!(
        t.shop
            .state
            .write
            .load::<Product>(AggregateType::Product, id)
            .await
            .unwrap()
            .price,
        Money::from_minor(11_900)
    );
    // The live feed continues its numbering, so clients can resume: the
    // notices before the restart are read back from the live stream.
    assert_eq!(t.shop.state.live.position(), live_position);
    match t.shop.state.live.since(live_position - 2).await {
        server::pipeline::live::Resume::Replay(entries) => {
            let positions: Vec<u64> = entries.iter().map(|e| e.position).collect();
            assert_eq!(positions, vec![live_position - 1, live_position]);
            assert_eq!(entries[1].notice.aggregate_version, 2);
        }
        other => panic!("expected a replay, got {other:?}"),
    }
    // An id from the future (another store) cannot be resumed from.
    assert!(matches!(
        t.shop.state.live.since(live_position + 100).await,
        server::pipeline::live::Resume::Reset
    ));
    // And the pipeline still runs.
    let mut notices = t.notices();
    t.change_price(change(id, 12_500)).await.unwrap();
    wait_for_notice(&mut notices, &id.to_string(), 3).await;
    t.stop().await;
}
