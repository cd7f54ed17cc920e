//! `--wait` on operations that start long-running work, and `geopera orders wait ID`.
//!
//! The SDK's waiters poll the resource with growing, jittered pauses until it reaches a final
//! state, and the answer of the poll that saw it is printed as the server sent it: what is
//! printed is what the wait judged, never a later read that could disagree with it. A spinner
//! with the latest state shows on stderr, only when stderr is a terminal.
//!
//! Once `--wait` has started an order or a job, it exists whatever the wait comes to: its id
//! is named on stderr before the wait begins, and again in the error of a wait that fails or
//! is interrupted, so nobody places it a second time believing the first failed.

use std::sync::OnceLock;
use std::time::Duration;

use geopera::wait::{self, WaitError};
use geopera::{Binary, Geopera, Response};
use serde_json::Value;

use crate::call::{self, Answer, Settings};
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

    /// The command that takes `id` up again, with how to read it, under the `options`
    /// ([`crate::auth::Target::options`]) that reach the API that made it. An id that a
    /// terminal would act on is named by a placeholder (the message names it escaped), and one
    /// starting with `-` is kept a value rather than read as an option.
    fn resume(self, id: &str, options: &str) -> String {
        match self {
            Kind::Order => {
                let id = if id.chars().any(crate::paint::steers) {
                    "ORDER_ID".to_owned()
                } else if id.starts_with('-') {
                    format!("-- {}", crate::paint::shell_word(id))
                } else {
                    crate::paint::shell_word(id)
                };
                format!("resume with: geopera{options} orders wait {id}")
            }
            Kind::ProcessingJob => format!(
                "see it with: geopera{options} processing job get{}",
                crate::auth::option("--job-id", id, "JOB_ID")
            ),
            Kind::ClipJob => format!(
                "see it with: geopera{options} clip job get{}",
                crate::auth::option("--job-id", id, "JOB_ID")
            ),
        }
    }

    /// The command that lists what this kind of operation made, to find one by, with the
    /// options its operation requires (a clip job list names the organization, the caller's
    /// own, which the command line does not know to fill in).
    fn listing(self, options: &str) -> String {
        let family = match self {
            Kind::Order => "orders list",
            Kind::ProcessingJob => "processing jobs list",
            Kind::ClipJob => "clip jobs list --organization-id ORG_ID",
        };
        format!("geopera{options} {family}")
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

/// The failure of a `--wait` whose operation succeeded but whose answer names no id to wait
/// for: it says that the order or job was made, so that nobody makes it again to wait for
/// it, how to find it, and, when the call had an `Idempotency-Key`, how to repeat the command
/// without making a second one.
pub(crate) fn nothing_to_wait_for(
    kind: Kind,
    operation_id: &str,
    key: Option<&str>,
    options: &str,
) -> Failure {
    let (noun, made) = (kind.noun(), kind.made());
    let mut message = format!(
        "--wait: {operation_id} succeeded, so the {noun} was {made}, but its answer (printed \
         above) names no {noun} id to wait for; find it with '{}'",
        kind.listing(options)
    );
    if let Some(key) = key {
        message.push_str(&format!(
            "; it was sent with Idempotency-Key {key}: repeated with {}, the command replays \
             this answer rather than making another {noun}",
            crate::call::idempotency_key_option(key)
        ));
    }
    Failure::other(message)
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

/// The state an order or job is in, for the spinner: the server's name, `?` when unknown,
/// cut as messages cut it. The spinner lays its line out afresh ten times a second, so a state
/// of megabytes, uncut, kept the command laying it out long after `--wait-timeout` had passed.
fn state(status: Option<&str>) -> String {
    status.map_or_else(|| "?".to_owned(), cut)
}

/// The most characters of a state, or of an id, that one line shows: a server's state is a
/// word, and one that is not must not fill the terminal.
const MAX_STATE_CHARS: usize = 100;

/// `text` as one line shows it: [`crate::paint::inert`], and cut at [`MAX_STATE_CHARS`].
fn cut(text: &str) -> String {
    let mut shown: String = text.chars().take(MAX_STATE_CHARS).collect();
    if text.chars().nth(MAX_STATE_CHARS).is_some() {
        shown = crate::hidden::redacted_cut(&shown);
        shown.push('…');
    }
    crate::paint::inert(&shown).into_owned()
}

/// A state as messages quote it.
fn quoted_state(status: &str) -> String {
    format!("'{}'", cut(status))
}

/// The most warnings of each sort one wait gives, of states this program does not know and of
/// kinds of failed poll: a server that makes up a new state or a new failure on every poll is
/// named a few times, not for ever.
const MAX_WARNINGS: usize = 5;

/// What the polls of one wait have shown, for what is said on stderr, which off a terminal
/// (no spinner) is all a log gets: each state this program does not know, once, as it is
/// first seen, and the last state, in the error of a wait that runs out of time.
struct Seen {
    what: &'static str,
    id: String,
    /// The id as the spinner shows it, cut as a state is: the server chose the id of what
    /// `--wait` started.
    spun_id: String,
    /// What the wait ends on, in words, and when it gives up.
    ends_on: &'static str,
    gives_up: String,
    bar: indicatif::ProgressBar,
    last: Option<String>,
    warned: Vec<String>,
    /// The kinds of failed poll already told of, each with its status when it had one.
    failures: Vec<(geopera::ErrorKind, Option<u16>)>,
}

impl Seen {
    fn new(kind: Kind, id: &str, deadline: Option<Duration>, bar: indicatif::ProgressBar) -> Self {
        let (ends_on, default) = if kind == Kind::Order {
            let days = wait::DEFAULT_ORDER_DEADLINE.as_secs() / (24 * 3600);
            ("fulfilled or cancelled", format!("{days} days"))
        } else {
            let hours = wait::DEFAULT_WORK_DEADLINE.as_secs() / 3600;
            ("succeeded, failed or cancelled", format!("{hours} hours"))
        };
        let gives_up = match deadline {
            Some(deadline) => format!("--wait-timeout ({} s) passes", deadline.as_secs()),
            None => format!("{default} pass (--wait-timeout sets how long)"),
        };
        Seen {
            what: kind.noun(),
            id: crate::paint::inert(id).into_owned(),
            spun_id: cut(id),
            ends_on,
            gives_up,
            bar,
            last: None,
            warned: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Takes in a poll's state (`None`: the answer gave none) and whether this program knows
    /// it. An unknown one is no end of the wait: the waiter counts it as not final, and a
    /// wait without `--wait-timeout` may go on for days (60 for an order) on a state that
    /// will never change, the spinner its only sign.
    fn saw(&mut self, status: Option<&str>, known: bool) {
        let shown = status.map_or_else(|| "without a state".to_owned(), quoted_state);
        self.bar
            .set_message(format!("{} {}: {}", self.what, self.spun_id, state(status)));
        if !known && !self.warned.contains(&shown) && self.warned.len() < MAX_WARNINGS {
            let (what, id, ends_on, gives_up) = (self.what, &self.id, self.ends_on, &self.gives_up);
            let said = match status {
                Some(_) => format!("is {shown}, a state this program does not know"),
                None => "was answered without a state".to_owned(),
            };
            self.bar.suspend(|| {
                crate::paint::warning(&format!(
                    "{what} {id} {said}; the wait goes on until it is {ends_on}, or \
                     {gives_up}"
                ));
            });
            self.warned.push(shown.clone());
        }
        self.last = Some(shown);
    }
}

impl Seen {
    /// Takes in a failed poll the wait rides out (a 503, a timeout, a rate limit). The SDK
    /// polls on, and off a terminal nothing else would show the outage: each kind of failure
    /// is told once, the first time it happens.
    fn failed(&mut self, error: &geopera::Error) {
        let kind = (error.kind(), error.status().map(|status| status.as_u16()));
        if self.failures.contains(&kind) || self.failures.len() >= MAX_WARNINGS {
            return;
        }
        self.failures.push(kind);
        let (what, id, gives_up) = (self.what, &self.id, &self.gives_up);
        let cause = crate::failure::chain(error);
        self.bar.suspend(|| {
            crate::paint::warning(&format!(
                "a poll of {what} {id} failed ({cause}); the wait polls on until {gives_up}"
            ));
        });
    }
}

/// The failure of a wait that ended without its end seen; one that ran out of time says what
/// the last poll found.
fn ended<T>(
    settings: &Settings,
    base_url: &str,
    error: &WaitError<T>,
    last: Option<&str>,
) -> Failure {
    match error {
        WaitError::Call { source, .. } => call::sdk_failure("the wait", base_url, settings, source),
        WaitError::Deadline { .. } => match last {
            Some(last) => Failure::other(format!("{error}; it was last seen {last}")),
            None => Failure::other(error.to_string()),
        },
        other => Failure::other(other.to_string()),
    }
}

/// What a wait came to: the answer of the poll that saw the final state, with `None` for
/// success and the failure for a final state that is not success (the answer is still
/// printed, then the failure reported); `Err` no end seen.
fn outcome<T>(
    waited: Result<Response<T>, WaitError<Response<T>>>,
    seen: &std::sync::Mutex<Seen>,
    settings: &Settings,
    base_url: &str,
) -> Result<(Answer, Option<Failure>), Failure> {
    match waited {
        Ok(done) => Ok((printable(done), None)),
        Err(error) => {
            let last = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .last
                .clone();
            let failure = ended(settings, base_url, &error, last.as_deref());
            match error {
                WaitError::Failed { last, .. } => Ok((printable(*last), Some(failure))),
                _ => Err(failure),
            }
        }
    }
}

/// A poll's answer as the CLI prints answers: its bytes, with the content type they came with.
fn printable<T>(answer: Response<T>) -> Answer {
    let content_type = answer
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let bytes = answer.content.clone();
    answer.map(|_| Binary::new(content_type, bytes))
}

/// Waits for `id`, which this command's `--wait` has just started, as [`wait_for`] does. Its
/// id is named on stderr first; a wait that fails names it again and exits 1 (the operation
/// that started it succeeded), and so does an interruption ([`started`]).
pub(crate) async fn wait_for_started(
    client: &Geopera,
    kind: Kind,
    id: &str,
    options: &str,
    settings: &Settings,
) -> Outcome {
    let (noun, made) = (kind.noun(), kind.made());
    // The server's id, inert where it enters a line: these lines are printed among the
    // failure's, which are split at line breaks first.
    let (shown_id, resume) = (
        crate::paint::inert(id),
        crate::paint::inert(&kind.resume(id, options)).into_owned(),
    );
    crate::paint::note(&format!(
        "{noun} {shown_id} {made}; waiting for it ({resume})"
    ));
    let _ = STARTED.set(format!("{noun} {shown_id} was {made} ({resume})"));
    match wait_and_print(client, kind, id, settings.wait_timeout, settings).await {
        Ok(outcome) => outcome,
        Err(failure) => Err(Failure::other(format!(
            "{noun} {shown_id} was {made}, but waiting for it failed: {} ({resume})",
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
    use geopera::models::{JobStatus, OrderStatus};

    let base_url = client.client().base_url().to_owned();
    let what = kind.noun();
    let shown = crate::progress::Shown::spinner(format!("waiting for {what} {}", cut(id)));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::new(
        kind,
        id,
        deadline,
        shown.handle(),
    )));
    let report = {
        let seen = seen.clone();
        move |status: Option<&str>, known: bool| {
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .saw(status, known);
        }
    };
    let tell = {
        let seen = seen.clone();
        move |error: &geopera::Error| {
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .failed(error);
        }
    };
    let (answer, failed) = match kind {
        Kind::Order => {
            let mut waiter = wait::order(client, id)
                .on_progress(move |order: &geopera::models::Order| {
                    let status = order.status.as_ref();
                    let known = !matches!(status, None | Some(OrderStatus::Other(_)));
                    report(status.map(OrderStatus::as_str), known);
                })
                .on_failure(tell);
            if let Some(deadline) = deadline {
                waiter = waiter.deadline(deadline);
            }
            outcome(waiter.detailed().await, &seen, settings, &base_url)?
        }
        Kind::ProcessingJob | Kind::ClipJob => {
            let mut waiter = if kind == Kind::ClipJob {
                wait::clip_job(client, id)
            } else {
                wait::processing_job(client, id)
            };
            waiter = waiter
                .on_progress(move |job: &geopera::models::Job| {
                    let status = job.status.as_ref();
                    let known = !matches!(status, None | Some(JobStatus::Other(_)));
                    report(status.map(JobStatus::as_str), known);
                })
                .on_failure(tell);
            if let Some(deadline) = deadline {
                waiter = waiter.deadline(deadline);
            }
            outcome(waiter.detailed().await, &seen, settings, &base_url)?
        }
    };
    drop(shown);
    let printed = call::render(answer.operation_id, &answer, settings);
    Ok(match failed {
        Some(failed) => Err(Failure::after_printing(printed, failed)),
        None => printed,
    })
}

#[cfg(test)]
#[path = "waiting_tests.rs"]
mod tests;
