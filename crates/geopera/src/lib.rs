//! The Rust SDK for the [Geopera](https://geopera.com) geospatial data platform: satellite
//! tasking and archive orders, catalog search, processing, billing and more — every one of the
//! API's 227 operations, typed, async and blocking.
//!
//! # Quick start
//!
//! ```
//! use geopera::{models::CatalogSearchInput, operations::catalog_search, AuthenticatedClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = geopera_emulator::Emulator::builder().start()?;
//! # let (base_url, token) = (emulator.base_url(), emulator.api_key().to_owned());
//! // base_url is "https://api.geopera.com" in production; token is a `gpra_` key or a
//! // session token.
//! let client = AuthenticatedClient::new(base_url, token)?;
//! let page = catalog_search::send(
//!     &client,
//!     CatalogSearchInput::new("earthsearch-aws")
//!         .collections(["sentinel-2-l2a"])
//!         .limit(10),
//! )
//! .await?;
//! for item in &page.features {
//!     println!("{} {:?}", item.id, item.properties.cloud_cover);
//! }
//! # Ok(()) }
//! ```
//!
//! # How calls are shaped
//!
//! Every operation is a module under [`operations`], named after its id with dots replaced by
//! underscores (`orders.tasking.estimate` is [`operations::orders_tasking_estimate`]), with the
//! same four functions taking `(client, body)`:
//!
//! | function | returns | blocks |
//! |---|---|---|
//! | `send` | the success model, or [`Error`] | no — `.await` it |
//! | `send_detailed` | a [`Response`]: status, headers, raw bytes, [`Parsed`] value | no |
//! | `send_blocking` | the success model, or [`Error`] | yes (feature `blocking`, on by default) |
//! | `send_blocking_detailed` | a [`Response`] | yes |
//!
//! The async functions run on Tokio, with its I/O and timers enabled (`#[tokio::main]` enables
//! both). Awaited outside any Tokio runtime (`futures::executor::block_on`, another executor),
//! a call fails with [`Error::InvalidRequest`] saying so, where Tokio would panic; use the
//! blocking functions there.
//!
//! `send_detailed` returns documented error answers (401, 403, 404, 422, 500) as values, so a
//! fan-out collects every outcome instead of failing fast. The body is the operation's input
//! model, a `serde_json::Value`, or a [`Request`] wrapping either with per-call options
//! (`x-api-key`, `Idempotency-Key`, `X-Request-Id`, timeout, headers).
//!
//! Every body, whatever its form, is checked against the operation's input shape before
//! anything is sent — the checks the API runs, with its wording and the field's location
//! (`body.limit: Input should be greater than or equal to 1`); a failure is
//! [`Error::InvalidInput`] ([`ClientBuilder::validate_input`] leaves checking to the API).
//! JSON is sent exactly as given: a member the model does not declare is kept on the wire, as
//! the contract's open schemas allow and the Python SDK does, never silently dropped — so a
//! misspelt `colections` reaches the API, which decides what it means.
//!
//! Eight operations answer an image or an XML document rather than JSON — the tile renders,
//! `cog.thumbnail`, `cog.tile.terrain` and the WMTS pair — although the contract types every
//! answer as JSON. Their output is [`Binary`]: the bytes and their content type, from all four
//! functions and the fluent client. They also have `stream_body` / `stream_body_blocking`,
//! which hand the body over as it arrives ([`ByteStream`]), for images too large to hold.
//! `analytics.band_math` and `analytics.calculate_index` answer their statistics as JSON, or
//! the picture they render when `output_format` is `png`: their output is [`JsonOrBinary`],
//! told apart by the answer's `Content-Type`.
//! `catalog.image.quicklook` and `catalog.image.thumbnail` are answered with a `307` to where
//! the image is stored, which the contract leaves out: `send` returns that address as
//! `{"status": 307, "location": "..."}`; a client that follows redirects
//! ([`ClientBuilder::follow_redirects`]) fetches the image, whose bytes are then the
//! `content` of `send_detailed`.
//!
//! The fluent [`Geopera`] client reaches the same operations by namespace —
//! `geopera.orders().tasking().estimate(body).await` — and [`Geopera::invoke`] calls any
//! operation by id with JSON in and out.
//!
//! # Clients
//!
//! [`Client`] sends no credentials; [`AuthenticatedClient`] sends credentials (see below).
//! Both are cheap to clone; clones share one connection pool,
//! which closes when the last clone is dropped — Rust needs no `async with`, there is no
//! "entered twice" error and no leaked pool. [`ClientBuilder`] has the knobs: base URL,
//! timeouts (on by default, see below), response-size cap, TLS and proxies (see
//! [below](#tls-and-proxies)), redirects (off by default), default headers and cookies, HTTP/2, pool limits, user agent and
//! `raise_on_unexpected_status`. `with_headers`, `with_cookies` and `with_timeout` return a new
//! client sharing the pool; `with_http_client` brings your own `reqwest` client for async
//! calls and `with_blocking_http_client` a factory of them for blocking calls (one client per
//! calling thread: a pool stays with the thread that drives it), while base URL and
//! credentials still apply.
//!
//! # Credentials and sessions
//!
//! A client asks its credentials before every attempt ([`auth::Credentials`]). A fixed
//! [`auth::Credential`] — what [`AuthenticatedClient::new`] uses — is a `gpra_` key or token,
//! sent as `Authorization: Bearer` or, with [`auth::Credential::api_key`], as `X-API-Key`.
//! An [`auth::Session`] signs in through the API's OpenID Connect endpoints (password, an API
//! key through client credentials, a stored refresh token, or the
//! [device flow](auth::DeviceAuthorization)) and refreshes itself ahead of expiry, one refresh
//! at a time across every clone and task; a 401 makes it refresh once and the call is sent
//! once more. Session tokens live five minutes at Geopera, so any job longer than that wants a
//! session. [`Client::with_credentials`] switches credentials and keeps the connection pool.
//!
//! # Retries, rate limits and deadlines
//!
//! Every call is retried up to twice by default ([`RetryPolicy`]), with exponential backoff
//! and jitter, but only when repeating it cannot do its work twice:
//!
//! | failure | read-only operation | side effects, with `Idempotency-Key` | side effects, without |
//! |---|---|---|---|
//! | 429 (not executed) | retried after `Retry-After` (without one, the backoff) | retried | retried |
//! | no connection (nothing sent) | retried | retried | retried |
//! | timeout, reset after sending, cut-off answer | retried | retried | not retried |
//! | 500, 502, 503, 504 | retried | retried | not retried |
//! | 409 after one of those (the key's first request may still run) | — | retried | — |
//!
//! A followed redirect is an answer from the API to the call's own request, which may have
//! run: a refused connection or a 429 past it proves nothing, and so is retried only where
//! a timeout would be.
//!
//! Operations with side effects (every scope but `*:read`) get an SDK-generated
//! `Idempotency-Key`, one UUID v4 per logical call reused on every attempt, so by default the
//! whole table is retried, safely where the API honours the key: its docs name the spend and
//! create operations (the contract declares the header on `billing.topup` alone). Where a
//! second run of another operation would matter (a test delivery, a replay of failed events),
//! [`Request::retries`]`(0)` sends it once. [`Request::idempotency_key`] supplies your own and
//! [`RetryPolicy::auto_idempotency_keys`] turns generation off. Each operation's class is in
//! its descriptor ([`OperationInfo::retry`]) and its module's docs. A `Retry-After` longer
//! than [`RetryPolicy::max_retry_after`] fails at once with [`Error::RateLimited`], which
//! carries the wait. [`Error::attempts`] and [`Response::attempts`] tell how many attempts a
//! call took.
//!
//! A 429 pauses every call of its rate-limit class on the client and all its clones, not just
//! the one that got it. [`ClientBuilder::max_in_flight`] caps requests in flight;
//! [`ClientBuilder::pace`] / [`ClientBuilder::pace_documented_limits`] space requests to the
//! API's per-minute budgets. [`ClientBuilder::deadline`] (or [`Request::deadline`]) bounds a
//! whole call — every attempt and wait — separately from the per-attempt timeout; a call that
//! the limiter would hold past it (a pause, its paced slot, the shared budget) fails at once
//! with [`Error::Timeout`] rather than sleeping until it times out, and a retry so held ends
//! the call with the answer it would have retried. [`fan_out`]
//! runs many calls with at most N in flight and returns every outcome in input order.
//!
//! # Pages and streams
//!
//! The 22 paged operations also have `pages` and `items` (async streams) and `pages_blocking` /
//! `items_blocking` (iterators) that follow the operation's paging style — cursor (`next`),
//! `limit`/`offset`, `page`/`size` or `limit`/`page` — and stop on the last page. A server
//! that sends a walk back to a cursor it already followed, answers a page it already sent, or
//! shows by a page's label or size that items were skipped, stops it too, and the walk's last
//! item is then [`Error::RepeatedCursor`], [`Error::RepeatedPage`] or [`Error::SkippedPage`],
//! so a list cut short never passes for a whole one and a walk never goes round for ever. A walk has no
//! page count of its own: a server that keeps answering new, full pages is followed for as
//! long as it does, since no number of pages tells a long list from an endless one. Where
//! that matters, bound the walk yourself (`take` on the stream or the iterator). A page that
//! does not fit the model is one [`Error::Decode`] in its place and the walk goes on; a page
//! with no item array ends the walk as an empty page would ([`PageStream`] has the details).
//! `catalog.search`'s items are typed [`models::StacItem`]s, those of the three job lists
//! (`clip.jobs.list`, `processing.jobs.list`, `processing.project_jobs.list`)
//! [`models::DownloadLinks`], which keep their signed links out of `Debug` (`into_value` reads
//! one as JSON), and every other operation's JSON values; [`PageWalk`] gives the same rules to
//! code that fetches pages itself.
//! `catalog.search_stream` has `stream` / `stream_blocking`, which parse its newline-delimited
//! JSON as it arrives; its fluent call has them through [`NdjsonOperation`].
//!
//! # Typed answers the contract leaves open
//!
//! The contract types many answers as free-form objects. Where their shape is known, the SDK
//! types the members clients read and keeps every other member in `extra`, so nothing the
//! server sends is lost: [`models::Order`] (with [`models::OrderStatus`]), [`models::Job`]
//! (`processing.execute`, and what the waiters return), [`models::UploadOutput`], estimate
//! groups ([`models::ArchiveEstimateGroup`], [`models::TaskingEstimateGroup`]) and
//! subscriptions, whose signing secret is a [`models::SigningSecret`] that never prints. A
//! state the SDK does not know arrives as `Other(text)`, never as a decoding error.
//!
//! # Waiting for orders, jobs and uploads
//!
//! [`wait::order`], [`wait::processing_job`], [`wait::clip_job`] and [`wait::upload`] poll
//! until the resource reaches a final state, backing off with jitter, reporting each state to
//! an optional callback, bounded by an optional deadline. Success returns the resource; a
//! failed job, a cancelled order or a failed upload is [`wait::WaitError::Failed`] carrying the
//! final state. Waiting is a future — dropping it stops the polling — and
//! `Waiter::wait_blocking` is the same loop for blocking code. The `archive_workflow`
//! example goes from a catalog search to an order's delivery links this way.
//!
//! # Uploads
//!
//! [`uploads::Upload`] sends a file or a stream in one call: it reserves the quota
//! (`uploads.initiate`), streams the bytes to the signed URL in bounded chunks with a progress
//! callback, and completes the upload. When any step after the reservation fails it calls
//! `uploads.fail` itself to release the reserved quota, and the [`uploads::UploadError`] says
//! which step failed and whether the release went through.
//! The `PUT` carries none of the client's credentials or headers.
//!
//! # Webhooks
//!
//! [`webhooks::Verifier`] checks that a delivery to your endpoint was signed with your
//! subscription's `whsec_` secret — over the raw body, in constant time — and reads it as a
//! typed [`webhooks::Event`]. The signature covers no timestamp, so de-duplicate on
//! [`webhooks::Delivery::event_id`]; the `webhook_receiver` example does so in axum.
//!
//! # Observability
//!
//! Each call runs in a `tracing` span `geopera.call` with the operation id, the request id and
//! the number of attempts; each attempt and each retry decision is a debug event with status
//! and duration (a retry's is `retrying`, with the `outcome` as text such as `HTTP 429` and the
//! wait as `wait_ms`, for a program to tell its user why it waits; a call the limiter holds
//! back before sending is `held`, with a `reason` — `rate_limited`, `paced` or `shared_budget`
//! — and `wait_ms`). Tokens and bodies are never recorded.
//!
//! Every logical call sends an `X-Request-Id` — a fresh UUID v4, or the caller's own
//! ([`Request::request_id`]) — unchanged on each of its attempts, so a retried call is one id
//! in the server's logs as in yours. [`Response::request_id`] and [`Error::request_id`] report
//! it, so a failure can be quoted with the id to look for.
//!
//! # Errors
//!
//! Every failure is one [`Error`] value; [`Error::kind`] sorts it into a small, stable
//! [`ErrorKind`] — timeout, rate limited, auth, not found, conflict, validation, server,
//! transport, decode, too large, ... — and [`Error::is_retryable`] says whether the same call
//! may succeed later. A 429 that reaches the caller of `send` (or of any call that returns a
//! model) is always [`Error::RateLimited`] with the wait the API asked for
//! ([`Error::retry_after`]), whether the wait was too long, the deadline too close or the
//! retries spent; `send_detailed` hands it back as a [`Response`] with status 429, as it does
//! every status the contract leaves out, unless
//! [`ClientBuilder::raise_on_unexpected_status`] is on.
//!
//! # Blocking calls inside async code
//!
//! The blocking functions work from anywhere. They run the same engine as `send` — the same
//! retries, deadline, limiter and redirects — for the waiting thread: on that thread itself,
//! with a Tokio runtime and connection pool of its own, when it is the client's only blocking
//! call in flight; on the client's one I/O thread, which carries them all as an async client
//! would, when several are. Inside a multi-thread runtime they first hand the worker's other
//! tasks to another thread (`block_in_place`); inside a current-thread runtime they always go
//! to the I/O thread. Either way they block the calling task, so prefer `send` in async code.
//! On a current-thread runtime they block every other task of it too, until they return: a
//! server the call goes to that runs on that same runtime (a test's stand-in, say) cannot
//! answer, and the call ends only with its timeout — with no timeout set, never. The SDK
//! cannot tell such a wait from a slow server. One wait it can tell never ends: on a
//! current-thread runtime, a blocking call that needs an in-flight slot
//! ([`ClientBuilder::max_in_flight`]) while an async call of that same runtime holds one, or
//! waits for one ahead of it, would stop the only thread that can free or use that slot. That
//! call fails at once with [`Error::WouldDeadlock`] instead of hanging; a slot held or waited
//! for anywhere else is waited for. Likewise, a blocking call that needs a
//! [`Session`](auth::Session) to sign in or refresh while an async call of that same runtime
//! is doing so (or waiting to) fails at once with [`Error::Config`] saying so.
//!
//! # Security and limits
//!
//! - **Credentials stay with their origin.** With [`ClientBuilder::follow_redirects`] on, the
//!   SDK follows redirects itself (its HTTP clients never do). A hop to another scheme, host or
//!   port carries only `User-Agent` and the `Accept`, `Accept-Encoding` and `Accept-Language`
//!   headers, and with a 307 or 308 (which repeat the request) its body and `Content-Type`:
//!   `Authorization`, `x-api-key`, cookies, the `Idempotency-Key` and every other header you
//!   added stay behind, and a body that holds a credential is not repeated there. A `reqwest`
//!   client you bring ([`ClientBuilder::http_client`]) should be built with
//!   `redirect::Policy::none()`, or reqwest's own following forwards such headers.
//! - **Answers are bounded.** An answer, or one line of a stream, longer than
//!   [`ClientBuilder::max_response_bytes`] (default [`DEFAULT_MAX_RESPONSE_BYTES`], 64 MiB)
//!   fails with [`Error::TooLarge`] as soon as the cap is passed, or before reading when the
//!   server announces the length; memory stays proportional to what was read. A binary
//!   answer read as a stream (an operation's `stream_body`, [`ByteStream`]) is the caller's
//!   to bound.
//! - **Nothing waits for ever by default.** Connecting times out after
//!   [`DEFAULT_CONNECT_TIMEOUT`] (10 s), each attempt after [`DEFAULT_TIMEOUT`] (60 s, body
//!   included), and a silent answer or stream after [`DEFAULT_READ_TIMEOUT`] (60 s); all three
//!   are builder knobs, and `None` lifts one. A deadline bounds a whole call with its retries.
//!   [`Error::Timeout`] says which bound ran out ([`TimeoutLimit`]). A stream has no attempt
//!   timeout unless its call sets one ([`Request::timeout`]), which then bounds the whole
//!   stream, and its read timeout counts bytes, not items: a server that keeps an NDJSON
//!   stream alive with blank lines holds it open until it ends or a deadline passes — give a
//!   stream that must end a [`Request::deadline`].
//! - **Secrets are never shown.** Tokens and per-call keys are redacted from `Debug`, never
//!   put in error messages, marked sensitive in headers, and not recorded by `tracing`. A
//!   server that echoes them back does not get them into an error either: every credential
//!   of the call — its token, its `x-api-key`, an `Authorization`, `Proxy-Authorization`,
//!   `x-api-key` or `Cookie` header you added, a long cookie value, the credentials its body
//!   carries — is replaced by `[redacted]` in the problem, validation messages, excerpts,
//!   raw bodies and decoder messages an error quotes. (`send_detailed` hands back the raw
//!   answer untouched: that is data you asked for.) Credentials inside models — a new API
//!   key, share tokens and passwords, a subscription's delivery headers — are typed
//!   ([`models::SecretString`], [`models::DeliveryHeaders`]) so that `Debug` hides them too,
//!   and those a request body carries are redacted from its errors like the call's own. The
//!   signed links of download answers ([`models::DownloadLinks`]) print cut after their
//!   path. A success answer that hands out such a credential (a new API key, a signed upload
//!   URL, ...) and does not fit its model, or comes with a status the contract does not
//!   document, is not quoted by its error at all; the error's fields keep the bytes.
//! - **No panics on input.** Malformed, truncated, oversized or endless answers, odd
//!   `Retry-After` values and bodies that fail the input checks are all typed errors.
//!
//! # TLS and proxies
//!
//! HTTPS certificates are checked against the machine's trust store by default — the roots
//! your operating system, browser and `curl` trust, including a corporate CA installed there.
//! A client reads the store once, when it is built, and trusts that on every thread; a
//! certificate installed later is trusted by clients built after it. A store with no
//! certificate at all (a container image without its CA package) is logged as a `tracing`
//! warning when a client without roots of its own is built; the `webpki-roots` feature is
//! the remedy there.
//! For a server behind another private CA, add its certificate with
//! [`ClientBuilder::ca_file`]; for anything the knobs do not cover (client certificates,
//! pinning, a custom verifier), give a whole rustls configuration with
//! [`ClientBuilder::tls_config`], which then replaces every other TLS setting.
//! [`ClientBuilder::verify_tls`]`(false)` accepts any certificate and is for tests only.
//!
//! A certificate that fails the check ends the call at once with an [`ErrorKind::Transport`]
//! error for which [`Error::is_certificate_error`] is true; its message names the check that
//! failed (unknown issuer, another host name, expired). It is not retried.
//!
//! Calls follow the usual proxy variables — `HTTPS_PROXY` for `https://` base URLs,
//! `HTTP_PROXY` for `http://` ones, `ALL_PROXY` for both, `NO_PROXY` for hosts to reach
//! directly (upper or lower case) — read when a client is built; one set to something that
//! is no proxy URL fails the build with an [`ErrorKind::Config`] error naming it, rather than
//! being passed over, which would send calls around the proxy. [`ClientBuilder::proxy`]
//! sets one proxy for the client instead, and [`ClientBuilder::no_proxy`] ignores the
//! variables. HTTPS calls go through a proxy as a `CONNECT` tunnel, so the proxy sees the
//! host and port but not the token. Credentials in a proxy URL never show in `Debug` or
//! errors.
//!
//! Every setting here applies to async and blocking calls alike. A `reqwest` client you bring
//! ([`ClientBuilder::http_client`], [`Client::with_http_client`], or the factory of
//! `with_blocking_http_client`) owns its connections, so its own TLS and proxy configuration
//! applies instead.
//!
//! # Features
//!
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `blocking` | on | `send_blocking`, `send_blocking_detailed`, blocking pages |
//! | `validate` | on | bodies checked against the contract before sending ([`ClientBuilder::validate_input`]); without it, the API's 422 is the only check and the `regex` crates leave the build |
//! | `http2` | on | HTTP/2 when a TLS server offers it, and `ClientBuilder::http2_prior_knowledge`; without it, HTTP/1.1 only and the `h2` crates leave the build |
//! | `system-roots` | on | rustls trusts the system's trust store (read with `rustls-native-certs` once per client, when it is built) |
//! | `webpki-roots` | off | rustls trusts the Mozilla roots compiled into the binary, for machines without a trust store (minimal containers) |
//! | `native-tls` | off | the OS TLS stack (SChannel, Security.framework, OpenSSL) instead of rustls |
//! | `system-proxy` | on | also reads the macOS and Windows proxy settings (the variables are read everywhere) |
//! | `redis` | off | `budget::RedisBudget`: one rate budget shared through Redis by every process of an organization, over TLS with `rediss://` (rustls, whatever the TLS features) |
//! | `gzip` | off | every call asks for `Accept-Encoding: gzip`, and compressed answers are read as they arrive, a large page crossing the network in a fraction of its bytes; [`ClientBuilder::max_response_bytes`] counts the bytes after decompression, so a small body that expands past it is [`Error::TooLarge`] |
//!
//! How they combine: [`ClientBuilder::tls_config`] wins over everything — rustls with that
//! configuration, whatever the features. Otherwise `native-tls`, when on, is the TLS stack,
//! trusting the OS store, and the root features do nothing for API calls. Otherwise rustls
//! trusts the union of `system-roots` and `webpki-roots`, plus [`ClientBuilder::ca_file`]
//! certificates. For
//! the bundled roots alone, turn off default features and pick
//! `features = ["blocking", "validate", "http2", "webpki-roots"]`; with no root feature and no `native-tls`, only
//! the certificates you give are trusted. A `rediss://` rate budget trusts the same roots as
//! rustls here (the union of the root features, even with `native-tls`), plus its own
//! `RedisBudgetBuilder::ca_file` certificates, or uses its own `tls_config`.
//!
//! # Cancellation
//!
//! Dropping a pending future cancels its request and any retry waiting to happen; nothing runs
//! in the background afterwards, with two exceptions that keep state right: a
//! [`Session`](auth::Session)'s token request, once sent, runs to its end so that the rotated
//! refresh token it brings is kept, and a dropped [`Upload`](uploads::Upload) spawns one
//! `uploads.fail` call to release its reservation. Dropping a page stream stops the walk. A request already
//! received by the API may still execute, which is why side effects carry an
//! `Idempotency-Key`: repeat the call with the same key to learn its outcome.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod base_url;
mod binary;
#[cfg(feature = "blocking")]
mod blocking;
mod body;
mod bounds;
pub mod budget;
mod caller;
mod client;
mod clock;
mod cursors;
mod engine;
mod error;
mod fanout;
mod fluent;
mod generated;
mod limiter;
mod ndjson;
mod paging;
mod proxy_env;
mod redact;
mod redirect;
mod request;
mod request_ids;
mod response;
mod retry;
#[cfg(all(
    feature = "system-roots",
    any(not(feature = "native-tls"), feature = "redis")
))]
mod roots;
mod runtime;
mod secret;
pub mod terminal;
mod trust_files;
pub mod uploads;
pub mod wait;
pub mod webhooks;

