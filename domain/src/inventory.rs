//! The Inventory aggregate: units on hand for one product (same id as the
//! product). Separate from Product so a sale never bumps the product's
//! version and never conflicts with a seller's price edit.
//!
//! Invariant: `available` never goes below 0 — every decrement is checked
//! here, and the unsigned type makes a wrong fold fail loudly, not wrap.

use crate::authz;
use crate::error::DomainError;
use crate::event::Actor;
use crate::ids::{OrderId, ProductId};
use crate::product::{Product, REASON_MAX_CHARS, STOCK_MAX};
use crate::text;
use serde::{Deserialize, Serialize};

// ---- commands ---------------------------------------------------------------

/// A stock correction or delivery: `delta` units in (positive) or out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdjustInventory {
    pub product_id: ProductId,
    pub delta: i64,
    pub reason: String,
    pub expected_version: Option<u64>,
}

// ---- events -----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryAdjusted {
    pub delta: i64,
    pub reason: String,
    /// Units available after this event.
    pub available: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockReserved {
    pub order_id: OrderId,
    pub quantity: u32,
    pub available: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockReleased {
    pub order_id: OrderId,
    pub quantity: u32,
    pub reason: String,
    pub available: u32,
}

crate::domain_events!(
    /// Everything that happens to a product's stock.
    InventoryEvent for Inventory {
        InventoryAdjusted,
        StockReserved,
        StockReleased,
    }
);

// ---- state ------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    pub version: u64,
    /// Units that can still be sold.
    pub available: u32,
    /// Units ever reserved by orders less those released: reservations that
    /// became sales (shipped) stay counted, as sold units.
    pub reserved: u32,
}

impl Inventory {
    pub fn exists(&self) -> bool {
        self.version > 0
    }
}

pub fn evolve(mut state: Inventory, event: &InventoryEvent) -> Inventory {
    match event {
        InventoryEvent::InventoryAdjusted(e) => state.available = e.available,
        InventoryEvent::StockReserved(e) => {
            state.available = e.available;
            state.reserved = state.reserved.saturating_add(e.quantity);
        }
        InventoryEvent::StockReleased(e) => {
            state.available = e.available;
            state.reserved = state.reserved.saturating_sub(e.quantity);
        }
    }
    state.version += 1;
    state
}

// ---- rules ------------------------------------------------------------------

/// The first event of a new product's inventory: its initial stock.
pub fn decide_initial_stock(
    state: &Inventory,
    stock: u32,
) -> Result<Vec<InventoryEvent>, DomainError> {
    if state.exists() {
        return Err(DomainError::invalid_state("the inventory already exists"));
    }
    crate::product::check_stock(stock)?;
    Ok(vec![InventoryEvent::InventoryAdjusted(InventoryAdjusted {
        delta: i64::from(stock),
        reason: "initial stock".into(),
        available: stock,
    })])
}

pub fn decide_adjust(
    state: &Inventory,
    product: &Product,
    cmd: &AdjustInventory,
    actor: &Actor,
) -> Result<Vec<InventoryEvent>, DomainError> {
    if !product.is_listed() || !state.exists() {
        return Err(DomainError::not_found("product", cmd.product_id));
    }
    authz::may_manage_product(actor, product)?;
    if let Some(expected) = cmd.expected_version {
        if expected != state.version {
            return Err(DomainError::VersionConflict {
                expected,
                actual: state.version,
            });
        }
    }
    let reason = text::single_line("reason", &cmd.reason, REASON_MAX_CHARS)?;
    if cmd.delta == 0 {
        return Err(DomainError::invalid("delta", "must not be 0"));
    }
    // Saturating: `delta` is client input and may be anywhere in i64; a sum
    // beyond i64 is far above STOCK_MAX and refused below, never wrapped.
    let after = i64::from(state.available).saturating_add(cmd.delta);
    if after < 0 {
        return Err(DomainError::invalid(
            "delta",
            format!(
                "would take stock below 0 ({} available, {} removed)",
                state.available,
                cmd.delta.unsigned_abs()
            ),
        ));
    }
    if after > i64::from(STOCK_MAX) {
        return Err(DomainError::invalid(
            "delta",
            format!("would take stock above {STOCK_MAX}"),
        ));
    }
    Ok(vec![InventoryEvent::InventoryAdjusted(InventoryAdjusted {
        delta: cmd.delta,
        reason,
        available: after as u32,
    })])
}

