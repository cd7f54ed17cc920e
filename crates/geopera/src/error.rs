//! The one error type of the SDK.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::time::Duration;

use bytes::Bytes;
use geopera_types::{HttpValidationError, Problem};
use http::StatusCode;

use crate::terminal::inert;

/// Why a call failed.
///
/// Documented error answers come with their typed body ([`Error::problem`],
/// [`Error::validation`]); transport-level failures keep their cause in
/// [`std::error::Error::source`]. Every error of a call that was planned carries the call's
/// `X-Request-Id` ([`Error::request_id`]), except [`Error::SignIn`] and
/// [`Error::Credentials`]: a credential that could not be had or renewed (after the API's 401
/// too) is the identity provider's or the provider's failure, not the API's answer. Tokens never appear in any variant. Messages and
/// `Debug` quote what the server sent only in part (a body can be megabytes), and nothing of
/// a success answer that may hold a credential (a new API key, a signed URL:
/// [`OperationInfo::answer_holds_credentials`](geopera_types::OperationInfo::answer_holds_credentials));
/// the fields keep all of it. What a message quotes has every character that would act on a
/// terminal (an escape sequence, a carriage return, a bidirectional override) written as
/// `\u{..}`, so printing an error cannot recolour, clear or rewrite what the terminal shows;
/// so has the decoder's message that a decode error carries as its cause.
///
/// The enum and each of its variants with named fields are `#[non_exhaustive]`, so a variant
/// or a field added later breaks no code: match with a `_` arm and name the fields you read
/// followed by `..`. [`Error::Config`] holds its message alone.
///
/// ```
/// # fn report(error: &geopera::Error) {
/// match error {
///     geopera::Error::Timeout { attempts, .. } => eprintln!("gave up after {attempts} attempts"),
///     other => eprintln!("{other}"),
/// }
/// # }
/// ```
///
/// Naming every field without `..` does not compile:
///
/// ```compile_fail,E0638
/// # fn report(error: geopera::Error) {
/// if let geopera::Error::TooLarge { operation_id, limit, attempts, request_id } = error {}
/// # }
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an RFC 9457 problem (401, 403, 404, 409, 500, ...).
    #[error("{status} on {operation_id}: {}", problem_text(.problem))]
    #[non_exhaustive]
    Api {
        /// The operation that was called.
        operation_id: &'static str,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The problem the API described.
        problem: Box<Problem>,
        /// How many attempts were made.
        attempts: u32,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The API rejected the request body (422).
    #[error(
        "{} on {operation_id}: {}",
        StatusCode::UNPROCESSABLE_ENTITY,
        shown(&.error.to_string(), SERVER_WORDS_CHARS)
    )]
    #[non_exhaustive]
    Validation {
        /// The operation that was called.
        operation_id: &'static str,
        /// Every check the body failed.
        error: Box<HttpValidationError>,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The API answered 429: the wait it asked for was longer than the client waits
    /// ([`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after)) or than the
    /// deadline leaves, or the retries ran out.
    #[error("rate limited on {operation_id}: retry after {}s", .retry_after.as_secs())]
    #[non_exhaustive]
    RateLimited {
        /// The operation that was called.
        operation_id: &'static str,
        /// How long the API asked to wait (`Retry-After`; without one, the rest of the
        /// current minute, when the API's windows reset).
        retry_after: Duration,
        /// The problem the API described, when it sent one.
        problem: Option<Box<Problem>>,
        /// How many attempts were made.
        attempts: u32,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The API answered with a status the contract does not document for this operation.
    #[error(
        "unexpected status {status} from {operation_id}{}",
        excerpt_suffix(.operation_id, *.status, .body)
    )]
    #[non_exhaustive]
    UnexpectedStatus {
        /// The operation that was called.
        operation_id: &'static str,
        /// The status of the answer.
        status: StatusCode,
        /// The raw body of the answer, whole. The message and `Debug` quote its start, or
        /// say it is not shown when it is a success answer that may hold a credential.
        body: Bytes,
        /// How many attempts were made.
        attempts: u32,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The call did not finish within its timeout or deadline.
    #[error("{operation_id} timed out ({})", limit.describe())]
    #[non_exhaustive]
    Timeout {
        /// The operation that was called.
        operation_id: &'static str,
        /// Which bound ran out.
        limit: TimeoutLimit,
        /// The underlying cause, when the HTTP client reported one.
        #[source]
        source: Option<reqwest::Error>,
        /// Whether a [`TimeoutLimit::Connection`] bound ran out on a redirect the client
        /// followed ([`ClientBuilder::follow_redirects`](crate::ClientBuilder::follow_redirects)),
        /// as in [`Error::Transport`]: the API had answered, so even a connection to the
        /// redirect's target that timed out is not [`Error::is_connect`]. The SDK's own bounds
        /// (a deadline, an attempt's or a read's timeout) leave it `false`; they are never
        /// [`Error::is_connect`].
        redirected: bool,
        /// How many attempts were made.
        attempts: u32,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The request could not be sent or the answer could not be read. When the server's TLS
    /// certificate was refused, the message says so ([`Error::is_certificate_error`]).
    #[error(
        "{} for {operation_id}{}",
        transport_failure(.source, *.redirected),
        certificate_note(.source)
    )]
    #[non_exhaustive]
    Transport {
        /// The operation that was called.
        operation_id: &'static str,
        /// The HTTP client's error. Its message and causes are the HTTP and TLS libraries'
        /// own words, which this error's message does not repeat; a refused certificate's
        /// names, quoted in them as the server presented them, are shown escaped only in this
        /// error's message.
        #[source]
        source: reqwest::Error,
        /// Whether it failed on a redirect the client followed
        /// ([`ClientBuilder::follow_redirects`](crate::ClientBuilder::follow_redirects)): the
        /// API had answered, so the call may have had its effect even when the redirect's
        /// target could not be reached ([`Error::is_connect`] is then `false`).
        redirected: bool,
        /// How many attempts were made.
        attempts: u32,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// A success answer whose body does not fit the operation's output model.
    #[error(
        "could not decode the {status} answer of {operation_id}: {}",
        inert(or_empty(excerpt))
    )]
    #[non_exhaustive]
    Decode {
        /// The operation that was called.
        operation_id: &'static str,
        /// The status of the answer.
        status: StatusCode,
        /// The start of the body, for diagnosis; words saying it is not shown instead when
        /// the answer may hold a credential.
        excerpt: String,
        /// What the JSON decoder reported. Where its message quotes the answer (an unknown
        /// variant or member name, as a model of the caller's own may report one) with
        /// characters that would act on a terminal, the error is one rebuilt from that message
        /// with them written as `\u{..}`: its position stays in the words, and its `line()`
        /// and `column()` read 0.
        #[source]
        source: serde_json::Error,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The body failed the operation's input checks before anything was sent: the same
    /// checks, locations and wording as the API's own 422 answer ([`Error::validation`] returns
    /// them for both).
    #[error("invalid input for {operation_id}: {}", list_failures(.error))]
    #[non_exhaustive]
    InvalidInput {
        /// The operation that was called.
        operation_id: &'static str,
        /// Every check the body failed, each with its location (`body.limit`, ...).
        error: Box<HttpValidationError>,
    },
    /// The answer was longer than the client accepts: an operation's answer past
    /// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes), or an
    /// identity provider's answer (`oidc.token`, `oidc.device_authorization`) past the fixed
    /// 64 KiB a token answer never needs.
    #[error(
        "the answer of {operation_id} exceeds the response-size cap of {limit} bytes ({})",
        crate::auth::oidc::size_cap_of(operation_id)
    )]
    #[non_exhaustive]
    TooLarge {
        /// The operation that was called.
        operation_id: &'static str,
        /// The cap, in bytes.
        limit: u64,
        /// How many attempts were made.
        attempts: u32,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// A blocking call would wait for an in-flight slot
    /// ([`ClientBuilder::max_in_flight`](crate::ClientBuilder::max_in_flight)) that only an
    /// async call on the same current-thread runtime can release, or that such a call, queued
    /// first, would be given — a wait that could never end, since the blocking call stops that
    /// very thread.
    #[error(
        "a blocking call of {operation_id} would wait for an in-flight slot held or awaited by \
         an async call on the same current-thread runtime"
    )]
    #[non_exhaustive]
    WouldDeadlock {
        /// The operation that was called.
        operation_id: &'static str,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The request was rejected before sending: a malformed header, an unknown operation id,
    /// or an async call awaited outside a Tokio runtime.
    #[error(
        "invalid request for {}: {}",
        shown(operation_id, EXCERPT_CHARS),
        inert(message)
    )]
    #[non_exhaustive]
    InvalidRequest {
        /// The operation that was called (or the unknown id given, whole; the message quotes
        /// its start, inert, as it may come from anywhere).
        operation_id: String,
        /// What is wrong.
        message: String,
        /// The id of the call ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// A page walk stopped because the API sent a `next` cursor it had sent before in the same
    /// walk: following it would go round for ever. Every page up to the one with the repeated
    /// cursor was yielded; whatever the API holds beyond them was not, and this error, the
    /// walk's last item, says so.
    #[error(
        "{operation_id} sent a cursor it had already sent in this walk; the walk stopped after \
         {pages} pages instead of going round again, so later pages may be missing"
    )]
    #[non_exhaustive]
    RepeatedCursor {
        /// The paged operation.
        operation_id: &'static str,
        /// How many pages the walk yielded, the one with the repeated cursor included.
        pages: u64,
        /// The id of the call whose answer repeated the cursor ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// A page walk stopped because the API answered the next page with the same items as a
    /// page it had answered before (the last one, or an earlier one in a circle): it ignored
    /// where the walk asked to go on from, and asking again would go round for ever. Every page before the repeat was
    /// yielded; whatever the API holds beyond them was not, and this error, the walk's last
    /// item, says so.
    #[error(
        "{operation_id} answered a page with the same items as the page before or an earlier \
         one; the walk stopped after {pages} pages instead of going round again, so later pages \
         may be missing"
    )]
    #[non_exhaustive]
    RepeatedPage {
        /// The paged operation.
        operation_id: &'static str,
        /// How many pages the walk yielded, not counting the repeat.
        pages: u64,
        /// The id of the call whose answer repeated the page ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// A walk by page number stopped because the API showed it had skipped items. Either it
    /// answered page 0 as page 1, as a STAC search does, and then a later page as the one after
    /// the page asked for, as a server does that counts its pages from 0 but labels them one
    /// higher (the walk had asked for page 2 after page 0, so the page between was never
    /// read); or a later page held, or said it held, more items than the first, so page `n`
    /// started past the `n` first pages the walk had read. Every page read was yielded, the
    /// one that showed the skip included; this error, the walk's last item, says that items are
    /// missing.
    #[error(
        "{operation_id} answered a page that starts past the items read so far (labelled one \
         past the page asked for, or larger than the first page), so the walk skipped items; \
         it stopped after {pages} pages, and skipped and later items are missing"
    )]
    #[non_exhaustive]
    SkippedPage {
        /// The paged operation.
        operation_id: &'static str,
        /// How many pages the walk yielded, the one that showed the skip included.
        pages: u64,
        /// The id of the call whose answer showed the skip ([`Error::request_id`]).
        request_id: Option<Box<str>>,
    },
    /// The client configuration is unusable (bad base URL, unreadable CA file, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A [`Credentials`](crate::auth::Credentials) provider of the caller's own could not
    /// produce a credential, for a reason of its own, made with [`Error::credentials`]. The
    /// provider's error is the [`source`](std::error::Error::source), whole, so the code that
    /// knows its type can take it back with `downcast_ref`. Its kind is [`ErrorKind::Auth`];
    /// nothing was sent, and it is never retried. The message quotes the provider's error,
    /// which must keep its own secrets out of it.
    #[error("the credentials provider failed: {source}")]
    #[non_exhaustive]
    Credentials {
        /// The provider's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Signing in or refreshing a session failed: the identity provider refused the grant
    /// (`invalid_grant` for a revoked, expired or replayed refresh token; `access_denied`,
    /// `expired_token` in the device flow) or gave an answer that is no token. Its kind is
    /// [`ErrorKind::Auth`], except when the provider could not answer now (5xx, 429, 408:
    /// [`ErrorKind::Server`], [`ErrorKind::RateLimited`], [`ErrorKind::Timeout`]; a session
    /// repeating for a moment that it could not be reached at all, code
    /// `temporarily_unavailable` and no status: [`ErrorKind::Transport`]), which is worth
    /// trying again.
    #[error(
        "sign-in failed: {}{}",
        inert(code),
        description.as_deref().map(|d| format!(": {}", inert(d))).unwrap_or_default()
    )]
    #[non_exhaustive]
    SignIn {
        /// The OAuth 2.0 error code (`invalid_grant`, `invalid_client`, `access_denied`, ...),
        /// or `invalid_response` when the answer was not a token.
        code: String,
        /// The provider's explanation, with any credential of the request removed.
        description: Option<String>,
        /// The HTTP status of the answer; `None` when the session ended without one (nothing
        /// left to refresh it with).
        status: Option<StatusCode>,
    },
}

