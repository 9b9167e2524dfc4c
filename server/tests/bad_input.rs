//! Bad input to every command endpoint of the JSON API, through the real
//! router on real parts: each case gets a specific 4xx, the JSON error code,
//! the field where there is one — and writes nothing (aggregate counts,
//! versions of every record the cases aim at, the outbox, and in the end the
//! event log of those records).
//!
//! The cases are tables: [`generic_cases`] sends the same malformed requests
//! (oversized, invalid UTF-8, `NaN`, wrong Content-Type, unknown fields, no
//! caller, another site) to every endpoint; the other tables send each
//! endpoint's own bad values.

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use domain::order::{Order, OrderStatus};
use domain::{AggregateType, SellerId};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use support::TestShop;
use tower::ServiceExt;

/// A valid UUID that names nothing.
const UNKNOWN: &str = "01a20165-0000-7000-8000-000000000000";
const NOT_UUID: &str = "not-a-uuid";
const JSON: &str = "application/json";
const PASSWORD: &str = "correct horse battery";

/// Who sends a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Admin,
    /// A customer with a delivered order of the house product.
    Ana,
    /// Another customer.
    Ben,
    /// A seller owning `sols`.
    Sol,
    /// Another seller.
    Tess,
    /// No credentials at all.
    Nobody,
    /// A live session cookie (from sign-up through the API).
    CleoCookie,
    /// A session cookie that names no session.
    StaleCookie,
    /// A bearer token that was never issued.
    BadBearer,
    /// An Authorization header of another scheme.
    Basic,
}

use Who::*;

/// One request and what it must get.
struct Case {
    who: Who,
    method: &'static str,
    uri: String,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    status: u16,
    error: &'static str,
    field: Option<String>,
}

trait IntoBody {
    fn into_body(self) -> Vec<u8>;
}

