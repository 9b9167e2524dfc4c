//! Who may do what (ARCHITECTURE.md): checked by the command rules, so every
//! client — browser, JSON API, process manager — meets the same answer.
//!
//! An actor's `id` is their own aggregate's id: a seller's `SellerId`, a
//! customer's `CustomerId`; admins and the system use their account or task name.

use crate::error::DomainError;
use crate::event::{Actor, ActorRole};
use crate::ids::{CustomerId, SellerId};
use crate::product::Product;

/// Admins and the shop itself.
pub fn require_admin(actor: &Actor, what: &str) -> Result<(), DomainError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!(
            "only shop staff may {what}"
        )))
    }
}

/// The seller a caller acts as, if a seller.
pub fn seller_of(actor: &Actor) -> Option<SellerId> {
    match actor.role {
        ActorRole::Seller => actor.id.parse().ok(),
        _ => None,
    }
}

/// The customer a caller acts as, if a customer.
pub fn customer_of(actor: &Actor) -> Option<CustomerId> {
    match actor.role {
        ActorRole::Customer => actor.id.parse().ok(),
        _ => None,
    }
}

/// Sellers edit their own products and stock; admins edit any.
pub fn may_manage_product(actor: &Actor, product: &Product) -> Result<(), DomainError> {
    if actor.is_admin() {
        return Ok(());
    }
    match (seller_of(actor), product.seller_id) {
        (Some(me), Some(owner)) if me == owner => Ok(()),
        (Some(_), _) => Err(DomainError::forbidden(
            "this product belongs to another seller",
        )),
        _ => Err(DomainError::forbidden(
            "only the product's seller or shop staff may change it",
        )),
    }
}

/// Sellers create products of their own; admins name a seller or get the
/// house seller; customers create none.
pub fn seller_for_new_product(
    actor: &Actor,
    requested: Option<SellerId>,
) -> Result<SellerId, DomainError> {
    if actor.is_admin() {
        return Ok(requested.unwrap_or(SellerId::HOUSE));
    }
    match (seller_of(actor), requested) {
        (Some(me), None) => Ok(me),
        (Some(me), Some(other)) if me == other => Ok(me),
        (Some(_), Some(_)) => Err(DomainError::forbidden(
            "sellers create products only for themselves",
        )),
        (None, _) => Err(DomainError::forbidden(
            "only sellers and shop staff may create products",
        )),
    }
}

/// Customers act for themselves; admins for any customer.
pub fn may_act_for_customer(actor: &Actor, customer: CustomerId) -> Result<(), DomainError> {
    if actor.is_admin() {
        return Ok(());
    }
    match customer_of(actor) {
        Some(me) if me == customer => Ok(()),
        Some(_) => Err(DomainError::forbidden(
            "customers may act only on their own orders and account",
        )),
        None => Err(DomainError::forbidden("only customers may do this")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: ActorRole, id: impl ToString) -> Actor {
        Actor {
            id: id.to_string(),
            role,
        }
    }

    #[test]
    fn sellers_manage_only_their_own_products() {
        let mine = SellerId::new();
        let product = Product {
            version: 1,
            seller_id: Some(mine),
            ..Product::default()
        };
        assert!(may_manage_product(&actor(ActorRole::Seller, mine), &product).is_ok());
        assert!(matches!(
            may_manage_product(&actor(ActorRole::Seller, SellerId::new()), &product),
            Err(DomainError::Forbidden { .. })
        ));
        assert!(
            may_manage_product(&actor(ActorRole::Customer, CustomerId::new()), &product).is_err()
        );
        assert!(may_manage_product(&actor(ActorRole::Admin, "a"), &product).is_ok());
    }

    #[test]
    fn new_products_belong_to_the_caller_or_the_house() {
        let me = SellerId::new();
        assert_eq!(
            seller_for_new_product(&actor(ActorRole::Admin, "a"), None),
            Ok(SellerId::HOUSE)
        );
        assert_eq!(
            seller_for_new_product(&actor(ActorRole::Seller, me), None),
            Ok(me)
        );
        assert!(
            seller_for_new_product(&actor(ActorRole::Seller, me), Some(SellerId::new())).is_err()
        );
        assert!(
            seller_for_new_product(&actor(ActorRole::Customer, CustomerId::new()), None).is_err()
        );
    }

    #[test]
    fn customers_act_only_for_themselves() {
        let me = CustomerId::new();
        assert!(may_act_for_customer(&actor(ActorRole::Customer, me), me).is_ok());
        assert!(may_act_for_customer(&actor(ActorRole::Customer, me), CustomerId::new()).is_err());
        assert!(may_act_for_customer(&actor(ActorRole::Seller, SellerId::new()), me).is_err());
        assert!(may_act_for_customer(&actor(ActorRole::Admin, "a"), me).is_ok());
    }
}
