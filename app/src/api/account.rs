//! Signing in and out from the browser, and who is signed in.

use super::Viewer;
use crate::error::AppError;
use leptos::prelude::*;

/// The signed-in account, if any (pages use it to show the right links and
/// to send visitors to the sign-in page).
#[server(prefix = "/rpc")]
pub async fn current_viewer() -> Result<Option<Viewer>, AppError> {
    Ok(super::server::caller().viewer)
}

/// Checks the password, opens a new session (the old one ends), sets the
/// HttpOnly session cookie and sends the browser on to `next`.
#[server(prefix = "/rpc")]
pub async fn sign_in(email: String, password: String, next: String) -> Result<Viewer, AppError> {
    let ports = super::server::ports()?;
    let caller = super::server::caller();
    let session = ports
        .accounts
        .sign_in(&email, &password)
        .await?
        .ok_or_else(|| AppError::bad_input("password", "the email or password is wrong"))?;
    if caller.session_token.is_some() {
        let _ = ports
            .accounts
            .sign_out(caller.session_token.as_deref())
            .await;
    }
    super::server::set_cookie(&session.set_cookie);
    let next = safe_next(&next, &session.viewer);
    leptos_axum::redirect(&next);
    Ok(session.viewer)
}

#[server(prefix = "/rpc")]
pub async fn sign_out() -> Result<(), AppError> {
    let ports = super::server::ports()?;
    let caller = super::server::caller();
    let cleared = ports
        .accounts
        .sign_out(caller.session_token.as_deref())
        .await?;
    super::server::set_cookie(&cleared);
    leptos_axum::redirect("/");
    Ok(())
}

/// Only paths on this shop (no `//host`, no scheme): a sign-in link must
/// not send anyone elsewhere.
#[cfg(feature = "ssr")]
fn safe_next(next: &str, viewer: &Viewer) -> String {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local {
        next.to_owned()
    } else if viewer.may_manage_products() {
        "/admin/products".into()
    } else {
        "/".into()
    }
}
