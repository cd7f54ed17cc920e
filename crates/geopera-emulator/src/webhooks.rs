//! Webhooks: event subscriptions, the events the emulator emits, their outbox, and signed
//! delivery over HTTP. The operations that reach these live in `ops::webhooks`; the rules are
//! documented in the crate's "Webhooks" section.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use tokio::sync::watch;

use crate::changes::Changes;
use crate::records::{Order, Pending, SigningSecret, Subscription};
use crate::state::{Inner, Shared};
use geopera_types::orders::OrderStatus;
use geopera_types::rfc3339::format_date_time;
use geopera_types::subscriptions::{
    DeliveryHeaders, DATA_ORDER_ID, DATA_STATUS, DELIVERY_HEADER_PREFIX, DELIVERY_ID_HEADER,
    EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER,
};

/// Deliveries waiting in the outbox at most; a new one beyond this drops the oldest of the
/// organization with the most waiting.
pub const MAX_PENDING_DELIVERIES: usize = 10_000;
/// Attempts per delivery before it is given up.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 8;
/// How long one delivery attempt may take, connecting included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// The wait after the first failed attempt; each further failure doubles it.
pub const FIRST_RETRY_DELAY_SECS: i64 = 10;
/// Subscriptions one organization may hold.
pub const MAX_SUBSCRIPTIONS_PER_ORG: usize = 100;
/// The most deliveries one `webhooks.drain` attempts when it names no `limit`: the most it
/// may name (a test holds it to the contract's bound).
pub const DEFAULT_DRAIN_LIMIT: usize = 2000;
/// Given-up deliveries remembered, newest last.
const GIVEN_UP_KEPT: usize = 100;
/// Deliveries attempted at the same time by one drain.
const PARALLEL_DELIVERIES: usize = 8;
/// The longest one drain spends on its attempts. Without it, a drain of 2,000 deliveries to
/// endpoints that never answer would hold its caller for 2,000 / 8 × 5 s, about 21 minutes.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// The headers the emulator sets itself; a subscription's own headers may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
];

impl Subscription {
    /// Whether an event's body is for this subscription: same organization and type, and
    /// every `filter_config` entry equal to the body's value at that dotted path.
    fn wants(&self, org: &str, event_type: &str, body: &Value) -> bool {
        self.active
            && self.org == org
            && self.event_type == event_type
            && self
                .filter_config
                .iter()
                .all(|(path, expected)| lookup(body, path) == Some(expected))
    }
}

/// The value at a dotted path such as `data.project_id`.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |value, step| value.as_object()?.get(step))
}

/// Something that happened, before it is matched to subscriptions.
#[derive(Debug)]
pub struct Event {
    pub event_type: &'static str,
    pub org: String,
    pub entity_type: &'static str,
    pub entity_id: String,
    pub data: Value,
    /// When it happened, in Unix seconds.
    pub at: i64,
}

impl Event {
    /// The body as the bytes that are sent and signed.
    pub fn body_text(&self, event_id: &str) -> String {
        self.body(event_id).to_string()
    }

    fn body(&self, event_id: &str) -> Value {
        json!({
            "event_id": event_id,
            "event_type": self.event_type,
            "timestamp": format_date_time(self.at),
            "organization_id": self.org,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "data": self.data,
        })
    }
}

/// Subscriptions, the outbox and what was given up.
#[derive(Debug, Default)]
pub struct Webhooks {
    pub subscriptions: HashMap<String, Subscription>,
    /// Oldest first, and so by `seq`.
    pub outbox: VecDeque<Pending>,
    /// The `seq` the next delivery queued gets.
    pub next_seq: u64,
    /// The `seq`s of deliveries queued or taken out since the state file last wrote them.
    pub(crate) outbox_changes: Changes<u64>,
    /// The waiting deliveries a drain is attempting now, by `seq`, each with the number of
    /// the drain that took it ([`deliver_due`]). Memory only: the deliveries stay in the
    /// outbox, and in the state file, until their attempt's outcome is applied, and after a
    /// restart one that was in flight is simply due again.
    in_flight: HashMap<u64, u64>,
    /// The number the next drain takes its deliveries under.
    next_drain: u64,
    /// Deliveries dropped because the outbox was full.
    pub dropped: u64,
    /// Deliveries given up after [`MAX_DELIVERY_ATTEMPTS`], newest last.
    pub given_up: VecDeque<Pending>,
    /// Order and job changes up to this Unix second have been turned into events.
    pub swept_to: Option<i64>,
}

