//! The Product aggregate: catalog details and price.
//!
//! `decide` checks a command against the current state and the shop's policy
//! and returns the events it causes; `evolve` folds an event into the state.
//! Both are pure: the handler loads the state first and stores the events after.

use crate::error::DomainError;
use crate::event::{DecodeError, EventEnvelope, StoredEvent};
use crate::ids::ProductId;
use crate::money::Money;
use serde::{Deserialize, Serialize};

pub const NAME_MAX_CHARS: usize = 200;
pub const CATEGORY_MAX_CHARS: usize = 80;
/// Stock is a count of units; beyond this it is a typo, not a warehouse.
pub const STOCK_MAX: u32 = 1_000_000;

/// The shop's pricing rules, from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricePolicy {
    /// No product may cost more than this.
    pub max_price: Money,
    /// One change may not cut the price by more than this percentage unless
    /// an admin explicitly overrides it (a slashed price is usually a typo).
    pub max_cut_percent: u8,
}

impl Default for PricePolicy {
    fn default() -> Self {
        PricePolicy {
            max_price: Money::from_minor(100_000_000), // 1,000,000.00
            max_cut_percent: 50,
        }
    }
}

// ---- commands ---------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProduct {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    pub price: Money,
    pub stock: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangePrice {
    pub product_id: ProductId,
    pub price: Money,
    /// The version the client edited; a stale edit is refused.
    pub expected_version: Option<u64>,
    /// An admin's explicit "yes, cut it by more than the policy allows".
    pub override_price_cut: bool,
}

// ---- events -----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductCreated {
    pub name: String,
    pub category: String,
    pub price: Money,
    pub initial_stock: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceChanged {
    pub old_price: Money,
    pub new_price: Money,
    /// Set when an admin overrode the price-cut rule; kept for the audit trail.
    #[serde(default)]
    pub cut_override: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductEvent {
    Created(ProductCreated),
    PriceChanged(PriceChanged),
}

impl ProductEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            ProductEvent::Created(_) => "ProductCreated",
            ProductEvent::PriceChanged(_) => "PriceChanged",
        }
    }

    /// The schema version this build writes.
    pub fn schema_version(&self) -> u16 {
        1
    }

    pub fn payload_json(&self) -> serde_json::Value {
        let value = match self {
            ProductEvent::Created(e) => serde_json::to_value(e),
            ProductEvent::PriceChanged(e) => serde_json::to_value(e),
        };
        // Plain structs of strings and integers always serialize.
        value.unwrap_or(serde_json::Value::Null)
    }

    /// Decodes a stored payload, upcasting older schema versions to the
    /// current shape. Every version ever written must stay decodable.
    pub fn decode(
        event_type: &str,
        schema_version: u16,
        payload: &serde_json::Value,
    ) -> Result<ProductEvent, DecodeError> {
        let fail = |reason: String| DecodeError {
            event_type: event_type.to_owned(),
            schema_version,
            reason,
        };
        match (event_type, schema_version) {
            ("ProductCreated", 1) => serde_json::from_value(payload.clone())
                .map(ProductEvent::Created)
                .map_err(|e| fail(e.to_string())),
            ("PriceChanged", 1) => serde_json::from_value(payload.clone())
                .map(ProductEvent::PriceChanged)
                .map_err(|e| fail(e.to_string())),
            _ => Err(fail("unknown event type or schema version".into())),
        }
    }

    pub fn decode_envelope(
        stored: &StoredEvent,
    ) -> Result<EventEnvelope<ProductEvent>, DecodeError> {
        let payload = Self::decode(&stored.event_type, stored.schema_version, &stored.payload)?;
        Ok(stored.clone().map_payload(payload))
    }
}

// ---- state ------------------------------------------------------------------

/// What the rules need to know about one product.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// 0 before creation; otherwise the version of the last event.
    pub version: u64,
    pub name: String,
    pub category: String,
    pub price: Money,
}

impl Product {
    pub fn exists(&self) -> bool {
        self.version > 0
    }
}

pub fn evolve(mut state: Product, event: &ProductEvent) -> Product {
    match event {
        ProductEvent::Created(e) => {
            state.name = e.name.clone();
            state.category = e.category.clone();
            state.price = e.price;
        }
        ProductEvent::PriceChanged(e) => state.price = e.new_price,
    }
    state.version += 1;
    state
}

