//! `--wait` on operations that start long-running work, and `geopera orders wait ID`.
//!
//! The SDK's waiters poll the resource with growing, jittered pauses until it reaches a final
//! state. When it succeeds, the resource is read once more and printed as the server sends
//! it; a spinner with the latest state shows on stderr, only when stderr is a terminal.

use std::time::Duration;

use geopera::wait::{self, WaitError};
use geopera::{Geopera, Request};
use serde_json::{json, Value};

use crate::call::{self, Settings};
use crate::failure::{Failure, Outcome};

/// What kind of resource an operation's answer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Order,
    ProcessingJob,
    ClipJob,
}

/// The operations whose answer names something to wait for.
pub(crate) fn kind_of(operation_id: &str) -> Option<Kind> {
    match operation_id {
        "orders.archive.place" | "orders.tasking.place" => Some(Kind::Order),
        "processing.execute" => Some(Kind::ProcessingJob),
        "clip.create_from_area" | "clip.create_from_item" => Some(Kind::ClipJob),
        _ => None,
    }
}

/// The id of the order or job an answer started.
pub(crate) fn started_id(kind: Kind, answer: &Value) -> Option<String> {
    let candidates: &[&[&str]] = match kind {
        Kind::Order => &[&["orderId"], &["order_id"], &["id"]],
        Kind::ProcessingJob => &[&["id"], &["job_id"], &["job", "id"]],
        Kind::ClipJob => &[&["job", "id"], &["id"], &["job_id"]],
    };
    candidates.iter().find_map(|path| {
        let mut value = answer;
        for key in *path {
            value = value.get(*key)?;
        }
        value.as_str().map(str::to_owned)
    })
}

/// The state an order or job is in, for the spinner: the server's name, `?` when unknown.
fn state<S: std::fmt::Display>(status: Option<&S>) -> String {
    status.map_or_else(
        || "?".to_owned(),
        |s| crate::paint::inert(&s.to_string()).into_owned(),
    )
}

fn ended<T>(settings: &Settings, base_url: &str, error: &WaitError<T>) -> Failure {
    match error {
        WaitError::Call { source, .. } => call::sdk_failure("the wait", base_url, settings, source),
        other => Failure::other(other.to_string()),
    }
}

/// What a wait came to: `Ok(None)` success, `Ok(Some(failure))` a final state that is not
/// success (the resource is still printed, then the failure reported), `Err` no end seen.
fn outcome<T>(
    waited: Result<T, WaitError<impl Sized>>,
    settings: &Settings,
    base_url: &str,
) -> Result<Option<Failure>, Failure> {
    match waited {
        Ok(_) => Ok(None),
        Err(error @ WaitError::Failed { .. }) => Ok(Some(ended(settings, base_url, &error))),
        Err(error) => Err(ended(settings, base_url, &error)),
    }
}

/// Waits for `id` and prints it as finally read; a final state that is not success is
/// printed too, then reported as the failure.
pub(crate) async fn wait_for(
    client: &Geopera,
    kind: Kind,
    id: &str,
    deadline: Option<Duration>,
    settings: &Settings,
) -> Outcome {
    let base_url = client.client().base_url().to_owned();
    let what = if kind == Kind::Order { "order" } else { "job" };
    let shown_id = crate::paint::inert(id).into_owned();
    let shown = crate::progress::Shown::spinner(format!("waiting for {what} {shown_id}"));
    let report = {
        let bar = shown.handle();
        move |state: String| bar.set_message(format!("{what} {shown_id}: {state}"))
    };
    let (read, body, failed) = match kind {
        Kind::Order => {
            let mut waiter =
                wait::order(client, id).on_progress(move |order: &geopera::models::Order| {
                    report(state(order.status.as_ref()))
                });
            if let Some(deadline) = deadline {
                waiter = waiter.deadline(deadline);
            }
            let failed = outcome(waiter.await, settings, &base_url)?;
            ("orders.get", json!({ "order_id": id }), failed)
        }
        Kind::ProcessingJob | Kind::ClipJob => {
            let (mut waiter, read, body) = if kind == Kind::ClipJob {
                (
                    wait::clip_job(client, id),
                    "clip.job.get",
                    json!({ "job_id": id }),
                )
            } else {
                (
                    wait::processing_job(client, id),
                    "processing.job.get",
                    json!({ "job_id": id }),
                )
            };
            waiter = waiter
                .on_progress(move |job: &geopera::models::Job| report(state(job.status.as_ref())));
            if let Some(deadline) = deadline {
                waiter = waiter.deadline(deadline);
            }
            let failed = outcome(waiter.await, settings, &base_url)?;
            (read, body, failed)
        }
    };
    drop(shown);
    let response = call::answer(client, read, Request::new(body))
        .await
        .map_err(|e| call::sdk_failure(read, &base_url, settings, &e))?;
    call::render(read, &response, settings)?;
    failed.map_or(Ok(()), Err)
}
