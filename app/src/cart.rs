//! The shopping cart: session state, not an event-sourced aggregate. It
//! lives in the browser as one cookie (`vitrine_cart`) holding product ids,
//! quantities and the unit price the shopper saw when adding each line; the
//! server reads and rewrites it in the cart's server functions, so the cart
//! survives reloads and works without JavaScript.
//!
//! Nothing in the cookie is trusted: it is parsed strictly (anything garbled
//! is an empty cart, never an error page), bounded by the shop's ordering
//! policy, and prices always come from the catalog — the remembered price is
//! only used to say "price changed". An order is priced by the write model.

use domain::order::OrderPolicy;
use domain::views::ProductView;
use domain::{DomainError, Money, ProductId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The cookie's name.
pub const CART_COOKIE: &str = "vitrine_cart";

/// Browsers keep a cookie of up to 4096 bytes (name and value together);
/// a cart that would not fit refuses another line rather than be dropped.
pub const MAX_COOKIE_VALUE: usize = 3800;

/// How long the browser keeps the cart (30 days).
pub const CART_MAX_AGE_SECS: u64 = 30 * 24 * 60 * 60;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: u32,
    /// The unit price shown when the line was added.
    pub price_seen: Money,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<CartLine>,
}

/// Why the cart refused a change; the form field is `quantity`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("must be a whole number from 1 to {max}")]
    Quantity { max: u32 },
    #[error("you already have {have} in your cart; an order takes at most {max} of one product")]
    TooMany { have: u32, max: u32 },
    #[error("an order takes at most {max} different products; check out or remove some first")]
    TooManyLines { max: usize },
    #[error("your cart is full; check out or remove some products first")]
    Full,
}

impl Cart {
    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Units over all lines ("Cart (3)").
    pub fn units(&self) -> u32 {
        self.lines
            .iter()
            .fold(0u32, |n, l| n.saturating_add(l.quantity))
    }

    fn check_quantity(quantity: i64, policy: &OrderPolicy) -> Result<u32, CartError> {
        let max = policy.max_quantity.max(1);
        match u32::try_from(quantity) {
            Ok(q) if (1..=max).contains(&q) => Ok(q),
            _ => Err(CartError::Quantity { max }),
        }
    }

    /// Adds `quantity` units (to the line already there, if any) at the
    /// price the shopper saw.
    pub fn add(
        &mut self,
        product_id: ProductId,
        quantity: i64,
        price: Money,
        policy: &OrderPolicy,
    ) -> Result<(), CartError> {
        let quantity = Self::check_quantity(quantity, policy)?;
        let max = policy.max_quantity.max(1);
        if let Some(line) = self.lines.iter_mut().find(|l| l.product_id == product_id) {
            let total = line.quantity.saturating_add(quantity);
            if total > max {
                return Err(CartError::TooMany {
                    have: line.quantity,
                    max,
                });
            }
            line.quantity = total;
            line.price_seen = price;
            return Ok(());
        }
        if self.lines.len() >= policy.max_lines {
            return Err(CartError::TooManyLines {
                max: policy.max_lines,
            });
        }
        self.lines.push(CartLine {
            product_id,
            quantity,
            price_seen: price,
        });
        Ok(())
    }

    /// Sets a line's quantity; 0 removes it. A product not in the cart is
    /// left out (another tab may have removed it).
    pub fn set_quantity(
        &mut self,
        product_id: ProductId,
        quantity: i64,
        policy: &OrderPolicy,
    ) -> Result<(), CartError> {
        if quantity == 0 {
            self.remove(product_id);
            return Ok(());
        }
        let quantity = Self::check_quantity(quantity, policy)?;
        if let Some(line) = self.lines.iter_mut().find(|l| l.product_id == product_id) {
            line.quantity = quantity;
        }
        Ok(())
    }

    pub fn remove(&mut self, product_id: ProductId) {
        self.lines.retain(|l| l.product_id != product_id);
    }
}

