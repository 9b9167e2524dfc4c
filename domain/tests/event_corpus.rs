//! The stored-event corpus (`tests/corpus/`, see its README): events as the
//! shop's builds wrote them to the log, of every event type at every schema
//! version ever written, telling one story per aggregate. This build must
//! decode all of them, and replaying them through every fold must give what
//! the story says. The files are fixtures: nothing here writes them.

use domain::event::{AggregateType, DecodeError, DomainEvent, EventEnvelope, EventSchema};
use domain::ids::{CustomerId, OrderId, ProductId, ReviewId, SellerId};
use domain::inventory::{self, Inventory, InventoryEvent};
use domain::order::{self, Order, OrderEvent, OrderStatus, UNKNOWN_CATEGORY};
use domain::party::{self, Customer, CustomerEvent, Seller, SellerEvent};
use domain::product::{self, Product, ProductEvent};
use domain::review::{self, Review, ReviewEvent};
use domain::views::{sequence, ProductView, Sequencing};
use domain::{Money, StoredEvent};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use time::macros::datetime;

/// One file per aggregate. `include_str!` rebuilds the test when one changes.
const CORPUS: [(AggregateType, &str); 6] = [
    (AggregateType::Product, include_str!("corpus/product.json")),
    (
        AggregateType::Inventory,
        include_str!("corpus/inventory.json"),
    ),
    (AggregateType::Seller, include_str!("corpus/seller.json")),
    (
        AggregateType::Customer,
        include_str!("corpus/customer.json"),
    ),
    (AggregateType::Review, include_str!("corpus/review.json")),
    (AggregateType::Order, include_str!("corpus/order.json")),
];

// The story's parties and things (ids as in the corpus).
const LAMP: &str = "01943adc-3e60-7001-9300-5d3ee9fa2704";
const MUG: &str = "01943ade-1320-7001-aa9f-592d2d6d4b64";
const NORDIC: &str = "01943ad7-aa80-7001-bdfb-c52d39141fc1";
const ANA: &str = "01944034-f500-7001-8fee-4e1ddeb525ea";
const BEN: &str = "01944037-3ef0-7001-84bc-2ffdcbdc78c8";
/// Placed before `OrderPlaced` v2: delivered.
const ORDER_V1: &str = "01944652-7a70-7001-84fd-6b6eb6b115c3";
/// Payment declined, cancelled.
const ORDER_DECLINED: &str = "0194fbc8-5208-7001-b134-82d6adfd281f";
/// Delivered, returned.
const ORDER_RETURNED: &str = "019503cb-21d8-7001-a567-9ba9131264dc";

/// Every corpus event, in the log's order: by time, then by event id (UUIDv7,
/// so events of one commit keep the order they were appended in).
fn corpus() -> Vec<StoredEvent> {
    let mut all = Vec::new();
    for (aggregate, text) in CORPUS {
        let events: Vec<StoredEvent> = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("corpus/{}.json: {e}", aggregate.as_str()));
        assert!(!events.is_empty(), "corpus/{}.json", aggregate.as_str());
        for e in &events {
            assert_eq!(
                e.aggregate_type, aggregate,
                "{} in the wrong file",
                e.event_id
            );
        }
        all.extend(events);
    }
    all.sort_by_key(|e| (e.occurred_at, e.event_id));
    all
}

/// The event types each aggregate defines. Exhaustive: a new aggregate type
/// does not compile until it is listed here (and given a corpus file).
fn event_types(aggregate: AggregateType) -> &'static [EventSchema] {
    match aggregate {
        AggregateType::Product => ProductEvent::EVENT_TYPES,
        AggregateType::Inventory => InventoryEvent::EVENT_TYPES,
        AggregateType::Seller => SellerEvent::EVENT_TYPES,
        AggregateType::Customer => CustomerEvent::EVENT_TYPES,
        AggregateType::Review => ReviewEvent::EVENT_TYPES,
        AggregateType::Order => OrderEvent::EVENT_TYPES,
    }
}

