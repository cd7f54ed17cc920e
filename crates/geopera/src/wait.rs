//! Waiting for long-running work: orders, processing jobs, clip jobs and uploads.
//!
//! Orders take hours and jobs minutes, and the API tells a client where they are only when
//! asked. A [`Waiter`] asks for it: it polls the resource's read operation, backing off with
//! jitter (so a thousand waiters started together do not poll together), reports each state
//! it sees to an optional progress callback, and ends on a final state — with the resource when
//! it succeeded, with [`WaitError::Failed`] carrying the final state when it did not — or at
//! its deadline.
//!
//! Waiting is a future: dropping it stops the polling, with nothing left running. It sleeps on
//! the client's [`Clock`](crate::Clock), so a client on a simulated clock waits simulated time.
//! `Waiter::wait_blocking` is the same loop for blocking code, run by the same engine.
//! [`Waiter::detailed`] ends it with the final poll's whole answer (status, headers, request id,
//! the bytes as sent) rather than the model alone, so nothing needs reading again to keep it.
//!
//! Every poll is an ordinary call of the resource's status operation (`orders.get`,
//! `processing.job.get`, `clip.job.get`, `uploads.progress`), retried by the client's retry
//! policy and drawing on the default rate budget. `uploads.progress` is a write in the
//! contract (scope `uploads:write`, each poll with an `Idempotency-Key` of its own), so a key
//! that may only read uploads cannot wait for one: its first poll is refused. An upload is
//! done once it is `completed`, or once every byte and file it declared has been received
//! (at least one file). A wait lasts hours or days, longer than any outage the client's
//! retries are sized for, so a poll that still fails with an error that may go away
//! ([`Error::is_retryable`]: a rate limit, a 5xx such as 503, a timeout, a lost connection) is
//! ridden out: the waiter pauses for its next pause, or for the `Retry-After` a 429 asked for
//! when that is longer (up to [`MAX_ASKED_PAUSE`], or the longest pause if that is longer),
//! and polls again, logging a warning each time and passing the error to
//! [`Waiter::on_failure`]. A server that stays down therefore runs the wait to its deadline,
//! whose error names the failure ([`WaitError::Deadline`]). When the next pause would pass the
//! deadline, the waiter polls once more just before it (a second, or half the pause, ahead)
//! rather than sleeping the rest out, unless the server asked for a pause that passes it. Until a poll has reached the
//! server, a connection that cannot be made ends the wait at once with [`WaitError::Call`]
//! ([`Error::is_connect`]): a wrong base URL looks just like that. Any other error (an unknown
//! resource, a missing scope) ends the wait at once too.
//!
//! ```no_run
//! # async fn run(client: geopera::AuthenticatedClient) -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! let order = geopera::wait::order(&client, "ord_0123")
//!     .deadline(Duration::from_secs(6 * 3600))
//!     .on_progress(|order| println!("order is {:?}", order.status))
//!     .await?;
//! println!("{} fulfilled", order.id);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use geopera_types::operations::{ClipJobGet, OrdersGet, ProcessingJobGet, UploadsProgress};
use geopera_types::{Operation, OperationInfo};

use crate::client::{ApiClient, Client};
use crate::engine::Face;
use crate::error::server_words;
use crate::models::{Job, JobStatus, Order, OrderStatus, UploadOutput, UploadStatus};
use crate::request::CallOptions;
use crate::{Error, Response};

/// The first pause between polls, unless [`Waiter::interval`] says otherwise.
pub const DEFAULT_FIRST_INTERVAL: Duration = Duration::from_secs(2);

/// The longest pause between polls, unless [`Waiter::interval`] says otherwise.
pub const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest pause between polls, whatever [`Waiter::interval`] says: a waiter must never
/// turn into a loop that polls as fast as the API answers.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// How much longer each pause is than the one before, until the longest.
const GROWTH: f64 = 1.5;

/// The longest `Retry-After` a waiter obeys, unless its own longest pause is longer. The API's
/// asks for no more than the rest of a one-minute window; a day or a year comes from something
/// in the way (a gateway, a misconfigured proxy), and obeyed whole it would keep a wait of
/// weeks from ever looking again. Cut to this, the waiter still backs off a long way.
pub const MAX_ASKED_PAUSE: Duration = Duration::from_secs(3600);