impl Webhooks {
    /// Queues a delivery. When the outbox is full, the organization with the most deliveries
    /// waiting (the newcomer counted) gives up its oldest: the outbox is shared, and one
    /// tenant's flood must not push out another's retries.
    fn enqueue(&mut self, mut pending: Pending) {
        if self.outbox.len() >= MAX_PENDING_DELIVERIES {
            let org_of = |waiting: &Pending| {
                self.subscriptions
                    .get(&waiting.subscription_id)
                    .map(|subscription| subscription.org.as_str())
            };
            let mut waiting: BTreeMap<Option<&str>, usize> = BTreeMap::new();
            for queued in self.outbox.iter().chain([&pending]) {
                *waiting.entry(org_of(queued)).or_default() += 1;
            }
            // The first of the largest, so the choice does not depend on a hash.
            let heaviest = waiting
                .iter()
                .fold(
                    None,
                    |best: Option<(Option<&str>, usize)>, (org, count)| match best {
                        Some((_, most)) if most >= *count => best,
                        _ => Some((*org, *count)),
                    },
                )
                .map(|(org, _)| org);
            let oldest = heaviest.and_then(|org| self.outbox.iter().position(|q| org_of(q) == org));
            self.dropped += 1;
            match oldest.and_then(|at| self.outbox.remove(at)) {
                Some(dropped) => {
                    self.in_flight.remove(&dropped.seq);
                    self.outbox_changes.mark(&dropped.seq);
                }
                // The newcomer's organization is the heaviest and has nothing older queued.
                None => return,
            }
        }
        pending.seq = self.next_seq;
        self.next_seq += 1;
        self.outbox_changes.mark(&pending.seq);
        self.outbox.push_back(pending);
    }

    /// The waiting delivery with `seq`, for the state file.
    pub(crate) fn queued(&self, seq: u64) -> Option<&Pending> {
        self.outbox.get(self.position(seq)?)
    }

    /// Where the waiting delivery with `seq` is in the outbox.
    fn position(&self, seq: u64) -> Option<usize> {
        // Queued in `seq` order, and taken out without reordering the rest.
        self.outbox
            .binary_search_by_key(&seq, |pending| pending.seq)
            .ok()
    }

    /// Takes the waiting delivery with `seq` out of the outbox, noting it for the state file.
    fn take_out(&mut self, seq: u64) -> Option<Pending> {
        let pending = self.outbox.remove(self.position(seq)?)?;
        self.outbox_changes.mark(&seq);
        Some(pending)
    }

    /// Drops the deliveries waiting for subscription `id`, noting them for the state file.
    pub(crate) fn drop_deliveries_for(&mut self, id: &str) {
        let Webhooks {
            outbox,
            outbox_changes,
            ..
        } = self;
        outbox.retain(|pending| {
            let kept = pending.subscription_id != id;
            if !kept {
                outbox_changes.mark(&pending.seq);
            }
            kept
        });
    }

    /// Up to `limit` deliveries due at `now_ms` that no drain is attempting, taking the
    /// organizations in turns (each one's oldest first, then each one's next, ...), so that
    /// one organization's many deliveries to a slow endpoint cannot fill a drain before
    /// another's one gets a place.
    fn due_in_turns(&self, now_ms: i64, limit: usize) -> Vec<Pending> {
        let mut queues: Vec<VecDeque<&Pending>> = Vec::new();
        let mut place: HashMap<Option<&str>, usize> = HashMap::new();
        for pending in self.free_and_due(now_ms) {
            let org = self
                .subscriptions
                .get(&pending.subscription_id)
                .map(|subscription| subscription.org.as_str());
            let at = *place.entry(org).or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
            if let Some(queue) = queues.get_mut(at) {
                queue.push_back(pending);
            }
        }
        let mut turns = Vec::new();
        while turns.len() < limit && !queues.is_empty() {
            queues.retain_mut(|queue| match queue.pop_front() {
                Some(pending) if turns.len() < limit => {
                    turns.push(pending.clone());
                    true
                }
                _ => false,
            });
        }
        turns
    }

