//! The Review aggregate: one per customer and product (its id is derived
//! from both, so a second review of the same product by the same customer
//! meets the first one's aggregate and is refused).
//!
//! Only customers who received the product (an order with it delivered and
//! not returned) may review it: reviews describe a product someone used, and
//! the shop cannot otherwise tell a review from an advertisement.

use crate::authz;
use crate::error::DomainError;
use crate::event::Actor;
use crate::ids::{CustomerId, ProductId, ReviewId};
use crate::product::Product;
use crate::text;
use serde::{Deserialize, Serialize};

pub const COMMENT_MIN_CHARS: usize = 3;
pub const COMMENT_MAX_CHARS: usize = 2_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitReview {
    pub product_id: ProductId,
    pub customer_id: CustomerId,
    pub rating: i64,
    pub comment: String,
}

impl SubmitReview {
    pub fn review_id(&self) -> ReviewId {
        ReviewId::of(self.product_id, self.customer_id)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewSubmitted {
    pub product_id: ProductId,
    pub customer_id: CustomerId,
    pub rating: u8,
    pub comment: String,
}

crate::domain_events!(
    /// Everything that happens to a review.
    ReviewEvent for Review {
        ReviewSubmitted,
    }
);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub version: u64,
    pub rating: u8,
}

pub fn evolve(mut state: Review, event: &ReviewEvent) -> Review {
    match event {
        ReviewEvent::ReviewSubmitted(e) => state.rating = e.rating,
    }
    state.version += 1;
    state
}

/// `received` is the write model's answer to "did this customer receive this
/// product (delivered, not returned)?".
pub fn decide_submit(
    state: &Review,
    cmd: &SubmitReview,
    product: &Product,
    received: bool,
    actor: &Actor,
) -> Result<Vec<ReviewEvent>, DomainError> {
    authz::may_act_for_customer(actor, cmd.customer_id)?;
    if !product.is_listed() {
        return Err(DomainError::not_found("product", cmd.product_id));
    }
    if !(1..=5).contains(&cmd.rating) {
        return Err(DomainError::invalid(
            "rating",
            "must be a whole number from 1 to 5",
        ));
    }
    let comment = text::bounded(
        "comment",
        &cmd.comment,
        COMMENT_MIN_CHARS,
        COMMENT_MAX_CHARS,
    )?;
    if state.version > 0 {
        return Err(DomainError::AlreadyExists {
            aggregate: "review".into(),
            id: format!("by this customer of product {}", cmd.product_id),
        });
    }
    if !received {
        return Err(DomainError::forbidden(
            "only customers who received this product may review it",
        ));
    }
    Ok(vec![ReviewEvent::ReviewSubmitted(ReviewSubmitted {
        product_id: cmd.product_id,
        customer_id: cmd.customer_id,
        rating: cmd.rating as u8,
        comment,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ActorRole, DomainEvent};
    use crate::ids::SellerId;
    use crate::money::Money;
    use crate::product::{self, ProductCreated, ProductDeleted, ProductDetails, ProductEvent};

    fn listed() -> Product {
        product::evolve(
            Product::default(),
            &ProductEvent::ProductCreated(ProductCreated {
                seller_id: SellerId::HOUSE,
                details: ProductDetails {
                    name: "Desk lamp".into(),
                    category: "Home".into(),
                    ..ProductDetails::default()
                },
                price: Money::from_minor(1_250),
            }),
        )
    }

    fn customer(id: CustomerId) -> Actor {
        Actor {
            id: id.to_string(),
            role: ActorRole::Customer,
        }
    }

    fn submit(rating: i64, comment: &str) -> SubmitReview {
        SubmitReview {
            product_id: ProductId::new(),
            customer_id: CustomerId::new(),
            rating,
            comment: comment.into(),
        }
    }

    /// A new review of a listed product by a customer who received it.
    fn decide(cmd: &SubmitReview) -> Result<Vec<ReviewEvent>, DomainError> {
        decide_submit(
            &Review::default(),
            cmd,
            &listed(),
            true,
            &customer(cmd.customer_id),
        )
    }

    fn submitted(cmd: &SubmitReview) -> ReviewEvent {
        ReviewEvent::ReviewSubmitted(ReviewSubmitted {
            product_id: cmd.product_id,
            customer_id: cmd.customer_id,
            rating: cmd.rating as u8,
            comment: cmd.comment.trim().into(),
        })
    }

    fn field_of(result: Result<Vec<ReviewEvent>, DomainError>) -> String {
        match result {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_customer_who_received_the_product_reviews_it() {
        let cmd = submit(4, "  Warm light, sturdy base.\nWould buy again. ");
        let events = decide(&cmd).unwrap();
        assert_eq!(
            events,
            vec![ReviewEvent::ReviewSubmitted(ReviewSubmitted {
                product_id: cmd.product_id,
                customer_id: cmd.customer_id,
                rating: 4,
                comment: "Warm light, sturdy base.\nWould buy again.".into(),
            })]
        );
        let state = events.iter().fold(Review::default(), evolve);
        assert_eq!(
            state,
            Review {
                version: 1,
                rating: 4
            }
        );
    }

    #[test]
    fn ratings_are_whole_numbers_from_one_to_five() {
        for rating in [0, 6, -1, i64::MIN, i64::MAX, 256 + 3] {
            assert_eq!(
                field_of(decide(&submit(rating, "fine"))),
                "rating",
                "{rating}"
            );
        }
        for rating in 1..=5 {
            let cmd = submit(rating, "fine");
            assert_eq!(decide(&cmd), Ok(vec![submitted(&cmd)]));
        }
    }

    #[test]
    fn comments_are_bounded() {
        for comment in ["", "ab", "  ab  ", "\n\n"] {
            assert_eq!(
                field_of(decide(&submit(3, comment))),
                "comment",
                "{comment:?}"
            );
        }
        let long = "x".repeat(COMMENT_MAX_CHARS + 1);
        assert_eq!(field_of(decide(&submit(3, &long))), "comment");
        assert_eq!(field_of(decide(&submit(3, "ok\u{7}ok"))), "comment");
        for comment in ["abc".to_string(), "x".repeat(COMMENT_MAX_CHARS)] {
            let cmd = submit(3, &comment);
            assert_eq!(decide(&cmd), Ok(vec![submitted(&cmd)]));
        }
    }

    #[test]
    fn a_second_review_of_the_same_product_is_refused() {
        let cmd = submit(5, "Lovely.");
        let state = decide(&cmd).unwrap().iter().fold(Review::default(), evolve);
        let again = SubmitReview {
            rating: 1,
            comment: "Changed my mind.".into(),
            ..cmd.clone()
        };
        let result = decide_submit(&state, &again, &listed(), true, &customer(cmd.customer_id));
        assert!(
            matches!(result, Err(DomainError::AlreadyExists { ref aggregate, .. }) if aggregate == "review"),
            "{result:?}"
        );
    }

    #[test]
    fn only_customers_who_received_the_product_review_it() {
        let cmd = submit(5, "Lovely.");
        let result = decide_submit(
            &Review::default(),
            &cmd,
            &listed(),
            false,
            &customer(cmd.customer_id),
        );
        assert!(
            matches!(result, Err(DomainError::Forbidden { ref reason }) if reason.contains("received")),
            "{result:?}"
        );
    }

    #[test]
    fn customers_review_only_for_themselves() {
        let cmd = submit(5, "Lovely.");
        let others = [
            customer(CustomerId::new()),
            Actor {
                id: SellerId::new().to_string(),
                role: ActorRole::Seller,
            },
        ];
        for actor in others {
            let result = decide_submit(&Review::default(), &cmd, &listed(), true, &actor);
            assert!(
                matches!(result, Err(DomainError::Forbidden { .. })),
                "{actor:?}: {result:?}"
            );
        }
        let admin = Actor {
            id: "admin-1".into(),
            role: ActorRole::Admin,
        };
        assert_eq!(
            decide_submit(&Review::default(), &cmd, &listed(), true, &admin),
            Ok(vec![submitted(&cmd)])
        );
    }

    #[test]
    fn unknown_and_deleted_products_are_not_found() {
        let cmd = submit(5, "Lovely.");
        let deleted = product::evolve(
            listed(),
            &ProductEvent::ProductDeleted(ProductDeleted {
                reason: "discontinued".into(),
            }),
        );
        for product in [Product::default(), deleted] {
            assert_eq!(
                decide_submit(
                    &Review::default(),
                    &cmd,
                    &product,
                    true,
                    &customer(cmd.customer_id)
                ),
                Err(DomainError::not_found("product", cmd.product_id))
            );
        }
    }

    #[test]
    fn review_ids_are_deterministic_and_distinct_per_product_and_customer() {
        let (p1, p2) = (ProductId::new(), ProductId::new());
        let (c1, c2) = (CustomerId::new(), CustomerId::new());
        assert_eq!(ReviewId::of(p1, c1), ReviewId::of(p1, c1));
        let cmd = SubmitReview {
            product_id: p1,
            customer_id: c1,
            rating: 5,
            comment: "Lovely.".into(),
        };
        assert_eq!(cmd.review_id(), ReviewId::of(p1, c1));
        let ids = [
            ReviewId::of(p1, c1),
            ReviewId::of(p1, c2),
            ReviewId::of(p2, c1),
            ReviewId::of(p2, c2),
        ];
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // The same UUIDs in swapped roles name another review.
        let swapped = ReviewId::of(ProductId::from_uuid(c1.0), CustomerId::from_uuid(p1.0));
        assert_ne!(swapped, ReviewId::of(p1, c1));
        // Stable across builds: a known pair maps to a known id.
        let fixed = ReviewId::of(
            ProductId::from_uuid(uuid::Uuid::from_u128(1)),
            CustomerId::from_uuid(uuid::Uuid::from_u128(2)),
        );
        assert_eq!(fixed.0.get_version_num(), 5);
        assert_eq!(
            fixed,
            ReviewId::of(
                ProductId::from_uuid(uuid::Uuid::from_u128(1)),
                CustomerId::from_uuid(uuid::Uuid::from_u128(2)),
            )
        );
    }

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let event = submitted(&submit(4, "Warm light."));
        let decoded = ReviewEvent::decode(
            event.event_type(),
            event.schema_version(),
            &event.payload_json(),
        );
        assert_eq!(decoded, Ok(event));
        assert!(ReviewEvent::decode("OrderPlaced", 1, &serde_json::json!({})).is_err());
    }
}