/// How long before its deadline a wait asks one last time when its next pause would pass the
/// deadline: the work may have finished meanwhile, and the deadline error would then say "not
/// done" of something that was. At most half the pause, so no poll comes sooner than it would.
const LAST_LOOK_BEFORE_DEADLINE: Duration = Duration::from_secs(1);

/// How long a wait for an order lasts unless [`Waiter::deadline`] says otherwise (60 days):
/// tasking orders wait for a satellite pass, which can take weeks.
pub const DEFAULT_ORDER_DEADLINE: Duration = Duration::from_secs(60 * 24 * 3600);

/// How long a wait for a job or an upload lasts unless [`Waiter::deadline`] says otherwise
/// (24 hours).
pub const DEFAULT_WORK_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// Waits for the order `order_id` to be fulfilled; a cancelled order is
/// [`WaitError::Failed`].
pub fn order(client: &impl ApiClient, order_id: impl Into<String>) -> Waiter<Order> {
    Waiter::new(client, &ORDER, order_id.into())
}

/// Waits for the processing job `job_id` to succeed; a failed or cancelled job is
/// [`WaitError::Failed`].
pub fn processing_job(client: &impl ApiClient, job_id: impl Into<String>) -> Waiter<Job> {
    Waiter::new(client, &PROCESSING_JOB, job_id.into())
}

/// Waits for the clip job `job_id` to succeed; a failed or cancelled job is
/// [`WaitError::Failed`].
pub fn clip_job(client: &impl ApiClient, job_id: impl Into<String>) -> Waiter<Job> {
    Waiter::new(client, &CLIP_JOB, job_id.into())
}

/// Waits until the upload session `upload_id` is ready to complete — every declared byte and
/// file has reached the storage (at least one file, and as many as a `file_count` it
/// declared, when the answer lists its `files`; without that list the bytes alone decide),
/// as when another party (a browser, a cloud transfer) sends them — or is completed. A failed
/// session is [`WaitError::Failed`]. A session in a status the SDK does not know is waited
/// through, as orders and jobs are, until the waiter's deadline ([`Waiter::deadline`]), whose
/// [`WaitError::Deadline`] holds the upload as last read.
pub fn upload(client: &impl ApiClient, upload_id: impl Into<String>) -> Waiter<UploadOutput> {
    Waiter::new(client, &UPLOAD, upload_id.into())
}

/// What a poll found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Not there yet: poll again.
    Pending,
    /// Finished well: the wait is over.
    Done,
    /// Finished badly: the wait is over, with an error.
    Failed,
}

/// One kind of thing to wait for: how to ask for it and how to judge the answer.
struct Kind<T> {
    /// What it is, for messages.
    what: &'static str,
    /// The read operation that answers it.
    info: &'static OperationInfo,
    /// The member of that operation's body naming it.
    id_field: &'static str,
    /// How long a wait lasts unless the caller says otherwise.
    deadline: Duration,
    judge: fn(&T) -> Verdict,
    /// Its state, in a few words, for messages.
    state: fn(&T) -> String,
    /// Its id, as the answer gives it.
    id_of: fn(&T) -> &str,
}

static ORDER: Kind<Order> = Kind {
    what: "order",
    deadline: DEFAULT_ORDER_DEADLINE,
    info: OrdersGet::INFO,
    id_field: "order_id",
    judge: judge_order,
    state: order_state,
    id_of: |order| &order.id,
};

static PROCESSING_JOB: Kind<Job> = Kind {
    what: "processing job",
    deadline: DEFAULT_WORK_DEADLINE,
    info: ProcessingJobGet::INFO,
    id_field: "job_id",
    judge: judge_job,
    state: job_state,
    id_of: |job| &job.id,
};

static CLIP_JOB: Kind<Job> = Kind {
    what: "clip job",
    deadline: DEFAULT_WORK_DEADLINE,
    info: ClipJobGet::INFO,
    id_field: "job_id",
    judge: judge_job,
    state: job_state,
    id_of: |job| &job.id,
};

