//! The plain records the emulator keeps: what `state` holds in memory and `store` writes to
//! the state file. Data, and the little that reads it alone (a subscription's JSON, its
//! secret's signature), so both can depend on it without depending on each other.

use std::collections::BTreeMap;
use std::fmt;

use geopera_types::orders::OrderStatus;
use geopera_types::rfc3339::format_date_time;
use geopera_types::subscriptions::DeliveryHeaders;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::error::Reply;
use crate::rng::{os_hex, to_hex};

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
    /// The windows of the limited keys it was minted under (every window its creator's calls
    /// count against, see [`rate_windows`]), eldest first: its calls count against them too,
    /// so keys minted under a key limited to N share those N calls. Empty for the keys of a
    /// state file written before this was kept, which count as minted under no one.
    pub inherited_limits: Vec<KeyWindow>,
}

/// A window a key's calls count against: the id of the key it is counted for, and that key's
/// calls per minute.
pub type KeyWindow = (String, u32);

/// Every window a call counts against, for a key that inherited `inherited` and is limited
/// to `own` itself: the inherited ones, and its own unless one of them is as tight. An
/// inherited window counts every call the key's own would count, so with a cap no higher it
/// always refuses first, and keeping the key's own would only lengthen the list.
pub fn rate_windows(inherited: &[KeyWindow], own: Option<(&str, u32)>) -> Vec<KeyWindow> {
    let mut windows = inherited.to_vec();
    if let Some((id, cap)) = own.filter(|(_, cap)| adds_window(inherited, *cap)) {
        windows.push((id.to_owned(), cap));
    }
    windows
}

/// Whether a key limited to `cap` under `inherited` needs a window of its own.
pub fn adds_window(inherited: &[KeyWindow], cap: u32) -> bool {
    inherited.iter().all(|(_, above)| cap < *above)
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
            inherited_limits: key.inherited_limits,
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
    /// The windows of the key minting it, which its calls count against too.
    pub inherited_limits: Vec<KeyWindow>,
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
            inherited_limits: Vec::new(),
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

    /// The kind [`name`](Self::name) gave; `None` for a name it never gives, which a state
    /// file holds only when it was damaged or edited.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "archive" => Some(OrderKind::Archive),
            "tasking" => Some(OrderKind::Tasking),
            "order" => Some(OrderKind::Generic),
            _ => None,
        }
    }

    /// Status by age in seconds: `(from_age, status)` steps.
    fn schedule(self) -> &'static [(i64, OrderStatus)] {
        const ARCHIVE: &[(i64, OrderStatus)] = &[
            (0, OrderStatus::Received),
            (30, OrderStatus::Processing),
            (300, OrderStatus::Fulfilled),
        ];
        const TASKING: &[(i64, OrderStatus)] = &[
            (0, OrderStatus::Received),
            (60, OrderStatus::Feasibility),
            (600, OrderStatus::Accepted),
            (3600, OrderStatus::Fulfilled),
        ];
        match self {
            OrderKind::Archive | OrderKind::Generic => ARCHIVE,
            OrderKind::Tasking => TASKING,
        }
    }
}

/// The member of an order's `detail` holding the credits charged on top of its price when its
/// quotation was accepted with a dearer capture option.
pub const SURCHARGE: &str = "surcharge_credits";

/// The member of a tasking order's `detail` recording its feasibility study's decision (with
/// the moment, in Unix seconds): read by the study answers, which say it their own way, and
/// no part of the order's.
pub const FEASIBILITY: &str = "feasibility";

/// The member of a tasking order's `detail` recording its quotation's decision, as
/// [`FEASIBILITY`] records the study's.
pub const QUOTATION: &str = "quotation";

/// The member of a history order's `detail` once that holds something (tags): the order is
/// still history, which notifications and tasking studies pass over, and the member is no
/// part of its answers.
pub const HISTORY: &str = "_history";

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
    /// Whether the order is from before its organization was first seen: history, not news.
    /// Such orders start with no `detail` at all.
    pub fn is_history(&self) -> bool {
        self.detail
            .as_object()
            .is_none_or(|detail| detail.contains_key(HISTORY))
    }

    /// The status at `now` (Unix seconds).
    pub fn status(&self, now: i64) -> OrderStatus {
        if self.cancelled_at.is_some() {
            return OrderStatus::Cancelled;
        }
        self.stage(now)
            .map_or(OrderStatus::Received, |(_, status)| status.clone())
    }

    /// The step of its kind's schedule the order has reached at `now`: how long after
    /// placing it began, and its status.
    fn stage(&self, now: i64) -> Option<&'static (i64, OrderStatus)> {
        let age = now.saturating_sub(self.created_at);
        self.kind
            .schedule()
            .iter()
            .rev()
            .find(|(from, _)| age >= *from)
    }
}

impl Order {
    /// What the order has cost its organization: its price, and the surcharge of a dearer
    /// capture option accepted with its quotation since. A cancellation refunds all of it.
    pub fn charged_credits(&self) -> i64 {
        self.total_credits.saturating_add(
            self.detail
                .get(SURCHARGE)
                .and_then(Value::as_i64)
                .unwrap_or(0),
        )
    }

