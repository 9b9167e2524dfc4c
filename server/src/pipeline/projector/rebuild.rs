//! Rebuilding a read model into a new generation while the active one keeps
//! serving.
//!
//! 1. Note the stream's last sequence `S`, then read the **event log** (the
//!    write store's, which holds every event ever accepted — the stream may
//!    not) in key order and fold it into the new generation's tables, in
//!    batches through the same apply path as live events.
//! 2. Start the new generation's partition consumers at `S + 1`. Every event
//!    published after `S` was committed after step 1 began, or arrives twice
//!    (then its version is already applied and it is skipped); every event at
//!    or before `S` was committed before the scan began, so the scan saw it.
//! 3. When those consumers have less than a batch pending, switch: one write of
//!    `read_model:<name>` and the in-memory flip send reads to the new
//!    generation; the old one's tasks stop, its consumers are deleted and,
//!    after a grace period for reads in flight, its tables are removed.

use super::{Incoming, ProjectError, Projector, ReadModel};
use crate::pipeline::projector::status::RebuildProgress;
use crate::store::projections::BatchWrite;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Reads in flight on the old generation get this long before its tables go.
const DROP_GRACE: Duration = Duration::from_secs(2);

impl<M: ReadModel> Projector<M> {
    /// Starts a rebuild in the background; returns the generation being
    /// built. Refused while one is running.
    pub fn start_rebuild(self: Arc<Self>) -> Result<u32, ProjectError> {
        if self.rebuilding.swap(true, Ordering::SeqCst) {
            return Err(ProjectError::Refused(format!(
                "{} is already being rebuilt (generation {})",
                self.shared.model.name(),
                self.building_generation.load(Ordering::SeqCst)
            )));
        }
        let active = self
            .shared
            .read
            .generations()
            .get(self.shared.model.name())
            .unwrap_or(0);
        let generation = active + 1;
        self.building_generation.store(generation, Ordering::SeqCst);
        self.shared
            .status
            .set_rebuild(Some(RebuildProgress::starting(generation, "starting")));
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = build(me.clone(), generation).await {
                tracing::error!(model = me.shared.model.name(), generation, error = %e, "rebuild failed");
                let mut progress = me
                    .shared
                    .status
                    .rebuild_progress()
                    .unwrap_or_else(|| RebuildProgress::starting(generation, "starting"));
                progress.phase = format!("failed: {e}");
                progress.finished_at = Some(OffsetDateTime::now_utc());
                me.shared.status.set_rebuild(Some(progress));
                me.rebuilding.store(false, Ordering::SeqCst);
            }
        });
        Ok(generation)
    }
}

/// Builds `generation` from the log and the stream, then makes it serve.
pub(super) async fn build<M: ReadModel>(
    projector: Arc<Projector<M>>,
    generation: u32,
) -> Result<(), ProjectError> {
    let s = projector.shared.clone();
    let name = s.model.name();
    projector.rebuilding.store(true, Ordering::SeqCst);
    projector
        .building_generation
        .store(generation, Ordering::SeqCst);
    let started = Instant::now();
    let mut progress = RebuildProgress::starting(generation, "scanning the event log");
    s.status.set_rebuild(Some(progress.clone()));

    // Leftovers of an earlier attempt at this generation go first.
    projector.discard_generation(generation).await?;
    let tables = s.model.tables();
    s.read.define_generation(name, generation, tables).await?;
    let mut state = s.read.read_model_state(name).await?;
    state.building = Some(generation);
    s.read.set_read_model_state(name, &state).await?;

    let mut events_info = s.events.clone();
    let start_after = events_info
        .info()
        .await
        .map_err(|e| ProjectError::Bus(e.to_string()))?
        .state
        .last_sequence;
    // The total is for progress only: counted beside the scan, which it
    // would otherwise delay (counting a million events takes seconds).
    let (counted, mut total) = tokio::sync::oneshot::channel();
    tokio::spawn({
        let write = s.write.clone();
        let types = s.model.aggregates();
        async move {
            let _ = counted.send(write.count_log(types).await);
        }
    });
    tracing::info!(
        model = name,
        generation,
        start_after,
        "rebuild: scanning the event log"
    );

    // Up to a minute past now: later events are published after S and
    // reach the new generation through its consumers.
    let mut log = s.write.scan_log(
        s.settings.log_batch,
        OffsetDateTime::now_utc() + time::Duration::minutes(1),
    );
    while let Some(events) = log.next_page(s.model.aggregates()).await? {
        let n = events.len() as u64;
        // Partition by id, as the stream does, so retries find their letters.
        let mut by_partition: std::collections::BTreeMap<u16, Vec<Incoming>> = Default::default();
        for event in events {
            let partition = super::partition_of(&event.aggregate_id, s.settings.partitions);
            by_partition.entry(partition).or_default().push(Incoming {
                event,
                sequence: None,
                max_attempts: 1,
            });
        }
        for (partition, incoming) in by_partition {
            s.apply(
                generation,
                partition,
                incoming,
                &HashSet::new(),
                &HashSet::new(),
                BatchWrite::default(),
            )
            .await?;
        }
        progress.done += n;
        match total.try_recv() {
            Ok(Ok(n)) => progress.total = n,
            Ok(Err(e)) => {
                tracing::warn!(model = name, error = %e, "rebuild: the event log could not be counted")
            }
            Err(_) => {}
        }
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        progress.events_per_second = progress.done as f64 / secs;
        progress.eta_seconds =
            (progress.events_per_second > 0.0 && progress.total > 0).then(|| {
                progress.total.saturating_sub(progress.done) as f64 / progress.events_per_second
            });
        s.status.set_rebuild(Some(progress.clone()));
    }
    // Counted events may have arrived after the count: the scan is the truth.
    progress.total = progress.total.max(progress.done);
    tracing::info!(
        model = name,
        generation,
        events = progress.done,
        secs = started.elapsed().as_secs_f64(),
        "rebuild: log scanned; catching up from the stream"
    );

    progress.phase = "catching up".into();
    s.status.set_rebuild(Some(progress.clone()));
    let previous = s.read.generations().get(name);
    if previous.is_none() {
        // Nothing served before: this generation serves as it catches up.
        switch(&projector, generation, None).await?;
        projector.serve(generation, Some(start_after + 1)).await?;
    } else {
        let catch_up = projector.clone();
        let building = BuildingGeneration::start(catch_up, generation, start_after + 1).await?;
        building.caught_up().await?;
        switch(&projector, generation, previous).await?;
        building.promote().await;
    }
    progress.phase = "switched".into();
    progress.finished_at = Some(OffsetDateTime::now_utc());
    progress.eta_seconds = Some(0.0);
    s.status.set_rebuild(Some(progress));
    projector.rebuilding.store(false, Ordering::SeqCst);
    tracing::info!(
        model = name,
        generation,
        secs = started.elapsed().as_secs_f64(),
        "rebuild: switched"
    );

    if let Some(old) = previous {
        tokio::time::sleep(DROP_GRACE).await;
        projector.discard_generation(old).await?;
        tracing::info!(model = name, generation = old, "dropped the old generation");
    }
    Ok(())
}