static UPLOAD: Kind<UploadOutput> = Kind {
    what: "upload",
    deadline: DEFAULT_WORK_DEADLINE,
    info: UploadsProgress::INFO,
    id_field: "upload_id",
    judge: judge_upload,
    state: upload_state,
    id_of: |upload| &upload.id,
};

fn judge_order(order: &Order) -> Verdict {
    match order.status {
        Some(OrderStatus::Fulfilled) => Verdict::Done,
        Some(OrderStatus::Cancelled) => Verdict::Failed,
        _ => Verdict::Pending,
    }
}

fn order_state(order: &Order) -> String {
    status_text(order.status.as_ref().map(OrderStatus::as_str))
}

fn judge_job(job: &Job) -> Verdict {
    match job.status {
        Some(JobStatus::Succeeded) => Verdict::Done,
        Some(JobStatus::Failed | JobStatus::Cancelled) => Verdict::Failed,
        _ => Verdict::Pending,
    }
}

fn job_state(job: &Job) -> String {
    let status = status_text(job.status.as_ref().map(JobStatus::as_str));
    match &job.error_message {
        Some(message) => format!("{status}: {message}"),
        None => status,
    }
}

/// A status the SDK does not know (`expired`, say) is pending, as it is for jobs and orders:
/// only an upload still open (or of no stated status) is ready once its bytes are in, as one
/// in some other state would meet a 409 when completed.
fn judge_upload(upload: &UploadOutput) -> Verdict {
    match upload.status {
        Some(UploadStatus::Completed) => Verdict::Done,
        Some(UploadStatus::Failed) => Verdict::Failed,
        None | Some(UploadStatus::Pending | UploadStatus::Uploading) => {
            match (upload.bytes_received, upload.total_bytes) {
                (Some(received), Some(total)) if received >= total && files_arrived(upload) => {
                    Verdict::Done
                }
                _ => Verdict::Pending,
            }
        }
        // `Other`, and any status a later SDK may know.
        _ => Verdict::Pending,
    }
}

/// Whether the files an upload is completed with have arrived, as far as the answer says:
/// at least one (an upload of 0 bytes has every byte before any file), and as many as its
/// `file_count` declared. An answer without `files` leaves the bytes to decide.
fn files_arrived(upload: &UploadOutput) -> bool {
    let Some(files) = &upload.files else {
        return true;
    };
    let declared = upload.file_count.unwrap_or(1);
    u64::try_from(files.len()).is_ok_and(|arrived| arrived >= declared.max(1))
}

fn upload_state(upload: &UploadOutput) -> String {
    let status = status_text(upload.status.as_ref().map(UploadStatus::as_str));
    match &upload.error_message {
        Some(message) => format!("{status}: {message}"),
        None => status,
    }
}

fn status_text(status: Option<&str>) -> String {
    status.unwrap_or("without a status").to_owned()
}

/// A progress callback: called with every state a poll finds, the last one included.
type Progress<T> = Box<dyn FnMut(&T) + Send>;

/// A wait for one resource; configure it, then `.await` it (or call
/// `wait_blocking`). Made by [`order`], [`processing_job`],
/// [`clip_job`] and [`upload`].
#[must_use = "a waiter does nothing until it is awaited"]
pub struct Waiter<T: 'static> {
    client: Client,
    kind: &'static Kind<T>,
    id: String,
    first: Duration,
    max: Duration,
    deadline: Duration,
    progress: Option<Progress<T>>,
    failed: Option<Failed>,
}

/// A callback for the failed polls a wait rides out.
type Failed = Box<dyn FnMut(&Error) + Send>;

impl<T> fmt::Debug for Waiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("what", &self.kind.what)
            .field("id", &self.id)
            .field("first", &self.first)
            .field("max", &self.max)
            .field("deadline", &self.deadline)
            .field("progress", &self.progress.is_some())
            .field("on_failure", &self.failed.is_some())
            .finish()
    }
}

