//! Property tests: random command sequences drive each aggregate through
//! `decide` and `evolve`; refused commands change nothing and are skipped.
//! After every step the aggregate's invariants are checked against figures
//! the test computes independently, and where the rules make the outcome
//! predictable, the accept/refuse answer is checked too.

use domain::event::{Actor, ActorRole};
use domain::ids::{CustomerId, OrderId, ProductId, SellerId};
use domain::inventory::{self, AdjustInventory, Inventory, InventoryAdjusted, InventoryEvent};
use domain::order::{
    self, Order, OrderDecision, OrderEvent, OrderItem, OrderPolicy, OrderStatus, PaymentOutcome,
    PlaceOrder,
};
use domain::product::{
    self, ChangePrice, CreateProduct, DeleteProduct, PriceChanged, PricePolicy, Product,
    ProductDetails, ProductEvent, UpdateProductDetails, STOCK_MAX,
};
use domain::{DomainError, Money};
use proptest::prelude::*;
use std::collections::HashMap;
use uuid::Uuid;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

// ---- parties ------------------------------------------------------------------

// Fixed ids keep failing cases reproducible.
const OWNER_SELLER: SellerId = SellerId(Uuid::from_u128(0x5e11_0001));
const OTHER_SELLER: SellerId = SellerId(Uuid::from_u128(0x5e11_0002));

fn customer_id(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(0xc057_0000 + n))
}

fn product_id(n: usize) -> ProductId {
    ProductId::from_uuid(Uuid::from_u128(0x9d00_0000 + n as u128))
}

fn order_id(n: usize) -> OrderId {
    OrderId::from_uuid(Uuid::from_u128(0x0d00_0000 + n as u128))
}

/// Who issues a command, relative to the aggregate: `Owner` is the product's
/// seller for products and inventory, the order's customer for orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Owner,
    OtherSeller,
    OtherCustomer,
    Admin,
    System,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => Just(Who::Owner),
        1 => Just(Who::OtherSeller),
        1 => Just(Who::OtherCustomer),
        2 => Just(Who::Admin),
        1 => Just(Who::System),
    ]
}

impl Who {
    fn is_staff(self) -> bool {
        matches!(self, Who::Admin | Who::System)
    }

    fn as_seller_side(self) -> Actor {
        self.actor(OWNER_SELLER.to_string(), ActorRole::Seller)
    }

    fn as_customer_side(self, owner: CustomerId) -> Actor {
        self.actor(owner.to_string(), ActorRole::Customer)
    }

    fn actor(self, owner_id: String, owner_role: ActorRole) -> Actor {
        let (id, role) = match self {
            Who::Owner => (owner_id, owner_role),
            Who::OtherSeller => (OTHER_SELLER.to_string(), ActorRole::Seller),
            Who::OtherCustomer => (customer_id(999).to_string(), ActorRole::Customer),
            Who::Admin => ("admin-1".to_string(), ActorRole::Admin),
            Who::System => return Actor::system("process-manager"),
        };
        Actor { id, role }
    }
}

#[derive(Clone, Copy, Debug)]
enum VersionPick {
    Unchecked,
    Current,
    Stale(u64),
}

fn version_pick() -> impl Strategy<Value = VersionPick> {
    prop_oneof![
        4 => Just(VersionPick::Unchecked),
        3 => Just(VersionPick::Current),
        1 => (0u64..40).prop_map(VersionPick::Stale),
    ]
}

impl VersionPick {
    fn resolve(self, current: u64) -> Option<u64> {
        match self {
            VersionPick::Unchecked => None,
            VersionPick::Current => Some(current),
            VersionPick::Stale(v) => Some(v),
        }
    }
}

fn listed_product(id: ProductId, name: &str, price: i64) -> Product {
    let cmd = CreateProduct {
        product_id: id,
        seller_id: None,
        details: ProductDetails {
            name: name.into(),
            category: "Home".into(),
            ..ProductDetails::default()
        },
        price: Money::from_minor(price),
        stock: 0,
    };
    product::decide_create(
        &Product::default(),
        &cmd,
        OWNER_SELLER,
        true,
        &PricePolicy::default(),
    )
    .expect("a valid product is created")
    .iter()
    .fold(Product::default(), product::evolve)
}

fn initial_inventory(stock: u32) -> Inventory {
    inventory::decide_initial_stock(&Inventory::default(), stock)
        .expect("a stock within STOCK_MAX is accepted")
        .iter()
        .fold(Inventory::default(), inventory::evolve)
}

/// Folds one inventory event, checking that its `available` figure is the
/// previous one moved by exactly the event's quantity (no saturation).
fn fold_inventory(state: Inventory, event: &InventoryEvent) -> Inventory {
    let before = i64::from(state.available);
    let expected = match event {
        InventoryEvent::InventoryAdjusted(e) => before + e.delta,
        InventoryEvent::StockReserved(e) => before - i64::from(e.quantity),
        InventoryEvent::StockReleased(e) => before + i64::from(e.quantity),
    };
    let after = inventory::evolve(state, event);
    assert_eq!(
        i64::from(after.available),
        expected,
        "the event's available figure does not follow from the quantity: {event:?}"
    );
    after
}

