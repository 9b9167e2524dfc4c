//! The order process manager: driven by the order events, it sends the
//! commands that follow from them —
//!
//! - `PaymentProcessed` → `ConfirmOrder`
//! - `PaymentDeclined` → `CancelOrder` (releases the stock)
//! - an order still unpaid past the configured time → `CancelOrder`
//!
//! Its commands carry a key derived from the triggering event, so a
//! redelivered event gets the first outcome back instead of acting twice;
//! a command refused because the order already moved on (a customer
//! cancelled first) is done, not retried.

use crate::commands::accounts::AccountHandler;
use crate::commands::orders::OrderHandler;
use crate::store::write::WriteStore;
use app::ports::OrderCommands;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::AckKind;
use domain::order::OrderEvent;
use domain::{
    Actor, CommandError, CommandId, CommandMeta, DomainEvent, Idempotency, OrderId, StoredEvent,
};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

pub const NAME: &str = "process_orders";
pub const FILTER: &str = "vitrine.events.order.>";

pub struct OrderProcess {
    pub consumer: PullConsumer,
    pub orders: Arc<OrderHandler>,
    pub accounts: Arc<AccountHandler>,
    pub write: WriteStore,
    pub unpaid_timeout: Duration,
    /// How often unpaid orders, expired sessions and command records are swept.
    pub sweep_every: Duration,
}

fn meta_for(trigger: &str, correlation_id: Option<uuid::Uuid>) -> CommandMeta {
    CommandMeta {
        actor: Actor::system(NAME),
        command_id: CommandId::new(),
        idempotency: Some(Idempotency {
            key: trigger.to_owned(),
            request_hash: trigger.to_owned(),
        }),
        correlation_id,
    }
}

/// Refusals that mean "already handled": the order moved on meanwhile.
fn settled(result: Result<domain::WriteReceipt, CommandError>) -> Result<(), CommandError> {
    match result {
        Ok(_) => Ok(()),
        Err(CommandError::Rejected(e)) => {
            tracing::debug!(reason = %e, "order process: nothing to do");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// "30 minutes", "90 seconds", "1 minute".
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = if secs >= 60 && secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs.max(1), "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

impl OrderProcess {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut sweep = tokio::time::interval(self.sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let messages = match self.consumer.messages().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "order process: no message stream; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.cancelled() => return,
                    }
                }
            };
            let mut messages = messages;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = sweep.tick() => self.sweep().await,
                    next = messages.next() => {
                        let Some(Ok(message)) = next else { break };
                        let ack = match serde_json::from_slice::<StoredEvent>(&message.payload) {
                            Ok(event) => self.react(&event).await,
                            // Not ours to park: the projectors keep unreadable messages.
                            Err(_) => Ok(()),
                        };
                        let kind = match ack {
                            Ok(()) => AckKind::Ack,
                            Err(e) => {
                                tracing::warn!(error = %e, "order process: will retry");
                                AckKind::Nak(Some(Duration::from_secs(1)))
                            }
                        };
                        let _ = message.ack_with(kind).await;
                    }
                }
            }
        }
    }

    async fn react(&self, stored: &StoredEvent) -> Result<(), CommandError> {
        // An order event this build cannot read is retried, never skipped:
        // skipping a PaymentProcessed would leave a paid order unconfirmed.
        let event = OrderEvent::decode_envelope(stored)
            .map_err(|e| CommandError::Unavailable(e.to_string()))?;
        let Ok(order_id) = stored.aggregate_id.parse::<OrderId>() else {
            return Ok(());
        };
        let trigger = format!("{NAME}:{}", stored.event_id);
        let meta = meta_for(&trigger, Some(stored.correlation_id));
        match event.payload {
            OrderEvent::PaymentProcessed(_) => {
                settled(self.orders.confirm_order(meta, order_id).await)
            }
            OrderEvent::PaymentDeclined(_) => settled(
                self.orders
                    .cancel_order(meta, order_id, "payment declined".into())
                    .await,
            ),
            _ => Ok(()),
        }
    }

    /// Cancels orders unpaid past the timeout; forgets expired sessions and
    /// command records.
    async fn sweep(&self) {
        let cutoff = OffsetDateTime::now_utc() - self.unpaid_timeout;
        match self.write.orders_to_expire(cutoff, 100).await {
            Ok(ids) => {
                for id in ids {
                    let Ok(order_id) = id.parse::<OrderId>() else {
                        continue;
                    };
                    let meta = meta_for(&format!("{NAME}:unpaid:{id}"), None);
                    let reason = format!("not paid within {}", human(self.unpaid_timeout));
                    if let Err(e) = settled(self.orders.cancel_order(meta, order_id, reason).await)
                    {
                        tracing::warn!(error = %e, order = %id, "could not cancel an unpaid order");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not look for unpaid orders"),
        }
        if let Err(e) = self.write.expire_commands().await {
            tracing::warn!(error = %e, "could not expire command records");
        }
        if let Err(e) = self.accounts.expire_sessions().await {
            tracing::warn!(error = %e, "could not expire sessions");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(human(Duration::from_secs(60)), "1 minute");
        assert_eq!(human(Duration::from_secs(90)), "90 seconds");
        assert_eq!(human(Duration::from_millis(300)), "1 second");
    }
}