// ---- rules ------------------------------------------------------------------

fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A price a product may carry: above zero and at most the shop's maximum.
pub fn check_price(price: Money, policy: &PricePolicy) -> Result<(), DomainError> {
    if price <= Money::ZERO {
        return Err(DomainError::invalid("price", "must be greater than 0"));
    }
    if price > policy.max_price {
        return Err(DomainError::invalid(
            "price",
            format!("must be at most {}", policy.max_price),
        ));
    }
    Ok(())
}

pub fn decide_create(
    state: &Product,
    cmd: &CreateProduct,
    policy: &PricePolicy,
) -> Result<Vec<ProductEvent>, DomainError> {
    if state.exists() {
        return Err(DomainError::AlreadyExists {
            aggregate: "product".into(),
            id: cmd.product_id.to_string(),
        });
    }
    let name = required_text("name", &cmd.name, NAME_MAX_CHARS)?;
    let category = required_text("category", &cmd.category, CATEGORY_MAX_CHARS)?;
    check_price(cmd.price, policy)?;
    if cmd.stock > STOCK_MAX {
        return Err(DomainError::invalid(
            "stock",
            format!("must be at most {STOCK_MAX}"),
        ));
    }
    Ok(vec![ProductEvent::Created(ProductCreated {
        name,
        category,
        price: cmd.price,
        initial_stock: cmd.stock,
    })])
}

