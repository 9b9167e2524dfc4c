//! Demo data: on first start with an empty store, a shop worth browsing —
//! sellers, customers with accounts, a few hundred products across
//! categories, orders in every state and reviews — created through the same
//! commands a person would send, so the event log tells the whole story.
//!
//! Deterministic: the same catalog every time (a fixed-seed generator).

use crate::commands::accounts::Credentials;
use crate::store::StoreError;
use crate::AppState;
use app::ports::{CatalogCommands, OrderCommands, ReviewCommands};
use domain::order::{OrderItem, PlaceOrder};
use domain::party::RegisterSeller;
use domain::product::{CreateProduct, ProductDetails, ShippingOption};
use domain::review::SubmitReview;
use domain::{
    Actor, ActorRole, AggregateType, CommandError, CommandMeta, CustomerId, Money, OrderId,
    ProductId, SellerId,
};

const SEEDED: &str = "demo_data_seeded";

/// Password of every demo customer and seller account (documented in the README).
pub const DEMO_PASSWORD: &str = "demo-password";

/// A category, the words its product names are made of, and its price range
/// in minor units.
type Category = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    (i64, i64),
);

const CATEGORIES: &[Category] = &[
    (
        "Home",
        &["Walnut", "Linen", "Oak", "Woven", "Ceramic", "Brass"],
        &[
            "desk lamp",
            "throw blanket",
            "side table",
            "wall clock",
            "vase",
            "cushion cover",
        ],
        (1_500, 25_000),
    ),
    (
        "Kitchen",
        &[
            "Stoneware",
            "Cast iron",
            "Copper",
            "Bamboo",
            "Enamel",
            "Glass",
        ],
        &[
            "mug set",
            "skillet",
            "saucepan",
            "cutting board",
            "teapot",
            "storage jar",
        ],
        (900, 18_000),
    ),
    (
        "Electronics",
        &[
            "Wireless",
            "Compact",
            "Noise-cancelling",
            "Smart",
            "Portable",
            "Mechanical",
        ],
        &[
            "headphones",
            "speaker",
            "keyboard",
            "charger",
            "desk light",
            "e-reader",
        ],
        (2_500, 60_000),
    ),
    (
        "Sport",
        &[
            "Trail",
            "Merino",
            "Ultralight",
            "Thermal",
            "Waterproof",
            "Carbon",
        ],
        &[
            "running shoes",
            "beanie",
            "backpack",
            "jacket",
            "bottle",
            "trekking poles",
        ],
        (1_200, 30_000),
    ),
    (
        "Books",
        &[
            "Illustrated",
            "Collected",
            "Pocket",
            "Annotated",
            "First-edition",
            "Hardcover",
        ],
        &[
            "cookbook",
            "atlas",
            "field guide",
            "poetry",
            "history of tea",
            "novel",
        ],
        (900, 7_500),
    ),
    (
        "Garden",
        &[
            "Galvanised",
            "Terracotta",
            "Cedar",
            "Folding",
            "Hand-forged",
            "Recycled",
        ],
        &[
            "watering can",
            "planter",
            "raised bed",
            "garden chair",
            "trowel",
            "compost bin",
        ],
        (1_000, 20_000),
    ),
    (
        "Toys",
        &[
            "Wooden", "Magnetic", "Knitted", "Puzzle", "Stacking", "Musical",
        ],
        &["train set", "blocks", "rabbit", "box", "rings", "xylophone"],
        (1_000, 9_000),
    ),
    (
        "Fashion",
        &[
            "Organic", "Waxed", "Selvedge", "Cashmere", "Leather", "Linen",
        ],
        &["t-shirt", "jacket", "jeans", "scarf", "belt", "shirt"],
        (1_900, 35_000),
    ),
];

const SELLERS: &[(&str, &str, u8)] = &[
    ("Nordic Goods", "nordic@vitrine.example", 46),
    ("Atelier Lumen", "lumen@vitrine.example", 48),
    ("Trailhead Supply", "trailhead@vitrine.example", 43),
];