    /// Whether a delivery is due at `now_ms` that no drain is attempting.
    pub fn any_due(&self, now_ms: i64) -> bool {
        self.free_and_due(now_ms).next().is_some()
    }

    /// The deliveries due at `now_ms` that no drain is attempting, oldest first.
    fn free_and_due(&self, now_ms: i64) -> impl Iterator<Item = &Pending> {
        self.outbox.iter().filter(move |pending| {
            pending.due_ms <= now_ms && !self.in_flight.contains_key(&pending.seq)
        })
    }

    /// The outbox as a state file held it, oldest first.
    ///
    /// An attempt still out keeps its mark on a delivery the file holds: that is the same
    /// delivery (a `seq` is never given twice between writes), and without the mark the next
    /// drain would send it again while the first attempt is still out. A mark on a delivery
    /// the file does not hold goes, as its `seq` may now be given to another; that attempt's
    /// outcome is then not applied.
    /// `next_seq` is one past the largest `seq` the file's outbox holds, a row passed over
    /// as unreadable included, whose row a new delivery would otherwise replace.
    pub(crate) fn restore_outbox(&mut self, outbox: VecDeque<Pending>, next_seq: u64) {
        self.next_seq = outbox.back().map_or(0, |last| last.seq + 1).max(next_seq);
        self.outbox = outbox;
        self.outbox_changes = Changes::tracked();
        let Webhooks {
            outbox, in_flight, ..
        } = self;
        in_flight.retain(|seq, _| {
            outbox
                .binary_search_by_key(seq, |pending| pending.seq)
                .is_ok()
        });
    }

    fn give_up(&mut self, pending: Pending) {
        tracing::info!(
            event_id = %pending.event_id,
            subscription = %pending.subscription_id,
            attempts = pending.attempts,
            "webhook delivery given up"
        );
        if self.given_up.len() >= GIVEN_UP_KEPT {
            self.given_up.pop_front();
        }
        self.given_up.push_back(pending);
    }

    /// How many subscriptions `org` holds.
    pub fn count(&self, org: &str) -> usize {
        self.subscriptions
            .values()
            .filter(|subscription| subscription.org == org)
            .count()
    }
}

impl Inner {
    /// Queues `event` for every subscription that wants it, under an event id drawn from the
    /// generator. An event nobody wants draws no id, so the seeded ids of everything else stay
    /// as they were without subscriptions.
    pub fn emit(&mut self, event: &Event, now_ms: i64) {
        self.queue(event, None, now_ms);
    }

    /// [`emit`](Self::emit) for what the clock brought about rather than a request (an upload
    /// that expired), under the id a sweep gives it ([`swept_event_id`]), so that found again
    /// after its change was undone it is the same event.
    pub(crate) fn emit_found(&mut self, event: &Event, now_ms: i64) {
        self.queue(event, Some(swept_event_id(event)), now_ms);
    }

    /// [`emit`](Self::emit) under `event_id` when given, else under a drawn one.
    fn queue(&mut self, event: &Event, event_id: Option<String>, now_ms: i64) {
        let unnamed = event.body("");
        let mut wanted: Vec<String> = self
            .webhooks
            .subscriptions
            .values()
            .filter(|subscription| subscription.wants(&event.org, event.event_type, &unnamed))
            .map(|subscription| subscription.id.clone())
            .collect();
        if wanted.is_empty() {
            return;
        }
        wanted.sort();
        let event_id = event_id.unwrap_or_else(|| format!("evt_{}", self.rng.hex(12)));
        let text = event.body_text(&event_id);
        let queued: Vec<Pending> = wanted
            .into_iter()
            .map(|subscription_id| Pending {
                // Given by `enqueue`.
                seq: 0,
                event_id: event_id.clone(),
                event_type: event.event_type.to_owned(),
                subscription_id,
                body: text.clone(),
                attempts: 0,
                due_ms: now_ms,
                last_error: None,
            })
            .collect();
        for pending in queued {
            self.webhooks.enqueue(pending);
        }
    }

