//! The Product aggregate: catalog details, price, owner, deletion.
//!
//! `decide` checks a command against the current state and the shop's policy
//! and returns the events it causes; `evolve` folds an event into the state.
//! Both are pure: the handler loads the state first and stores the events after.
//! Stock is not here: it is the Inventory aggregate's (`inventory.rs`), so a
//! sale never bumps the product's version.

use crate::authz;
use crate::error::DomainError;
use crate::event::Actor;
use crate::ids::{ProductId, SellerId};
use crate::money::Money;
use crate::text;
use serde::{Deserialize, Serialize};

pub const NAME_MAX_CHARS: usize = 200;
pub const CATEGORY_MAX_CHARS: usize = 80;
pub const DESCRIPTION_MAX_CHARS: usize = 5_000;
pub const TAG_MAX_CHARS: usize = 40;
pub const TAGS_MAX: usize = 20;
pub const IMAGE_URL_MAX_CHARS: usize = 2_000;
pub const SHIPPING_OPTIONS_MAX: usize = 10;
pub const REASON_MAX_CHARS: usize = 500;
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

/// A way to ship the product, as the product page offers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingOption {
    pub name: String,
    pub price: Money,
    /// Business days to delivery.
    pub days: u16,
}

/// The catalog details a seller edits (everything but price and stock).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetails {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub shipping_options: Vec<ShippingOption>,
}

// ---- commands ---------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateProduct {
    pub product_id: ProductId,
    /// `None`: the caller's own seller, or the shop's house seller for admins.
    pub seller_id: Option<SellerId>,
    pub details: ProductDetails,
    pub price: Money,
    /// Units on hand at creation; recorded on the product's Inventory.
    pub stock: u32,
}

