//! The pages loaded when first opened rather than with the storefront: cart,
//! checkout, orders, sign-in and admin. `cargo leptos build --split` moves
//! their code out of the first WASM bundle into chunks fetched on
//! navigation, so a shopper landing on the home, search or a product page
//! downloads only what those pages need. The server renders them as usual.
//!
//! One route type per page: the split point's name comes from the type.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

pub struct Cart;

#[lazy_route]
impl LazyRoute for Cart {
    fn data() -> Self {
        Cart
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::cart::CartPage/> }.into_any()
    }
}

pub struct Checkout;

#[lazy_route]
impl LazyRoute for Checkout {
    fn data() -> Self {
        Checkout
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::cart::CheckoutPage/> }.into_any()
    }
}

pub struct Orders;

#[lazy_route]
impl LazyRoute for Orders {
    fn data() -> Self {
        Orders
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::orders::OrdersPage/> }.into_any()
    }
}

pub struct Order;

#[lazy_route]
impl LazyRoute for Order {
    fn data() -> Self {
        Order
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::orders::OrderPage/> }.into_any()
    }
}

pub struct SignIn;

#[lazy_route]
impl LazyRoute for SignIn {
    fn data() -> Self {
        SignIn
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::account::SignInPage/> }.into_any()
    }
}

pub struct AdminProducts;

#[lazy_route]
impl LazyRoute for AdminProducts {
    fn data() -> Self {
        AdminProducts
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::admin::AdminProductsPage/> }.into_any()
    }
}

pub struct AdminProduct;

#[lazy_route]
impl LazyRoute for AdminProduct {
    fn data() -> Self {
        AdminProduct
    }
    fn view(_this: Self) -> AnyView {
        view! { <super::admin::AdminProductPage/> }.into_any()
    }
}
