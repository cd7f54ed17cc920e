//! The names of the headers the API reads beyond HTTP's own, in lower case as HTTP/2 and the
//! `http` crate spell them.
//!
//! The SDK sends them and the emulator reads them, so the two cannot drift apart on a name;
//! the generator finds the contract's idempotency parameter by the same name. (The CLI's
//! `--dry-run` shows `X-API-Key` in the capitals HTTP/1.1 is usually written in.) Headers of
//! webhook deliveries are in the `subscriptions` module.
//!
//! This file names nothing outside itself, on purpose: `geopera-codegen` compiles it too
//! (through `#[path]`), as it does the rate budgets.

/// Where a `gpra_` API key may be sent instead of `Authorization: Bearer`; when both are sent,
/// the bearer token is the one read.
pub const API_KEY: &str = "x-api-key";

/// The key that makes a retried state-changing call safe: the API answers a repeat with the
/// first call's answer. Which operations honour it: `OperationInfo::takes_idempotency_key`.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The id that ties a request to its answer and its log lines; the API echoes the one it is
/// sent, or makes one up.
pub const REQUEST_ID: &str = "x-request-id";
