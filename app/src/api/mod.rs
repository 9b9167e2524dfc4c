//! Server functions (served under `/rpc`, outside the public `/api` JSON
//! namespace) and the read DTOs both sides share.

pub mod account;
pub mod cart;
pub mod catalog;
#[cfg(feature = "ssr")]
mod flash;
pub mod orders;
pub mod pipeline;
pub mod products;

/// What every server function needs on the server: the ports, the caller,
/// the command's metadata, cookies.
#[cfg(feature = "ssr")]
pub(crate) mod server {
    use crate::error::AppError;
    use crate::ports::{Caller, Ports};
    use domain::{CommandMeta, Idempotency};

    pub fn ports() -> Result<Ports, AppError> {
        leptos::prelude::use_context::<Ports>()
            .ok_or_else(|| AppError::Transport("server misconfigured: no ports in context".into()))
    }

    /// The caller the auth layer put in the request (anonymous if none).
    pub fn caller() -> Caller {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>().cloned())
            .unwrap_or_else(Caller::anonymous)
    }

    /// The browser chose the command id: a resend (a retry after a network
    /// error) gets the first outcome instead of acting twice.
    pub fn command_meta(
        command_id: &str,
        command: &str,
        request: &serde_json::Value,
    ) -> Result<CommandMeta, AppError> {
        let actor = caller().actor()?;
        let command_id: domain::CommandId = command_id
            .parse()
            .map_err(|_| AppError::bad_input("commandId", "must be a UUID"))?;
        Ok(CommandMeta {
            actor,
            command_id,
            idempotency: Some(Idempotency {
                key: command_id.to_string(),
                request_hash: format!("{command}:{request}"),
            }),
            correlation_id: None,
        })
    }

    /// A cookie the browser sent with this request.
    pub fn request_cookie(name: &str) -> Option<String> {
        let parts = leptos::prelude::use_context::<http::request::Parts>()?;
        parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"').to_owned())
    }

    /// A cookie of the shop's own (not the session): `Path=/`, `SameSite=Lax`,
    /// `HttpOnly` (only the server reads it), `Secure` when the shop is
    /// served over HTTPS; `max_age` 0 removes it.
    pub fn set_shop_cookie(name: &str, value: &str, max_age_secs: u64) {
        let secure = ports().is_ok_and(|p| p.shop.secure_cookies);
        set_cookie(&format!(
            "{name}={value}; Path=/; Max-Age={max_age_secs}; SameSite=Lax; HttpOnly{}",
            if secure { "; Secure" } else { "" }
        ));
    }

    /// True for a plain HTML form post (no JavaScript): the browser follows
    /// the redirect and sees only the page it lands on.
    pub fn is_plain_form_post() -> bool {
        leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
        })
    }

    pub fn set_cookie(value: &str) {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                response.append_header(http::header::SET_COOKIE, value);
            }
        }
    }
}

use domain::views::ProductView;
use domain::{Actor, ActorRole};
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
    /// Rating, recent reviews and seller (from their own records).
    #[serde(default)]
    pub extras: catalog::ProductExtras,
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

/// Who is signed in: what the pages show and what commands act as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewer {
    /// For customers and sellers, their customer or seller id.
    pub account_id: String,
    pub email: String,
    pub name: String,
    pub role: ActorRole,
}

impl Viewer {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.account_id.clone(),
            role: self.role,
        }
    }

    pub fn is_staff(&self) -> bool {
        self.role == ActorRole::Admin
    }

    /// May use the admin portal (staff, and sellers for their own products).
    pub fn may_manage_products(&self) -> bool {
        matches!(self.role, ActorRole::Admin | ActorRole::Seller)
    }
}