// ---- inventory ----------------------------------------------------------------

#[derive(Clone, Debug)]
enum InvCmd {
    Adjust {
        delta: i64,
        who: Who,
        version: VersionPick,
        blank_reason: bool,
    },
    Reserve {
        quantity: u32,
    },
    /// Cancel one of the outstanding reservations.
    Release {
        pick: usize,
    },
    /// Ship one outstanding reservation (no inventory event).
    Ship {
        pick: usize,
    },
    /// Return one shipped reservation: its units are restocked.
    Return {
        pick: usize,
    },
}

fn delta() -> impl Strategy<Value = i64> {
    let max = i64::from(STOCK_MAX);
    prop_oneof![
        10 => -40i64..=40,
        1 => any::<i64>(),
        1 => prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(0i64)],
        1 => (max - 50)..=(max + 50),
        1 => (-max - 50)..=(-max + 50),
    ]
}

fn inv_cmd() -> impl Strategy<Value = InvCmd> {
    prop_oneof![
        4 => (delta(), who(), version_pick(), prop::bool::weighted(0.1)).prop_map(
            |(delta, who, version, blank_reason)| InvCmd::Adjust {
                delta,
                who,
                version,
                blank_reason
            }
        ),
        3 => prop_oneof![9 => 0u32..=25, 1 => any::<u32>()]
            .prop_map(|quantity| InvCmd::Reserve { quantity }),
        2 => any::<usize>().prop_map(|pick| InvCmd::Release { pick }),
        1 => any::<usize>().prop_map(|pick| InvCmd::Ship { pick }),
        1 => any::<usize>().prop_map(|pick| InvCmd::Return { pick }),
    ]
}

fn initial_stock() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..=60, 1 => (STOCK_MAX - 60)..=STOCK_MAX]
}

/// What the test tracks on its own: every unit that came in or went out.
#[derive(Default)]
struct InventoryLedger {
    initial: i64,
    adjusted: i64,
    reserved: i64,
    released: i64,
    restocked: i64,
    events: u64,
    outstanding: Vec<(OrderId, u32)>,
    shipped: Vec<(OrderId, u32)>,
    orders: usize,
}

impl InventoryLedger {
    fn available(&self) -> i64 {
        self.initial + self.adjusted - self.reserved + self.released + self.restocked
    }
}

/// The answer the rules give an adjustment, predicted from the ledger.
fn expected_adjustment(
    ledger: &InventoryLedger,
    version: u64,
    delta: i64,
    who: Who,
    expected_version: Option<u64>,
    blank_reason: bool,
) -> Result<u32, &'static str> {
    if !(who.is_staff() || who == Who::Owner) {
        return Err("Forbidden");
    }
    if expected_version.is_some_and(|v| v != version) {
        return Err("VersionConflict");
    }
    if blank_reason {
        return Err("reason");
    }
    let after = i128::from(ledger.available()) + i128::from(delta);
    if delta == 0 || after < 0 || after > i128::from(STOCK_MAX) {
        return Err("delta");
    }
    Ok(u32::try_from(after).expect("within STOCK_MAX"))
}

