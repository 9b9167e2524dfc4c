//! Who is calling: one layer resolves the session cookie or the bearer token
//! into a [`Caller`] in the request's extensions, for the JSON API and the
//! server functions alike. Authorization itself is decided by the command
//! rules (`domain::authz`), not here.

use super::error::ApiError;
use crate::AppState;
use app::ports::SESSION_COOKIE;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use app::ports::{Caller, Via};

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

fn bearer(headers: &HeaderMap) -> Option<Result<String, ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Some(Err(()));
    }
    let token = token.trim();
    if token.is_empty() {
        return Some(Err(()));
    }
    Some(Ok(token.to_owned()))
}

pub async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let caller = match bearer(headers) {
        Some(Ok(token)) => match state.accounts.bearer_viewer(&token).await {
            Ok(Some(viewer)) => Caller {
                viewer: Some(viewer),
                via: Via::Bearer,
                session_token: None,
            },
            Ok(None) => {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "the bearer token is not valid",
                )
                .into_response()
            }
            Err(e) => return store_down(e),
        },
        Some(Err(())) => {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the Authorization header must be `Bearer <token>`",
            )
            .into_response()
        }
        None => match session_cookie(headers) {
            Some(token) => match state.accounts.session_viewer(&token).await {
                Ok(viewer) => Caller {
                    via: if viewer.is_some() {
                        Via::Cookie
                    } else {
                        Via::Anonymous
                    },
                    viewer,
                    session_token: Some(token),
                },
                Err(e) => return store_down(e),
            },
            None => Caller::anonymous(),
        },
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn store_down(e: crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "could not check the caller's session");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the shop cannot check sign-ins right now",
    )
    .into_response()
}
