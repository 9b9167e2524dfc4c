//! Catalog search over the product records held in memory: full text over
//! name, category, tags and description (English stemming, so "lamps"
//! finds "lamp"; the last word may be a prefix, as people type), filters,
//! facet counts, sorting and pages. Pure: the cache feeds it records.
//!
//! Why in memory rather than in the read store: rating and units sold come
//! from records other partitions write, so no single stored record could be
//! filtered and sorted by them without write conflicts. Each search scans
//! the whole catalog: well under a millisecond for the demo's few hundred
//! products, but 37–106 ms at 100,000 (and 156 MB; `make bench-reads`,
//! BENCHMARKS.md). A large catalog needs an inverted index, or a search
//! engine behind the same `CatalogQueries` port.

use app::api::catalog::{CatalogItem, CatalogQuery, CatalogSort, FacetCount, Facets};
use domain::views::{ProductView, RatingSummary};
use domain::{Money, ProductId};
use rust_stemmers::{Algorithm, Stemmer};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use time::OffsetDateTime;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Lower-cased, stemmed words of a text.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| stemmer().stem(&w.to_lowercase()).into_owned())
        .collect()
}

/// Field weights: a word in the name says more than one in the description.
const NAME: f32 = 4.0;
const TAGS: f32 = 2.5;
const CATEGORY: f32 = 2.0;
const DESCRIPTION: f32 = 1.0;

/// A product as the catalog searches it.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub view: ProductView,
    pub rating: RatingSummary,
    fields: Vec<(f32, Vec<String>)>,
    /// The name lower-cased once, for sorting (not per comparison).
    sort_name: String,
}

impl CatalogEntry {
    pub fn new(view: ProductView, rating: RatingSummary) -> Self {
        let fields = vec![
            (NAME, words(&view.name)),
            (TAGS, view.tags.iter().flat_map(|t| words(t)).collect()),
            (CATEGORY, words(&view.category)),
            (DESCRIPTION, words(&view.description)),
        ];
        CatalogEntry {
            sort_name: view.name.to_lowercase(),
            view,
            rating,
            fields,
        }
    }

    /// The match score for the query's words (all must match; the last may
    /// be the start of a word), or `None`.
    fn score(&self, query: &[String], last_is_prefix: bool) -> Option<f32> {
        let mut total = 0.0;
        for (i, term) in query.iter().enumerate() {
            let prefix = last_is_prefix && i + 1 == query.len() && term.chars().count() >= 2;
            let best = self
                .fields
                .iter()
                .map(|(weight, words)| {
                    if words.iter().any(|w| w == term) {
                        *weight
                    } else if prefix && words.iter().any(|w| w.starts_with(term.as_str())) {
                        weight * 0.6
                    } else {
                        0.0
                    }
                })
                .fold(0.0, f32::max);
            if best == 0.0 {
                return None;
            }
            total += best;
        }
        Some(total)
    }

    pub fn item(&self, now: OffsetDateTime) -> CatalogItem {
        let v = &self.view;
        CatalogItem {
            product_id: v.product_id,
            name: v.name.clone(),
            category: v.category.clone(),
            image_url: v.image_url.clone(),
            price: v.price,
            was: v.previous_price.filter(|_| v.price_dropped()),
            stock: v.stock,
            rating: self.rating,
            units_sold: v.units_sold,
            units_sold_24h: v.units_sold_recently(now),
            version: v.version,
            projected_at: v.projected_at,
        }
    }
}

/// Price ranges offered as facets, in minor units: `[from, to)`.
const PRICE_RANGES: [(i64, Option<i64>); 6] = [
    (0, Some(2_500)),
    (2_500, Some(5_000)),
    (5_000, Some(10_000)),
    (10_000, Some(25_000)),
    (25_000, Some(50_000)),
    (50_000, None),
];