fn error_kind(err: &DomainError) -> &str {
    match err {
        DomainError::Invalid { field, .. } => field,
        DomainError::NotFound { .. } => "NotFound",
        DomainError::AlreadyExists { .. } => "AlreadyExists",
        DomainError::VersionConflict { .. } => "VersionConflict",
        DomainError::InvalidState { .. } => "InvalidState",
        DomainError::InsufficientStock { .. } => "InsufficientStock",
        DomainError::Forbidden { .. } => "Forbidden",
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn initial_stock_is_accepted_up_to_stock_max(stock in prop_oneof![any::<u32>(), (STOCK_MAX - 5)..=(STOCK_MAX + 5)]) {
        let result = inventory::decide_initial_stock(&Inventory::default(), stock);
        if stock <= STOCK_MAX {
            let state = result.expect("accepted").iter().fold(Inventory::default(), fold_inventory);
            prop_assert_eq!((state.version, state.available, state.reserved), (1, stock, 0));
        } else {
            prop_assert_eq!(result.map_err(|e| error_kind(&e).to_owned()), Err("stock".to_owned()));
        }
    }

    #[test]
    fn inventory_never_goes_negative_and_balances_its_ledger(
        stock in initial_stock(),
        commands in prop::collection::vec(inv_cmd(), 1..60),
    ) {
        let pid = product_id(1);
        let product = listed_product(pid, "Desk lamp", 1_250);
        let mut state = initial_inventory(stock);
        let mut ledger = InventoryLedger {
            initial: i64::from(stock),
            events: 1,
            ..InventoryLedger::default()
        };
        for cmd in commands {
            match cmd {
                InvCmd::Adjust { delta, who, version, blank_reason } => {
                    let expected_version = version.resolve(state.version);
                    let cmd = AdjustInventory {
                        product_id: pid,
                        delta,
                        reason: if blank_reason { " ".into() } else { "count".into() },
                        expected_version,
                    };
                    let result = inventory::decide_adjust(&state, &product, &cmd, &who.as_seller_side());
                    let predicted = expected_adjustment(&ledger, state.version, delta, who, expected_version, blank_reason);
                    match (result, predicted) {
                        (Ok(events), Ok(available)) => {
                            prop_assert_eq!(&events, &vec![InventoryEvent::InventoryAdjusted(InventoryAdjusted {
                                delta,
                                reason: "count".into(),
                                available,
                            })]);
                            state = events.iter().fold(state, fold_inventory);
                            ledger.adjusted += delta;
                            ledger.events += 1;
                        }
                        (Err(e), Err(kind)) => prop_assert_eq!(error_kind(&e), kind, "{:?}", e),
                        (result, predicted) => prop_assert!(false, "adjust {}: got {:?}, expected {:?}", delta, result, predicted),
                    }
                }
                InvCmd::Reserve { quantity } => {
                    ledger.orders += 1;
                    let oid = order_id(ledger.orders);
                    let result = inventory::decide_reserve(&state, pid, oid, quantity);
                    if quantity > 0 && i64::from(quantity) <= ledger.available() {
                        let event = result.expect("enough stock");
                        state = fold_inventory(state, &event);
                        ledger.reserved += i64::from(quantity);
                        ledger.events += 1;
                        ledger.outstanding.push((oid, quantity));
                    } else {
                        prop_assert_eq!(result, Err(DomainError::InsufficientStock {
                            product_id: pid.to_string(),
                            requested: quantity,
                            available: state.available,
                        }));
                    }
                }
                InvCmd::Release { pick } => {
                    if ledger.outstanding.is_empty() {
                        continue;
                    }
                    let (oid, quantity) = ledger.outstanding.remove(pick % ledger.outstanding.len());
                    let event = inventory::decide_release(&state, oid, quantity, "cancelled");
                    state = fold_inventory(state, &event);
                    ledger.released += i64::from(quantity);
                    ledger.events += 1;
                }
                InvCmd::Ship { pick } => {
                    if ledger.outstanding.is_empty() {
                        continue;
                    }
                    let shipped = ledger.outstanding.remove(pick % ledger.outstanding.len());
                    ledger.shipped.push(shipped);
                }
                InvCmd::Return { pick } => {
                    if ledger.shipped.is_empty() {
                        continue;
                    }
                    let (oid, quantity) = ledger.shipped.remove(pick % ledger.shipped.len());
                    let event = inventory::decide_restock(&state, oid, quantity);
                    state = fold_inventory(state, &event);
                    ledger.restocked += i64::from(quantity);
                    ledger.events += 1;
                }
            }
            prop_assert!(ledger.available() >= 0);
            prop_assert_eq!(i64::from(state.available), ledger.available());
            prop_assert_eq!(i64::from(state.reserved), ledger.reserved - ledger.released);
            prop_assert_eq!(state.version, ledger.events);
        }
    }
}

// ---- product ------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum PriceChoice {
    /// A fraction of the current price (in permille) plus a nudge, to land on
    /// either side of the price-cut limit.
    Relative {
        permille: i64,
        nudge: i64,
    },
    Absolute(i64),
}

fn price_choice() -> impl Strategy<Value = PriceChoice> {
    let max = PricePolicy::default().max_price.minor();
    prop_oneof![
        5 => (0i64..=2_000, -2i64..=2).prop_map(|(permille, nudge)| PriceChoice::Relative { permille, nudge }),
        1 => (480i64..=520, -2i64..=2).prop_map(|(permille, nudge)| PriceChoice::Relative { permille, nudge }),
        2 => prop_oneof![
            -10i64..=10,
            (max - 10)..=(max + 10),
            1i64..=max,
            any::<i64>(),
        ]
        .prop_map(PriceChoice::Absolute),
    ]
}

impl PriceChoice {
    fn resolve(self, current: Money) -> Money {
        match self {
            PriceChoice::Relative { permille, nudge } => {
                let scaled = i128::from(current.minor()) * i128::from(permille) / 1_000;
                let price = i64::try_from(scaled).unwrap_or(i64::MAX);
                Money::from_minor(price.saturating_add(nudge))
            }
            PriceChoice::Absolute(minor) => Money::from_minor(minor),
        }
    }
}

#[derive(Clone, Debug)]
enum ProductCmd {
    ChangePrice {
        price: PriceChoice,
        override_cut: bool,
        who: Who,
        version: VersionPick,
    },
    Rename {
        who: Who,
        n: u8,
    },
    Delete {
        who: Who,
    },
}

