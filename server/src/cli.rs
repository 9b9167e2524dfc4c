//! The operator's commands besides `serve`: they talk to the running shop's
//! admin API, because the shop's process owns the embedded stores (SurrealKV
//! locks its directory to one process).
//!
//! Authentication: `--token` (or `VITRINE_TOKEN`), a bearer token from
//! `POST /api/auth/tokens`; otherwise the CLI signs in with the admin
//! account from the settings (`VITRINE_ADMIN_EMAIL` / `VITRINE_ADMIN_PASSWORD`).

use clap::{Parser, Subcommand};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "vitrine",
    version,
    about = "Vitrine: a CQRS shop. Without a command, serves the shop."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the shop (the default).
    Serve,
    /// How fresh every read model is (GET /api/analytics/sync-status).
    Status(Target),
    /// Rebuild a read model from the event log into a new generation while
    /// the current one keeps serving; follows the progress until the switch.
    Rebuild {
        /// The read model, e.g. `product_views`.
        read_model: String,
        /// Start it and return at once.
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Compare a read model with the write model and repair what drifted.
    Reconcile {
        read_model: String,
        /// Only report; change nothing.
        #[arg(long)]
        report_only: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Events a read model parked: list, show, retry, skip.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// List a read model's dead letters.
    List {
        read_model: String,
        #[command(flatten)]
        target: Target,
    },
    /// Show one aggregate's dead letters with their events.
    Show {
        read_model: String,
        /// `<type>:<id>`, e.g. `product:0190…`
        aggregate: String,
        #[command(flatten)]
        target: Target,
    },
    /// Apply parked events again (all, or one aggregate's).
    Retry {
        read_model: String,
        #[arg(long)]
        aggregate: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Skip one parked event for good (recorded), then retry the rest of its
    /// aggregate. For an unreadable message, the aggregate is `unreadable`
    /// and the version its stream sequence.
    Skip {
        read_model: String,
        aggregate: String,
        version: u64,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The running shop.
    #[arg(long, env = "VITRINE_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// A staff bearer token.
    #[arg(long, env = "VITRINE_TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot reach the shop at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the shop refused ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("signing in as {email}: {reason}")]
    SignIn { email: String, reason: String },
}

struct Client {
    http: reqwest::Client,
    base: String,
    auth: (reqwest::header::HeaderName, String),
}

impl Client {
    async fn connect(target: &Target, email: &str, password: &str) -> Result<Client, CliError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CliError::Unreachable {
                url: target.url.clone(),
                reason: e.to_string(),
            })?;
        let base = target.url.trim_end_matches('/').to_owned();
        if let Some(token) = &target.token {
            return Ok(Client {
                http,
                base,
                auth: (reqwest::header::AUTHORIZATION, format!("Bearer {token}")),
            });
        }
        let response = http
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .map_err(|e| CliError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        if !response.status().is_success() {
            return Err(CliError::SignIn {
                email: email.to_owned(),
                reason: response.text().await.unwrap_or_default(),
            });
        }
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().map(str::to_owned))
            .ok_or_else(|| CliError::SignIn {
                email: email.to_owned(),
                reason: "no session cookie in the answer".into(),
            })?;
        Ok(Client {
            http,
            base,
            auth: (reqwest::header::COOKIE, cookie),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, CliError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(self.auth.0.clone(), self.auth.1.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| CliError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(CliError::Refused {
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// Runs an operator command against the shop at `target.url`.
pub async fn run(command: Command, email: &str, password: &str) -> Result<(), CliError> {
    use reqwest::Method;
    match command {
        Command::Serve => Ok(()),
        Command::Status(target) => {
            let client = Client::connect(&target, email, password).await?;
            print(
                &client
                    .call(Method::GET, "/api/analytics/sync-status", None)
                    .await?,
            );
            Ok(())
        }
        Command::Rebuild {
            read_model,
            no_wait,
            target,
        } => {
            let client = Client::connect(&target, email, password).await?;
            let started = client
                .call(
                    Method::POST,
                    &format!("/api/admin/read-models/{read_model}/rebuild"),
                    None,
                )
                .await?;
            let generation = started["generation"].as_u64().unwrap_or(0);
            println!("rebuilding {read_model} into generation {generation}");
            if no_wait {
                return Ok(());
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let models = client
                    .call(Method::GET, "/api/admin/read-models", None)
                    .await?;
                let progress = models
                    .as_array()
                    .and_then(|all| all.iter().find(|m| m["name"] == read_model.as_str()))
                    .map(|m| m["rebuild"].clone())
                    .unwrap_or(Value::Null);
                if progress["generation"].as_u64() != Some(generation) {
                    continue;
                }
                let phase = progress["phase"].as_str().unwrap_or("");
                println!(
                    "{phase}: {} / {} events, {:.0} events/s, ETA {}",
                    progress["done"],
                    progress["total"],
                    progress["eventsPerSecond"].as_f64().unwrap_or(0.0),
                    progress["etaSeconds"]
                        .as_f64()
                        .map_or("-".to_owned(), |s| format!("{s:.0} s"))
                );
                if phase == "switched" || phase.starts_with("failed") {
                    return Ok(());
                }
            }
        }
        Command::Reconcile {
            read_model,
            report_only,
            target,
        } => {
            let client = Client::connect(&target, email, password).await?;
            let body = serde_json::json!({ "repair": !report_only });
            print(
                &client
                    .call(
                        Method::POST,
                        &format!("/api/admin/read-models/{read_model}/reconcile"),
                        Some(body),
                    )
                    .await?,
            );
            Ok(())
        }
        Command::DeadLetters { action } => match action {
            DeadLetterAction::List { read_model, target } => {
                let client = Client::connect(&target, email, password).await?;
                let letters = client
                    .call(
                        Method::GET,
                        &format!("/api/admin/read-models/{read_model}/dead-letters"),
                        None,
                    )
                    .await?;
                for l in letters["deadLetters"].as_array().into_iter().flatten() {
                    println!(
                        "{:8} {} v{} {} — {}",
                        l["status"].as_str().unwrap_or(""),
                        l["aggregate"].as_str().unwrap_or(""),
                        l["aggregateVersion"],
                        l["eventType"].as_str().unwrap_or("-"),
                        l["reason"].as_str().unwrap_or("")
                    );
                }
                Ok(())
            }
            DeadLetterAction::Show {
                read_model,
                aggregate,
                target,
            } => {
                let client = Client::connect(&target, email, password).await?;
                print(
                    &client
                        .call(
                            Method::GET,
                            &format!("/api/admin/read-models/{read_model}/dead-letters?aggregate={aggregate}"),
                            None,
                        )
                        .await?,
                );
                Ok(())
            }
            DeadLetterAction::Retry {
                read_model,
                aggregate,
                target,
            } => {
                let client = Client::connect(&target, email, password).await?;
                let body = serde_json::json!({ "aggregate": aggregate });
                print(
                    &client
                        .call(
                            Method::POST,
                            &format!("/api/admin/read-models/{read_model}/dead-letters/retry"),
                            Some(body),
                        )
                        .await?,
                );
                Ok(())
            }
            DeadLetterAction::Skip {
                read_model,
                aggregate,
                version,
                target,
            } => {
                let client = Client::connect(&target, email, password).await?;
                let body = serde_json::json!({ "aggregate": aggregate, "version": version });
                print(
                    &client
                        .call(
                            Method::POST,
                            &format!("/api/admin/read-models/{read_model}/dead-letters/skip"),
                            Some(body),
                        )
                        .await?,
                );
                Ok(())
            }
        },
    }
}
