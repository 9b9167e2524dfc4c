//! What the server implements for the UI (server build only). Server
//! functions take these from Leptos context; no SurrealDB or NATS type
//! reaches this crate.

use crate::api::catalog::{CatalogPage, CatalogQuery, Showcase};
use crate::api::orders::{OrderListing, OrderRead};
use crate::api::pipeline::{DeadLetterView, ReadModelHealth};
use crate::api::{CatalogListing, ProductRead, QueryError, Viewer};
use crate::error::AppError;
use async_trait::async_trait;
use domain::inventory::AdjustInventory;
use domain::order::{OrderPolicy, PlaceOrder};
use domain::party::RegisterSeller;
use domain::product::{ChangePrice, CreateProduct, DeleteProduct, UpdateProductDetails};
use domain::review::SubmitReview;
use domain::{CommandError, CommandMeta, CustomerId, OrderId, ProductId, WriteReceipt};
use std::sync::Arc;

/// The command side for the catalog: validate with the domain rules, append
/// the events and the outbox rows in one transaction, answer with a receipt.
#[async_trait]
pub trait CatalogCommands: Send + Sync + 'static {
    async fn create_product(
        &self,
        meta: CommandMeta,
        command: CreateProduct,
    ) -> Result<WriteReceipt, CommandError>;

    async fn update_product_details(
        &self,
        meta: CommandMeta,
        command: UpdateProductDetails,
    ) -> Result<WriteReceipt, CommandError>;

    async fn change_price(
        &self,
        meta: CommandMeta,
        command: ChangePrice,
    ) -> Result<WriteReceipt, CommandError>;

    async fn delete_product(
        &self,
        meta: CommandMeta,
        command: DeleteProduct,
    ) -> Result<WriteReceipt, CommandError>;

    async fn adjust_inventory(
        &self,
        meta: CommandMeta,
        command: AdjustInventory,
    ) -> Result<WriteReceipt, CommandError>;

    /// A seller without an account (the house seller); sellers who sign in
    /// are created through the account side.
    async fn register_seller(
        &self,
        meta: CommandMeta,
        command: RegisterSeller,
    ) -> Result<WriteReceipt, CommandError>;
}

/// The order lifecycle.
#[async_trait]
pub trait OrderCommands: Send + Sync + 'static {
    async fn place_order(
        &self,
        meta: CommandMeta,
        command: PlaceOrder,
    ) -> Result<WriteReceipt, CommandError>;
    async fn pay_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        payment_method: String,
    ) -> Result<WriteReceipt, CommandError>;
    async fn confirm_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
    ) -> Result<WriteReceipt, CommandError>;
    async fn ship_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        tracking_number: String,
    ) -> Result<WriteReceipt, CommandError>;
    async fn deliver_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
    ) -> Result<WriteReceipt, CommandError>;
    async fn cancel_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        reason: String,
    ) -> Result<WriteReceipt, CommandError>;
    async fn return_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        reason: String,
    ) -> Result<WriteReceipt, CommandError>;
}

#[async_trait]
pub trait ReviewCommands: Send + Sync + 'static {
    async fn submit_review(
        &self,
        meta: CommandMeta,
        command: SubmitReview,
    ) -> Result<WriteReceipt, CommandError>;
}

/// A session opened by signing in: the `Set-Cookie` value that carries it.
#[derive(Clone, Debug)]
pub struct OpenedSession {
    pub set_cookie: String,
    pub viewer: Viewer,
}

/// Signing in and out from the UI.
#[async_trait]
pub trait AccountPort: Send + Sync + 'static {
    /// `None` when the email or password is wrong.
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<OpenedSession>, CommandError>;
    /// Ends the session (if any); returns the `Set-Cookie` value removing it.
    async fn sign_out(&self, session_token: Option<&str>) -> Result<String, CommandError>;
}

