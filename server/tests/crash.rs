//! Crash test of the event pipeline, on the real server binary.
//!
//! At least 5,000 orders go through the JSON API from concurrent clients
//! while the server process (with its relay, projector and order process
//! manager) is killed with SIGKILL at random moments at least 20 times and
//! nats-server is killed (SIGKILL) and restarted at least 3 times. Clients
//! retry a failed request with the same `Idempotency-Key`, so a retry never
//! places an order twice. Afterwards the stores are opened directly and
//! checked: every accepted order is in the write model once and counted once
//! in the read model's stock, read-model figures equal an independent
//! recount from the write model, and the stream holds every logged event
//! exactly once.
//!
//! `VITRINE_CRASH_SEED=<n>` repeats a run's random choices (the timings of a
//! run cannot be repeated); `VITRINE_CRASH_KEEP=1` keeps the data directory
//! and the logs of the server and nats-server.

#![allow(clippy::unwrap_used)]

mod support;

use domain::inventory::Inventory;
use domain::order::{Order, OrderStatus};
use domain::product::Product;
use domain::{AggregateType, Money, StoredEvent};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::store::read::ReadStore;
use server::store::write::WriteStore;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// Order attempts, at least; the load goes on until the chaos minimums too.
const ORDERS: usize = 5_000;
const SERVER_KILLS: usize = 20;
const NATS_KILLS: usize = 3;
const CLIENTS: usize = 16;
const CUSTOMERS: usize = 16;
/// Products with stock no run can exhaust, and scarce ones that run out, so
/// some orders are refused for insufficient stock.
const PLENTIFUL: usize = 20;
const PLENTIFUL_STOCK: u32 = 100_000;
const SCARCE: usize = 2;
const SCARCE_STOCK: u32 = 30;
const PASSWORD: &str = "correct horse battery";
const ADMIN_EMAIL: &str = "crash-admin@vitrine.example";

// ---- a seeded random source -------------------------------------------------

/// xorshift64*: enough for choosing delays and orders, and repeatable by seed.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from + 1))
    }

    /// A stream of its own for one task, still determined by the seed.
    fn fork(&mut self) -> Rng {
        Rng::new(self.next())
    }
}

// ---- child processes --------------------------------------------------------