    /// Notices a clock set back before the last sweep, as a sweep would (see [`Self::sweep`]),
    /// without its work: a request that changes state (an order placed) notices it before
    /// the change, so the events the change brings about once the clock moves on are found by
    /// the next sweep, which would otherwise start from the later time and never see them.
    pub fn notice_set_back(&mut self, now_secs: i64) {
        if self.webhooks.swept_to.is_some_and(|from| now_secs < from) {
            self.webhooks.swept_to = Some(now_secs);
        }
    }

    /// Turns the orders that reached `fulfilled` and the jobs that finished since the last
    /// sweep into events, in the order they happened, and expires the uploads left idle
    /// ([`crate::uploads::expire_idle`]), which queues their events. All of it follows the
    /// clock, so this runs before anything reads the outbox.
    pub fn sweep(&mut self, now_ms: i64) {
        crate::uploads::expire_idle(self, None, now_ms);
        let now = now_ms.div_euclid(1000);
        let from = self.webhooks.swept_to.unwrap_or(now);
        if now <= from {
            // A clock set back (a frozen one, or a state file moved to a machine whose clock
            // is behind) sweeps again from where it is now: kept at `from`, what happens
            // until the clock passes it again would never be found. An event found twice so
            // is sent again under the same id, which a receiver can tell.
            self.webhooks.swept_to = Some(now);
            return;
        }
        self.webhooks.swept_to = Some(now);
        let wanted = |event_type: &str| {
            self.webhooks
                .subscriptions
                .values()
                .any(|subscription| subscription.active && subscription.event_type == event_type)
        };
        let orders = wanted(ORDER_FULFILLED);
        let jobs = JOB_EVENTS.iter().any(|event_type| wanted(event_type));
        let mut events = Vec::new();
        if orders {
            events.extend(self.fulfilled_between(from, now));
        }
        if jobs {
            events.extend(crate::jobs::finished_between(&self.resources, from, now));
        }
        events.sort_by_key(|event| event.at);
        for event in events {
            self.queue(&event, Some(swept_event_id(&event)), now_ms);
        }
    }

    /// The `order.fulfilled` events of the orders fulfilled in `(from, now]`, oldest first.
    fn fulfilled_between(&self, from: i64, now: i64) -> Vec<Event> {
        let mut fulfilled: Vec<(i64, &Order)> = self
            .orders
            .values()
            // The starting history is never news, even swept again after the clock was set
            // back before it ended.
            .filter(|order| !order.is_history())
            .filter_map(|order| Some((order.fulfilled_at()?, order)))
            .filter(|(at, _)| *at > from && *at <= now)
            .collect();
        fulfilled.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        fulfilled
            .into_iter()
            .map(|(at, order)| order_event(ORDER_FULFILLED, order, &OrderStatus::Fulfilled, at))
            .collect()
    }
}

/// The id of an event a sweep finds: a digest of what happened, not a draw from the generator.
///
/// A sweep whose result is not kept finds the same events again: a failed state-file write
/// undoes it after its drain delivered them, as a crash after delivering would. A receiver
/// that recognises events by id must then see the one it already has, not a new one.
fn swept_event_id(event: &Event) -> String {
    let digest = crate::uploads::sha256_hex(
        format!(
            "{}\n{}\n{}\n{}",
            event.event_type, event.org, event.entity_id, event.at
        )
        .as_bytes(),
    );
    format!("evt_{}", digest.get(..24).unwrap_or(&digest))
}

pub use geopera_types::subscriptions::{
    CLIP_JOB_COMPLETED, CLIP_JOB_FAILED, ORDER_CANCELLED, ORDER_FULFILLED,
    PROCESSING_JOB_COMPLETED, PROCESSING_JOB_FAILED, UPLOAD_COMPLETED, UPLOAD_FAILED, WEBHOOK_TEST,
};
/// The events of jobs finishing, which follow the clock like order fulfilment.
const JOB_EVENTS: [&str; 4] = [
    PROCESSING_JOB_COMPLETED,
    PROCESSING_JOB_FAILED,
    CLIP_JOB_COMPLETED,
    CLIP_JOB_FAILED,
];

