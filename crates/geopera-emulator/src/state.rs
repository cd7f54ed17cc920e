//! Everything the emulator remembers between requests, in memory; the state file, when there
//! is one, is written from here through `store`.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::StatusCode;
use serde_json::Value;

use crate::catalog::{Catalog, Features};
use crate::changes::Tracked;
use crate::clock::ManualClock;
use crate::downloads::DownloadKey;
use crate::error::ApiError;
use crate::faults::select::FaultState;
use crate::faults::FaultPlan;
use crate::idempotency::Claims;
use crate::limits::{RateLimits, Windows};
use crate::oidc::sessions::{digest, Sessions, TokenDigest};
use crate::oidc::User;
use crate::recording::RequestLog;
use crate::records::{Credential, Folded, NewKey, Order, OrderKind, Org};
use crate::resources::Resources;
use crate::rng::{fnv, Rng};
use crate::store::{Snapshot, SnapshotRef, Store};
use crate::webhooks::Webhooks;

/// The organization the demo key and [`create_key`](crate::EmulatorHandle::create_key) keys
/// belong to.
pub const DEMO_ORG: &str = "org_demo";
/// Credits every organization starts with (A$5,000).
pub const STARTING_CREDITS: i64 = 500_000;
/// Orders every organization already has when first seen, so paging can be exercised.
pub const HISTORICAL_ORDERS: usize = 250;
/// Every scope there is, as one grant.
pub const ALL_SCOPES: &str = "*";
/// The most API keys one organization holds, revoked and expired ones included until one
/// more is minted in their place: a loop that mints keys would otherwise grow the memory,
/// the state file and every scan of the keys without bound.
pub const MAX_KEYS_PER_ORG: usize = 1_000;

/// Mutable state behind one lock (never held across an `.await`).
#[derive(Debug)]
pub struct Inner {
    /// API keys and session tokens, by the digest of their secret ([`digest`]): the secret
    /// itself is shown once, when made, and kept nowhere, in memory or in the state file.
    pub credentials: Tracked<TokenDigest, Credential>,
    pub rng: Rng,
    pub windows: Windows,
    pub claims: Claims,
    pub orgs: Tracked<String, Org>,
    pub orders: Tracked<String, Order>,
    /// How many times each operation executed.
    pub counters: HashMap<String, u64>,
    pub requests: RequestLog,
    pub faults: FaultState,
    /// Signed-in sessions, refresh-token families and device logins.
    pub oidc: Sessions,
    /// Event subscriptions and the deliveries waiting for them.
    pub webhooks: Webhooks,
    /// Projects, collections, items, jobs, uploads and the other records users create.
    pub resources: Resources,
    /// How much each organization stores, estimated ([`crate::storage`]).
    pub(crate) stored: crate::storage::Estimates,
    /// Whether memory still holds changes a failed write did not keep, because the state file
    /// could not be read back then: nothing is written, and no operation that takes the
    /// write lane runs, on top of them until it can. A read-only operation (and a drain,
    /// before it takes the lane) can still see them meanwhile; a file that refuses both a
    /// write and a read is one something else holds locked.
    unkept: bool,
}

/// State shared by every request of one emulator.
pub struct Shared {
    pub seed: u64,
    pub clock: ManualClock,
    pub limits: RateLimits,
    /// Length of a rate-limit window in milliseconds: 60 000, as the API's, unless a test
    /// shortened it to see many windows in seconds.
    pub rate_window_ms: i64,
    pub base_url: String,
    pub catalog: Arc<Catalog>,
    /// The catalog's items as this emulator answers them.
    pub features: Features,
    pub spec: Option<Bytes>,
    /// The largest request body read, in bytes.
    pub body_limit: usize,
    pub demo_key: String,
    pub session_token: String,
    /// Who can sign in with a password or approve a device login.
    pub users: Vec<User>,
    /// Whether webhooks may go to plain-HTTP, loopback and private endpoints.
    pub allow_local_webhooks: bool,
    /// Sends webhook deliveries.
    pub webhook_client: reqwest::Client,
    /// Signs and checks the download links of finished jobs.
    pub download_key: DownloadKey,
    store: Option<Store>,
    /// The write lane: see [`Lane`].
    lane: tokio::sync::Mutex<()>,
    inner: Mutex<Inner>,
}

