//! Catalog commands: products (details, price, soft delete), their inventory,
//! and sellers.

use super::{unavailable, CommandBus, Decision, EventBatch};
use crate::store::write::{Commit, StateWrite};
use app::ports::CatalogCommands;
use async_trait::async_trait;
use domain::inventory::{self, AdjustInventory, Inventory};
use domain::party::{self, RegisterSeller, Seller};
use domain::product::{
    self, ChangePrice, CreateProduct, DeleteProduct, PricePolicy, Product, UpdateProductDetails,
};
use domain::{authz, AggregateType, CommandError, CommandMeta, ProductId, SellerId, WriteReceipt};

#[derive(Clone)]
pub struct CatalogHandler {
    pub bus: CommandBus,
    pub policy: PricePolicy,
}

fn state_write<S: serde::Serialize>(
    aggregate: AggregateType,
    id: impl ToString,
    expected: u64,
    state: &S,
) -> Result<StateWrite, CommandError> {
    StateWrite::new(aggregate, id, expected, state).map_err(unavailable)
}

impl CatalogHandler {
    async fn load_product(&self, id: ProductId) -> Result<Product, CommandError> {
        self.bus
            .store
            .load(AggregateType::Product, id)
            .await
            .map_err(unavailable)
    }

    /// One product command: load, decide, commit the new state and events.
    async fn change_product(
        &self,
        meta: &CommandMeta,
        id: ProductId,
        decide: impl Fn(&Product) -> Result<Vec<product::ProductEvent>, domain::DomainError>,
    ) -> Result<WriteReceipt, CommandError> {
        let decide = &decide;
        self.bus
            .run(
                meta,
                &[(AggregateType::Product, id.to_string())],
                || async move {
                    let state = self.load_product(id).await?;
                    let events = decide(&state)?;
                    let mut batch = EventBatch::new(meta);
                    let version = batch.add(&id.to_string(), state.version, &events);
                    let next = events.iter().fold(state.clone(), product::evolve);
                    let mut commit = Commit::default();
                    if !events.is_empty() {
                        commit.states.push(state_write(
                            AggregateType::Product,
                            id,
                            state.version,
                            &next,
                        )?);
                    }
                    commit.events = batch.events;
                    Ok(Decision {
                        commit,
                        aggregate_id: id.to_string(),
                        aggregate_version: version,
                    })
                },
            )
            .await
    }

