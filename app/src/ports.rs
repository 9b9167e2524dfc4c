//! What the server implements for the UI (server build only). Server
//! functions take these from Leptos context; no SurrealDB or NATS type
//! reaches this crate.

use crate::api::{CatalogListing, ProductRead, QueryError};
use async_trait::async_trait;
use domain::product::{ChangePrice, CreateProduct};
use domain::{Actor, CommandError, CommandId, ProductId, WriteReceipt};
use std::sync::Arc;

/// The command side for products: validate with the domain rules, append the
/// events and the outbox rows in one transaction, answer with a receipt.
#[async_trait]
pub trait ProductCommands: Send + Sync + 'static {
    async fn create_product(
        &self,
        actor: Actor,
        command_id: CommandId,
        command: CreateProduct,
    ) -> Result<WriteReceipt, CommandError>;

    async fn change_price(
        &self,
        actor: Actor,
        command_id: CommandId,
        command: ChangePrice,
    ) -> Result<WriteReceipt, CommandError>;
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

    async fn products(&self) -> Result<CatalogListing, QueryError>;
}

/// The live feed's current position, rendered into each page so the browser
/// resumes the feed from the moment the page was rendered.
pub trait LivePosition: Send + Sync + 'static {
    fn position(&self) -> u64;
}

/// Everything the UI needs from the server, provided as one context value.
#[derive(Clone)]
pub struct Ports {
    pub products: Arc<dyn ProductCommands>,
    pub catalog: Arc<dyn CatalogQueries>,
    pub live: Arc<dyn LivePosition>,
}
