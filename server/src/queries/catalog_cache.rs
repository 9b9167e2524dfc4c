//! The catalog held in memory: every product record with its rating, the
//! sellers, and recent reviews of the products people look at. Product
//! reads and searches are answered from here.
//!
//! It follows the projection notices (the live hub), not a timer: a notice
//! reloads the records it names. Notices are at-most-once, so every entry
//! keeps its versions (an older reload never replaces a newer entry), and
//! the whole cache is reloaded when notices may have been lost (the hub's
//! epoch moved, the receiver lagged) or a rebuild switched generations.

use super::catalog_search::{CatalogEntry, CatalogIndex};
use crate::pipeline::live::LiveHub;
use crate::store::read::{ReadStore, PRODUCT_VIEWS};
use crate::store::StoreError;
use app::live::{PRODUCT_REVIEWS, PRODUCT_VIEW, SELLER_VIEW};
use domain::views::{ProductView, RatingSummary, ReviewView, SellerView};
use domain::{ProductId, SellerId};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

/// Reviews a product page shows.
pub const RECENT_REVIEWS: usize = 5;
/// Notices taken together into one reload.
const NOTICE_BATCH: usize = 1024;

#[derive(Default)]
struct Cached {
    index: CatalogIndex,
    sellers: HashMap<SellerId, SellerView>,
    reviews: HashMap<ProductId, Arc<Vec<ReviewView>>>,
    /// What the cache was loaded from: `None` until the first load.
    loaded: Option<Source>,
    /// Moves when something every product page shows changed: a seller,
    /// or a full reload.
    shared_changes: u64,
}

/// What a product's page was made from, to tell later whether it still
/// shows the cache's current state (see `http::response_cache`). A notice
/// for the product or its reviews replaces its entry (a new `Arc`); holding
/// the old one keeps its address from being reused, so comparing pointers
/// is sound.
#[derive(Clone)]
pub struct CatalogStamp {
    entry: Arc<CatalogEntry>,
    shared_changes: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Source {
    generation: Option<u32>,
    epoch: u64,
}

pub struct CatalogCache {
    read: ReadStore,
    live: LiveHub,
    cached: RwLock<Cached>,
    /// One full load at a time.
    loading: tokio::sync::Mutex<()>,
    /// The live hub position whose notices the cache has applied: a read
    /// waits for the position the hub had reached, so a browser refetching
    /// on a notice never gets the record from before it.
    applied: tokio::sync::watch::Sender<u64>,
}

fn newer(candidate: &ProductView, current: &ProductView) -> bool {
    (candidate.version, candidate.inventory_version) >= (current.version, current.inventory_version)
}

impl CatalogCache {
    pub fn new(read: ReadStore, live: LiveHub) -> Arc<Self> {
        Arc::new(CatalogCache {
            read,
            live,
            cached: RwLock::new(Cached::default()),
            loading: tokio::sync::Mutex::new(()),
            applied: tokio::sync::watch::channel(0).0,
        })
    }

    fn source(&self) -> Source {
        Source {
            generation: self.read.active.get(PRODUCT_VIEWS),
            epoch: self.live.epoch(),
        }
    }

    fn cached(&self) -> std::sync::RwLockReadGuard<'_, Cached> {
        self.cached.read().unwrap_or_else(|p| p.into_inner())
    }