/// A stored event decoded by its aggregate.
#[derive(Debug)]
enum Decoded {
    Product(EventEnvelope<ProductEvent>),
    Inventory(EventEnvelope<InventoryEvent>),
    Seller(EventEnvelope<SellerEvent>),
    Customer(EventEnvelope<CustomerEvent>),
    Review(EventEnvelope<ReviewEvent>),
    Order(EventEnvelope<OrderEvent>),
}

/// Decodes with the aggregate's `decode_envelope` and checks what must hold
/// for every version: the envelope is unchanged but for the payload, now at
/// the current version. A payload stored at the current version must also
/// encode back to exactly what was stored: a shape change without a version
/// bump (or a typo in the corpus) fails here.
fn decode_as<E: DomainEvent + Clone + Debug>(
    stored: &StoredEvent,
) -> Result<EventEnvelope<E>, DecodeError> {
    let decoded = E::decode_envelope(stored)?;
    let current = E::current_version(&stored.event_type);
    assert_eq!(Some(decoded.schema_version), current, "{}", stored.event_id);
    let mut envelope = decoded.clone().map_payload(stored.payload.clone());
    envelope.schema_version = stored.schema_version;
    assert_eq!(&envelope, stored, "the envelope survives decoding");
    if Some(stored.schema_version) == current {
        assert_eq!(
            decoded.payload.payload_json(),
            stored.payload,
            "{} v{} ({}) does not round-trip: did its shape change without a version bump?",
            stored.event_type,
            stored.schema_version,
            stored.event_id
        );
    }
    Ok(decoded)
}

fn decode(stored: &StoredEvent) -> Result<Decoded, DecodeError> {
    Ok(match stored.aggregate_type {
        AggregateType::Product => Decoded::Product(decode_as(stored)?),
        AggregateType::Inventory => Decoded::Inventory(decode_as(stored)?),
        AggregateType::Seller => Decoded::Seller(decode_as(stored)?),
        AggregateType::Customer => Decoded::Customer(decode_as(stored)?),
        AggregateType::Review => Decoded::Review(decode_as(stored)?),
        AggregateType::Order => Decoded::Order(decode_as(stored)?),
    })
}

fn decoded_corpus() -> Vec<Decoded> {
    corpus()
        .iter()
        .map(|e| decode(e).unwrap_or_else(|err| panic!("{}: {err}", e.event_id)))
        .collect()
}

#[test]
fn every_stored_event_of_every_version_decodes() {
    let events = corpus();
    let ids: BTreeSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    let mut v1_placed = 0;
    for stored in &events {
        let decoded = decode(stored).unwrap_or_else(|e| panic!("{}: {e}", stored.event_id));
        if let Decoded::Order(e) = decoded {
            if let OrderEvent::OrderPlaced(placed) = &e.payload {
                // v1 lines had no category; the upcaster cannot know better.
                let expect_unknown = stored.schema_version == 1;
                v1_placed += usize::from(expect_unknown);
                for line in &placed.lines {
                    assert_eq!(
                        line.category == UNKNOWN_CATEGORY,
                        expect_unknown,
                        "{}: {line:?}",
                        stored.event_id
                    );
                }
            }
        }
    }
    assert!(v1_placed > 0, "the corpus holds an OrderPlaced v1");
}

#[test]
fn the_corpus_holds_every_event_type_at_every_version() {
    let events = corpus();
    for aggregate in AggregateType::ALL {
        let stored: BTreeSet<(&str, u16)> = events
            .iter()
            .filter(|e| e.aggregate_type == aggregate)
            .map(|e| (e.event_type.as_str(), e.schema_version))
            .collect();
        let mut expected = BTreeSet::new();
        for schema in event_types(aggregate) {
            expected.extend((1..=schema.version).map(|v| (schema.event_type, v)));
        }
        let missing: Vec<_> = expected.difference(&stored).collect();
        assert!(
            missing.is_empty(),
            "corpus/{}.json lacks {missing:?}: add a stored event of each (see corpus/README.md)",
            aggregate.as_str()
        );
        // Nothing else either: an unknown type or version would not decode.
        let unknown: Vec<_> = stored.difference(&expected).collect();
        assert!(unknown.is_empty(), "{}: {unknown:?}", aggregate.as_str());
    }
}

