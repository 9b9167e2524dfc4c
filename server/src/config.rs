//! Runtime settings: defaults from the Leptos.toml built into the binary,
//! overridden by a Leptos.toml on disk, then by `VITRINE_*` variables.

use domain::product::PricePolicy;
use domain::Money;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const BUILT_IN: &str = include_str!("../../Leptos.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid settings: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("shop.max_price {0}")]
    MaxPrice(domain::MoneyError),
    #[error("shop.min_order_total {0}")]
    MinOrderTotal(domain::MoneyError),
    #[error("shop.time_zone {0:?} must be UTC or a UTC offset such as +02:00")]
    TimeZone(String),
}

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    /// From `VITRINE_ADDR`; otherwise Leptos' site address.
    #[serde(default)]
    pub addr: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub demo_data: bool,
    #[serde(default)]
    pub nats_url: Option<String>,
    pub nats_server_bin: PathBuf,
    #[serde(default)]
    pub write_db: Option<String>,
    #[serde(default)]
    pub read_db: Option<String>,
    #[serde(default)]
    pub db_user: Option<String>,
    #[serde(default)]
    pub db_pass: Option<String>,
    /// The admin account created on first start (VITRINE_ADMIN_EMAIL,
    /// VITRINE_ADMIN_PASSWORD).
    pub admin_email: String,
    pub admin_password: String,
    pub shop: ShopSettings,
    pub accounts: AccountSettings,
    pub nats: NatsSettings,
    pub pipeline: PipelineSettings,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ShopSettings {
    pub currency: String,
    pub max_price: String,
    pub max_price_cut_percent: u8,
    pub min_order_total: String,
    pub max_order_lines: usize,
    pub max_order_quantity: u32,
    /// Orders not paid within this many minutes are cancelled and their
    /// stock released.
    pub unpaid_order_timeout_minutes: f64,
    /// The offset hourly sales are shown in: `UTC` or `+02:00`.
    #[serde(default = "utc")]
    pub time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}

#[derive(Clone, Debug, Deserialize)]
pub struct AccountSettings {
    pub session_ttl_hours: u64,
    /// Mark the session cookie `Secure` (serve over HTTPS when set).
    pub secure_cookies: bool,
}

impl AccountSettings {
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_hours * 3600)
    }
}

impl ShopSettings {
    pub fn unpaid_order_timeout(&self) -> Duration {
        Duration::from_secs_f64((self.unpaid_order_timeout_minutes * 60.0).max(0.0))
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct NatsSettings {
    pub sync_interval: String,
    pub events_stream: String,
    pub duplicate_window_secs: u64,
    pub live_stream: String,
    pub live_history: i64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PipelineSettings {
    pub relay_batch: usize,
    pub relay_scan_interval_ms: u64,
    pub projector_batch: usize,
    pub ack_wait_ms: u64,
    pub partitions: u16,
    pub max_attempts: u32,
    pub rebuild_batch: usize,
    pub reconcile_interval_ms: u64,
    pub read_your_writes_wait_ms: u64,
    pub kept_page_max_age_ms: u64,
    pub stall_after_ms: u64,
    pub order_sweep_interval_ms: u64,
}

impl PipelineSettings {
    pub fn relay_scan_interval(&self) -> Duration {
        Duration::from_millis(self.relay_scan_interval_ms)
    }
    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms)
    }
    pub fn read_your_writes_wait(&self) -> Duration {
        Duration::from_millis(self.read_your_writes_wait_ms)
    }
    pub fn kept_page_max_age(&self) -> Duration {
        Duration::from_millis(self.kept_page_max_age_ms)
    }
    pub fn order_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.order_sweep_interval_ms.max(10))
    }
    pub fn stall_after(&self) -> Duration {
        Duration::from_millis(self.stall_after_ms)
    }
    /// `None` when the periodic reconciliation is off.
    pub fn reconcile_interval(&self) -> Option<Duration> {
        (self.reconcile_interval_ms > 0).then(|| Duration::from_millis(self.reconcile_interval_ms))
    }
    pub fn projector(&self) -> crate::pipeline::projector::ProjectorSettings {
        crate::pipeline::projector::ProjectorSettings {
            batch: self.projector_batch.max(1),
            partitions: self.partitions.clamp(1, 64),
            max_attempts: self.max_attempts.max(1),
            ack_wait: self.ack_wait(),
            log_batch: self.rebuild_batch.max(1),
        }
    }
}

