//! Accounts over JSON: sign up (a customer), sign in (a session cookie),
//! sign out, who am I; staff issue bearer tokens and register sellers.

use super::{CommandRequest, ReceiptJson};
use crate::commands::accounts::{Credentials, SignInError};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::json_body::{read_body, JsonBody};
use crate::AppState;
use app::api::Viewer;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use domain::party::RegisterSeller;
use domain::{CommandMeta, SellerId};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedInJson {
    #[serde(flatten)]
    viewer: Viewer,
    #[serde(with = "time::serde::rfc3339")]
    session_expires_at: time::OffsetDateTime,
}

async fn open_session(
    state: &AppState,
    caller: &Caller,
    email: &str,
    password: &str,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let session = match state.accounts.sign_in(email, password).await {
        Ok(s) => s,
        Err(SignInError::WrongCredentials) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the email or password is wrong",
            ))
        }
        Err(SignInError::Unavailable(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the shop cannot sign you in right now",
            ));
        }
    };
    // A new session at every sign-in: the old one (if any) ends here.
    if let Some(old) = &caller.session_token {
        let _ = state.accounts.sign_out(old).await;
    }
    let cookie = state.accounts.session_cookie(&session);
    Ok((
        status,
        [(header::SET_COOKIE, cookie)],
        Json(SignedInJson {
            viewer: session.viewer,
            session_expires_at: session.expires_at,
        }),
    )
        .into_response())
}

/// `POST /api/auth/signup` `{"name","email","password"}` → 201, signed in.
pub(super) async fn sign_up(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let body = JsonBody::parse(&headers, &bytes)?;
    body.only(&["name", "email", "password"], &[])?;
    let credentials = Credentials {
        email: body.string("email")?,
        password: body.string("password")?,
    };
    let name = body.string("name")?;
    let meta = CommandMeta::new(domain::Actor::system("sign-up"));
    state
        .accounts
        .sign_up(meta, name, credentials.clone())
        .await?;
    open_session(
        &state,
        &caller,
        &credentials.email,
        &credentials.password,
        StatusCode::CREATED,
    )
    .await
}

/// `POST /api/auth/login` `{"email","password"}` → the session cookie.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body).await?;
    let body = JsonBody::parse(&headers, &bytes)?;
    body.only(&["email", "password"], &[])?;
    let email = body.string("email")?;
    let password = body.string("password")?;
    open_session(&state, &caller, &email, &password, StatusCode::OK).await
}

/// `POST /api/auth/logout` → 204; the session ends and the cookie is cleared.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    if let Some(token) = &caller.session_token {
        state.accounts.sign_out(token).await.map_err(|e| {
            tracing::error!(error = %e, "sign-out failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
        })?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, state.accounts.cleared_cookie())],
    )
        .into_response())
}

/// `GET /api/auth/me` → the signed-in account, or 401.
pub(super) async fn me(Extension(caller): Extension<Caller>) -> Result<Json<Viewer>, ApiError> {
    caller.actor()?;
    caller
        .viewer
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "not signed in"))
}

#[derive(Serialize)]
struct TokenJson {
    token: String,
}

/// `POST /api/auth/tokens` `{"email","label"}` (staff) → 201 `{"token"}`,
/// shown once.
pub(super) async fn issue_token(
    State(state): State<AppState>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Response, ApiError> {
    body.only(&["email", "label"], &[])?;
    let token = state
        .accounts
        .issue_token(&meta, &body.string("email")?, &body.string("label")?)
        .await?;
    Ok((StatusCode::CREATED, Json(TokenJson { token })).into_response())
}

/// `POST /api/sellers` `{"name","email","password","rating"?}` (staff) → 201.
pub(super) async fn register_seller(
    State(state): State<AppState>,
    CommandRequest { meta, body }: CommandRequest,
) -> Result<Response, ApiError> {
    body.only(&["name", "email", "password", "rating"], &[])?;
    let rating_tenths = match body.has("rating") {
        false => None,
        true => {
            let rating = body.money("rating")?.minor();
            // money() reads exactly two decimals: 4.5 → 450 hundredths.
            if rating % 10 != 0 || !(0..=500).contains(&rating) {
                return Err(ApiError::invalid(
                    "rating",
                    "must be between 0 and 5 with at most one decimal",
                ));
            }
            Some((rating / 10) as u8)
        }
    };
    let command = RegisterSeller {
        seller_id: SellerId::new(),
        name: body.string("name")?,
        rating_tenths,
    };
    let credentials = Credentials {
        email: body.string("email")?,
        password: body.string("password")?,
    };
    let receipt = state
        .accounts
        .register_seller(meta, command, credentials)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ReceiptJson::new("sellerId", receipt)),
    )
        .into_response())
}
