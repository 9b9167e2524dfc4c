//! NATS down: commands keep succeeding (the outbox holds their events), the
//! operator sees the backlog and the lag, and when NATS returns the backlog
//! drains and every read record catches up, nothing lost or doubled.

#![allow(clippy::unwrap_used)]

mod support;

use domain::product::{ChangePrice, CreateProduct, ProductDetails};
use domain::{AggregateType, Money, ProductId};
use std::time::Duration;
use support::TestShop;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_succeed_while_nats_is_down_and_the_backlog_drains_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = TestShop::start(dir.path()).await;
    let id = ProductId::new();
    t.create_product(CreateProduct {
        product_id: id,
        seller_id: None,
        details: ProductDetails {
            name: "Teapot".into(),
            category: "Kitchen".into(),
            ..ProductDetails::default()
        },
        price: Money::from_minor(90_000),
        stock: 3,
    })
    .await
    .unwrap();
    t.wait_for_version(id, 1, Duration::from_secs(10)).await;

    t.nats.kill();
    for n in 1..=40 {
        t.change_price(ChangePrice {
            product_id: id,
            price: Money::from_minor(90_000 - n),
            expected_version: None,
            override_price_cut: false,
        })
        .await
        .expect("commands do not need NATS");
    }
    // The operator sees it: NATS down, events waiting, the relay lagging.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, health) = t.call("GET", "/health", None, None).await;
        let (_, sync) = t
            .call("GET", "/api/analytics/sync-status", None, None)
            .await;
        let problems = health["problems"].to_string();
        if problems.contains("NATS is unreachable")
            && sync["relay"]["outboxBacklog"].as_u64() >= Some(1)
            && sync["relay"]["lagSeconds"].as_f64() > Some(0.0)
            && sync["status"] != "synced"
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outage not reported: {health:#} {sync:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(t.shop.state.write.outbox_len().await.unwrap() >= 1);
    assert_eq!(
        t.read(id).await.unwrap().version,
        1,
        "nothing projected meanwhile"
    );

    t.nats.restart().unwrap();
    let view = t.wait_for_version(id, 41, Duration::from_secs(60)).await;
    assert_eq!(view.price, Money::from_minor(90_000 - 40));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while t.shop.state.write.outbox_len().await.unwrap() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every event of the log is in the stream, once.
    let js = async_nats::jetstream::new(t.shop.state.nats.clone());
    let mut stream = js.get_stream("VITRINE_EVENTS").await.unwrap();
    let info = stream.info().await.unwrap().clone();
    let log = t
        .shop
        .state
        .write
        .events_of(AggregateType::Product, &id.to_string(), 1, u64::MAX)
        .await
        .unwrap();
    assert_eq!(log.len(), 41);
    let mut seen = std::collections::HashMap::<String, Vec<u64>>::new();
    for seq in info.state.first_sequence..=info.state.last_sequence {
        let m = stream.get_raw_message(seq).await.unwrap();
        let e: domain::StoredEvent = serde_json::from_slice(&m.payload).unwrap();
        seen.entry(format!(
            "{} v{} {}",
            e.aggregate_type.as_str(),
            e.aggregate_version,
            e.event_id
        ))
        .or_default()
        .push(seq);
    }
    let twice: Vec<_> = seen.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(twice.is_empty(), "events in the stream twice: {twice:?}");
    // Every event of the log (these, and the house seller's) is there.
    let logged = t
        .shop
        .state
        .write
        .count_log(&AggregateType::ALL)
        .await
        .unwrap();
    assert_eq!(seen.len() as u64, logged);
    assert_eq!(info.state.messages, logged, "each event once in the stream");
    t.stop().await;
}
