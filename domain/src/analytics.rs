//! Sales analytics, as the reference service counts them: an order counts
//! when it is placed; a cancellation or a return takes it out again (a
//! declined payment leads to a cancellation, so it is taken out once, by
//! that). The fold keeps one record per order — what it counted — so a
//! correction removes exactly what was added.

use crate::event::EventEnvelope;
use crate::ids::{CustomerId, OrderId, ProductId};
use crate::money::Money;
use crate::order::OrderEvent;
use crate::views::FoldError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One product's part of an order, as bought.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaleLine {
    pub product_id: ProductId,
    pub category: String,
    pub units: u32,
    pub revenue: Money,
}

/// An order as the sales figures count it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSale {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
    pub lines: Vec<SaleLine>,
    pub total: Money,
    /// In the figures: placed and neither cancelled nor returned.
    pub counted: bool,
    pub version: u64,
}

/// +1: the order enters the figures; -1: it leaves them; 0: no change.
pub type Sign = i64;

impl OrderSale {
    /// Folds one order event; returns the record and how the figures move.
    pub fn apply(
        current: Option<OrderSale>,
        event: &EventEnvelope<OrderEvent>,
    ) -> Result<(OrderSale, Sign), FoldError> {
        let (mut next, sign) = match (&event.payload, current) {
            (OrderEvent::OrderPlaced(e), _) => (
                OrderSale {
                    order_id: event
                        .aggregate_id
                        .parse()
                        .map_err(|_| FoldError::BadOrderId(event.aggregate_id.clone()))?,
                    customer_id: e.customer_id,
                    placed_at: event.occurred_at,
                    lines: e
                        .lines
                        .iter()
                        .map(|l| SaleLine {
                            product_id: l.product_id,
                            category: l.category.clone(),
                            units: l.quantity,
                            revenue: l.line_total,
                        })
                        .collect(),
                    total: e.total,
                    counted: true,
                    version: 0,
                },
                1,
            ),
            (OrderEvent::OrderCancelled(_) | OrderEvent::OrderReturned(_), Some(mut sale)) => {
                let sign = if sale.counted { -1 } else { 0 };
                sale.counted = false;
                (sale, sign)
            }
            (_, Some(sale)) => (sale, 0),
            (other, None) => {
                return Err(FoldError::OrderNotPlaced(crate::DomainEvent::event_type(
                    other,
                )))
            }
        };
        next.version = event.aggregate_version;
        Ok((next, sign))
    }

    /// The UTC hour it was placed in (hours since the Unix epoch).
    pub fn hour(&self) -> i64 {
        hour_of(self.placed_at)
    }

    pub fn units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.units)).sum()
    }
}

pub fn hour_of(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(3600)
}

/// Figures summed over orders: units, revenue (minor units), orders, and
/// the first and last placement among the orders added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub units: i64,
    pub revenue: i64,
    pub orders: i64,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_order_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_order_at: Option<OffsetDateTime>,
}

impl Tally {
    /// Adds (`sign` 1) or removes (-1) one order's part. First and last
    /// placements only ever widen: a removed order was still placed.
    pub fn add(&mut self, sign: Sign, units: u64, revenue: Money, at: OffsetDateTime) {
        self.units += sign * units as i64;
        self.revenue += sign * revenue.minor();
        self.orders += sign;
        if sign > 0 {
            self.first_order_at = Some(self.first_order_at.map_or(at, |f| f.min(at)));
            self.last_order_at = Some(self.last_order_at.map_or(at, |l| l.max(at)));
        }
    }