impl IntoBody for Value {
    fn into_body(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl IntoBody for &str {
    fn into_body(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl IntoBody for String {
    fn into_body(self) -> Vec<u8> {
        self.into_bytes()
    }
}

impl IntoBody for Vec<u8> {
    fn into_body(self) -> Vec<u8> {
        self
    }
}

/// A request with a JSON Content-Type when it has a body.
fn req(who: Who, method: &'static str, uri: impl Into<String>, body: impl IntoBody) -> Case {
    let body = body.into_body();
    Case {
        content_type: (!body.is_empty()).then_some(JSON),
        who,
        method,
        uri: uri.into(),
        body,
        headers: Vec::new(),
        status: 0,
        error: "",
        field: None,
    }
}

impl Case {
    /// The expected status, error code and field (`""`: no field).
    fn is(mut self, status: u16, error: &'static str, field: &str) -> Case {
        self.status = status;
        self.error = error;
        self.field = (!field.is_empty()).then(|| field.to_owned());
        self
    }
    fn bad(self, field: &str) -> Case {
        self.is(400, "invalid_request", field)
    }
    fn malformed(self) -> Case {
        self.is(400, "malformed_json", "")
    }
    fn not_found(self) -> Case {
        self.is(404, "not_found", "")
    }
    fn forbidden(self) -> Case {
        self.is(403, "forbidden", "")
    }
    fn invalid_state(self) -> Case {
        self.is(409, "invalid_state", "")
    }
    fn stale_version(self) -> Case {
        self.is(409, "conflict", "expectedVersion")
    }
    fn content_type(mut self, value: Option<&'static str>) -> Case {
        self.content_type = value;
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    fn label(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(100).collect();
        format!(
            "{:?} {} {} [{}] {body}",
            self.who,
            self.method,
            self.uri,
            self.content_type.unwrap_or("no content-type")
        )
    }
}

/// `base` with some fields replaced or added.
fn with(mut base: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// `base` without `field`.
fn without(mut base: Value, field: &str) -> Value {
    base.as_object_mut().unwrap().remove(field);
    base
}

/// `base` (JSON text) with `field` set to raw JSON text such as `NaN`.
fn raw(base: &Value, field: &str, raw_value: &str) -> String {
    let mut text = without(base.clone(), field).to_string();
    text.pop();
    let sep = if text.len() > 1 { "," } else { "" };
    format!("{text}{sep}\"{field}\":{raw_value}}}")
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

/// Everything the cases aim at.
struct Shop {
    t: TestShop,
    /// Built once: building the router (with the app's route list) per
    /// request would cost more than the request.
    router: axum::Router,
    admin: String,
    ana: String,
    ana_id: String,
    ben: String,
    ben_id: String,
    sol: String,
    sol_id: String,
    sol_email: String,
    tess: String,
    cleo_id: String,
    cleo_email: String,
    cleo_cookie: String,
    /// The house's product, 100 in stock, 25.00.
    house: String,
    /// Sol's product.
    sols: String,
    /// 5.00: one alone is below the minimum order.
    cheap: String,
    /// Deleted.
    gone: String,
    /// Ana's orders in three states.
    awaiting: String,
    confirmed: String,
    delivered: String,
}

/// What a wrongly accepted case would change.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Snapshot {
    counts: Vec<(AggregateType, u64)>,
    versions: BTreeMap<String, u64>,
    outbox: u64,
}

impl Snapshot {
    /// What changed, e.g. `order count 3 -> 4, inventory:… 4 -> 5`.
    fn diff(&self, after: &Snapshot) -> String {
        let mut changes = Vec::new();
        for ((aggregate, before), (_, now)) in self.counts.iter().zip(&after.counts) {
            if before != now {
                changes.push(format!("{} count {before} -> {now}", aggregate.as_str()));
            }
        }
        for (record, before) in &self.versions {
            let now = after.versions.get(record).copied().unwrap_or(0);
            if *before != now {
                changes.push(format!("{record} version {before} -> {now}"));
            }
        }
        if self.outbox != after.outbox {
            changes.push(format!("outbox {} -> {}", self.outbox, after.outbox));
        }
        changes.join(", ")
    }
}

impl Shop {
    async fn start(dir: &std::path::Path) -> Shop {
        let t = TestShop::start(dir).await;
        let router = t.shop.router();
        let admin = t.admin_token().await;
        let (ana_id, ana) = t.customer("Ana").await;
        let (ben_id, ben) = t.customer("Ben").await;

        let cleo_email = format!("cleo-{}@example.com", uuid::Uuid::now_v7().simple());
        let signup = json!({"name": "Cleo", "email": cleo_email, "password": PASSWORD});
        let (status, headers, body) = send_raw(
            &router,
            "POST",
            "/api/auth/signup",
            &[],
            Some(JSON),
            signup.into_body(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let cookie = headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let cookie = cookie::Cookie::parse(cookie).unwrap();
        let cleo_cookie = format!("{}={}", cookie.name(), cookie.value());
        let cleo_id = body["accountId"].as_str().unwrap().to_owned();

        let mut sellers = Vec::new();
        for name in ["Sol", "Tess"] {
            let email = format!("{}-{}@sellers.example", name, uuid::Uuid::now_v7().simple());
            let (status, body) = t
                .call(
                    "POST",
                    "/api/sellers",
                    Some(&admin),
                    Some(&json!({"name": name, "email": email, "password": PASSWORD}).to_string()),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let token = t.token_for(&email).await;
            sellers.push((body["sellerId"].as_str().unwrap().to_owned(), token, email));
        }
        let (_, tess, _) = sellers.pop().unwrap();
        let (sol_id, sol, sol_email) = sellers.pop().unwrap();

        let house = create_product(&t, &admin, "Lamp", 25.0, 100).await;
        let sols = create_product(&t, &sol, "Vase", 40.0, 10).await;
        let cheap = create_product(&t, &admin, "Pencil", 5.0, 100).await;
        let gone = create_product(&t, &admin, "Old lamp", 25.0, 10).await;
        let (status, body) = t
            .call(
                "DELETE",
                &format!("/api/products/{gone}"),
                Some(&admin),
                Some(r#"{"reason":"discontinued"}"#),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let awaiting = place(&t, &ana, &house).await;
        let confirmed = place(&t, &ana, &house).await;
        let delivered = place(&t, &ana, &house).await;
        for id in [&confirmed, &delivered] {
            let (status, body) = t
                .call("POST", &format!("/api/orders/{id}/pay"), Some(&ana), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for id in [&confirmed, &delivered] {
            wait_for_status(&t, id, OrderStatus::Confirmed).await;
        }
        for (action, body) in [
            ("ship", Some(r#"{"trackingNumber":"TRK-1"}"#)),
            ("deliver", None),
        ] {
            let (status, reply) = t
                .call(
                    "POST",
                    &format!("/api/orders/{delivered}/{action}"),
                    Some(&admin),
                    body,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{reply}");
        }

        // The relay drains the outbox: from here on it stays empty.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while t.shop.state.write.outbox_len().await.unwrap() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "outbox not drained");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Shop {
            t,
            router,
            admin,
            ana,
            ana_id,
            ben,
            ben_id,
            sol,
            sol_id,
            sol_email,
            tess,
            cleo_id,
            cleo_email,
            cleo_cookie,
            house,
            sols,
            cheap,
            gone,
            awaiting,
            confirmed,
            delivered,
        }
    }

    fn tracked(&self) -> Vec<(AggregateType, Vec<String>)> {
        let products = vec![
            self.house.clone(),
            self.sols.clone(),
            self.cheap.clone(),
            self.gone.clone(),
        ];
        vec![
            (AggregateType::Product, products.clone()),
            (AggregateType::Inventory, products),
            (
                AggregateType::Order,
                vec![
                    self.awaiting.clone(),
                    self.confirmed.clone(),
                    self.delivered.clone(),
                ],
            ),
            (
                AggregateType::Customer,
                vec![
                    self.ana_id.clone(),
                    self.ben_id.clone(),
                    self.cleo_id.clone(),
                ],
            ),
            (
                AggregateType::Seller,
                vec![self.sol_id.clone(), SellerId::HOUSE.to_string()],
            ),
        ]
    }

    async fn snapshot(&self) -> Snapshot {
        let write = &self.t.shop.state.write;
        // Independent reads, sent together.
        let counts = AggregateType::ALL
            .map(|aggregate| async move { (aggregate, write.count(aggregate).await.unwrap()) });
        let states = self
            .tracked()
            .into_iter()
            .map(|(aggregate, ids)| async move {
                let states = write.load_many::<Value>(aggregate, &ids).await.unwrap();
                states.into_iter().map(move |(id, state)| {
                    let version = state["version"].as_u64().unwrap_or(0);
                    (format!("{}:{id}", aggregate.as_str()), version)
                })
            });
        let (counts, states, outbox) = tokio::join!(
            futures::future::join_all(counts),
            futures::future::join_all(states),
            write.outbox_len()
        );
        Snapshot {
            counts,
            versions: states.into_iter().flatten().collect(),
            outbox: outbox.unwrap(),
        }
    }

    /// Every event of the tracked records, by record.
    async fn events(&self) -> BTreeMap<String, usize> {
        let write = &self.t.shop.state.write;
        let mut events = BTreeMap::new();
        for (aggregate, ids) in self.tracked() {
            for id in ids {
                let n = write
                    .events_of(aggregate, &id, 0, u64::MAX)
                    .await
                    .unwrap()
                    .len();
                events.insert(format!("{}:{id}", aggregate.as_str()), n);
            }
        }
        events
    }

    fn credentials(&self, who: Who) -> Vec<(&'static str, String)> {
        let bearer = |token: &str| vec![("authorization", format!("Bearer {token}"))];
        match who {
            Admin => bearer(&self.admin),
            Ana => bearer(&self.ana),
            Ben => bearer(&self.ben),
            Sol => bearer(&self.sol),
            Tess => bearer(&self.tess),
            Nobody => vec![],
            CleoCookie => vec![("cookie", self.cleo_cookie.clone())],
            StaleCookie => vec![("cookie", "vitrine_session=stale".into())],
            BadBearer => bearer("never-issued"),
            Basic => vec![("authorization", "Basic YWRtaW46YWRtaW4=".into())],
        }
    }

    async fn send(&self, case: &Case) -> (StatusCode, Value) {
        let mut headers = self.credentials(case.who);
        headers.extend(case.headers.iter().cloned());
        let (status, _, body) = send_raw(
            &self.router,
            case.method,
            &case.uri,
            &headers,
            case.content_type,
            case.body.clone(),
        )
        .await;
        (status, body)
    }

    /// Sends every case; fails listing each case that got the wrong answer
    /// or wrote anything.
    async fn run(&self, cases: Vec<Case>) {
        let events = self.events().await;
        let mut baseline = self.snapshot().await;
        let mut failures = Vec::new();
        for case in &cases {
            assert!(case.status >= 400, "{}: no expectation", case.label());
            let (status, body) = self.send(case).await;
            let mut problems = Vec::new();
            if status.as_u16() != case.status {
                problems.push(format!("status {status}, expected {}", case.status));
            }
            if body["error"] != json!(case.error) {
                problems.push(format!(
                    "error {}, expected {:?}",
                    body["error"], case.error
                ));
            }
            match &case.field {
                Some(field) if body["field"] != json!(field) => {
                    problems.push(format!("field {}, expected {field:?}", body["field"]))
                }
                None if body.get("field").is_some() => {
                    problems.push(format!("field {}, expected none", body["field"]))
                }
                _ => {}
            }
            if body["reason"].as_str().is_none_or(str::is_empty) {
                problems.push("no reason".into());
            }
            let now = self.snapshot().await;
            if now != baseline {
                problems.push(format!("WROTE: {}", baseline.diff(&now)));
                baseline = now;
            }
            if !problems.is_empty() {
                let answer: String = body.to_string().chars().take(300).collect();
                failures.push(format!(
                    "{}\n    {}\n    answer: {answer}",
                    case.label(),
                    problems.join("; ")
                ));
            }
        }
        let events_after = self.events().await;
        if events_after != events {
            failures.push(format!(
                "the event log changed: {events:?} -> {events_after:?}"
            ));
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

async fn send_raw(
    router: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, String)],
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn create_product(t: &TestShop, token: &str, name: &str, price: f64, stock: u32) -> String {
    let body = json!({"name": name, "category": "Home", "price": price, "stock": stock});
    let (status, receipt) = t
        .call(
            "POST",
            "/api/products",
            Some(token),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    receipt["productId"].as_str().unwrap().to_owned()
}

async fn place(t: &TestShop, token: &str, product: &str) -> String {
    let body = json!({"items": [{"productId": product, "quantity": 1}]});
    let (status, receipt) = t
        .call("POST", "/api/orders", Some(token), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    receipt["orderId"].as_str().unwrap().to_owned()
}

async fn wait_for_status(t: &TestShop, id: &str, status: OrderStatus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let order: Order = t
            .shop
            .state
            .write
            .load(AggregateType::Order, id)
            .await
            .unwrap();
        if order.status == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {id} is {:?}, not {status:?}",
            order.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- the tables ----------------------------------------------------------------

/// An endpoint and a body it would accept from `who`.
struct Endpoint {
    who: Who,
    method: &'static str,
    uri: String,
    valid: Value,
    /// Needs a caller (all but sign-up and login).
    authenticated: bool,
    /// An empty body means `{}` (order transitions).
    body_optional: bool,
}

fn endpoints(s: &Shop) -> Vec<Endpoint> {
    let ep = |who, method, uri: String, valid| Endpoint {
        who,
        method,
        uri,
        valid,
        authenticated: true,
        body_optional: false,
    };
    let product = format!("/api/products/{}", s.house);
    let order = |id: &str, action: &str| format!("/api/orders/{id}/{action}");
    let transition = |who, uri: String, valid| Endpoint {
        body_optional: true,
        ..ep(who, "POST", uri, valid)
    };
    vec![
        ep(
            Admin,
            "POST",
            "/api/products".into(),
            json!({"name": "A", "category": "B", "price": 12, "stock": 1}),
        ),
        ep(Admin, "PATCH", product.clone(), json!({"price": 20})),
        ep(Admin, "PATCH", product.clone(), json!({"name": "Lamp 2"})),
        ep(Admin, "DELETE", product.clone(), json!({"reason": "gone"})),
        ep(
            Admin,
            "POST",
            format!("{product}/stock"),
            json!({"delta": 1, "reason": "delivery"}),
        ),
        ep(
            Ana,
            "POST",
            format!("{product}/reviews"),
            json!({"rating": 5, "comment": "Great lamp"}),
        ),
        ep(
            Ana,
            "POST",
            "/api/orders".into(),
            json!({"items": [{"productId": s.house, "quantity": 1}]}),
        ),
        transition(
            Ana,
            order(&s.awaiting, "pay"),
            json!({"paymentMethod": "card"}),
        ),
        transition(Admin, order(&s.awaiting, "confirm"), json!({})),
        transition(
            Admin,
            order(&s.confirmed, "ship"),
            json!({"trackingNumber": "TRK-2"}),
        ),
        transition(Admin, order(&s.confirmed, "deliver"), json!({})),
        transition(
            Ana,
            order(&s.awaiting, "cancel"),
            json!({"reason": "changed my mind"}),
        ),
        transition(
            Ana,
            order(&s.delivered, "return"),
            json!({"reason": "broken"}),
        ),
        ep(
            Admin,
            "POST",
            "/api/sellers".into(),
            json!({"name": "S", "email": "new-seller@example.com", "password": PASSWORD}),
        ),
        ep(
            Admin,
            "POST",
            "/api/auth/tokens".into(),
            json!({"email": s.sol_email, "label": "ci"}),
        ),
        Endpoint {
            authenticated: false,
            ..ep(
                Nobody,
                "POST",
                "/api/auth/signup".into(),
                json!({"name": "Zed", "email": "zed@example.com", "password": PASSWORD}),
            )
        },
        Endpoint {
            authenticated: false,
            ..ep(
                Nobody,
                "POST",
                "/api/auth/login".into(),
                json!({"email": s.cleo_email, "password": PASSWORD}),
            )
        },
    ]
}

/// The same malformed requests, to every endpoint.
fn generic_cases(s: &Shop) -> Vec<Case> {
    let mut cases = Vec::new();
    for e in endpoints(s) {
        let (who, method, uri) = (e.who, e.method, e.uri.as_str());
        let valid = e.valid.to_string();
        let oversized = json!({"padding": long(70 * 1024)});
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(30_000), "]".repeat(30_000));
        cases.extend([
            req(who, method, uri, oversized).is(413, "payload_too_large", ""),
            req(who, method, uri, b"{\"reason\":\"\xff\xfe\"}".to_vec()).malformed(),
            req(who, method, uri, raw(&e.valid, "quantity", "NaN")).malformed(),
            req(who, method, uri, raw(&e.valid, "delta", "Infinity")).malformed(),
            req(who, method, uri, "[1,2]").malformed(),
            req(who, method, uri, r#"{"reason":"#).malformed(),
            // Valid JSON however deep: refused for its unknown field, no crash.
            req(who, method, uri, deep).bad("a"),
            req(who, method, uri, valid.clone())
                .content_type(Some("text/plain"))
                .is(415, "unsupported_media_type", ""),
            req(who, method, uri, valid.clone())
                .content_type(Some("application/x-www-form-urlencoded"))
                .is(415, "unsupported_media_type", ""),
            req(who, method, uri, valid.clone()).content_type(None).is(
                415,
                "unsupported_media_type",
                "",
            ),
            req(
                who,
                method,
                uri,
                with(e.valid.clone(), json!({"zzzUnknown": 1})),
            )
            .bad("zzzUnknown"),
            req(CleoCookie, method, uri, valid.clone())
                .header("origin", "https://evil.example")
                .header("host", "127.0.0.1:3000")
                .is(403, "cross_site_request", ""),
            req(CleoCookie, method, uri, valid.clone())
                .header("sec-fetch-site", "cross-site")
                .is(403, "cross_site_request", ""),
        ]);
        if !e.body_optional {
            cases.push(
                req(who, method, uri, "")
                    .content_type(Some(JSON))
                    .malformed(),
            );
        }
        if e.authenticated {
            for nobody in [Nobody, StaleCookie, BadBearer, Basic] {
                cases.push(req(nobody, method, uri, valid.clone()).is(401, "unauthenticated", ""));
            }
        }
    }
    // Logout reads no body; from another site it is still refused.
    for header in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        cases.push(
            req(CleoCookie, "POST", "/api/auth/logout", "")
                .header(header.0, header.1)
                .header("host", "127.0.0.1:3000")
                .is(403, "cross_site_request", ""),
        );
    }
    cases
}

fn product_cases(s: &Shop) -> Vec<Case> {
    let new = json!({"name": "A", "category": "B", "price": 12, "stock": 1});
    let create = |who, body: Value| req(who, "POST", "/api/products", body);
    let create_raw = |field, value| req(Admin, "POST", "/api/products", raw(&new, field, value));
    let shipping = |option: Value| with(new.clone(), json!({"shippingOptions": [option]}));
    let option = json!({"name": "Standard", "price": 4.99, "days": 3});
    let house = format!("/api/products/{}", s.house);
    let sols = format!("/api/products/{}", s.sols);
    let unknown = format!("/api/products/{UNKNOWN}");
    let not_uuid = format!("/api/products/{NOT_UUID}");
    let gone = format!("/api/products/{}", s.gone);
    let patch = |who, uri: &str, body: Value| req(who, "PATCH", uri.to_owned(), body);
    let delete = |who, uri: &str, body: Value| req(who, "DELETE", uri.to_owned(), body);
    let price_raw = |value| {
        req(
            Admin,
            "PATCH",
            house.clone(),
            raw(&json!({}), "price", value),
        )
    };
    vec![
        // POST /api/products
        create(Admin, with(new.clone(), json!({"price": 19.999}))).bad("price"),
        create(Admin, with(new.clone(), json!({"price": -1}))).bad("price"),
        create(Admin, with(new.clone(), json!({"price": 0}))).bad("price"),
        create_raw("price", "1e30").bad("price"),
        create_raw("price", "9999999999999").bad("price"),
        create_raw("price", "NaN").malformed(),
        create(Admin, with(new.clone(), json!({"price": "9.99"}))).bad("price"),
        create(Admin, with(new.clone(), json!({"price": null}))).bad("price"),
        create(Admin, with(new.clone(), json!({"stock": -1}))).bad("stock"),
        create(Admin, with(new.clone(), json!({"stock": 1.5}))).bad("stock"),
        create_raw("stock", "1e30").bad("stock"),
        create_raw("stock", "9999999999999").bad("stock"),
        create(Admin, with(new.clone(), json!({"stock": 1_000_001}))).bad("stock"),
        create(Admin, with(new.clone(), json!({"stock": "5"}))).bad("stock"),
        create_raw("stock", "-NaN").malformed(),
        create(Admin, without(new.clone(), "name")).bad("name"),
        create(Admin, without(new.clone(), "category")).bad("category"),
        create(Admin, without(new.clone(), "price")).bad("price"),
        create(Admin, without(new.clone(), "stock")).bad("stock"),
        create(Admin, with(new.clone(), json!({"name": " "}))).bad("name"),
        create(Admin, with(new.clone(), json!({"name": 42}))).bad("name"),
        create(Admin, with(new.clone(), json!({"name": long(201)}))).bad("name"),
        create(Admin, with(new.clone(), json!({"name": "a\nb"}))).bad("name"),
        create(Admin, with(new.clone(), json!({"name": "a\u{0}b"}))).bad("name"),
        create(Admin, with(new.clone(), json!({"category": long(81)}))).bad("category"),
        create(Admin, with(new.clone(), json!({"description": long(5001)}))).bad("description"),
        create(Admin, with(new.clone(), json!({"tags": "lamp"}))).bad("tags"),
        create(Admin, with(new.clone(), json!({"tags": [1]}))).bad("tags"),
        create(
            Admin,
            with(
                new.clone(),
                json!({"tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            ),
        )
        .bad("tags"),
        create(Admin, with(new.clone(), json!({"tags": [long(41)]}))).bad("tags[0]"),
        create(
            Admin,
            with(new.clone(), json!({"imageUrl": "javascript:alert(1)"})),
        )
        .bad("imageUrl"),
        create(
            Admin,
            with(new.clone(), json!({"imageUrl": "//evil.example/x.png"})),
        )
        .bad("imageUrl"),
        create(
            Admin,
            shipping(with(option.clone(), json!({"price": 4.999}))),
        )
        .bad("shippingOptions[0].price"),
        create(Admin, shipping(with(option.clone(), json!({"price": -1}))))
            .bad("shippingOptions[0].price"),
        create(Admin, shipping(with(option.clone(), json!({"days": 0}))))
            .bad("shippingOptions[0].days"),
        create(Admin, shipping(with(option.clone(), json!({"days": 1.5}))))
            .bad("shippingOptions[0].days"),
        create(
            Admin,
            shipping(with(option.clone(), json!({"days": 70_000}))),
        )
        .bad("shippingOptions[0].days"),
        create(Admin, shipping(without(option.clone(), "name"))).bad("shippingOptions[0].name"),
        create(
            Admin,
            shipping(with(option.clone(), json!({"colour": "red"}))),
        )
        .bad("shippingOptions[0].colour"),
        create(Admin, shipping(json!(1))).bad("shippingOptions[0]"),
        create(Admin, with(new.clone(), json!({"shippingOptions": "fast"}))).bad("shippingOptions"),
        create(Admin, with(new.clone(), json!({"sellerId": UNKNOWN}))).bad("sellerId"),
        create(Admin, with(new.clone(), json!({"sellerId": NOT_UUID}))).bad("sellerId"),
        create(Admin, with(new.clone(), json!({"colour": "red"}))).bad("colour"),
        create(Ana, new.clone()).forbidden(),
        create(Sol, with(new.clone(), json!({"sellerId": SellerId::new()}))).forbidden(),
        create(Admin, new.clone())
            .header("idempotency-key", "two words")
            .bad("Idempotency-Key"),
        create(Admin, new.clone())
            .header("idempotency-key", long(256))
            .bad("Idempotency-Key"),
        // PATCH /api/products/{id}: the price
        patch(Admin, &unknown, json!({"price": 20})).not_found(),
        patch(Admin, &not_uuid, json!({"price": 20})).not_found(),
        patch(Admin, &gone, json!({"price": 20})).invalid_state(),
        patch(Admin, &house, json!({"price": 19.999})).bad("price"),
        patch(Admin, &house, json!({"price": -1})).bad("price"),
        patch(Admin, &house, json!({"price": 0})).bad("price"),
        price_raw("1e30").bad("price"),
        price_raw("9999999999999").bad("price"),
        price_raw("NaN").malformed(),
        patch(Admin, &house, json!({"price": "20"})).bad("price"),
        patch(Admin, &house, json!({"price": null})).bad("price"),
        patch(Admin, &house, json!({})).bad("price"),
        patch(Admin, &house, json!({"price": 20, "name": "Both"})).bad("price"),
        patch(Admin, &house, json!({"price": 20, "expectedVersion": "1"})).bad("expectedVersion"),
        patch(Admin, &house, json!({"price": 20, "expectedVersion": -1})).bad("expectedVersion"),
        patch(Admin, &house, json!({"price": 20, "expectedVersion": 1.5})).bad("expectedVersion"),
        patch(Admin, &house, json!({"price": 20, "expectedVersion": 99})).stale_version(),
        patch(
            Admin,
            &house,
            json!({"price": 20, "overridePriceCut": "yes"}),
        )
        .bad("overridePriceCut"),
        patch(Admin, &house, json!({"price": 1})).bad("price"),
        patch(Sol, &sols, json!({"price": 1, "overridePriceCut": true})).bad("overridePriceCut"),
        patch(Tess, &sols, json!({"price": 30})).forbidden(),
        patch(Sol, &house, json!({"price": 30})).forbidden(),
        patch(Ana, &house, json!({"price": 30})).forbidden(),
        // PATCH /api/products/{id}: details
        patch(Admin, &unknown, json!({"name": "X"})).not_found(),
        patch(Admin, &not_uuid, json!({"name": "X"})).not_found(),
        patch(Admin, &gone, json!({"name": "X"})).invalid_state(),
        patch(Admin, &house, json!({"name": ""})).bad("name"),
        patch(Admin, &house, json!({"name": 42})).bad("name"),
        patch(Admin, &house, json!({"category": " "})).bad("category"),
        patch(Admin, &house, json!({"description": long(5001)})).bad("description"),
        patch(Admin, &house, json!({"tags": "lamp"})).bad("tags"),
        patch(Admin, &house, json!({"imageUrl": 5})).bad("imageUrl"),
        patch(Admin, &house, json!({"imageUrl": "data:text/html,hi"})).bad("imageUrl"),
        patch(
            Admin,
            &house,
            json!({"shippingOptions": [with(option.clone(), json!({"days": 400}))]}),
        )
        .bad("shippingOptions[0].days"),
        patch(
            Admin,
            &house,
            json!({"shippingOptions": [option.clone(), option.clone()]}),
        )
        .bad("shippingOptions[1].name"),
        patch(Admin, &house, json!({"name": "X", "expectedVersion": 99})).stale_version(),
        patch(Admin, &house, json!({"name": "X", "colour": "red"})).bad("colour"),
        patch(Tess, &sols, json!({"name": "Mine"})).forbidden(),
        patch(Sol, &house, json!({"name": "Mine"})).forbidden(),
        patch(Ana, &house, json!({"name": "Mine"})).forbidden(),
        // DELETE /api/products/{id}
        delete(Admin, &unknown, json!({"reason": "x"})).not_found(),
        delete(Admin, &not_uuid, json!({"reason": "x"})).not_found(),
        delete(Admin, &gone, json!({"reason": "again"})).invalid_state(),
        delete(Admin, &house, json!({})).bad("reason"),
        delete(Admin, &house, json!({"reason": ""})).bad("reason"),
        delete(Admin, &house, json!({"reason": 42})).bad("reason"),
        delete(Admin, &house, json!({"reason": long(501)})).bad("reason"),
        delete(Admin, &house, json!({"reason": "x", "expectedVersion": 99})).stale_version(),
        delete(
            Admin,
            &house,
            json!({"reason": "x", "expectedVersion": "v1"}),
        )
        .bad("expectedVersion"),
        delete(Tess, &sols, json!({"reason": "mine"})).forbidden(),
        delete(Sol, &house, json!({"reason": "mine"})).forbidden(),
        delete(Ana, &house, json!({"reason": "mine"})).forbidden(),
        req(Admin, "DELETE", house.clone(), "")
            .content_type(None)
            .is(415, "unsupported_media_type", ""),
    ]
}

fn stock_and_review_cases(s: &Shop) -> Vec<Case> {
    let stock_of = |product: &str| format!("/api/products/{product}/stock");
    let house = stock_of(&s.house);
    let adjust = |who, uri: &str, body: Value| req(who, "POST", uri.to_owned(), body);
    let delta_raw = |value| {
        req(
            Admin,
            "POST",
            house.clone(),
            raw(&json!({"reason": "count"}), "delta", value),
        )
    };
    let reviews_of = |product: &str| format!("/api/products/{product}/reviews");
    let reviews = reviews_of(&s.house);
    let good = json!({"rating": 4, "comment": "Nice lamp"});
    let review = |who, body: Value| req(who, "POST", reviews.clone(), body);
    let rating_raw = |value| req(Ana, "POST", reviews.clone(), raw(&good, "rating", value));
    vec![
        // POST /api/products/{id}/stock
        adjust(
            Admin,
            &stock_of(UNKNOWN),
            json!({"delta": 1, "reason": "x"}),
        )
        .not_found(),
        adjust(
            Admin,
            &stock_of(NOT_UUID),
            json!({"delta": 1, "reason": "x"}),
        )
        .not_found(),
        adjust(
            Admin,
            &stock_of(&s.gone),
            json!({"delta": 1, "reason": "x"}),
        )
        .not_found(),
        adjust(Admin, &house, json!({"delta": 0, "reason": "x"})).bad("delta"),
        adjust(Admin, &house, json!({"delta": -101, "reason": "theft"})).bad("delta"),
        adjust(Admin, &house, json!({"delta": 1.5, "reason": "x"})).bad("delta"),
        adjust(Admin, &house, json!({"delta": "5", "reason": "x"})).bad("delta"),
        adjust(Admin, &house, json!({"delta": 1_000_000, "reason": "x"})).bad("delta"),
        delta_raw("1e30").bad("delta"),
        delta_raw("-1e30").bad("delta"),
        delta_raw("9999999999999").bad("delta"),
        delta_raw("-9999999999999").bad("delta"),
        delta_raw("9223372036854775807").bad("delta"),
        delta_raw("-9223372036854775808").bad("delta"),
        delta_raw("18446744073709551615").bad("delta"),
        delta_raw("NaN").malformed(),
        adjust(Admin, &house, json!({"reason": "x"})).bad("delta"),
        adjust(Admin, &house, json!({"delta": 1})).bad("reason"),
        adjust(Admin, &house, json!({"delta": 1, "reason": " "})).bad("reason"),
        adjust(Admin, &house, json!({"delta": 1, "reason": long(501)})).bad("reason"),
        adjust(
            Admin,
            &house,
            json!({"delta": 1, "reason": "x", "expectedVersion": 99}),
        )
        .stale_version(),
        adjust(Tess, &stock_of(&s.sols), json!({"delta": 1, "reason": "x"})).forbidden(),
        adjust(Sol, &house, json!({"delta": 1, "reason": "x"})).forbidden(),
        adjust(Ana, &house, json!({"delta": 1, "reason": "x"})).forbidden(),
        // POST /api/products/{id}/reviews (Ana received the house lamp)
        req(Ana, "POST", reviews_of(UNKNOWN), good.clone()).not_found(),
        req(Ana, "POST", reviews_of(NOT_UUID), good.clone()).not_found(),
        req(Ana, "POST", reviews_of(&s.gone), good.clone()).not_found(),
        review(Ana, with(good.clone(), json!({"rating": 0}))).bad("rating"),
        review(Ana, with(good.clone(), json!({"rating": 6}))).bad("rating"),
        review(Ana, with(good.clone(), json!({"rating": -1}))).bad("rating"),
        review(Ana, with(good.clone(), json!({"rating": 4.5}))).bad("rating"),
        review(Ana, with(good.clone(), json!({"rating": "5"}))).bad("rating"),
        rating_raw("1e30").bad("rating"),
        rating_raw("9999999999999").bad("rating"),
        rating_raw("NaN").malformed(),
        review(Ana, without(good.clone(), "rating")).bad("rating"),
        review(Ana, without(good.clone(), "comment")).bad("comment"),
        review(Ana, with(good.clone(), json!({"comment": "ab"}))).bad("comment"),
        review(Ana, with(good.clone(), json!({"comment": 42}))).bad("comment"),
        review(Ana, with(good.clone(), json!({"comment": long(2001)}))).bad("comment"),
        review(Ana, with(good.clone(), json!({"customerId": NOT_UUID}))).bad("customerId"),
        review(Ana, with(good.clone(), json!({"customerId": s.ben_id}))).forbidden(),
        review(Ben, good.clone()).forbidden(),
        review(Sol, good.clone()).bad("customerId"),
        review(Sol, with(good.clone(), json!({"customerId": s.ana_id}))).forbidden(),
        review(Admin, with(good.clone(), json!({"customerId": UNKNOWN}))).forbidden(),
        review(Admin, with(good.clone(), json!({"customerId": s.ben_id}))).forbidden(),
    ]
}

fn order_cases(s: &Shop) -> Vec<Case> {
    let line = |product: &str, quantity: Value| json!({"productId": product, "quantity": quantity});
    let items = |lines: Vec<Value>| json!({ "items": lines });
    let place = |who, body: Value| req(who, "POST", "/api/orders", body);
    let quantity_raw = |value: &str| {
        req(
            Ana,
            "POST",
            "/api/orders",
            format!(
                r#"{{"items":[{{"productId":"{}","quantity":{value}}}]}}"#,
                s.house
            ),
        )
    };
    let one = items(vec![line(&s.house, json!(1))]);
    let many: Vec<Value> = (0..101)
        .map(|_| line(&uuid::Uuid::now_v7().to_string(), json!(1)))
        .collect();
    vec![
        place(Ana, json!({})).bad("items"),
        place(Ana, items(vec![])).bad("items"),
        place(Ana, json!({"items": "lamp"})).bad("items"),
        place(Ana, json!({"items": [1]})).bad("items[0]"),
        place(Ana, json!({"items": null})).bad("items"),
        place(Ana, items(many)).bad("items"),
        place(Ana, items(vec![line(&s.house, json!(0))])).bad("items[0].quantity"),
        place(Ana, items(vec![line(&s.house, json!(-1))])).bad("items[0].quantity"),
        place(Ana, items(vec![line(&s.house, json!(1001))])).bad("items[0].quantity"),
        place(Ana, items(vec![line(&s.house, json!(1.5))])).bad("items[0].quantity"),
        place(Ana, items(vec![line(&s.house, json!("2"))])).bad("items[0].quantity"),
        quantity_raw("1e30").bad("items[0].quantity"),
        quantity_raw("-1e30").bad("items[0].quantity"),
        quantity_raw("9999999999999").bad("items[0].quantity"),
        quantity_raw("18446744073709551616").bad("items[0].quantity"),
        quantity_raw("NaN").malformed(),
        place(Ana, items(vec![json!({"productId": s.house})])).bad("items[0].quantity"),
        place(Ana, items(vec![json!({"quantity": 1})])).bad("items[0].productId"),
        place(Ana, items(vec![line(UNKNOWN, json!(1))])).bad("items[0].productId"),
        place(Ana, items(vec![line(NOT_UUID, json!(1))])).bad("items[0].productId"),
        place(Ana, items(vec![line(&s.gone, json!(1))])).bad("items[0].productId"),
        place(Ana, items(vec![json!({"productId": 42, "quantity": 1})])).bad("items[0].productId"),
        place(
            Ana,
            items(vec![line(&s.house, json!(1)), line(&s.house, json!(2))]),
        )
        .bad("items[1].productId"),
        place(
            Ana,
            items(vec![line(&s.house, json!(1)), line(&s.sols, json!(0))]),
        )
        .bad("items[1].quantity"),
        place(
            Ana,
            items(vec![with(
                line(&s.house, json!(1)),
                json!({"colour": "red"}),
            )]),
        )
        .bad("items[0].colour"),
        place(Ana, items(vec![line(&s.house, json!(1000))])).is(409, "insufficient_stock", "items"),
        place(Ana, items(vec![line(&s.cheap, json!(1))])).bad("items"),
        place(Ana, with(one.clone(), json!({"customerId": s.ben_id}))).forbidden(),
        place(Ana, with(one.clone(), json!({"customerId": NOT_UUID}))).bad("customerId"),
        place(Ana, with(one.clone(), json!({"customerId": 7}))).bad("customerId"),
        place(Sol, one.clone()).bad("customerId"),
        place(Sol, with(one.clone(), json!({"customerId": s.ana_id}))).forbidden(),
        place(Admin, one.clone()).bad("customerId"),
        place(Ana, one.clone())
            .header("idempotency-key", "")
            .bad("Idempotency-Key"),
        place(Ana, one.clone())
            .header("idempotency-key", "é")
            .bad("Idempotency-Key"),
    ]
}

fn transition_cases(s: &Shop) -> Vec<Case> {
    let on = |who, id: &str, action: &str, body: Value| {
        let body = if body == json!(null) {
            String::new()
        } else {
            body.to_string()
        };
        req(who, "POST", format!("/api/orders/{id}/{action}"), body)
    };
    let none = Value::Null;
    let (awaiting, confirmed, delivered) = (&s.awaiting, &s.confirmed, &s.delivered);
    let mut cases = Vec::new();
    for action in ["pay", "confirm", "ship", "deliver", "cancel", "return"] {
        let who = if matches!(action, "confirm" | "ship" | "deliver") {
            Admin
        } else {
            Ana
        };
        let body = if action == "ship" {
            json!({"trackingNumber": "TRK-3"})
        } else {
            none.clone()
        };
        cases.push(on(who, UNKNOWN, action, body.clone()).not_found());
        cases.push(on(who, NOT_UUID, action, body.clone()).not_found());
        cases.push(on(who, awaiting, action, json!({"colour": "red"})).bad("colour"));
    }
    cases.extend([
        on(Ana, awaiting, "refund", none.clone()).not_found(),
        // pay
        on(Ana, awaiting, "pay", json!({"paymentMethod": 42})).bad("paymentMethod"),
        on(Ben, awaiting, "pay", none.clone()).forbidden(),
        on(Sol, awaiting, "pay", none.clone()).forbidden(),
        on(Ana, confirmed, "pay", none.clone()).invalid_state(),
        on(Ana, delivered, "pay", none.clone()).invalid_state(),
        // confirm
        on(Ana, confirmed, "confirm", none.clone()).forbidden(),
        on(Sol, confirmed, "confirm", none.clone()).forbidden(),
        on(Admin, awaiting, "confirm", none.clone()).invalid_state(),
        on(Admin, confirmed, "confirm", none.clone()).invalid_state(),
        // ship
        on(Admin, confirmed, "ship", none.clone()).bad("trackingNumber"),
        on(Admin, confirmed, "ship", json!({"trackingNumber": ""})).bad("trackingNumber"),
        on(Admin, confirmed, "ship", json!({"trackingNumber": 42})).bad("trackingNumber"),
        on(Admin, confirmed, "ship", json!({"trackingNumber": "a\nb"})).bad("trackingNumber"),
        on(
            Admin,
            confirmed,
            "ship",
            json!({"trackingNumber": long(101)}),
        )
        .bad("trackingNumber"),
        on(Ana, confirmed, "ship", json!({"trackingNumber": "T"})).forbidden(),
        on(Admin, awaiting, "ship", json!({"trackingNumber": "T"})).invalid_state(),
        on(Admin, delivered, "ship", json!({"trackingNumber": "T"})).invalid_state(),
        // deliver
        on(Ana, confirmed, "deliver", none.clone()).forbidden(),
        on(Admin, confirmed, "deliver", none.clone()).invalid_state(),
        on(Admin, delivered, "deliver", none.clone()).invalid_state(),
        // cancel
        on(Ana, awaiting, "cancel", json!({"reason": ""})).bad("reason"),
        on(Ana, awaiting, "cancel", json!({"reason": 42})).bad("reason"),
        on(Ana, awaiting, "cancel", json!({"reason": long(501)})).bad("reason"),
        on(Ben, awaiting, "cancel", none.clone()).forbidden(),
        on(Sol, awaiting, "cancel", none.clone()).forbidden(),
        on(Ana, delivered, "cancel", none.clone()).invalid_state(),
        // return
        on(Ana, delivered, "return", json!({"reason": " "})).bad("reason"),
        on(Ana, delivered, "return", json!({"reason": long(501)})).bad("reason"),
        on(Ben, delivered, "return", none.clone()).forbidden(),
        on(Ana, awaiting, "return", none.clone()).invalid_state(),
        on(Ana, confirmed, "return", none.clone()).invalid_state(),
    ]);
    cases
}

fn account_cases(s: &Shop) -> Vec<Case> {
    let seller = json!({"name": "Sam", "email": "sam@sellers.example", "password": PASSWORD});
    let sellers = |who, body: Value| req(who, "POST", "/api/sellers", body);
    let rating_raw = |value| req(Admin, "POST", "/api/sellers", raw(&seller, "rating", value));
    let signup = json!({"name": "Zed", "email": "zed@example.com", "password": PASSWORD});
    let sign_up = |body: Value| req(Nobody, "POST", "/api/auth/signup", body);
    let login = |body: Value| req(Nobody, "POST", "/api/auth/login", body);
    let token = json!({"email": s.sol_email, "label": "ci"});
    let tokens = |who, body: Value| req(who, "POST", "/api/auth/tokens", body);
    vec![
        // POST /api/sellers
        sellers(Admin, without(seller.clone(), "name")).bad("name"),
        sellers(Admin, with(seller.clone(), json!({"name": " "}))).bad("name"),
        sellers(Admin, with(seller.clone(), json!({"name": long(121)}))).bad("name"),
        sellers(Admin, without(seller.clone(), "email")).bad("email"),
        sellers(
            Admin,
            with(seller.clone(), json!({"email": "not-an-email"})),
        )
        .bad("email"),
        sellers(Admin, with(seller.clone(), json!({"email": s.sol_email}))).bad("email"),
        sellers(Admin, with(seller.clone(), json!({"email": s.cleo_email}))).bad("email"),
        sellers(Admin, without(seller.clone(), "password")).bad("password"),
        sellers(Admin, with(seller.clone(), json!({"password": "short"}))).bad("password"),
        sellers(Admin, with(seller.clone(), json!({"password": long(129)}))).bad("password"),
        sellers(Admin, with(seller.clone(), json!({"rating": 5.5}))).bad("rating"),
        sellers(Admin, with(seller.clone(), json!({"rating": 4.55}))).bad("rating"),
        sellers(Admin, with(seller.clone(), json!({"rating": -1}))).bad("rating"),
        sellers(Admin, with(seller.clone(), json!({"rating": "4"}))).bad("rating"),
        rating_raw("1e30").bad("rating"),
        rating_raw("NaN").malformed(),
        sellers(Ana, seller.clone()).forbidden(),
        sellers(Sol, seller.clone()).forbidden(),
        // POST /api/auth/signup
        sign_up(without(signup.clone(), "name")).bad("name"),
        sign_up(with(signup.clone(), json!({"name": " "}))).bad("name"),
        sign_up(with(signup.clone(), json!({"name": 42}))).bad("name"),
        sign_up(without(signup.clone(), "email")).bad("email"),
        sign_up(with(signup.clone(), json!({"email": "zed"}))).bad("email"),
        sign_up(with(signup.clone(), json!({"email": "zed@localhost"}))).bad("email"),
        sign_up(with(signup.clone(), json!({"email": s.cleo_email}))).bad("email"),
        sign_up(with(
            signup.clone(),
            json!({"email": s.cleo_email.to_uppercase()}),
        ))
        .bad("email"),
        sign_up(with(signup.clone(), json!({"email": s.sol_email}))).bad("email"),
        sign_up(without(signup.clone(), "password")).bad("password"),
        sign_up(with(signup.clone(), json!({"password": "short"}))).bad("password"),
        sign_up(with(signup.clone(), json!({"password": long(129)}))).bad("password"),
        // POST /api/auth/login
        login(json!({"email": s.cleo_email})).bad("password"),
        login(json!({"password": PASSWORD})).bad("email"),
        login(json!({"email": 42, "password": PASSWORD})).bad("email"),
        login(json!({"email": s.cleo_email, "password": "wrong password"})).is(
            401,
            "unauthenticated",
            "",
        ),
        login(json!({"email": "nobody@example.com", "password": PASSWORD})).is(
            401,
            "unauthenticated",
            "",
        ),
        // POST /api/auth/tokens
        tokens(
            Admin,
            with(token.clone(), json!({"email": "nobody@example.com"})),
        )
        .bad("email"),
        tokens(Admin, with(token.clone(), json!({"email": "nobody"}))).bad("email"),
        tokens(Admin, without(token.clone(), "email")).bad("email"),
        tokens(Admin, without(token.clone(), "label")).bad("label"),
        tokens(Admin, with(token.clone(), json!({"label": ""}))).bad("label"),
        tokens(Admin, with(token.clone(), json!({"label": long(101)}))).bad("label"),
        tokens(Admin, with(token.clone(), json!({"label": 7}))).bad("label"),
        tokens(Ana, token.clone()).forbidden(),
        tokens(Sol, token.clone()).forbidden(),
        tokens(Sol, with(token.clone(), json!({"email": s.sol_email}))).forbidden(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_to_every_endpoint_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shop::start(dir.path()).await;
    let cases = generic_cases(&s);
    s.run(cases).await;
    // The refused logout from another site left the session alone.
    let cookie = s.cleo_cookie.clone();
    let (status, _, me) = send_raw(
        &s.router,
        "GET",
        "/api/auth/me",
        &[("cookie", cookie)],
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["accountId"], json!(s.cleo_id));
    s.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_for_products_stock_and_reviews_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shop::start(dir.path()).await;
    let mut cases = product_cases(&s);
    cases.extend(stock_and_review_cases(&s));
    s.run(cases).await;
    s.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_for_orders_and_their_steps_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shop::start(dir.path()).await;
    let mut cases = order_cases(&s);
    cases.extend(transition_cases(&s));
    s.run(cases).await;
    s.t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_for_accounts_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shop::start(dir.path()).await;
    s.run(account_cases(&s)).await;
    // Still exactly one account per email: the refused sign-ups made none.
    let (status, body) =
        s.t.call(
            "POST",
            "/api/auth/tokens",
            Some(&s.admin),
            Some(&json!({"email": "zed@example.com", "label": "x"}).to_string()),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "no account for zed: {body}"
    );
    s.t.stop().await;
}

/// Staff place orders for customers; a customer id that names no customer
/// must be refused like an unknown product or seller id is, not become an
/// order that holds stock for nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_for_a_customer_who_does_not_exist_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Shop::start(dir.path()).await;
    let one = json!({"items": [{"productId": s.house, "quantity": 1}]});
    let place = |customer: &str| {
        req(
            Admin,
            "POST",
            "/api/orders",
            with(one.clone(), json!({"customerId": customer})),
        )
        .bad("customerId")
    };
    // An id nobody has, and a seller's id (a real party, but no customer).
    s.run(vec![place(UNKNOWN), place(&s.sol_id)]).await;
    s.t.stop().await;
}