/// Which bound ended a call with [`Error::Timeout`]: a program that retries on its own can
/// tell a call that used up all its time (the deadline) from one attempt that was slow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutLimit {
    /// The call's deadline ([`ClientBuilder::deadline`](crate::ClientBuilder::deadline),
    /// [`Request::deadline`](crate::Request::deadline)), which bounds every attempt and the
    /// waits between them: the call's time ran out, or the wait before its first attempt (a
    /// 429's pause, a paced slot, the shared budget's turn) would end past it. A retry that
    /// would start past it is not a timeout: the call ends with the answer it would have
    /// retried.
    Deadline,
    /// One attempt's timeout ([`ClientBuilder::timeout`](crate::ClientBuilder::timeout)), from
    /// sending the request to reading the whole answer.
    Attempt,
    /// The longest wait for the answer to move on
    /// ([`ClientBuilder::read_timeout`](crate::ClientBuilder::read_timeout)): for its head,
    /// counted from when the request starts, then between two reads of its body.
    Read,
    /// A timeout the HTTP client kept itself: connecting
    /// ([`ClientBuilder::connect_timeout`](crate::ClientBuilder::connect_timeout)), a sign-in
    /// request's own 30 s, or one set on a `reqwest` client you brought;
    /// [`std::error::Error::source`] holds its error.
    Connection,
}