    /// Two shards of one key, together.
    pub fn merge(mut self, other: &Tally) -> Tally {
        self.units += other.units;
        self.revenue += other.revenue;
        self.orders += other.orders;
        self.first_order_at = match (self.first_order_at, other.first_order_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_order_at = match (self.last_order_at, other.last_order_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self
    }
}

/// What one order adds to (or removes from) each figure: per product, per
/// category, for its customer, and for its hour.
#[derive(Debug, PartialEq, Eq)]
pub struct SaleParts {
    pub products: Vec<(ProductId, u64, Money)>,
    pub categories: Vec<(String, u64, Money)>,
    pub customer: (CustomerId, u64, Money),
    pub hour: (i64, u64, Money),
}

impl OrderSale {
    /// The order's parts, lines of one product (or category) together so
    /// that an order counts once per product and per category.
    pub fn parts(&self) -> SaleParts {
        let mut products: Vec<(ProductId, u64, Money)> = Vec::new();
        let mut categories: Vec<(String, u64, Money)> = Vec::new();
        for line in &self.lines {
            match products.iter_mut().find(|(p, _, _)| *p == line.product_id) {
                Some(p) => {
                    p.1 += u64::from(line.units);
                    p.2 = Money::from_minor(p.2.minor() + line.revenue.minor());
                }
                None => products.push((line.product_id, u64::from(line.units), line.revenue)),
            }
            match categories.iter_mut().find(|(c, _, _)| *c == line.category) {
                Some(c) => {
                    c.1 += u64::from(line.units);
                    c.2 = Money::from_minor(c.2.minor() + line.revenue.minor());
                }
                None => {
                    categories.push((line.category.clone(), u64::from(line.units), line.revenue))
                }
            }
        }
        SaleParts {
            products,
            categories,
            customer: (self.customer_id, self.units(), self.total),
            hour: (self.hour(), self.units(), self.total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, AggregateType};
    use crate::ids::{CommandId, EventId};
    use crate::order::{OrderCancelled, OrderLine, OrderPlaced, OrderReturned, PaymentProcessed};
    use crate::DomainEvent;

    fn event(version: u64, payload: OrderEvent) -> EventEnvelope<OrderEvent> {
        EventEnvelope {
            event_id: EventId::new(),
            event_type: payload.event_type().into(),
            schema_version: 2,
            aggregate_type: AggregateType::Order,
            aggregate_id: "0190f5c2-0000-7000-8000-0000000000aa".into(),
            aggregate_version: version,
            occurred_at: OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(90 + version as i64),
            actor: Actor::system("test"),
            command_id: CommandId::new(),
            correlation_id: uuid::Uuid::nil(),
            payload,
        }
    }

    fn line(product: ProductId, category: &str, units: u32, each: i64) -> OrderLine {
        OrderLine {
            product_id: product,
            product_name: "x".into(),
            category: category.into(),
            unit_price: Money::from_minor(each),
            quantity: units,
            line_total: Money::from_minor(each * i64::from(units)),
        }
    }

    #[test]
    fn an_order_counts_when_placed_and_leaves_the_figures_once_when_cancelled_or_returned() {
        let (lamp, mug) = (ProductId::new(), ProductId::new());
        let placed = OrderEvent::OrderPlaced(OrderPlaced {
            customer_id: CustomerId::new(),
            lines: vec![
                line(lamp, "Home", 2, 1_000),
                line(mug, "Kitchen", 1, 500),
                line(lamp, "Home", 1, 1_000),
            ],
            total: Money::from_minor(3_500),
        });
        let (sale, sign) = OrderSale::apply(None, &event(1, placed)).unwrap();
        assert_eq!(
            (sign, sale.counted, sale.units(), sale.hour()),
            (1, true, 4, 1)
        );
        let parts = sale.parts();
        assert_eq!(
            parts.products,
            vec![
                (lamp, 3, Money::from_minor(3_000)),
                (mug, 1, Money::from_minor(500))
            ]
        );
        assert_eq!(parts.categories.len(), 2);
        let paid = OrderEvent::PaymentProcessed(PaymentProcessed {
            payment_id: "p".into(),
            amount: Money::from_minor(3_500),
        });
        let (sale, sign) = OrderSale::apply(Some(sale), &event(2, paid)).unwrap();
        assert_eq!((sign, sale.version), (0, 2));
        let cancelled = OrderEvent::OrderCancelled(OrderCancelled {
            reason: "r".into(),
            refund: Money::from_minor(3_500),
        });
        let (sale, sign) = OrderSale::apply(Some(sale), &event(3, cancelled)).unwrap();
        assert_eq!((sign, sale.counted), (-1, false));
        // A later return (or a redelivered cancellation) takes nothing out twice.
        let returned = OrderEvent::OrderReturned(OrderReturned {
            reason: "r".into(),
            refund: Money::ZERO,
        });
        let (_, sign) = OrderSale::apply(Some(sale), &event(4, returned)).unwrap();
        assert_eq!(sign, 0);
    }

    #[test]
    fn tallies_add_remove_and_merge_shards() {
        let at = |m| OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(m);
        let mut a = Tally::default();
        a.add(1, 3, Money::from_minor(3_000), at(10));
        a.add(1, 1, Money::from_minor(500), at(5));
        a.add(-1, 1, Money::from_minor(500), at(5));
        assert_eq!((a.units, a.revenue, a.orders), (3, 3_000, 1));
        assert_eq!(
            (a.first_order_at, a.last_order_at),
            (Some(at(5)), Some(at(10)))
        );
        let mut b = Tally::default();
        b.add(1, 2, Money::from_minor(700), at(20));
        let both = a.merge(&b);
        assert_eq!((both.units, both.revenue, both.orders), (5, 3_700, 2));
        assert_eq!(
            (both.first_order_at, both.last_order_at),
            (Some(at(5)), Some(at(20)))
        );
    }

    #[test]
    fn an_event_before_the_placement_is_an_error() {
        let paid = OrderEvent::PaymentProcessed(PaymentProcessed {
            payment_id: "p".into(),
            amount: Money::ZERO,
        });
        assert!(OrderSale::apply(None, &event(2, paid)).is_err());
    }
}
