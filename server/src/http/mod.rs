//! HTTP adapters: the public JSON API under `/api`, the live feed (SSE),
//! `/health`; the Leptos pages and server functions are mounted beside them.

pub mod api;
pub mod auth;
pub mod cross_site;
pub mod error;
pub mod health;
pub mod json_body;
pub mod live;
pub mod metrics;
pub mod response_cache;
