//! Identifiers. All are UUIDs rendered as strings at every boundary; event ids
//! are UUIDv7 so they sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id. The caller supplies the randomness
            /// source implicitly through `uuid`; tests may build ids with `from_uuid`.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A product in the catalog (also the id of its Inventory aggregate).
    ProductId
);
uuid_id!(
    /// One domain event; used as JetStream's `Nats-Msg-Id` for de-duplication.
    EventId
);
uuid_id!(
    /// One command as sent by a client; a repeat with the same id is the same command.
    CommandId
);
uuid_id!(
    /// A seller: a merchant whose products the shop lists.
    SellerId
);
uuid_id!(
    /// A customer (also the id of their account).
    CustomerId
);
uuid_id!(
    /// An order.
    OrderId
);
uuid_id!(
    /// A review; one per customer and product, so derived from both.
    ReviewId
);
uuid_id!(
    /// A sign-in account (for customers and sellers, the same id as theirs).
    AccountId
);

impl SellerId {
    /// The shop's own house seller, owner of products created without one.
    pub const HOUSE: SellerId =
        SellerId(Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001));
}

impl ReviewId {
    /// The one review a customer may write for a product.
    pub fn of(product: ProductId, customer: CustomerId) -> ReviewId {
        let mut name = [0u8; 32];
        name[..16].copy_from_slice(product.0.as_bytes());
        name[16..].copy_from_slice(customer.0.as_bytes());
        ReviewId(Uuid::new_v5(&REVIEW_NAMESPACE, &name))
    }
}

const REVIEW_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_7a52_3c1e_4f4a_9d4b_2a6e_1f0c_9b3d);