/// `is_admin` gates the price-cut override. A change to the current price is
/// accepted and causes no event.
pub fn decide_change_price(
    state: &Product,
    cmd: &ChangePrice,
    policy: &PricePolicy,
    is_admin: bool,
) -> Result<Vec<ProductEvent>, DomainError> {
    if !state.exists() {
        return Err(DomainError::NotFound {
            aggregate: "product".into(),
            id: cmd.product_id.to_string(),
        });
    }
    if let Some(expected) = cmd.expected_version {
        if expected != state.version {
            return Err(DomainError::VersionConflict {
                expected,
                actual: state.version,
            });
        }
    }
    check_price(cmd.price, policy)?;
    if cmd.price == state.price {
        return Ok(vec![]);
    }
    let floor = i128::from(state.price.minor()) * i128::from(100 - policy.max_cut_percent.min(100));
    let is_large_cut = i128::from(cmd.price.minor()) * 100 < floor;
    if is_large_cut {
        if !cmd.override_price_cut {
            return Err(DomainError::invalid(
                "price",
                format!(
                    "cuts the price by more than {}% (from {} to {}); an admin must confirm such a cut explicitly",
                    policy.max_cut_percent, state.price, cmd.price
                ),
            ));
        }
        if !is_admin {
            return Err(DomainError::invalid(
                "overridePriceCut",
                "only an admin may cut a price by more than the policy allows",
            ));
        }
    }
    Ok(vec![ProductEvent::PriceChanged(PriceChanged {
        old_price: state.price,
        new_price: cmd.price,
        cut_override: is_large_cut,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(price: i64) -> Product {
        let cmd = CreateProduct {
            product_id: ProductId::new(),
            name: "Desk lamp".into(),
            category: "Home".into(),
            price: Money::from_minor(price),
            stock: 5,
        };
        let events = decide_create(&Product::default(), &cmd, &PricePolicy::default()).unwrap();
        events.iter().fold(Product::default(), evolve)
    }

    fn change(price: i64) -> ChangePrice {
        ChangePrice {
            product_id: ProductId::new(),
            price: Money::from_minor(price),
            expected_version: None,
            override_price_cut: false,
        }
    }

    fn field_of(err: DomainError) -> String {
        match err {
            DomainError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn create_trims_and_records_everything() {
        let cmd = CreateProduct {
            product_id: ProductId::new(),
            name: "  Lamp ".into(),
            category: "Home".into(),
            price: Money::from_minor(1999),
            stock: 3,
        };
        let events = decide_create(&Product::default(), &cmd, &PricePolicy::default()).unwrap();
        assert_eq!(
            events,
            vec![ProductEvent::Created(ProductCreated {
                name: "Lamp".into(),
                category: "Home".into(),
                price: Money::from_minor(1999),
                initial_stock: 3
            })]
        );
    }

    #[test]
    fn create_refuses_bad_input_naming_the_field() {
        let policy = PricePolicy::default();
        let base = CreateProduct {
            product_id: ProductId::new(),
            name: "Lamp".into(),
            category: "Home".into(),
            price: Money::from_minor(100),
            stock: 1,
        };
        let empty_name = CreateProduct {
            name: " ".into(),
            ..base.clone()
        };
        assert_eq!(
            field_of(decide_create(&Product::default(), &empty_name, &policy).unwrap_err()),
            "name"
        );
        let long_cat = CreateProduct {
            category: "x".repeat(81),
            ..base.clone()
        };
        assert_eq!(
            field_of(decide_create(&Product::default(), &long_cat, &policy).unwrap_err()),
            "category"
        );
        let free = CreateProduct {
            price: Money::ZERO,
            ..base.clone()
        };
        assert_eq!(
            field_of(decide_create(&Product::default(), &free, &policy).unwrap_err()),
            "price"
        );
        let dear = CreateProduct {
            price: Money::from_minor(100_000_001),
            ..base.clone()
        };
        assert_eq!(
            field_of(decide_create(&Product::default(), &dear, &policy).unwrap_err()),
            "price"
        );
        let heap = CreateProduct {
            stock: STOCK_MAX + 1,
            ..base.clone()
        };
        assert_eq!(
            field_of(decide_create(&Product::default(), &heap, &policy).unwrap_err()),
            "stock"
        );
    }

    #[test]
    fn create_twice_is_refused() {
        let state = created(100);
        let cmd = CreateProduct {
            product_id: ProductId::new(),
            name: "Lamp".into(),
            category: "Home".into(),
            price: Money::from_minor(100),
            stock: 1,
        };
        assert!(matches!(
            decide_create(&state, &cmd, &PricePolicy::default()),
            Err(DomainError::AlreadyExists { .. })
        ));
    }

    #[test]
    fn change_price_records_old_and_new() {
        let state = created(1000);
        let events =
            decide_change_price(&state, &change(1200), &PricePolicy::default(), false).unwrap();
        assert_eq!(
            events,
            vec![ProductEvent::PriceChanged(PriceChanged {
                old_price: Money::from_minor(1000),
                new_price: Money::from_minor(1200),
                cut_override: false
            })]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!((state.version, state.price), (2, Money::from_minor(1200)));
    }

    #[test]
    fn same_price_is_a_no_op() {
        let state = created(1000);
        assert_eq!(
            decide_change_price(&state, &change(1000), &PricePolicy::default(), true),
            Ok(vec![])
        );
    }

    #[test]
    fn unknown_product_and_stale_version_are_refused() {
        assert!(matches!(
            decide_change_price(
                &Product::default(),
                &change(1000),
                &PricePolicy::default(),
                true
            ),
            Err(DomainError::NotFound { .. })
        ));
        let state = created(1000);
        let stale = ChangePrice {
            expected_version: Some(7),
            ..change(1100)
        };
        assert_eq!(
            decide_change_price(&state, &stale, &PricePolicy::default(), true),
            Err(DomainError::VersionConflict {
                expected: 7,
                actual: 1
            })
        );
    }

    #[test]
    fn a_cut_of_half_is_allowed_more_needs_an_admin_override() {
        let policy = PricePolicy::default();
        let state = created(1000);
        assert!(decide_change_price(&state, &change(500), &policy, false).is_ok());
        assert_eq!(
            field_of(decide_change_price(&state, &change(499), &policy, true).unwrap_err()),
            "price"
        );
        let overridden = ChangePrice {
            override_price_cut: true,
            ..change(100)
        };
        assert_eq!(
            field_of(decide_change_price(&state, &overridden, &policy, false).unwrap_err()),
            "overridePriceCut"
        );
        let events = decide_change_price(&state, &overridden, &policy, true).unwrap();
        assert!(matches!(&events[0], ProductEvent::PriceChanged(e) if e.cut_override));
    }

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let event = ProductEvent::PriceChanged(PriceChanged {
            old_price: Money::from_minor(1),
            new_price: Money::from_minor(2),
            cut_override: false,
        });
        let decoded = ProductEvent::decode(
            event.event_type(),
            event.schema_version(),
            &event.payload_json(),
        );
        assert_eq!(decoded, Ok(event));
        assert!(ProductEvent::decode("PriceChanged", 99, &serde_json::json!({})).is_err());
    }
}