impl<T> Waiter<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    fn new(client: &impl ApiClient, kind: &'static Kind<T>, id: String) -> Self {
        Waiter {
            client: client.core().clone(),
            kind,
            id,
            first: DEFAULT_FIRST_INTERVAL,
            max: DEFAULT_MAX_INTERVAL,
            deadline: kind.deadline,
            progress: None,
            failed: None,
        }
    }

    /// The first pause between polls and the longest one; each pause is 1.5 times the one
    /// before until the longest, and each is drawn between half and all of that, so waiters
    /// started together spread out. Pauses shorter than [`MIN_INTERVAL`], drawn ones included,
    /// are raised to it, and `max` below `first` to `first`.
    pub fn interval(mut self, first: Duration, max: Duration) -> Self {
        self.first = first.max(MIN_INTERVAL);
        self.max = max.max(self.first);
        self
    }

    /// Ends the wait with [`WaitError::Deadline`] once `deadline` has passed since it started
    /// (on the client's clock); a poll in flight, and a pause for a `Retry-After`, are cut
    /// short at the deadline too. Without it, a wait for an order ends after 60 days and one
    /// for a job or an upload after a day: every wait ends. The client's own deadline
    /// ([`ClientBuilder::deadline`](crate::ClientBuilder::deadline)) still bounds each poll; a
    /// poll it cuts is a timeout like any other, polled again after the next pause.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Calls `progress` with every state a poll finds, the final one included; for progress
    /// bars and logs. It runs on the waiting task, so it should return quickly.
    pub fn on_progress(mut self, progress: impl FnMut(&T) + Send + 'static) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    /// Calls `failed` with the error of every poll the wait rides out (one that may pass, see
    /// the [module docs](self)), before the pause after it: a wait through an outage otherwise
    /// shows nothing until its deadline but a warning in the log. Errors that end the wait are
    /// not passed here; they are its result. It runs on the waiting task, so it should return
    /// quickly.
    pub fn on_failure(mut self, failed: impl FnMut(&Error) + Send + 'static) -> Self {
        self.failed = Some(Box::new(failed));
        self
    }

    /// The same wait from blocking code: the caller's thread waits while the client's engine
    /// polls.
    ///
    /// # Errors
    ///
    /// As for awaiting the waiter; see [`WaitError`].
    #[cfg(feature = "blocking")]
    pub fn wait_blocking(self) -> Result<T, WaitError<T>> {
        self.run_blocking(model)
    }

    /// The wait, ending with the final poll's whole answer — its status, headers, request id
    /// and bytes as the server sent them — where awaiting the waiter gives only the model:
    /// for a program that prints or stores what the server said rather than reading the
    /// resource once more (which could find it changed). A wait that fails keeps the last
    /// poll's answer the same way ([`WaitError::last`]).
    ///
    /// ```no_run
    /// # async fn run(client: geopera::AuthenticatedClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let answer = geopera::wait::order(&client, "ord_0123").detailed().await?;
    /// let order = answer.parsed.success().expect("a finished wait holds the model");
    /// println!("{} fulfilled; the server said {} bytes", order.id, answer.content.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn detailed(
        self,
    ) -> impl Future<Output = Result<Response<T>, WaitError<Response<T>>>> + Send {
        self.run(None, whole)
    }

    /// [`Waiter::detailed`] from blocking code, as [`Waiter::wait_blocking`] is.
    ///
    /// # Errors
    ///
    /// As for [`Waiter::detailed`]; see [`WaitError`].
    #[cfg(feature = "blocking")]
    pub fn wait_blocking_detailed(self) -> Result<Response<T>, WaitError<Response<T>>> {
        self.run_blocking(whole)
    }

    #[cfg(feature = "blocking")]
    fn run_blocking<U: Send + 'static>(
        self,
        finish: fn(T, Response<()>) -> U,
    ) -> Result<U, WaitError<U>> {
        let client = self.client.clone();
        let (what, id) = (self.kind.what, self.id.clone());
        let ran = crate::blocking::run(
            &client.blocking,
            crate::caller::Caller::current(),
            move |thread| async move { self.run(Some(thread.face()), finish).await },
        );
        ran.unwrap_or_else(|source| Err(WaitError::Call { what, id, source }))
    }

    /// The polling loop. Each poll's state is judged as the model; `finish` makes what the
    /// wait ends with (and what its errors keep as the last state) from the model and the rest
    /// of that poll's answer.
    async fn run<U>(
        mut self,
        face: Option<Face<'_>>,
        finish: fn(T, Response<()>) -> U,
    ) -> Result<U, WaitError<U>> {
        let kind = self.kind;
        let clock = self.client.clock().clone();
        let ends = clock.now().saturating_add(self.deadline);
        let payload = self.payload()?;
        let mut pause = self.first;
        let mut last: Option<Box<U>> = None;
        // Why the latest poll failed, when it did: what a deadline error names.
        let mut failure: Option<Box<Error>> = None;
        // Whether any poll has reached the server: until one has, a connection that cannot be
        // made more likely means a wrong address than an outage.
        let mut reached = false;
        // Whether the poll just before the deadline has been made: there is one.
        let mut looked_last = false;
        loop {
            let left = ends.saturating_sub(clock.now());
            if left.is_zero() {
                return Err(self.deadline_passed(last, failure));
            }
            // A poll is bounded by what is left of the wait, and by the client's own deadline
            // for every call when that is shorter; only the first is the wait's deadline.
            let client_cuts = self.client.settings.deadline.filter(|own| *own < left);
            let options = CallOptions {
                deadline: Some(client_cuts.unwrap_or(left)),
                ..CallOptions::default()
            };
            let client = &self.client;
            let face = face.unwrap_or_else(|| client.async_face());
            let polled = crate::runtime::call_detailed_as::<T>(
                client,
                face,
                kind.info,
                &options,
                payload.clone(),
            );
            // The pause the server asked for before the next poll, if it asked.
            let asked = match polled.await {
                Ok((state, rest)) => {
                    // What the errors quote from an answer (a failure's reason, another
                    // resource's id) is the server's text, and errors end up in logs: the
                    // poll's credentials are taken out of it, the token a session sent it
                    // with included, as out of every other error's.
                    let redactor = &rest.redactor;
                    // An answer about another resource (a misrouted or cached one) says
                    // nothing about this one: neither its success nor its failure is this
                    // wait's.
                    let answered = (kind.id_of)(&state);
                    if answered != self.id {
                        return Err(WaitError::OtherResource {
                            what: kind.what,
                            answered: redactor.text(answered.to_owned()),
                            id: self.id,
                        });
                    }
                    if let Some(progress) = self.progress.as_mut() {
                        progress(&state);
                    }
                    match (kind.judge)(&state) {
                        Verdict::Done => return Ok(finish(state, rest)),
                        Verdict::Failed => {
                            let shown = redactor.text((kind.state)(&state));
                            return Err(WaitError::Failed {
                                what: kind.what,
                                id: self.id,
                                state: shown,
                                last: Box::new(finish(state, rest)),
                            });
                        }
                        Verdict::Pending => last = Some(Box::new(finish(state, rest))),
                    }
                    failure = None;
                    reached = true;
                    None
                }
                Err(error) if is_deadline(&error) && client_cuts.is_none() => {
                    // A poll the client's limiter held past the wait's deadline ends at once
                    // (a pause, a paced slot): the wait still ends at its deadline, as when
                    // its next pause would pass it below, not before.
                    clock.sleep_until(ends).await;
                    return Err(self.deadline_passed(last, failure));
                }
                // The client's retries are sized for a call, not for a wait of days: a
                // failure that may pass is waited out as a pending state is, once the server
                // has been reached; a first poll that cannot connect ends the wait, as a
                // mistyped address would otherwise be polled until the deadline, in silence.
                Err(error) if error.is_retryable() && (reached || !error.is_connect()) => {
                    reached |= error.status().is_some();
                    tracing::warn!(
                        what = kind.what,
                        id = %self.id,
                        %error,
                        "a poll failed; polling again"
                    );
                    if let Some(failed) = self.failed.as_mut() {
                        failed(&error);
                    }
                    let asked = error.retry_after();
                    failure = Some(Box::new(error));
                    asked
                }
                Err(source) => {
                    return Err(WaitError::Call {
                        what: kind.what,
                        id: self.id,
                        source,
                    })
                }
            };
            // The spread draws down to half the pause: the floor holds for what is drawn. A
            // server's `Retry-After` lengthens the pause but never shortens it: a `0` (a
            // gateway's) would otherwise poll a limited organization at the floor's pace.
            let drawn = crate::retry::jittered(pause);
            let ceiling = MAX_ASKED_PAUSE.max(self.max);
            let asked = asked.map(|asked| {
                if asked > ceiling {
                    tracing::warn!(
                        what = kind.what,
                        id = %self.id,
                        asked_s = asked.as_secs(),
                        waiting_s = ceiling.as_secs(),
                        "the server asked for a pause longer than any wait obeys; polling sooner"
                    );
                }
                asked.min(ceiling)
            });
            let pause_now = asked
                .map_or(drawn, |asked| asked.max(drawn))
                .max(MIN_INTERVAL);
            let now = clock.now();
            let mut wake = now.saturating_add(pause_now);
            if wake >= ends {
                // A pause the server asked for is kept; the waiter's own is cut short once,
                // for a last look just before the deadline.
                let server_asks_past = asked.is_some_and(|asked| now.saturating_add(asked) >= ends);
                // Never sooner than the server asked, however close the deadline.
                let look_at = ends
                    .saturating_sub(LAST_LOOK_BEFORE_DEADLINE.min(pause_now / 2))
                    .max(now.saturating_add(asked.unwrap_or_default()));
                if looked_last || server_asks_past || look_at <= now.saturating_add(MIN_INTERVAL) {
                    clock.sleep_until(ends).await;
                    return Err(self.deadline_passed(last, failure));
                }
                looked_last = true;
                wake = look_at;
            }
            clock.sleep_until(wake).await;
            // Past `max` the product is not needed, and `Duration::MAX` (no longest pause)
            // would overflow it: a long wait on a simulated clock gets there.
            pause = Duration::try_from_secs_f64(pause.as_secs_f64() * GROWTH)
                .map_or(self.max, |grown| grown.min(self.max));
        }
    }

    /// The body of every poll.
    fn payload<U>(&self) -> Result<bytes::Bytes, WaitError<U>> {
        let mut body = serde_json::Map::new();
        body.insert(
            self.kind.id_field.to_owned(),
            serde_json::Value::String(self.id.clone()),
        );
        let body = serde_json::Value::Object(body);
        crate::runtime::check(&self.client, self.kind.info, &body)
            .and_then(|()| crate::runtime::to_payload(self.kind.info, &body))
            .map_err(|source| WaitError::Call {
                what: self.kind.what,
                id: self.id.clone(),
                source,
            })
    }

    fn deadline_passed<U>(
        &self,
        last: Option<Box<U>>,
        failure: Option<Box<Error>>,
    ) -> WaitError<U> {
        WaitError::Deadline {
            what: self.kind.what,
            id: self.id.clone(),
            deadline: self.deadline,
            last,
            failure,
        }
    }
}