#[test]
fn a_corpus_event_of_a_newer_version_is_refused_not_guessed() {
    let mut stored = corpus()
        .into_iter()
        .find(|e| e.event_type == "OrderPlaced")
        .unwrap();
    stored.schema_version = OrderEvent::current_version("OrderPlaced").unwrap() + 1;
    let error = OrderEvent::decode_envelope(&stored).unwrap_err();
    assert!(error.reason.contains("newer build"), "{error}");
}

/// Folds one event into the state of its aggregate, checking it is the next
/// version (the log has no gaps or repeats).
fn fold<S: Default, E>(
    states: &mut HashMap<String, S>,
    event: &EventEnvelope<E>,
    version: impl Fn(&S) -> u64,
    evolve: impl Fn(S, &E) -> S,
) {
    let state = states.remove(&event.aggregate_id).unwrap_or_default();
    assert_eq!(
        sequence(version(&state), event.aggregate_version),
        Sequencing::Apply,
        "{} {}",
        event.event_type,
        event.aggregate_id
    );
    states.insert(event.aggregate_id.clone(), evolve(state, &event.payload));
}

#[test]
fn replaying_the_corpus_through_the_aggregates_tells_the_story() {
    let mut products: HashMap<String, Product> = HashMap::new();
    let mut inventories: HashMap<String, Inventory> = HashMap::new();
    let mut sellers: HashMap<String, Seller> = HashMap::new();
    let mut customers: HashMap<String, Customer> = HashMap::new();
    let mut reviews: HashMap<String, Review> = HashMap::new();
    let mut orders: HashMap<String, Order> = HashMap::new();
    for event in decoded_corpus() {
        match &event {
            Decoded::Product(e) => fold(&mut products, e, |s| s.version, product::evolve),
            Decoded::Inventory(e) => fold(&mut inventories, e, |s| s.version, inventory::evolve),
            Decoded::Seller(e) => fold(&mut sellers, e, |s| s.version, party::evolve_seller),
            Decoded::Customer(e) => fold(&mut customers, e, |s| s.version, party::evolve_customer),
            Decoded::Review(e) => fold(&mut reviews, e, |s| s.version, review::evolve),
            Decoded::Order(e) => fold(&mut orders, e, |s| s.version, order::evolve),
        }
    }

    // The lamp: created, recategorized, repriced, discontinued.
    let lamp = &products[LAMP];
    assert_eq!(lamp.version, 4);
    assert!(lamp.deleted && !lamp.is_listed());
    assert_eq!(lamp.price, Money::from_minor(3_900));
    assert_eq!(lamp.details.category, "Home office");
    assert_eq!(lamp.seller_id, Some(NORDIC.parse::<SellerId>().unwrap()));
    let mug = &products[MUG];
    assert_eq!((mug.version, mug.price), (1, Money::from_minor(1_250)));
    assert!(mug.is_listed());

    // Lamp: 20, −2 (order 1), +10 delivery, −1 (order 3), +1 returned.
    // Mug: 50, −1 (order 1), −4 and +4 again (the declined order).
    let stock = |id: &str| {
        let i = &inventories[id];
        (i.version, i.available, i.reserved)
    };
    assert_eq!(stock(LAMP), (5, 28, 3));
    assert_eq!(stock(MUG), (4, 49, 1));

    assert_eq!(sellers.len(), 1);
    assert_eq!(sellers[NORDIC].name, "Nordic Living");
    assert_eq!(sellers[NORDIC].rating_tenths, Some(47));
    let emails: BTreeSet<&str> = customers.values().map(|c| c.email.as_str()).collect();
    assert_eq!(
        emails,
        BTreeSet::from(["ana@vitrine.example", "ben@vitrine.example"])
    );
    let review_id = ReviewId::of(LAMP.parse().unwrap(), ANA.parse().unwrap()).to_string();
    assert_eq!(
        (reviews[&review_id].version, reviews[&review_id].rating),
        (1, 5)
    );

    for (id, order) in &orders {
        let sum: i64 = order.lines.iter().map(|l| l.line_total.minor()).sum();
        assert_eq!(order.total.minor(), sum, "order {id}");
    }
    let categories = |id: &str| -> Vec<&str> {
        orders[id]
            .lines
            .iter()
            .map(|l| l.category.as_str())
            .collect()
    };
    let ana: CustomerId = ANA.parse().unwrap();
    let ben: CustomerId = BEN.parse().unwrap();

    let delivered = &orders[ORDER_V1];
    assert_eq!(delivered.status, OrderStatus::Delivered);
    assert_eq!(delivered.customer_id, Some(ana));
    assert_eq!(
        (delivered.total, delivered.paid),
        (Money::from_minor(11_050), Money::from_minor(11_050))
    );
    assert_eq!(categories(ORDER_V1), [UNKNOWN_CATEGORY, UNKNOWN_CATEGORY]);
    assert_eq!(delivered.version, 5);

    let declined = &orders[ORDER_DECLINED];
    assert_eq!(declined.status, OrderStatus::Cancelled);
    assert_eq!(declined.customer_id, Some(ben));
    assert_eq!(declined.paid, Money::ZERO);
    assert_eq!(categories(ORDER_DECLINED), ["Kitchen"]);

    let returned = &orders[ORDER_RETURNED];
    assert_eq!(returned.status, OrderStatus::Returned);
    assert_eq!(returned.paid, Money::ZERO, "refunded");
    assert_eq!(returned.total, Money::from_minor(3_900), "at the new price");
    // The category as bought, not the lamp's first one.
    assert_eq!(categories(ORDER_RETURNED), ["Home office"]);
    assert_eq!(
        returned.tracking_number.as_deref(),
        Some("JJD000390007799870")
    );

    // Every order id in the corpus is an order id.
    for id in orders.keys() {
        id.parse::<OrderId>().unwrap();
    }
}