/// The read side for the catalog: read records only (the single-record read
/// may fall back to the write model when asked for a version not yet projected).
#[async_trait]
pub trait CatalogQueries: Send + Sync + 'static {
    async fn product(
        &self,
        id: ProductId,
        min_version: Option<u64>,
    ) -> Result<Option<ProductRead>, QueryError>;

    /// Every product record, deleted ones included (the admin's list).
    async fn products(&self) -> Result<CatalogListing, QueryError>;

    /// A page of listed products matching the search, with facet counts.
    async fn search(&self, query: CatalogQuery) -> Result<CatalogPage, QueryError>;

    /// Top rated and trending products, `limit` of each.
    async fn showcase(&self, limit: usize) -> Result<Showcase, QueryError>;

    /// The read records of these products (a cart's lines), in no
    /// particular order; ids without a record are left out.
    async fn products_by_ids(&self, ids: &[ProductId]) -> Result<CatalogListing, QueryError>;
}

/// The read side for customers' order histories (read model `order_history`).
/// Callers check who may see which customer's orders.
#[async_trait]
pub trait OrderHistoryQueries: Send + Sync + 'static {
    /// A customer's orders, newest first; `stale` while the pipeline lags.
    async fn customer_orders(
        &self,
        customer: CustomerId,
        limit: usize,
    ) -> Result<OrderListing, QueryError>;

    /// One order. With `min_version` (a receipt's version) it waits briefly
    /// for the projection, then answers from the write model's event log
    /// (`source: write`) rather than with an older record.
    async fn order(
        &self,
        id: OrderId,
        min_version: Option<u64>,
    ) -> Result<Option<OrderRead>, QueryError>;
}

/// The shop's settings pages and server functions need.
#[derive(Clone, Copy, Debug)]
pub struct ShopInfo {
    pub order_policy: OrderPolicy,
    /// The shop is served over HTTPS: its cookies are `Secure`.
    pub secure_cookies: bool,
}

/// The live feed's current position, rendered into each page so the browser
/// resumes the feed from the moment the page was rendered.
pub trait LivePosition: Send + Sync + 'static {
    fn position(&self) -> u64;
}

/// Operating the event pipeline (the caller is checked to be staff first).
/// Answers are sentences for the admin; errors say what was refused.
#[async_trait]
pub trait PipelineOperations: Send + Sync + 'static {
    fn read_models(&self) -> Vec<ReadModelHealth>;
    async fn dead_letters(&self, read_model: &str) -> Result<Vec<DeadLetterView>, AppError>;
    async fn retry(&self, read_model: &str) -> Result<String, AppError>;
    async fn skip(
        &self,
        read_model: &str,
        aggregate: String,
        version: u64,
    ) -> Result<String, AppError>;
    fn rebuild(&self, read_model: &str) -> Result<String, AppError>;
    async fn reconcile(&self, read_model: &str) -> Result<String, AppError>;
}

/// Everything the UI needs from the server, provided as one context value.
#[derive(Clone)]
pub struct Ports {
    pub catalog_commands: Arc<dyn CatalogCommands>,
    pub orders: Arc<dyn OrderCommands>,
    pub reviews: Arc<dyn ReviewCommands>,
    pub accounts: Arc<dyn AccountPort>,
    pub catalog: Arc<dyn CatalogQueries>,
    pub order_history: Arc<dyn OrderHistoryQueries>,
    pub live: Arc<dyn LivePosition>,
    pub pipeline: Arc<dyn PipelineOperations>,
    pub shop: ShopInfo,
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "vitrine_session";

/// How the caller authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Anonymous,
    Cookie,
    Bearer,
}

/// Who is calling, as the server's auth layer resolved it from the session
/// cookie or bearer token; in each request's extensions.
#[derive(Clone, Debug)]
pub struct Caller {
    pub viewer: Option<Viewer>,
    pub via: Via,
    /// The session cookie's value, for signing out and rotation.
    pub session_token: Option<String>,
}

impl Caller {
    pub fn anonymous() -> Self {
        Caller {
            viewer: None,
            via: Via::Anonymous,
            session_token: None,
        }
    }

    /// The actor for a command, or `Unauthenticated`.
    pub fn actor(&self) -> Result<domain::Actor, CommandError> {
        self.viewer
            .as_ref()
            .map(Viewer::actor)
            .ok_or(CommandError::Unauthenticated)
    }
}