fn product_cmd() -> impl Strategy<Value = ProductCmd> {
    prop_oneof![
        12 => (price_choice(), any::<bool>(), who(), version_pick()).prop_map(
            |(price, override_cut, who, version)| ProductCmd::ChangePrice {
                price,
                override_cut,
                who,
                version
            }
        ),
        2 => (who(), any::<u8>()).prop_map(|(who, n)| ProductCmd::Rename { who, n }),
        1 => who().prop_map(|who| ProductCmd::Delete { who }),
    ]
}

/// The answer the rules give a price change.
fn expected_price_change(
    state: &Product,
    new: Money,
    override_cut: bool,
    who: Who,
    expected_version: Option<u64>,
    policy: &PricePolicy,
) -> Result<Option<bool>, &'static str> {
    if state.deleted {
        return Err("InvalidState");
    }
    if !(who.is_staff() || who == Who::Owner) {
        return Err("Forbidden");
    }
    if expected_version.is_some_and(|v| v != state.version) {
        return Err("VersionConflict");
    }
    if new <= Money::ZERO || new > policy.max_price {
        return Err("price");
    }
    if new == state.price {
        return Ok(None);
    }
    // More than 50% off: new < old / 2, in exact integers.
    let large_cut = i128::from(new.minor()) * 2 < i128::from(state.price.minor());
    if large_cut && !override_cut {
        return Err("price");
    }
    if large_cut && !who.is_staff() {
        return Err("overridePriceCut");
    }
    Ok(Some(large_cut))
}