    /// Creates the shop's house seller once (owner of products created
    /// without a seller, as the reference service's clients do).
    pub async fn ensure_house_seller(&self) -> Result<(), CommandError> {
        let existing: Seller = self
            .bus
            .store
            .load(AggregateType::Seller, SellerId::HOUSE)
            .await
            .map_err(unavailable)?;
        if existing.version > 0 {
            return Ok(());
        }
        let result = self
            .register_seller(
                CommandMeta::new(domain::Actor::system("setup")),
                RegisterSeller {
                    seller_id: SellerId::HOUSE,
                    name: "Vitrine House".into(),
                    rating_tenths: None,
                },
            )
            .await;
        match result {
            Ok(_) | Err(CommandError::Rejected(domain::DomainError::AlreadyExists { .. })) => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl CatalogCommands for CatalogHandler {
    async fn create_product(
        &self,
        meta: CommandMeta,
        command: CreateProduct,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.product_id;
        let seller = authz::seller_for_new_product(&meta.actor, command.seller_id)?;
        let locks = [
            (AggregateType::Product, id.to_string()),
            (AggregateType::Inventory, id.to_string()),
        ];
        let (meta, command) = (&meta, &command);
        self.bus
            .run(meta, &locks, || async move {
                let state = self.load_product(id).await?;
                let stock: Inventory = self
                    .bus
                    .store
                    .load(AggregateType::Inventory, id)
                    .await
                    .map_err(unavailable)?;
                let owner: Seller = self
                    .bus
                    .store
                    .load(AggregateType::Seller, seller)
                    .await
                    .map_err(unavailable)?;
                let events = product::decide_create(
                    &state,
                    command,
                    seller,
                    owner.version > 0,
                    &self.policy,
                )?;
                let stock_events = inventory::decide_initial_stock(&stock, command.stock)?;
                let mut batch = EventBatch::new(meta);
                // The product's event first: projections of the inventory
                // find the product already there.
                let version = batch.add(&id.to_string(), 0, &events);
                batch.add(&id.to_string(), 0, &stock_events);
                let next = events.iter().fold(state, product::evolve);
                let next_stock = stock_events.iter().fold(stock, inventory::evolve);
                let commit = Commit {
                    states: vec![
                        state_write(AggregateType::Product, id, 0, &next)?,
                        state_write(AggregateType::Inventory, id, 0, &next_stock)?,
                    ],
                    events: batch.events,
                    ..Commit::default()
                };
                Ok(Decision {
                    commit,
                    aggregate_id: id.to_string(),
                    aggregate_version: version,
                })
            })
            .await
    }

    async fn update_product_details(
        &self,
        meta: CommandMeta,
        command: UpdateProductDetails,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.change_product(&meta, command.product_id, |state| {
            product::decide_update_details(state, &command, &actor, &self.policy)
        })
        .await
    }

    async fn change_price(
        &self,
        meta: CommandMeta,
        command: ChangePrice,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.change_product(&meta, command.product_id, |state| {
            product::decide_change_price(state, &command, &actor, &self.policy)
        })
        .await
    }

    async fn delete_product(
        &self,
        meta: CommandMeta,
        command: DeleteProduct,
    ) -> Result<WriteReceipt, CommandError> {
        let actor = meta.actor.clone();
        self.change_product(&meta, command.product_id, |state| {
            product::decide_delete(state, &command, &actor)
        })
        .await
    }

    async fn adjust_inventory(
        &self,
        meta: CommandMeta,
        command: AdjustInventory,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.product_id;
        let (meta, command) = (&meta, &command);
        self.bus
            .run(
                meta,
                &[(AggregateType::Inventory, id.to_string())],
                || async move {
                    let owner = self.load_product(id).await?;
                    let state: Inventory = self
                        .bus
                        .store
                        .load(AggregateType::Inventory, id)
                        .await
                        .map_err(unavailable)?;
                    let events = inventory::decide_adjust(&state, &owner, command, &meta.actor)?;
                    let mut batch = EventBatch::new(meta);
                    let version = batch.add(&id.to_string(), state.version, &events);
                    let next = events.iter().fold(state.clone(), inventory::evolve);
                    Ok(Decision {
                        commit: Commit {
                            states: vec![state_write(
                                AggregateType::Inventory,
                                id,
                                state.version,
                                &next,
                            )?],
                            events: batch.events,
                            ..Commit::default()
                        },
                        aggregate_id: id.to_string(),
                        aggregate_version: version,
                    })
                },
            )
            .await
    }

    async fn register_seller(
        &self,
        meta: CommandMeta,
        command: RegisterSeller,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.seller_id;
        let (meta, command) = (&meta, &command);
        self.bus
            .run(
                meta,
                &[(AggregateType::Seller, id.to_string())],
                || async move {
                    let state: Seller = self
                        .bus
                        .store
                        .load(AggregateType::Seller, id)
                        .await
                        .map_err(unavailable)?;
                    let events = party::decide_register_seller(&state, command, &meta.actor)?;
                    let mut batch = EventBatch::new(meta);
                    let version = batch.add(&id.to_string(), 0, &events);
                    let next = events.iter().fold(state, party::evolve_seller);
                    Ok(Decision {
                        commit: Commit {
                            states: vec![state_write(AggregateType::Seller, id, 0, &next)?],
                            events: batch.events,
                            ..Commit::default()
                        },
                        aggregate_id: id.to_string(),
                        aggregate_version: version,
                    })
                },
            )
            .await
    }
}
