//! Catalog search: the query a shopper (or an API client) sends, checked
//! once here for both, and the page of results with its facet counts.

use crate::error::AppError;
use domain::views::{RatingSummary, ReviewView, SellerView};
use domain::{Money, ProductId};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Results per page unless the caller asks otherwise, and the most allowed.
pub const PER_PAGE: u32 = 24;
pub const MAX_PER_PAGE: u32 = 100;
/// Longest search text accepted.
pub const MAX_QUERY_CHARS: usize = 200;

/// The search as it arrives in a URL (seed 001's `?q=&category=&max_price=`):
/// every field text, so a wrong value is reported by name, not dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogParams {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub min_price: Option<String>,
    #[serde(default)]
    pub max_price: Option<String>,
    #[serde(default)]
    pub min_rating: Option<String>,
    #[serde(default)]
    pub in_stock: Option<String>,
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub per_page: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogSort {
    /// Best text match first; without search text, best-selling first.
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Rating,
    Newest,
    BestSelling,
}

impl CatalogSort {
    pub const ALL: [(CatalogSort, &'static str, &'static str); 6] = [
        (CatalogSort::Relevance, "relevance", "Relevance"),
        (CatalogSort::PriceAsc, "price_asc", "Price: low to high"),
        (CatalogSort::PriceDesc, "price_desc", "Price: high to low"),
        (CatalogSort::Rating, "rating", "Rating"),
        (CatalogSort::Newest, "newest", "Newest"),
        (CatalogSort::BestSelling, "best_selling", "Best-selling"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(s, _, _)| *s == self)
            .map(|(_, v, _)| *v)
            .unwrap_or("relevance")
    }
}

/// A checked search.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogQuery {
    pub text: String,
    pub category: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    /// Average rating at least this many stars (1–5).
    pub min_rating: Option<u8>,
    pub in_stock: bool,
    pub sort: CatalogSort,
    /// From 1.
    pub page: u32,
    pub per_page: u32,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl CatalogParams {
    /// Checks every parameter; the first wrong one is named with the reason.
    pub fn check(&self) -> Result<CatalogQuery, AppError> {
        let text = present(&self.q).unwrap_or_default().to_owned();
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::bad_input(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let price = |field: &str, value: &Option<String>| -> Result<Option<Money>, AppError> {
            present(value)
                .map(|v| {
                    Money::parse(v).map_err(|e| {
                        AppError::bad_input(field, format!("{e} (for example 25 or 19.99)"))
                    })
                })
                .transpose()
        };
        let min_price = price("min_price", &self.min_price)?;
        let max_price = price("max_price", &self.max_price)?;
        if let (Some(min), Some(max)) = (min_price, max_price) {
            if min > max {
                return Err(AppError::bad_input(
                    "max_price",
                    "must not be below min_price",
                ));
            }
        }
        let min_rating = present(&self.min_rating)
            .map(|v| match v.parse::<u8>() {
                Ok(stars @ 1..=5) => Ok(stars),
                _ => Err(AppError::bad_input(
                    "min_rating",
                    "must be a whole number of stars from 1 to 5",
                )),
            })
            .transpose()?;
        let in_stock = match present(&self.in_stock) {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") | Some("on") => true,
            Some(_) => return Err(AppError::bad_input("in_stock", "must be true or false")),
        };
        let sort = match present(&self.sort) {
            None => CatalogSort::default(),
            Some(v) => CatalogSort::ALL
                .iter()
                .find(|(_, name, _)| *name == v)
                .map(|(s, _, _)| *s)
                .ok_or_else(|| {
                    let names: Vec<&str> = CatalogSort::ALL.iter().map(|(_, n, _)| *n).collect();
                    AppError::bad_input("sort", format!("must be one of {}", names.join(", ")))
                })?,
        };
        let whole =
            |field: &str, value: &Option<String>, default: u32, max: u32| match present(value) {
                None => Ok(default),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(AppError::bad_input(
                        field,
                        format!("must be a whole number from 1 to {max}"),
                    )),
                },
            };
        Ok(CatalogQuery {
            text,
            category: present(&self.category).map(str::to_owned),
            min_price,
            max_price,
            min_rating,
            in_stock,
            sort,
            page: whole("page", &self.page, 1, 10_000)?,
            per_page: whole("per_page", &self.per_page, PER_PAGE, MAX_PER_PAGE)?,
        })
    }
}

