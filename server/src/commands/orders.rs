//! Order commands. Placing, cancelling and returning change the order and
//! each product's inventory: all their events go into one commit, so stock is
//! reserved (or released) atomically with the order — no oversell at any
//! concurrency: the inventory row's version guard and the unique index on
//! (aggregate type, id, version) make a concurrent writer lose and retry.

use super::{unavailable, CommandBus, Decision, EventBatch};
use crate::payments::PaymentProvider;
use crate::store::write::{Commit, StateWrite};
use app::ports::OrderCommands;
use async_trait::async_trait;
use domain::inventory::{self, Inventory};
use domain::order::{self, Order, OrderDecision, OrderPolicy, PlaceOrder};
use domain::party::Customer;
use domain::product::Product;
use domain::{
    AggregateType, CommandError, CommandMeta, DomainError, OrderId, ProductId, WriteReceipt,
};
use std::collections::HashMap;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

#[derive(Clone)]
pub struct OrderHandler {
    pub bus: CommandBus,
    pub policy: OrderPolicy,
    pub payments: Arc<dyn PaymentProvider>,
}

/// A loaded row as the aggregate's state (default when missing).
fn decode<T: serde::de::DeserializeOwned + Default>(
    row: Option<serde_json::Value>,
) -> Result<T, CommandError> {
    match row {
        Some(v) if !v.is_null() => serde_json::from_value(v).map_err(|e| unavailable(e.into())),
        _ => Ok(T::default()),
    }
}

/// The order's lock and each line's inventory lock.
fn locks(
    order: OrderId,
    products: impl IntoIterator<Item = ProductId>,
) -> Vec<(AggregateType, String)> {
    let mut keys = vec![(AggregateType::Order, order.to_string())];
    keys.extend(
        products
            .into_iter()
            .map(|p| (AggregateType::Inventory, p.to_string())),
    );
    keys
}

impl OrderHandler {
    async fn load_order(&self, id: OrderId) -> Result<Order, CommandError> {
        self.bus
            .store
            .load(AggregateType::Order, id)
            .await
            .map_err(unavailable)
    }

    async fn load_inventories(
        &self,
        ids: &[ProductId],
    ) -> Result<HashMap<ProductId, Inventory>, CommandError> {
        let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let loaded: HashMap<String, Inventory> = self
            .bus
            .store
            .load_many(AggregateType::Inventory, &keys)
            .await
            .map_err(unavailable)?;
        Ok(ids
            .iter()
            .map(|id| {
                (
                    *id,
                    loaded.get(&id.to_string()).cloned().unwrap_or_default(),
                )
            })
            .collect())
    }

    /// The commit for a decision over the order and some inventories.
    fn commit(
        meta: &CommandMeta,
        id: OrderId,
        state: &Order,
        decision: &OrderDecision,
        inventories: &HashMap<ProductId, Inventory>,
    ) -> Result<Decision, CommandError> {
        let mut batch = EventBatch::new(meta);
        let order_id = id.to_string();
        let version = batch.add(&order_id, state.version, &decision.order);
        let next = decision.order.iter().fold(state.clone(), order::evolve);
        let mut row = StateWrite::new(AggregateType::Order, id, state.version, &next)
            .map_err(unavailable)?
            .with("status", serde_json::json!(next.status.as_str()));
        if state.version == 0 {
            // Updates merge into the row, so this stays for the order's life.
            let placed_at = batch.occurred_at().format(&Rfc3339).unwrap_or_default();
            row = row.with("placedAt", serde_json::json!(placed_at));
        }
        let mut states = vec![row];
        // Group each product's events (an order has one line per product).
        for (product_id, event) in &decision.inventory {
            let before = inventories.get(product_id).cloned().unwrap_or_default();
            batch.add(
                &product_id.to_string(),
                before.version,
                std::slice::from_ref(event),
            );
            let after = inventory::evolve(before.clone(), event);
            states.push(
                StateWrite::new(AggregateType::Inventory, product_id, before.version, &after)
                    .map_err(unavailable)?,
            );
        }
        Ok(Decision {
            commit: Commit {
                states,
                events: batch.events,
                ..Commit::default()
            },
            aggregate_id: order_id,
            aggregate_version: version,
        })
    }

    /// A transition that touches only the order.
    async fn transition(
        &self,
        meta: &CommandMeta,
        id: OrderId,
        decide: impl Fn(&Order) -> Result<Vec<order::OrderEvent>, DomainError>,
    ) -> Result<WriteReceipt, CommandError> {
        let decide = &decide;
        self.bus
            .run(meta, &locks(id, []), || async move {
                let state = self.load_order(id).await?;
                let events = decide(&state)?;
                let decision = OrderDecision {
                    order: events,
                    inventory: vec![],
                };
                Self::commit(meta, id, &state, &decision, &HashMap::new())
            })
            .await
    }

