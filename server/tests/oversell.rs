//! No oversell at any concurrency: 200 orders at once for a product with
//! 10 in stock, many times over, sell exactly what there is — through two
//! command buses that share the store but not their in-process locks, as two
//! server processes would, so the store's version guard and unique event
//! index are what hold the line.

#![allow(clippy::unwrap_used)]

mod support;

use app::ports::OrderCommands;
use domain::inventory::{Inventory, InventoryEvent};
use domain::order::{OrderItem, PlaceOrder};
use domain::product::{CreateProduct, ProductDetails};
use domain::{
    ActorRole, AggregateType, CommandError, CommandMeta, CustomerId, DomainError, DomainEvent,
    Money, OrderId, ProductId,
};
use server::commands::orders::OrderHandler;
use server::commands::CommandBus;
use std::sync::Arc;
use support::TestShop;

const ROUNDS: usize = 8;
const SHOPPERS: usize = 200;
const STOCK: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_orders_never_sell_more_than_the_stock() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let shared = &t.shop.state.orders;
    // A second "process": same store, its own locks.
    let other = Arc::new(OrderHandler {
        bus: CommandBus::new(t.shop.state.write.clone(), shared.bus.relay.clone()),
        policy: shared.policy,
        payments: shared.payments.clone(),
    });
    let buses = [shared.clone(), other];

    for round in 0..ROUNDS {
        let product_id = ProductId::new();
        t.create_product(CreateProduct {
            product_id,
            seller_id: None,
            details: ProductDetails {
                name: format!("Limited edition {round}"),
                category: "Test".into(),
                ..ProductDetails::default()
            },
            price: Money::from_minor(2_500),
            stock: STOCK,
        })
        .await
        .unwrap();

        let mut tasks = Vec::with_capacity(SHOPPERS);
        for i in 0..SHOPPERS {
            let handler = buses[i % 2].clone();
            // Odd rounds mix quantities of 1 to 3.
            let quantity = if round % 2 == 0 {
                1
            } else {
                1 + (i % 3) as i64
            };
            tasks.push(tokio::spawn(async move {
                let customer = CustomerId::new();
                let meta = CommandMeta::new(domain::Actor {
                    id: customer.to_string(),
                    role: ActorRole::Customer,
                });
                let result = handler
                    .place_order(
                        meta,
                        PlaceOrder {
                            order_id: OrderId::new(),
                            customer_id: customer,
                            items: vec![OrderItem {
                                product_id,
                                quantity,
                            }],
                        },
                    )
                    .await;
                (quantity, result)
            }));
        }
        let mut sold = 0u32;
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                (quantity, Ok(_)) => {
                    sold += quantity as u32;
                    accepted += 1;
                }
                (_, Err(CommandError::Rejected(DomainError::InsufficientStock { .. }))) => {}
                (_, Err(other)) => panic!("round {round}: unexpected refusal {other:?}"),
            }
        }
        assert!(sold <= STOCK, "round {round}: sold {sold} of {STOCK}");
        if round % 2 == 0 {
            assert_eq!(accepted, STOCK as usize, "round {round}: every unit sold");
        }

        let stock: Inventory = t
            .shop
            .state
            .write
            .load(AggregateType::Inventory, product_id)
            .await
            .unwrap();
        assert_eq!(stock.available, STOCK - sold, "round {round}");
        // The log agrees: one reservation per accepted order, consecutive
        // versions, and the units reserved are the units sold.
        let log = t
            .shop
            .state
            .write
            .events_of(
                AggregateType::Inventory,
                &product_id.to_string(),
                1,
                u64::MAX,
            )
            .await
            .unwrap();
        assert_eq!(log.len(), 1 + accepted, "round {round}");
        for (i, e) in log.iter().enumerate() {
            assert_eq!(e.aggregate_version, 1 + i as u64);
        }
        let reserved: u32 = log
            .iter()
            .filter_map(
                |e| match InventoryEvent::decode_envelope(e).unwrap().payload {
                    InventoryEvent::StockReserved(r) => Some(r.quantity),
                    _ => None,
                },
            )
            .sum();
        assert_eq!(reserved, sold, "round {round}");
    }
    t.stop().await;
}