/// The cookie's format: `v1` then, per line, `.` + the product id (16 bytes,
/// base64url) + `:` + quantity + `:` + the price seen in minor units — only
/// characters a cookie value may hold, about 31 bytes a line.
#[cfg(feature = "ssr")]
mod codec {
    use super::{Cart, CartLine};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use domain::order::OrderPolicy;
    use domain::{Money, ProductId};

    const VERSION: &str = "v1";

    impl Cart {
        /// The cart a cookie holds. Garbled, foreign or oversized values are
        /// an empty cart; lines beyond the policy's limits are cut (the
        /// policy may have tightened since the cookie was written).
        pub fn decode(value: &str, policy: &OrderPolicy) -> Cart {
            let Some(mut cart) = Self::try_decode(value) else {
                return Cart::default();
            };
            cart.lines.truncate(policy.max_lines);
            let max = policy.max_quantity.max(1);
            for line in &mut cart.lines {
                line.quantity = line.quantity.min(max);
            }
            cart
        }

        fn try_decode(value: &str) -> Option<Cart> {
            if value.len() > 4096 {
                return None;
            }
            let rest = value.strip_prefix(VERSION)?;
            let mut lines: Vec<CartLine> = Vec::new();
            if rest.is_empty() {
                return Some(Cart { lines });
            }
            for token in rest.strip_prefix('.')?.split('.') {
                let mut fields = token.split(':');
                let (id, quantity, price) = (fields.next()?, fields.next()?, fields.next()?);
                if fields.next().is_some() {
                    return None;
                }
                let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
                let product_id = ProductId::from_uuid(uuid::Uuid::from_slice(&bytes).ok()?);
                let quantity: u32 = digits(quantity)?.parse().ok().filter(|q| *q >= 1)?;
                let price: i64 = digits(price)?.parse().ok()?;
                if lines.iter().any(|l| l.product_id == product_id) {
                    return None;
                }
                lines.push(CartLine {
                    product_id,
                    quantity,
                    price_seen: Money::from_minor(price),
                });
            }
            Some(Cart { lines })
        }

        pub fn encode(&self) -> String {
            let mut out = String::from(VERSION);
            for line in &self.lines {
                out.push('.');
                out.push_str(&URL_SAFE_NO_PAD.encode(line.product_id.0.as_bytes()));
                out.push_str(&format!(":{}:{}", line.quantity, line.price_seen.minor()));
            }
            out
        }
    }

    /// Only plain digits: no sign, no spaces.
    fn digits(text: &str) -> Option<&str> {
        (!text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()))
            .then_some(text)
    }
}

/// What the header's "Cart (n)" needs, and the shop's ordering rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartSummary {
    pub units: u32,
    pub lines: usize,
    pub policy: OrderPolicy,
}

impl CartSummary {
    pub fn of(cart: &Cart, policy: OrderPolicy) -> Self {
        CartSummary {
            units: cart.units(),
            lines: cart.lines().len(),
            policy,
        }
    }
}

/// Whether a line can be ordered, as the read model sees it now (the order
/// itself is checked against the write model when it is placed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Availability {
    InStock,
    /// Fewer units left than the cart holds.
    Short {
        available: u32,
    },
    OutOfStock,
    /// Deleted, or never in the catalog.
    NotSold,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    /// The current price.
    pub unit_price: Money,
    /// The price when the line was added.
    pub price_seen: Money,
    pub quantity: u32,
    pub line_total: Money,
    pub availability: Availability,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub projected_at: Option<OffsetDateTime>,
}

impl CartLineView {
    pub fn price_changed(&self) -> bool {
        self.availability != Availability::NotSold && self.unit_price != self.price_seen
    }
}

