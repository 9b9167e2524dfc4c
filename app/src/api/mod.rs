//! Server functions (served under `/rpc`, outside the public `/api` JSON
//! namespace) and the read DTOs both sides share.

pub mod products;

use domain::views::ProductView;
use serde::{Deserialize, Serialize};

/// Where a single-record read was answered from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadSource {
    /// The read model (the normal case).
    Read,
    /// The write model, because the projection had not reached the version
    /// the caller asked for within the wait.
    Write,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRead {
    pub product: ProductView,
    pub source: ReadSource,
}

/// The catalog as the read model has it. List reads never wait for the
/// projection; `stale` says whether the projector is known to lag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogListing {
    pub products: Vec<ProductView>,
    pub stale: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum QueryError {
    #[error("the read store is unavailable: {0}")]
    Unavailable(String),
}
