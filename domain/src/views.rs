//! Read records and their pure folds. Projectors run these on the server; the
//! browser runs the same code for optimistic updates.

use crate::event::{DomainEvent, EventEnvelope};
use crate::ids::{CustomerId, EventId, OrderId, ProductId, SellerId};
use crate::inventory::InventoryEvent;
use crate::money::Money;
use crate::order::{OrderEvent, OrderLine, OrderStatus};
use crate::product::ProductEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
    pub price: Money,
    /// The price before the last change, for "was 24.99".
    pub previous_price: Option<Money>,
    /// Units available, from the product's Inventory aggregate.
    pub stock: u32,
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

/// Why an event cannot be folded into a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    #[error("{0} arrived for a product that was never created")]
    MissingCreation(&'static str),
    #[error("aggregate id {0:?} is not a product id")]
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
                price: e.price,
                previous_price: None,
                stock: 0,
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
                v
            }
            (ProductEvent::PriceChanged(e), Some(mut v)) => {
                v.previous_price = Some(v.price);
                v.price = e.new_price;
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
        v.stock = match &event.payload {
            InventoryEvent::InventoryAdjusted(e) => e.available,
            InventoryEvent::StockReserved(e) => e.available,
            InventoryEvent::StockReleased(e) => e.available,
        };
        v.inventory_version = event.aggregate_version;
        v.event_time = v.event_time.max(event.occurred_at);
        Ok(v)
    }

    /// True when the price went down with the last change ("price dropped").
    pub fn price_dropped(&self) -> bool {
        self.previous_price.is_some_and(|p| p > self.price)
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
