//! Demo data: on first start with an empty store, a small catalog is created
//! through the same commands a person would send.

use crate::store::write::WriteStore;
use crate::store::StoreError;
use app::ports::ProductCommands;
use domain::product::CreateProduct;
use domain::{Actor, CommandId, Money, ProductId};

const CATALOG: &[(&str, &str, i64, u32)] = &[
    ("Walnut desk lamp", "Home", 8_900, 14),
    ("Linen throw blanket", "Home", 6_450, 30),
    ("Stoneware mug, set of 4", "Kitchen", 3_200, 52),
    ("Cast iron skillet 26 cm", "Kitchen", 4_999, 9),
    ("Noise-cancelling headphones", "Electronics", 24_900, 6),
    ("Mechanical keyboard", "Electronics", 12_900, 0),
    ("Trail running shoes", "Sport", 13_450, 21),
    ("Merino wool beanie", "Sport", 2_900, 40),
];

const SEEDED: &str = "demo_data_seeded";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demo product {name:?} was refused: {reason}")]
    Refused { name: String, reason: String },
}

/// Creates the demo catalog once per write store.
pub async fn seed(store: &WriteStore, commands: &dyn ProductCommands) -> Result<bool, DemoError> {
    if store.get_meta(SEEDED).await?.is_some() || store.count_products().await? > 0 {
        return Ok(false);
    }
    let actor = Actor::system("demo-data");
    for (name, category, price, stock) in CATALOG {
        let command = CreateProduct {
            product_id: ProductId::new(),
            name: (*name).into(),
            category: (*category).into(),
            price: Money::from_minor(*price),
            stock: *stock,
        };
        commands
            .create_product(actor.clone(), CommandId::new(), command)
            .await
            .map_err(|e| DemoError::Refused {
                name: (*name).into(),
                reason: e.to_string(),
            })?;
    }
    store.set_meta(SEEDED, serde_json::json!(true)).await?;
    tracing::info!(products = CATALOG.len(), "created the demo catalog");
    Ok(true)
}
