//! The pages' server data: a [`Resource`] of a server function's answer,
//! carried in the server-rendered HTML for hydration as JSON.
//!
//! Leptos's default resource codec reads that JSON with
//! `serde_json::from_str`, while server functions read their answers with
//! `serde_json::from_slice`: two readers, so every answer type's
//! deserializer was compiled into the WASM bundle twice. [`SliceJson`] reads
//! hydration data through `from_slice` too, so each is compiled once.

use crate::error::AppError;
use leptos::prelude::Resource;
use leptos::server::codee::{Decoder, Encoder};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// JSON, decoded by the same `serde_json` reader as server functions' answers.
pub struct SliceJson;

impl<T: Serialize> Encoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for SliceJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(json.as_bytes())
    }
}

/// A server function's answer, loaded for a page.
pub type Loaded<T> = Resource<Result<T, AppError>, SliceJson>;

/// Like `Resource::new`: runs `fetch` on the server while rendering, hands
/// the answer to the browser in the page, and fetches again in the browser
/// whenever `source` changes.
#[track_caller]
pub fn load<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Loaded<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send + 'static,
{
    Resource::new_with_options(source, fetch, false)
}