fn range_value(from: i64, to: Option<i64>) -> (String, String) {
    let money = |m: i64| Money::from_minor(m).to_string();
    match to {
        Some(to) if from == 0 => (
            format!("-{}", money(to - 1)),
            format!("Under {}", money(to)),
        ),
        Some(to) => (
            format!("{}-{}", money(from), money(to - 1)),
            format!("{} – {}", money(from), money(to - 1)),
        ),
        None => (
            format!("{}-", money(from)),
            format!("{} and over", money(from)),
        ),
    }
}

/// Which filters to apply: each facet counts with every filter but its own.
#[derive(Clone, Copy)]
struct Except {
    category: bool,
    price: bool,
    rating: bool,
    stock: bool,
}

const ALL_FILTERS: Except = Except {
    category: false,
    price: false,
    rating: false,
    stock: false,
};

fn passes(entry: &CatalogEntry, q: &CatalogQuery, except: Except) -> bool {
    let v = &entry.view;
    if !except.category && q.category.as_deref().is_some_and(|c| c != v.category) {
        return false;
    }
    if !except.price
        && (q.min_price.is_some_and(|m| v.price < m) || q.max_price.is_some_and(|m| v.price > m))
    {
        return false;
    }
    if !except.rating {
        if let Some(stars) = q.min_rating {
            let tenths = entry.rating.average_tenths().unwrap_or(0);
            if entry.rating.count == 0 || tenths < u64::from(stars) * 10 {
                return false;
            }
        }
    }
    if !except.stock && q.in_stock && v.stock == 0 {
        return false;
    }
    true
}

fn by_name(a: &CatalogEntry, b: &CatalogEntry) -> Ordering {
    a.sort_name
        .cmp(&b.sort_name)
        .then(a.view.product_id.cmp(&b.view.product_id))
}

fn by_rating(a: &CatalogEntry, b: &CatalogEntry) -> Ordering {
    b.rating
        .average_tenths()
        .cmp(&a.rating.average_tenths())
        .then(b.rating.count.cmp(&a.rating.count))
}

/// A result page before it is turned into items.
pub struct Found<'a> {
    pub entries: Vec<&'a CatalogEntry>,
    pub total: u64,
    pub pages: u32,
    pub facets: Facets,
}

/// The listed products, by id.
#[derive(Default)]
pub struct CatalogIndex {
    pub entries: HashMap<ProductId, Arc<CatalogEntry>>,
}

impl CatalogIndex {
    fn listed(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.entries
            .values()
            .map(|e| e.as_ref())
            .filter(|e| !e.view.deleted)
    }

    pub fn search(&self, q: &CatalogQuery) -> Found<'_> {
        let terms = words(&q.text);
        // A query ending in a space has finished its last word.
        let last_is_prefix = !q.text.ends_with(char::is_whitespace);
        let matched: Vec<(&CatalogEntry, f32)> = self
            .listed()
            .filter_map(|e| {
                if terms.is_empty() {
                    Some((e, 0.0))
                } else {
                    e.score(&terms, last_is_prefix).map(|s| (e, s))
                }
            })
            .collect();