pub use base_url::{
    base_url_ends_in_version, base_url_in_clear_text, check_base_url, quoted_url, without_userinfo,
    BaseUrlError,
};
#[cfg(feature = "blocking")]
pub use binary::BlockingByteStream;
pub use binary::ByteStream;
pub use client::{
    ApiClient, AuthenticatedClient, Client, ClientBuilder, DEFAULT_ACCEPT, DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_READ_TIMEOUT, DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
};
pub use clock::{Clock, SystemClock};
pub use cursors::CursorTrail;
pub use error::{Error, ErrorKind, TimeoutLimit};
pub use fanout::fan_out;
#[cfg(feature = "blocking")]
pub use fanout::fan_out_blocking;
pub use fluent::{Call, Geopera};
pub use generated::fluent as namespaces;
pub use generated::operations;
pub use ndjson::NdjsonOperation;
#[cfg(feature = "blocking")]
pub use paging::BlockingPages;
pub use paging::{page_item_field, PageStream, PageWalk, PAGE_ITEM_FIELDS};
pub use redact::REDACTED;
pub use request::{new_idempotency_key, CallOptions, IntoRequest, Request};
pub use response::{Parsed, Response, MAX_PROBLEM_BYTES};
pub use retry::RetryPolicy;

/// Every request and answer model: one per schema of the contract, plus typed forms of answers
/// the contract leaves open (orders, jobs, uploads, subscriptions, STAC items).
pub use geopera_types::models;
pub use geopera_types::{
    Binary, DecodeOutput, JsonObject, JsonOrBinary, Operation, OperationInfo, RateClass,
};

/// Descriptors of every operation as data (scope, statuses, paging), e.g. for tooling.
pub mod descriptors {
    pub use geopera_types::operations::*;
    pub use geopera_types::{Access, Paging, RateClass, RetryClass};
}

/// The `http` types that appear in [`Response`].
pub use http::{HeaderMap, StatusCode};

// The README's examples compile with the doc tests, so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme_doctest {}