    fn cached_mut(&self) -> std::sync::RwLockWriteGuard<'_, Cached> {
        self.cached.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads everything again (unless another task just did).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one = self.loading.lock().await;
        let source = self.source();
        if self.cached().loaded == Some(source) {
            return Ok(());
        }
        if source.generation.is_none() {
            // The first generation is still being built: nothing to serve yet.
            let mut cached = self.cached_mut();
            *cached = Cached::default();
            cached.loaded = Some(source);
            return Ok(());
        }
        let views = self.read.all_product_views().await?;
        let mut ratings = self.read.ratings(None).await?;
        let sellers = self.read.all_seller_views().await?;
        let mut index = CatalogIndex::default();
        for view in views {
            let rating = ratings.remove(&view.product_id).unwrap_or_default();
            index
                .entries
                .insert(view.product_id, Arc::new(CatalogEntry::new(view, rating)));
        }
        let mut cached = self.cached_mut();
        // Entries a notice refreshed while this load ran may be newer.
        if cached
            .loaded
            .is_some_and(|l| l.generation == source.generation)
        {
            for (id, entry) in &cached.index.entries {
                if let Some(loaded) = index.entries.get(id) {
                    if !newer(&loaded.view, &entry.view) {
                        index.entries.insert(*id, entry.clone());
                    }
                }
            }
        }
        cached.index = index;
        cached.sellers = sellers.into_iter().map(|s| (s.seller_id, s)).collect();
        cached.reviews.clear();
        cached.loaded = Some(source);
        cached.shared_changes += 1;
        Ok(())
    }

    /// Waits (briefly) until the notices the hub had received when the read
    /// began are applied, then loads the cache if what it was loaded from
    /// changed.
    pub async fn ensure_fresh(&self) -> Result<(), StoreError> {
        let target = self.live.position();
        let mut applied = self.applied.subscribe();
        let _ = tokio::time::timeout(
            Duration::from_millis(500),
            applied.wait_for(|p| *p >= target),
        )
        .await;
        if self.cached().loaded != Some(self.source()) {
            self.reload().await?;
        }
        Ok(())
    }

    async fn refresh(
        &self,
        products: BTreeSet<String>,
        rated: BTreeSet<String>,
        sellers: BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = products.union(&rated).cloned().collect();
        let views = self.read.product_views_by_ids(&ids).await?;
        let rated_ids: Vec<String> = rated.iter().cloned().collect();
        let ratings = if rated_ids.is_empty() {
            HashMap::new()
        } else {
            self.read.ratings(Some(&rated_ids)).await?
        };
        let seller_ids: Vec<String> = sellers.into_iter().collect();
        let seller_views: Vec<SellerView> = if seller_ids.is_empty() {
            vec![]
        } else {
            self.read.seller_views_by_ids(&seller_ids).await?
        };
        let mut cached = self.cached_mut();
        for view in views {
            let id = view.product_id;
            let current = cached.index.entries.get(&id).cloned();
            let rating_changed = rated.contains(&id.to_string());
            let rating: RatingSummary = if rating_changed {
                ratings.get(&id).copied().unwrap_or_default()
            } else {
                current.as_ref().map(|e| e.rating).unwrap_or_default()
            };
            let view = match current {
                Some(c) if !newer(&view, &c.view) => c.view.clone(),
                _ => view,
            };
            if rating_changed {
                cached.reviews.remove(&id);
            }
            cached
                .index
                .entries
                .insert(id, Arc::new(CatalogEntry::new(view, rating)));
        }
        if !seller_views.is_empty() {
            cached.shared_changes += 1;
        }
        for seller in seller_views {
            cached.sellers.insert(seller.seller_id, seller);
        }
        Ok(())
    }

    /// Follows the notices until shutdown.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        // Subscribe before the first load, so no notice falls in between.
        let mut notices = cache.live.subscribe();
        // Notices from before the subscription are in the first load.
        cache.applied.send_replace(cache.live.position());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                let first = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => None,
                    n = notices.recv() => Some(n),
                };
                let mut products = BTreeSet::new();
                let mut rated = BTreeSet::new();
                let mut sellers = BTreeSet::new();
                let mut lost = false;
                let mut position = 0u64;
                let mut take = |n: Result<crate::pipeline::live::LiveEntry, RecvError>| match n {
                    Ok(entry) => {
                        position = position.max(entry.position);
                        let id = entry.notice.aggregate_id.clone();
                        match entry.notice.read_model.as_str() {
                            PRODUCT_VIEW => {
                                products.insert(id);
                            }
                            PRODUCT_REVIEWS => {
                                rated.insert(id);
                            }
                            SELLER_VIEW => {
                                sellers.insert(id);
                            }
                            _ => {}
                        }
                        true
                    }
                    Err(RecvError::Lagged(_)) => {
                        lost = true;
                        true
                    }
                    Err(RecvError::Closed) => false,
                };
                if let Some(first) = first {
                    if !take(first) {
                        return;
                    }
                    for _ in 0..NOTICE_BATCH {
                        match notices.try_recv() {
                            Ok(entry) => {
                                take(Ok(entry));
                            }
                            Err(TryRecvError::Lagged(n)) => {
                                take(Err(RecvError::Lagged(n)));
                            }
                            Err(TryRecvError::Empty) => break,
                            Err(TryRecvError::Closed) => return,
                        }
                    }
                }
                if lost {
                    // The reload reads everything up to now.
                    position = position.max(cache.live.position());
                }
                let result = if lost || cache.cached().loaded != Some(cache.source()) {
                    if lost {
                        // Force the reload even if the source did not change.
                        cache.cached_mut().loaded = None;
                    }
                    cache.reload().await
                } else if !(products.is_empty() && rated.is_empty() && sellers.is_empty()) {
                    cache.refresh(products, rated, sellers).await
                } else {
                    Ok(())
                };
                match result {
                    Ok(()) => {
                        cache.applied.send_if_modified(|p| {
                            let moved = position > *p;
                            *p = (*p).max(position);
                            moved
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "catalog cache could not reload; will retry");
                        cache.cached_mut().loaded = None;
                    }
                }
            }
        })
    }

    /// The product's current state, if the cache has applied every notice
    /// the hub has received and the product exists: what a response made
    /// now would show.
    pub fn stamp(&self, id: ProductId) -> Option<CatalogStamp> {
        if *self.applied.borrow() < self.live.position() {
            return None;
        }
        let cached = self.cached();
        if cached.loaded != Some(self.source()) {
            return None;
        }
        Some(CatalogStamp {
            entry: cached.index.entries.get(&id)?.clone(),
            shared_changes: cached.shared_changes,
        })
    }

    /// Whether a response made at `stamp` still shows the current state.
    pub fn still_current(&self, stamp: &CatalogStamp) -> bool {
        self.stamp(stamp.entry.view.product_id).is_some_and(|now| {
            Arc::ptr_eq(&now.entry, &stamp.entry) && now.shared_changes == stamp.shared_changes
        })
    }

    pub fn entry(&self, id: ProductId) -> Option<Arc<CatalogEntry>> {
        self.cached().index.entries.get(&id).cloned()
    }

    pub fn seller(&self, id: SellerId) -> Option<SellerView> {
        self.cached().sellers.get(&id).cloned()
    }

    /// A product's recent reviews, from the store the first time.
    pub async fn recent_reviews(&self, id: ProductId) -> Result<Arc<Vec<ReviewView>>, StoreError> {
        if let Some(reviews) = self.cached().reviews.get(&id) {
            return Ok(reviews.clone());
        }
        let before = self.entry(id);
        let reviews = Arc::new(self.read.recent_reviews(id, RECENT_REVIEWS).await?);
        let mut cached = self.cached_mut();
        // Keep them only if no notice replaced the entry meanwhile.
        let unchanged = match (&before, cached.index.entries.get(&id)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if unchanged {
            cached.reviews.insert(id, reviews.clone());
        }
        Ok(reviews)
    }

    /// Runs `f` over the index.
    pub fn with_index<R>(&self, f: impl FnOnce(&CatalogIndex) -> R) -> R {
        f(&self.cached().index)
    }
}
