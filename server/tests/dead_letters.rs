//! Events injected straight into JetStream — duplicated, reordered, poison,
//! not events at all — against a running shop: the read model stays right,
//! other aggregates keep flowing, the poison and its aggregate's successors
//! are parked as dead letters, and retry or skip drains them.

#![allow(clippy::unwrap_used)]

mod support;

use domain::product::{ChangePrice, CreateProduct, ProductDetails};
use domain::{AggregateType, EventId, Money, ProductId, StoredEvent};
use server::pipeline::jetstream::event_subject;
use server::pipeline::projector::partition_of;
use server::store::projections::DeadLetter;
use std::time::Duration;
use support::{settings, TestShop};

const MODEL: &str = "product_views";

async fn inject(t: &TestShop, event: &StoredEvent) {
    let js = async_nats::jetstream::new(t.shop.state.nats.clone());
    // No message id: JetStream must not de-duplicate these.
    js.publish(
        event_subject(event.aggregate_type.as_str(), &event.aggregate_id),
        serde_json::to_vec(event).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

/// A copy of `template` as version `version` of another aggregate.
fn copy_as(template: &StoredEvent, aggregate_id: &str, version: u64) -> StoredEvent {
    let mut e = template.clone();
    e.event_id = EventId::new();
    e.aggregate_id = aggregate_id.to_owned();
    e.aggregate_version = version;
    if let Some(id) = e.payload.get_mut("productId") {
        *id = serde_json::Value::String(aggregate_id.to_owned());
    }
    e
}

async fn letters(t: &TestShop) -> Vec<DeadLetter> {
    let model = t.shop.state.read_models.get(MODEL).unwrap();
    model.dead_letters(None).await.unwrap()
}

async fn wait_for<F: Fn(&[DeadLetter]) -> bool>(
    t: &TestShop,
    what: &str,
    ok: F,
) -> Vec<DeadLetter> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let found = letters(t).await;
        if ok(&found) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: dead letters are {:#?}",
            found
                .iter()
                .map(|l| (&l.aggregate, l.aggregate_version, &l.status, &l.reason))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status_of<'a>(letters: &'a [DeadLetter], aggregate: &str, version: u64) -> Option<&'a str> {
    letters
        .iter()
        .find(|l| l.aggregate == aggregate && l.aggregate_version == version)
        .map(|l| l.status.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_duplicates_reorders_and_poison_leave_the_read_model_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.pipeline.max_attempts = 2;
    let t = TestShop::start_with(dir.path(), s).await;

    // A real product with a history: created, two price changes.
    let a = ProductId::new();
    t.create_product(CreateProduct {
        product_id: a,
        seller_id: None,
        details: ProductDetails {
            name: "Lamp".into(),
            category: "Test".into(),
            ..ProductDetails::default()
        },
        price: Money::from_minor(10_000),
        stock: 7,
    })
    .await
    .unwrap();
    for price in [9_000, 8_500] {
        t.change_price(ChangePrice {
            product_id: a,
            price: Money::from_minor(price),
            expected_version: None,
            override_price_cut: false,
        })
        .await
        .unwrap();
    }
    t.wait_for_version(a, 3, Duration::from_secs(10)).await;
    let write = &t.shop.state.write;
    let product_log = write
        .events_of(AggregateType::Product, &a.to_string(), 1, 10)
        .await
        .unwrap();
    let stock_log = write
        .events_of(AggregateType::Inventory, &a.to_string(), 1, 10)
        .await
        .unwrap();
    assert_eq!((product_log.len(), stock_log.len()), (3, 1));

    // 1. Duplicates, out of order: every event of A again, twice, newest first.
    for _ in 0..2 {
        for e in product_log.iter().rev().chain(&stock_log) {
            inject(&t, e).await;
        }
    }
    let change = |price: i64| ChangePrice {
        product_id: a,
        price: Money::from_minor(price),
        expected_version: None,
        override_price_cut: false,
    };
    t.change_price(change(8_000)).await.unwrap();
    let view = t.wait_for_version(a, 4, Duration::from_secs(10)).await;
    assert_eq!((view.price, view.stock), (Money::from_minor(8_000), 7));

    // 2. Reordered: an aggregate only the stream knows, versions 3, 2, 1 a
    // moment apart (the log cannot heal it: held, stored, until its turn).
    let p = ProductId::new().to_string();
    let p_events: Vec<StoredEvent> = product_log
        .iter()
        .enumerate()
        .map(|(i, e)| copy_as(e, &p, i as u64 + 1))
        .collect();
    for e in p_events.iter().rev() {
        inject(&t, e).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let p_id: ProductId = p.parse().unwrap();
    let view = t.wait_for_version(p_id, 3, Duration::from_secs(15)).await;
    assert_eq!(view.price, Money::from_minor(8_500));

    // 3. Poison: Q's version 2 is of a schema this build does not know;
    // version 3 is fine but must wait behind it.
    let q = ProductId::new().to_string();
    let mut poison = copy_as(&product_log[1], &q, 2);
    poison.schema_version = 99;
    inject(&t, &copy_as(&product_log[0], &q, 1)).await;
    inject(&t, &poison).await;
    inject(&t, &copy_as(&product_log[2], &q, 3)).await;
    // Not an event at all.
    let js = async_nats::jetstream::new(t.shop.state.nats.clone());
    js.publish(
        event_subject("product", "garbage"),
        b"{ this is not an event".as_slice().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    // Stock for a product the stream has not told about (yet).
    let z = ProductId::new().to_string();
    inject(&t, &copy_as(&stock_log[0], &z, 1)).await;

    // Other aggregates keep flowing meanwhile.
    t.change_price(change(7_900)).await.unwrap();
    let view = t.wait_for_version(a, 5, Duration::from_secs(10)).await;
    assert_eq!(view.price, Money::from_minor(7_900));

    let q_key = format!("product:{q}");
    let z_key = format!("inventory:{z}");
    let found = wait_for(&t, "poison parked", |l| {
        status_of(l, &q_key, 2) == Some("parked")
            && status_of(l, &q_key, 3) == Some("held")
            && status_of(l, &z_key, 1) == Some("parked")
            && l.iter().any(|d| d.aggregate == "unreadable")
    })
    .await;
    assert!(
        found
            .iter()
            .find(|l| l.aggregate == q_key && l.aggregate_version == 2)
            .unwrap()
            .reason
            .contains("99"),
        "the poison's letter says why"
    );
    let q_id: ProductId = q.parse().unwrap();
    assert_eq!(
        t.read(q_id).await.unwrap().version,
        1,
        "Q stays at version 1"
    );
    let status = t.shop.state.status.model(MODEL).unwrap();
    assert_eq!(
        status
            .dead_letters
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );

    // The stream put Q where the runtime routes its retries.
    let mut events = js.get_stream("VITRINE_EVENTS").await.unwrap();
    let partitions = t.shop.state.settings.pipeline.partitions;
    events
        .get_last_raw_message_by_subject(&format!(
            "vitrine.events.product.{}.{q}",
            partition_of(&q, partitions)
        ))
        .await
        .expect("nats-server partitions ids as partition_of does");
    let _ = events.info().await.unwrap();

    let model = t.shop.state.read_models.get(MODEL).unwrap();
    // A retry before the fix changes nothing.
    let report = model.retry(Some(z_key.clone())).await.unwrap();
    assert!(report.drained.is_empty(), "{report:?}");
    // The fix for Z: its product arrives; a retry then drains its stock.
    inject(&t, &copy_as(&product_log[0], &z, 1)).await;
    let z_id: ProductId = z.parse().unwrap();
    t.wait_for_version(z_id, 1, Duration::from_secs(10)).await;
    let report = model.retry(Some(z_key.clone())).await.unwrap();
    assert_eq!(report.drained, vec![z_key.clone()], "{report:?}");
    assert_eq!(t.read(z_id).await.unwrap().stock, 7);

    // Q's poison can only be skipped; its successor then applies.
    let report = model.skip(q_key.clone(), 2).await.unwrap();
    assert_eq!(report.drained, vec![q_key.clone()], "{report:?}");
    let view = t.read(q_id).await.unwrap();
    assert_eq!((view.version, view.price), (3, Money::from_minor(8_500)));
    // The unreadable message is skipped by its stream sequence.
    let garbage = letters(&t)
        .await
        .into_iter()
        .find(|l| l.aggregate == "unreadable")
        .unwrap();
    model
        .skip("unreadable".into(), garbage.stream_sequence.unwrap())
        .await
        .unwrap();
    let left = letters(&t).await;
    assert!(
        left.iter().all(|l| l.status == "skipped"),
        "only the skipped letters stay, for the record: {left:#?}"
    );
    assert_eq!(
        status
            .dead_letters
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // And A is still exactly what its commands made it.
    let view = t.read(a).await.unwrap();
    assert_eq!(
        (view.version, view.price, view.stock),
        (5, Money::from_minor(7_900), 7)
    );
    t.stop().await;
}
