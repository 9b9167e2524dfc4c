//! The admin portal's read models page (`/admin/pipeline`, shop staff): how
//! fresh and healthy each read model is, refreshed every two seconds; its
//! dead letters, retried or skipped; a rebuild (with its progress) and a
//! reconciliation against the write model.

use crate::api::pipeline::{
    dead_letters, pipeline_health, rebuild_read_model, reconcile_read_model, retry_dead_letters,
    skip_dead_letter, ReadModelHealth,
};
use crate::loaded::load;
use crate::pages::account::ManagersOnly;
use crate::pages::ReadFailed;
use leptos::prelude::*;
use leptos_meta::Title;

/// What the admin asked for.
#[derive(Clone, Debug)]
enum Operation {
    Rebuild(String),
    Reconcile(String),
    Retry(String),
    Skip {
        read_model: String,
        aggregate: String,
        version: u64,
    },
}

#[component]
pub fn AdminPipelinePage() -> impl IntoView {
    view! { <ManagersOnly><ReadModels/></ManagersOnly> }
}

/// "3.2 s", or "—" when unknown.
fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |s| format!("{s:.1} s"))
}

fn rebuild_line(model: &ReadModelHealth) -> String {
    match &model.rebuild {
        None => "—".into(),
        Some(r) => {
            let eta = r
                .eta_seconds
                .map(|s| format!(", {s:.0} s left"))
                .unwrap_or_default();
            format!(
                "generation {}: {} ({} / {}, {:.0} events/s{eta})",
                r.generation, r.phase, r.done, r.total, r.events_per_second
            )
        }
    }
}

#[component]
fn ReadModels() -> impl IntoView {
    // Freshness changes with time, not only with events: poll.
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|n| *n += 1),
            std::time::Duration::from_secs(2),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let health = load(move || tick.get(), |_| pipeline_health());
    let shown = RwSignal::new(None::<String>);
    let letters = load(
        move || (shown.get(), tick.get()),
        |(shown, _)| async move {
            match shown {
                Some(name) => dead_letters(name.clone()).await.map(|l| Some((name, l))),
                None => Ok(None),
            }
        },
    );
    let operate = Action::new(|op: &Operation| {
        let op = op.clone();
        async move {
            match op {
                Operation::Rebuild(name) => rebuild_read_model(name).await,
                Operation::Reconcile(name) => reconcile_read_model(name).await,
                Operation::Retry(name) => retry_dead_letters(name).await,
                Operation::Skip {
                    read_model,
                    aggregate,
                    version,
                } => skip_dead_letter(read_model, aggregate, version).await,
            }
        }
    });
    // Show what an operation changed without waiting for the next tick.
    Effect::new(move |_| {
        if operate.value().get().is_some() {
            tick.update(|n| *n += 1);
        }
    });

    view! {
        <Title text="Admin — read models"/>
        <h1>"Read models"</h1>
        <p>
            "Every page of the shop is read from these projections. A healthy one keeps up with "
            "the events within seconds; a stalled one has stopped showing signs of life."
        </p>
        <p class="form-status" role="status" data-testid="operation-status">
            {move || match (operate.pending().get(), operate.value().get()) {
                (true, _) => "Working…".to_owned(),
                (false, Some(Ok(answer))) => answer,
                (false, Some(Err(e))) => e.message(),
                (false, None) => String::new(),
            }}
        </p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match health.await {
                    Ok(models) => view! {
                        <table class="admin-table" data-testid="read-models">
                            <thead>
                                <tr>
                                    <th scope="col">"Read model"</th>
                                    <th scope="col">"Health"</th>
                                    <th scope="col" class="num">"Events behind"</th>
                                    <th scope="col" class="num">"Behind by"</th>
                                    <th scope="col" class="num">"Last sign of life"</th>
                                    <th scope="col" class="num">"Dead letters"</th>
                                    <th scope="col">"Rebuild"</th>
                                    <th scope="col">"Operate"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {models
                                    .into_iter()
                                    .map(|m| {
                                        let rebuild = rebuild_line(&m);
                                        let (rebuild_name, reconcile_name, letters_name) =
                                            (m.name.clone(), m.name.clone(), m.name.clone());
                                        view! {
                                            <tr data-testid=format!("read-model-{}", m.name)>
                                                <th scope="row">
                                                    {m.name.clone()}
                                                    <small>{format!(" generation {}", m.generation)}</small>
                                                </th>
                                                <td class=if m.healthy { "healthy" } else { "error" }>
                                                    {if m.healthy { "healthy" } else { "stalled" }}
                                                </td>
                                                <td class="num">{m.events_behind}</td>
                                                <td class="num">{seconds(m.seconds_behind)}</td>
                                                <td class="num">{seconds(m.heartbeat_age_seconds)}</td>
                                                <td class="num" data-testid="dead-letter-count">{m.dead_letters}</td>
                                                <td>{rebuild}</td>
                                                <td class="actions">
                                                    <button on:click=move |_| { operate.dispatch(Operation::Rebuild(rebuild_name.clone())); }>
                                                        "Rebuild"
                                                    </button>
                                                    <button on:click=move |_| { operate.dispatch(Operation::Reconcile(reconcile_name.clone())); }>
                                                        "Reconcile"
                                                    </button>
                                                    <button on:click=move |_| shown.set(Some(letters_name.clone()))>
                                                        "Dead letters"
                                                    </button>
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any(),
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match letters.await {
                    Ok(None) => ().into_any(),
                    Ok(Some((name, letters))) => {
                        let retry_name = name.clone();
                        view! {
                            <section class="card" data-testid="dead-letters">
                                <h2>{format!("Dead letters of {name}")}</h2>
                                {if letters.is_empty() {
                                    view! { <p>"None: every event applied."</p> }.into_any()
                                } else {
                                    view! {
                                        <button on:click=move |_| { operate.dispatch(Operation::Retry(retry_name.clone())); }>
                                            "Retry all"
                                        </button>
                                        <table class="admin-table">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Aggregate"</th>
                                                    <th scope="col" class="num">"Version"</th>
                                                    <th scope="col">"Event"</th>
                                                    <th scope="col">"Status"</th>
                                                    <th scope="col">"Why"</th>
                                                    <th scope="col">"Since"</th>
                                                    <th scope="col"></th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {letters
                                                    .into_iter()
                                                    .map(|l| {
                                                        let skip = Operation::Skip {
                                                            read_model: name.clone(),
                                                            aggregate: l.aggregate.clone(),
                                                            version: l.version,
                                                        };
                                                        let skippable = l.status == "parked";
                                                        view! {
                                                            <tr>
                                                                <td>{l.aggregate}</td>
                                                                <td class="num">{l.version}</td>
                                                                <td>{l.event_type.unwrap_or_default()}</td>
                                                                <td>{l.status}</td>
                                                                <td>{l.reason}</td>
                                                                <td>{l.parked_at}</td>
                                                                <td>
                                                                    {skippable.then(|| view! {
                                                                        <button on:click=move |_| { operate.dispatch(skip.clone()); }>
                                                                            "Skip"
                                                                        </button>
                                                                    })}
                                                                </td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    }
                                        .into_any()
                                }}
                            </section>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ReadFailed message=e.message()/> }.into_any(),
                }
            })}
        </Transition>
    }
}
