//! Read records and their pure folds. Projectors run these on the server; the
//! browser runs the same code for optimistic updates.

use crate::event::{DomainEvent, EventEnvelope};
use crate::ids::{CustomerId, EventId, OrderId, ProductId, ReviewId, SellerId};
use crate::inventory::InventoryEvent;
use crate::money::Money;
use crate::order::{OrderEvent, OrderLine, OrderStatus};
use crate::party::SellerEvent;
use crate::product::{ProductEvent, ShippingOption};
use crate::review::ReviewEvent;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// How far back a product page's price history reaches: its "price 90 days
/// ago" needs the price in effect then, so one older point is kept too.
pub const PRICE_HISTORY_DAYS: i64 = 90;
/// Hours of sales a product page keeps for "trending" (units sold in the
/// last 24 hours, evaluated when read).
pub const RECENT_SALES_HOURS: i64 = 24;

/// What a projector does with an event, given the last version it applied
/// for that aggregate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequencing {
    /// The next version: apply it.
    Apply,
    /// Already applied (a redelivery or a duplicate): skip it.
    AlreadyApplied,
    /// Versions in between are missing: load them first.
    Gap { missing_from: u64, missing_to: u64 },
}

pub fn sequence(last_applied: u64, incoming: u64) -> Sequencing {
    if incoming <= last_applied {
        Sequencing::AlreadyApplied
    } else if incoming == last_applied + 1 {
        Sequencing::Apply
    } else {
        Sequencing::Gap {
            missing_from: last_applied + 1,
            missing_to: incoming - 1,
        }
    }
}

/// The product page's read record: everything the page shows, denormalized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub product_id: ProductId,
    #[serde(default)]
    pub seller_id: Option<SellerId>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub shipping_options: Vec<ShippingOption>,
    pub price: Money,
    /// The price before the last change, for "was 24.99".
    pub previous_price: Option<Money>,
    /// Units available, from the product's Inventory aggregate.
    pub stock: u32,
    /// When the product was created ("newest" sorts by it).
    #[serde(default = "unix_epoch", with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Every price in effect during the last [`PRICE_HISTORY_DAYS`] days
    /// (and the one before), oldest first. Kept in the record because the
    /// "lowest price of the last 30 days" changes as time passes, with no
    /// event to say so: it is evaluated when read ([`ProductView::pricing`]).
    #[serde(default)]
    pub price_history: Vec<PricePoint>,
    /// Units sold: reserved by orders, less those released by cancellations
    /// and returns.
    #[serde(default)]
    pub units_sold: u64,
    /// Net units sold per UTC hour over the last day, for "trending".
    #[serde(default)]
    pub recent_sales: Vec<HourlyUnits>,
    /// Deleted products keep their record (old orders link to it) but leave
    /// the catalog.
    #[serde(default)]
    pub deleted: bool,
    /// Version of the Product aggregate folded into this record.
    pub version: u64,
    /// Version of the Inventory aggregate folded into this record.
    #[serde(default)]
    pub inventory_version: u64,
    /// When the last applied event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub event_time: OffsetDateTime,
    /// When the projector wrote this record.
    #[serde(with = "time::serde::rfc3339")]
    pub projected_at: OffsetDateTime,
}

fn unix_epoch() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

/// A price and the moment it took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricePoint {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    pub price: Money,
}

/// Net units sold in one UTC hour (hours since the Unix epoch). Negative when
/// more units came back in that hour than were sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HourlyUnits {
    pub hour: i64,
    pub units: i64,
}

/// The price facts a shopper is owed, evaluated at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceFacts {
    /// The lowest price in effect at any time in the last 30 days.
    pub lowest_30_days: Money,
    /// The price 30 and 90 days ago (`None`: the product did not exist yet).
    pub price_30_days_ago: Option<Money>,
    pub price_90_days_ago: Option<Money>,
}

fn hour_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(3600)
}

