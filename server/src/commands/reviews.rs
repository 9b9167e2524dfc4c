//! Review commands: one review per customer and product, by customers who
//! received the product (see `domain::review` for why).

use super::{unavailable, CommandBus, Decision, EventBatch};
use crate::store::write::{Commit, StateWrite};
use app::ports::ReviewCommands;
use async_trait::async_trait;
use domain::product::Product;
use domain::review::{self, Review, SubmitReview};
use domain::{AggregateType, CommandError, CommandMeta, WriteReceipt};

#[derive(Clone)]
pub struct ReviewHandler {
    pub bus: CommandBus,
}

#[async_trait]
impl ReviewCommands for ReviewHandler {
    async fn submit_review(
        &self,
        meta: CommandMeta,
        command: SubmitReview,
    ) -> Result<WriteReceipt, CommandError> {
        let id = command.review_id();
        let (meta, command) = (&meta, &command);
        self.bus
            .run(
                meta,
                &[(AggregateType::Review, id.to_string())],
                || async move {
                    let store = &self.bus.store;
                    let state: Review = store
                        .load(AggregateType::Review, id)
                        .await
                        .map_err(unavailable)?;
                    let product: Product = store
                        .load(AggregateType::Product, command.product_id)
                        .await
                        .map_err(unavailable)?;
                    let received = store
                        .has_received(
                            &command.customer_id.to_string(),
                            &command.product_id.to_string(),
                        )
                        .await
                        .map_err(unavailable)?;
                    let events =
                        review::decide_submit(&state, command, &product, received, &meta.actor)?;
                    let mut batch = EventBatch::new(meta);
                    let version = batch.add(&id.to_string(), 0, &events);
                    let next = events.iter().fold(state, review::evolve);
                    let row = StateWrite::new(AggregateType::Review, id, 0, &next)
                        .map_err(unavailable)?
                        .with("productId", serde_json::json!(command.product_id))
                        .with("customerId", serde_json::json!(command.customer_id));
                    Ok(Decision {
                        commit: Commit {
                            states: vec![row],
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