fn initial_price() -> impl Strategy<Value = i64> {
    let max = PricePolicy::default().max_price.minor();
    prop_oneof![4 => 1i64..=20_000, 1 => 1i64..=max, 1 => Just(max), 1 => Just(1i64)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn product_price_stays_in_range_and_large_cuts_need_an_admin_override(
        price in initial_price(),
        commands in prop::collection::vec(product_cmd(), 1..40),
    ) {
        let policy = PricePolicy::default();
        let pid = product_id(1);
        let mut state = listed_product(pid, "Desk lamp", price);
        let mut events_applied = 1;
        for cmd in commands {
            let before = state.clone();
            match cmd {
                ProductCmd::ChangePrice { price, override_cut, who, version } => {
                    let new = price.resolve(state.price);
                    let expected_version = version.resolve(state.version);
                    let cmd = ChangePrice {
                        product_id: pid,
                        price: new,
                        expected_version,
                        override_price_cut: override_cut,
                    };
                    let result = product::decide_change_price(&state, &cmd, &who.as_seller_side(), &policy);
                    let large_cut = i128::from(new.minor()) * 2 < i128::from(state.price.minor());
                    if large_cut && !override_cut {
                        prop_assert!(result.is_err(), "a cut from {} to {} without override was accepted", state.price, new);
                    }
                    match (result, expected_price_change(&state, new, override_cut, who, expected_version, &policy)) {
                        (Ok(events), Ok(None)) => prop_assert!(events.is_empty()),
                        (Ok(events), Ok(Some(cut_override))) => {
                            prop_assert_eq!(&events, &vec![ProductEvent::PriceChanged(PriceChanged {
                                old_price: state.price,
                                new_price: new,
                                cut_override,
                            })]);
                            state = events.iter().fold(state, product::evolve);
                            events_applied += events.len() as u64;
                        }
                        (Err(e), Err(kind)) => prop_assert_eq!(error_kind(&e), kind, "{:?}", e),
                        (result, predicted) => prop_assert!(
                            false,
                            "change {} -> {} (override {}, {:?}): got {:?}, expected {:?}",
                            state.price, new, override_cut, who, result, predicted
                        ),
                    }
                }
                ProductCmd::Rename { who, n } => {
                    let cmd = UpdateProductDetails {
                        product_id: pid,
                        name: Some(format!("Lamp {n}")),
                        ..UpdateProductDetails::default()
                    };
                    if let Ok(events) = product::decide_update_details(&state, &cmd, &who.as_seller_side(), &policy) {
                        events_applied += events.len() as u64;
                        state = events.iter().fold(state, product::evolve);
                    }
                }
                ProductCmd::Delete { who } => {
                    let cmd = DeleteProduct {
                        product_id: pid,
                        reason: "discontinued".into(),
                        expected_version: None,
                    };
                    if let Ok(events) = product::decide_delete(&state, &cmd, &who.as_seller_side()) {
                        events_applied += events.len() as u64;
                        state = events.iter().fold(state, product::evolve);
                    }
                }
            }
            prop_assert!(state.price > Money::ZERO && state.price <= policy.max_price, "price {}", state.price);
            prop_assert_eq!(state.version, events_applied);
            if before.deleted {
                prop_assert_eq!(&state, &before, "a deleted product changed");
            }
        }
    }
}

// ---- one order ----------------------------------------------------------------

#[derive(Clone, Debug)]
enum OrderAction {
    /// Whatever moves the order forward from its current status (resolved
    /// when run), so that random sequences also reach the later statuses.
    Next,
    Place(Vec<(usize, i64)>),
    Pay {
        approved: bool,
    },
    Confirm,
    Ship {
        valid_tracking: bool,
    },
    Deliver,
    Cancel,
    Return,
}

fn quantity() -> impl Strategy<Value = i64> {
    prop_oneof![
        12 => 1i64..=8,
        1 => -3i64..=0,
        1 => 995i64..=1_005,
        1 => any::<i64>(),
    ]
}

/// Items naming products by index; an index beyond the catalog is an
/// unknown product. Mostly plausible baskets (distinct products, small
/// quantities), sometimes anything at all.
fn items() -> impl Strategy<Value = Vec<(usize, i64)>> {
    let basket = prop::sample::subsequence(vec![0usize, 1, 2, 3], 1..=3)
        .prop_flat_map(|ids| {
            let n = ids.len();
            (Just(ids), prop::collection::vec(1i64..=4, n))
        })
        .prop_map(|(ids, quantities)| ids.into_iter().zip(quantities).collect());
    prop_oneof![
        3 => basket,
        1 => prop::collection::vec((0usize..5, quantity()), 0..5),
    ]
}

fn order_action() -> impl Strategy<Value = OrderAction> {
    prop_oneof![
        5 => Just(OrderAction::Next),
        3 => items().prop_map(OrderAction::Place),
        3 => prop::bool::weighted(0.7).prop_map(|approved| OrderAction::Pay { approved }),
        2 => Just(OrderAction::Confirm),
        2 => prop::bool::weighted(0.9).prop_map(|valid_tracking| OrderAction::Ship { valid_tracking }),
        2 => Just(OrderAction::Deliver),
        1 => Just(OrderAction::Cancel),
        1 => Just(OrderAction::Return),
    ]
}

/// A catalog entry: price, stock, deleted.
fn catalog_entry() -> impl Strategy<Value = (i64, u32, bool)> {
    (
        prop_oneof![1 => 1i64..=500, 3 => 500i64..=3_000],
        0u32..=15,
        prop::bool::weighted(0.1),
    )
}

impl OrderAction {
    /// `Next` as the action that moves an order in `status` forward; from a
    /// final status, cancelling once more.
    fn resolve(self, status: OrderStatus) -> OrderAction {
        use OrderStatus as S;
        match (self, status) {
            (OrderAction::Next, S::New) => OrderAction::Place(vec![(0, 1), (1, 1), (2, 1)]),
            (OrderAction::Next, S::AwaitingPayment) => OrderAction::Pay { approved: true },
            (OrderAction::Next, S::PaymentDeclined) => OrderAction::Cancel,
            (OrderAction::Next, S::Paid) => OrderAction::Confirm,
            (OrderAction::Next, S::Confirmed) => OrderAction::Ship {
                valid_tracking: true,
            },
            (OrderAction::Next, S::Shipped) => OrderAction::Deliver,
            (OrderAction::Next, S::Delivered) => OrderAction::Return,
            (OrderAction::Next, S::Cancelled | S::Returned) => OrderAction::Cancel,
            (action, _) => action,
        }
    }
}

/// Where an accepted action takes the order; `None`: refused in this status.
fn transition(status: OrderStatus, action: &OrderAction) -> Option<OrderStatus> {
    use OrderStatus as S;
    match (status, action) {
        (S::New, OrderAction::Place(_)) => Some(S::AwaitingPayment),
        (S::AwaitingPayment, OrderAction::Pay { approved: true }) => Some(S::Paid),
        (S::AwaitingPayment, OrderAction::Pay { approved: false }) => Some(S::PaymentDeclined),
        (S::Paid, OrderAction::Confirm) => Some(S::Confirmed),
        (S::Confirmed, OrderAction::Ship { .. }) => Some(S::Shipped),
        (S::Shipped, OrderAction::Deliver) => Some(S::Delivered),
        (S::Delivered, OrderAction::Return) => Some(S::Returned),
        (S::AwaitingPayment | S::PaymentDeclined | S::Paid | S::Confirmed, OrderAction::Cancel) => {
            Some(S::Cancelled)
        }
        _ => None,
    }
}

/// The order's units are out of the shelf: held for it or sold to it.
fn takes_stock(status: OrderStatus) -> bool {
    status.holds_stock() || matches!(status, OrderStatus::Shipped | OrderStatus::Delivered)
}

/// A small shop around one or more orders: products, their current stock.
struct Shop {
    products: HashMap<ProductId, Product>,
    inventories: HashMap<ProductId, Inventory>,
    /// Stock as created plus accepted adjustments, per product.
    supplied: HashMap<ProductId, i64>,
}

impl Shop {
    fn new(entries: &[(i64, u32, bool)]) -> Self {
        let mut shop = Shop {
            products: HashMap::new(),
            inventories: HashMap::new(),
            supplied: HashMap::new(),
        };
        for (i, &(price, stock, deleted)) in entries.iter().enumerate() {
            let id = product_id(i);
            let mut product = listed_product(id, &format!("Product {i}"), price);
            if deleted {
                product = product::evolve(
                    product,
                    &ProductEvent::ProductDeleted(product::ProductDeleted {
                        reason: "discontinued".into(),
                    }),
                );
            }
            shop.products.insert(id, product);
            shop.inventories.insert(id, initial_inventory(stock));
            shop.supplied.insert(id, i64::from(stock));
        }
        shop
    }

    fn catalog(&self) -> HashMap<ProductId, (Product, Inventory)> {
        self.products
            .iter()
            .map(|(id, p)| (*id, (p.clone(), self.inventories[id].clone())))
            .collect()
    }

    fn apply_inventory(&mut self, events: &[(ProductId, InventoryEvent)]) {
        for (id, event) in events {
            let current = self
                .inventories
                .remove(id)
                .expect("inventory of a known product");
            self.inventories.insert(*id, fold_inventory(current, event));
        }
    }

    /// Would the rules accept these items? (All conditions, any order.)
    fn accepts(&self, items: &[OrderItem], policy: &OrderPolicy) -> bool {
        if items.is_empty() || items.len() > policy.max_lines {
            return false;
        }
        let mut total: i64 = 0;
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|o| o.product_id == item.product_id) {
                return false;
            }
            if item.quantity < 1 || item.quantity > i64::from(policy.max_quantity) {
                return false;
            }
            let Some(product) = self
                .products
                .get(&item.product_id)
                .filter(|p| p.is_listed())
            else {
                return false;
            };
            if item.quantity > i64::from(self.inventories[&item.product_id].available) {
                return false;
            }
            total += product.price.minor() * item.quantity;
        }
        total >= policy.min_total.minor()
    }
}