/// Why an event cannot be folded into a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("{0} arrived for a product that was never created")]
    MissingCreation(&'static str),
    #[error("aggregate id {0:?} is not a valid id for this aggregate")]
    BadAggregateId(String),
    #[error("{0} arrived for an order that was never placed")]
    OrderNotPlaced(&'static str),
    #[error("aggregate id {0:?} is not an order id")]
    BadOrderId(String),
}

impl ProductView {
    /// Folds one product event into the record (`None` before creation).
    /// The caller has already checked the sequencing; `projected_at` is set to
    /// the event time here and overwritten by the projector when it writes.
    pub fn apply(
        view: Option<ProductView>,
        event: &EventEnvelope<ProductEvent>,
    ) -> Result<ProductView, FoldError> {
        let product_id: ProductId = event
            .aggregate_id
            .parse()
            .map_err(|_| FoldError::BadAggregateId(event.aggregate_id.clone()))?;
        let mut next = match (&event.payload, view) {
            (ProductEvent::ProductCreated(e), _) => ProductView {
                product_id,
                seller_id: Some(e.seller_id),
                name: e.details.name.clone(),
                description: e.details.description.clone(),
                category: e.details.category.clone(),
                tags: e.details.tags.clone(),
                image_url: e.details.image_url.clone(),
                shipping_options: e.details.shipping_options.clone(),
                price: e.price,
                previous_price: None,
                stock: 0,
                created_at: event.occurred_at,
                price_history: vec![PricePoint {
                    from: event.occurred_at,
                    price: e.price,
                }],
                units_sold: 0,
                recent_sales: vec![],
                deleted: false,
                version: 0,
                inventory_version: 0,
                event_time: event.occurred_at,
                projected_at: event.occurred_at,
            },
            (ProductEvent::ProductUpdated(e), Some(mut v)) => {
                v.name = e.details.name.clone();
                v.description = e.details.description.clone();
                v.category = e.details.category.clone();
                v.tags = e.details.tags.clone();
                v.image_url = e.details.image_url.clone();
                v.shipping_options = e.details.shipping_options.clone();
                v
            }
            (ProductEvent::PriceChanged(e), Some(mut v)) => {
                v.previous_price = Some(v.price);
                v.price = e.new_price;
                v.price_history.push(PricePoint {
                    from: event.occurred_at,
                    price: e.new_price,
                });
                v.prune_price_history(event.occurred_at);
                v
            }
            (ProductEvent::ProductDeleted(_), Some(mut v)) => {
                v.deleted = true;
                v
            }
            (other, None) => return Err(FoldError::MissingCreation(other.event_type())),
        };
        next.version = event.aggregate_version;
        next.event_time = event.occurred_at;
        Ok(next)
    }

    /// Folds one of the product's inventory events: the stock shown. The
    /// product is created in the same transaction as its inventory and its
    /// event comes first, so a missing record is an error, not a blank one.
    pub fn apply_inventory(
        view: Option<ProductView>,
        event: &EventEnvelope<InventoryEvent>,
    ) -> Result<ProductView, FoldError> {
        let Some(mut v) = view else {
            return Err(FoldError::MissingCreation(event.payload.event_type()));
        };
        let sold: i64 = match &event.payload {
            InventoryEvent::InventoryAdjusted(e) => {
                v.stock = e.available;
                0
            }
            InventoryEvent::StockReserved(e) => {
                v.stock = e.available;
                v.units_sold = v.units_sold.saturating_add(u64::from(e.quantity));
                i64::from(e.quantity)
            }
            InventoryEvent::StockReleased(e) => {
                v.stock = e.available;
                v.units_sold = v.units_sold.saturating_sub(u64::from(e.quantity));
                -i64::from(e.quantity)
            }
        };
        if sold != 0 {
            v.record_sales(event.occurred_at, sold);
        }
        v.inventory_version = event.aggregate_version;
        v.event_time = v.event_time.max(event.occurred_at);
        Ok(v)
    }

    /// True when the price went down with the last change ("price dropped").
    pub fn price_dropped(&self) -> bool {
        self.previous_price.is_some_and(|p| p > self.price)
    }

    /// Drops the points no longer needed at `now`: those replaced before the
    /// history's start, except the one in effect at its start.
    fn prune_price_history(&mut self, now: OffsetDateTime) {
        let start = now - Duration::days(PRICE_HISTORY_DAYS);
        let in_effect_at_start = self
            .price_history
            .iter()
            .rposition(|p| p.from <= start)
            .unwrap_or(0);
        self.price_history.drain(..in_effect_at_start);
    }

    fn record_sales(&mut self, at: OffsetDateTime, units: i64) {
        let hour = hour_of(at);
        match self.recent_sales.iter_mut().find(|h| h.hour == hour) {
            Some(bucket) => bucket.units += units,
            None => {
                self.recent_sales.push(HourlyUnits { hour, units });
                self.recent_sales.sort_by_key(|h| h.hour);
            }
        }
        // Events can arrive up to the stream's reordering late; keep one
        // hour more than the window.
        let oldest = hour - RECENT_SALES_HOURS;
        self.recent_sales.retain(|h| h.hour >= oldest);
    }

    /// The price in effect at `at` (`None` before the product existed).
    pub fn price_at(&self, at: OffsetDateTime) -> Option<Money> {
        if at < self.created_at {
            return None;
        }
        self.price_history
            .iter()
            .rev()
            .find(|p| p.from <= at)
            .or(self.price_history.first())
            .map(|p| p.price)
            .or(Some(self.price))
    }

    /// The lowest price in effect at any moment in `[now - 30 days, now]`,
    /// and the prices 30 and 90 days ago.
    pub fn pricing(&self, now: OffsetDateTime) -> PriceFacts {
        let since = now - Duration::days(30);
        let in_window = self
            .price_history
            .iter()
            .filter(|p| p.from > since && p.from <= now)
            .map(|p| p.price);
        let lowest_30_days = self
            .price_at(since)
            .into_iter()
            .chain(in_window)
            .chain(std::iter::once(self.price))
            .min()
            .unwrap_or(self.price);
        PriceFacts {
            lowest_30_days,
            price_30_days_ago: self.price_at(since),
            price_90_days_ago: self.price_at(now - Duration::days(90)),
        }
    }

    /// Net units sold in the `RECENT_SALES_HOURS` hours up to `now` (this hour
    /// included), never below 0.
    pub fn units_sold_recently(&self, now: OffsetDateTime) -> u64 {
        let current = hour_of(now);
        let net: i64 = self
            .recent_sales
            .iter()
            .filter(|h| h.hour > current - RECENT_SALES_HOURS && h.hour <= current)
            .map(|h| h.units)
            .sum();
        u64::try_from(net).unwrap_or(0)
    }
}

/// One review as the product page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    pub review_id: ReviewId,
    pub product_id: ProductId,
    pub customer_id: CustomerId,
    pub rating: u8,
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub projected_at: OffsetDateTime,
}

