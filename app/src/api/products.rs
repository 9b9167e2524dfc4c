use super::{CatalogListing, ProductRead};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use domain::ProductId;
use domain::WriteReceipt;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod server {
    use crate::error::AppError;
    use crate::ports::Ports;
    use domain::{Actor, ActorRole};

    pub fn ports() -> Result<Ports, AppError> {
        leptos::prelude::use_context::<Ports>()
            .ok_or_else(|| AppError::Transport("server misconfigured: no ports in context".into()))
    }

    /// Until accounts land (issue 3) every UI user acts as the shop's admin.
    pub fn actor() -> Actor {
        Actor {
            id: "admin-ui".into(),
            role: ActorRole::Admin,
        }
    }
}

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
    price: String,
    stock: String,
) -> Result<WriteReceipt, AppError> {
    use domain::product::CreateProduct;
    let command = CreateProduct {
        product_id: ProductId::new(),
        name,
        category,
        price: domain::Money::parse(&price)
            .map_err(|e| AppError::bad_input("price", e.to_string()))?,
        stock: stock.trim().parse().map_err(|_| {
            AppError::bad_input("stock", "must be a whole number of units, 0 or more")
        })?,
    };
    let command_id = command_id.parse().unwrap_or_default();
    let ports = server::ports()?;
    Ok(ports
        .products
        .create_product(server::actor(), command_id, command)
        .await?)
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
    let command = ChangePrice {
        product_id: parse_id(&id)?,
        price: domain::Money::parse(&price)
            .map_err(|e| AppError::bad_input("price", e.to_string()))?,
        expected_version,
        override_price_cut,
    };
    let command_id = command_id.parse().unwrap_or_default();
    let ports = server::ports()?;
    Ok(ports
        .products
        .change_price(server::actor(), command_id, command)
        .await?)
}
