//! The pages loaded when first opened rather than with the storefront: cart,
//! checkout, orders, sign-in and admin. `cargo leptos build --split` moves
//! their code out of the first WASM bundle into chunks fetched on
//! navigation, so a shopper landing on the home, search or a product page
//! downloads only what those pages need. The server renders them as usual.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// A lazy route showing one page component. One route type per page: the
/// split point's name comes from the type's name.
macro_rules! lazy_page {
    ($($route:ident => $page:ident in $module:ident;)*) => {$(
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }
            fn view(_this: Self) -> AnyView {
                use super::$module::$page;
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_page! {
    Cart => CartPage in cart;
    Checkout => CheckoutPage in cart;
    Orders => OrdersPage in orders;
    Order => OrderPage in orders;
    SignIn => SignInPage in account;
    AdminProducts => AdminProductsPage in admin;
    AdminProduct => AdminProductPage in admin;
    AdminPipeline => AdminPipelinePage in pipeline;
}
