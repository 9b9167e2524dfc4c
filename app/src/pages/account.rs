//! Sign-in and sign-out, and the guard around pages that need an account.

use crate::api::account::{SignIn, SignOut};
use crate::api::Viewer;
use crate::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The signed-in account, read once per page load and shared by the header
/// and the guarded pages.
pub type ViewerResource = Loaded<Option<Viewer>>;

pub fn use_viewer() -> Option<ViewerResource> {
    use_context::<ViewerResource>()
}

/// After signing in or out the page changes without a reload: read who is
/// signed in again.
fn refetch_viewer_after(version: RwSignal<usize>) {
    let viewer = use_viewer();
    Effect::new(move |_| {
        if version.get() > 0 {
            if let Some(viewer) = viewer {
                viewer.refetch();
            }
        }
    });
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let sign_in = ServerAction::<SignIn>::new();
    refetch_viewer_after(sign_in.version());
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.message())
    };
    view! {
        <Title text="Sign in — Vitrine"/>
        <section class="card form narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=sign_in attr:data-testid="sign-in-form">
                <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                // The attribute for the server-rendered form (without
                // JavaScript), the property once hydrated.
                <input type="hidden" name="next" value=next prop:value=next/>
                <button type="submit">"Sign in"</button>
            </ActionForm>
            {move || error().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

/// The header's account corner: who is signed in and "Sign out", or "Sign in".
#[component]
pub fn AccountMenu() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    refetch_viewer_after(sign_out.version());
    let viewer = use_viewer();
    view! {
        <Transition fallback=|| ()>
            {move || {
                viewer.map(|viewer| Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => view! {
                            <span class="account" data-testid="signed-in-as">{v.name}</span>
                            <ActionForm action=sign_out attr:class="inline">
                                <button type="submit" class="link">"Sign out"</button>
                            </ActionForm>
                        }
                            .into_any(),
                        _ => view! { <a href="/login" class="account">"Sign in"</a> }.into_any(),
                    }
                }))
            }}
        </Transition>
    }
}

/// Renders `children` for staff and sellers; others are asked to sign in.
/// (The server functions check again: this only spares a dead end.)
#[component]
pub fn ManagersOnly(children: ChildrenFn) -> impl IntoView {
    let viewer = use_viewer();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                viewer.map(|viewer| Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) if v.may_manage_products() => {
                            children.read_value()().into_any()
                        }
                        Ok(Some(_)) => view! {
                            <p class="error" role="alert">
                                "This part of the shop is for its staff and sellers."
                            </p>
                        }
                            .into_any(),
                        _ => view! {
                            <section class="card">
                                <h1>"Sign in to manage products"</h1>
                                <p><a href="/login?next=/admin/products">"Sign in"</a></p>
                            </section>
                        }
                            .into_any(),
                    }
                }))
            }}
        </Suspense>
    }
}
