//! A synthetic event history for rebuild tests and benchmarks: products with
//! price changes and stock movements, appended straight to the write store's
//! event log (no HTTP, no commands, no outbox), as a shop's long history
//! would be found by a rebuild.
//!
//! Shared by `server/tests/rebuild.rs` and `vitrine-bench rebuild` (both
//! include this file), so the test and the benchmark fold the same data.

use domain::inventory::{InventoryAdjusted, InventoryEvent, StockReserved};
use domain::product::{PriceChanged, ProductCreated, ProductDetails, ProductEvent};
use domain::{
    Actor, CommandId, DomainEvent, EventEnvelope, EventId, Money, OrderId, ProductId, SellerId,
    StoredEvent,
};
use server::store::write::WriteStore;
use std::collections::HashMap;
use time::OffsetDateTime;

/// What every generated product's page must show after a rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedProduct {
    pub version: u64,
    pub price: Money,
    pub stock: u32,
    pub inventory_version: u64,
}

pub struct Generated {
    pub events: usize,
    pub products: HashMap<ProductId, ExpectedProduct>,
}

fn stored<E: DomainEvent>(event: &E, aggregate_id: &str, version: u64) -> StoredEvent {
    EventEnvelope {
        event_id: EventId::new(),
        event_type: event.event_type().to_owned(),
        schema_version: event.schema_version(),
        aggregate_type: E::AGGREGATE,
        aggregate_id: aggregate_id.to_owned(),
        aggregate_version: version,
        occurred_at: OffsetDateTime::now_utc(),
        actor: Actor::system("synthetic"),
        command_id: CommandId::new(),
        correlation_id: uuid::Uuid::now_v7(),
        payload: event.payload_json(),
    }
}

/// Appends about `events` events: `per_product` for each product, half
/// price changes, half stock reservations. Deterministic prices.
pub async fn generate(write: &WriteStore, events: usize, per_product: usize) -> Generated {
    let per_product = per_product.max(4);
    let products = events.div_ceil(per_product);
    let mut expected = HashMap::with_capacity(products);
    let mut batch: Vec<StoredEvent> = Vec::with_capacity(10_000);
    let mut written = 0;
    for n in 0..products {
        let id = ProductId::new();
        let key = id.to_string();
        let mut price = Money::from_minor(10_000 + (n as i64 % 500) * 10);
        let created = ProductEvent::ProductCreated(ProductCreated {
            seller_id: SellerId::HOUSE,
            details: ProductDetails {
                name: format!("Synthetic product {n:07}"),
                description: "Generated for a rebuild benchmark.".into(),
                category: format!("Category {}", n % 12),
                tags: vec!["synthetic".into()],
                ..ProductDetails::default()
            },
            price,
        });
        batch.push(stored(&created, &key, 1));
        let mut stock: u32 = 1_000_000;
        batch.push(stored(
            &InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                delta: i64::from(stock),
                reason: "initial stock".into(),
                available: stock,
            }),
            &key,
            1,
        ));
        let (mut version, mut inventory_version) = (1u64, 1u64);
        for i in 0..per_product - 2 {
            if i % 2 == 0 {
                // Alternating small rises and cuts, always within the rules.
                let new_price = if i % 4 == 0 {
                    Money::from_minor(price.minor() + 50)
                } else {
                    Money::from_minor(price.minor() - 30)
                };
                version += 1;
                batch.push(stored(
                    &ProductEvent::PriceChanged(PriceChanged {
                        old_price: price,
                        new_price,
                        cut_override: false,
                    }),
                    &key,
                    version,
                ));
                price = new_price;
            } else {
                stock -= 1;
                inventory_version += 1;
                batch.push(stored(
                    &InventoryEvent::StockReserved(StockReserved {
                        order_id: OrderId::new(),
                        quantity: 1,
                        available: stock,
                    }),
                    &key,
                    inventory_version,
                ));
            }
        }
        expected.insert(
            id,
            ExpectedProduct {
                version,
                price,
                stock,
                inventory_version,
            },
        );
        if batch.len() >= 5_000 {
            written += batch.len();
            write
                .import_log(&batch)
                .await
                .expect("import synthetic events");
            batch.clear();
        }
    }
    written += batch.len();
    write
        .import_log(&batch)
        .await
        .expect("import synthetic events");
    Generated {
        events: written,
        products: expected,
    }
}
