//! The payment provider. Vitrine ships a simulated one (no real money moves);
//! a real provider implements the same trait.
//!
//! Every charge carries an idempotency key (the order and its version), and a
//! provider answers a repeated key with the first answer: a command retried
//! after a lost race or a crash never charges twice.

use async_trait::async_trait;
use domain::order::PaymentOutcome;
use domain::Money;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("the payment provider is unavailable: {0}")]
pub struct PaymentUnavailable(pub String);

#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    async fn charge(
        &self,
        idempotency_key: &str,
        amount: Money,
        payment_method: &str,
    ) -> Result<PaymentOutcome, PaymentUnavailable>;
}

/// Approves every payment method except the test method `card-declined`, and
/// declines charges above its limit — like a provider's test mode. Answers
/// are kept per key for the life of the process.
#[derive(Default)]
pub struct SimulatedPayments {
    answers: Mutex<HashMap<String, PaymentOutcome>>,
}

/// The test payment method that is always declined.
pub const DECLINED_METHOD: &str = "card-declined";
/// Charges above this are declined ("exceeds the card's limit").
pub const CARD_LIMIT: Money = Money::from_minor(5_000_000);

#[async_trait]
impl PaymentProvider for SimulatedPayments {
    async fn charge(
        &self,
        idempotency_key: &str,
        amount: Money,
        payment_method: &str,
    ) -> Result<PaymentOutcome, PaymentUnavailable> {
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        let answer = answers
            .entry(idempotency_key.to_owned())
            .or_insert_with(|| {
                if payment_method == DECLINED_METHOD {
                    PaymentOutcome::Declined {
                        reason: "the card was declined".into(),
                    }
                } else if amount > CARD_LIMIT {
                    PaymentOutcome::Declined {
                        reason: format!("the charge of {amount} exceeds the card's limit"),
                    }
                } else {
                    PaymentOutcome::Approved {
                        payment_id: format!("sim_{}", uuid::Uuid::now_v7().simple()),
                    }
                }
            })
            .clone();
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_repeated_key_gets_the_first_answer() {
        let p = SimulatedPayments::default();
        let a = p
            .charge("o1:1", Money::from_minor(100), "card")
            .await
            .unwrap();
        let b = p
            .charge("o1:1", Money::from_minor(100), "card")
            .await
            .unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            p.charge("o2:1", Money::from_minor(100), DECLINED_METHOD)
                .await
                .unwrap(),
            PaymentOutcome::Declined { .. }
        ));
    }

    /// Checkout offers these test cards by name: each must do what its
    /// label says.
    #[tokio::test]
    async fn the_test_cards_checkout_offers_behave_as_labelled() {
        let p = SimulatedPayments::default();
        for (i, (method, label)) in app::api::orders::PAYMENT_METHODS.iter().enumerate() {
            let outcome = p
                .charge(&format!("o{i}:1"), Money::from_minor(100), method)
                .await
                .unwrap();
            let declined = matches!(outcome, PaymentOutcome::Declined { .. });
            assert_eq!(
                declined,
                label.contains("declined"),
                "{method}: {outcome:?}"
            );
        }
        assert!(app::api::orders::PAYMENT_METHODS
            .iter()
            .any(|(m, _)| *m == DECLINED_METHOD));
    }
}