impl<T> IntoFuture for Waiter<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    type Output = Result<T, WaitError<T>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run(None, model))
    }
}

/// What a plain wait ends with: the model alone.
fn model<T>(state: T, _rest: Response<()>) -> T {
    state
}

/// What a detailed wait ends with: the whole answer of the poll.
fn whole<T>(state: T, rest: Response<()>) -> Response<T> {
    rest.map(|()| state)
}

/// Whether a poll failed because the wait's deadline cut it short.
fn is_deadline(error: &Error) -> bool {
    matches!(
        error,
        Error::Timeout {
            limit: crate::TimeoutLimit::Deadline,
            ..
        }
    )
}

/// Why a wait ended without the resource reaching its good final state.
///
/// The messages quote the server's words (a final state and its reason, an id it answered,
/// an id it handed out) with every character that would act on a terminal written as `\u{..}`,
/// and at most 1,000 characters of each, as [`Error`]'s messages do; the fields keep them
/// whole, as they came.
///
/// `source()` is the poll's [`Error`] for [`WaitError::Call`], and for
/// [`WaitError::Deadline`] when its latest poll failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitError<T> {
    /// The resource reached a final state that is not success: a failed or cancelled job, a
    /// cancelled order, a failed upload. `last` is the resource as last read.
    #[non_exhaustive]
    Failed {
        /// What was waited for: `order`, `processing job`, `clip job` or `upload`.
        what: &'static str,
        /// Its id.
        id: String,
        /// Its final state in a few words, with the failure reason when the API gave one.
        state: String,
        /// The resource as last read.
        last: Box<T>,
    },
    /// The deadline passed first. `last` is the resource as last read, if a poll succeeded;
    /// `failure` why the latest poll failed, when it did, which the message names too.
    #[non_exhaustive]
    Deadline {
        /// What was waited for.
        what: &'static str,
        /// Its id.
        id: String,
        /// The deadline that passed.
        deadline: Duration,
        /// The resource as last read.
        last: Option<Box<T>>,
        /// The error of the latest poll, when it failed with an error that may pass (a rate
        /// limit, a 503, a timeout) and no poll answered after it: what kept the wait from
        /// news of the resource at the end. Boxed, so that every waiter's `Result` stays
        /// small.
        failure: Option<Box<Error>>,
    },
    /// A poll failed with an error that asking again cannot mend
    /// ([`Error::is_retryable`] is `false`): the resource is unknown, the credential lacks the
    /// scope, the request is refused, ...; or no poll has reached the server yet and this one
    /// could not connect ([`Error::is_connect`]), as to a wrong address.
    #[non_exhaustive]
    Call {
        /// What was waited for.
        what: &'static str,
        /// Its id.
        id: String,
        /// Why the poll failed.
        source: Error,
    },
    /// A poll was answered with another resource than the one asked for (a misrouted or
    /// cached answer): its state is no news of this one, so the wait ends rather than
    /// trust it.
    #[non_exhaustive]
    OtherResource {
        /// What was waited for.
        what: &'static str,
        /// The id asked for.
        id: String,
        /// The id of the resource the API answered with.
        answered: String,
    },
}