impl ReviewView {
    pub fn apply(
        _view: Option<ReviewView>,
        event: &EventEnvelope<ReviewEvent>,
    ) -> Result<ReviewView, FoldError> {
        let review_id: ReviewId = event
            .aggregate_id
            .parse()
            .map_err(|_| FoldError::BadAggregateId(event.aggregate_id.clone()))?;
        match &event.payload {
            ReviewEvent::ReviewSubmitted(e) => Ok(ReviewView {
                review_id,
                product_id: e.product_id,
                customer_id: e.customer_id,
                rating: e.rating,
                comment: e.comment.clone(),
                submitted_at: event.occurred_at,
                version: event.aggregate_version,
                projected_at: event.occurred_at,
            }),
        }
    }
}

/// A product's reviews in figures: kept as a count and a sum so averages
/// combine exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingSummary {
    pub count: u64,
    pub sum: u64,
}

impl RatingSummary {
    pub fn add(&mut self, rating: u8) {
        self.count += 1;
        self.sum += u64::from(rating);
    }

    /// The average rating, 1.0–5.0 (`None` without reviews).
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The average in tenths, rounded half up (4.35 → 44), for filters and
    /// sorting without floating-point ties.
    pub fn average_tenths(&self) -> Option<u64> {
        (self.count > 0).then(|| (self.sum * 20 + self.count) / (self.count * 2))
    }
}

