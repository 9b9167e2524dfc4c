//! Command handlers: load the state, let the pure domain decide, append the
//! events with their outbox rows in one transaction, wake the relay.

pub mod products;
