//! The stored-event corpus (`domain/tests/corpus`: every event type at every
//! schema version ever written) replayed through every read model's
//! projector, the way a rebuild reads an old shop's event log: nothing is
//! parked, and the product pages say what the story says.

#![allow(clippy::unwrap_used)]

mod support;

use domain::{Money, ProductId, StoredEvent};
use std::time::Duration;
use support::TestShop;

const LAMP: &str = "01943adc-3e60-7001-9300-5d3ee9fa2704";
const MUG: &str = "01943ade-1320-7001-aa9f-592d2d6d4b64";

fn corpus() -> Vec<StoredEvent> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/tests/corpus");
    let mut events = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let mut file: Vec<StoredEvent> = serde_json::from_str(&text).unwrap();
            events.append(&mut file);
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_event_version_replays_through_every_read_model() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let events = corpus();
    assert!(events.len() >= 30);
    t.shop.state.write.import_log(&events).await.unwrap();

    for model in &t.shop.state.read_models.0 {
        let generation = model.rebuild().unwrap();
        let status = model.status();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let progress = status.rebuild_progress().unwrap();
            if progress.generation == generation && progress.phase == "switched" {
                break;
            }
            assert!(!progress.phase.starts_with("failed"), "{progress:?}");
            assert!(tokio::time::Instant::now() < deadline, "{progress:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let letters = model.dead_letters(None).await.unwrap();
        assert!(
            letters.is_empty(),
            "{} parked corpus events: {letters:#?}",
            model.name()
        );
    }

    let lamp = t.read(LAMP.parse::<ProductId>().unwrap()).await.unwrap();
    assert_eq!(
        (lamp.name.as_str(), lamp.category.as_str()),
        ("Oak desk lamp", "Home office")
    );
    assert_eq!(
        (lamp.price, lamp.previous_price),
        (Money::from_minor(3_900), Some(Money::from_minor(4_900)))
    );
    assert_eq!((lamp.stock, lamp.deleted), (28, true));
    assert_eq!((lamp.version, lamp.inventory_version), (4, 5));
    let mug = t.read(MUG.parse::<ProductId>().unwrap()).await.unwrap();
    assert_eq!(
        (mug.price, mug.stock, mug.deleted),
        (Money::from_minor(1_250), 49, false)
    );
    assert_eq!((mug.version, mug.inventory_version), (1, 4));
    t.stop().await;
}