const CUSTOMERS: &[(&str, &str)] = &[
    ("Ana Souza", "ana@vitrine.example"),
    ("Ben Okafor", "ben@vitrine.example"),
    ("Chloé Martin", "chloe@vitrine.example"),
    ("Dmitri Volkov", "dmitri@vitrine.example"),
    ("Emma Larsen", "emma@vitrine.example"),
    ("Farah Haddad", "farah@vitrine.example"),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demo step {step:?} was refused: {reason}")]
    Refused { step: String, reason: String },
}

/// A tiny fixed-seed generator (xorshift): the demo needs variety, not
/// cryptographic randomness, and the same shop every time.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn refused(step: impl Into<String>) -> impl FnOnce(CommandError) -> DemoError {
    let step = step.into();
    move |e| DemoError::Refused {
        step,
        reason: e.to_string(),
    }
}

fn meta(actor: &Actor) -> CommandMeta {
    CommandMeta::new(actor.clone())
}

/// Creates the demo shop once per write store.
pub async fn seed(state: &AppState) -> Result<bool, DemoError> {
    let store = &state.write;
    if store.get_meta(SEEDED).await?.is_some() || store.count(AggregateType::Product).await? > 0 {
        return Ok(false);
    }
    let admin = Actor::system("demo-data");
    let mut dice = Dice(0x5eed_cafe_f00d_1234);

    // Sellers, each with an account.
    let mut sellers = vec![SellerId::HOUSE];
    for (name, email, rating) in SELLERS {
        let id = SellerId::new();
        state
            .accounts
            .register_seller(
                meta(&admin),
                RegisterSeller {
                    seller_id: id,
                    name: (*name).into(),
                    rating_tenths: Some(*rating),
                },
                Credentials {
                    email: (*email).into(),
                    password: DEMO_PASSWORD.into(),
                },
            )
            .await
            .map_err(refused(format!("seller {name}")))?;
        sellers.push(id);
    }

    // Customers sign up like anyone would.
    let mut customers = Vec::new();
    for (name, email) in CUSTOMERS {
        let receipt = state
            .accounts
            .sign_up(
                meta(&Actor::system("sign-up")),
                (*name).into(),
                Credentials {
                    email: (*email).into(),
                    password: DEMO_PASSWORD.into(),
                },
            )
            .await
            .map_err(refused(format!("customer {name}")))?;
        let id: CustomerId = receipt
            .aggregate_id
            .parse()
            .map_err(|_| DemoError::Refused {
                step: "customer id".into(),
                reason: receipt.aggregate_id.clone(),
            })?;
        customers.push(id);
    }

    // The catalog: every adjective × noun of every category (288 products).
    let mut products: Vec<(ProductId, i64)> = Vec::new();
    for (category, adjectives, nouns, (low, high)) in CATEGORIES {
        for adjective in *adjectives {
            for noun in *nouns {
                let id = ProductId::new();
                let price = (low + dice.below((high - low) as u64) as i64) / 50 * 50 - 1;
                let seller = sellers[dice.below(sellers.len() as u64) as usize];
                let name = format!("{adjective} {noun}");
                let command = CreateProduct {
                    product_id: id,
                    seller_id: Some(seller),
                    details: ProductDetails {
                        description: format!(
                            "{name}, chosen for {} by people who use it every day.",
                            category.to_lowercase()
                        ),
                        name: name.clone(),
                        category: (*category).into(),
                        tags: vec![adjective.to_lowercase(), category.to_lowercase()],
                        image_url: None,
                        shipping_options: vec![
                            ShippingOption {
                                name: "Standard".into(),
                                price: Money::from_minor(495),
                                days: 5,
                            },
                            ShippingOption {
                                name: "Express".into(),
                                price: Money::from_minor(1_295),
                                days: 1,
                            },
                        ],
                    },
                    price: Money::from_minor(price.max(99)),
                    // Some sold out, most in stock.
                    stock: if dice.below(12) == 0 {
                        0
                    } else {
                        5 + dice.below(80) as u32
                    },
                };
                state
                    .catalog_commands
                    .create_product(meta(&admin), command)
                    .await
                    .map_err(refused(format!("product {name}")))?;
                products.push((id, price));
            }
        }
    }

    // Orders in every state, placed by the customers themselves.
    let stages = [
        "awaitingPayment",
        "declined",
        "paid",
        "shipped",
        "delivered",
        "delivered",
        "cancelled",
        "returned",
    ];
    let mut delivered: Vec<(CustomerId, ProductId)> = Vec::new();
    let mut placed = 0;
    for round in 0..40 {
        let customer = customers[round % customers.len()];
        let shopper = Actor {
            id: customer.to_string(),
            role: ActorRole::Customer,
        };
        let mut items: Vec<OrderItem> = Vec::new();
        for _ in 0..1 + dice.below(3) {
            let (product_id, _) = products[dice.below(products.len() as u64) as usize];
            if items.iter().all(|i| i.product_id != product_id) {
                items.push(OrderItem {
                    product_id,
                    quantity: 1 + dice.below(2) as i64,
                });
            }
        }
        let order_id = OrderId::new();
        let result = state
            .orders
            .place_order(
                meta(&shopper),
                PlaceOrder {
                    order_id,
                    customer_id: customer,
                    items: items.clone(),
                },
            )
            .await;
        // A sold-out or cheap pick is refused, as it would be for a shopper.
        if result.is_err() {
            continue;
        }
        placed += 1;
        let stage = stages[round % stages.len()];
        let orders = &state.orders;
        let step = |s: &str| format!("order {order_id} to {s}");
        match stage {
            "awaitingPayment" => continue,
            "declined" => {
                orders
                    .pay_order(
                        meta(&shopper),
                        order_id,
                        crate::payments::DECLINED_METHOD.into(),
                    )
                    .await
                    .map_err(refused(step("declined")))?;
                continue;
            }
            "cancelled" => {
                orders
                    .cancel_order(meta(&shopper), order_id, "changed my mind".into())
                    .await
                    .map_err(refused(step("cancelled")))?;
                continue;
            }
            _ => {}
        }
        orders
            .pay_order(meta(&shopper), order_id, "card".into())
            .await
            .map_err(refused(step("paid")))?;
        if stage == "paid" {
            continue;
        }
        // The process manager confirms paid orders too; whoever is first wins.
        let _ = orders.confirm_order(meta(&admin), order_id).await;
        orders
            .ship_order(
                meta(&admin),
                order_id,
                format!("VT{:010}", dice.below(10_000_000_000)),
            )
            .await
            .map_err(refused(step("shipped")))?;
        if stage == "shipped" {
            continue;
        }
        orders
            .deliver_order(meta(&admin), order_id)
            .await
            .map_err(refused(step("delivered")))?;
        if stage == "returned" {
            orders
                .return_order(meta(&shopper), order_id, "did not fit".into())
                .await
                .map_err(refused(step("returned")))?;
            continue;
        }
        delivered.extend(items.iter().map(|i| (customer, i.product_id)));
    }

    // Reviews by customers who received what they review.
    let comments = [
        (5, "Exactly as described, and it arrived early."),
        (
            4,
            "Good quality for the price; the colour is a little darker than the photo.",
        ),
        (5, "Use it every day. Would buy again."),
        (3, "Does the job, but the packaging was excessive."),
    ];
    let mut reviews = 0;
    for (i, (customer, product_id)) in delivered.iter().enumerate() {
        let (rating, comment) = comments[i % comments.len()];
        let shopper = Actor {
            id: customer.to_string(),
            role: ActorRole::Customer,
        };
        let result = state
            .reviews
            .submit_review(
                meta(&shopper),
                SubmitReview {
                    product_id: *product_id,
                    customer_id: *customer,
                    rating,
                    comment: comment.into(),
                },
            )
            .await;
        // The same customer may have received a product twice: one review.
        if result.is_ok() {
            reviews += 1;
        }
    }

    store.set_meta(SEEDED, serde_json::json!(true)).await?;
    tracing::info!(
        sellers = sellers.len(),
        customers = customers.len(),
        products = products.len(),
        orders = placed,
        reviews,
        "created the demo shop"
    );
    Ok(true)
}
