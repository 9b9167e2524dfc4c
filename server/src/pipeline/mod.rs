//! The event pipeline: outbox → relay → JetStream → projectors → read store
//! → live notices.

pub mod jetstream;
pub mod live;
pub mod operations;
pub mod process_orders;
pub mod project_order_history;
pub mod project_product_views;
pub mod project_sales_analytics;
pub mod projector;
pub mod relay;
pub mod status;
