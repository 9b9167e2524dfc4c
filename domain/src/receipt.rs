use crate::ids::{CommandId, EventId};
use serde::{Deserialize, Serialize};

/// What every accepted command answers. The UI keeps its change pending until
/// the live feed reports that the read models applied `event_ids` (or reached
/// `aggregate_version`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteReceipt {
    pub command_id: CommandId,
    pub aggregate_id: String,
    pub aggregate_version: u64,
    pub event_ids: Vec<EventId>,
}