impl TimeoutLimit {
    /// The bound in words, for the error's message.
    fn describe(self) -> &'static str {
        match self {
            TimeoutLimit::Deadline => "deadline",
            TimeoutLimit::Attempt => "attempt timeout",
            TimeoutLimit::Read => "read timeout",
            TimeoutLimit::Connection => "HTTP client timeout",
        }
    }
}

/// A small, stable classification of [`Error`]s, for handling outcomes without matching every
/// variant.
///
/// ```
/// # fn handle(error: geopera::Error) {
/// use geopera::ErrorKind;
///
/// match error.kind() {
///     ErrorKind::RateLimited | ErrorKind::Timeout => { /* try again later */ }
///     ErrorKind::Auth => { /* refresh the credential or ask for a scope */ }
///     ErrorKind::Validation => eprintln!("fix the input: {error}"),
///     _ => eprintln!("{error}"),
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The attempt or the whole call ran out of time. Retryable.
    Timeout,
    /// The API answered 429. Retryable after [`Error::retry_after`].
    RateLimited,
    /// The credential is missing, unknown or expired (401), or lacks the scope (403).
    Auth,
    /// The resource or the operation does not exist for this caller (404).
    NotFound,
    /// A state conflict or an idempotency key reused with another body (409).
    Conflict,
    /// The body failed the input checks: locally before sending, or by the API (422).
    Validation,
    /// The API failed (5xx), or misbehaved: a page walk's cursor came round again
    /// ([`Error::RepeatedCursor`]), a page was answered twice ([`Error::RepeatedPage`]) or
    /// one was skipped ([`Error::SkippedPage`]).
    /// Retryable for 500, 502, 503 and 504.
    Server,
    /// The request could not be sent or the answer not read completely. Retryable.
    Transport,
    /// A success answer that does not fit the operation's output model.
    Decode,
    /// The answer exceeded the client's response-size cap.
    TooLarge,
    /// Any other error status (400, 402, 410, ...).
    Api,
    /// Refused before sending: a malformed header, an unknown operation id, or a blocking
    /// call that would deadlock.
    InvalidRequest,
    /// The client configuration is unusable.
    Config,
}