fn to_items(raw: &[(usize, i64)]) -> Vec<OrderItem> {
    raw.iter()
        .map(|&(i, quantity)| OrderItem {
            product_id: product_id(i),
            quantity,
        })
        .collect()
}

/// Runs one action against `order` (owned by `customer`, id `id`).
fn run_order_action(
    shop: &Shop,
    order: &Order,
    id: OrderId,
    customer: CustomerId,
    action: &OrderAction,
    actor: &Actor,
    policy: &OrderPolicy,
) -> Result<OrderDecision, DomainError> {
    let order_only = |events: Result<Vec<OrderEvent>, DomainError>| {
        events.map(|order| OrderDecision {
            order,
            inventory: vec![],
        })
    };
    match action {
        OrderAction::Next => panic!("resolve Next before running it"),
        OrderAction::Place(raw) => {
            let cmd = PlaceOrder {
                order_id: id,
                customer_id: customer,
                items: to_items(raw),
            };
            order::decide_place(order, &cmd, &shop.catalog(), actor, policy)
        }
        OrderAction::Pay { approved } => {
            let payable = order::check_payable(order, id, actor);
            let outcome = if *approved {
                PaymentOutcome::Approved {
                    payment_id: "pay-1".into(),
                }
            } else {
                PaymentOutcome::Declined {
                    reason: "card declined".into(),
                }
            };
            let result = order::decide_payment_result(order, id, actor, &outcome);
            assert_eq!(payable.as_ref().err(), result.as_ref().err());
            if let Ok(amount) = payable {
                assert_eq!(amount, order.total);
            }
            order_only(result)
        }
        OrderAction::Confirm => order_only(order::decide_confirm(order, id, actor)),
        OrderAction::Ship { valid_tracking } => {
            let tracking = if *valid_tracking { "TRK-1" } else { " " };
            order_only(order::decide_ship(order, id, tracking, actor))
        }
        OrderAction::Deliver => order_only(order::decide_deliver(order, id, actor)),
        OrderAction::Cancel => {
            order::decide_cancel(order, id, "changed my mind", &shop.inventories, actor)
        }
        OrderAction::Return => {
            order::decide_return(order, id, "does not fit", &shop.inventories, actor)
        }
    }
}

/// What the rules answer, as far as it follows from status and caller:
/// `Ok(())` means "accepted if the input is valid".
fn expected_order_answer(
    order: &Order,
    action: &OrderAction,
    who: Who,
) -> Result<(), &'static str> {
    let customer_may = who == Who::Owner || who.is_staff();
    match action {
        OrderAction::Place(_) => {
            if !customer_may {
                return Err("Forbidden");
            }
            if order.status != OrderStatus::New {
                return Err("AlreadyExists");
            }
            return Ok(());
        }
        _ if order.status == OrderStatus::New => return Err("NotFound"),
        OrderAction::Pay { .. } | OrderAction::Cancel | OrderAction::Return if !customer_may => {
            return Err("Forbidden")
        }
        OrderAction::Confirm | OrderAction::Ship { .. } | OrderAction::Deliver
            if !who.is_staff() =>
        {
            return Err("Forbidden")
        }
        _ => {}
    }
    match transition(order.status, action) {
        None => Err("InvalidState"),
        Some(_) => match action {
            OrderAction::Ship {
                valid_tracking: false,
            } => Err("trackingNumber"),
            _ => Ok(()),
        },
    }
}

