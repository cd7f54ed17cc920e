//! Everything the emulator remembers between requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::clock::ManualClock;
use crate::error::Reply;
use crate::faults::FaultPlan;
use crate::limits::RateLimits;
use crate::recording::RequestLog;
use crate::rng::{fnv, Rng};
use crate::store::{Snapshot, Store};

/// The organization the demo key and [`create_key`](crate::EmulatorHandle::create_key) keys
/// belong to.
pub const DEMO_ORG: &str = "org_demo";
/// Credits every organization starts with (A$5,000).
pub const STARTING_CREDITS: i64 = 500_000;
/// Orders every organization already has when first seen, so paging can be exercised.
pub const HISTORICAL_ORDERS: usize = 250;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION_MS: i64 = 24 * 3600 * 1000;

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
    /// The body's [`fingerprint`]: a retry must send the same body to be replayed.
    pub fingerprint: [u8; 32],
    /// When the key was claimed, in milliseconds on the emulator's clock.
    pub at_ms: i64,
    /// `None` while the first request is still being handled.
    pub reply: Option<Reply>,
}

/// Which organization's key for which operation.
pub type ClaimSlot = (String, &'static str, String);

/// SHA-256 of a canonical form of a JSON body: object members sorted by name, so a retry
/// that spells the same body with other whitespace or member order is the same request.
/// A hash rather than the body keeps claims small in memory and in the state file.
pub fn fingerprint(value: &Value) -> [u8; 32] {
    fn feed(hasher: &mut Sha256, value: &Value) {
        let text = |hasher: &mut Sha256, text: &str| {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        match value {
            Value::Null => hasher.update(b"n"),
            Value::Bool(flag) => hasher.update(if *flag { b"t" } else { b"f" }),
            Value::Number(number) => {
                hasher.update(b"#");
                text(hasher, &number.to_string());
            }
            Value::String(string) => {
                hasher.update(b"s");
                text(hasher, string);
            }
            Value::Array(items) => {
                hasher.update(b"[");
                hasher.update((items.len() as u64).to_le_bytes());
                for item in items {
                    feed(hasher, item);
                }
            }
            Value::Object(members) => {
                hasher.update(b"{");
                hasher.update((members.len() as u64).to_le_bytes());
                let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                for (name, member) in sorted {
                    text(hasher, name);
                    feed(hasher, member);
                }
            }
        }
    }
    let mut hasher = Sha256::new();
    feed(&mut hasher, value);
    hasher.finalize().into()
}

/// Mutable state behind one lock (never held across an `.await`).
#[derive(Debug)]
pub struct Inner {
    pub credentials: HashMap<String, Credential>,
    pub rng: Rng,
    pub windows: HashMap<(String, &'static str, i64), u32>,
    pub claims: HashMap<ClaimSlot, Claim>,
    pub orgs: HashMap<String, Org>,
    pub orders: HashMap<String, Order>,
    pub counters: HashMap<String, u64>,
    pub requests: RequestLog,
    /// Behind the same lock as everything else so that a swap and a request deciding its
    /// faults never interleave.
    pub faults: ActiveFaults,
    pub header_faults_seen: u64,
    /// The rest of a 429 burst the fault plan started, for every caller.
    pub burst_429_left: u32,
    /// The `Retry-After` the rest of the current 429 burst carries, when its rule set one.
    pub burst_429_retry_after: Option<u64>,
    /// The rest of 429 bursts that `x-emulator-fault` headers started, per organization.
    pub caller_bursts: HashMap<String, Burst>,
}

/// What is left of a 429 burst.
#[derive(Debug)]
pub struct Burst {
    pub left: u32,
    pub retry_after: Option<u64>,
}

/// The plan's rules and, per rule, how many requests it matched and struck.
#[derive(Debug)]
pub struct ActiveFaults {
    pub plan: FaultPlan,
    pub seen: Vec<u64>,
    pub struck: Vec<u64>,
}

impl ActiveFaults {
    /// A plan whose rules have not matched anything yet.
    pub fn new(plan: FaultPlan) -> Self {
        let rules = plan.rules().len();
        ActiveFaults {
            plan,
            seen: vec![0; rules],
            struck: vec![0; rules],
        }
    }
}

/// State shared by every request of one emulator.
#[derive(Debug)]
pub struct Shared {
    pub seed: u64,
    pub clock: ManualClock,
    pub limits: RateLimits,
    pub base_url: String,
    pub catalog: Arc<Catalog>,
    pub spec: Option<Bytes>,
    /// The largest request body read, in bytes.
    pub body_limit: usize,
    pub demo_key: String,
    pub session_token: String,
    store: Option<Store>,
    inner: Mutex<Inner>,
}

/// Every scope there is, as one grant.
pub const ALL_SCOPES: &str = "*";

impl Shared {
    #[allow(
        clippy::too_many_arguments,
        reason = "the builder's settings, once each"
    )]
    pub fn new(
        seed: u64,
        clock: ManualClock,
        limits: RateLimits,
        faults: FaultPlan,
        base_url: String,
        spec: Option<Bytes>,
        body_limit: usize,
        requests: RequestLog,
        store: Option<(Store, Option<Snapshot>)>,
    ) -> Shared {
        let mut rng = Rng::new(seed ^ 0x005e_ed0f_4e15);
        let demo_key = format!("gpra_{}", rng.hex(16));
        let session_token = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.{}",
            rng.hex(24),
            rng.hex(8)
        );
        let now = clock.now_secs();
        let mut inner = Inner {
            credentials: HashMap::new(),
            rng,
            windows: HashMap::new(),
            claims: HashMap::new(),
            orgs: HashMap::new(),
            orders: HashMap::new(),
            counters: HashMap::new(),
            requests,
            faults: ActiveFaults::new(faults),
            header_faults_seen: 0,
            burst_429_left: 0,
            burst_429_retry_after: None,
            caller_bursts: HashMap::new(),
        };
        inner.insert_credential(
            &demo_key,
            DEMO_ORG,
            "demo",
            vec![ALL_SCOPES.to_owned()],
            now,
            None,
            false,
        );
        inner.insert_credential(
            &session_token,
            DEMO_ORG,
            "session",
            vec![ALL_SCOPES.to_owned()],
            now,
            None,
            true,
        );
        let (store, snapshot) = store.unzip();
        if let Some(snapshot) = snapshot.flatten() {
            // The demo credentials derive from the seed, so the file holds the same ones.
            inner.rng = Rng::new(snapshot.rng_state);
            inner.credentials = snapshot.credentials;
            inner.orgs = snapshot.orgs;
            inner.orders = snapshot.orders;
            let now_ms = clock.now_millis();
            inner.claims = snapshot.claims;
            inner
                .claims
                .retain(|_, claim| now_ms - claim.at_ms < IDEMPOTENCY_RETENTION_MS);
        }
        Shared {
            seed,
            catalog: Catalog::for_seed(seed),
            clock,
            limits,
            base_url,
            spec,
            body_limit,
            demo_key,
            session_token,
            store,
            inner: Mutex::new(inner),
        }
    }

    /// Writes orders, keys, balances and answered idempotency claims to the state file, if
    /// there is one. A failed write is logged, not answered: the request itself succeeded.
    pub fn persist(&self) {
        if let Some(store) = &self.store {
            let now_ms = self.clock.now_millis();
            let inner = self.lock();
            if let Err(error) = store.save(self.seed, &inner, now_ms) {
                tracing::warn!(%error, "could not write the state file");
            }
        }
    }

    /// Puts `plan` in force from the next request on, with fresh counters, and ends a 429
    /// burst the old plan started.
    pub fn set_faults(&self, plan: FaultPlan) {
        let mut inner = self.lock();
        inner.faults = ActiveFaults::new(plan);
        inner.burst_429_left = 0;
        inner.burst_429_retry_after = None;
    }

    /// Locks the mutable state; a panic elsewhere never makes it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Creates a key for `org` with exactly these grants and returns its secret.
    pub fn create_key(
        &self,
        org: &str,
        name: &str,
        grants: Vec<String>,
        expires_at: Option<i64>,
    ) -> (String, Credential) {
        let now = self.clock.now_secs();
        let mut inner = self.lock();
        let secret = format!("gpra_{}", inner.rng.hex(16));
        let credential =
            inner.insert_credential(&secret, org, name, grants, now, expires_at, false);
        (secret, credential)
    }
}