impl ErrorKind {
    /// Whether an error of this kind may go away when the same call is made again later.
    /// For [`ErrorKind::Server`] only the transient statuses (500, 502, 503, 504) do;
    /// [`Error::is_retryable`] tells for one error.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout | ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Transport
        )
    }

    /// The kind an error status stands for.
    fn of_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 | 403 => ErrorKind::Auth,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            422 => ErrorKind::Validation,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Api,
        }
    }
}

/// The longest body excerpt kept in an error message.
const EXCERPT_CHARS: usize = 200;

/// The longest text of the server's own words (a problem's detail, a list of validation
/// failures) in an error message: a message is read by people and written to logs, and a
/// server may send megabytes. The whole text stays in the error's fields.
const SERVER_WORDS_CHARS: usize = 1_000;

/// The most of one field an error's `Debug` shows, in bytes: a body or a problem the server
/// sent can be megabytes, and `Debug` is what `unwrap`, `fn main() -> Result` and `{:?}` in a
/// log line print. The fields themselves keep everything.
const DEBUG_FIELD_BYTES: usize = 2_000;

/// The `Debug` of a field, cut after [`DEBUG_FIELD_BYTES`]; formatting stops there rather
/// than rendering what is not shown.
struct Capped<'a, T: ?Sized>(&'a T);

impl<T: fmt::Debug + ?Sized> fmt::Debug for Capped<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = Limited {
            text: String::new(),
            cut: false,
        };
        // An error here is the limit reached, not a failure: what fits was kept.
        let _ = if f.alternate() {
            write!(shown, "{:#?}", self.0)
        } else {
            write!(shown, "{:?}", self.0)
        };
        f.write_str(&shown.text)?;
        if shown.cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Text up to [`DEBUG_FIELD_BYTES`]; a write past it keeps what fits and fails.
struct Limited {
    text: String,
    cut: bool,
}

impl fmt::Write for Limited {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        let room = DEBUG_FIELD_BYTES - self.text.len();
        if piece.len() <= room {
            self.text.push_str(piece);
            return Ok(());
        }
        let mut end = room;
        while !piece.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&piece[..end]);
        self.cut = true;
        Err(fmt::Error)
    }
}

/// Like a derived `Debug`, with every field cut after `DEBUG_FIELD_BYTES`. The variants are taken
/// apart whole, so a field added later does not compile until it is shown here too.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        macro_rules! show {
            ($variant:literal $(, $field:ident)*) => {{
                let mut out = f.debug_struct($variant);
                $(out.field(stringify!($field), &Capped($field));)*
                out.finish()
            }};
        }
        match self {
            Error::Api {
                operation_id,
                status,
                problem,
                attempts,
                request_id,
            } => show!("Api", operation_id, status, problem, attempts, request_id),
            Error::Validation {
                operation_id,
                error,
                request_id,
            } => show!("Validation", operation_id, error, request_id),
            Error::RateLimited {
                operation_id,
                retry_after,
                problem,
                attempts,
                request_id,
            } => show!(
                "RateLimited",
                operation_id,
                retry_after,
                problem,
                attempts,
                request_id
            ),
            Error::UnexpectedStatus {
                operation_id,
                status,
                body,
                attempts,
                request_id,
            } => {
                let body: &dyn fmt::Debug = if may_hold_credential(operation_id, *status) {
                    &NOT_SHOWN
                } else {
                    body
                };
                show!(
                    "UnexpectedStatus",
                    operation_id,
                    status,
                    body,
                    attempts,
                    request_id
                )
            }
            Error::Timeout {
                operation_id,
                limit,
                source,
                redirected,
                attempts,
                request_id,
            } => show!(
                "Timeout",
                operation_id,
                limit,
                source,
                redirected,
                attempts,
                request_id
            ),
            Error::Transport {
                operation_id,
                source,
                redirected,
                attempts,
                request_id,
            } => show!(
                "Transport",
                operation_id,
                source,
                redirected,
                attempts,
                request_id
            ),
            Error::Decode {
                operation_id,
                status,
                excerpt,
                source,
                request_id,
            } => show!("Decode", operation_id, status, excerpt, source, request_id),
            Error::InvalidInput {
                operation_id,
                error,
            } => show!("InvalidInput", operation_id, error),
            Error::TooLarge {
                operation_id,
                limit,
                attempts,
                request_id,
            } => show!("TooLarge", operation_id, limit, attempts, request_id),
            Error::WouldDeadlock {
                operation_id,
                request_id,
            } => show!("WouldDeadlock", operation_id, request_id),
            Error::InvalidRequest {
                operation_id,
                message,
                request_id,
            } => show!("InvalidRequest", operation_id, message, request_id),
            Error::RepeatedCursor {
                operation_id,
                pages,
                request_id,
            } => show!("RepeatedCursor", operation_id, pages, request_id),
            Error::RepeatedPage {
                operation_id,
                pages,
                request_id,
            } => show!("RepeatedPage", operation_id, pages, request_id),
            Error::SkippedPage {
                operation_id,
                pages,
                request_id,
            } => show!("SkippedPage", operation_id, pages, request_id),
            Error::Config(reason) => f.debug_tuple("Config").field(&Capped(reason)).finish(),
            Error::Credentials { source } => show!("Credentials", source),
            Error::SignIn {
                code,
                description,
                status,
            } => show!("SignIn", code, description, status),
        }
    }
}

/// The first characters of a body, for messages; never the whole body.
fn excerpt(body: &[u8]) -> String {
    cut(&String::from_utf8_lossy(body), EXCERPT_CHARS)
}