/// A partial edit: only the fields given change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProductDetails {
    pub product_id: ProductId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` removes the image.
    pub image_url: Option<Option<String>>,
    pub shipping_options: Option<Vec<ShippingOption>>,
    pub expected_version: Option<u64>,
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

/// A soft delete: the product leaves the catalog, its history stays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteProduct {
    pub product_id: ProductId,
    pub reason: String,
    pub expected_version: Option<u64>,
}

// ---- events -----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductCreated {
    pub seller_id: SellerId,
    #[serde(flatten)]
    pub details: ProductDetails,
    pub price: Money,
}

/// The full details after the edit, so a projection needs no earlier event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductUpdated {
    #[serde(flatten)]
    pub details: ProductDetails,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDeleted {
    pub reason: String,
}

crate::domain_events!(
    /// Everything that happens to a product.
    ProductEvent for Product {
        ProductCreated,
        ProductUpdated,
        PriceChanged,
        ProductDeleted,
    }
);

// ---- state ------------------------------------------------------------------

/// What the rules need to know about one product.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// 0 before creation; otherwise the version of the last event.
    pub version: u64,
    pub seller_id: Option<SellerId>,
    pub details: ProductDetails,
    pub price: Money,
    pub deleted: bool,
}

impl Product {
    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// Exists and is not deleted: can be edited, ordered, reviewed.
    pub fn is_listed(&self) -> bool {
        self.exists() && !self.deleted
    }
}

pub fn evolve(mut state: Product, event: &ProductEvent) -> Product {
    match event {
        ProductEvent::ProductCreated(e) => {
            state.seller_id = Some(e.seller_id);
            state.details = e.details.clone();
            state.price = e.price;
        }
        ProductEvent::ProductUpdated(e) => state.details = e.details.clone(),
        ProductEvent::PriceChanged(e) => state.price = e.new_price,
        ProductEvent::ProductDeleted(_) => state.deleted = true,
    }
    state.version += 1;
    state
}

// ---- rules ------------------------------------------------------------------

/// A price a product may carry: above zero and at most the shop's maximum.
pub fn check_price(price: Money, policy: &PricePolicy) -> Result<(), DomainError> {
    check_amount("price", price, policy)?;
    if price == Money::ZERO {
        return Err(DomainError::invalid("price", "must be greater than 0"));
    }
    Ok(())
}

fn check_amount(field: &str, amount: Money, policy: &PricePolicy) -> Result<(), DomainError> {
    if amount < Money::ZERO {
        return Err(DomainError::invalid(field, "must not be negative"));
    }
    if amount > policy.max_price {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {}", policy.max_price),
        ));
    }
    Ok(())
}

pub fn check_stock(stock: u32) -> Result<(), DomainError> {
    if stock > STOCK_MAX {
        return Err(DomainError::invalid(
            "stock",
            format!("must be at most {STOCK_MAX}"),
        ));
    }
    Ok(())
}

fn clean_tags(tags: &[String]) -> Result<Vec<String>, DomainError> {
    if tags.len() > TAGS_MAX {
        return Err(DomainError::invalid(
            "tags",
            format!("at most {TAGS_MAX} tags"),
        ));
    }
    let mut clean: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let tag = text::single_line(&format!("tags[{i}]"), tag, TAG_MAX_CHARS)?.to_lowercase();
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    Ok(clean)
}

fn clean_image_url(url: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let url = text::single_line("imageUrl", url, IMAGE_URL_MAX_CHARS)?;
    // Shown in <img src>: only web URLs or the shop's own paths, never
    // `javascript:` or `data:`.
    let ok = (url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/'))
        && !url.starts_with("//")
        && !url.contains(char::is_whitespace);
    if !ok {
        return Err(DomainError::invalid(
            "imageUrl",
            "must be an http(s) URL or a path on this shop",
        ));
    }
    Ok(Some(url))
}

fn clean_shipping(
    options: &[ShippingOption],
    policy: &PricePolicy,
) -> Result<Vec<ShippingOption>, DomainError> {
    if options.len() > SHIPPING_OPTIONS_MAX {
        return Err(DomainError::invalid(
            "shippingOptions",
            format!("at most {SHIPPING_OPTIONS_MAX} options"),
        ));
    }
    let mut clean = Vec::with_capacity(options.len());
    for (i, o) in options.iter().enumerate() {
        let name = text::single_line(&format!("shippingOptions[{i}].name"), &o.name, 80)?;
        check_amount(&format!("shippingOptions[{i}].price"), o.price, policy)?;
        if o.days == 0 || o.days > 365 {
            return Err(DomainError::invalid(
                &format!("shippingOptions[{i}].days"),
                "must be between 1 and 365",
            ));
        }
        if clean.iter().any(|c: &ShippingOption| c.name == name) {
            return Err(DomainError::invalid(
                &format!("shippingOptions[{i}].name"),
                "appears twice",
            ));
        }
        clean.push(ShippingOption {
            name,
            price: o.price,
            days: o.days,
        });
    }
    Ok(clean)
}

/// Validated, normalized details (trimmed text, lower-case unique tags).
pub fn check_details(
    details: &ProductDetails,
    policy: &PricePolicy,
) -> Result<ProductDetails, DomainError> {
    Ok(ProductDetails {
        name: text::single_line("name", &details.name, NAME_MAX_CHARS)?,
        description: text::bounded(
            "description",
            &details.description,
            0,
            DESCRIPTION_MAX_CHARS,
        )?,
        category: text::single_line("category", &details.category, CATEGORY_MAX_CHARS)?,
        tags: clean_tags(&details.tags)?,
        image_url: clean_image_url(details.image_url.as_deref())?,
        shipping_options: clean_shipping(&details.shipping_options, policy)?,
    })
}

fn existing(state: &Product, id: ProductId) -> Result<(), DomainError> {
    if !state.exists() {
        return Err(DomainError::not_found("product", id));
    }
    if state.deleted {
        return Err(DomainError::invalid_state(format!(
            "product {id} has been deleted"
        )));
    }
    Ok(())
}

fn check_version(state: &Product, expected: Option<u64>) -> Result<(), DomainError> {
    match expected {
        Some(expected) if expected != state.version => Err(DomainError::VersionConflict {
            expected,
            actual: state.version,
        }),
        _ => Ok(()),
    }
}

/// `seller` is the owner chosen by [`authz::seller_for_new_product`];
/// `seller_exists` is the write model's answer for it.
pub fn decide_create(
    state: &Product,
    cmd: &CreateProduct,
    seller: SellerId,
    seller_exists: bool,
    policy: &PricePolicy,
) -> Result<Vec<ProductEvent>, DomainError> {
    if state.exists() {
        return Err(DomainError::AlreadyExists {
            aggregate: "product".into(),
            id: cmd.product_id.to_string(),
        });
    }
    let details = check_details(&cmd.details, policy)?;
    check_price(cmd.price, policy)?;
    check_stock(cmd.stock)?;
    if !seller_exists {
        return Err(DomainError::invalid(
            "sellerId",
            format!("seller {seller} does not exist"),
        ));
    }
    Ok(vec![ProductEvent::ProductCreated(ProductCreated {
        seller_id: seller,
        details,
        price: cmd.price,
    })])
}

/// A change that leaves every detail as it was causes no event.
pub fn decide_update_details(
    state: &Product,
    cmd: &UpdateProductDetails,
    actor: &Actor,
    policy: &PricePolicy,
) -> Result<Vec<ProductEvent>, DomainError> {
    existing(state, cmd.product_id)?;
    authz::may_manage_product(actor, state)?;
    check_version(state, cmd.expected_version)?;
    let current = &state.details;
    let wanted = ProductDetails {
        name: cmd.name.clone().unwrap_or_else(|| current.name.clone()),
        description: cmd
            .description
            .clone()
            .unwrap_or_else(|| current.description.clone()),
        category: cmd
            .category
            .clone()
            .unwrap_or_else(|| current.category.clone()),
        tags: cmd.tags.clone().unwrap_or_else(|| current.tags.clone()),
        image_url: cmd
            .image_url
            .clone()
            .unwrap_or_else(|| current.image_url.clone()),
        shipping_options: cmd
            .shipping_options
            .clone()
            .unwrap_or_else(|| current.shipping_options.clone()),
    };
    let details = check_details(&wanted, policy)?;
    if &details == current {
        return Ok(vec![]);
    }
    Ok(vec![ProductEvent::ProductUpdated(ProductUpdated {
        details,
    })])
}

/// A change to the current price is accepted and causes no event. Only an
/// admin may override the price-cut rule.
pub fn decide_change_price(
    state: &Product,
    cmd: &ChangePrice,
    actor: &Actor,
    policy: &PricePolicy,
) -> Result<Vec<ProductEvent>, DomainError> {
    existing(state, cmd.product_id)?;
    authz::may_manage_product(actor, state)?;
    check_version(state, cmd.expected_version)?;
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
        if !actor.is_admin() {
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

pub fn decide_delete(
    state: &Product,
    cmd: &DeleteProduct,
    actor: &Actor,
) -> Result<Vec<ProductEvent>, DomainError> {
    existing(state, cmd.product_id)?;
    authz::may_manage_product(actor, state)?;
    check_version(state, cmd.expected_version)?;
    let reason = text::single_line("reason", &cmd.reason, REASON_MAX_CHARS)?;
    Ok(vec![ProductEvent::ProductDeleted(ProductDeleted {
        reason,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ActorRole, DomainEvent};

    fn admin() -> Actor {
        Actor::system("test")
    }

    fn seller(id: SellerId) -> Actor {
        Actor {
            id: id.to_string(),
            role: ActorRole::Seller,
        }
    }

    fn details(name: &str) -> ProductDetails {
        ProductDetails {
            name: name.into(),
            category: "Home".into(),
            ..ProductDetails::default()
        }
    }

    fn create_cmd(price: i64) -> CreateProduct {
        CreateProduct {
            product_id: ProductId::new(),
            seller_id: None,
            details: details("Desk lamp"),
            price: Money::from_minor(price),
            stock: 5,
        }
    }

    fn create(cmd: &CreateProduct) -> Result<Vec<ProductEvent>, DomainError> {
        decide_create(
            &Product::default(),
            cmd,
            SellerId::HOUSE,
            true,
            &PricePolicy::default(),
        )
    }

    fn created(price: i64) -> Product {
        create(&create_cmd(price))
            .unwrap()
            .iter()
            .fold(Product::default(), evolve)
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
            details: ProductDetails {
                name: "  Lamp ".into(),
                description: " Warm light.\nDimmable. ".into(),
                category: "Home".into(),
                tags: vec!["Light".into(), "light".into(), " desk ".into()],
                image_url: Some("https://img.example.com/lamp.jpg".into()),
                shipping_options: vec![ShippingOption {
                    name: "Standard".into(),
                    price: Money::from_minor(499),
                    days: 5,
                }],
            },
            ..create_cmd(1999)
        };
        let events = create(&cmd).unwrap();
        let ProductEvent::ProductCreated(e) = &events[0] else {
            panic!("expected ProductCreated, got {events:?}")
        };
        assert_eq!(e.details.name, "Lamp");
        assert_eq!(e.details.description, "Warm light.\nDimmable.");
        assert_eq!(
            e.details.tags,
            vec!["light".to_string(), "desk".to_string()]
        );
        assert_eq!(e.seller_id, SellerId::HOUSE);
        assert_eq!(e.price, Money::from_minor(1999));
    }

    #[test]
    fn create_refuses_bad_input_naming_the_field() {
        let base = create_cmd(100);
        let cases: Vec<(&str, CreateProduct)> = vec![
            (
                "name",
                CreateProduct {
                    details: details(" "),
                    ..base.clone()
                },
            ),
            (
                "category",
                CreateProduct {
                    details: ProductDetails {
                        category: "x".repeat(81),
                        ..details("Lamp")
                    },
                    ..base.clone()
                },
            ),
            (
                "price",
                CreateProduct {
                    price: Money::ZERO,
                    ..base.clone()
                },
            ),
            (
                "price",
                CreateProduct {
                    price: Money::from_minor(-5),
                    ..base.clone()
                },
            ),
            (
                "price",
                CreateProduct {
                    price: Money::from_minor(100_000_001),
                    ..base.clone()
                },
            ),
            (
                "stock",
                CreateProduct {
                    stock: STOCK_MAX + 1,
                    ..base.clone()
                },
            ),
            (
                "imageUrl",
                CreateProduct {
                    details: ProductDetails {
                        image_url: Some("javascript:alert(1)".into()),
                        ..details("Lamp")
                    },
                    ..base.clone()
                },
            ),
            (
                "tags[1]",
                CreateProduct {
                    details: ProductDetails {
                        tags: vec!["ok".into(), "".into()],
                        ..details("Lamp")
                    },
                    ..base.clone()
                },
            ),
            (
                "shippingOptions[0].days",
                CreateProduct {
                    details: ProductDetails {
                        shipping_options: vec![ShippingOption {
                            name: "Slow".into(),
                            price: Money::ZERO,
                            days: 0,
                        }],
                        ..details("Lamp")
                    },
                    ..base.clone()
                },
            ),
        ];
        for (field, cmd) in cases {
            assert_eq!(field_of(create(&cmd).unwrap_err()), field);
        }
        assert_eq!(
            field_of(
                decide_create(
                    &Product::default(),
                    &base,
                    SellerId::new(),
                    false,
                    &PricePolicy::default()
                )
                .unwrap_err()
            ),
            "sellerId"
        );
    }

    #[test]
    fn create_twice_is_refused() {
        let state = created(100);
        assert!(matches!(
            decide_create(
                &state,
                &create_cmd(100),
                SellerId::HOUSE,
                true,
                &PricePolicy::default()
            ),
            Err(DomainError::AlreadyExists { .. })
        ));
    }

    #[test]
    fn change_price_records_old_and_new() {
        let state = created(1000);
        let events =
            decide_change_price(&state, &change(1200), &admin(), &PricePolicy::default()).unwrap();
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
            decide_change_price(&state, &change(1000), &admin(), &PricePolicy::default()),
            Ok(vec![])
        );
    }

    #[test]
    fn unknown_product_and_stale_version_are_refused() {
        assert!(matches!(
            decide_change_price(
                &Product::default(),
                &change(1000),
                &admin(),
                &PricePolicy::default()
            ),
            Err(DomainError::NotFound { .. })
        ));
        let state = created(1000);
        let stale = ChangePrice {
            expected_version: Some(7),
            ..change(1100)
        };
        assert_eq!(
            decide_change_price(&state, &stale, &admin(), &PricePolicy::default()),
            Err(DomainError::VersionConflict {
                expected: 7,
                actual: 1
            })
        );
    }

    #[test]
    fn a_cut_of_half_is_allowed_more_needs_an_admin_override() {
        let policy = PricePolicy::default();
        let owner = SellerId::new();
        let state = Product {
            seller_id: Some(owner),
            ..created(1000)
        };
        let me = seller(owner);
        assert!(decide_change_price(&state, &change(500), &me, &policy).is_ok());
        assert_eq!(
            field_of(decide_change_price(&state, &change(499), &admin(), &policy).unwrap_err()),
            "price"
        );
        let overridden = ChangePrice {
            override_price_cut: true,
            ..change(100)
        };
        assert_eq!(
            field_of(decide_change_price(&state, &overridden, &me, &policy).unwrap_err()),
            "overridePriceCut"
        );
        let events = decide_change_price(&state, &overridden, &admin(), &policy).unwrap();
        assert!(matches!(&events[0], ProductEvent::PriceChanged(e) if e.cut_override));
    }

    #[test]
    fn only_the_owner_or_staff_edit_a_product() {
        let owner = SellerId::new();
        let state = Product {
            seller_id: Some(owner),
            ..created(1000)
        };
        let other = seller(SellerId::new());
        let policy = PricePolicy::default();
        assert!(matches!(
            decide_change_price(&state, &change(900), &other, &policy),
            Err(DomainError::Forbidden { .. })
        ));
        let update = UpdateProductDetails {
            name: Some("Other".into()),
            ..UpdateProductDetails::default()
        };
        assert!(matches!(
            decide_update_details(&state, &update, &other, &policy),
            Err(DomainError::Forbidden { .. })
        ));
        let delete = DeleteProduct {
            product_id: ProductId::new(),
            reason: "gone".into(),
            expected_version: None,
        };
        assert!(matches!(
            decide_delete(&state, &delete, &other),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(decide_delete(&state, &delete, &seller(owner)).is_ok());
    }

    #[test]
    fn update_changes_only_the_given_fields_and_nothing_is_a_no_op() {
        let state = created(1000);
        let policy = PricePolicy::default();
        let update = UpdateProductDetails {
            description: Some("Now with a longer cable.".into()),
            tags: Some(vec!["Lamp".into()]),
            ..UpdateProductDetails::default()
        };
        let events = decide_update_details(&state, &update, &admin(), &policy).unwrap();
        let next = events.iter().fold(state.clone(), evolve);
        assert_eq!(next.details.name, "Desk lamp");
        assert_eq!(next.details.description, "Now with a longer cable.");
        assert_eq!(next.details.tags, vec!["lamp".to_string()]);
        assert_eq!(
            decide_update_details(&state, &UpdateProductDetails::default(), &admin(), &policy),
            Ok(vec![])
        );
    }

    #[test]
    fn a_deleted_product_takes_no_more_changes() {
        let state = created(1000);
        let delete = DeleteProduct {
            product_id: ProductId::new(),
            reason: "discontinued".into(),
            expected_version: Some(1),
        };
        let deleted = decide_delete(&state, &delete, &admin())
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert!(deleted.deleted && !deleted.is_listed());
        assert!(matches!(
            decide_change_price(&deleted, &change(900), &admin(), &PricePolicy::default()),
            Err(DomainError::InvalidState { .. })
        ));
        assert!(matches!(
            decide_delete(&deleted, &delete, &admin()),
            Err(DomainError::InvalidState { .. })
        ));
        let no_reason = DeleteProduct {
            reason: " ".into(),
            ..delete
        };
        assert_eq!(
            field_of(decide_delete(&created(5), &no_reason, &admin()).unwrap_err()),
            "reason"
        );
    }

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let events = [
            ProductEvent::PriceChanged(PriceChanged {
                old_price: Money::from_minor(1),
                new_price: Money::from_minor(2),
                cut_override: false,
            }),
            create(&create_cmd(100)).unwrap().remove(0),
            ProductEvent::ProductDeleted(ProductDeleted { reason: "x".into() }),
        ];
        for event in events {
            let decoded = ProductEvent::decode(
                event.event_type(),
                event.schema_version(),
                &event.payload_json(),
            );
            assert_eq!(decoded, Ok(event));
        }
        assert!(ProductEvent::decode("PriceChanged", 99, &serde_json::json!({})).is_err());
        assert!(ProductEvent::decode("OrderPlaced", 1, &serde_json::json!({})).is_err());
    }
}