/// An event about `order` now in `status`.
pub fn order_event(
    event_type: &'static str,
    order: &Order,
    status: &OrderStatus,
    at: i64,
) -> Event {
    Event {
        event_type,
        org: order.org.clone(),
        entity_type: "order",
        entity_id: order.id.clone(),
        data: json!({
            DATA_ORDER_ID: order.id,
            "type": order.kind.name(),
            DATA_STATUS: status,
            "display_name": order.display_name,
            "total_credits": order.total_credits,
        }),
        at,
    }
}

/// Why `url` may not receive deliveries, or `None` when it may.
///
/// Without `allow_local` it must be `https` and name a public host: IP literals must be
/// globally routable (an IPv4 address inside an IPv6 one, by NAT64 or 6to4, too), and names
/// must not be `localhost`, single labels or under `.localhost`, `.local`, `.localdomain`,
/// `.internal`, `.home.arpa` or the unreserved private suffixes (`.lan`, `.home`, `.corp`,
/// `.intranet`, `.private`, `.svc`). Names are not resolved here: a public name that resolves
/// to a private address is refused when a delivery connects ([`client`]).
pub fn endpoint_problem(url: &str, allow_local: bool) -> Option<String> {
    if url.len() > 2048 {
        return Some("endpoint_url must be at most 2048 characters".to_owned());
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("endpoint_url must be an absolute http(s) URL".to_owned());
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_local => {}
        scheme => {
            return Some(format!(
                "endpoint_url must use https, not {scheme} (plain http is accepted only when \
                 the emulator allows local webhooks)"
            ))
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("endpoint_url must not carry credentials".to_owned());
    }
    let Some(host) = parsed.host() else {
        return Some("endpoint_url must name a host".to_owned());
    };
    // Port 0 names no service: a connection to it fails, or on some systems reaches another
    // port than the one written.
    if parsed.port() == Some(0) {
        return Some("endpoint_url must not name port 0".to_owned());
    }
    if allow_local {
        return None;
    }
    let internal = match host {
        url::Host::Domain(name) => internal_name(name),
        url::Host::Ipv4(ip) => !public_ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => !public_ip(IpAddr::V6(ip)),
    };
    internal.then(|| {
        format!(
            "endpoint_url must be a public host: '{host}' is private, loopback, link-local or \
             internal"
        )
    })
}

fn internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    !name.contains('.')
        || [
            ".localhost",
            ".local",
            ".localdomain",
            ".internal",
            ".home.arpa",
            // Names private networks use though no registry reserves them (RFC 6762,
            // appendix G), and Kubernetes services.
            ".lan",
            ".home",
            ".corp",
            ".intranet",
            ".private",
            ".svc",
        ]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

fn public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(ip),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b)))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let [first, second, ..] = segments;
    let octets = ip.octets();
    // IPv4 addresses carried inside IPv6 reach the IPv4 host: NAT64's well-known prefix
    // (64:ff9b::/96, RFC 6052) in the last 32 bits, 6to4 (2002::/16) in bits 16 to 48.
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let carried = if nat64 {
        Some(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ))
    } else if first == 0x2002 {
        Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]))
    } else if segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
        // IPv4-translated addresses (::ffff:0:0/96, RFC 2765).
        Some(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ))
    } else {
        None
    };
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && second == 0x0db8)
        // Teredo tunnels (2001::/32) and local-use NAT64 (64:ff9b:1::/48, RFC 8215).
        || (first == 0x2001 && second == 0)
        || (first == 0x64 && second == 0xff9b && segments[2] == 1)
        // The rest of IANA's special-purpose registry that is not globally reachable:
        // site-local (fec0::/10, deprecated but still routed inside some sites), discard-only
        // (100::/64), benchmarking (2001:2::/48), ORCHID (2001:10::/28), documentation
        // (3fff::/20, RFC 9637) and segment-routing SIDs (5f00::/16, RFC 9602).
        || (first & 0xffc0) == 0xfec0
        || segments[..4] == [0x100, 0, 0, 0]
        || (first == 0x2001 && second == 2 && segments[2] == 0)
        || (first == 0x2001 && (second & 0xfff0) == 0x10)
        || (first == 0x3fff && second < 0x1000)
        || first == 0x5f00
        || carried.is_some_and(|v4| !public_v4(v4))
        || ip.to_ipv4().is_some_and(|v4| !public_v4(v4)))
}

