//! Sellers and customers: the parties of the shop, each its own aggregate.

use crate::authz;
use crate::error::DomainError;
use crate::event::Actor;
use crate::ids::{CustomerId, SellerId};
use crate::text;
use serde::{Deserialize, Serialize};

pub const PARTY_NAME_MAX_CHARS: usize = 120;
pub const EMAIL_MAX_CHARS: usize = 254;

// ---- sellers ----------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterSeller {
    pub seller_id: SellerId,
    pub name: String,
    /// 0.0–5.0 in tenths (4.5 → 45), as marketplaces rate sellers.
    pub rating_tenths: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerRegistered {
    pub name: String,
    pub rating_tenths: Option<u8>,
}

crate::domain_events!(
    /// Everything that happens to a seller.
    SellerEvent for Seller {
        SellerRegistered,
    }
);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Seller {
    pub version: u64,
    pub name: String,
    pub rating_tenths: Option<u8>,
}

pub fn evolve_seller(mut state: Seller, event: &SellerEvent) -> Seller {
    match event {
        SellerEvent::SellerRegistered(e) => {
            state.name = e.name.clone();
            state.rating_tenths = e.rating_tenths;
        }
    }
    state.version += 1;
    state
}

pub fn decide_register_seller(
    state: &Seller,
    cmd: &RegisterSeller,
    actor: &Actor,
) -> Result<Vec<SellerEvent>, DomainError> {
    authz::require_admin(actor, "register sellers")?;
    if state.version > 0 {
        return Err(DomainError::AlreadyExists {
            aggregate: "seller".into(),
            id: cmd.seller_id.to_string(),
        });
    }
    let name = text::single_line("name", &cmd.name, PARTY_NAME_MAX_CHARS)?;
    if cmd.rating_tenths.is_some_and(|r| r > 50) {
        return Err(DomainError::invalid("rating", "must be between 0 and 5"));
    }
    Ok(vec![SellerEvent::SellerRegistered(SellerRegistered {
        name,
        rating_tenths: cmd.rating_tenths,
    })])
}

// ---- customers --------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterCustomer {
    pub customer_id: CustomerId,
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRegistered {
    pub name: String,
    pub email: String,
}

crate::domain_events!(
    /// Everything that happens to a customer.
    CustomerEvent for Customer {
        CustomerRegistered,
    }
);

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub version: u64,
    pub name: String,
    pub email: String,
}

pub fn evolve_customer(mut state: Customer, event: &CustomerEvent) -> Customer {
    match event {
        CustomerEvent::CustomerRegistered(e) => {
            state.name = e.name.clone();
            state.email = e.email.clone();
        }
    }
    state.version += 1;
    state
}

/// An email address as the shop stores it: trimmed, lower-case, valid.
pub fn normalize_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Err(DomainError::invalid("email", "must not be empty"));
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err(DomainError::invalid(
            "email",
            format!("must be at most {EMAIL_MAX_CHARS} characters"),
        ));
    }
    // Addresses with display names or comments are valid RFC 5322 but not
    // something a person types into a sign-up form.
    if !email_address::EmailAddress::is_valid(&email)
        || email.contains(['<', '>', '(', ')', ' '])
        || !email.rsplit('@').next().is_some_and(|d| d.contains('.'))
    {
        return Err(DomainError::invalid(
            "email",
            "must be an email address such as ana@example.com",
        ));
    }
    Ok(email)
}

/// Sign-up (the customer themself) or an admin registering one.
pub fn decide_register_customer(
    state: &Customer,
    cmd: &RegisterCustomer,
) -> Result<Vec<CustomerEvent>, DomainError> {
    if state.version > 0 {
        return Err(DomainError::AlreadyExists {
            aggregate: "customer".into(),
            id: cmd.customer_id.to_string(),
        });
    }
    let name = text::single_line("name", &cmd.name, PARTY_NAME_MAX_CHARS)?;
    let email = normalize_email(&cmd.email)?;
    Ok(vec![CustomerEvent::CustomerRegistered(
        CustomerRegistered { name, email },
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ActorRole;

    fn admin() -> Actor {
        Actor::system("test")
    }

    #[test]
    fn sellers_are_registered_by_staff_with_a_rating_in_range() {
        let cmd = RegisterSeller {
            seller_id: SellerId::new(),
            name: " Nordic Goods ".into(),
            rating_tenths: Some(45),
        };
        let events = decide_register_seller(&Seller::default(), &cmd, &admin()).unwrap();
        let state = events.iter().fold(Seller::default(), evolve_seller);
        assert_eq!((state.version, state.name.as_str()), (1, "Nordic Goods"));
        assert!(matches!(
            decide_register_seller(&state, &cmd, &admin()),
            Err(DomainError::AlreadyExists { .. })
        ));
        let too_good = RegisterSeller {
            rating_tenths: Some(51),
            ..cmd.clone()
        };
        assert!(decide_register_seller(&Seller::default(), &too_good, &admin()).is_err());
        let customer = Actor {
            id: CustomerId::new().to_string(),
            role: ActorRole::Customer,
        };
        assert!(matches!(
            decide_register_seller(&Seller::default(), &cmd, &customer),
            Err(DomainError::Forbidden { .. })
        ));
    }

    #[test]
    fn emails_are_normalized_or_refused() {
        assert_eq!(
            normalize_email(" Ana@Example.COM "),
            Ok("ana@example.com".into())
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@localhost",
            "a b@example.com",
            "Ana <ana@example.com>",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn customers_register_once() {
        let cmd = RegisterCustomer {
            customer_id: CustomerId::new(),
            name: "Ana".into(),
            email: "ana@example.com".into(),
        };
        let events = decide_register_customer(&Customer::default(), &cmd).unwrap();
        let state = events.iter().fold(Customer::default(), evolve_customer);
        assert_eq!(state.email, "ana@example.com");
        assert!(decide_register_customer(&state, &cmd).is_err());
    }
}