/// Its settings only: the demo key and session token are credentials, and the state behind
/// the lock holds every key's secret and the answers kept for idempotency keys.
impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("seed", &self.seed)
            .field("base_url", &self.base_url)
            .field("clock", &self.clock)
            .field("limits", &self.limits)
            .field("body_limit", &self.body_limit)
            .field("allow_local_webhooks", &self.allow_local_webhooks)
            .finish_non_exhaustive()
    }
}

/// Held from before a change to the state the file keeps until the write that keeps it,
/// by whoever then tells a client the change was kept; [`Shared::persist`] asks for it.
///
/// A write takes every change made since the last one, and a failed write puts memory back
/// to the file, so with two such changes in flight one request's write could keep, or its
/// failure undo, the other's, whose client would then be told the opposite of what happened.
/// Changes nobody is told were kept (an organization seen for the first time on a read,
/// events swept from the clock, webhook delivery bookkeeping) are made outside the lane:
/// the next write keeps them, or a failed one undoes them, either of which is true to them.
///
/// Without a state file nothing is written or undone, and the lane is not taken.
pub(crate) struct Lane<'a> {
    _held: Option<tokio::sync::MutexGuard<'a, ()>>,
}

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
        users: Vec<User>,
        webhooks: (bool, reqwest::Client),
        download_key: DownloadKey,
    ) -> Shared {
        let mut rng = Rng::new(seed ^ 0x005e_ed0f_4e15);
        let demo_key = format!("{}{}", geopera_types::API_KEY_PREFIX, rng.hex(16));
        let session_token = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.{}",
            rng.hex(24),
            rng.hex(8)
        );
        let now = clock.now_secs();
        let mut inner = Inner {
            credentials: Tracked::default(),
            rng,
            windows: Windows::default(),
            claims: Claims::default(),
            orgs: Tracked::default(),
            orders: Tracked::default(),
            counters: HashMap::new(),
            requests,
            faults: FaultState::new(faults),
            oidc: Sessions::default(),
            webhooks: Webhooks::default(),
            resources: Resources::default(),
            stored: crate::storage::Estimates::default(),
            unkept: false,
        };
        if store.is_some() {
            // The file is written by what changed, from the first record on; without one,
            // nothing would ever take the changes.
            inner.credentials.changes.track();
            inner.orgs.changes.track();
            inner.orders.changes.track();
            inner.oidc.families.changes.track();
            inner.oidc.access.changes.track();
            inner.webhooks.outbox_changes.track();
            inner.resources.changes.track();
            inner.claims.changes.track();
        }
        let every_scope = || vec![ALL_SCOPES.to_owned()];
        let demo = NewKey::new(DEMO_ORG, "demo", every_scope());
        inner.insert_credential(&demo_key, demo, now, false);
        let session = NewKey::new(DEMO_ORG, "session", every_scope());
        inner.insert_credential(&session_token, session, now, true);
        let (store, snapshot) = store.unzip();
        let mut download_key = download_key;
        if let Some(mut snapshot) = snapshot.flatten() {
            // Links handed out before the restart are still good for their time.
            if let Some(kept) = snapshot.download_key.take() {
                download_key = kept;
            }
            // The clock resumes no earlier than the file's last reading rather than going back
            // in time, which would turn fulfilled orders and finished jobs back into pending
            // ones and find their events again: a frozen clock at that reading, and a ticking
            // one moved ahead before the restart (by the control endpoint, say) at least
            // there, ticking on from it. A clock already later than the reading is kept.
            let resumed = snapshot
                .clock_ms
                .map_or(0, |at| at.saturating_sub(clock.now_millis()));
            if resumed > 0 {
                clock.advance(std::time::Duration::from_millis(resumed.unsigned_abs()));
            }
            // The demo credentials derive from the seed, so the file holds the same ones.
            inner.restore(snapshot, clock.now_millis());
        }
        // Orders fulfilled before the first start are history, not news.
        inner.webhooks.swept_to.get_or_insert(clock.now_secs());
        let (allow_local_webhooks, webhook_client) = webhooks;
        let catalog = Catalog::for_seed(seed);
        Shared {
            seed,
            features: Features::new(catalog.clone(), base_url.clone()),
            catalog,
            clock,
            limits,
            rate_window_ms: crate::limits::millis(geopera_types::RateClass::WINDOW),
            base_url,
            spec,
            body_limit,
            demo_key,
            session_token,
            users,
            allow_local_webhooks,
            webhook_client,
            download_key,
            store,
            lane: tokio::sync::Mutex::new(()),
            inner: Mutex::new(inner),
        }
    }

    /// Waits for the write lane ([`Lane`]), first putting memory back to the state file if
    /// an earlier failed write could not.
    ///
    /// # Errors
    /// A 503 problem while the file cannot be read back: the operation must not run on top
    /// of a change that was never kept.
    pub(crate) async fn lane(&self) -> Result<Lane<'_>, ApiError> {
        if self.store.is_none() {
            return Ok(Lane { _held: None });
        }
        let lane = Lane {
            _held: Some(self.lane.lock().await),
        };
        let mut inner = self.lock();
        if inner.unkept {
            self.read_back(&mut inner)?;
        }
        Ok(lane)
    }

    /// The write lane for a write nobody waits on (the emulator's handle, its last write),
    /// when no one else holds it; otherwise the holder's write takes the change along.
    pub(crate) fn try_lane(&self) -> Option<Lane<'_>> {
        if self.store.is_none() {
            return Some(Lane { _held: None });
        }
        let lane = Lane {
            _held: Some(self.lane.try_lock().ok()?),
        };
        let mut inner = self.lock();
        if inner.unkept {
            // Failing, it stays marked, and the write that follows fails the same way.
            let _ = self.read_back(&mut inner);
        }
        Some(lane)
    }

    /// Writes a state file that holds no state yet, whole, so that a write failing later has
    /// a state to go back to.
    ///
    /// # Errors
    /// When SQLite cannot write the file.
    pub(crate) fn write_first(&self) -> std::io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut inner = self.lock();
        self.save(store, &mut inner).map_err(|error| {
            std::io::Error::other(format!("state file {}: {error}", store.path().display()))
        })
    }

    /// Writes orders, keys, balances, answered idempotency claims, signed-in sessions, event
    /// subscriptions (with their signing secrets), waiting webhook deliveries and the
    /// resources changed since the last write to the state file, if there is one.
    ///
    /// # Errors
    /// A 503 problem when the file could not be written (locked by another program, disk
    /// full, damaged), for the caller to answer instead of its success: a client must never
    /// be told a change was kept that a restart would lose. See
    /// [`persist_locked`](Self::persist_locked) for what memory holds then.
    pub(crate) fn persist(&self, lane: &Lane<'_>) -> Result<(), ApiError> {
        self.persist_locked(lane, &mut self.lock())
    }

    /// [`persist`](Self::persist) under a lock the caller already holds, so that what it
    /// does with the outcome (releasing an idempotency claim) happens before any other
    /// request sees the state.
    ///
    /// After a failed write, memory is read back from the file, which the failed transaction
    /// left as it was: the client is told the change was not kept, so it must be gone, or a
    /// retry (which the 503 invites) would make it twice, and the emulator would serve what a
    /// restart forgets. Reading the whole file costs what it holds, but only on this path:
    /// keeping a copy of what each request may touch would cost every request. When the file
    /// cannot be read either (another program holds its lock), [`lane`](Self::lane) and the
    /// next write try again, and refuse until they can.
    ///
    /// # Errors
    /// As [`persist`](Self::persist).
    pub(crate) fn persist_locked(
        &self,
        _lane: &Lane<'_>,
        inner: &mut Inner,
    ) -> Result<(), ApiError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        if inner.unkept {
            self.read_back(inner)?;
        }
        let Err(error) = self.save(store, inner) else {
            return Ok(());
        };
        tracing::warn!(%error, "could not write the state file");
        // Failing, the next lane or write tries again.
        let _ = self.read_back(inner);
        Err(ApiError::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the state file could not be written ({error}), so the change would not \
                 survive a restart and was undone; retry the request"
            ),
        )
        .with_header(RETRY_AFTER, 1))
    }

    /// [`read_back`](Self::read_back) in the write lane, for a change undone after a failed
    /// write (a clock move): the read-back the failure made saw the change. A file that
    /// cannot be read leaves memory marked as unkept, which the next lane reads back.
    pub(crate) fn read_back_now(&self, _lane: &Lane<'_>) {
        let _ = self.read_back(&mut self.lock());
    }

    /// Puts memory back to what the state file holds, or marks it as holding changes that
    /// were not kept when the file cannot be read.
    ///
    /// # Errors
    /// A 503 problem when the file cannot be read.
    fn read_back(&self, inner: &mut Inner) -> Result<(), ApiError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        match store.read_back() {
            Ok(snapshot) => {
                // The ids drawn since the last write went out (to a webhook receiver, or in
                // an answer a client read), so the generator never draws them again; and
                // keys claimed by requests still awaiting their deliveries, outside the
                // lane, stay theirs, which a file never holds until answered.
                let rng = inner.rng.clone();
                let running = inner.claims.running();
                let withheld = inner.claims.withheld();
                inner.restore(snapshot, self.clock.now_millis());
                inner.rng = rng;
                inner.claims.resume(running);
                inner.claims.keep_withheld(withheld);
                inner.unkept = false;
                Ok(())
            }
            Err(error) => {
                inner.unkept = true;
                tracing::warn!(%error, "could not read the state file back after a failed write");
                Err(ApiError::problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "a change the state file could not take is still to be undone, and \
                         the file cannot be read to undo it ({error}); retry the request"
                    ),
                )
                .with_header(RETRY_AFTER, 1))
            }
        }
    }

    /// Writes what changed since the last write that succeeded, in one transaction.
    fn save(&self, store: &Store, inner: &mut Inner) -> rusqlite::Result<()> {
        let now_ms = self.clock.now_millis();
        let changed_resources = inner.resources.changes.take();
        let changed_claims = inner.claims.changes.take();
        let changed_credentials = inner.credentials.changes.take();
        let changed_orgs = inner.orgs.changes.take();
        let changed_orders = inner.orders.changes.take();
        let changed_sessions = inner.oidc.families.changes.take();
        let changed_access = inner.oidc.access.changes.take();
        let changed_outbox = inner.webhooks.outbox_changes.take();
        let snapshot = SnapshotRef {
            seed: self.seed,
            rng_state: inner.rng.state(),
            credentials: changed_rows(&changed_credentials, &inner.credentials),
            orgs: changed_rows(&changed_orgs, &inner.orgs),
            orders: changed_rows(&changed_orders, &inner.orders),
            claims: changed_claims
                .iter()
                .map(|slot| (slot, inner.claims.durable(slot, now_ms)))
                .collect(),
            sessions: changed_rows(&changed_sessions, &inner.oidc.families),
            access: changed_rows(&changed_access, &inner.oidc.access),
            subscriptions: &inner.webhooks.subscriptions,
            outbox: changed_outbox
                .iter()
                .map(|seq| (*seq, inner.webhooks.queued(*seq)))
                .collect(),
            swept_to: inner.webhooks.swept_to,
            resources: changed_resources
                .iter()
                .map(|id| (id.as_str(), inner.resources.record(id)))
                .collect(),
            clock_ms: now_ms,
            download_key: &self.download_key,
        };
        store.save(&snapshot)
    }

    /// Puts `plan` in force from the next request on, with fresh counters, and ends a 429
    /// burst the old plan started.
    pub fn set_faults(&self, plan: FaultPlan) {
        self.lock().faults.replace_plan(plan);
    }

    /// Locks the mutable state; a panic elsewhere never makes it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Creates a key and returns its secret with the stored record.
    ///
    /// The secret comes from the operating system, not the seeded stream: that stream's
    /// state can be worked out from any id it produced, which every tenant sees, so a
    /// secret drawn from it could be computed by another organization.
    ///
    /// The organization holds at most [`MAX_KEYS_PER_ORG`] keys: at the bound, its oldest
    /// revoked or expired key goes to make room (no operation deletes one), and with none of
    /// those the key is refused.
    ///
    /// # Errors
    /// 500 when the operating system has no randomness to give; 422 when the organization
    /// holds [`MAX_KEYS_PER_ORG`] keys that are all live.
    pub fn create_key(&self, key: NewKey) -> Result<(String, Credential), ApiError> {
        let random = crate::rng::os_hex(16).map_err(|_| {
            ApiError::problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no randomness available for a key",
            )
        })?;
        let secret = format!("{}{random}", geopera_types::API_KEY_PREFIX);
        let now = self.clock.now_secs();
        let mut inner = self.lock();
        inner.make_room_for_key(&key.org, now)?;
        let credential = inner.insert_credential(&secret, key, now, false);
        Ok((secret, credential))
    }
}