impl Inner {
    #[allow(clippy::too_many_arguments, reason = "a plain record constructor")]
    fn insert_credential(
        &mut self,
        secret: &str,
        org: &str,
        name: &str,
        grants: Vec<String>,
        now: i64,
        expires_at: Option<i64>,
        session: bool,
    ) -> Credential {
        let credential = Credential {
            id: format!("key_{}", self.rng.hex(8)),
            org: org.to_owned(),
            name: name.to_owned(),
            prefix: secret.chars().take(12).collect(),
            grants,
            created_at: now,
            expires_at,
            revoked: false,
            session,
        };
        self.credentials
            .insert(secret.to_owned(), credential.clone());
        credential
    }

    /// The organization, created on first sight with its starting balance and order history.
    pub fn org(&mut self, org: &str, seed: u64, now: i64) -> &mut Org {
        if !self.orgs.contains_key(org) {
            let mut rng = Rng::new(seed ^ fnv(org));
            let mut ids = Vec::with_capacity(HISTORICAL_ORDERS);
            for n in 0..HISTORICAL_ORDERS {
                // Oldest first, one every ~36 hours, all finished long ago.
                let age = (HISTORICAL_ORDERS - n) as i64 * 129_600 + 86_400;
                let kind = if n % 3 == 0 {
                    OrderKind::Tasking
                } else {
                    OrderKind::Archive
                };
                let id = format!("ord_{}", rng.hex(10));
                let credits = 1_000 + (rng.next() % 90_000) as i64;
                let order = Order {
                    id: id.clone(),
                    org: org.to_owned(),
                    kind,
                    display_name: format!("Historical order {n}"),
                    created_at: now - age,
                    cancelled_at: (n % 10 == 7).then_some(now - age + 10),
                    total_credits: credits,
                    detail: Value::Null,
                };
                self.orders.insert(id.clone(), order);
                ids.push(id);
            }
            self.orgs.insert(
                org.to_owned(),
                Org {
                    balance_credits: STARTING_CREDITS,
                    orders: ids,
                },
            );
        }
        // Just inserted above when missing.
        self.orgs.entry(org.to_owned()).or_insert_with(|| Org {
            balance_credits: STARTING_CREDITS,
            orders: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;
    use serde_json::json;

    #[test]
    fn fingerprints_ignore_member_order_but_nothing_else() {
        let a = fingerprint(&json!({"a": 1, "b": [true, null, "x"]}));
        assert_eq!(a, fingerprint(&json!({"b": [true, null, "x"], "a": 1})));
        for other in [
            json!({"a": 2, "b": [true, null, "x"]}),
            json!({"a": 1, "b": [null, true, "x"]}),
            json!({"a": 1, "b": [true, null, "x"], "c": null}),
            json!({"a": "1", "b": [true, null, "x"]}),
            json!({"a": 1.0, "b": [true, null, "x"]}),
        ] {
            assert_ne!(a, fingerprint(&other), "{other}");
        }
        // Lengths are part of the input, so neighbouring strings cannot trade characters.
        assert_ne!(
            fingerprint(&json!(["ab", "c"])),
            fingerprint(&json!(["a", "bc"]))
        );
    }
}