    /// When the order's status last changed, as of `now`: its cancellation, else the start of
    /// the status it has reached (tags changed by `orders.update` do not count). A time that
    /// kept up with the clock until an hour after placing reordered `orders.list` sorted by
    /// `updatedAt` between the pages of one walk.
    pub fn updated_at(&self, now: i64) -> i64 {
        if let Some(at) = self.cancelled_at {
            return at;
        }
        let since = self.stage(now).map_or(0, |(from, _)| *from);
        self.created_at.saturating_add(since)
    }

    /// When the order reaches `fulfilled` (Unix seconds), or `None` once cancelled.
    pub fn fulfilled_at(&self) -> Option<i64> {
        if self.cancelled_at.is_some() {
            return None;
        }
        let (from, status) = self.kind.schedule().last()?;
        (*status == OrderStatus::Fulfilled).then_some(self.created_at.saturating_add(*from))
    }
}

/// One organization's money and orders.
#[derive(Debug)]
pub struct Org {
    pub balance_credits: i64,
    /// Order ids, oldest first.
    pub orders: Vec<String>,
    /// What the credit ledger's dropped entries added up to.
    pub folded: Folded,
}

/// The sums of the credit ledger's entries dropped to keep it bounded, as far as answers still
/// need them: `usage.*` counts a month from these plus the entries kept, and the auto top-up's
/// daily cap counts the day's purchases so. Without them an organization past the ledger's
/// bound would see its month's usage shrink, and could be charged past its daily cap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folded {
    /// By calendar month (`"YYYY-MM"`, UTC), only as many of the newest as `usage.history`
    /// answers.
    #[serde(default)]
    pub months: BTreeMap<String, MonthTotals>,
    /// The UTC day (days since the epoch) [`topup_credits`](Self::topup_credits) were bought
    /// on.
    #[serde(default)]
    pub topup_day: Option<i64>,
    /// Credits of the dropped auto top-ups of [`topup_day`](Self::topup_day).
    #[serde(default)]
    pub topup_credits: i64,
}

/// One month's orders and credits, as `usage.*` answers them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthTotals {
    /// Credits spent on orders.
    #[serde(default)]
    pub spent: i64,
    /// Credits returned by cancellations.
    #[serde(default)]
    pub refunded: i64,
    /// Orders placed.
    #[serde(default)]
    pub orders: u64,
}

/// An idempotency key's claim.
#[derive(Debug)]
pub struct Claim {
    /// The body's fingerprint: a retry must send the same body to be replayed.
    pub fingerprint: [u8; 32],
    /// Who made the request (see `pipeline::Caller::principal`): the stored answer may hold
    /// what only that credential may see, such as a key's secret, so only it is replayed to.
    /// Empty for a claim written before this was kept, which then replays to no one.
    pub principal: String,
    /// When the key was claimed, in milliseconds on the emulator's clock.
    pub at_ms: i64,
    /// `None` while the first request is still being handled.
    pub reply: Option<Reply>,
}

/// Which organization's key for which operation.
pub type ClaimSlot = (String, &'static str, String);

/// A subscription's signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    /// A fresh `whsec_` secret of 32 bytes from the operating system's generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(SigningSecret(format!(
            "{}{}",
            geopera_types::WEBHOOK_SECRET_PREFIX,
            os_hex(32)?
        )))
    }

    /// The secret itself, for the one answer that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `sha256=<hex>`: the HMAC-SHA256 of `body` keyed by the secret's text.
    pub fn sign(&self, body: &[u8]) -> String {
        // HMAC takes keys of any length, so this never fails.
        let digest = match Hmac::<Sha256>::new_from_slice(self.0.as_bytes()) {
            Ok(mut mac) => {
                mac.update(body);
                to_hex(&mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        };
        format!("{}{digest}", geopera_types::subscriptions::SIGNATURE_PREFIX)
    }
}

/// An event subscription of one organization.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub org: String,
    pub event_type: String,
    pub endpoint_url: String,
    pub filter_config: Map<String, Value>,
    pub headers: DeliveryHeaders,
    pub description: Option<String>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub secret: SigningSecret,
}

impl Subscription {
    /// The subscription as the API shows it; the secret only when `with_secret`.
    pub fn to_json(&self, with_secret: bool) -> Value {
        let mut value = json!({
            "id": self.id,
            "organization_id": self.org,
            "event_type": self.event_type,
            "endpoint_url": self.endpoint_url,
            "filter_config": self.filter_config,
            "headers": self.headers,
            "description": self.description,
            "active": self.active,
            "created_at": format_date_time(self.created_at),
            "updated_at": format_date_time(self.updated_at),
        });
        if let (true, Some(object)) = (with_secret, value.as_object_mut()) {
            object.insert("secret".into(), json!(self.secret.expose()));
        }
        value
    }
}

/// One event on its way to one subscription.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// Its place in the outbox, given when it is queued (again, after a failed attempt): the
    /// state file's row for it. Kept in the row's key, not in its record.
    #[serde(skip)]
    pub seq: u64,
    pub event_id: String,
    pub event_type: String,
    pub subscription_id: String,
    /// The exact bytes sent (and signed) on every attempt.
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due, in milliseconds on the emulator's clock.
    pub due_ms: i64,
    pub last_error: Option<String>,
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