/// The rows the state file should hold under the keys that changed: the record, or `None`
/// for one removed since.
fn changed_rows<'a, K: Eq + Hash, V>(
    changed: &'a HashSet<K>,
    records: &'a HashMap<K, V>,
) -> Vec<(&'a K, Option<&'a V>)> {
    changed.iter().map(|key| (key, records.get(key))).collect()
}

impl Inner {
    /// Replaces everything the state file keeps with what it holds; what it does not keep
    /// (rate windows, counters, recorded requests, device logins) stays.
    fn restore(&mut self, snapshot: Snapshot, now_ms: i64) {
        self.rng = Rng::new(snapshot.rng_state);
        self.credentials = Tracked::restored(snapshot.credentials);
        self.orgs = Tracked::restored(snapshot.orgs);
        self.orders = Tracked::restored(snapshot.orders);
        self.claims = Claims::restored(snapshot.claims, now_ms);
        self.oidc.families = Tracked::restored(snapshot.sessions);
        self.oidc.access = Tracked::restored(snapshot.access);
        self.oidc.purge_sessions(now_ms);
        self.webhooks.subscriptions = snapshot.subscriptions;
        self.webhooks
            .restore_outbox(snapshot.outbox, snapshot.outbox_next_seq);
        self.webhooks.swept_to = snapshot.swept_to.or(self.webhooks.swept_to);
        self.resources = Resources::restored(snapshot.resources);
        // Sizes measured on what was undone would be too large.
        self.stored = crate::storage::Estimates::default();
    }