/// The checks on a subscription's own headers.
pub fn headers_problem(headers: &DeliveryHeaders) -> Option<String> {
    if headers.len() > 20 {
        return Some("headers may hold at most 20 entries".to_owned());
    }
    for (name, value) in headers.expose() {
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
            || value.len() > 1024
        {
            return Some(format!(
                "headers['{name}'] must be a valid HTTP header of at most 1024 characters"
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with(DELIVERY_HEADER_PREFIX) {
            return Some(format!("headers['{name}'] is set by the emulator itself"));
        }
    }
    None
}

/// One attempt, with everything needed to make it without the lock.
pub struct Attempt {
    pub pending: Pending,
    pub delivery_id: String,
    pub url: String,
    pub headers: DeliveryHeaders,
    pub secret: SigningSecret,
    pub allowed: Option<String>,
}

/// How an attempt ended.
pub struct Delivered {
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

impl Delivered {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

impl Inner {
    /// The attempt for `pending`, or `None` when its subscription is gone or inactive.
    pub fn attempt(&mut self, pending: Pending, allow_local: bool) -> Option<Attempt> {
        let active = self
            .webhooks
            .subscriptions
            .get(&pending.subscription_id)
            .is_some_and(|subscription| subscription.active);
        if active {
            self.attempt_any(pending, allow_local)
        } else {
            None
        }
    }

    /// The attempt for `pending`, active subscription or not; `None` when it is gone.
    pub fn attempt_any(&mut self, pending: Pending, allow_local: bool) -> Option<Attempt> {
        let subscription = self.webhooks.subscriptions.get(&pending.subscription_id)?;
        let url = subscription.endpoint_url.clone();
        let headers = subscription.headers.clone();
        let secret = subscription.secret.clone();
        let allowed = endpoint_problem(&url, allow_local);
        let delivery_id = format!("dlv_{}", self.rng.hex(12));
        Some(Attempt {
            pending,
            delivery_id,
            url,
            headers,
            secret,
            allowed,
        })
    }
}

/// POSTs one attempt; a 2xx answer acknowledges it.
pub async fn post(client: &reqwest::Client, attempt: &Attempt) -> Delivered {
    if let Some(problem) = &attempt.allowed {
        return Delivered {
            http_status: None,
            error: Some(problem.clone()),
        };
    }
    let body = attempt.pending.body.clone().into_bytes();
    let mut request = client
        .post(&attempt.url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, attempt.secret.sign(&body))
        .header(EVENT_HEADER, &attempt.pending.event_type)
        .header(EVENT_ID_HEADER, &attempt.pending.event_id)
        .header(DELIVERY_ID_HEADER, &attempt.delivery_id);
    for (name, value) in attempt.headers.expose() {
        request = request.header(name, value);
    }
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => Delivered {
            http_status: Some(response.status().as_u16()),
            error: None,
        },
        Ok(response) => Delivered {
            http_status: Some(response.status().as_u16()),
            error: Some(format!("the endpoint answered {}", response.status())),
        },
        Err(error) if error.is_timeout() => Delivered {
            http_status: None,
            error: Some(format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs())),
        },
        Err(error) => Delivered {
            http_status: None,
            error: Some(match not_public(&error) {
                Some(refused) => refused.to_string(),
                None if error.is_connect() => "could not connect to the endpoint".to_owned(),
                // Connected, but what came back was no HTTP answer to be read: the connection
                // closed before one, or it was malformed or too large.
                None => "the endpoint's answer could not be read".to_owned(),
            }),
        },
    }
}

/// The resolver's refusal somewhere in `error`'s chain of causes, if that is why it failed.
fn not_public(error: &reqwest::Error) -> Option<&NotPublic> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(refused) = current.downcast_ref::<NotPublic>() {
            return Some(refused);
        }
        cause = current.source();
    }
    None
}

/// A delivery host whose every address is private, loopback or otherwise internal.
#[derive(Debug, thiserror::Error)]
#[error("the endpoint's host '{host}' resolves to no public address")]
struct NotPublic {
    host: String,
}

/// Resolves delivery hosts with the system's resolver and keeps only their public addresses.
///
/// Why at connection time and not when a subscription is made: a name's addresses are the
/// name owner's to change (DNS rebinding), so a check of the name when it was registered says
/// nothing about where a delivery an hour later connects. Filtering what the connection is
/// handed means the address checked is the address used. IP literals never reach a resolver;
/// [`endpoint_problem`] judges those before every attempt.
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|addr| public_ip(addr.ip())).collect();
            if public.is_empty() {
                return Err(NotPublic { host }.into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

/// The HTTP client deliveries use: bounded time, no redirects, no proxies from the
/// environment (a proxy would see, and could redirect, every delivery), and unless local
/// webhooks are allowed, connections to public addresses only ([`PublicAddressesOnly`]).
///
/// # Errors
/// When the TLS backend cannot be set up.
pub fn client(allow_local: bool) -> reqwest::Result<reqwest::Client> {
    let builder = if allow_local {
        reqwest::Client::builder()
    } else {
        reqwest::Client::builder().dns_resolver(Arc::new(PublicAddressesOnly))
    };
    builder
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(DELIVERY_TIMEOUT)
        // No idle connection is kept: receivers are many and each is delivered to seldom,
        // and kept sockets (90 s each, without bound) would take descriptors the state file
        // needs; a delivery holds one only while it runs.
        .pool_max_idle_per_host(0)
        .no_proxy()
        .user_agent(concat!(
            "geopera-emulator-webhooks/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

/// The wait after `attempts` failed attempts.
pub fn backoff_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20);
    FIRST_RETRY_DELAY_SECS.saturating_mul(1 << doublings) * 1000
}

/// What one drain did.
#[derive(Debug, Default)]
pub struct Drained {
    pub delivered: usize,
    pub failed: usize,
    pub given_up: usize,
    pub discarded: usize,
    pub remaining: usize,
}

/// Delivers up to `limit` deliveries that are due on the emulator's clock: failures are
/// rescheduled with exponential backoff, or given up after [`MAX_DELIVERY_ATTEMPTS`].
/// Organizations take turns, and what has not been attempted by [`DRAIN_DEADLINE`] stays due.
///
/// A delivery stays in the outbox, and so in the state file, while it is attempted, marked
/// in flight in memory only so that a drain running at the same time does not send it too;
/// only the attempt's outcome takes it out (or queues it again). So a stop, or another
/// request's write (kept or undone) while the attempt is out, never loses it: a read-back of
/// the file keeps its mark, and after a restart it is simply due again, under the same event
/// id.
pub async fn deliver_due(shared: &Shared, limit: usize) -> Drained {
    let mut drained = Drained::default();
    let (now_ms, drain, attempts): (i64, u64, Vec<Attempt>) = {
        let mut inner = shared.lock();
        // Read under the lock, as every sweep's: a reading taken before it can be older than
        // a sweep made meanwhile, which this sweep would take for a clock set back, finding
        // the events in between again.
        let now_ms = shared.clock.now_millis();
        inner.sweep(now_ms);
        let webhooks = &mut inner.webhooks;
        let drain = webhooks.next_drain;
        webhooks.next_drain = webhooks.next_drain.wrapping_add(1);
        let due = webhooks.due_in_turns(now_ms, limit);
        let mut attempts = Vec::with_capacity(due.len());
        for pending in due {
            let seq = pending.seq;
            match inner.attempt(pending, shared.allow_local_webhooks) {
                Some(attempt) => {
                    inner.webhooks.in_flight.insert(seq, drain);
                    attempts.push(attempt);
                }
                None => {
                    drained.discarded += 1;
                    inner.webhooks.take_out(seq);
                }
            }
        }
        (now_ms, drain, attempts)
    };
    let _taken = Taken {
        shared,
        drain,
        seqs: attempts.iter().map(|attempt| attempt.pending.seq).collect(),
    };
    let client = &shared.webhook_client;
    // Outcomes in the order they come, each applied as it comes, so that a drain abandoned
    // midway (its caller hung up, the emulator stopped) keeps those it had; up to the
    // deadline: attempts cut off there, or never started, keep their deliveries due (`_taken`
    // lets go of them) for the next drain.
    let mut outcomes = std::pin::pin!(futures::stream::iter(attempts)
        .map(|attempt| async move {
            let delivered = post(client, &attempt).await;
            (attempt, delivered)
        })
        .buffer_unordered(PARALLEL_DELIVERIES)
        .take_until(tokio::time::sleep(DRAIN_DEADLINE)));
    while let Some((attempt, delivered)) = outcomes.next().await {
        apply_outcome(
            &mut shared.lock().webhooks,
            drain,
            attempt,
            delivered,
            now_ms,
            &mut drained,
        );
    }
    drained.remaining = shared.lock().webhooks.outbox.len();
    drained
}

/// Applies one attempt's outcome for drain number `drain`, counting it in `drained`.
fn apply_outcome(
    webhooks: &mut Webhooks,
    drain: u64,
    attempt: Attempt,
    delivered: Delivered,
    now_ms: i64,
    drained: &mut Drained,
) {
    if delivered.ok() {
        drained.delivered += 1;
    } else {
        drained.failed += 1;
    }
    let seq = attempt.pending.seq;
    // Still this drain's: not gone in a read-back of the file, not dropped from a full
    // outbox, not dropped with its subscription.
    if webhooks.in_flight.get(&seq) != Some(&drain) {
        return;
    }
    webhooks.in_flight.remove(&seq);
    let Some(mut pending) = webhooks.take_out(seq) else {
        return;
    };
    if delivered.ok() {
        return;
    }
    // Saturating: a count read back from a state file may be anything.
    pending.attempts = pending.attempts.saturating_add(1);
    pending.last_error = delivered.error;
    if pending.attempts >= MAX_DELIVERY_ATTEMPTS {
        drained.given_up += 1;
        webhooks.give_up(pending);
    } else {
        // Queued again under a new `seq`, at the back.
        pending.due_ms = now_ms.saturating_add(backoff_ms(pending.attempts));
        webhooks.enqueue(pending);
    }
}

/// The deliveries one drain marked in flight, unmarked when it ends, also when it does not
/// finish (the emulator stops, or the request is dropped, while the attempts are out): they
/// are then due again rather than held by a drain that no longer runs.
struct Taken<'a> {
    shared: &'a Shared,
    drain: u64,
    seqs: Vec<u64>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let in_flight = &mut inner.webhooks.in_flight;
        for seq in &self.seqs {
            if in_flight.get(seq) == Some(&self.drain) {
                in_flight.remove(seq);
            }
        }
    }
}

/// With a clock that follows the wall clock, delivers what is due about once a second until
/// `stopped` turns true. A frozen clock never makes anything due on its own, so nothing runs.
pub async fn background(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if *stopped.borrow() {
            return;
        }
        let due = {
            let mut inner = shared.lock();
            let now_ms = shared.clock.now_millis();
            inner.sweep(now_ms);
            inner.webhooks.any_due(now_ms)
        };
        if due {
            // Sent only while the state file takes writes: a failed write undoes what the
            // deliveries changed, so each would be sent again a second later, every second
            // the file refuses. What was found is found again once it takes them.
            let writable = match shared.lane().await {
                Ok(lane) => shared.persist(&lane).is_ok(),
                Err(_) => false,
            };
            if !writable {
                continue;
            }
            deliver_due(&shared, DEFAULT_DRAIN_LIMIT).await;
            // No one to answer: a failure is logged and undoes the bookkeeping, so deliveries
            // made are made again, as after a crash.
            if let Ok(lane) = shared.lane().await {
                let _ = shared.persist(&lane);
            }
        }
    }
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
