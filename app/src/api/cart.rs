//! The cart's server functions. The cart is the `vitrine_cart` cookie (see
//! `crate::cart`): each change reads it, applies the shop's rules and sets
//! it again. Posted as plain forms they redirect back to the page they came
//! from (Leptos does so for a form post without a `Location`), so the cart
//! works without JavaScript.

use crate::cart::{CartSummary, CartView};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub(crate) mod server {
    use crate::api::server::{ports, request_cookie, set_shop_cookie};
    use crate::cart::{
        Cart, CartError, CartView, CART_COOKIE, CART_MAX_AGE_SECS, MAX_COOKIE_VALUE,
    };
    use crate::error::AppError;
    use domain::order::OrderPolicy;
    use domain::ProductId;

    pub fn policy() -> Result<OrderPolicy, AppError> {
        Ok(ports()?.shop.order_policy)
    }

    /// The cart the browser sent (empty when it sent none or a garbled one).
    pub fn current(policy: &OrderPolicy) -> Cart {
        request_cookie(CART_COOKIE)
            .map(|value| Cart::decode(&value, policy))
            .unwrap_or_default()
    }

    /// Sets the cookie to `cart` (removes it when the cart is empty).
    pub fn store(cart: &Cart) -> Result<(), AppError> {
        if cart.is_empty() {
            set_shop_cookie(CART_COOKIE, "", 0);
            return Ok(());
        }
        let value = cart.encode();
        if value.len() > MAX_COOKIE_VALUE {
            return Err(refused(CartError::Full));
        }
        set_shop_cookie(CART_COOKIE, &value, CART_MAX_AGE_SECS);
        Ok(())
    }

    pub fn refused(e: CartError) -> AppError {
        AppError::bad_input("quantity", e.to_string())
    }

    pub fn parse_product(id: &str) -> Result<ProductId, AppError> {
        id.trim()
            .parse()
            .map_err(|_| AppError::bad_input("productId", "no such product"))
    }

    pub fn parse_quantity(text: &str, policy: &OrderPolicy) -> Result<i64, AppError> {
        text.trim().parse::<i64>().map_err(|_| {
            refused(CartError::Quantity {
                max: policy.max_quantity.max(1),
            })
        })
    }

    /// The cart priced from the catalog's read records.
    pub async fn view(cart: &Cart, policy: OrderPolicy) -> Result<CartView, AppError> {
        let ports = ports()?;
        let ids: Vec<ProductId> = cart.lines().iter().map(|l| l.product_id).collect();
        if ids.is_empty() {
            return Ok(CartView::build(cart, &[], policy, false));
        }
        let listing = ports
            .catalog
            .products_by_ids(&ids)
            .await
            .map_err(|e| AppError::Transport(e.to_string()))?;
        Ok(CartView::build(
            cart,
            &listing.products,
            policy,
            listing.stale,
        ))
    }

    /// Leaves the refusal for the page a plain form post returns to.
    pub fn flash_refusal<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(e) = &result {
            crate::api::flash::leave(&e.message());
        }
        result
    }
}

/// The header's "Cart (n)": counts only, no catalog reads.
#[server(prefix = "/rpc")]
pub async fn summarize_cart() -> Result<CartSummary, AppError> {
    let policy = server::policy()?;
    Ok(CartSummary::of(&server::current(&policy), policy))
}

/// The cart page: every line priced from the catalog, with stock warnings.
#[server(prefix = "/rpc")]
pub async fn get_cart() -> Result<CartView, AppError> {
    let policy = server::policy()?;
    let cart = server::current(&policy);
    let mut view = server::view(&cart, policy).await?;
    view.notice = super::flash::take();
    Ok(view)
}

#[server(prefix = "/rpc")]
pub async fn add_to_cart(product_id: String, quantity: String) -> Result<CartSummary, AppError> {
    server::flash_refusal(
        async move {
            let policy = server::policy()?;
            let id = server::parse_product(&product_id)?;
            let quantity = server::parse_quantity(&quantity, &policy)?;
            let ports = super::server::ports()?;
            let product = ports
                .catalog
                .product(id, None)
                .await
                .map_err(|e| AppError::Transport(e.to_string()))?
                .map(|read| read.product)
                .filter(|p| !p.deleted)
                .ok_or_else(|| {
                    AppError::bad_input("productId", "this product is not sold any more")
                })?;
            if product.stock == 0 {
                return Err(AppError::bad_input(
                    "productId",
                    format!("“{}” is out of stock", product.name),
                ));
            }
            let mut cart = server::current(&policy);
            cart.add(id, quantity, product.price, &policy)
                .map_err(server::refused)?;
            server::store(&cart)?;
            Ok(CartSummary::of(&cart, policy))
        }
        .await,
    )
}

/// Sets a line's quantity (0 removes the line).
#[server(prefix = "/rpc")]
pub async fn update_cart_line(
    product_id: String,
    quantity: String,
) -> Result<CartSummary, AppError> {
    server::flash_refusal((|| {
        let policy = server::policy()?;
        let id = server::parse_product(&product_id)?;
        let quantity = server::parse_quantity(&quantity, &policy)?;
        let mut cart = server::current(&policy);
        cart.set_quantity(id, quantity, &policy)
            .map_err(server::refused)?;
        server::store(&cart)?;
        Ok(CartSummary::of(&cart, policy))
    })())
}

#[server(prefix = "/rpc")]
pub async fn remove_from_cart(product_id: String) -> Result<CartSummary, AppError> {
    server::flash_refusal((|| {
        let policy = server::policy()?;
        let id = server::parse_product(&product_id)?;
        let mut cart = server::current(&policy);
        cart.remove(id);
        server::store(&cart)?;
        Ok(CartSummary::of(&cart, policy))
    })())
}
