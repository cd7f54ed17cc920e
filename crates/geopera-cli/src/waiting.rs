//! `--wait` on operations that start long-running work, and `geopera orders wait ID`.
//!
//! The SDK's waiters poll the resource with growing, jittered pauses until it reaches a final
//! state. Then the resource is read once more and printed as the server sends it, if that
//! read shows it as the wait judged it (the same id, the same state); a spinner with the
//! latest state shows on stderr, only when stderr is a terminal.
//!
//! Once `--wait` has started an order or a job, it exists whatever the wait comes to: its id
//! is named on stderr before the wait begins, and again in the error of a wait that fails or
//! is interrupted, so nobody places it a second time believing the first failed.

use std::sync::OnceLock;
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

impl Kind {
    /// What it is, in messages.
    fn noun(self) -> &'static str {
        match self {
            Kind::Order => "order",
            Kind::ProcessingJob => "processing job",
            Kind::ClipJob => "clip job",
        }
    }

    /// What the operation that made it did.
    fn made(self) -> &'static str {
        if self == Kind::Order {
            "placed"
        } else {
            "started"
        }
    }

    /// The command that takes `id` up again, with how to read it.
    fn resume(self, id: &str) -> String {
        let id = shell_word(id);
        match self {
            Kind::Order => format!("resume with: geopera orders wait {id}"),
            Kind::ProcessingJob => format!("see it with: geopera processing job get --job-id {id}"),
            Kind::ClipJob => format!("see it with: geopera clip job get --job-id {id}"),
        }
    }
}

/// `word` as one word for a POSIX shell: as it is when it holds nothing a shell reads
/// specially, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.:/@%+=,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The order or job this command's `--wait` started, as a sentence, once the operation that
/// started it has answered: an interruption names it.
static STARTED: OnceLock<String> = OnceLock::new();

/// What an interrupted command says of the order or job its `--wait` started, if any.
pub(crate) fn started() -> Option<&'static str> {
    STARTED.get().map(String::as_str)
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

/// A resource a wait judges: what the final read must show again to be printed.
trait Awaited: serde::de::DeserializeOwned {
    fn id(&self) -> &str;
    fn status(&self) -> Option<&str>;
}

impl Awaited for geopera::models::Order {
    fn id(&self) -> &str {
        &self.id
    }

    fn status(&self) -> Option<&str> {
        self.status
            .as_ref()
            .map(geopera::models::OrderStatus::as_str)
    }
}

impl Awaited for geopera::models::Job {
    fn id(&self) -> &str {
        &self.id
    }

    fn status(&self) -> Option<&str> {
        self.status.as_ref().map(geopera::models::JobStatus::as_str)
    }
}

/// What a wait came to: the state it judged final, with `None` for success and the failure
/// for a final state that is not success (the resource is still printed, then the failure
/// reported); `Err` no end seen.
fn outcome<T: Awaited>(
    waited: Result<T, WaitError<T>>,
    settings: &Settings,
    base_url: &str,
) -> Result<(Option<String>, Option<Failure>), Failure> {
    match waited {
        Ok(done) => Ok((done.status().map(str::to_owned), None)),
        Err(error @ WaitError::Failed { .. }) => {
            let judged = error.last().and_then(T::status).map(str::to_owned);
            Ok((judged, Some(ended(settings, base_url, &error))))
        }
        Err(error) => Err(ended(settings, base_url, &error)),
    }
}

/// Whether `answer`, read again to be printed, is the resource the wait judged, in the state
/// it judged: the read is a second answer, and printing one that disagrees (another order, a
/// fulfilled order the wait saw cancelled) would print what nobody judged, under an exit code
/// that says otherwise.
fn same_as_judged<T: Awaited>(
    kind: Kind,
    id: &str,
    judged: Option<&str>,
    answer: &[u8],
) -> Result<(), Failure> {
    let what = kind.noun();
    let nothing = "nothing was printed";
    let again: T = serde_json::from_slice(answer).map_err(|e| {
        Failure::other(format!(
            "reading {what} {id} again to print it answered no {what} ({e}); {nothing}"
        ))
    })?;
    if again.id() != id {
        return Err(Failure::other(format!(
            "reading {what} {id} again to print it answered {what} {} instead; {nothing}",
            again.id()
        )));
    }
    if again.status() != judged {
        let state = |status: Option<&str>| status.unwrap_or("without a status").to_owned();
        return Err(Failure::other(format!(
            "the wait saw {what} {id} {}, but reading it again to print it found it {}; {nothing}",
            state(judged),
            state(again.status())
        )));
    }
    Ok(())
}

/// Waits for `id`, which this command's `--wait` has just started, as [`wait_for`] does. Its
/// id is named on stderr first; a wait that fails names it again and exits 1 (the operation
/// that started it succeeded), and so does an interruption ([`started`]).
pub(crate) async fn wait_for_started(
    client: &Geopera,
    kind: Kind,
    id: &str,
    settings: &Settings,
) -> Outcome {
    let (noun, made, resume) = (kind.noun(), kind.made(), kind.resume(id));
    crate::paint::note(&format!("{noun} {id} {made}; waiting for it ({resume})"));
    let _ = STARTED.set(format!("{noun} {id} was {made} ({resume})"));
    match wait_and_print(client, kind, id, settings.wait_timeout, settings).await {
        Ok(outcome) => outcome,
        Err(failure) => Err(Failure::other(format!(
            "{noun} {id} was {made}, but waiting for it failed: {} ({resume})",
            failure.message
        ))),
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
    wait_and_print(client, kind, id, deadline, settings).await?
}

/// [`wait_for`], with a failure to see the end (`Err`) told from what printing the end came to
/// (`Ok`): a final state that is not success, or a failure to print.
async fn wait_and_print(
    client: &Geopera,
    kind: Kind,
    id: &str,
    deadline: Option<Duration>,
    settings: &Settings,
) -> Result<Outcome, Failure> {
    let base_url = client.client().base_url().to_owned();
    let what = kind.noun();
    let shown_id = crate::paint::inert(id).into_owned();
    let shown = crate::progress::Shown::spinner(format!("waiting for {what} {shown_id}"));
    let report = {
        let bar = shown.handle();
        move |state: String| bar.set_message(format!("{what} {shown_id}: {state}"))
    };
    type Check = fn(Kind, &str, Option<&str>, &[u8]) -> Result<(), Failure>;
    let (read, body, judged, failed, check) = match kind {
        Kind::Order => {
            let mut waiter =
                wait::order(client, id).on_progress(move |order: &geopera::models::Order| {
                    report(state(order.status.as_ref()))
                });
            if let Some(deadline) = deadline {
                waiter = waiter.deadline(deadline);
            }
            let (judged, failed) = outcome(waiter.await, settings, &base_url)?;
            let check: Check = same_as_judged::<geopera::models::Order>;
            (
                "orders.get",
                json!({ "order_id": id }),
                judged,
                failed,
                check,
            )
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
            let (judged, failed) = outcome(waiter.await, settings, &base_url)?;
            let check: Check = same_as_judged::<geopera::models::Job>;
            (read, body, judged, failed, check)
        }
    };
    drop(shown);
    let response = call::answer(client, read, Request::new(body))
        .await
        .map_err(|e| call::sdk_failure(read, &base_url, settings, &e))?;
    check(kind, id, judged.as_deref(), &response.content)?;
    Ok(call::render(read, &response, settings).and(failed.map_or(Ok(()), Err)))
}