impl Settings {
    /// Built-in defaults, then `$VITRINE_CONFIG` or `./Leptos.toml`, then the environment.
    pub fn load() -> Result<Settings, ConfigError> {
        let file = std::env::var_os("VITRINE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("Leptos.toml"));
        Self::from_figment(
            Figment::new()
                .merge(Toml::string(BUILT_IN))
                .merge(Toml::file(file))
                .merge(Env::prefixed("VITRINE_").split("__")),
        )
    }

    /// Built-in defaults only, for tests that then set what they need.
    pub fn defaults() -> Result<Settings, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(BUILT_IN)))
    }

    fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.price_policy()?;
        settings.order_policy()?;
        Ok(settings)
    }

    pub fn price_policy(&self) -> Result<PricePolicy, ConfigError> {
        Ok(PricePolicy {
            max_price: Money::parse(&self.shop.max_price).map_err(ConfigError::MaxPrice)?,
            max_cut_percent: self.shop.max_price_cut_percent.min(100),
        })
    }

    pub fn order_policy(&self) -> Result<domain::order::OrderPolicy, ConfigError> {
        Ok(domain::order::OrderPolicy {
            min_total: Money::parse(&self.shop.min_order_total)
                .map_err(ConfigError::MinOrderTotal)?,
            max_lines: self.shop.max_order_lines,
            max_quantity: self.shop.max_order_quantity,
        })
    }

    /// The shop's time zone as a fixed offset from UTC.
    pub fn time_zone(&self) -> Result<time::UtcOffset, ConfigError> {
        let zone = self.shop.time_zone.trim();
        if zone.eq_ignore_ascii_case("utc") || zone == "Z" {
            return Ok(time::UtcOffset::UTC);
        }
        let format =
            time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
        time::UtcOffset::parse(zone, &format).map_err(|_| ConfigError::TimeZone(zone.to_owned()))
    }

    pub fn write_db_url(&self) -> String {
        self.write_db
            .clone()
            .unwrap_or_else(|| format!("surrealkv://{}", self.data_dir.join("write").display()))
    }

    pub fn read_db_url(&self) -> String {
        self.read_db
            .clone()
            .unwrap_or_else(|| format!("surrealkv://{}", self.data_dir.join("read").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_settings_parse() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.pipeline.projector_batch, 256);
        assert_eq!(
            s.price_policy().unwrap().max_price,
            Money::from_minor(100_000_000)
        );
        assert!(s.nats_url.is_none());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn environment_overrides_nested_keys() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("VITRINE_PIPELINE__RELAY_BATCH", "7");
            jail.set_env("VITRINE_NATS_URL", "nats://127.0.0.1:1");
            jail.set_env("VITRINE_ADDR", "127.0.0.1:4000");
            let s = Settings::load().map_err(|e| e.to_string())?;
            assert_eq!(s.pipeline.relay_batch, 7);
            assert_eq!(s.nats_url.as_deref(), Some("nats://127.0.0.1:1"));
            assert_eq!(s.addr, Some("127.0.0.1:4000".parse().unwrap()));
            Ok(())
        });
    }
}

#[cfg(test)]
mod time_zone_tests {
    use super::*;

    #[test]
    fn the_shop_time_zone_is_utc_or_a_fixed_offset() {
        let mut s = Settings::defaults().unwrap();
        assert_eq!(s.time_zone().unwrap(), time::UtcOffset::UTC);
        s.shop.time_zone = "+05:30".into();
        assert_eq!(s.time_zone().unwrap().whole_minutes(), 330);
        s.shop.time_zone = "Europe/Paris".into();
        assert!(matches!(s.time_zone(), Err(ConfigError::TimeZone(_))));
    }
}