    /// Cancel or return: the order and its lines' inventories.
    async fn close(
        &self,
        meta: &CommandMeta,
        id: OrderId,
        decide: impl Fn(&Order, &HashMap<ProductId, Inventory>) -> Result<OrderDecision, DomainError>,
    ) -> Result<WriteReceipt, CommandError> {
        // The lines name the inventories to lock; they never change after
        // placing, so reading them before taking the locks is safe.
        let lines: Vec<ProductId> = self
            .load_order(id)
            .await?
            .lines
            .iter()
            .map(|l| l.product_id)
            .collect();
        let decide = &decide;
        let lines = &lines;
        self.bus
            .run(meta, &locks(id, lines.iter().copied()), || async move {
                let state = self.load_order(id).await?;
                let inventories = self.load_inventories(lines).await?;
                let decision = decide(&state, &inventories)?;
                Self::commit(meta, id, &state, &decision, &inventories)
            })
            .await
    }
}

#[async_trait]
impl OrderCommands for OrderHandler {
    async fn place_order(
        &self,
        meta: CommandMeta,
        command: PlaceOrder,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.order_id;
        let products: Vec<ProductId> = command.items.iter().map(|i| i.product_id).collect();
        let (meta, command, products_ref) = (&meta, &command, &products);
        self.bus
            .run(meta, &locks(id, products.iter().copied()), || async move {
                // Everything the rules need, in one read: the order, the
                // customer, and each line's product and inventory.
                let mut keys = vec![
                    (AggregateType::Order, id.to_string()),
                    (AggregateType::Customer, command.customer_id.to_string()),
                ];
                for p in products_ref {
                    keys.push((AggregateType::Product, p.to_string()));
                    keys.push((AggregateType::Inventory, p.to_string()));
                }
                let mut rows = self
                    .bus
                    .store
                    .load_rows(&keys)
                    .await
                    .map_err(unavailable)?
                    .into_iter();
                let state: Order = decode(rows.next())?;
                let customer: Customer = decode(rows.next())?;
                // Staff may order for a customer: one that exists.
                if customer.version == 0 && meta.actor.is_admin() {
                    return Err(DomainError::invalid(
                        "customerId",
                        format!("customer {} does not exist", command.customer_id),
                    )
                    .into());
                }
                let mut catalog: HashMap<ProductId, (Product, Inventory)> = HashMap::new();
                let mut inventories: HashMap<ProductId, Inventory> = HashMap::new();
                for p in products_ref {
                    let product: Product = decode(rows.next())?;
                    let stock: Inventory = decode(rows.next())?;
                    inventories.insert(*p, stock.clone());
                    catalog.insert(*p, (product, stock));
                }
                let decision =
                    order::decide_place(&state, command, &catalog, &meta.actor, &self.policy)?;
                Self::commit(meta, id, &state, &decision, &inventories)
            })
            .await
    }

    async fn pay_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        payment_method: String,
    ) -> Result<WriteReceipt, CommandError> {
        let (meta_ref, method) = (&meta, &payment_method);
        self.bus
            .run(meta_ref, &locks(id, []), || async move {
                let state = self.load_order(id).await?;
                let amount = order::check_payable(&state, id, &meta_ref.actor)?;
                // Keyed by the order's version: a retry of this command asks
                // again with the same key and gets the same answer.
                let key = format!("{id}:{}", state.version);
                let outcome = self
                    .payments
                    .charge(&key, amount, method)
                    .await
                    .map_err(|e| CommandError::Unavailable(e.to_string()))?;
                let events = order::decide_payment_result(&state, id, &meta_ref.actor, &outcome)?;
                let decision = OrderDecision {
                    order: events,
                    inventory: vec![],
                };
                Self::commit(meta_ref, id, &state, &decision, &HashMap::new())
            })
            .await
    }

    async fn confirm_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.transition(&meta, id, |s| order::decide_confirm(s, id, &actor))
            .await
    }

    async fn ship_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        tracking_number: String,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.transition(&meta, id, |s| {
            order::decide_ship(s, id, &tracking_number, &actor)
        })
        .await
    }

    async fn deliver_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.transition(&meta, id, |s| order::decide_deliver(s, id, &actor))
            .await
    }

    async fn cancel_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        reason: String,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.close(&meta, id, |s, inv| {
            order::decide_cancel(s, id, &reason, inv, &actor)
        })
        .await
    }

    async fn return_order(
        &self,
        meta: CommandMeta,
        id: OrderId,
        reason: String,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.close(&meta, id, |s, inv| {
            order::decide_return(s, id, &reason, inv, &actor)
        })
        .await
    }
}