/// The cart page: each line priced from the product read records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    /// Of the lines that can be ordered.
    pub total: Money,
    pub policy: OrderPolicy,
    /// True while the catalog's read model is known to lag.
    pub stale: bool,
    /// A message left by a form posted without JavaScript.
    #[serde(default)]
    pub notice: Option<String>,
}

impl CartView {
    /// Prices the cart from the catalog's read records (`products` may miss
    /// some lines' products, or hold them deleted).
    pub fn build(cart: &Cart, products: &[ProductView], policy: OrderPolicy, stale: bool) -> Self {
        let mut total: i64 = 0;
        let lines = cart
            .lines()
            .iter()
            .map(|line| {
                let product = products
                    .iter()
                    .find(|p| p.product_id == line.product_id && !p.deleted);
                let Some(p) = product else {
                    let deleted = products.iter().find(|p| p.product_id == line.product_id);
                    return CartLineView {
                        product_id: line.product_id,
                        name: deleted
                            .map_or_else(|| "A product no longer sold".into(), |p| p.name.clone()),
                        category: deleted.map(|p| p.category.clone()).unwrap_or_default(),
                        unit_price: line.price_seen,
                        price_seen: line.price_seen,
                        quantity: line.quantity,
                        line_total: Money::ZERO,
                        availability: Availability::NotSold,
                        projected_at: deleted.map(|p| p.projected_at),
                    };
                };
                let line_total = p.price.minor().saturating_mul(i64::from(line.quantity));
                total = total.saturating_add(line_total);
                let availability = match p.stock {
                    0 => Availability::OutOfStock,
                    n if n < line.quantity => Availability::Short { available: n },
                    _ => Availability::InStock,
                };
                CartLineView {
                    product_id: line.product_id,
                    name: p.name.clone(),
                    category: p.category.clone(),
                    unit_price: p.price,
                    price_seen: line.price_seen,
                    quantity: line.quantity,
                    line_total: Money::from_minor(line_total),
                    availability,
                    projected_at: Some(p.projected_at),
                }
            })
            .collect();
        CartView {
            lines,
            total: Money::from_minor(total),
            policy,
            stale,
            notice: None,
        }
    }

    pub fn units(&self) -> u32 {
        self.lines
            .iter()
            .fold(0u32, |n, l| n.saturating_add(l.quantity))
    }

    /// How much is missing to reach the minimum order total, if anything.
    pub fn shortfall(&self) -> Option<Money> {
        (self.total < self.policy.min_total)
            .then(|| Money::from_minor(self.policy.min_total.minor() - self.total.minor()))
    }

    /// Why the cart cannot be checked out as it stands (empty when it can;
    /// stock is only warned about: the read model may lag, the order decides).
    pub fn blockers(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.lines.is_empty() {
            why.push("Your cart is empty.".to_owned());
            return why;
        }
        for line in &self.lines {
            if line.availability == Availability::NotSold {
                why.push(format!(
                    "“{}” is no longer sold: remove it from your cart.",
                    line.name
                ));
            }
        }
        if let Some(missing) = self.shortfall() {
            why.push(format!(
                "The minimum order is {}: add {missing} more to check out.",
                self.policy.min_total
            ));
        }
        why
    }

    /// The newest projection among the lines (for the freshness badge).
    pub fn projected_at(&self) -> Option<OffsetDateTime> {
        self.lines.iter().filter_map(|l| l.projected_at).max()
    }

    fn name_of(&self, id: ProductId) -> String {
        self.lines
            .iter()
            .find(|l| l.product_id == id)
            .map_or_else(|| "a product".to_owned(), |l| format!("“{}”", l.name))
    }