#[test]
fn replaying_the_corpus_through_the_product_view_tells_the_story() {
    let mut views: HashMap<String, ProductView> = HashMap::new();
    for event in decoded_corpus() {
        let (id, view) = match &event {
            Decoded::Product(e) => {
                let view = views.remove(&e.aggregate_id);
                let last = view.as_ref().map_or(0, |v| v.version);
                assert_eq!(sequence(last, e.aggregate_version), Sequencing::Apply);
                (&e.aggregate_id, ProductView::apply(view, e))
            }
            Decoded::Inventory(e) => {
                let view = views.remove(&e.aggregate_id);
                let last = view.as_ref().map_or(0, |v| v.inventory_version);
                assert_eq!(sequence(last, e.aggregate_version), Sequencing::Apply);
                (&e.aggregate_id, ProductView::apply_inventory(view, e))
            }
            _ => continue,
        };
        let view = view.unwrap_or_else(|err| panic!("{id}: {err}"));
        views.insert(id.clone(), view);
    }
    assert_eq!(views.len(), 2);

    let lamp = &views[LAMP];
    assert_eq!(lamp.product_id, LAMP.parse::<ProductId>().unwrap());
    assert_eq!(lamp.name, "Oak desk lamp");
    assert_eq!(lamp.category, "Home office");
    assert_eq!(lamp.tags, ["oak", "lamp", "desk"]);
    assert_eq!(lamp.price, Money::from_minor(3_900));
    assert_eq!(lamp.previous_price, Some(Money::from_minor(4_900)));
    assert!(lamp.price_dropped());
    assert_eq!(lamp.stock, 28);
    assert!(lamp.deleted);
    assert_eq!((lamp.version, lamp.inventory_version), (4, 5));
    assert_eq!(lamp.event_time, datetime!(2025-03-03 09:00:00 UTC));

    let mug = &views[MUG];
    assert_eq!(mug.name, "Stoneware mug");
    assert_eq!(mug.category, "Kitchen");
    assert_eq!(mug.image_url, None);
    assert_eq!(
        (mug.price, mug.previous_price),
        (Money::from_minor(1_250), None)
    );
    assert_eq!(mug.stock, 49);
    assert!(!mug.deleted);
    assert_eq!((mug.version, mug.inventory_version), (1, 4));
    assert_eq!(mug.event_time, datetime!(2025-02-12 20:11:03 UTC));
}
