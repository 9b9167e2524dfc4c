//! Accounts: sign-up (a customer), sellers created by staff, the first admin,
//! sign-in with argon2-hashed passwords, cookie sessions and bearer tokens.
//!
//! The customer and seller are aggregates (their registration is an event);
//! the account row with the password hash is written in the same commit but
//! never enters the event log. Session and API tokens are random 256-bit
//! values; only their SHA-256 is stored, so a leaked store leaks no token.

use super::{unavailable, CommandBus, Decision, EventBatch};
use crate::store::write::{Commit, RowCreate, StateWrite};
use crate::store::StoreError;
use app::api::Viewer;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use domain::party::{self, Customer, RegisterCustomer, RegisterSeller, Seller};
use domain::{
    authz, AccountId, ActorRole, CommandError, CommandMeta, CustomerId, DomainError, DomainEvent,
    WriteReceipt,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountRow {
    account_id: String,
    email: String,
    name: String,
    role: ActorRole,
    password_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl AccountRow {
    fn viewer(&self) -> Viewer {
        Viewer {
            account_id: self.account_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRow {
    account_id: String,
    #[serde(with = "time::serde::rfc3339::option", default)]
    expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

/// A new session: the cookie's value and when it expires.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub expires_at: OffsetDateTime,
    pub viewer: Viewer,
}

/// Email, password and name of a new account.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Clone)]
pub struct AccountHandler {
    pub bus: CommandBus,
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (the shop is served over HTTPS).
    pub secure_cookies: bool,
    pub recent: RecentCallers,
}

/// Callers resolved in the last few seconds, so a busy client costs no store
/// read per request. Signing out in this process forgets the entry at once;
/// another process (several web nodes on one store) honours a sign-out or a
/// changed role within [`RecentCallers::FRESH_FOR`].
#[derive(Clone, Default)]
pub struct RecentCallers {
    entries: Arc<Mutex<HashMap<String, RecentCaller>>>,
}

/// When it was read, when its session expires, who it is.
type RecentCaller = (Instant, Option<OffsetDateTime>, Viewer);

impl RecentCallers {
    pub const FRESH_FOR: Duration = Duration::from_secs(5);
    const MAX_ENTRIES: usize = 50_000;

    fn get(&self, key: &str) -> Option<Viewer> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (cached_at, expires_at, viewer) = entries.get(key)?;
        let fresh = cached_at.elapsed() < Self::FRESH_FOR
            && expires_at.is_none_or(|t| t > OffsetDateTime::now_utc());
        fresh.then(|| viewer.clone())
    }

    fn put(&self, key: String, expires_at: Option<OffsetDateTime>, viewer: Viewer) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (at, _, _)| at.elapsed() < Self::FRESH_FOR);
        }
        entries.insert(key, (Instant::now(), expires_at, viewer));
    }

    fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

fn hash_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn check_password(password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(DomainError::invalid(
            "password",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(DomainError::invalid(
            "password",
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Argon2id with the crate's default (OWASP) parameters, off the async threads.
async fn hash_password(password: &str) -> Result<String, CommandError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| CommandError::Unavailable(e.to_string()))?
    .map_err(|e| CommandError::Unavailable(format!("password hashing failed: {e}")))
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Why a sign-in failed. Never says which of email or password was wrong.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the email or password is wrong")]
    WrongCredentials,
    #[error(transparent)]
    Unavailable(#[from] StoreError),
}

impl AccountHandler {
    async fn account_by_email(&self, email: &str) -> Result<Option<AccountRow>, StoreError> {
        let mut res = self
            .bus
            .store
            .db
            .query("SELECT * OMIT id FROM account WHERE email = $email LIMIT 1")
            .bind(("email", email.to_owned()))
            .await?;
        let rows: Vec<serde_json::Value> = res.take(0)?;
        match rows.into_iter().next() {
            Some(v) => Ok(Some(serde_json::from_value(v)?)),
            None => Ok(None),
        }
    }

    /// Refuses an email that already has an account. Checked again inside
    /// the commit's retry loop: two sign-ups racing for one email meet the
    /// unique index, and the loser learns why here.
    async fn email_free(&self, email: &str) -> Result<(), CommandError> {
        if self
            .account_by_email(email)
            .await
            .map_err(unavailable)?
            .is_some()
        {
            return Err(DomainError::invalid("email", "is already registered").into());
        }
        Ok(())
    }

    async fn account(&self, id: &str) -> Result<Option<AccountRow>, StoreError> {
        let mut res = self
            .bus
            .store
            .db
            .query("SELECT * OMIT id FROM ONLY type::record('account', $id)")
            .bind(("id", id.to_owned()))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        match row {
            Some(v) if !v.is_null() => Ok(Some(serde_json::from_value(v)?)),
            _ => Ok(None),
        }
    }

    async fn new_account_row(
        &self,
        id: &str,
        name: &str,
        credentials: &Credentials,
        role: ActorRole,
    ) -> Result<(String, RowCreate), CommandError> {
        let email = party::normalize_email(&credentials.email)?;
        check_password(&credentials.password)?;
        self.email_free(&email).await?;
        let row = AccountRow {
            account_id: id.to_owned(),
            email: email.clone(),
            name: name.trim().to_owned(),
            role,
            password_hash: hash_password(&credentials.password).await?,
            created_at: OffsetDateTime::now_utc(),
        };
        Ok((
            email,
            RowCreate {
                table: "account",
                id: id.to_owned(),
                row: serde_json::to_value(row).map_err(|e| unavailable(e.into()))?,
            },
        ))
    }

    /// A shopper signs up: a Customer aggregate and its account, in one commit.
    pub async fn sign_up(
        &self,
        meta: CommandMeta,
        name: String,
        credentials: Credentials,
    ) -> Result<WriteReceipt, CommandError> {
        let id = CustomerId::new();
        let command = RegisterCustomer {
            customer_id: id,
            name,
            email: credentials.email.clone(),
        };
        // Validate the cheap things before paying for a password hash.
        let events = party::decide_register_customer(&Customer::default(), &command)?;
        let (email, account) = self
            .new_account_row(
                &id.to_string(),
                &command.name,
                &credentials,
                ActorRole::Customer,
            )
            .await?;
        let state = events
            .iter()
            .fold(Customer::default(), party::evolve_customer);
        self.register_with_account(&meta, id.to_string(), &events, &state, &account, &email)
            .await
    }

    /// Staff register a seller with the account the seller signs in with.
    pub async fn register_seller(
        &self,
        meta: CommandMeta,
        command: RegisterSeller,
        credentials: Credentials,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.seller_id;
        let events = party::decide_register_seller(&Seller::default(), &command, &meta.actor)?;
        let (email, account) = self
            .new_account_row(
                &id.to_string(),
                &command.name,
                &credentials,
                ActorRole::Seller,
            )
            .await?;
        let state = events.iter().fold(Seller::default(), party::evolve_seller);
        self.register_with_account(&meta, id.to_string(), &events, &state, &account, &email)
            .await
    }

    /// A new party's events and state with its account row, in one commit.
    /// The email is checked again on every attempt: two sign-ups racing for
    /// one email meet the unique index, and the loser's retry says why.
    async fn register_with_account<E: DomainEvent, S: Serialize>(
        &self,
        meta: &CommandMeta,
        id: String,
        events: &[E],
        state: &S,
        account: &RowCreate,
        email: &str,
    ) -> Result<WriteReceipt, CommandError> {
        let id = &id;
        self.bus
            .run(meta, &[(E::AGGREGATE, id.clone())], || async move {
                self.email_free(email).await?;
                let mut batch = EventBatch::new(meta);
                let version = batch.add(id, 0, events);
                Ok(Decision {
                    commit: Commit {
                        states: vec![
                            StateWrite::new(E::AGGREGATE, id, 0, state).map_err(unavailable)?
                        ],
                        creates: vec![account.clone()],
                        events: batch.events,
                        ..Commit::default()
                    },
                    aggregate_id: id.clone(),
                    aggregate_version: version,
                })
            })
            .await
    }

    /// On first start: the admin account from `VITRINE_ADMIN_EMAIL` /
    /// `VITRINE_ADMIN_PASSWORD`, unless an account with that email exists.
    pub async fn ensure_admin(
        &self,
        name: &str,
        credentials: &Credentials,
    ) -> Result<bool, CommandError> {
        let email = party::normalize_email(&credentials.email)?;
        if self
            .account_by_email(&email)
            .await
            .map_err(unavailable)?
            .is_some()
        {
            return Ok(false);
        }
        let id = AccountId::new().to_string();
        let (_, account) = self
            .new_account_row(&id, name, credentials, ActorRole::Admin)
            .await?;
        let commit = Commit {
            creates: vec![account],
            ..Commit::default()
        };
        match self.bus.store.commit(&commit).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Checks the password and opens a new session (a fresh token at every
    /// sign-in; the caller drops the old session).
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Session, SignInError> {
        let email = email.trim().to_lowercase();
        let Some(account) = self.account_by_email(&email).await? else {
            // Spend the same time as a real check, so timing tells nothing.
            let _ = verify_password(password, DUMMY_HASH).await;
            return Err(SignInError::WrongCredentials);
        };
        if !verify_password(password, &account.password_hash).await {
            return Err(SignInError::WrongCredentials);
        }
        let token = new_token();
        let now = OffsetDateTime::now_utc();
        let expires_at = now + self.session_ttl;
        let row = TokenRow {
            account_id: account.account_id.clone(),
            expires_at: Some(expires_at),
            label: None,
            created_at: now,
        };
        self.bus
            .store
            .db
            .query("CREATE type::record('session', $key) CONTENT $row RETURN NONE")
            .bind(("key", hash_hex(&token)))
            .bind(("row", serde_json::to_value(row).map_err(StoreError::from)?))
            .await
            .map_err(StoreError::from)?
            .check()
            .map_err(StoreError::from)?;
        Ok(Session {
            token,
            expires_at,
            viewer: account.viewer(),
        })
    }

    /// The `Set-Cookie` value for a session: HttpOnly, SameSite=Lax, for the
    /// session's remaining life.
    pub fn session_cookie(&self, session: &Session) -> String {
        let max_age = (session.expires_at - OffsetDateTime::now_utc())
            .whole_seconds()
            .max(0);
        self.cookie(&session.token, max_age)
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn cleared_cookie(&self) -> String {
        self.cookie("", 0)
    }

    fn cookie(&self, value: &str, max_age_secs: i64) -> String {
        cookie::Cookie::build((app::ports::SESSION_COOKIE, value.to_owned()))
            .path("/")
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .secure(self.secure_cookies)
            .max_age(cookie::time::Duration::seconds(max_age_secs))
            .build()
            .to_string()
    }

    pub async fn sign_out(&self, session_token: &str) -> Result<(), StoreError> {
        self.recent
            .forget(&format!("session:{}", hash_hex(session_token)));
        self.bus
            .store
            .db
            .query("DELETE type::record('session', $key) RETURN NONE")
            .bind(("key", hash_hex(session_token)))
            .await?
            .check()?;
        Ok(())
    }

    async fn viewer_for(&self, table: &str, token: &str) -> Result<Option<Viewer>, StoreError> {
        let key = format!("{table}:{}", hash_hex(token));
        if let Some(viewer) = self.recent.get(&key) {
            return Ok(Some(viewer));
        }
        let mut res = self
            .bus
            .store
            .db
            .query("SELECT * OMIT id FROM ONLY type::record($table, $key)")
            .bind(("table", table.to_owned()))
            .bind(("key", hash_hex(token)))
            .await?;
        let row: Option<serde_json::Value> = res.take(0)?;
        let Some(row) = row.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let row: TokenRow = serde_json::from_value(row)?;
        if row
            .expires_at
            .is_some_and(|t| t <= OffsetDateTime::now_utc())
        {
            return Ok(None);
        }
        let viewer = self.account(&row.account_id).await?.map(|a| a.viewer());
        if let Some(v) = &viewer {
            self.recent.put(key, row.expires_at, v.clone());
        }
        Ok(viewer)
    }

    /// The account behind a session cookie, if the session is live.
    pub async fn session_viewer(&self, token: &str) -> Result<Option<Viewer>, StoreError> {
        self.viewer_for("session", token).await
    }

    /// The account behind a bearer token, if the token exists.
    pub async fn bearer_viewer(&self, token: &str) -> Result<Option<Viewer>, StoreError> {
        self.viewer_for("api_token", token).await
    }

    /// Staff issue an API token for an account (by email). The token is
    /// shown once; only its hash is kept.
    pub async fn issue_token(
        &self,
        meta: &CommandMeta,
        email: &str,
        label: &str,
    ) -> Result<String, CommandError> {
        authz::require_admin(&meta.actor, "issue API tokens")?;
        let email = party::normalize_email(email)?;
        let account = self
            .account_by_email(&email)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| DomainError::invalid("email", "no account has this email"))?;
        let label = domain::text::single_line("label", label, 100)?;
        let token = new_token();
        let row = TokenRow {
            account_id: account.account_id,
            expires_at: None,
            label: Some(label),
            created_at: OffsetDateTime::now_utc(),
        };
        let commit = Commit {
            creates: vec![RowCreate {
                table: "api_token",
                id: hash_hex(&token),
                row: serde_json::to_value(row).map_err(|e| unavailable(e.into()))?,
            }],
            ..Commit::default()
        };
        self.bus.store.commit(&commit).await.map_err(unavailable)?;
        Ok(token)
    }

    /// Deletes expired sessions; returns how many.
    pub async fn expire_sessions(&self) -> Result<u64, StoreError> {
        let mut res = self
            .bus
            .store
            .db
            .query("RETURN array::len((DELETE session WHERE <datetime>expiresAt <= time::now() RETURN BEFORE))")
            .await?;
        let n: Option<u64> = res.take(0)?;
        Ok(n.unwrap_or(0))
    }
}

/// A valid argon2 hash of a random password, verified against when the
/// email is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8b5ZgkV0p0Yl2cYzK3ZpQm1f0a6yZ3nq0pV8q9b0Q2s";

#[async_trait::async_trait]
impl app::ports::AccountPort for AccountHandler {
    async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<app::ports::OpenedSession>, CommandError> {
        match AccountHandler::sign_in(self, email, password).await {
            Ok(session) => Ok(Some(app::ports::OpenedSession {
                set_cookie: self.session_cookie(&session),
                viewer: session.viewer,
            })),
            Err(SignInError::WrongCredentials) => Ok(None),
            Err(SignInError::Unavailable(e)) => Err(unavailable(e)),
        }
    }

    async fn sign_out(&self, session_token: Option<&str>) -> Result<String, CommandError> {
        if let Some(token) = session_token {
            AccountHandler::sign_out(self, token)
                .await
                .map_err(unavailable)?;
        }
        Ok(self.cleared_cookie())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        // Otherwise an unknown email would answer faster than a wrong password.
        let parsed = PasswordHash::new(DUMMY_HASH).expect("parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
    }

    #[test]
    fn passwords_are_bounded() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_hex(&a).len(), 64);
        assert_ne!(hash_hex(&a), a);
    }
}