// Written out rather than derived: a derived `source()` would give a deadline's boxed failure
// as the box, which no `downcast_ref::<Error>()` finds.
impl<T> fmt::Display for WaitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Failed {
                what, id, state, ..
            } => {
                write!(
                    f,
                    "{what} {} ended {}",
                    server_words(id),
                    server_words(state)
                )
            }
            WaitError::Deadline {
                what,
                id,
                deadline,
                failure,
                ..
            } => {
                write!(
                    f,
                    "{what} {} was not done within {deadline:?}",
                    server_words(id)
                )?;
                match failure {
                    Some(error) => write!(f, "; the last poll failed: {error}"),
                    None => Ok(()),
                }
            }
            WaitError::Call { what, id, source } => {
                write!(f, "waiting for {what} {}: {source}", server_words(id))
            }
            WaitError::OtherResource { what, id, answered } if answered.is_empty() => write!(
                f,
                "waiting for {what} {}: the API answered with no {what} id",
                server_words(id)
            ),
            WaitError::OtherResource { what, id, answered } => write!(
                f,
                "waiting for {what} {}: the API answered {what} {} instead",
                server_words(id),
                server_words(answered)
            ),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for WaitError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WaitError::Call { source, .. } => Some(source),
            WaitError::Deadline {
                failure: Some(error),
                ..
            } => Some(&**error),
            _ => None,
        }
    }
}

impl<T> WaitError<T> {
    /// The resource as last read, when a poll read it.
    pub fn last(&self) -> Option<&T> {
        match self {
            WaitError::Failed { last, .. } => Some(last),
            WaitError::Deadline { last, .. } => last.as_deref(),
            WaitError::Call { .. } | WaitError::OtherResource { .. } => None,
        }
    }
}

#[cfg(test)]
#[path = "wait_tests.rs"]
mod tests;