/// One product in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogItem {
    pub product_id: ProductId,
    pub name: String,
    pub category: String,
    pub image_url: Option<String>,
    pub price: Money,
    /// Set when the last price change was a cut.
    pub was: Option<Money>,
    pub stock: u32,
    pub rating: RatingSummary,
    pub units_sold: u64,
    /// Units sold in the last 24 hours.
    pub units_sold_24h: u64,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub projected_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacetCount {
    pub value: String,
    pub label: String,
    pub count: u64,
}

/// How many products each further choice would leave, given the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Facets {
    pub categories: Vec<FacetCount>,
    /// `value` is `min-max` in currency units (`max` empty: no upper bound).
    pub price_ranges: Vec<FacetCount>,
    /// `value` is the minimum stars, 4 down to 1.
    pub ratings: Vec<FacetCount>,
    pub in_stock: u64,
}

/// A page of search results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPage {
    pub query: CatalogQuery,
    pub items: Vec<CatalogItem>,
    pub total: u64,
    pub pages: u32,
    pub facets: Facets,
    /// The newest record among all products searched, and whether the
    /// projection is known to lag (lists never wait for it).
    #[serde(with = "time::serde::rfc3339::option")]
    pub projected_at: Option<OffsetDateTime>,
    pub stale: bool,
}

/// The storefront's home: top rated and trending.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Showcase {
    /// Best average among products with at least 3 reviews.
    pub top_rated: Vec<CatalogItem>,
    /// Most units sold in the last 24 hours.
    pub trending: Vec<CatalogItem>,
    pub categories: Vec<FacetCount>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub projected_at: Option<OffsetDateTime>,
    pub stale: bool,
}

/// What a product page shows besides the product record itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductExtras {
    pub rating: RatingSummary,
    /// The 5 most recent, newest first.
    pub recent_reviews: Vec<ReviewView>,
    pub seller: Option<SellerView>,
}

#[server(prefix = "/rpc")]
pub async fn search_catalog(params: CatalogParams) -> Result<CatalogPage, AppError> {
    let query = params.check()?;
    let ports = super::server::ports()?;
    ports
        .catalog
        .search(query)
        .await
        .map_err(|e| AppError::Transport(e.to_string()))
}

#[server(prefix = "/rpc")]
pub async fn storefront_showcase() -> Result<Showcase, AppError> {
    let ports = super::server::ports()?;
    ports
        .catalog
        .showcase(8)
        .await
        .map_err(|e| AppError::Transport(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> CatalogParams {
        let mut p = CatalogParams::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "q" => p.q = v,
                "category" => p.category = v,
                "min_price" => p.min_price = v,
                "max_price" => p.max_price = v,
                "min_rating" => p.min_rating = v,
                "in_stock" => p.in_stock = v,
                "sort" => p.sort = v,
                "page" => p.page = v,
                "per_page" => p.per_page = v,
                _ => unreachable!(),
            }
        }
        p
    }

    fn field_of(e: AppError) -> String {
        match e {
            AppError::BadInput { field, .. } => field,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn a_search_url_becomes_a_checked_query() {
        let q = params(&[
            ("q", " wireless headphones "),
            ("max_price", "100"),
            ("category", "Electronics"),
            ("in_stock", "on"),
            ("sort", "price_desc"),
            ("page", "2"),
        ])
        .check()
        .unwrap();
        assert_eq!(q.text, "wireless headphones");
        assert_eq!(q.max_price, Some(Money::from_minor(10_000)));
        assert_eq!(q.category.as_deref(), Some("Electronics"));
        assert!(q.in_stock);
        assert_eq!(q.sort, CatalogSort::PriceDesc);
        assert_eq!((q.page, q.per_page), (2, PER_PAGE));
        // Empty fields (a form's blank inputs) mean "not set".
        let blank = params(&[("min_price", ""), ("min_rating", " "), ("sort", "")])
            .check()
            .unwrap();
        assert_eq!(
            blank,
            CatalogQuery {
                page: 1,
                per_page: PER_PAGE,
                ..Default::default()
            }
        );
    }

    #[test]
    fn each_wrong_parameter_is_named() {
        for (pairs, field) in [
            (vec![("min_price", "cheap")], "min_price"),
            (vec![("min_price", "50"), ("max_price", "10")], "max_price"),
            (vec![("min_rating", "6")], "min_rating"),
            (vec![("min_rating", "4.5")], "min_rating"),
            (vec![("in_stock", "maybe")], "in_stock"),
            (vec![("sort", "random")], "sort"),
            (vec![("page", "0")], "page"),
            (vec![("per_page", "1000")], "per_page"),
        ] {
            assert_eq!(
                field_of(params(&pairs).check().unwrap_err()),
                field,
                "{pairs:?}"
            );
        }
        let long = "x".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(field_of(params(&[("q", &long)]).check().unwrap_err()), "q");
    }
}