/// A seller as product pages show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerView {
    pub seller_id: SellerId,
    pub name: String,
    /// 0–50 (4.5 → 45), as the marketplace rates the seller.
    pub rating_tenths: Option<u8>,
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub projected_at: OffsetDateTime,
}

impl SellerView {
    pub fn apply(
        _view: Option<SellerView>,
        event: &EventEnvelope<SellerEvent>,
    ) -> Result<SellerView, FoldError> {
        let seller_id: SellerId = event
            .aggregate_id
            .parse()
            .map_err(|_| FoldError::BadAggregateId(event.aggregate_id.clone()))?;
        match &event.payload {
            SellerEvent::SellerRegistered(e) => Ok(SellerView {
                seller_id,
                name: e.name.clone(),
                rating_tenths: e.rating_tenths,
                version: event.aggregate_version,
                projected_at: event.occurred_at,
            }),
        }
    }
}

/// One step of an order's life, as its customer's history shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub event_id: EventId,
    /// The reason, tracking number or amount that came with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An order in its customer's history: the lines as they were bought, the
/// totals, where it stands, and a timeline derived from its events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub status: OrderStatus,
    /// Taken by the payment provider.
    pub paid: Money,
    /// Given back on cancellation or return.
    pub refunded: Money,
    #[serde(default)]
    pub tracking_number: Option<String>,
    pub timeline: Vec<StatusChange>,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
    /// The order aggregate's version this record reflects.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub event_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub projected_at: OffsetDateTime,
}

impl OrderView {
    /// Folds one order event (`None` before the order is placed). The caller
    /// has checked the sequencing.
    pub fn apply(
        view: Option<OrderView>,
        event: &EventEnvelope<OrderEvent>,
    ) -> Result<OrderView, FoldError> {
        let step = |status: OrderStatus, note: Option<String>| StatusChange {
            status,
            at: event.occurred_at,
            event_id: event.event_id,
            note,
        };
        let mut next = match (&event.payload, view) {
            (OrderEvent::OrderPlaced(e), _) => OrderView {
                order_id: event
                    .aggregate_id
                    .parse()
                    .map_err(|_| FoldError::BadOrderId(event.aggregate_id.clone()))?,
                customer_id: e.customer_id,
                lines: e.lines.clone(),
                total: e.total,
                status: OrderStatus::AwaitingPayment,
                paid: Money::ZERO,
                refunded: Money::ZERO,
                tracking_number: None,
                timeline: vec![step(OrderStatus::AwaitingPayment, None)],
                placed_at: event.occurred_at,
                version: 0,
                event_time: event.occurred_at,
                projected_at: event.occurred_at,
            },
            (OrderEvent::PaymentProcessed(e), Some(mut v)) => {
                v.paid = e.amount;
                v.status = OrderStatus::Paid;
                v.timeline.push(step(
                    OrderStatus::Paid,
                    Some(format!("payment {}", e.payment_id)),
                ));
                v
            }
            (OrderEvent::PaymentDeclined(e), Some(mut v)) => {
                v.status = OrderStatus::PaymentDeclined;
                v.timeline
                    .push(step(OrderStatus::PaymentDeclined, Some(e.reason.clone())));
                v
            }
            (OrderEvent::OrderConfirmed(_), Some(mut v)) => {
                v.status = OrderStatus::Confirmed;
                v.timeline.push(step(OrderStatus::Confirmed, None));
                v
            }
            (OrderEvent::OrderShipped(e), Some(mut v)) => {
                v.status = OrderStatus::Shipped;
                v.tracking_number = Some(e.tracking_number.clone());
                v.timeline
                    .push(step(OrderStatus::Shipped, Some(e.tracking_number.clone())));
                v
            }
            (OrderEvent::OrderDelivered(_), Some(mut v)) => {
                v.status = OrderStatus::Delivered;
                v.timeline.push(step(OrderStatus::Delivered, None));
                v
            }
            (OrderEvent::OrderCancelled(e), Some(mut v)) => {
                v.status = OrderStatus::Cancelled;
                v.refunded = Money::from_minor(v.refunded.minor().saturating_add(e.refund.minor()));
                v.timeline
                    .push(step(OrderStatus::Cancelled, Some(e.reason.clone())));
                v
            }
            (OrderEvent::OrderReturned(e), Some(mut v)) => {
                v.status = OrderStatus::Returned;
                v.refunded = Money::from_minor(v.refunded.minor().saturating_add(e.refund.minor()));
                v.timeline
                    .push(step(OrderStatus::Returned, Some(e.reason.clone())));
                v
            }
            (other, None) => return Err(FoldError::OrderNotPlaced(other.event_type())),
        };
        next.version = event.aggregate_version;
        next.event_time = event.occurred_at;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, AggregateType};
    use crate::ids::{CommandId, EventId};
    use crate::product::{PriceChanged, ProductCreated, ProductDetails};