/// Makes `generation` the one reads go to.
async fn switch<M: ReadModel>(
    projector: &Projector<M>,
    generation: u32,
    previous: Option<u32>,
) -> Result<(), ProjectError> {
    let s = &projector.shared;
    let name = s.model.name();
    let mut state = s.read.read_model_state(name).await?;
    state.active = Some(generation);
    state.building = None;
    state.partitions = s.settings.partitions;
    s.read.set_read_model_state(name, &state).await?;
    s.read.generations().set(name, generation);
    s.status.set_generation(generation);
    s.status.refresh_dead_letters(&s.read, generation).await;
    tracing::info!(
        model = name,
        generation,
        ?previous,
        "read model switched generation"
    );
    Ok(())
}

/// The new generation's partition tasks while the old one still serves.
struct BuildingGeneration<M: ReadModel> {
    projector: Arc<Projector<M>>,
    generation: u32,
}

impl<M: ReadModel> BuildingGeneration<M> {
    async fn start(
        projector: Arc<Projector<M>>,
        generation: u32,
        from_sequence: u64,
    ) -> Result<Self, ProjectError> {
        let s = &projector.shared;
        // Consumers are made here, so `caught_up` can ask them; the tasks
        // start on promotion, except that catching up happens right here.
        for partition in 0..s.settings.partitions {
            projector
                .consumer(generation, partition, Some(from_sequence))
                .await?;
        }
        Ok(BuildingGeneration {
            projector,
            generation,
        })
    }

    /// Applies the new generation's backlog from its consumers until less
    /// than a batch is pending.
    async fn caught_up(&self) -> Result<(), ProjectError> {
        let p = &self.projector;
        let s = &p.shared;
        let mut workers = Vec::new();
        for partition in 0..s.settings.partitions {
            let consumer = p.consumer(self.generation, partition, None).await?;
            workers.push((partition, consumer));
        }
        loop {
            let mut pending = 0;
            for (partition, consumer) in workers.iter_mut() {
                let info = consumer
                    .info()
                    .await
                    .map_err(|e| ProjectError::Bus(e.to_string()))?;
                let behind = info.num_pending + info.num_ack_pending as u64;
                if behind > 0 {
                    pending += behind;
                    super::drain_once(s, self.generation, *partition, consumer).await?;
                }
            }
            // Under steady writes "nothing pending" may never be seen at one
            // moment across every partition: less than a batch left is as
            // fresh as the serving generation, and the promoted tasks take
            // it from there.
            if pending < s.settings.batch as u64 {
                return Ok(());
            }
        }
    }

    /// Hands the new generation's consumers to its partition tasks.
    async fn promote(self) {
        if let Err(e) = self.projector.serve(self.generation, None).await {
            tracing::error!(error = %e, "cannot start the new generation's partitions; retrying");
            let p = self.projector.clone();
            let generation = self.generation;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if p.serve(generation, None).await.is_ok() {
                        return;
                    }
                }
            });
        }
    }
}