/// `text`, or its first `max` characters and `…` when it is longer.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// [`cut`], made [`inert`] for a message: cut first, so the cut never splits an escape.
fn shown(text: &str, max: usize) -> String {
    inert(&cut(text, max)).into_owned()
}

/// Words the server chose (a job's failure reason, an id it answered), as any message of the
/// SDK shows them: at most [`SERVER_WORDS_CHARS`] characters, made [`inert`]. The errors that
/// quote them keep the words whole in their fields.
pub(crate) fn server_words(text: &str) -> String {
    shown(text, SERVER_WORDS_CHARS)
}

/// `source` as a message may show it. A program printing an error's causes prints the
/// decoder's message, and serde quotes what it could not place (an unknown variant or member
/// name) as the server sent it, so a message that would carry a character that [`steers`] a
/// terminal is rebuilt with it escaped. Nearly every message has none and is kept as it is.
///
/// [`steers`]: crate::terminal::steers
fn inert_decoder(source: serde_json::Error) -> serde_json::Error {
    match inert(&source.to_string()) {
        Cow::Borrowed(_) => source,
        Cow::Owned(shown) => serde::de::Error::custom(shown),
    }
}

/// What a decoder's failure to read an answer that may hold a credential says: where and of
/// what kind, never the decoder's words, which quote the value they could not place (a token
/// or a signed URL sent where an object was expected, say) as the server sent it. A member
/// missing is said as the decoder says it: it names one of the SDK's own fields, no value.
pub(crate) fn unquoted_decoder(source: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let words = source.to_string();
    if words.starts_with("missing field `") && !words.contains('"') {
        return words;
    }
    let kind = match source.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not JSON",
        Category::Data => "does not have the expected shape",
        Category::Eof => "ends too soon",
    };
    format!(
        "the answer {kind} (line {}, column {}; the decoder's words are not shown: the answer \
         may hold a credential)",
        source.line(),
        source.column()
    )
}

/// What replaces the quote of an answer that may hold a credential.
const NOT_SHOWN: &str = "(not shown: the answer may hold a credential)";

/// Whether an answer of `operation_id` with `status` may hold a credential no redactor knows,
/// one the server hands out rather than one the call sent: a success answer of an operation
/// whose answer carries one. Its error answers do not.
fn may_hold_credential(operation_id: &str, status: StatusCode) -> bool {
    status.is_success()
        && geopera_types::operations::find(operation_id)
            .is_some_and(|info| info.answer_holds_credentials)
}

/// The excerpt of a body for the message of an answer with `status`, or [`NOT_SHOWN`].
fn quoted(operation_id: &str, status: StatusCode, body: &[u8]) -> String {
    if may_hold_credential(operation_id, status) {
        NOT_SHOWN.to_owned()
    } else {
        excerpt(body)
    }
}

fn excerpt_suffix(operation_id: &str, status: StatusCode, body: &Bytes) -> String {
    let quoted = quoted(operation_id, status, body);
    match quoted.trim() {
        "" => String::new(),
        words => format!(": {}", inert(words)),
    }
}

/// An excerpt for a message, or words saying there was nothing to quote. The white space
/// around it is left out: a plain-text body ends with a line break, which the message would
/// otherwise show escaped, as `\u{a}`, at its end.
fn or_empty(excerpt: &str) -> &str {
    match excerpt.trim() {
        "" if excerpt.is_empty() => "the body is empty",
        "" => "the body is blank",
        words => words,
    }
}

/// What went wrong on the way, in the words a reader needs first: whether the server was
/// reached at all. The HTTP client's own message follows as the error's source.
fn transport_failure(source: &reqwest::Error, redirected: bool) -> &'static str {
    if source.is_connect() && redirected {
        "could not reach where the API redirected the call"
    } else if source.is_connect() {
        "could not reach the API"
    } else if source.is_body() || source.is_decode() {
        "could not read the API's answer"
    } else {
        "the exchange with the API failed"
    }
}

/// What a transport failure's message adds when the cause was the server's certificate. The
/// reason quotes the names the certificate presents as the server wrote them, so it is made
/// [`inert`].
fn certificate_note(source: &reqwest::Error) -> String {
    match certificate_failure(source) {
        Some(reason) => format!(
            ": the server's TLS certificate was refused ({}); \
             to trust a private CA, see ClientBuilder::ca_file",
            inert(&reason)
        ),
        None => String::new(),
    }
}

/// Why the server's certificate was refused, when that is what `error` comes down to. The
/// TLS library's words name the check that failed (unknown issuer, wrong name, expired) and
/// the names involved, never anything the client sends.
pub(crate) fn certificate_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(rustls::Error::InvalidCertificate(reason)) = error.downcast_ref() {
            return Some(reason.to_string());
        }
        // An I/O error's `source` skips the error it wraps; the TLS streams report through one.
        if let Some(wrapped) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(reason) = certificate_failure(wrapped) {
                return Some(reason);
            }
        }
        // The OS stacks have no error type in common; all of them say "certificate". Not in
        // reqwest's own link of the chain, whose words end with the URL asked for, which may
        // say it too ("https://certificates.example").
        #[cfg(feature = "native-tls")]
        if !error.is::<reqwest::Error>() {
            let text = error.to_string();
            if text.to_ascii_lowercase().contains("certificate") {
                return Some(text);
            }
        }
        next = error.source();
    }
    None
}

fn problem_text(problem: &Problem) -> String {
    let text = if problem.detail.is_empty() {
        &problem.title
    } else {
        &problem.detail
    };
    shown(text, SERVER_WORDS_CHARS)
}