        let mut facets = Facets::default();
        let mut categories: BTreeMap<&str, u64> = BTreeMap::new();
        let mut prices = [0u64; PRICE_RANGES.len()];
        let mut ratings = [0u64; 4];
        for (e, _) in &matched {
            if passes(
                e,
                q,
                Except {
                    category: true,
                    ..ALL_FILTERS
                },
            ) {
                *categories.entry(e.view.category.as_str()).or_default() += 1;
            }
            if passes(
                e,
                q,
                Except {
                    price: true,
                    ..ALL_FILTERS
                },
            ) {
                let minor = e.view.price.minor();
                if let Some(i) = PRICE_RANGES
                    .iter()
                    .position(|(from, to)| minor >= *from && to.is_none_or(|t| minor < t))
                {
                    prices[i] += 1;
                }
            }
            if passes(
                e,
                q,
                Except {
                    rating: true,
                    ..ALL_FILTERS
                },
            ) && e.rating.count > 0
            {
                let tenths = e.rating.average_tenths().unwrap_or(0);
                for (i, stars) in (1..=4u64).rev().enumerate() {
                    if tenths >= stars * 10 {
                        ratings[i] += 1;
                    }
                }
            }
            if passes(
                e,
                q,
                Except {
                    stock: true,
                    ..ALL_FILTERS
                },
            ) && e.view.stock > 0
            {
                facets.in_stock += 1;
            }
        }
        facets.categories = categories
            .into_iter()
            .map(|(c, count)| FacetCount {
                value: c.to_owned(),
                label: c.to_owned(),
                count,
            })
            .collect();
        facets.price_ranges = PRICE_RANGES
            .iter()
            .zip(prices)
            .filter(|(_, count)| *count > 0)
            .map(|((from, to), count)| {
                let (value, label) = range_value(*from, *to);
                FacetCount {
                    value,
                    label,
                    count,
                }
            })
            .collect();
        facets.ratings = (1..=4u8)
            .rev()
            .zip(ratings)
            .map(|(stars, count)| FacetCount {
                value: stars.to_string(),
                label: format!("{stars} stars & up"),
                count,
            })
            .collect();

        let mut hits: Vec<(&CatalogEntry, f32)> = matched
            .into_iter()
            .filter(|(e, _)| passes(e, q, ALL_FILTERS))
            .collect();
        hits.sort_by(|(a, sa), (b, sb)| {
            let primary = match q.sort {
                CatalogSort::Relevance if terms.is_empty() => {
                    b.view.units_sold.cmp(&a.view.units_sold)
                }
                CatalogSort::Relevance => sb.partial_cmp(sa).unwrap_or(Ordering::Equal),
                CatalogSort::PriceAsc => a.view.price.cmp(&b.view.price),
                CatalogSort::PriceDesc => b.view.price.cmp(&a.view.price),
                CatalogSort::Rating => by_rating(a, b),
                CatalogSort::Newest => b.view.created_at.cmp(&a.view.created_at),
                CatalogSort::BestSelling => b.view.units_sold.cmp(&a.view.units_sold),
            };
            primary.then_with(|| by_name(a, b))
        });
        let total = hits.len() as u64;
        let per_page = q.per_page.max(1) as usize;
        let pages = hits.len().div_ceil(per_page) as u32;
        let start = (q.page.max(1) as usize - 1) * per_page;
        Found {
            entries: hits
                .into_iter()
                .skip(start)
                .take(per_page)
                .map(|(e, _)| e)
                .collect(),
            total,
            pages,
            facets,
        }
    }

    /// At least 3 reviews, best average first.
    pub fn top_rated(&self, limit: usize) -> Vec<&CatalogEntry> {
        let mut rated: Vec<&CatalogEntry> = self.listed().filter(|e| e.rating.count >= 3).collect();
        rated.sort_by(|a, b| by_rating(a, b).then_with(|| by_name(a, b)));
        rated.truncate(limit);
        rated
    }

    /// Most units sold in the last 24 hours (at least one).
    pub fn trending(&self, limit: usize, now: OffsetDateTime) -> Vec<&CatalogEntry> {
        let mut selling: Vec<(&CatalogEntry, u64)> = self
            .listed()
            .map(|e| (e, e.view.units_sold_recently(now)))
            .filter(|(_, units)| *units > 0)
            .collect();
        selling.sort_by(|(a, ua), (b, ub)| ub.cmp(ua).then_with(|| by_name(a, b)));
        selling.into_iter().take(limit).map(|(e, _)| e).collect()
    }

    /// Every category with its listed products.
    pub fn categories(&self) -> Vec<FacetCount> {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for e in self.listed() {
            *counts.entry(e.view.category.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(c, count)| FacetCount {
                value: c.to_owned(),
                label: c.to_owned(),
                count,
            })
            .collect()
    }

    pub fn newest_projection(&self) -> Option<OffsetDateTime> {
        self.entries.values().map(|e| e.view.projected_at).max()
    }
}