/// The order's own invariants, and that its figures match the catalog.
fn check_order(order: &Order, shop: &Shop, policy: &OrderPolicy) -> Result<(), TestCaseError> {
    if order.status == OrderStatus::New {
        prop_assert!(order.lines.is_empty());
        prop_assert_eq!(order.total, Money::ZERO);
        return Ok(());
    }
    prop_assert!(!order.lines.is_empty());
    let mut sum = 0i64;
    for (i, line) in order.lines.iter().enumerate() {
        prop_assert_eq!(
            line.line_total.minor(),
            line.unit_price.minor() * i64::from(line.quantity)
        );
        prop_assert!(line.quantity >= 1 && line.quantity <= policy.max_quantity);
        let product = &shop.products[&line.product_id];
        prop_assert_eq!(line.unit_price, product.price, "priced from the catalog");
        prop_assert_eq!(&line.product_name, &product.details.name);
        prop_assert_eq!(&line.category, &product.details.category);
        prop_assert!(!order.lines[..i]
            .iter()
            .any(|o| o.product_id == line.product_id));
        sum += line.line_total.minor();
    }
    prop_assert_eq!(order.total.minor(), sum);
    prop_assert!(order.total >= policy.min_total);
    let paid = matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::Confirmed | OrderStatus::Shipped | OrderStatus::Delivered
    );
    prop_assert_eq!(order.paid, if paid { order.total } else { Money::ZERO });
    Ok(())
}