    /// Retires the organization's oldest revoked or expired key once it holds
    /// [`MAX_KEYS_PER_ORG`], or refuses one more.
    fn make_room_for_key(&mut self, org: &str, now: i64) -> Result<(), ApiError> {
        let keys = || {
            self.credentials
                .iter()
                .filter(|(_, key)| key.org == org && !key.session)
        };
        if keys().count() < MAX_KEYS_PER_ORG {
            return Ok(());
        }
        let spent = keys()
            .filter(|(_, key)| key.revoked || key.expires_at.is_some_and(|at| at <= now))
            .min_by(|(_, a), (_, b)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
            .map(|(digest, key)| (*digest, key.id.clone()));
        let Some((digest, id)) = spent else {
            return Err(ApiError::invalid(
                &[],
                format!(
                    "an organization may hold at most {MAX_KEYS_PER_ORG} API keys; revoke \
                     some first"
                ),
            ));
        };
        self.credentials.remove(&digest);
        self.oidc.end_sessions_of_key(&id, org);
        Ok(())
    }

    fn insert_credential(
        &mut self,
        secret: &str,
        key: NewKey,
        now: i64,
        session: bool,
    ) -> Credential {
        let id = format!("key_{}", self.rng.hex(8));
        let credential = Credential::mint(id, secret, key, now, session);
        self.credentials.insert(digest(secret), credential.clone());
        credential
    }

    /// The organization, to be read, created on first sight with its starting balance, order
    /// history and default project ([`crate::starter`]), and for [`DEMO_ORG`] a default card.
    /// Reading it is not a change for the state file to write; [`org_mut`](Self::org_mut) is.
    pub fn org(&mut self, org: &str, seed: u64, now: i64) -> &Org {
        if !self.orgs.contains_key(org) {
            crate::starter::seed(&mut self.resources, seed, org, now);
            if org == DEMO_ORG {
                crate::starter::demo_card(&mut self.resources, seed, org, now);
            }
            // Events up to now first, so the history below, all finished before now, is
            // never news.
            self.sweep(now.saturating_mul(1000));
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
                    folded: Folded::default(),
                },
            );
        }
        // Just inserted above when missing.
        self.orgs.get_or_insert_with(org.to_owned(), || Org {
            balance_credits: STARTING_CREDITS,
            orders: Vec::new(),
            folded: Folded::default(),
        })
    }

    /// The organization, to be changed (its balance, its orders), created on first sight as
    /// [`org`](Self::org) does.
    pub fn org_mut(&mut self, org: &str, seed: u64, now: i64) -> &mut Org {
        self.org(org, seed, now);
        // Made just above when missing.
        self.orgs.get_mut_or_insert_with(org.to_owned(), || Org {
            balance_credits: STARTING_CREDITS,
            orders: Vec::new(),
            folded: Folded::default(),
        })
    }
}