static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Seconds since the test started.
fn now() -> f64 {
    STARTED.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// A line of the run's timeline.
fn note(text: impl std::fmt::Display) {
    println!("[{:7.2} s] {text}", now());
}

/// The child gets SIGKILL if the test dies, so no run leaves a server or a
/// nats-server behind holding its port and files. (The signal follows the
/// spawning thread: a runtime worker, which lives as long as the test.)
fn die_with_test(command: &mut Command) {
    #[allow(unsafe_code)]
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs
    // between fork and exec here.
    unsafe {
        let parent = libc::getpid();
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

fn log_file(path: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .into()
}

/// The last lines of a log, for a failure message.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_port() -> u16 {
    server::nats_server::free_port().unwrap()
}

/// A nats-server with JetStream on disk, restartable on the same port and
/// store after a SIGKILL.
struct Nats {
    conf: PathBuf,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Nats {
    async fn start(dir: &Path) -> Nats {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let conf = dir.join("nats-server.conf");
        let log = dir.join("nats-server.log");
        // sync_interval always: an acknowledged publish survives kill -9.
        let text = format!(
            "listen: \"127.0.0.1:{port}\"\nserver_name: vitrine_crash\nlog_file: {log:?}\njetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n}}\n",
            log = log.display().to_string(),
            store = dir.join("jetstream").display().to_string(),
        );
        std::fs::write(&conf, text).unwrap();
        let mut nats = Nats {
            conf,
            log,
            port,
            child: None,
        };
        nats.spawn().await;
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts nats-server and waits until it accepts connections; retried
    /// while the killed one's port is still being released.
    async fn spawn(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut command = Command::new(support::nats_bin());
            command
                .arg("-c")
                .arg(&self.conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file(&self.log))
                .kill_on_drop(true);
            die_with_test(&mut command);
            let mut child = command.spawn().expect("nats-server (make tools)");
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_ok()
                {
                    note("nats-server up");
                    self.child = Some(child);
                    return;
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not come back on port {} within 60 s:\n{}",
                self.port,
                tail(&self.log, 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            note("nats-server killed");
        }
    }
}

/// The server binary, run as a child process on one data directory and one
/// address for its whole life, however often it is killed.
struct Server {
    exe: PathBuf,
    data: PathBuf,
    addr: SocketAddr,
    nats_url: String,
    log: PathBuf,
    child: Option<Child>,
    probe: reqwest::Client,
    /// Starts that failed (exited or never listened) and were retried.
    failed_starts: usize,
    lives: Vec<Life>,
}

/// One server process that listened: when, and when it was killed.
struct Life {
    pid: u32,
    listening: f64,
    killed: Option<f64>,
}

impl Server {
    fn spawn(&self) -> Child {
        // Main reads the Leptos settings from the workspace's Cargo.toml.
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut command = Command::new(&self.exe);
        command
            .current_dir(workspace)
            .env("VITRINE_DATA_DIR", &self.data)
            .env("VITRINE_NATS_URL", &self.nats_url)
            .env("VITRINE_ADDR", self.addr.to_string())
            .env("VITRINE_DEMO_DATA", "false")
            .env("VITRINE_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("VITRINE_ADMIN_PASSWORD", PASSWORD)
            // Messages a killed projector held come back after 5 s, not 30.
            .env("VITRINE_PIPELINE__ACK_WAIT_MS", "5000")
            .env_remove("VITRINE_CONFIG")
            .stdin(Stdio::null())
            .stdout(log_file(&self.log))
            .stderr(log_file(&self.log))
            .kill_on_drop(true);
        die_with_test(&mut command);
        command.spawn().expect("starting the server binary")
    }

    /// The server listens only once its stores are open and its relay and
    /// projectors run. (`/health` is no test of that under load: it can take
    /// seconds while its store pings queue behind the orders.)
    async fn listens(&self) -> bool {
        tokio::net::TcpStream::connect(self.addr).await.is_ok()
    }

    /// Starts the server and waits until it listens. A start fails while
    /// nats-server is down (the server sets up JetStream before it listens)
    /// or the killed process's files are being released: then it is
    /// started again.
    async fn start(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let mut child = self.spawn();
            let give_up = Instant::now() + Duration::from_secs(45);
            loop {
                if self.listens().await {
                    let pid = child.id().unwrap_or(0);
                    note(format!("server {pid} listens"));
                    self.lives.push(Life {
                        pid,
                        listening: now(),
                        killed: None,
                    });
                    self.child = Some(child);
                    return;
                }
                if let Some(status) = child.try_wait().unwrap() {
                    note(format!("server exited at start: {status}"));
                    break;
                }
                if Instant::now() > give_up {
                    note("server not listening after 45 s: killed");
                    child.start_kill().unwrap();
                    child.wait().await.unwrap();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.failed_starts += 1;
            assert!(
                Instant::now() < deadline,
                "the server did not start within 240 s; its log ends:\n{}",
                tail(&self.log, 40)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
            if let Some(life) = self.lives.last_mut() {
                life.killed = Some(now());
                note(format!("server {} killed", life.pid));
            }
        }
    }

    /// The process that was listening at `at` seconds.
    fn life_at(&self, at: f64) -> String {
        match self.lives.iter().rev().find(|l| l.listening <= at) {
            Some(l) => format!(
                "server {} (listening {:.2} s, killed {})",
                l.pid,
                l.listening,
                l.killed
                    .map_or_else(|| "never".to_owned(), |k| format!("{k:.2} s"))
            ),
            None => "no server".to_owned(),
        }
    }

    /// SIGTERM: the server finishes its requests and stops its tasks.
    async fn terminate(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().unwrap() as libc::pid_t;
        #[allow(unsafe_code)]
        // SAFETY: kill(2) on our own child, which has not been reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
            Ok(status) if status.as_ref().is_ok_and(|s| s.success()) => Ok(()),
            Ok(status) => Err(format!("the server exited with {status:?} after SIGTERM")),
            Err(_) => {
                child.start_kill().unwrap();
                child.wait().await.unwrap();
                Err("the server did not stop within 60 s of SIGTERM".to_owned())
            }
        }
    }
}

/// Prints the ends of the logs when the test fails.
struct LogsOnFailure(Vec<PathBuf>);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for path in &self.0 {
                eprintln!("---- {} ----\n{}", path.display(), tail(path, 60));
            }
            eprintln!("(VITRINE_CRASH_KEEP=1 keeps the data directory and the whole logs)");
        }
    }
}

// ---- figures ----------------------------------------------------------------

#[derive(Default)]
struct Figures {
    attempts: AtomicUsize,
    accepted: AtomicUsize,
    server_kills: AtomicUsize,
    nats_kills: AtomicUsize,
    /// Requests sent again after a connection error or a 503.
    retries: AtomicUsize,
}

impl Figures {
    fn chaos_done(&self) -> bool {
        self.server_kills.load(Ordering::SeqCst) >= SERVER_KILLS
            && self.nats_kills.load(Ordering::SeqCst) >= NATS_KILLS
    }
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    /// Order ids, with when their 201 arrived.
    accepted: Vec<(String, f64)>,
    refused: usize,
    /// Order attempts answered neither 201 nor 409 insufficient_stock.
    failed: usize,
    paid: usize,
    declined: usize,
    cancelled: usize,
    unexpected: Vec<String>,
}

// ---- the load ---------------------------------------------------------------

struct Load {
    http: reqwest::Client,
    base: String,
    seed: u64,
    /// Product ids: the plentiful ones, then the scarce ones.
    products: Vec<String>,
    figures: Arc<Figures>,
}

impl Load {
    /// One request, once: the status and JSON body, or `None` when the
    /// server could not be reached or answered 503.
    async fn try_send(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: &Value,
    ) -> Option<(StatusCode, Value)> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.ok()?;
        let status = response.status();
        let bytes = response.bytes().await.ok()?;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        Some((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// A command, sent again with the same key until the server answers:
    /// the key makes a repeat of a command that did commit return its first
    /// outcome instead of acting twice.
    async fn send(&self, path: &str, token: &str, key: &str, body: &Value) -> (StatusCode, Value) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Some(answer) = self.try_send(path, Some(token), Some(key), body).await {
                return answer;
            }
            self.figures.retries.fetch_add(1, Ordering::Relaxed);
            assert!(
                Instant::now() < deadline,
                "no answer to {path} (key {key}) within 240 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn order_body(&self, rng: &mut Rng) -> Value {
        let lines = 1 + rng.below(2) as usize;
        let mut chosen: Vec<usize> = Vec::new();
        // One order in twelve asks for a scarce product.
        if rng.below(12) == 0 {
            chosen.push(PLENTIFUL + rng.below(SCARCE as u64) as usize);
        }
        while chosen.len() < lines {
            let i = rng.below(PLENTIFUL as u64) as usize;
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        let items: Vec<Value> = chosen
            .iter()
            .map(|&i| json!({"productId": self.products[i], "quantity": 1 + rng.below(3)}))
            .collect();
        json!({ "items": items })
    }

    /// Places orders until the target is reached and the chaos has done its
    /// minimum; pays, declines and cancels some of them.
    async fn client(self: Arc<Self>, token: String, mut rng: Rng) -> Tally {
        let mut tally = Tally::default();
        loop {
            let n = self.figures.attempts.fetch_add(1, Ordering::SeqCst);
            if n >= ORDERS && self.figures.chaos_done() {
                return tally;
            }
            let key = format!("crash-{:x}-order-{n}", self.seed);
            let body = self.order_body(&mut rng);
            let (status, answer) = self.send("/api/orders", &token, &key, &body).await;
            let order = match status {
                StatusCode::CREATED => answer["orderId"].as_str().unwrap().to_owned(),
                StatusCode::CONFLICT if answer["error"] == "insufficient_stock" => {
                    tally.refused += 1;
                    continue;
                }
                _ => {
                    tally.failed += 1;
                    tally
                        .unexpected
                        .push(format!("order {key}: {status} {answer}"));
                    continue;
                }
            };
            tally.accepted.push((order.clone(), now()));
            self.figures.accepted.fetch_add(1, Ordering::Relaxed);
            // Paid orders are confirmed and declined ones cancelled by the
            // process manager; some are cancelled by their customer.
            let roll = rng.below(100);
            let mut steps: Vec<(&str, Value)> = Vec::new();
            if roll < 20 {
                steps.push(("pay", json!({"paymentMethod": "card"})));
                tally.paid += 1;
            } else if roll < 25 {
                steps.push(("pay", json!({"paymentMethod": "card-declined"})));
                tally.declined += 1;
            }
            if roll < 3 || (25..31).contains(&roll) {
                steps.push(("cancel", json!({"reason": "changed my mind"})));
                tally.cancelled += 1;
            }
            for (action, body) in steps {
                let key = format!("crash-{:x}-order-{n}-{action}", self.seed);
                let path = format!("/api/orders/{order}/{action}");
                let (status, answer) = self.send(&path, &token, &key, &body).await;
                if status != StatusCode::OK {
                    tally
                        .unexpected
                        .push(format!("{action} {order} ({key}): {status} {answer}"));
                }
            }
        }
    }
}

/// Signs the admin in, creates the catalog and the customers; returns one
/// bearer token per customer.
async fn set_up(load: &mut Load) -> Vec<String> {
    let login = load
        .http
        .post(format!("{}/api/auth/login", load.base))
        .json(&json!({"email": ADMIN_EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let tokens = load
        .http
        .post(format!("{}/api/auth/tokens", load.base))
        .header(reqwest::header::COOKIE, cookie)
        .json(&json!({"email": ADMIN_EMAIL, "label": "crash test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), StatusCode::CREATED);
    let admin: Value = tokens.json().await.unwrap();
    let admin = admin["token"].as_str().unwrap().to_owned();

    for i in 0..PLENTIFUL + SCARCE {
        let scarce = i >= PLENTIFUL;
        let body = json!({
            "name": format!("Crash item {i}"),
            "category": "Test",
            "price": 10.5 + i as f64,
            "stock": if scarce { SCARCE_STOCK } else { PLENTIFUL_STOCK },
        });
        let key = format!("crash-{:x}-product-{i}", load.seed);
        let (status, receipt) = load.send("/api/products", &admin, &key, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        let id = receipt["productId"].as_str().unwrap().to_owned();
        load.products.push(id);
    }

    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        let email = format!("customer-{i}-{:x}@example.com", load.seed);
        let body = json!({"name": format!("Customer {i}"), "email": email, "password": PASSWORD});
        let (status, answer) = load
            .try_send("/api/auth/signup", None, None, &body)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let body = json!({"email": email, "label": "crash test"});
        let (status, answer) = load
            .try_send("/api/auth/tokens", Some(&admin), None, &body)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        customers.push(answer["token"].as_str().unwrap().to_owned());
    }
    customers
}

// ---- chaos ------------------------------------------------------------------

/// Kills the server at random moments until the load is over; returns it
/// running. The first kills come 0.5–3 s after it is back, mostly while it
/// is still recovering from the last one; later ones 2–10 s after, so it also
/// dies under steady load with longer queues (and the load gets done).
async fn crash_server(
    mut server: Server,
    mut rng: Rng,
    load_over: CancellationToken,
    figures: Arc<Figures>,
) -> Server {
    loop {
        let delay = if figures.server_kills.load(Ordering::SeqCst) < SERVER_KILLS {
            rng.millis(500, 3_000)
        } else {
            rng.millis(2_000, 10_000)
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = load_over.cancelled() => return server,
        }
        server.kill().await;
        figures.server_kills.fetch_add(1, Ordering::SeqCst);
        server.start().await;
    }
}

/// Kills nats-server every 10–25 s, leaves it down for up to 2.5 s (the
/// outbox holds the commands meanwhile), restarts it; returns it running.
async fn crash_nats(
    mut nats: Nats,
    mut rng: Rng,
    load_over: CancellationToken,
    figures: Arc<Figures>,
) -> Nats {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(rng.millis(10_000, 25_000)) => {}
            _ = load_over.cancelled() => return nats,
        }
        nats.kill().await;
        figures.nats_kills.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(rng.millis(200, 2_500)).await;
        nats.spawn().await;
    }
}

// ---- waiting for the pipeline -----------------------------------------------

/// Waits until the relay has nothing left, every durable consumer has
/// nothing pending or unacknowledged, and the stream has not grown for 3 s
/// (the process manager's own commands add events after the load); returns
/// how long that took.
async fn wait_until_drained(server: &Server, events_stream: &str) -> Result<f64, String> {
    let client = async_nats::connect(&server.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(events_stream).await.unwrap();
    let started = Instant::now();
    let mut last_sequence = 0;
    let mut quiet_polls = 0;
    loop {
        let health: Value = match server
            .probe
            .get(format!("http://{}/health", server.addr))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let mut drained =
            health["status"] == "ok" && health["checks"]["relay"]["outboxBacklog"] == json!(0);
        let mut pending = Vec::new();
        // Every durable consumer: each read model's partitions and the
        // order process manager.
        let consumers: Vec<String> = stream
            .consumer_names()
            .filter_map(|n| futures::future::ready(n.ok()))
            .collect()
            .await;
        for name in &consumers {
            match stream.consumer_info(name).await {
                Ok(info) => {
                    drained &= info.num_pending == 0 && info.num_ack_pending == 0;
                    pending.push(format!(
                        "{name}: {} pending, {} unacked",
                        info.num_pending, info.num_ack_pending
                    ));
                }
                Err(e) => {
                    drained = false;
                    pending.push(format!("{name}: {e}"));
                }
            }
        }
        let sequence = stream.info().await.unwrap().state.last_sequence;
        drained &= sequence == last_sequence;
        last_sequence = sequence;
        quiet_polls = if drained { quiet_polls + 1 } else { 0 };
        if quiet_polls >= 6 {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!(
                "the pipeline did not drain within 300 s: health {health}; {}; stream at {sequence}",
                pending.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// ---- the checks -------------------------------------------------------------

/// Orders of the write model by id (default rows for ids it lacks).
async fn load_orders(write: &WriteStore, ids: &BTreeSet<String>) -> BTreeMap<String, Order> {
    let ids: Vec<String> = ids.iter().cloned().collect();
    let mut orders = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let loaded: HashMap<String, Order> =
            write.load_many(AggregateType::Order, chunk).await.unwrap();
        orders.extend(loaded);
    }
    orders
}

fn first<T: std::fmt::Debug>(items: &[T]) -> String {
    let shown: Vec<String> = items.iter().take(10).map(|i| format!("{i:?}")).collect();
    let more = items.len().saturating_sub(10);
    match more {
        0 => shown.join("\n  "),
        n => format!("{}\n  … and {n} more", shown.join("\n  ")),
    }
}

/// Every accepted order is in the write model, and nothing else is (a retry
/// never placed a second order); the process manager settled every payment.
async fn check_orders(
    write: &WriteStore,
    accepted: &BTreeMap<String, f64>,
    server: &Server,
) -> Vec<String> {
    let ids: BTreeSet<String> = accepted.keys().cloned().collect();
    let orders = load_orders(write, &ids).await;
    let mut failures = Vec::new();
    let missing: Vec<String> = orders
        .iter()
        .filter(|(_, o)| o.version == 0)
        .map(|(id, _)| {
            let at = accepted[id];
            format!("{id}: 201 at {at:.2} s from {}", server.life_at(at))
        })
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "{} accepted orders (201 received) are not in the write model:\n  {}",
            missing.len(),
            first(&missing)
        ));
    }
    let count = write.count(AggregateType::Order).await.unwrap();
    if count != (ids.len() - missing.len()) as u64 {
        failures.push(format!(
            "the write model has {count} orders; {} were accepted, {} of them are missing",
            ids.len(),
            missing.len()
        ));
    }
    // A paid order left unconfirmed, or a declined one left holding stock,
    // is an order event the process manager never handled.
    let unsettled: Vec<(&String, OrderStatus)> = orders
        .iter()
        .filter(|(_, o)| matches!(o.status, OrderStatus::Paid | OrderStatus::PaymentDeclined))
        .map(|(id, o)| (id, o.status))
        .collect();
    if !unsettled.is_empty() {
        failures.push(format!(
            "{} orders were not settled by the process manager:\n  {}",
            unsettled.len(),
            first(&unsettled)
        ));
    }
    failures
}

/// Every read model against the write model and against an independent
/// recount from the accepted orders' rows. Today one read model, the product
/// view: its stock and versions. A read model added later gets its checks
/// here.
async fn assert_read_models_match_write_model(
    write: &WriteStore,
    read: &ReadStore,
    accepted: &BTreeSet<String>,
) {
    let orders = load_orders(write, accepted).await;
    // Units each product has out in orders that still hold stock, and the
    // number of inventory events the orders caused (a reservation per line,
    // a release per line of a cancelled order).
    let mut held: HashMap<String, i64> = HashMap::new();
    let mut inventory_events: HashMap<String, i64> = HashMap::new();
    for order in orders.values() {
        let cancelled = order.status == OrderStatus::Cancelled;
        for line in &order.lines {
            let product = line.product_id.to_string();
            *inventory_events.entry(product.clone()).or_default() += 1 + i64::from(cancelled);
            if !cancelled {
                *held.entry(product).or_default() += i64::from(line.quantity);
            }
        }
    }

    let views = read.all_product_views().await.unwrap();
    assert_eq!(
        views.len() as u64,
        write.count(AggregateType::Product).await.unwrap(),
        "product views and products differ in number"
    );
    let mut problems = Vec::new();
    let (mut read_total, mut write_total, mut recount_total) = (0i64, 0i64, 0i64);
    for view in &views {
        let id = view.product_id.to_string();
        let product: Product = write.load(AggregateType::Product, &id).await.unwrap();
        let stock: Inventory = write.load(AggregateType::Inventory, &id).await.unwrap();
        // The initial stock, from the first event of the product's inventory.
        let first = write
            .events_of(AggregateType::Inventory, &id, 1, 1)
            .await
            .unwrap();
        let initial = first[0].payload["available"].as_i64().unwrap();
        let held = held.get(&id).copied().unwrap_or(0);
        let expected_stock = initial - held;
        let expected_version = 1 + inventory_events.get(&id).copied().unwrap_or(0);
        read_total += i64::from(view.stock);
        write_total += i64::from(stock.available);
        recount_total += expected_stock;
        let mut check = |what: &str, read: i64, write: i64, recount: i64| {
            if read != write || write != recount {
                problems.push(format!(
                    "product {id} {what}: read model {read}, write model {write}, recount {recount}"
                ));
            }
        };
        check(
            "stock",
            i64::from(view.stock),
            i64::from(stock.available),
            expected_stock,
        );
        check(
            "inventory version",
            view.inventory_version as i64,
            stock.version as i64,
            expected_version,
        );
        check("reserved units", held, i64::from(stock.reserved), held);
        let version = product.version as i64;
        check("version", view.version as i64, version, version);
    }
    // Order history: one entry per order of the write model, each accepted
    // order there once, at its order's version and status; totals recounted.
    let entries = read.all_order_views().await.unwrap();
    let by_id: HashMap<String, &domain::views::OrderView> = entries
        .iter()
        .map(|v| (v.order_id.to_string(), v))
        .collect();
    assert_eq!(
        by_id.len(),
        entries.len(),
        "an order twice in the order history"
    );
    assert_eq!(
        entries.len() as u64,
        write.count(AggregateType::Order).await.unwrap(),
        "order history entries and orders differ in number"
    );
    let (mut read_sum, mut write_sum) = (0i64, 0i64);
    for (id, order) in &orders {
        match by_id.get(id) {
            None => problems.push(format!("accepted order {id} is not in the order history")),
            Some(v) => {
                // The write model keeps what stays paid (refunds taken off);
                // the history shows what was taken and what was given back.
                let net_paid = Money::from_minor(v.paid.minor() - v.refunded.minor());
                if (v.version, v.status, v.total, net_paid)
                    != (order.version, order.status, order.total, order.paid)
                {
                    problems.push(format!(
                        "order {id}: history has v{} {:?} total {:?} net paid {:?}, write model v{} {:?} total {:?} paid {:?}",
                        v.version, v.status, v.total, net_paid, order.version, order.status, order.total, order.paid
                    ));
                }
                if v.timeline.len() as u64 != v.version {
                    problems.push(format!(
                        "order {id}: {} timeline steps for {} events",
                        v.timeline.len(),
                        v.version
                    ));
                }
                read_sum += v.total.minor();
                write_sum += order.total.minor();
            }
        }
    }
    assert!(
        problems.is_empty(),
        "read models differ from the write model:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        (read_total, write_total),
        (recount_total, recount_total),
        "total stock: (read model, write model) vs the recount"
    );
    assert_eq!(
        read_sum, write_sum,
        "total of accepted orders: order history vs write model"
    );
}

/// Every message of the events stream, in stream order: its sequence, its
/// `Nats-Msg-Id` and its event.
async fn read_stream(nats_url: &str, name: &str) -> Vec<(u64, String, StoredEvent)> {
    use async_nats::jetstream::consumer::{pull, DeliverPolicy};
    let client = async_nats::connect(nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(name).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    if last == 0 {
        return out;
    }
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("reading the stream stalled")
            .expect("the stream ended early")
            .unwrap();
        let sequence = message.info().unwrap().stream_sequence;
        let msg_id = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        let event: StoredEvent = serde_json::from_slice(&message.payload)
            .unwrap_or_else(|e| panic!("stream message {sequence} is not an event: {e}"));
        out.push((sequence, msg_id, event));
        if sequence >= last {
            return out;
        }
    }
}

/// The stream holds every event of the log exactly once, and nothing else.
fn check_stream_against_log(log: &[String], stream: &[(u64, String, StoredEvent)]) -> Vec<String> {
    let mut failures = Vec::new();
    let log_set: BTreeSet<&String> = log.iter().collect();
    if log_set.len() != log.len() {
        failures.push("the event log repeats an event id".to_owned());
    }
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    let mut mislabelled = Vec::new();
    for (sequence, msg_id, event) in stream {
        let id = event.event_id.to_string();
        if *msg_id != id {
            mislabelled.push(format!("#{sequence}: Nats-Msg-Id {msg_id:?}, event {id}"));
        }
        seen.entry(id).or_default().push(*sequence);
    }
    let duplicated: Vec<(&String, &Vec<u64>)> = seen.iter().filter(|(_, s)| s.len() > 1).collect();
    let missing: Vec<&&String> = log_set
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()))
        .collect();
    let foreign: Vec<&String> = seen.keys().filter(|id| !log_set.contains(id)).collect();
    let summary = format!("{} events logged, {} messages", log.len(), stream.len());
    for (what, list) in [
        ("logged events missing from the stream", first(&missing)),
        (
            "events in the stream more than once (stream sequences)",
            first(&duplicated),
        ),
        (
            "stream messages whose event is not in the log",
            first(&foreign),
        ),
        (
            "messages whose Nats-Msg-Id is not their event id",
            first(&mislabelled),
        ),
    ] {
        if !list.is_empty() {
            failures.push(format!("{what} ({summary}):\n  {list}"));
        }
    }
    failures
}

/// One `OrderPlaced` per accepted order, none for any other order.
fn check_placed_once(
    stream: &[(u64, String, StoredEvent)],
    accepted: &BTreeMap<String, f64>,
) -> Vec<String> {
    let mut placed: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, event) in stream {
        if event.event_type == "OrderPlaced" {
            *placed.entry(event.aggregate_id.as_str()).or_default() += 1;
        }
    }
    let wrong: Vec<(&str, usize)> = accepted
        .keys()
        .map(|id| (id.as_str(), placed.get(id.as_str()).copied().unwrap_or(0)))
        .filter(|(_, n)| *n != 1)
        .chain(
            placed
                .iter()
                .filter(|(id, _)| !accepted.contains_key(**id))
                .map(|(id, n)| (*id, *n)),
        )
        .collect();
    if wrong.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{} orders not placed exactly once in the stream (order, OrderPlaced events):\n  {}",
        wrong.len(),
        first(&wrong)
    )]
}

/// How often the server's log reports a SurrealKV write-ahead log repaired
/// at start (a torn tail after a kill).
fn wal_repairs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            // Published SurrealKV's repair, and the vendored fix's cut of a
            // torn tail (vendor/README.md).
            l.contains("Stopped repair at corruption") || l.contains("Truncating torn tail")
        })
        .count()
}

// ---- the test ---------------------------------------------------------------

// In the default run (about 2 minutes on 2 cores); `make test-crash` runs
// it alone, with its progress. It used to be left out: published SurrealKV
// 0.21.4 lost commits synced after a torn write-ahead log, so about one run
// in four lost accepted orders. The vendored fix (vendor/README.md) and
// `torn_wal.rs` cover that now.
#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_order_survives_kill_9_of_server_and_nats() {
    let started = *STARTED.get_or_init(Instant::now);
    let seed = std::env::var("VITRINE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash test seed: {seed} (VITRINE_CRASH_SEED={seed} repeats its choices)");
    let mut rng = Rng::new(seed);

    let dir = tempfile::Builder::new()
        .prefix("vitrine-crash")
        .tempdir()
        .unwrap();
    let root = dir.path().canonicalize().unwrap();
    // VITRINE_CRASH_KEEP=1 keeps the data and logs for a post-mortem.
    let _dir = match std::env::var_os("VITRINE_CRASH_KEEP") {
        Some(_) => {
            println!("keeping {}", dir.keep().display());
            None
        }
        None => Some(dir),
    };
    // A link of its own: a build elsewhere may replace target/debug/vitrine
    // while this test restarts it.
    let exe = root.join("vitrine");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_vitrine"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_vitrine"), &exe).unwrap();
    }
    let server_log = root.join("server.log");
    let _logs = LogsOnFailure(vec![
        server_log.clone(),
        root.join("nats").join("nats-server.log"),
    ]);
    let events_stream = server::config::Settings::defaults()
        .unwrap()
        .nats
        .events_stream;

    let nats = Nats::start(&root.join("nats")).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut server = Server {
        exe,
        data: root.join("data"),
        addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
        nats_url: nats.url(),
        log: server_log.clone(),
        child: None,
        probe: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        failed_starts: 0,
        lives: Vec::new(),
    };
    server.start().await;

    let figures = Arc::new(Figures::default());
    let mut load = Load {
        http,
        base: format!("http://{}", server.addr),
        seed,
        products: Vec::new(),
        figures: figures.clone(),
    };
    let customers = set_up(&mut load).await;
    let load = Arc::new(load);
    let load_started = Instant::now();
    note("catalog and customers set up; load and chaos start");

    let load_over = CancellationToken::new();
    let server_chaos = tokio::spawn(crash_server(
        server,
        rng.fork(),
        load_over.clone(),
        figures.clone(),
    ));
    let nats_chaos = tokio::spawn(crash_nats(
        nats,
        rng.fork(),
        load_over.clone(),
        figures.clone(),
    ));
    let progress = tokio::spawn({
        let (figures, load_over) = (figures.clone(), load_over.clone());
        async move {
            while !load_over.is_cancelled() {
                tokio::time::sleep(Duration::from_secs(15)).await;
                note(format!(
                    "{} orders attempted, {} accepted; {} server and {} nats-server kills",
                    figures.attempts.load(Ordering::SeqCst),
                    figures.accepted.load(Ordering::SeqCst),
                    figures.server_kills.load(Ordering::SeqCst),
                    figures.nats_kills.load(Ordering::SeqCst),
                ));
            }
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let token = customers[i % customers.len()].clone();
            tokio::spawn(load.clone().client(token, rng.fork()))
        })
        .collect();
    let mut tally = Tally::default();
    for client in clients {
        let t = client.await.unwrap();
        tally.accepted.extend(t.accepted);
        tally.refused += t.refused;
        tally.failed += t.failed;
        tally.paid += t.paid;
        tally.declined += t.declined;
        tally.cancelled += t.cancelled;
        tally.unexpected.extend(t.unexpected);
    }
    let load_time = load_started.elapsed().as_secs_f64();
    load_over.cancel();
    let mut server = server_chaos.await.unwrap();
    let nats = nats_chaos.await.unwrap();
    progress.abort();
    note("load over");

    let mut failures = Vec::new();
    if !tally.unexpected.is_empty() {
        failures.push(format!(
            "{} unexpected answers:\n  {}",
            tally.unexpected.len(),
            first(&tally.unexpected)
        ));
    }
    let accepted: BTreeMap<String, f64> = tally.accepted.iter().cloned().collect();
    if accepted.len() != tally.accepted.len() {
        failures.push("an order id was returned for two attempts".to_owned());
    }

    // One last crash; then the restarted pipeline catches up and is stopped
    // cleanly, so the stores can be opened here.
    server.kill().await;
    figures.server_kills.fetch_add(1, Ordering::SeqCst);
    server.start().await;
    let drain_time = match wait_until_drained(&server, &events_stream).await {
        Ok(secs) => secs,
        Err(e) => {
            failures.push(e);
            f64::NAN
        }
    };
    note(format!("pipeline drained in {drain_time:.1} s"));
    if let Err(e) = server.terminate().await {
        failures.push(e);
    }

    let data = &server.data;
    let connect = |name: &'static str| async move {
        let url = format!("surrealkv://{}", data.join(name).display());
        server::store::connect(&url, name, None, None)
            .await
            .unwrap()
    };
    let write = WriteStore::open(connect("write").await).await.unwrap();
    let read = ReadStore::open(connect("read").await).await.unwrap();
    read.use_active_generations(&[
        server::store::read::PRODUCT_VIEWS,
        server::store::read::ORDER_HISTORY,
    ])
    .await
    .unwrap();
    let outbox = write.outbox_len().await.unwrap();
    if outbox != 0 {
        failures.push(format!("{outbox} events left unpublished in the outbox"));
    }
    failures.extend(check_orders(&write, &accepted, &server).await);
    let log = write.all_event_ids().await.unwrap();
    let stream = read_stream(&nats.url(), &events_stream).await;
    failures.extend(check_stream_against_log(&log, &stream));
    failures.extend(check_placed_once(&stream, &accepted));

    let repairs = wal_repairs(&server_log);
    println!(
        "seed {seed}: orders attempted {}, accepted {}, refused for stock {}; paid {}, declined {}, cancelled {}",
        tally.accepted.len() + tally.refused + tally.failed,
        accepted.len(),
        tally.refused,
        tally.paid,
        tally.declined,
        tally.cancelled
    );
    println!(
        "server SIGKILLs {} (starts retried {}, SurrealKV WAL repairs logged {repairs}), nats-server SIGKILLs {}, requests retried {}",
        figures.server_kills.load(Ordering::SeqCst),
        server.failed_starts,
        figures.nats_kills.load(Ordering::SeqCst),
        figures.retries.load(Ordering::SeqCst)
    );
    println!(
        "events in the log {}, in the stream {}; load {load_time:.1} s, drain {drain_time:.1} s, total {:.1} s",
        log.len(),
        stream.len(),
        started.elapsed().as_secs_f64()
    );
    for failure in &failures {
        eprintln!("FAILED: {failure}");
    }

    let accepted_ids: BTreeSet<String> = accepted.keys().cloned().collect();
    assert_read_models_match_write_model(&write, &read, &accepted_ids).await;
    assert!(
        failures.is_empty(),
        "{} checks failed (seed {seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
    drop(nats);
}