/// Every product's stock: what was supplied less what orders hold or sold.
fn check_stock(shop: &Shop, orders: &[&Order]) -> Result<(), TestCaseError> {
    for (id, inventory) in &shop.inventories {
        let taken: i64 = orders
            .iter()
            .filter(|o| takes_stock(o.status))
            .flat_map(|o| o.lines.iter())
            .filter(|l| l.product_id == *id)
            .map(|l| i64::from(l.quantity))
            .sum();
        let supplied = shop.supplied[id];
        prop_assert!(
            taken <= supplied,
            "sold {} of {} units supplied",
            taken,
            supplied
        );
        prop_assert_eq!(i64::from(inventory.available), supplied - taken);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn an_order_follows_its_lifecycle_and_keeps_its_figures(
        entries in prop::collection::vec(catalog_entry(), 4),
        steps in prop::collection::vec((order_action(), who()), 1..40),
    ) {
        let policy = OrderPolicy::default();
        let mut shop = Shop::new(&entries);
        let id = order_id(1);
        let owner = customer_id(1);
        let mut order = Order::default();
        let mut events_applied = 0u64;
        for (action, who) in steps {
            let action = action.resolve(order.status);
            let before = order.clone();
            let actor = who.as_customer_side(owner);
            let result = run_order_action(&shop, &order, id, owner, &action, &actor, &policy);
            let mut expected = expected_order_answer(&order, &action, who);
            if let (Ok(()), OrderAction::Place(raw)) = (expected, &action) {
                if !shop.accepts(&to_items(raw), &policy) {
                    expected = Err("input");
                }
            }
            match (result, expected) {
                (Ok(decision), Ok(())) => {
                    prop_assert_eq!(decision.order.len(), 1);
                    order = decision.order.iter().fold(order, order::evolve);
                    events_applied += 1;
                    shop.apply_inventory(&decision.inventory);
                    prop_assert_eq!(Some(order.status), transition(before.status, &action));
                }
                (Err(DomainError::Invalid { .. } | DomainError::InsufficientStock { .. }), Err("input")) => {}
                (Err(e), Err(kind)) => prop_assert_eq!(error_kind(&e), kind, "{:?}", e),
                (result, expected) => prop_assert!(
                    false,
                    "{:?} by {:?} in {:?}: got {:?}, expected {:?}",
                    action, who, before.status, result, expected
                ),
            }
            if before.status.is_final() {
                prop_assert_eq!(&order, &before, "a closed order changed");
            }
            prop_assert_eq!(order.version, events_applied);
            check_order(&order, &shop, &policy)?;
            check_stock(&shop, &[&order])?;
        }
    }

    #[test]
    fn a_closed_order_refuses_everything(
        entries in prop::collection::vec((1_000i64..=3_000, 1u32..=15, Just(false)), 1..4),
        returned in any::<bool>(),
        steps in prop::collection::vec((order_action(), who()), 1..30),
    ) {
        let policy = OrderPolicy::default();
        let mut shop = Shop::new(&entries);
        let (id, owner) = (order_id(1), customer_id(1));
        let admin = Who::Admin.as_customer_side(owner);
        let path: Vec<OrderAction> = if returned {
            vec![
                OrderAction::Place(vec![(0, 1)]),
                OrderAction::Pay { approved: true },
                OrderAction::Confirm,
                OrderAction::Ship { valid_tracking: true },
                OrderAction::Deliver,
                OrderAction::Return,
            ]
        } else {
            vec![OrderAction::Place(vec![(0, 1)]), OrderAction::Cancel]
        };
        let mut order = Order::default();
        for action in &path {
            let decision = run_order_action(&shop, &order, id, owner, action, &admin, &policy)
                .expect("the path to a closed order is accepted");
            order = decision.order.iter().fold(order, order::evolve);
            shop.apply_inventory(&decision.inventory);
        }
        prop_assert!(order.status.is_final());
        prop_assert_eq!(order.version, path.len() as u64);
        let closed = order.clone();
        let stock = shop.inventories.clone();
        for (action, who) in steps {
            let action = action.resolve(closed.status);
            let actor = who.as_customer_side(owner);
            let result = run_order_action(&shop, &closed, id, owner, &action, &actor, &policy);
            prop_assert!(result.is_err(), "{:?} by {:?} accepted on a {:?} order", action, who, closed.status);
        }
        prop_assert_eq!(&shop.inventories, &stock);
        check_stock(&shop, &[&closed])?;
    }
}

// ---- many orders sharing the stock ----------------------------------------------

#[derive(Clone, Debug)]
enum FlowCmd {
    Order { slot: usize, action: OrderAction },
    Adjust { product: usize, delta: i64 },
}

fn flow_cmd() -> impl Strategy<Value = FlowCmd> {
    prop_oneof![
        12 => (0usize..4, order_action()).prop_map(|(slot, action)| FlowCmd::Order { slot, action }),
        1 => (0usize..4, -6i64..=8).prop_map(|(product, delta)| FlowCmd::Adjust { product, delta }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn orders_sharing_products_never_sell_more_than_the_stock(
        entries in prop::collection::vec((300i64..=3_000, 0u32..=12, Just(false)), 3..=4),
        commands in prop::collection::vec(flow_cmd(), 1..80),
    ) {
        let policy = OrderPolicy::default();
        let mut shop = Shop::new(&entries);
        let mut orders: Vec<Order> = vec![Order::default(); 4];
        let mut events = [0u64; 4];
        let mut inventory_events: HashMap<ProductId, u64> =
            shop.inventories.keys().map(|id| (*id, 1)).collect();
        for cmd in commands {
            match cmd {
                FlowCmd::Order { slot, action } => {
                    let action = action.resolve(orders[slot].status);
                    let (id, owner) = (order_id(slot), customer_id(slot as u128));
                    // The owner acts for themselves; staff do the rest.
                    let who = match action {
                        OrderAction::Confirm | OrderAction::Ship { .. } | OrderAction::Deliver => Who::Admin,
                        _ => Who::Owner,
                    };
                    let actor = who.as_customer_side(owner);
                    let before = shop.inventories.clone();
                    let Ok(decision) = run_order_action(&shop, &orders[slot], id, owner, &action, &actor, &policy) else {
                        continue;
                    };
                    if let OrderAction::Place(_) = action {
                        // Each line was within the stock available when placed.
                        for (pid, event) in &decision.inventory {
                            let InventoryEvent::StockReserved(e) = event else {
                                prop_assert!(false, "placing caused {:?}", event);
                                continue;
                            };
                            prop_assert!(e.quantity <= before[pid].available);
                        }
                    }
                    for (pid, _) in &decision.inventory {
                        *inventory_events.entry(*pid).or_default() += 1;
                    }
                    shop.apply_inventory(&decision.inventory);
                    let order = std::mem::take(&mut orders[slot]);
                    orders[slot] = decision.order.iter().fold(order, order::evolve);
                    events[slot] += decision.order.len() as u64;
                }
                FlowCmd::Adjust { product, delta } => {
                    let pid = product_id(product);
                    let Some(stock) = shop.inventories.get(&pid) else { continue };
                    let cmd = AdjustInventory {
                        product_id: pid,
                        delta,
                        reason: "stock count".into(),
                        expected_version: None,
                    };
                    let Ok(adjusted) = inventory::decide_adjust(stock, &shop.products[&pid], &cmd, &Who::Admin.as_seller_side()) else {
                        continue;
                    };
                    let adjusted: Vec<_> = adjusted.into_iter().map(|e| (pid, e)).collect();
                    shop.apply_inventory(&adjusted);
                    *shop.supplied.get_mut(&pid).expect("known product") += delta;
                    *inventory_events.entry(pid).or_default() += 1;
                }
            }
            for (slot, order) in orders.iter().enumerate() {
                prop_assert_eq!(order.version, events[slot]);
                check_order(order, &shop, &policy)?;
            }
            for (pid, inventory) in &shop.inventories {
                prop_assert_eq!(inventory.version, inventory_events[pid]);
            }
            let all: Vec<&Order> = orders.iter().collect();
            check_stock(&shop, &all)?;
        }
    }
}