    fn envelope(version: u64, payload: ProductEvent) -> EventEnvelope<ProductEvent> {
        EventEnvelope {
            event_id: EventId::new(),
            event_type: payload.event_type().into(),
            schema_version: 1,
            aggregate_type: AggregateType::Product,
            aggregate_id: "0190f5c2-0000-7000-8000-000000000001".into(),
            aggregate_version: version,
            occurred_at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(version as i64),
            actor: Actor::system("test"),
            command_id: CommandId::new(),
            correlation_id: uuid::Uuid::nil(),
            payload,
        }
    }

    fn price(old: i64, new: i64) -> ProductEvent {
        ProductEvent::PriceChanged(PriceChanged {
            old_price: Money::from_minor(old),
            new_price: Money::from_minor(new),
            cut_override: false,
        })
    }

    #[test]
    fn sequencing_applies_next_skips_old_and_reports_gaps() {
        assert_eq!(sequence(0, 1), Sequencing::Apply);
        assert_eq!(sequence(3, 3), Sequencing::AlreadyApplied);
        assert_eq!(sequence(3, 1), Sequencing::AlreadyApplied);
        assert_eq!(
            sequence(3, 6),
            Sequencing::Gap {
                missing_from: 4,
                missing_to: 5
            }
        );
    }

    #[test]
    fn folds_creation_and_price_changes() {
        let created = ProductEvent::ProductCreated(ProductCreated {
            seller_id: SellerId::HOUSE,
            details: ProductDetails {
                name: "Lamp".into(),
                category: "Home".into(),
                ..ProductDetails::default()
            },
            price: Money::from_minor(1000),
        });
        let v1 = ProductView::apply(None, &envelope(1, created)).unwrap();
        assert_eq!(
            (v1.version, v1.price, v1.stock, v1.previous_price),
            (1, Money::from_minor(1000), 0, None)
        );
        let v2 = ProductView::apply(Some(v1), &envelope(2, price(1000, 800))).unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.previous_price, Some(Money::from_minor(1000)));
        assert!(v2.price_dropped());
        assert_eq!(
            v2.event_time,
            OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(2)
        );
    }

    fn at_day(version: u64, day: i64, payload: ProductEvent) -> EventEnvelope<ProductEvent> {
        let mut e = envelope(version, payload);
        e.occurred_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(day);
        e
    }

    fn lamp(day: i64, price: i64) -> ProductView {
        let created = ProductEvent::ProductCreated(ProductCreated {
            seller_id: SellerId::HOUSE,
            details: ProductDetails {
                name: "Lamp".into(),
                category: "Home".into(),
                ..ProductDetails::default()
            },
            price: Money::from_minor(price),
        });
        ProductView::apply(None, &at_day(1, day, created)).unwrap()
    }

    fn day(n: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(n)
    }

    #[test]
    fn price_facts_are_evaluated_at_the_moment_they_are_read() {
        // Created day 100 at 50.00, cut to 40.00 day 150, raised to 60.00 day 200.
        let mut v = lamp(100, 5000);
        v = ProductView::apply(Some(v), &at_day(2, 150, price(5000, 4000))).unwrap();
        v = ProductView::apply(Some(v), &at_day(3, 200, price(4000, 6000))).unwrap();
        let facts = v.pricing(day(210));
        assert_eq!(facts.lowest_30_days, Money::from_minor(4000)); // 40.00 held until day 200
        assert_eq!(facts.price_30_days_ago, Some(Money::from_minor(4000)));
        assert_eq!(facts.price_90_days_ago, Some(Money::from_minor(5000)));
        // Time passes with no event: the cut leaves the 30-day window.
        let later = v.pricing(day(240));
        assert_eq!(later.lowest_30_days, Money::from_minor(6000));
        assert_eq!(later.price_30_days_ago, Some(Money::from_minor(6000)));
        // Before the product existed there was no price.
        assert_eq!(v.pricing(day(150)).price_90_days_ago, None);
    }

    #[test]
    fn price_history_keeps_the_point_in_effect_at_its_start_only() {
        let mut v = lamp(0, 1000);
        for (i, d) in (1..=10).map(|i| (i, i * 30)) {
            v = ProductView::apply(Some(v), &at_day(i as u64 + 1, d, price(1000, 1000 + i)))
                .unwrap();
        }
        // Day 300: the points from days 240, 270, 300 and the one in effect on day 210.
        let froms: Vec<i64> = v
            .price_history
            .iter()
            .map(|p| (p.from - OffsetDateTime::UNIX_EPOCH).whole_days())
            .collect();
        assert_eq!(froms, vec![210, 240, 270, 300]);
        assert_eq!(v.price_at(day(215)), Some(Money::from_minor(1007)));
    }

    fn stock_event(hour: i64, payload: InventoryEvent) -> EventEnvelope<InventoryEvent> {
        EventEnvelope {
            event_id: EventId::new(),
            event_type: payload.event_type().into(),
            schema_version: 1,
            aggregate_type: AggregateType::Inventory,
            aggregate_id: "0190f5c2-0000-7000-8000-000000000001".into(),
            aggregate_version: 1,
            occurred_at: OffsetDateTime::UNIX_EPOCH + time::Duration::hours(hour),
            actor: Actor::system("test"),
            command_id: CommandId::new(),
            correlation_id: uuid::Uuid::nil(),
            payload,
        }
    }

    #[test]
    fn units_sold_count_reservations_less_releases_and_trend_over_a_day() {
        use crate::inventory::{StockReleased, StockReserved};
        let order = OrderId::new();
        let reserve = |q| {
            InventoryEvent::StockReserved(StockReserved {
                order_id: order,
                quantity: q,
                available: 0,
            })
        };
        let mut v = lamp(0, 1000);
        let at = |h| OffsetDateTime::UNIX_EPOCH + time::Duration::hours(h);
        v = ProductView::apply_inventory(Some(v), &stock_event(5, reserve(5))).unwrap();
        assert_eq!(v.units_sold_recently(at(20)), 5);
        v = ProductView::apply_inventory(Some(v), &stock_event(30, reserve(3))).unwrap();
        let release = InventoryEvent::StockReleased(StockReleased {
            order_id: order,
            quantity: 2,
            reason: "cancelled".into(),
            available: 0,
        });
        v = ProductView::apply_inventory(Some(v), &stock_event(31, release)).unwrap();
        assert_eq!(v.units_sold, 6);
        // Hour 31: the last 24 hours hold 3 sold and 2 back; hour 5 is too old.
        assert_eq!(v.units_sold_recently(at(31)), 1);
        assert_eq!(v.units_sold_recently(at(60)), 0);
        // Buckets older than the window are dropped as events arrive.
        assert!(v
            .recent_sales
            .iter()
            .all(|h| h.hour >= 31 - RECENT_SALES_HOURS));
    }

    #[test]
    fn rating_summaries_average_exactly() {
        let mut r = RatingSummary::default();
        assert_eq!((r.average(), r.average_tenths()), (None, None));
        for rating in [5, 4, 4] {
            r.add(rating);
        }
        assert_eq!(r.average_tenths(), Some(43)); // 4.333…
        r.add(4);
        assert_eq!(r.average_tenths(), Some(43)); // 4.25 → 4.3 (half up)
        assert!((r.average().unwrap() - 4.25).abs() < 1e-9);
    }

    #[test]
    fn a_change_before_creation_is_an_error_not_a_blank_record() {
        assert!(ProductView::apply(None, &envelope(2, price(1, 2))).is_err());
    }

    fn order_event(version: u64, payload: OrderEvent) -> EventEnvelope<OrderEvent> {
        EventEnvelope {
            event_id: EventId::new(),
            event_type: payload.event_type().into(),
            schema_version: payload.schema_version(),
            aggregate_type: AggregateType::Order,
            aggregate_id: "0190f5c2-0000-7000-8000-0000000000aa".into(),
            aggregate_version: version,
            occurred_at: OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(version as i64),
            actor: Actor::system("test"),
            command_id: CommandId::new(),
            correlation_id: uuid::Uuid::nil(),
            payload,
        }
    }

    #[test]
    fn an_order_history_entry_keeps_its_lines_and_a_timeline_of_every_step() {
        use crate::order::{OrderCancelled, OrderPlaced, PaymentProcessed};
        let line = OrderLine {
            product_id: ProductId::new(),
            product_name: "Mug".into(),
            category: "Kitchen".into(),
            unit_price: Money::from_minor(1_250),
            quantity: 2,
            line_total: Money::from_minor(2_500),
        };
        let placed = OrderEvent::OrderPlaced(OrderPlaced {
            customer_id: CustomerId::new(),
            lines: vec![line.clone()],
            total: Money::from_minor(2_500),
        });
        let v = OrderView::apply(None, &order_event(1, placed)).unwrap();
        assert_eq!(
            (v.status, v.version, v.lines.clone()),
            (OrderStatus::AwaitingPayment, 1, vec![line])
        );
        let paid = OrderEvent::PaymentProcessed(PaymentProcessed {
            payment_id: "pay-1".into(),
            amount: Money::from_minor(2_500),
        });
        let v = OrderView::apply(Some(v), &order_event(2, paid)).unwrap();
        let cancelled = OrderEvent::OrderCancelled(OrderCancelled {
            reason: "changed my mind".into(),
            refund: Money::from_minor(2_500),
        });
        let v = OrderView::apply(Some(v), &order_event(3, cancelled)).unwrap();
        assert_eq!(
            (v.status, v.paid, v.refunded),
            (
                OrderStatus::Cancelled,
                Money::from_minor(2_500),
                Money::from_minor(2_500)
            )
        );
        let steps: Vec<OrderStatus> = v.timeline.iter().map(|s| s.status).collect();
        assert_eq!(
            steps,
            [
                OrderStatus::AwaitingPayment,
                OrderStatus::Paid,
                OrderStatus::Cancelled
            ]
        );
        assert_eq!(v.timeline[2].note.as_deref(), Some("changed my mind"));
        assert_eq!(
            v.placed_at,
            OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(1)
        );
        assert!(OrderView::apply(
            None,
            &order_event(
                2,
                OrderEvent::OrderConfirmed(crate::order::OrderConfirmed {})
            )
        )
        .is_err());
    }
}
