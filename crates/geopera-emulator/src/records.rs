//! The plain records the emulator keeps: what `state` holds in memory and `store` writes to
//! the state file. Data only, so both can depend on it without depending on each other.

use serde_json::Value;

use crate::error::Reply;

/// An API key or session token.
#[derive(Clone, Debug)]
pub struct Credential {
    pub id: String,
    pub org: String,
    pub name: String,
    pub prefix: String,
    pub grants: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub session: bool,
    /// Calls per minute this key may make, on top of its organization's budgets.
    pub rate_limit: Option<u32>,
}

impl Credential {
    /// The record of a key just minted under `id` with `secret`.
    pub fn mint(id: String, secret: &str, key: NewKey, now: i64, session: bool) -> Self {
        Credential {
            id,
            org: key.org,
            name: key.name,
            prefix: secret.chars().take(12).collect(),
            grants: key.grants,
            created_at: now,
            expires_at: key.expires_at,
            revoked: false,
            session,
            rate_limit: key.rate_limit,
        }
    }
}

/// What a new key should hold, as `api_keys.create` or the test handle asks for it.
#[derive(Debug)]
pub struct NewKey {
    pub org: String,
    pub name: String,
    pub grants: Vec<String>,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// Calls per minute; `None` leaves only the organization's budgets.
    pub rate_limit: Option<u32>,
}

impl NewKey {
    /// A key of `org` holding `grants` that never expires.
    pub fn new(org: &str, name: &str, grants: Vec<String>) -> Self {
        NewKey {
            org: org.to_owned(),
            name: name.to_owned(),
            grants,
            expires_at: None,
            rate_limit: None,
        }
    }
}

/// What kind of order it is, which decides how its status advances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Archive,
    Tasking,
    Generic,
}

impl OrderKind {
    pub fn name(self) -> &'static str {
        match self {
            OrderKind::Archive => "archive",
            OrderKind::Tasking => "tasking",
            OrderKind::Generic => "order",
        }
    }

    /// The kind [`name`](Self::name) gave (anything unknown reads as a generic order).
    pub fn from_name(name: &str) -> Self {
        match name {
            "archive" => OrderKind::Archive,
            "tasking" => OrderKind::Tasking,
            _ => OrderKind::Generic,
        }
    }

    /// Status by age in seconds: `(from_age, status)` steps.
    fn schedule(self) -> &'static [(i64, &'static str)] {
        match self {
            OrderKind::Archive | OrderKind::Generic => {
                &[(0, "received"), (30, "processing"), (300, "fulfilled")]
            }
            OrderKind::Tasking => &[
                (0, "received"),
                (60, "feasibility"),
                (600, "accepted"),
                (3600, "fulfilled"),
            ],
        }
    }
}

/// A placed order.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub org: String,
    pub kind: OrderKind,
    pub display_name: String,
    pub created_at: i64,
    pub cancelled_at: Option<i64>,
    pub total_credits: i64,
    pub detail: Value,
}

impl Order {
    /// The status at `now` (Unix seconds).
    pub fn status(&self, now: i64) -> &'static str {
        if self.cancelled_at.is_some() {
            return "cancelled";
        }
        let age = now - self.created_at;
        self.kind
            .schedule()
            .iter()
            .rev()
            .find(|(from, _)| age >= *from)
            .map_or("received", |(_, status)| status)
    }
}

impl Order {
    /// When the order reaches `fulfilled` (Unix seconds), or `None` once cancelled.
    pub fn fulfilled_at(&self) -> Option<i64> {
        if self.cancelled_at.is_some() {
            return None;
        }
        let (from, status) = self.kind.schedule().last()?;
        (*status == "fulfilled").then_some(self.created_at.saturating_add(*from))
    }
}

/// One organization's money and orders.
#[derive(Debug)]
pub struct Org {
    pub balance_credits: i64,
    /// Order ids, oldest first.
    pub orders: Vec<String>,
}

/// An idempotency key's claim.
#[derive(Debug)]
pub struct Claim {
    /// The body's fingerprint: a retry must send the same body to be replayed.
    pub fingerprint: [u8; 32],
    /// When the key was claimed, in milliseconds on the emulator's clock.
    pub at_ms: i64,
    /// `None` while the first request is still being handled.
    pub reply: Option<Reply>,
}

/// Which organization's key for which operation.
pub type ClaimSlot = (String, &'static str, String);