fn list_failures(error: &HttpValidationError) -> String {
    if error.detail.is_empty() {
        return "the body failed the input checks".to_owned();
    }
    let mut listed = String::new();
    for (index, failure) in error.detail.iter().enumerate() {
        if listed.len() > SERVER_WORDS_CHARS {
            listed.push_str(&format!("; and {} more", error.detail.len() - index));
            break;
        }
        if index > 0 {
            listed.push_str("; ");
        }
        listed.push_str(&shown(&failure.to_string(), SERVER_WORDS_CHARS));
    }
    listed
}

impl Error {
    /// The small, stable classification of this error; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api { status, .. } | Error::UnexpectedStatus { status, .. } => {
                ErrorKind::of_status(*status)
            }
            Error::Validation { .. } | Error::InvalidInput { .. } => ErrorKind::Validation,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::RepeatedCursor { .. }
            | Error::RepeatedPage { .. }
            | Error::SkippedPage { .. } => ErrorKind::Server,
            Error::WouldDeadlock { .. } | Error::InvalidRequest { .. } => ErrorKind::InvalidRequest,
            Error::Config(_) => ErrorKind::Config,
            Error::Credentials { .. } => ErrorKind::Auth,
            // A provider that could not answer now (busy, down, slow) has said nothing of the
            // grant: the sign-in is worth trying again, as any call to an API in that state.
            Error::SignIn { status, code, .. } => match status.map(|status| status.as_u16()) {
                Some(408) => ErrorKind::Timeout,
                Some(429) => ErrorKind::RateLimited,
                Some(500..=599) => ErrorKind::Server,
                // A session repeating, without asking again, that the provider could not be
                // reached a moment ago.
                None if code == geopera_types::oidc::codes::TEMPORARILY_UNAVAILABLE => {
                    ErrorKind::Transport
                }
                _ => ErrorKind::Auth,
            },
        }
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. }
            | Error::UnexpectedStatus { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            Error::SignIn { status, .. } => *status,
            Error::Validation { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
            Error::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            _ => None,
        }
    }

    /// The problem the API described, when it answered with one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Api { problem, .. } => Some(problem),
            Error::RateLimited { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// Every failed input check with its location: from the API's 422 answer, or from the
    /// same checks run before sending ([`Error::InvalidInput`]).
    pub fn validation(&self) -> Option<&HttpValidationError> {
        match self {
            Error::Validation { error, .. } | Error::InvalidInput { error, .. } => Some(error),
            _ => None,
        }
    }

    /// How long the API asked to wait before the next call, for a 429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Whether the call ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether the same call might succeed later (rate limits, transient server errors, lost
    /// connections). Whether repeating it is *safe* depends on the operation; the client's
    /// retry policy takes care of that.
    pub fn is_retryable(&self) -> bool {
        if self.is_certificate_error() {
            return false;
        }
        match self.kind() {
            ErrorKind::Server => self.status().is_some_and(crate::retry::is_transient),
            kind => kind.is_retryable(),
        }
    }

    /// Whether a sign-in or refresh was refused by the identity provider, so asking again
    /// with the same grant would be refused again: a client error carrying one of OAuth's
    /// [`GRANT_REFUSALS`](geopera_types::oidc::codes::GRANT_REFUSALS) (`invalid_grant` for a
    /// revoked or expired refresh token), or a session with nothing left to renew itself with.
    ///
    /// A session ends on such an error and on no other; a program that keeps its own tokens
    /// should drop them on the same rule. Anything else, a 4xx without such a code included (a
    /// gateway's 403 page, a provider answering 404 while it starts), an outage, a 408 or a
    /// 429, says the provider could not judge the grant now: keep the refresh token and try
    /// again later.
    pub fn is_grant_refused(&self) -> bool {
        use geopera_types::oidc::codes;
        match self {
            Error::SignIn { status, code, .. } => match status {
                // "Try again later" in HTTP's own words (408, 429) is no refusal: the error's
                // kind says which answers are an outage.
                Some(status) => {
                    status.is_client_error()
                        && self.kind() == ErrorKind::Auth
                        && codes::GRANT_REFUSALS.contains(&code.as_str())
                }
                // Without a status, only the session's own word that it has ended; a
                // remembered outage (`temporarily_unavailable`) or a device code's expiry is
                // none.
                None => code == codes::INVALID_GRANT,
            },
            _ => false,
        }
    }

    /// Whether the connection failed because the server's TLS certificate was refused: not
    /// issued by a trusted CA, for another name, or expired. Its kind is
    /// [`ErrorKind::Transport`]; unlike other transport failures it is not retried, since
    /// asking again meets the same certificate. Trust a private CA with
    /// [`ClientBuilder::ca_file`](crate::ClientBuilder::ca_file).
    pub fn is_certificate_error(&self) -> bool {
        match self {
            Error::Transport { source, .. } => certificate_failure(source).is_some(),
            _ => false,
        }
    }

    /// Whether no connection to the server could be made, so the request never left: the
    /// server is down, the address is wrong, or the network is, including a connection that
    /// timed out ([`ClientBuilder::connect_timeout`](crate::ClientBuilder::connect_timeout),
    /// an [`Error::Timeout`] of [`TimeoutLimit::Connection`]). A transport failure that is
    /// not this one reached the server and failed in the exchange (a cut-off or malformed
    /// answer), where the request may have had its effect. A redirect whose target could not
    /// be reached is not this one: the API answered the request with it.
    pub fn is_connect(&self) -> bool {
        match self {
            Error::Transport {
                source,
                redirected: false,
                ..
            }
            | Error::Timeout {
                source: Some(source),
                redirected: false,
                ..
            } => source.is_connect(),
            _ => false,
        }
    }

    /// The operation the failed call was for.
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            Error::Api { operation_id, .. }
            | Error::Validation { operation_id, .. }
            | Error::InvalidInput { operation_id, .. }
            | Error::RateLimited { operation_id, .. }
            | Error::UnexpectedStatus { operation_id, .. }
            | Error::Timeout { operation_id, .. }
            | Error::Transport { operation_id, .. }
            | Error::Decode { operation_id, .. }
            | Error::TooLarge { operation_id, .. }
            | Error::WouldDeadlock { operation_id, .. }
            | Error::RepeatedCursor { operation_id, .. }
            | Error::RepeatedPage { operation_id, .. }
            | Error::SkippedPage { operation_id, .. } => Some(operation_id),
            Error::InvalidRequest { operation_id, .. } => Some(operation_id),
            Error::Config(_) | Error::Credentials { .. } | Error::SignIn { .. } => None,
        }
    }

    /// How many attempts were made before giving up (0 when nothing was sent, 1 when nothing
    /// was retried), for the failures of a call's own answer or its transport. The others keep
    /// no count, to keep `Error` small: a 422 ([`Error::Validation`]), an answer that could not
    /// be decoded and a page walk's refusals say 1 even when retries came before them (the
    /// count is on [`Response::attempts`](crate::Response::attempts) of the detailed call),
    /// and a refused sign-in says 0.
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Api { attempts, .. }
            | Error::RateLimited { attempts, .. }
            | Error::UnexpectedStatus { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::TooLarge { attempts, .. } => *attempts,
            Error::Validation { .. }
            | Error::Decode { .. }
            | Error::RepeatedCursor { .. }
            | Error::RepeatedPage { .. }
            | Error::SkippedPage { .. } => 1,
            Error::InvalidInput { .. }
            | Error::WouldDeadlock { .. }
            | Error::InvalidRequest { .. }
            | Error::SignIn { .. }
            | Error::Credentials { .. }
            | Error::Config(_) => 0,
        }
    }

    /// The id of the call that failed, as sent in its `X-Request-Id` header: one per logical
    /// call, the same on every attempt, so it matches what a server or proxy logged for any of
    /// them. `None` for failures that happened before a call had an id: invalid configuration,
    /// a body that failed the input checks, a sign-in failure, or a header that could not be
    /// sent.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. }
            | Error::Validation { request_id, .. }
            | Error::RateLimited { request_id, .. }
            | Error::UnexpectedStatus { request_id, .. }
            | Error::Timeout { request_id, .. }
            | Error::Transport { request_id, .. }
            | Error::Decode { request_id, .. }
            | Error::TooLarge { request_id, .. }
            | Error::WouldDeadlock { request_id, .. }
            | Error::RepeatedCursor { request_id, .. }
            | Error::RepeatedPage { request_id, .. }
            | Error::SkippedPage { request_id, .. }
            | Error::InvalidRequest { request_id, .. } => request_id.as_deref(),
            Error::InvalidInput { .. }
            | Error::Config(_)
            | Error::Credentials { .. }
            | Error::SignIn { .. } => None,
        }
    }

    /// Names the call this error came from; errors that never belong to a call keep none.
    pub(crate) fn with_request_id(mut self, id: &str) -> Self {
        match &mut self {
            Error::Api { request_id, .. }
            | Error::Validation { request_id, .. }
            | Error::RateLimited { request_id, .. }
            | Error::UnexpectedStatus { request_id, .. }
            | Error::Timeout { request_id, .. }
            | Error::Transport { request_id, .. }
            | Error::Decode { request_id, .. }
            | Error::TooLarge { request_id, .. }
            | Error::WouldDeadlock { request_id, .. }
            | Error::RepeatedCursor { request_id, .. }
            | Error::RepeatedPage { request_id, .. }
            | Error::SkippedPage { request_id, .. }
            | Error::InvalidRequest { request_id, .. } => *request_id = Some(id.into()),
            Error::InvalidInput { .. }
            | Error::Config(_)
            | Error::Credentials { .. }
            | Error::SignIn { .. } => {}
        }
        self
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            Error::Api { attempts, .. }
            | Error::RateLimited { attempts, .. }
            | Error::UnexpectedStatus { attempts, .. }
            | Error::Timeout { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::TooLarge { attempts, .. } => *attempts = n,
            _ => {}
        }
    }

    /// The error a [`Credentials`](crate::auth::Credentials) provider of your own ends a call
    /// with when it fails for a reason of its own: the call fails with
    /// [`Error::Credentials`], which keeps `source` whole for the code that knows its type.
    ///
    /// ```
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("the vault is sealed")]
    /// struct Sealed;
    ///
    /// let error = geopera::Error::credentials(Sealed);
    /// assert_eq!(error.kind(), geopera::ErrorKind::Auth);
    /// assert!(matches!(
    ///     &error,
    ///     geopera::Error::Credentials { source, .. } if source.downcast_ref::<Sealed>().is_some()
    /// ));
    /// ```
    pub fn credentials(
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Credentials {
            source: source.into(),
        }
    }

    /// A configuration that cannot work (a base URL, a CA file, a runtime that cannot start).
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    /// A refused sign-in or refresh: the OAuth 2.0 `code`, the provider's words (already rid
    /// of credentials) and the status, when an answer carried one.
    pub(crate) fn sign_in(
        code: impl Into<String>,
        description: Option<String>,
        status: Option<StatusCode>,
    ) -> Self {
        Error::SignIn {
            code: code.into(),
            description,
            status,
        }
    }

    pub(crate) fn invalid(operation_id: &str, message: impl Into<String>) -> Self {
        Error::InvalidRequest {
            operation_id: operation_id.to_owned(),
            message: message.into(),
            request_id: None,
        }
    }

    /// A body that failed the operation's input checks.
    #[cfg(feature = "validate")]
    pub(crate) fn invalid_input(
        info: &geopera_types::OperationInfo,
        failures: Vec<geopera_types::ValidationError>,
    ) -> Self {
        Error::InvalidInput {
            operation_id: info.id,
            error: Box::new(HttpValidationError::new(failures)),
        }
    }

    /// A body that cannot be turned into JSON (a map with non-string keys, a `Serialize` impl
    /// that fails). A model's float that is not finite is not one: it is written by name and
    /// refused by the input checks, naming its field (see `geopera_types::finite`).
    pub(crate) fn unserializable(operation_id: &str, error: &serde_json::Error) -> Self {
        Error::invalid(
            operation_id,
            format!("the body cannot be serialized: {error}"),
        )
    }

    /// A 429 that reaches the caller, with the wait it asked for.
    pub(crate) fn rate_limited(
        operation_id: &'static str,
        headers: &http::HeaderMap,
        content: &[u8],
        attempts: u32,
    ) -> Self {
        Error::RateLimited {
            operation_id,
            retry_after: crate::retry::wait_of_429(headers),
            problem: crate::response::problem_of::<Problem>(content).map(Box::new),
            attempts,
            request_id: None,
        }
    }

    /// An error answer that described its problem.
    pub(crate) fn api(
        operation_id: &'static str,
        status: StatusCode,
        problem: Problem,
        attempts: u32,
    ) -> Self {
        Error::Api {
            operation_id,
            status,
            problem: Box::new(problem),
            attempts,
            request_id: None,
        }
    }

    /// The API's 422: the body failed its checks.
    pub(crate) fn rejected(operation_id: &'static str, error: HttpValidationError) -> Self {
        Error::Validation {
            operation_id,
            error: Box::new(error),
            request_id: None,
        }
    }

    /// An answer with a status the contract does not document for the operation.
    pub(crate) fn unexpected_status(
        operation_id: &'static str,
        status: StatusCode,
        body: Bytes,
        attempts: u32,
    ) -> Self {
        Error::UnexpectedStatus {
            operation_id,
            status,
            body,
            attempts,
            request_id: None,
        }
    }

    /// The deadline of a call passed, after `attempts` attempts.
    pub(crate) fn deadline(operation_id: &'static str, attempts: u32) -> Self {
        Error::Timeout {
            operation_id,
            limit: TimeoutLimit::Deadline,
            source: None,
            redirected: false,
            attempts,
            request_id: None,
        }
    }

    /// A page walk that stopped on a cursor it had followed before.
    pub(crate) fn repeated_cursor(operation_id: &'static str, pages: u64) -> Self {
        Error::RepeatedCursor {
            operation_id,
            pages,
            request_id: None,
        }
    }

    /// A page walk that stopped on a page answered twice.
    pub(crate) fn repeated_page(operation_id: &'static str, pages: u64) -> Self {
        Error::RepeatedPage {
            operation_id,
            pages,
            request_id: None,
        }
    }

    /// A page walk that stopped when the API's page labels showed a page was skipped.
    pub(crate) fn skipped_page(operation_id: &'static str, pages: u64) -> Self {
        Error::SkippedPage {
            operation_id,
            pages,
            request_id: None,
        }
    }

    /// A blocking call that would wait for a slot only its own thread can free.
    pub(crate) fn would_deadlock(operation_id: &'static str) -> Self {
        Error::WouldDeadlock {
            operation_id,
            request_id: None,
        }
    }

    /// A success answer whose body does not fit the output model, quoted unless it may hold
    /// a credential.
    pub(crate) fn decode(
        operation_id: &'static str,
        status: StatusCode,
        body: &[u8],
        source: serde_json::Error,
    ) -> Self {
        let source = if may_hold_credential(operation_id, status) {
            serde::de::Error::custom(unquoted_decoder(&source))
        } else {
            inert_decoder(source)
        };
        Error::Decode {
            operation_id,
            status,
            excerpt: quoted(operation_id, status, body),
            source,
            request_id: None,
        }
    }

    /// An answer longer than the response-size cap.
    pub(crate) fn too_large(operation_id: &'static str, limit: u64) -> Self {
        Error::TooLarge {
            operation_id,
            limit,
            attempts: 1,
            request_id: None,
        }
    }

    /// An attempt or a read that ran past its bound, as the call engine keeps them.
    pub(crate) fn timed_out(operation_id: &'static str, limit: TimeoutLimit) -> Self {
        Error::Timeout {
            operation_id,
            limit,
            source: None,
            redirected: false,
            attempts: 1,
            request_id: None,
        }
    }

    pub(crate) fn from_reqwest(operation_id: &'static str, source: reqwest::Error) -> Self {
        if source.is_timeout() {
            Error::Timeout {
                operation_id,
                limit: TimeoutLimit::Connection,
                source: Some(source),
                redirected: false,
                attempts: 1,
                request_id: None,
            }
        } else {
            Error::Transport {
                operation_id,
                source,
                redirected: false,
                attempts: 1,
                request_id: None,
            }
        }
    }

    /// This error as one met on a redirect the client followed, after the API had answered
    /// (see the `redirected` field of [`Error::Transport`]).
    pub(crate) fn after_redirect(mut self) -> Self {
        if let Error::Transport { redirected, .. } | Error::Timeout { redirected, .. } = &mut self {
            *redirected = true;
        }
        self
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
