//! What the generator knows about each operation, as data.

use serde::{de::DeserializeOwned, Serialize};

use crate::binary::DecodeOutput;
use crate::rate::RateClass;
use crate::shape::Shape;

/// The kind of access an operation's scope grants, from the scope's `resource:action` suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// `*:read`: no side effects, always safe to repeat.
    Read,
    /// `*:write`: creates, changes or spends.
    Write,
    /// `*:process`: starts processing work, usually billed.
    Process,
    /// `*:destroy`: deletes.
    Destroy,
}

/// How an operation splits its results over several calls, judged from its input fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Paging {
    /// One call returns everything.
    None,
    /// `limit` plus an opaque `next` token echoed from the previous page.
    Cursor,
    /// `limit` plus a zero-based item `offset`.
    Offset,
    /// A zero-based `page` number plus a page `size`.
    PageSize,
    /// A `page` number plus a `limit` per page.
    LimitPage,
}

impl Paging {
    /// The members of the body, all integers, that place and size a page: what a walk over
    /// the pages changes from call to call, and what a server reads as a position rather
    /// than keeps.
    pub const fn numbers(self) -> &'static [&'static str] {
        match self {
            Paging::None => &[],
            Paging::Cursor => &["limit"],
            Paging::Offset => &["limit", "offset"],
            Paging::PageSize => &["page", "size"],
            Paging::LimitPage => &["page", "limit"],
        }
    }
}

/// When a failed attempt of an operation may be repeated without risk of doing its work twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// Read-only (`*:read`): any failure may be retried.
    Safe,
    /// Has side effects: an ambiguous failure (timeout, reset after sending, 5xx) may be retried
    /// only when the call carries an `Idempotency-Key`, which the API uses to execute it once.
    NeedsIdempotencyKey,
}

/// The statuses that say "this may work if you try again": the server failed or is
/// overloaded, but the request was well formed. The SDK retries them (and
/// `Error::is_retryable` says so); the emulator's `fault` rules answer them as the API's
/// transient failures.
pub const TRANSIENT_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// Everything known about one operation, as static data.
#[derive(Debug)]
pub struct OperationInfo {
    /// The operation id, e.g. `orders.tasking.estimate`.
    pub id: &'static str,
    /// The route the operation is served at, e.g. `/v1/op/orders.tasking.estimate`.
    pub path: &'static str,
    /// The single scope a caller needs, e.g. `orders:read`.
    pub scope: &'static str,
    /// Whether a call must carry credentials. When false, anyone may call it: the server
    /// neither authenticates nor checks [`scope`](Self::scope), and rate-limits it per client
    /// address instead of per organization.
    pub needs_credentials: bool,
    /// What the scope's action allows.
    pub access: Access,
    /// The documented success status: 200, 201 or 202.
    pub success_status: u16,
    /// The documented error statuses.
    pub error_statuses: &'static [u16],
    /// Whether the contract declares an `Idempotency-Key` header for it.
    pub declares_idempotency_key: bool,
    /// Whether the request body may be omitted.
    pub body_optional: bool,
    /// The input's shape.
    pub input: &'static Shape,
    /// The output's shape (free-form for most operations).
    pub output: &'static Shape,
    /// The Rust type of the input, for messages.
    pub input_type: &'static str,
    /// The Rust type of the output, for messages.
    pub output_type: &'static str,
    /// Whether a success answer is newline-delimited JSON, one value per line: bytes as
    /// [`answers_binary`](Self::answers_binary) says, but text a program reads line by line
    /// (the SDK's `stream`, the CLI printing each line as an answer) rather than writes out.
    pub answers_ndjson: bool,
    /// How results are paged.
    pub paging: Paging,
    /// Which rate-limit budget it draws from.
    pub rate_class: RateClass,
    /// When a failed attempt may be retried.
    pub retry: RetryClass,
    /// The input's members that hold credentials (a share link's `password`, a subscription's
    /// `headers`): typed so that they never print, and left out of what a 422 answer echoes
    /// back.
    pub secret_fields: &'static [&'static str],
    /// Whether a success answer can hold a credential — a new API key, a signed upload URL, a
    /// share token, a payment client secret, a webhook's signing secret, download links —
    /// which its model types so that it never prints. Such an answer is not quoted by the
    /// error it becomes (undecodable, or on a success status the contract does not document);
    /// its error answers are, as any other operation's.
    pub answer_holds_credentials: bool,
}

impl OperationInfo {
    /// Whether repeating the call can never change server state.
    pub fn is_read_only(&self) -> bool {
        self.access == Access::Read
    }

    /// Whether the operation is one of Geopera's own back-office ones, whose scope is under
    /// `admin:`: the only ones that may name another organization than the caller's, and
    /// left out of the official CLI's command tree (25 of them).
    pub fn is_admin(&self) -> bool {
        self.scope.starts_with("admin:")
    }

    /// Whether an `Idempotency-Key` sent with the call is honoured: one the SDK sends for
    /// every call that changes state ([`RetryClass::NeedsIdempotencyKey`]), and one the
    /// contract declares. The emulator replays a repeated key of these operations and ignores
    /// it on any other.
    pub fn takes_idempotency_key(&self) -> bool {
        self.retry == RetryClass::NeedsIdempotencyKey || self.declares_idempotency_key
    }

    /// Whether a success answer is bytes (an image, an XML document, NDJSON text) rather than
    /// one JSON value: its [`Operation::Output`] is [`Binary`](crate::Binary).
    pub fn answers_binary(&self) -> bool {
        self.output_type == "Binary"
    }

    /// Whether a success answer may be bytes: always for [`answers_binary`](Self::answers_binary),
    /// and as the request asks for the operations whose output is
    /// [`JsonOrBinary`](crate::JsonOrBinary).
    pub fn may_answer_binary(&self) -> bool {
        self.answers_binary() || self.output_type == "JsonOrBinary"
    }

    /// Whether the API answers with a redirect to where the result is stored (a 307 to its
    /// image host), which the contract does not say: for these operations a redirect is
    /// the answer, for any other it is a fault.
    pub fn answers_with_redirect(&self) -> bool {
        crate::quirks::ANSWERED_WITH_REDIRECT.contains(&self.id)
    }
}

/// An operation as a type, tying its id to its input and output models.
pub trait Operation {
    /// The operation's static description.
    const INFO: &'static OperationInfo;
    /// The request body model.
    type Input: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The model of a successful answer: a JSON model, or [`Binary`](crate::Binary) for the
    /// operations that answer images or XML.
    type Output: DecodeOutput + Send + 'static;
}

/// Finds an operation by id, e.g. `catalog.search`.
pub fn find(id: &str) -> Option<&'static OperationInfo> {
    crate::generated::operations::ALL
        .binary_search_by(|info| info.id.cmp(id))
        .ok()
        .map(|index| crate::generated::operations::ALL[index])
}

#[cfg(test)]
#[path = "operation_tests.rs"]
mod tests;
