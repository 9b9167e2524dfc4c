use crate::pipeline::relay::RelayWaker;
use crate::store::write::WriteStore;
use crate::store::StoreError;
use app::ports::ProductCommands;
use async_trait::async_trait;
use domain::product::{
    decide_change_price, decide_create, evolve, ChangePrice, CreateProduct, PricePolicy, Product,
    ProductEvent,
};
use domain::{
    Actor, AggregateType, CommandError, CommandId, EventEnvelope, EventId, StoredEvent,
    WriteReceipt,
};
use time::OffsetDateTime;

/// How often a command is re-decided when a concurrent writer won.
const MAX_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct ProductHandler {
    pub store: WriteStore,
    pub policy: PricePolicy,
    pub relay: RelayWaker,
}

fn unavailable(e: StoreError) -> CommandError {
    tracing::error!(error = %e, "write store failed");
    CommandError::Unavailable("the write store failed".into())
}

/// Wraps decided events in envelopes numbered after `state.version`.
fn envelopes(
    product_id: &str,
    state: &Product,
    events: &[ProductEvent],
    actor: &Actor,
    command_id: CommandId,
) -> Vec<StoredEvent> {
    let occurred_at = OffsetDateTime::now_utc();
    events
        .iter()
        .enumerate()
        .map(|(i, event)| EventEnvelope {
            event_id: EventId::new(),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            aggregate_type: AggregateType::Product,
            aggregate_id: product_id.to_owned(),
            aggregate_version: state.version + 1 + i as u64,
            occurred_at,
            actor: actor.clone(),
            command_id,
            // A command that starts a flow correlates with itself.
            correlation_id: command_id.0,
            payload: event.payload_json(),
        })
        .collect()
}

fn receipt(
    command_id: CommandId,
    aggregate_id: String,
    version: u64,
    events: &[StoredEvent],
) -> WriteReceipt {
    WriteReceipt {
        command_id,
        aggregate_id,
        aggregate_version: version,
        event_ids: events.iter().map(|e| e.event_id).collect(),
    }
}

#[async_trait]
impl ProductCommands for ProductHandler {
    async fn create_product(
        &self,
        actor: Actor,
        command_id: CommandId,
        command: CreateProduct,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.product_id;
        // The id is new, so the state is empty; the append transaction checks
        // that no product holds it, and a clash answers AlreadyExists below.
        let state = Product::default();
        let events = decide_create(&state, &command, &self.policy)?;
        let stored = envelopes(&id.to_string(), &state, &events, &actor, command_id);
        let next = events.iter().fold(state, evolve);
        match self
            .store
            .append_product_created(id, &next, command.stock, &stored)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(CommandError::Rejected(domain::DomainError::AlreadyExists {
                    aggregate: "product".into(),
                    id: id.to_string(),
                }))
            }
            Err(e) => return Err(unavailable(e)),
        }
        self.relay.wake();
        Ok(receipt(command_id, id.to_string(), next.version, &stored))
    }

    async fn change_price(
        &self,
        actor: Actor,
        command_id: CommandId,
        command: ChangePrice,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.product_id;
        for _ in 0..MAX_ATTEMPTS {
            let state = self.store.load_product(id).await.map_err(unavailable)?;
            let events = decide_change_price(&state, &command, &self.policy, actor.is_admin())?;
            if events.is_empty() {
                return Ok(receipt(command_id, id.to_string(), state.version, &[]));
            }
            let stored = envelopes(&id.to_string(), &state, &events, &actor, command_id);
            let expected = state.version;
            let next = events.iter().fold(state, evolve);
            match self
                .store
                .append_product_changed(id, expected, &next, &stored)
                .await
            {
                Ok(()) => {
                    self.relay.wake();
                    return Ok(receipt(command_id, id.to_string(), next.version, &stored));
                }
                // Someone else wrote first: decide again on the new state
                // (a command with expectedVersion then gets VersionConflict).
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(CommandError::Unavailable(
            "too many concurrent changes to this product; try again".into(),
        ))
    }
}