/// Holds `quantity` units for an order, or refuses naming the product.
pub fn decide_reserve(
    state: &Inventory,
    product_id: ProductId,
    order_id: OrderId,
    quantity: u32,
) -> Result<InventoryEvent, DomainError> {
    if quantity == 0 || state.available < quantity {
        return Err(DomainError::InsufficientStock {
            product_id: product_id.to_string(),
            requested: quantity,
            available: state.available,
        });
    }
    Ok(InventoryEvent::StockReserved(StockReserved {
        order_id,
        quantity,
        available: state.available - quantity,
    }))
}

/// Gives an order's units back (cancelled, declined or unpaid orders).
pub fn decide_release(
    state: &Inventory,
    order_id: OrderId,
    quantity: u32,
    reason: &str,
) -> InventoryEvent {
    InventoryEvent::StockReleased(StockReleased {
        order_id,
        quantity,
        reason: reason.to_owned(),
        available: state.available.saturating_add(quantity),
    })
}

/// Puts returned units back on the shelf.
pub fn decide_restock(state: &Inventory, order_id: OrderId, quantity: u32) -> InventoryEvent {
    InventoryEvent::InventoryAdjusted(InventoryAdjusted {
        delta: i64::from(quantity),
        reason: format!("returned with order {order_id}"),
        available: state.available.saturating_add(quantity),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ActorRole, DomainEvent};
    use crate::ids::{CustomerId, SellerId};
    use crate::money::Money;
    use crate::product::{self, ProductCreated, ProductDeleted, ProductDetails, ProductEvent};

    fn admin() -> Actor {
        Actor {
            id: "admin-1".into(),
            role: ActorRole::Admin,
        }
    }

    fn seller(id: SellerId) -> Actor {
        Actor {
            id: id.to_string(),
            role: ActorRole::Seller,
        }
    }

    fn customer() -> Actor {
        Actor {
            id: CustomerId::new().to_string(),
            role: ActorRole::Customer,
        }
    }

    /// A listed product owned by `owner`.
    fn product_of(owner: SellerId) -> Product {
        let created = ProductEvent::ProductCreated(ProductCreated {
            seller_id: owner,
            details: ProductDetails {
                name: "Desk lamp".into(),
                category: "Home".into(),
                ..ProductDetails::default()
            },
            price: Money::from_minor(1_250),
        });
        product::evolve(Product::default(), &created)
    }

    fn given(events: &[InventoryEvent]) -> Inventory {
        events.iter().fold(Inventory::default(), evolve)
    }

    fn initial(stock: u32) -> InventoryEvent {
        InventoryEvent::InventoryAdjusted(InventoryAdjusted {
            delta: i64::from(stock),
            reason: "initial stock".into(),
            available: stock,
        })
    }

    fn adjust(delta: i64) -> AdjustInventory {
        AdjustInventory {
            product_id: ProductId::new(),
            delta,
            reason: "delivery".into(),
            expected_version: None,
        }
    }

    fn field_of(result: Result<Vec<InventoryEvent>, DomainError>) -> String {
        match result {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn initial_stock_records_the_units_on_hand() {
        let events = decide_initial_stock(&Inventory::default(), 5).unwrap();
        assert_eq!(events, vec![initial(5)]);
        let state = given(&events);
        assert_eq!(
            state,
            Inventory {
                version: 1,
                available: 5,
                reserved: 0
            }
        );
        assert!(state.exists());
    }

    #[test]
    fn initial_stock_of_zero_still_creates_the_inventory() {
        let events = decide_initial_stock(&Inventory::default(), 0).unwrap();
        assert_eq!(events, vec![initial(0)]);
        let state = given(&events);
        assert!(state.exists());
        assert_eq!(state.available, 0);
    }

    #[test]
    fn initial_stock_is_bounded_by_stock_max() {
        assert_eq!(
            decide_initial_stock(&Inventory::default(), STOCK_MAX),
            Ok(vec![initial(STOCK_MAX)])
        );
        assert_eq!(
            field_of(decide_initial_stock(&Inventory::default(), STOCK_MAX + 1)),
            "stock"
        );
    }

    #[test]
    fn initial_stock_twice_is_refused() {
        let state = given(&[initial(5)]);
        assert!(matches!(
            decide_initial_stock(&state, 3),
            Err(DomainError::InvalidState { .. })
        ));
    }

    #[test]
    fn adjusting_up_adds_units() {
        let state = given(&[initial(5)]);
        let cmd = AdjustInventory {
            reason: "  delivery from the warehouse ".into(),
            ..adjust(7)
        };
        let events = decide_adjust(&state, &product_of(SellerId::HOUSE), &cmd, &admin()).unwrap();
        assert_eq!(
            events,
            vec![InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                delta: 7,
                reason: "delivery from the warehouse".into(),
                available: 12,
            })]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!((state.version, state.available, state.reserved), (2, 12, 0));
    }

    #[test]
    fn adjusting_down_removes_units_down_to_exactly_zero() {
        let product = product_of(SellerId::HOUSE);
        let state = given(&[initial(5)]);
        let events = decide_adjust(&state, &product, &adjust(-3), &admin()).unwrap();
        assert_eq!(
            events,
            vec![InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                delta: -3,
                reason: "delivery".into(),
                available: 2,
            })]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!(state.available, 2);
        let events = decide_adjust(&state, &product, &adjust(-2), &admin()).unwrap();
        assert_eq!(events.iter().fold(state, evolve).available, 0);
    }

    #[test]
    fn adjusting_below_zero_is_refused() {
        let product = product_of(SellerId::HOUSE);
        let state = given(&[initial(5)]);
        assert_eq!(
            field_of(decide_adjust(&state, &product, &adjust(-6), &admin())),
            "delta"
        );
        let empty = given(&[initial(0)]);
        assert_eq!(
            field_of(decide_adjust(&empty, &product, &adjust(-1), &admin())),
            "delta"
        );
        assert_eq!(
            field_of(decide_adjust(&state, &product, &adjust(i64::MIN), &admin())),
            "delta"
        );
    }

    #[test]
    fn a_zero_delta_is_refused() {
        let state = given(&[initial(5)]);
        assert_eq!(
            field_of(decide_adjust(
                &state,
                &product_of(SellerId::HOUSE),
                &adjust(0),
                &admin()
            )),
            "delta"
        );
    }

    #[test]
    fn adjusting_above_stock_max_is_refused() {
        let product = product_of(SellerId::HOUSE);
        let state = given(&[initial(5)]);
        let to_max = i64::from(STOCK_MAX) - 5;
        let events = decide_adjust(&state, &product, &adjust(to_max), &admin()).unwrap();
        assert_eq!(
            events.iter().fold(state.clone(), evolve).available,
            STOCK_MAX
        );
        assert_eq!(
            field_of(decide_adjust(
                &state,
                &product,
                &adjust(to_max + 1),
                &admin()
            )),
            "delta"
        );
        // A delta far beyond any stock is refused too, never overflows.
        assert_eq!(
            field_of(decide_adjust(&state, &product, &adjust(i64::MAX), &admin())),
            "delta"
        );
    }

    #[test]
    fn an_adjustment_needs_a_reason() {
        let state = given(&[initial(5)]);
        let product = product_of(SellerId::HOUSE);
        for reason in ["", "   ", "a\nb"] {
            let cmd = AdjustInventory {
                reason: reason.into(),
                ..adjust(1)
            };
            assert_eq!(
                field_of(decide_adjust(&state, &product, &cmd, &admin())),
                "reason"
            );
        }
        let long = AdjustInventory {
            reason: "x".repeat(REASON_MAX_CHARS + 1),
            ..adjust(1)
        };
        assert_eq!(
            field_of(decide_adjust(&state, &product, &long, &admin())),
            "reason"
        );
    }

    #[test]
    fn only_the_owning_seller_or_staff_adjust_stock() {
        let owner = SellerId::new();
        let product = product_of(owner);
        let state = given(&[initial(5)]);
        assert!(matches!(
            decide_adjust(&state, &product, &adjust(1), &seller(SellerId::new())),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(matches!(
            decide_adjust(&state, &product, &adjust(1), &customer()),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(decide_adjust(&state, &product, &adjust(1), &seller(owner)).is_ok());
        assert!(decide_adjust(&state, &product, &adjust(1), &admin()).is_ok());
        assert!(decide_adjust(&state, &product, &adjust(1), &Actor::system("demo")).is_ok());
    }

    #[test]
    fn a_stale_expected_version_is_a_conflict() {
        let product = product_of(SellerId::HOUSE);
        let state = given(&[initial(5), initial(6)]);
        let stale = AdjustInventory {
            expected_version: Some(1),
            ..adjust(1)
        };
        assert_eq!(
            decide_adjust(&state, &product, &stale, &admin()),
            Err(DomainError::VersionConflict {
                expected: 1,
                actual: 2
            })
        );
        let current = AdjustInventory {
            expected_version: Some(2),
            ..adjust(1)
        };
        assert!(decide_adjust(&state, &product, &current, &admin()).is_ok());
    }

    #[test]
    fn unknown_or_deleted_products_and_missing_inventories_are_not_found() {
        let listed = product_of(SellerId::HOUSE);
        let deleted = product::evolve(
            listed.clone(),
            &ProductEvent::ProductDeleted(ProductDeleted {
                reason: "gone".into(),
            }),
        );
        let state = given(&[initial(5)]);
        for (product, inventory) in [
            (Product::default(), state.clone()),
            (deleted, state),
            (listed, Inventory::default()),
        ] {
            assert!(matches!(
                decide_adjust(&inventory, &product, &adjust(1), &admin()),
                Err(DomainError::NotFound { .. })
            ));
        }
    }

    #[test]
    fn reserving_holds_units_for_an_order() {
        let product_id = ProductId::new();
        let order_id = OrderId::new();
        let state = given(&[initial(5)]);
        let event = decide_reserve(&state, product_id, order_id, 3).unwrap();
        assert_eq!(
            event,
            InventoryEvent::StockReserved(StockReserved {
                order_id,
                quantity: 3,
                available: 2,
            })
        );
        let state = evolve(state, &event);
        assert_eq!((state.version, state.available, state.reserved), (2, 2, 3));
        let all = decide_reserve(&state, product_id, order_id, 2).unwrap();
        assert_eq!(evolve(state, &all).available, 0);
    }

    #[test]
    fn reserving_more_than_available_names_the_product() {
        let product_id = ProductId::new();
        let state = given(&[initial(5)]);
        assert_eq!(
            decide_reserve(&state, product_id, OrderId::new(), 6),
            Err(DomainError::InsufficientStock {
                product_id: product_id.to_string(),
                requested: 6,
                available: 5,
            })
        );
        assert_eq!(
            decide_reserve(&state, product_id, OrderId::new(), 0),
            Err(DomainError::InsufficientStock {
                product_id: product_id.to_string(),
                requested: 0,
                available: 5,
            })
        );
    }

    #[test]
    fn releasing_gives_reserved_units_back() {
        let order_id = OrderId::new();
        let state = given(&[initial(5)]);
        let reserved = decide_reserve(&state, ProductId::new(), order_id, 4).unwrap();
        let state = evolve(state, &reserved);
        assert_eq!((state.available, state.reserved), (1, 4));
        let event = decide_release(&state, order_id, 4, "cancelled");
        assert_eq!(
            event,
            InventoryEvent::StockReleased(StockReleased {
                order_id,
                quantity: 4,
                reason: "cancelled".into(),
                available: 5,
            })
        );
        let state = evolve(state, &event);
        assert_eq!((state.version, state.available, state.reserved), (3, 5, 0));
    }

    #[test]
    fn restocking_puts_returned_units_back_on_the_shelf() {
        let order_id = OrderId::new();
        let state = given(&[initial(2)]);
        let event = decide_restock(&state, order_id, 3);
        assert_eq!(
            event,
            InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                delta: 3,
                reason: format!("returned with order {order_id}"),
                available: 5,
            })
        );
        let state = evolve(state, &event);
        assert_eq!((state.version, state.available, state.reserved), (2, 5, 0));
    }

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let events = [
            initial(5),
            InventoryEvent::StockReserved(StockReserved {
                order_id: OrderId::new(),
                quantity: 2,
                available: 3,
            }),
            InventoryEvent::StockReleased(StockReleased {
                order_id: OrderId::new(),
                quantity: 2,
                reason: "cancelled".into(),
                available: 5,
            }),
        ];
        for event in events {
            let decoded = InventoryEvent::decode(
                event.event_type(),
                event.schema_version(),
                &event.payload_json(),
            );
            assert_eq!(decoded, Ok(event));
        }
        assert!(InventoryEvent::decode("OrderPlaced", 1, &serde_json::json!({})).is_err());
    }
}
