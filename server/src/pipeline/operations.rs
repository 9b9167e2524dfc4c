//! The admin portal's port onto the projectors (`app::ports::PipelineOperations`):
//! the same operations the JSON API (`http/api/operations.rs`) and the CLI
//! offer, answered as DTOs and sentences for a person.

use super::projector::{ProjectError, ReadModelOps, ReadModels};
use super::status::PipelineStatus;
use crate::store::projections::UNREADABLE;
use app::api::pipeline::{DeadLetterView, ReadModelHealth};
use app::error::AppError;
use app::ports::PipelineOperations;
use async_trait::async_trait;
use domain::{CommandError, DomainError};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub struct PipelineService {
    pub read_models: ReadModels,
    pub status: Arc<PipelineStatus>,
    pub stall_ms: i64,
}

impl PipelineService {
    fn model(&self, name: &str) -> Result<&Arc<dyn ReadModelOps>, AppError> {
        self.read_models.get(name).ok_or(AppError::NotFound)
    }
}

fn refused(e: ProjectError) -> AppError {
    match e {
        ProjectError::Refused(reason) => {
            AppError::Command(CommandError::Rejected(DomainError::invalid_state(reason)))
        }
        ProjectError::Stopped => AppError::Command(CommandError::Unavailable(
            "the read model's projector is not running".into(),
        )),
        other => {
            tracing::error!(error = %other, "read model operation failed");
            AppError::Command(CommandError::Unavailable(
                "the read store or JetStream failed; try again".into(),
            ))
        }
    }
}

fn plural(n: usize, one: &str) -> String {
    format!("{n} {one}{}", if n == 1 { "" } else { "s" })
}

#[async_trait]
impl PipelineOperations for PipelineService {
    fn read_models(&self) -> Vec<ReadModelHealth> {
        let now = OffsetDateTime::now_utc();
        self.status
            .models()
            .iter()
            .map(|m| m.health(now, self.stall_ms))
            .collect()
    }

    async fn dead_letters(&self, read_model: &str) -> Result<Vec<DeadLetterView>, AppError> {
        let letters = self
            .model(read_model)?
            .dead_letters(None)
            .await
            .map_err(refused)?;
        Ok(letters
            .into_iter()
            .map(|l| DeadLetterView {
                version: match (l.aggregate.as_str(), l.stream_sequence) {
                    (UNREADABLE, Some(sequence)) => sequence,
                    _ => l.aggregate_version,
                },
                aggregate: l.aggregate,
                event_type: l.event_type,
                status: l.status,
                reason: l.reason,
                parked_at: l.parked_at.format(&Rfc3339).unwrap_or_default(),
            })
            .collect())
    }

    async fn retry(&self, read_model: &str) -> Result<String, AppError> {
        let report = self.model(read_model)?.retry(None).await.map_err(refused)?;
        let mut answer = format!(
            "Applied {}; {} drained.",
            plural(report.applied_events, "event"),
            plural(report.drained.len(), "aggregate")
        );
        if let Some((aggregate, reason)) = report.still_parked.first() {
            answer.push_str(&format!(
                " Still parked: {} (first: {aggregate}, {reason}).",
                report.still_parked.len()
            ));
        }
        Ok(answer)
    }

    async fn skip(
        &self,
        read_model: &str,
        aggregate: String,
        version: u64,
    ) -> Result<String, AppError> {
        let report = self
            .model(read_model)?
            .skip(aggregate.clone(), version)
            .await
            .map_err(refused)?;
        Ok(format!(
            "Skipped version {version} of {aggregate}; applied {} after it.",
            plural(report.applied_events, "event")
        ))
    }

    fn rebuild(&self, read_model: &str) -> Result<String, AppError> {
        let generation = self.model(read_model)?.rebuild().map_err(refused)?;
        tracing::info!(
            read_model,
            generation,
            "rebuild requested from the admin portal"
        );
        Ok(format!(
            "Rebuilding {read_model} into generation {generation}; the current one serves until the switch."
        ))
    }

    async fn reconcile(&self, read_model: &str) -> Result<String, AppError> {
        let report = self
            .model(read_model)?
            .reconcile(true)
            .await
            .map_err(refused)?;
        Ok(if report.drifts.is_empty() {
            format!("No drift: {read_model} agrees with the write model.")
        } else {
            format!(
                "Found {}; repaired {}; {} left.",
                plural(report.drifts.len(), "drifted record"),
                plural(report.repaired, "aggregate"),
                report.remaining.len()
            )
        })
    }
}
