//! The catalog's read side over HTTP: search with filters, facets, sorting
//! and pages; the product page's rating, reviews, seller, price facts and
//! units sold; all answered from the in-memory catalog that follows the
//! projection notices (and reloads after a rebuild switched generations).

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use support::TestShop;

async fn post(t: &TestShop, token: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let (code, body) = t
        .call("POST", uri, Some(token), Some(&body.to_string()))
        .await;
    assert!(code.is_success(), "{uri}: {code} {body}");
    (code, body)
}

async fn patch(t: &TestShop, token: &str, product: &str, body: Value) {
    let uri = format!("/api/products/{product}");
    let (code, body) = t
        .call("PATCH", &uri, Some(token), Some(&body.to_string()))
        .await;
    assert!(code.is_success(), "{uri}: {code} {body}");
}

async fn get(t: &TestShop, uri: &str) -> (StatusCode, Value) {
    t.call("GET", uri, None, None).await
}

/// Polls `uri` until `done` holds (the read side follows the commands).
async fn until(t: &TestShop, uri: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = get(t, uri).await;
        if code == StatusCode::OK && done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uri}: {code} {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(body: &Value) -> Vec<&str> {
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

fn facet(body: &Value, facet: &str, value: &str) -> Option<u64> {
    body["facets"][facet]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["value"] == value)
        .map(|f| f["count"].as_u64().unwrap())
}

async fn create(t: &TestShop, admin: &str, product: Value) -> String {
    let (_, body) = post(t, admin, "/api/products", product).await;
    body["productId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shoppers_search_filter_sort_and_page_through_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let lamp = create(
        &t,
        &admin,
        json!({"name": "Walnut desk lamp", "category": "Lighting", "price": 30.0, "stock": 5,
               "tags": ["wood", "desk"], "description": "Warm light for late work."}),
    )
    .await;
    create(
        &t,
        &admin,
        json!({"name": "Brass floor lamp", "category": "Lighting", "price": 120.0, "stock": 0}),
    )
    .await;
    create(
        &t,
        &admin,
        json!({"name": "Oak desk", "category": "Furniture", "price": 240.0, "stock": 2,
               "description": "Room for two lamps and a laptop."}),
    )
    .await;
    create(
        &t,
        &admin,
        json!({"name": "Ceramic mug", "category": "Kitchen", "price": 12.5, "stock": 10}),
    )
    .await;
    let all = until(&t, "/api/products", |b| b["total"] == 4).await;
    assert_eq!(all["pages"], 1);

    // Full text, stemmed ("lamps" in a description finds "lamp"); names
    // weigh more than descriptions.
    let lamps = get(&t, "/api/products?q=lamp").await.1;
    assert_eq!(
        names(&lamps),
        vec!["Brass floor lamp", "Walnut desk lamp", "Oak desk"]
    );
    assert_eq!(facet(&lamps, "categories", "Lighting"), Some(2));
    assert_eq!(facet(&lamps, "categories", "Furniture"), Some(1));
    assert_eq!(facet(&lamps, "categories", "Kitchen"), None);
    assert_eq!(lamps["facets"]["inStock"], 2);
    // All words must match; the last may be unfinished.
    assert_eq!(
        names(&get(&t, "/api/products?q=desk+lamp").await.1),
        vec!["Walnut desk lamp", "Oak desk"]
    );
    assert_eq!(
        names(&get(&t, "/api/products?q=walnu").await.1),
        vec!["Walnut desk lamp"]
    );
    assert_eq!(get(&t, "/api/products?q=teapot").await.1["total"], 0);

    // Filters, and facets that count each choice with the other filters.
    let cheap_light = get(&t, "/api/products?category=Lighting&max_price=100")
        .await
        .1;
    assert_eq!(names(&cheap_light), vec!["Walnut desk lamp"]);
    assert_eq!(facet(&cheap_light, "categories", "Kitchen"), Some(1));
    assert_eq!(facet(&cheap_light, "categories", "Lighting"), Some(1));
    assert_eq!(facet(&cheap_light, "priceRanges", "100.00-249.99"), Some(1));
    assert_eq!(
        names(&get(&t, "/api/products?q=lamp&in_stock=true").await.1),
        vec!["Walnut desk lamp", "Oak desk"]
    );

    // Sorting and pages.
    let by_price = get(&t, "/api/products?sort=price_desc&per_page=3").await.1;
    assert_eq!(
        names(&by_price),
        vec!["Oak desk", "Brass floor lamp", "Walnut desk lamp"]
    );
    assert_eq!(
        (by_price["pages"].as_u64(), by_price["total"].as_u64()),
        (Some(2), Some(4))
    );
    let second = get(&t, "/api/products?sort=price_desc&per_page=3&page=2")
        .await
        .1;
    assert_eq!(names(&second), vec!["Ceramic mug"]);
    assert_eq!(
        names(
            &get(&t, "/api/products/search?sort=price_asc&q=lamp")
                .await
                .1
        ),
        vec!["Walnut desk lamp", "Brass floor lamp", "Oak desk"]
    );

    // Wrong parameters are named, not ignored.
    for (uri, field) in [
        ("/api/products?min_price=cheap", "min_price"),
        ("/api/products?min_price=50&max_price=10", "max_price"),
        ("/api/products?min_rating=6", "min_rating"),
        ("/api/products?sort=random", "sort"),
        ("/api/products?page=0", "page"),
        ("/api/products?maxprice=100", "maxprice"),
    ] {
        let (code, body) = get(&t, uri).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["field"], field, "{uri}: {body}");
    }

    // A price change shows in search (the cache follows the notices).
    patch(&t, &admin, &lamp, json!({"price": 20.0})).await;
    until(&t, "/api/products?q=walnut", |b| {
        b["products"][0]["price"] == 20.0 && b["products"][0]["priceDropped"] == true
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_page_shows_its_rating_reviews_seller_price_facts_and_sales() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestShop::start(dir.path()).await;
    let admin = t.admin_token().await;
    let (_, ana) = t.customer("Ana").await;
    let (_, ben) = t.customer("Ben").await;
    let lamp = create(
        &t,
        &admin,
        json!({"name": "Walnut desk lamp", "category": "Lighting", "price": 30.0, "stock": 9,
               "shippingOptions": [{"name": "Standard", "price": 4.9, "days": 3}]}),
    )
    .await;
    let mug = create(
        &t,
        &admin,
        json!({"name": "Ceramic mug", "category": "Kitchen", "price": 12.5, "stock": 9}),
    )
    .await;
    let page_uri = format!("/api/products/{lamp}");
    let fresh = until(&t, &page_uri, |b| b["name"] == "Walnut desk lamp").await;
    assert_eq!(fresh["rating"], Value::Null);
    assert_eq!(fresh["reviewCount"], 0);
    assert_eq!(fresh["unitsSold"], 0);
    assert_eq!(fresh["lowestPrice30Days"], 30.0);
    // Created just now: there was no price 30 or 90 days ago.
    assert_eq!(fresh["price30DaysAgo"], Value::Null);
    assert_eq!(fresh["price90DaysAgo"], Value::Null);
    assert!(
        fresh["seller"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{fresh}"
    );

    // Two customers buy and receive the lamp (2 and 1 units), then review it.
    for (token, quantity) in [(&ana, 2), (&ben, 1)] {
        let (_, receipt) = post(
            &t,
            token,
            "/api/orders",
            json!({"items": [{"productId": lamp, "quantity": quantity}]}),
        )
        .await;
        let order = receipt["orderId"].as_str().unwrap().to_owned();
        post(&t, token, &format!("/api/orders/{order}/pay"), json!({})).await;
        // The process manager confirms; shipping needs a confirmed order.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let (code, _) = t
                .call(
                    "POST",
                    &format!("/api/orders/{order}/ship"),
                    Some(&admin),
                    Some(&json!({"trackingNumber": "TRK"}).to_string()),
                )
                .await;
            if code.is_success() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "never confirmed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        post(
            &t,
            &admin,
            &format!("/api/orders/{order}/deliver"),
            json!({}),
        )
        .await;
    }
    post(
        &t,
        &ana,
        &format!("/api/products/{lamp}/reviews"),
        json!({"rating": 5, "comment": "Lovely light."}),
    )
    .await;
    post(
        &t,
        &ben,
        &format!("/api/products/{lamp}/reviews"),
        json!({"rating": 4, "comment": "Good, a bit small."}),
    )
    .await;
    let page = until(&t, &page_uri, |b| b["reviewCount"] == 2).await;
    assert_eq!(page["rating"], 4.5);
    assert_eq!(page["recentReviews"][0]["comment"], "Good, a bit small.");
    assert_eq!(page["recentReviews"][1]["rating"], 5);
    assert_eq!(page["unitsSold"], 3);
    assert_eq!(page["unitsSold24h"], 3);
    assert_eq!(page["stock"], 6);

    // A price cut: previous price and the lowest of the last 30 days.
    patch(&t, &admin, &lamp, json!({"price": 25.0})).await;
    let cut = until(&t, &page_uri, |b| b["price"] == 25.0).await;
    assert_eq!(cut["previousPrice"], 30.0);
    assert_eq!(cut["lowestPrice30Days"], 25.0);
    patch(&t, &admin, &lamp, json!({"price": 35.0})).await;
    let raised = until(&t, &page_uri, |b| b["price"] == 35.0).await;
    assert_eq!(raised["lowestPrice30Days"], 25.0);
    assert_eq!(raised["priceDropped"], false);

    // Ratings and sales drive search: filter, sort, top-rated facets.
    let rated = get(&t, "/api/products?min_rating=4").await.1;
    assert_eq!(names(&rated), vec!["Walnut desk lamp"]);
    let all = get(&t, "/api/products?sort=best_selling").await.1;
    assert_eq!(names(&all), vec!["Walnut desk lamp", "Ceramic mug"]);
    assert_eq!(facet(&all, "ratings", "4"), Some(1));
    assert_eq!(all["products"][0]["unitsSold24h"], 3);
    assert_eq!(all["products"][0]["reviewCount"], 2);

    // A rebuild switches generations; the catalog reloads and agrees.
    let (code, _) = t
        .call(
            "POST",
            "/api/admin/read-models/product_views/rebuild",
            Some(&admin),
            None,
        )
        .await;
    assert!(code.is_success(), "{code}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, models) = t
            .call("GET", "/api/admin/read-models", Some(&admin), None)
            .await;
        let model = models
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "product_views")
            .cloned()
            .unwrap();
        if model["generation"] == 2 && model["rebuild"]["phase"] == "switched" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{model:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = get(&t, &page_uri).await.1;
    assert_eq!(
        (&after["reviewCount"], &after["unitsSold"], &after["price"]),
        (&json!(2), &json!(3), &json!(35.0))
    );
    let _ = mug;
    t.stop().await;
}

/// Anonymous product reads served as kept (from `/metrics`).
async fn kept_reads(t: &TestShop) -> u64 {
    let (_, metrics) = t.get_text("/metrics").await;
    metrics
        .lines()
        .find(|l| l.starts_with("vitrine_response_cache_total{outcome=\"hit\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// An anonymous visitor's product record is kept serialized and served
/// again, until a notice for the product ends it: a change shows on the very
/// next read. The kept pages' age limit is a minute here, so only the notice
/// can have ended them. (HTML pages go through the same layer and key; they
/// are not rendered here: an SSR render through `oneshot` hung once in nine
/// parallel runs of this binary, not yet understood.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_product_pages_end_with_the_products_notice() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = support::settings(dir.path());
    settings.pipeline.kept_page_max_age_ms = 60_000;
    let t = TestShop::start_with(dir.path(), settings).await;
    let admin = t.admin_token().await;
    let lamp = create(
        &t,
        &admin,
        json!({"name": "Walnut desk lamp", "category": "Lighting", "price": 30.0, "stock": 5}),
    )
    .await;
    let json_uri = format!("/api/products/{lamp}");
    let first = until(&t, &json_uri, |b| b["price"] == 30.0).await;

    // A read is served kept unless the catalog cache still has notices to
    // apply (the product's stock notice may still be on its way): a few
    // tries, and at least one must be kept.
    let before = kept_reads(&t).await;
    let mut kept = false;
    for _ in 0..50 {
        let (_, again) = get(&t, &json_uri).await;
        assert_eq!(again, first);
        if kept_reads(&t).await > before {
            kept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(kept, "no anonymous read was served as kept");

    let mut notices = t.notices();
    let (_, receipt) = t
        .call(
            "PATCH",
            &json_uri,
            Some(&admin),
            Some(&json!({"price": 24.0}).to_string()),
        )
        .await;
    let version = receipt["aggregateVersion"].as_u64().unwrap();
    support::wait_for_notice(&mut notices, &lamp, version).await;
    let (_, changed) = get(&t, &json_uri).await;
    assert_eq!(
        changed["price"], 24.0,
        "the kept record outlived its notice: {changed}"
    );
    t.stop().await;
}