    /// A refusal of the order placed from this cart, in the shopper's words:
    /// what to change, and the product it is about (if one). `items` is the
    /// order's items in the order sent (the domain names them by index).
    pub fn explain_refusal(
        &self,
        error: &DomainError,
        items: &[ProductId],
    ) -> (String, Option<ProductId>) {
        match error {
            DomainError::InsufficientStock {
                product_id,
                requested,
                available,
            } => {
                let id = product_id.parse::<ProductId>().ok();
                let name = id.map_or_else(|| "a product".to_owned(), |id| self.name_of(id));
                let message = if *available == 0 {
                    format!(
                        "{} is out of stock: remove it from your cart to check out.",
                        capitalized(&name)
                    )
                } else {
                    format!(
                        "Only {available} of {name} left, and your cart has {requested}: lower the quantity to check out."
                    )
                };
                (message, id)
            }
            DomainError::Invalid { field, reason } => {
                // "items[2].quantity", "items[0].productId" or "items".
                let item = field
                    .strip_prefix("items[")
                    .and_then(|rest| rest.split_once(']'))
                    .and_then(|(index, _)| index.parse::<usize>().ok())
                    .and_then(|i| items.get(i).copied());
                match item {
                    Some(id) if field.ends_with(".productId") => (
                        format!(
                            "{} is no longer sold: remove it from your cart.",
                            capitalized(&self.name_of(id))
                        ),
                        Some(id),
                    ),
                    Some(id) => (
                        format!("{}: the quantity {reason}.", capitalized(&self.name_of(id))),
                        Some(id),
                    ),
                    None => (sentence(reason), None),
                }
            }
            other => (sentence(&other.to_string()), None),
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "the order total is too large" → "The order total is too large."
fn sentence(text: &str) -> String {
    let text = capitalized(text.trim());
    if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> OrderPolicy {
        OrderPolicy {
            min_total: Money::from_minor(1_000),
            max_lines: 3,
            max_quantity: 10,
        }
    }

    fn product(name: &str, price: i64, stock: u32) -> ProductView {
        ProductView {
            product_id: ProductId::new(),
            seller_id: None,
            name: name.into(),
            description: String::new(),
            category: "Home".into(),
            tags: vec![],
            image_url: None,
            shipping_options: vec![],
            price: Money::from_minor(price),
            previous_price: None,
            stock,
            created_at: OffsetDateTime::UNIX_EPOCH,
            price_history: vec![],
            units_sold: 0,
            recent_sales: vec![],
            deleted: false,
            version: 1,
            inventory_version: 1,
            event_time: OffsetDateTime::UNIX_EPOCH,
            projected_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn adding_merges_lines_and_keeps_to_the_policy() {
        let (a, b, c, d) = (
            ProductId::new(),
            ProductId::new(),
            ProductId::new(),
            ProductId::new(),
        );
        let p = policy();
        let mut cart = Cart::default();
        cart.add(a, 2, Money::from_minor(500), &p).unwrap();
        cart.add(a, 3, Money::from_minor(450), &p).unwrap();
        assert_eq!(cart.lines().len(), 1);
        assert_eq!(cart.lines()[0].quantity, 5);
        // The newest price the shopper saw.
        assert_eq!(cart.lines()[0].price_seen, Money::from_minor(450));
        assert_eq!(
            cart.add(a, 6, Money::from_minor(450), &p),
            Err(CartError::TooMany { have: 5, max: 10 })
        );
        for bad in [0, -1, 11, i64::MAX] {
            assert_eq!(
                cart.add(b, bad, Money::ZERO, &p),
                Err(CartError::Quantity { max: 10 }),
                "{bad}"
            );
        }
        cart.add(b, 1, Money::ZERO, &p).unwrap();
        cart.add(c, 1, Money::ZERO, &p).unwrap();
        assert_eq!(
            cart.add(d, 1, Money::ZERO, &p),
            Err(CartError::TooManyLines { max: 3 })
        );
        assert_eq!(cart.units(), 7);
    }

    #[test]
    fn setting_a_quantity_validates_it_and_zero_removes_the_line() {
        let (a, b) = (ProductId::new(), ProductId::new());
        let p = policy();
        let mut cart = Cart::default();
        cart.add(a, 2, Money::ZERO, &p).unwrap();
        cart.set_quantity(a, 7, &p).unwrap();
        assert_eq!(cart.lines()[0].quantity, 7);
        assert_eq!(
            cart.set_quantity(a, 11, &p),
            Err(CartError::Quantity { max: 10 })
        );
        assert_eq!(
            cart.set_quantity(a, -3, &p),
            Err(CartError::Quantity { max: 10 })
        );
        // Not in the cart: nothing happens.
        cart.set_quantity(b, 4, &p).unwrap();
        assert_eq!(cart.lines().len(), 1);
        cart.set_quantity(a, 0, &p).unwrap();
        assert!(cart.is_empty());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_cookie_round_trips_and_fits_a_full_cart() {
        let p = OrderPolicy {
            max_lines: 100,
            ..OrderPolicy::default()
        };
        let mut cart = Cart::default();
        for i in 0..100 {
            cart.add(
                ProductId::new(),
                1 + i % 7,
                Money::from_minor(1_999 + i),
                &p,
            )
            .unwrap();
        }
        let value = cart.encode();
        assert!(value.len() <= MAX_COOKIE_VALUE, "{} bytes", value.len());
        // Only cookie-octets (RFC 6265): no separators, spaces or quotes.
        assert!(value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)));
        assert_eq!(Cart::decode(&value, &p), cart);
        assert_eq!(Cart::decode(&Cart::default().encode(), &p), Cart::default());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_garbled_or_foreign_cookie_is_an_empty_cart() {
        let p = policy();
        let mut cart = Cart::default();
        let id = ProductId::new();
        cart.add(id, 2, Money::from_minor(500), &p).unwrap();
        let good = cart.encode();
        let line = good.strip_prefix("v1.").unwrap();
        let dup = format!("v1.{line}.{line}");
        let (encoded_id, _) = line.split_once(':').unwrap();
        let cases = [
            String::new(),
            "garbage".into(),
            "v2.".to_owned() + line,
            "v1.".into(),
            "v1..".into(),
            format!("v1.{encoded_id}:0:500"),
            format!("v1.{encoded_id}:-1:500"),
            format!("v1.{encoded_id}:+2:500"),
            format!("v1.{encoded_id}: 2:500"),
            format!("v1.{encoded_id}:2:-500"),
            format!("v1.{encoded_id}:2"),
            format!("v1.{encoded_id}:2:500:9"),
            format!("v1.{encoded_id}x:2:500"),
            "v1.AAAA:2:500".into(),
            format!("v1.{encoded_id}:99999999999999999999:500"),
            dup,
            format!("{good}.{}", "x".repeat(5000)),
        ];
        for bad in cases {
            assert_eq!(Cart::decode(&bad, &p), Cart::default(), "{bad:?}");
        }
        assert_eq!(Cart::decode(&good, &p), cart);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_cookie_beyond_a_tightened_policy_is_cut_to_it() {
        let loose = OrderPolicy {
            max_lines: 5,
            max_quantity: 100,
            ..OrderPolicy::default()
        };
        let mut cart = Cart::default();
        for _ in 0..5 {
            cart.add(ProductId::new(), 50, Money::ZERO, &loose).unwrap();
        }
        let tight = policy();
        let decoded = Cart::decode(&cart.encode(), &tight);
        let kept: Vec<ProductId> = decoded.lines().iter().map(|l| l.product_id).collect();
        let first: Vec<ProductId> = cart.lines()[..3].iter().map(|l| l.product_id).collect();
        assert_eq!(kept, first);
        assert!(decoded.lines().iter().all(|l| l.quantity == 10));
    }

    #[test]
    fn the_view_prices_lines_from_the_catalog_and_warns_about_stock() {
        let p = policy();
        let lamp = product("Lamp", 1_250, 3);
        let mug = product("Mug", 400, 0);
        let mut gone = product("Vase", 900, 9);
        gone.deleted = true;
        let unknown = ProductId::new();
        let mut cart = Cart::default();
        cart.add(lamp.product_id, 5, Money::from_minor(1_500), &p)
            .unwrap();
        cart.add(mug.product_id, 1, Money::from_minor(400), &p)
            .unwrap();
        cart.add(gone.product_id, 1, Money::from_minor(900), &p)
            .unwrap();
        let view = CartView::build(&cart, &[lamp.clone(), mug.clone(), gone], p, false);
        assert_eq!(
            view.lines[0].availability,
            Availability::Short { available: 3 }
        );
        assert_eq!(view.lines[0].line_total, Money::from_minor(6_250));
        assert!(view.lines[0].price_changed());
        assert_eq!(view.lines[1].availability, Availability::OutOfStock);
        assert!(!view.lines[1].price_changed());
        assert_eq!(view.lines[2].availability, Availability::NotSold);
        assert_eq!(view.lines[2].name, "Vase");
        // Lines that cannot be ordered do not count.
        assert_eq!(view.total, Money::from_minor(6_650));
        assert_eq!(view.units(), 7);
        assert_eq!(
            view.blockers(),
            ["“Vase” is no longer sold: remove it from your cart."]
        );

        let mut small = Cart::default();
        small
            .add(mug.product_id, 2, Money::from_minor(400), &p)
            .unwrap();
        small.add(unknown, 1, Money::from_minor(100), &p).unwrap();
        let view = CartView::build(&small, &[mug], p, true);
        assert_eq!(view.shortfall(), Some(Money::from_minor(200)));
        assert_eq!(view.lines[1].name, "A product no longer sold");
        assert_eq!(view.blockers().len(), 2);
        assert!(view.blockers()[1].contains("minimum order is 10.00: add 2.00 more"));
        assert_eq!(
            CartView::build(&Cart::default(), &[], p, false).blockers(),
            ["Your cart is empty."]
        );
    }

    #[test]
    fn refusals_name_the_product_and_what_to_change() {
        let p = policy();
        let lamp = product("Lamp", 1_250, 3);
        let mug = product("Mug", 400, 10);
        let mut cart = Cart::default();
        cart.add(lamp.product_id, 5, lamp.price, &p).unwrap();
        cart.add(mug.product_id, 1, mug.price, &p).unwrap();
        let view = CartView::build(&cart, &[lamp.clone(), mug.clone()], p, false);
        let items = [lamp.product_id, mug.product_id];

        let short = DomainError::InsufficientStock {
            product_id: lamp.product_id.to_string(),
            requested: 5,
            available: 3,
        };
        assert_eq!(
            view.explain_refusal(&short, &items),
            (
                "Only 3 of “Lamp” left, and your cart has 5: lower the quantity to check out."
                    .into(),
                Some(lamp.product_id)
            )
        );
        let none = DomainError::InsufficientStock {
            product_id: mug.product_id.to_string(),
            requested: 1,
            available: 0,
        };
        assert_eq!(
            view.explain_refusal(&none, &items).0,
            "“Mug” is out of stock: remove it from your cart to check out."
        );
        let gone = DomainError::invalid("items[1].productId", "product x does not exist");
        assert_eq!(
            view.explain_refusal(&gone, &items),
            (
                "“Mug” is no longer sold: remove it from your cart.".into(),
                Some(mug.product_id)
            )
        );
        let too_many = DomainError::invalid("items[0].quantity", "must be at most 10");
        assert_eq!(
            view.explain_refusal(&too_many, &items).0,
            "“Lamp”: the quantity must be at most 10."
        );
        let below = DomainError::invalid(
            "items",
            "the order total 4.00 is below the minimum order of 10.00",
        );
        assert_eq!(
            view.explain_refusal(&below, &items),
            (
                "The order total 4.00 is below the minimum order of 10.00.".into(),
                None
            )
        );
    }
}
