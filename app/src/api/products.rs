#[cfg(feature = "ssr")]
use super::server;
use super::{CatalogListing, ProductRead};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use domain::ProductId;
use domain::WriteReceipt;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn parse_id(id: &str) -> Result<ProductId, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

#[server(prefix = "/rpc")]
pub async fn list_products() -> Result<CatalogListing, AppError> {
    let ports = server::ports()?;
    ports
        .catalog
        .products()
        .await
        .map_err(|e| AppError::Transport(e.to_string()))
}

/// `min_version`: the version a receipt promised; waits briefly for it and
/// falls back to the write model rather than answer with an older record.
#[server(prefix = "/rpc")]
pub async fn get_product(id: String, min_version: Option<u64>) -> Result<ProductRead, AppError> {
    let id = parse_id(&id)?;
    let ports = server::ports()?;
    ports
        .catalog
        .product(id, min_version)
        .await
        .map_err(|e| AppError::Transport(e.to_string()))?
        .ok_or(AppError::NotFound)
}

#[server(prefix = "/rpc")]
pub async fn create_product(
    command_id: String,
    name: String,
    category: String,
    description: String,
    price: String,
    stock: String,
) -> Result<WriteReceipt, AppError> {
    use domain::product::{CreateProduct, ProductDetails};
    let request = serde_json::json!([name, category, description, price, stock]);
    let command = CreateProduct {
        product_id: ProductId::new(),
        seller_id: None,
        details: ProductDetails {
            name,
            description,
            category,
            ..ProductDetails::default()
        },
        price: domain::Money::parse(&price)
            .map_err(|e| AppError::bad_input("price", e.to_string()))?,
        stock: stock.trim().parse().map_err(|_| {
            AppError::bad_input("stock", "must be a whole number of units, 0 or more")
        })?,
    };
    let meta = server::command_meta(&command_id, "create_product", &request)?;
    let ports = server::ports()?;
    Ok(ports.catalog_commands.create_product(meta, command).await?)
}

#[server(prefix = "/rpc")]
pub async fn change_price(
    command_id: String,
    id: String,
    price: String,
    expected_version: Option<u64>,
    override_price_cut: bool,
) -> Result<WriteReceipt, AppError> {
    use domain::product::ChangePrice;
    let product_id = parse_id(&id)?;
    let command = ChangePrice {
        product_id,
        price: domain::Money::parse(&price)
            .map_err(|e| AppError::bad_input("price", e.to_string()))?,
        expected_version,
        override_price_cut,
    };
    let request = serde_json::json!([id, price, expected_version, override_price_cut]);
    let meta = server::command_meta(&command_id, "change_price", &request)?;
    let ports = server::ports()?;
    Ok(ports.catalog_commands.change_price(meta, command).await?)
}

/// A review by the signed-in customer. The domain decides who may review
/// (customers who received the product) and says why not.
#[server(prefix = "/rpc")]
pub async fn submit_review(
    command_id: String,
    product_id: String,
    rating: String,
    comment: String,
) -> Result<WriteReceipt, AppError> {
    use domain::review::SubmitReview;
    use domain::{ActorRole, CustomerId};
    let id = parse_id(&product_id)?;
    let request = serde_json::json!([product_id, rating, comment]);
    let meta = server::command_meta(&command_id, "submit_review", &request)?;
    let viewer = server::caller()
        .viewer
        .ok_or(AppError::Command(domain::CommandError::Unauthenticated))?;
    let customer_id: CustomerId = match viewer.role {
        ActorRole::Customer => viewer
            .account_id
            .parse()
            .map_err(|_| AppError::bad_input("review", "your account has no customer id"))?,
        _ => {
            return Err(AppError::bad_input(
                "review",
                "only customers write reviews; sign in with a customer account",
            ))
        }
    };
    let rating: i64 = rating
        .trim()
        .parse()
        .map_err(|_| AppError::bad_input("rating", "choose from 1 to 5 stars"))?;
    let command = SubmitReview {
        product_id: id,
        customer_id,
        rating,
        comment,
    };
    let ports = server::ports()?;
    Ok(ports.reviews.submit_review(meta, command).await?)
}
