//! One layer for every route: a state change (any method but GET, HEAD,
//! OPTIONS) coming from another site is refused, so a page elsewhere cannot
//! make a visitor's browser change the shop. Browsers say where a request
//! comes from in `Sec-Fetch-Site`, older ones only in `Origin`. Clients that
//! authenticate with a bearer token are not browsers riding a cookie, and
//! are exempt.

use super::error::ApiError;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn refuse_cross_site_changes(request: Request, next: Next) -> Response {
    if is_cross_site_change(&request) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "state changes are only accepted from the shop's own pages",
        )
        .into_response();
    }
    next.run(request).await
}

fn is_cross_site_change(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if bearer {
        return false;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "same-origin"; "none" is the user typing or bookmarking.
        return !matches!(site, "same-origin" | "none");
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            !origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        // No Origin and no Sec-Fetch-Site: not a browser's cross-site request.
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut r = axum::http::Request::builder()
            .method(method)
            .uri("/api/products");
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(Body::empty()).unwrap()
    }

    #[test]
    fn refuses_changes_from_other_sites_only() {
        let host = ("host", "shop.example:3000");
        assert!(is_cross_site_change(&request(
            Method::POST,
            &[host, ("sec-fetch-site", "cross-site")]
        )));
        assert!(is_cross_site_change(&request(
            Method::PATCH,
            &[host, ("sec-fetch-site", "same-site")]
        )));
        assert!(is_cross_site_change(&request(
            Method::POST,
            &[host, ("origin", "https://evil.example")]
        )));
        assert!(is_cross_site_change(&request(
            Method::POST,
            &[host, ("origin", "null")]
        )));
        assert!(!is_cross_site_change(&request(
            Method::POST,
            &[host, ("sec-fetch-site", "same-origin")]
        )));
        assert!(!is_cross_site_change(&request(
            Method::POST,
            &[host, ("origin", "http://shop.example:3000")]
        )));
        assert!(!is_cross_site_change(&request(Method::POST, &[host])));
        assert!(!is_cross_site_change(&request(
            Method::GET,
            &[host, ("sec-fetch-site", "cross-site")]
        )));
        assert!(!is_cross_site_change(&request(
            Method::POST,
            &[
                host,
                ("sec-fetch-site", "cross-site"),
                ("authorization", "Bearer abc")
            ]
        )));
    }
}
