//! Event subscriptions and webhooks: the subscription operations per organization, the SSRF
//! guard, signed deliveries to a receiver on loopback, retries on the emulator's clock, and
//! subscriptions kept in the state file.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use geopera_emulator::{Emulator, EmulatorBuilder, RateLimits};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::Api;
use crate::state::{hold_write_lock, one_row, TempFile, Writes};

/// One POST the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

struct Script {
    got: Mutex<Vec<Received>>,
    /// Statuses to answer, in order; 200 once they run out.
    answers: Mutex<VecDeque<u16>>,
    /// Whether answers go out at once; while not, each waits (at most [`HELD_AT_MOST`]).
    open: tokio::sync::watch::Sender<bool>,
    /// Deliveries whose sender hung up before they were answered.
    abandoned: AtomicUsize,
}

/// Counts a delivery as abandoned unless it was answered.
struct Unanswered<'a>(Option<&'a AtomicUsize>);

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(abandoned) = self.0 {
            abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The longest a held receiver keeps a delivery waiting: within the emulator's delivery
/// timeout, so a test that forgets to release it still ends.
const HELD_AT_MOST: Duration = Duration::from_secs(4);

/// A webhook receiver on 127.0.0.1, served on its own thread until dropped.
pub(crate) struct Receiver {
    pub(crate) url: String,
    script: Arc<Script>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    pub(crate) fn start(answers: &[u16]) -> Receiver {
        let script = Arc::new(Script {
            got: Mutex::default(),
            answers: Mutex::default(),
            open: tokio::sync::watch::Sender::new(true),
            abandoned: AtomicUsize::new(0),
        });
        script
            .answers
            .lock()
            .expect("lock")
            .extend(answers.iter().copied());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(script.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Receiver {
            url,
            script,
            _stop: stop,
        }
    }

    pub(crate) fn got(&self) -> Vec<Received> {
        self.script.got.lock().expect("lock").clone()
    }

    /// Keeps the deliveries that arrive from now on waiting for their answer until
    /// [`release`](Self::release).
    pub(crate) fn hold(&self) {
        self.script.open.send_replace(false);
    }

    pub(crate) fn release(&self) {
        self.script.open.send_replace(true);
    }

    /// Waits, a few seconds at most, until the senders of `count` deliveries have hung up on
    /// them before they were answered.
    pub(crate) fn wait_for_abandoned(&self, count: usize) {
        for _ in 0..200 {
            if self.script.abandoned.load(Ordering::SeqCst) >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{count} deliveries were not abandoned");
    }

    /// Waits, a few seconds at most, until `count` deliveries have arrived.
    pub(crate) fn wait_for(&self, count: usize) {
        for _ in 0..200 {
            if self.got().len() >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{count} deliveries did not arrive; got {}",
            self.got().len()
        );
    }
}

async fn receive(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    script
        .got
        .lock()
        .expect("lock")
        .push(Received { headers, body });
    let mut unanswered = Unanswered(Some(&script.abandoned));
    let mut open = script.open.subscribe();
    let _ = tokio::time::timeout(HELD_AT_MOST, open.wait_for(|open| *open)).await;
    unanswered.0 = None;
    let status = script.answers.lock().expect("lock").pop_front();
    StatusCode::from_u16(status.unwrap_or(200)).unwrap_or(StatusCode::OK)
}

pub(crate) fn local() -> EmulatorBuilder {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .allow_local_webhooks(true)
}

pub(crate) fn subscribe(api: &Api, event_type: &str, url: &str) -> Value {
    let created = api.call(
        "event_subscriptions.create",
        json!({"event_type": event_type, "endpoint_url": url, "description": "test hook"}),
    );
    assert_eq!(created.status, 200, "{:?}", created.body);
    created.json()
}

/// Places an archive order with the demo key and returns its id.
fn place_order(api: &Api) -> String {
    place_order_as(api, &format!("Bearer {}", api.emu.api_key()))
}

/// Places an archive order with the credential in `authorization` and returns its id.
fn place_order_as(api: &Api, authorization: &str) -> String {
    let headers = [("authorization", authorization)];
    let id = api
        .call_with(
            "catalog.search",
            &json!({"host_name": "earthsearch-aws", "limit": 1}),
            &headers,
        )
        .json()["features"][0]["id"]
        .clone();
    let placed = api.call_with(
        "orders.archive.place",
        &json!({"captures": [{"id": id}]}),
        &headers,
    );
    assert_eq!(placed.status, 202, "{:?}", placed.json());
    placed.json()["orderId"]
        .as_str()
        .expect("order id")
        .to_owned()
}

pub(crate) fn drain(api: &Api) -> Value {
    let drained = api.call_with("webhooks.drain", &json!({}), &[]);
    assert_eq!(drained.status, 200, "drain needs no credentials");
    drained.json()
}

/// `sha256=<hex>` of the raw body keyed by the secret, computed independently.
fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={digest}")
}

#[test]
fn subscriptions_round_trip_per_organization_and_show_the_secret_once() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    let created = subscribe(&api, "order.fulfilled", &receiver.url);
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("the secret, once");
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(created["active"], true);

    let got = api
        .call("event_subscriptions.get", json!({"subscription_id": id}))
        .json();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["endpoint_url"], receiver.url.as_str());
    assert!(got.get("secret").is_none(), "get redacts the secret");
    assert!(!got.to_string().contains(secret));

    subscribe(&api, "order.cancelled", &receiver.url);
    let listed = api.call("event_subscriptions.list", json!({})).json();
    assert_eq!(listed["total"], 2);
    assert!(
        !listed.to_string().contains("whsec_"),
        "list redacts secrets"
    );
    let fulfilled = api
        .call(
            "event_subscriptions.list",
            json!({"event_type": "order.fulfilled"}),
        )
        .json();
    assert_eq!(fulfilled["total"], 1);
    assert_eq!(fulfilled["subscriptions"][0]["id"], id.as_str());

    let updated = api.call(
        "event_subscriptions.update",
        json!({"subscription_id": id, "active": false, "description": "paused",
               "filter_config": {"entity_type": "order"}}),
    );
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["active"], false);
    assert!(updated.json().get("secret").is_none());
    let inactive = api
        .call("event_subscriptions.list", json!({"active": false}))
        .json();
    assert_eq!(inactive["total"], 1);
    assert_eq!(inactive["subscriptions"][0]["description"], "paused");

    let other = api
        .emu
        .create_key_in_org("org_other", &["event_subscriptions:*"]);
    for (op, body) in [
        ("event_subscriptions.get", json!({"subscription_id": id})),
        (
            "event_subscriptions.update",
            json!({"subscription_id": id, "active": true}),
        ),
        ("event_subscriptions.test", json!({"subscription_id": id})),
        ("event_subscriptions.delete", json!({"subscription_id": id})),
    ] {
        assert_eq!(api.call_as(&other, op, body).status, 404, "{op}");
    }
    let theirs = api.call_as(&other, "event_subscriptions.list", json!({}));
    assert_eq!(theirs.json()["total"], 0);

    let deleted = api.call("event_subscriptions.delete", json!({"subscription_id": id}));
    assert_eq!(deleted.json(), json!({"deleted": true}));
    let gone = api.call("event_subscriptions.get", json!({"subscription_id": id}));
    assert_eq!(gone.status, 404);
}

#[test]
fn loopback_and_plain_http_endpoints_are_refused_without_the_flag() {
    let api = Api::start();
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://hooks.example.com/hook",
    ] {
        let refused = api.call(
            "event_subscriptions.create",
            json!({"event_type": "order.fulfilled", "endpoint_url": url}),
        );
        assert_eq!(refused.status, 422, "{url}");
        let detail = &refused.json()["detail"][0];
        assert_eq!(detail["loc"], json!(["body", "endpoint_url"]), "{url}");
        assert!(
            detail["msg"]
                .as_str()
                .is_some_and(|msg| msg.contains("endpoint_url")),
            "{detail}"
        );
    }
    let public = api.call(
        "event_subscriptions.create",
        json!({"event_type": "order.fulfilled", "endpoint_url": "https://hooks.example.com/x"}),
    );
    assert_eq!(public.status, 200);
    let id = public.json()["id"].clone();
    let moved = api.call(
        "event_subscriptions.update",
        json!({"subscription_id": id, "endpoint_url": "https://10.0.0.8/x"}),
    );
    assert_eq!(moved.status, 422);
}

#[test]
fn a_fulfilled_order_is_delivered_signed_on_drain() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    let created = subscribe(&api, "order.fulfilled", &receiver.url);
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let order = place_order(&api);

    assert_eq!(drain(&api)["drained"], 0, "not fulfilled yet");
    api.emu.clock().advance(Duration::from_secs(301));
    let drained = drain(&api);
    assert_eq!(
        (drained["drained"].clone(), drained["remaining"].clone()),
        (json!(1), json!(0))
    );

    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let delivery = &got[0];
    assert_eq!(delivery.header("content-type"), "application/json");
    assert_eq!(delivery.header("x-geopera-event"), "order.fulfilled");
    assert_eq!(
        delivery.header("x-geopera-signature"),
        signature(&secret, &delivery.body),
        "HMAC-SHA256 of the raw body keyed by the secret"
    );
    let body = delivery.json();
    assert_eq!(body["event_type"], "order.fulfilled");
    assert_eq!(body["event_id"], delivery.header("x-geopera-event-id"));
    assert_eq!(body["entity_type"], "order");
    assert_eq!(body["entity_id"], order.as_str());
    assert_eq!(body["organization_id"], geopera_emulator::DEMO_ORG);
    assert_eq!(body["data"]["status"], "fulfilled");
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(delivery.header("x-geopera-delivery-id").starts_with("dlv_"));

    assert_eq!(drain(&api)["drained"], 0, "delivered once");
    assert_eq!(receiver.got().len(), 1);
}

/// A clock set back sweeps from where it is now: an order fulfilled after that is delivered,
/// though the last sweep had gone past its time. The sweep stayed at the later time, and such
/// events were never found.
#[test]
fn an_order_fulfilled_after_the_clock_is_set_back_is_delivered() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    subscribe(&api, "order.fulfilled", &receiver.url);
    let start = api.emu.clock().now_secs();
    api.emu.clock().advance(Duration::from_secs(3_600));
    assert_eq!(drain(&api)["drained"], 0);
    api.emu.clock().set(start);
    let order = place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(&api)["drained"], 1);
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["entity_id"], order.as_str());
}

/// The starting history is never news, even when the clock is set back before some of it
/// ended, a call notices that, and the clock moves on past it again.
#[test]
fn the_history_is_not_news_after_the_clock_is_set_back() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    subscribe(&api, "order.fulfilled", &receiver.url);
    let now = api.emu.clock().now_secs();
    api.emu.clock().set(now - 30 * 86_400);
    assert_eq!(api.call("orders.list", json!({"size": 1})).status, 200);
    api.emu.clock().set(now);
    assert_eq!(drain(&api)["drained"], 0);
    assert!(receiver.got().is_empty());
}

#[test]
fn the_history_of_an_organization_seen_late_is_not_news() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    subscribe(&api, "order.fulfilled", &receiver.url);
    api.emu.clock().advance(Duration::from_secs(30 * 86_400));
    let late = api
        .emu
        .create_key_in_org("org_late", &["event_subscriptions:*", "orders:read"]);
    let created = api.call_as(
        &late,
        "event_subscriptions.create",
        json!({"event_type": "order.fulfilled", "endpoint_url": receiver.url}),
    );
    assert_eq!(created.status, 200);
    let listed = api.call_as(&late, "orders.list", json!({"size": 1}));
    assert_eq!(listed.json()["totalElements"], 250, "the history exists");
    api.emu.clock().advance(Duration::from_secs(60));
    assert_eq!(drain(&api)["drained"], 0);
    assert!(receiver.got().is_empty());
}

#[test]
fn a_failed_delivery_is_retried_after_the_backoff_with_the_same_event_id() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[500]);
    let created = subscribe(&api, "order.fulfilled", &receiver.url);
    let secret = created["secret"].as_str().expect("secret").to_owned();
    place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));

    let first = drain(&api);
    assert_eq!(
        (first["failed"].clone(), first["remaining"].clone()),
        (json!(1), json!(1))
    );
    let second = drain(&api);
    assert_eq!(second["drained"], 0, "not due before the backoff");
    assert_eq!(receiver.got().len(), 1);
    api.emu.clock().advance(Duration::from_secs(10));
    let third = drain(&api);
    assert_eq!(
        (third["drained"].clone(), third["remaining"].clone()),
        (json!(1), json!(0))
    );

    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].header("x-geopera-event-id"),
        got[1].header("x-geopera-event-id")
    );
    assert_ne!(
        got[0].header("x-geopera-delivery-id"),
        got[1].header("x-geopera-delivery-id")
    );
    assert_eq!(got[0].body, got[1].body, "the same bytes on every attempt");
    for delivery in &got {
        assert_eq!(
            delivery.header("x-geopera-signature"),
            signature(&secret, &delivery.body)
        );
    }
}

#[test]
fn a_delivery_is_given_up_after_eight_failed_attempts() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[503; 8]);
    subscribe(&api, "order.cancelled", &receiver.url);
    let order = place_order(&api);
    assert_eq!(
        api.call("orders.cancel", json!({"order_id": order})).status,
        200
    );
    let mut given_up = 0;
    for _ in 0..8 {
        given_up += drain(&api)["given_up"].as_i64().expect("count");
        // Longer than the longest backoff (640 s).
        api.emu.clock().advance(Duration::from_secs(700));
    }
    assert_eq!(given_up, 1);
    assert_eq!(receiver.got().len(), 8);
    assert_eq!(
        receiver.got()[0].header("x-geopera-event"),
        "order.cancelled"
    );
    let after = drain(&api);
    assert_eq!(
        (after["drained"].clone(), after["remaining"].clone()),
        (json!(0), json!(0))
    );
}

#[test]
fn the_test_operation_delivers_a_signed_test_event_at_once() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    let created = subscribe(&api, "order.fulfilled", &receiver.url);
    let tested = api
        .call(
            "event_subscriptions.test",
            json!({"subscription_id": created["id"]}),
        )
        .json();
    assert_eq!(tested["delivered"], true);
    assert_eq!(tested["status"], "delivered");
    assert_eq!(tested["http_status"], 200);
    assert_eq!(tested["event_type"], "webhook.test");
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-geopera-event-id"), tested["event_id"]);
    assert_eq!(
        got[0].header("x-geopera-signature"),
        signature(created["secret"].as_str().expect("secret"), &got[0].body)
    );
}

#[test]
fn subscriptions_and_their_secrets_survive_a_restart() {
    let file = TempFile::new("webhooks");
    let receiver = Receiver::start(&[]);
    let start = || Api::with(local().seed(4).state_file(&file.0));
    let (id, secret) = {
        let api = start();
        let created = subscribe(&api, "order.fulfilled", &receiver.url);
        place_order(&api);
        (
            created["id"].as_str().expect("id").to_owned(),
            created["secret"].as_str().expect("secret").to_owned(),
        )
    };
    let api = start();
    let got = api.call("event_subscriptions.get", json!({"subscription_id": id}));
    assert_eq!(got.status, 200);
    assert!(got.json().get("secret").is_none());
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(&api)["drained"], 1);
    let delivery = &receiver.got()[0];
    assert_eq!(
        delivery.header("x-geopera-signature"),
        signature(&secret, &delivery.body),
        "signed with the secret created before the restart"
    );
}

/// A delivery that failed waits in the outbox with its attempts counted, across a restart,
/// and is delivered once its backoff has passed; the one delivered before the restart is not
/// sent again.
#[test]
fn a_failed_delivery_waits_across_a_restart_and_is_delivered_once() {
    let file = TempFile::new("outbox");
    let receiver = Receiver::start(&[200, 500]);
    let start = || Api::with(local().seed(6).state_file(&file.0));
    {
        let api = start();
        subscribe(&api, "order.fulfilled", &receiver.url);
        place_order(&api);
        place_order(&api);
        api.emu.clock().advance(Duration::from_secs(301));
        let drained = drain(&api);
        assert_eq!(
            (drained["drained"].clone(), drained["failed"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(drained["remaining"], 1);
    }
    let api = start();
    assert_eq!(drain(&api)["drained"], 0, "its backoff has not passed");
    api.emu.clock().advance(Duration::from_secs(3_600));
    let drained = drain(&api);
    assert_eq!(
        (drained["drained"].clone(), drained["remaining"].clone()),
        (json!(1), json!(0))
    );
    let got = receiver.got();
    assert_eq!(got.len(), 3, "two attempts before the restart, one after");
    assert_eq!(
        got[2].header("x-geopera-event-id"),
        got[1].header("x-geopera-event-id"),
        "the failed one again"
    );
    assert_ne!(
        got[0].header("x-geopera-event-id"),
        got[1].header("x-geopera-event-id")
    );
}

/// A waiting delivery whose attempt count, read back from an edited state file, is the
/// largest there is, is given up at its next failure: the count overflowed (a panic in a
/// debug build, after the delivery was taken out of the outbox).
#[test]
fn a_delivery_counted_to_the_limit_in_the_state_file_is_given_up() {
    let file = TempFile::new("outbox-attempts");
    let receiver = Receiver::start(&[500, 500]);
    let start = || Api::with(local().seed(6).state_file(&file.0));
    {
        let api = start();
        subscribe(&api, "order.fulfilled", &receiver.url);
        place_order(&api);
        api.emu.clock().advance(Duration::from_secs(301));
        assert_eq!(drain(&api)["failed"], 1);
    }
    {
        let sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
        let (seq, record): (i64, String) = sqlite
            .query_row("SELECT seq, record FROM outbox", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .expect("the waiting delivery");
        let mut record: Value = serde_json::from_str(&record).expect("JSON");
        record["attempts"] = json!(u32::MAX);
        sqlite
            .execute(
                "UPDATE outbox SET record = ?1 WHERE seq = ?2",
                (record.to_string(), seq),
            )
            .expect("edited");
    }
    let api = start();
    api.emu.clock().advance(Duration::from_secs(3_600));
    let drained = drain(&api);
    assert_eq!(
        (drained["given_up"].clone(), drained["remaining"].clone()),
        (json!(1), json!(0)),
        "{drained}"
    );
    assert_eq!(receiver.got().len(), 2);
}

/// Deliveries waiting in the outbox are written as they are queued and taken out, not on
/// every write: a write that queues none leaves their rows alone.
#[test]
fn a_write_that_queues_no_delivery_leaves_the_outbox_rows_alone() {
    let file = TempFile::new("outbox-rows");
    let receiver = Receiver::start(&[500, 500, 500]);
    let api = Api::with(local().seed(9).state_file(&file.0));
    subscribe(&api, "order.fulfilled", &receiver.url);
    for _ in 0..3 {
        place_order(&api);
    }
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(&api)["failed"], 3);
    let writes = Writes::watch(&file);
    api.ok("billing.topup", json!({"credits": 100}));
    assert_eq!(writes.since_last(), [one_row("orgs")]);
    // Delivered at last: their three rows go, and nothing else is written to the outbox.
    api.emu.clock().advance(Duration::from_secs(3_600));
    assert_eq!(drain(&api)["drained"], 3);
    let outbox: Vec<_> = writes
        .since_last()
        .into_iter()
        .filter(|(table, _, _)| table == "outbox")
        .collect();
    assert_eq!(outbox, [("outbox".to_owned(), "delete".to_owned(), 3)]);
    assert_eq!(receiver.got().len(), 6);
}

/// `event_subscriptions.test` with the demo key under `idempotency_key`.
fn test_event(api: &Api, subscription: &Value, idempotency_key: &str) -> crate::common::Resp {
    let bearer = format!("Bearer {}", api.emu.api_key());
    api.call_with(
        "event_subscriptions.test",
        &json!({"subscription_id": subscription["id"]}),
        &[
            ("authorization", &bearer),
            ("idempotency-key", idempotency_key),
        ],
    )
}

/// The event and delivery ids of the receiver's deliveries, after checking that there were
/// `count`, all of one event (one event id).
fn deliveries_of_one_event(receiver: &Receiver, count: usize) -> Vec<(String, String)> {
    let ids = delivery_ids(receiver);
    assert_eq!(ids.len(), count, "{ids:?}");
    assert!(ids.iter().all(|(event, _)| *event == ids[0].0), "{ids:?}");
    ids
}

/// The event and delivery ids of each delivery the receiver got.
fn delivery_ids(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .got()
        .iter()
        .map(|got| {
            (
                got.header("x-geopera-event-id").to_owned(),
                got.header("x-geopera-delivery-id").to_owned(),
            )
        })
        .collect()
}

/// Another request's write failing while a test event is out (its undo reads the state file
/// back) neither drops the test's idempotency claim, so its retry is replayed rather than
/// sent again, nor rewinds the ids it drew, so the next test event has an id of its own.
#[test]
fn a_write_failing_while_a_test_event_is_out_keeps_its_key_and_its_ids() {
    let file = TempFile::new("test-during-undo");
    let receiver = Receiver::start(&[]);
    let api = Api::with(local().seed(14).state_file(&file.0));
    let subscription = subscribe(&api, "order.fulfilled", &receiver.url);

    receiver.hold();
    let first = std::thread::scope(|scope| {
        let running = scope.spawn(|| test_event(&api, &subscription, "t-1"));
        receiver.wait_for(1);
        let blocker = hold_write_lock(&file, "IMMEDIATE");
        let refused = api.call("projects.create", json!({"name": "undone"}));
        assert_eq!(refused.status, 503, "{:?}", refused.json());
        blocker
            .execute_batch("COMMIT")
            .expect("the lock is released");
        receiver.release();
        running.join().expect("the test call")
    });
    assert_eq!(first.status, 200, "{:?}", first.json());
    assert_eq!(first.json()["delivered"], true);

    let again = test_event(&api, &subscription, "t-1");
    assert_eq!(
        again.header("idempotent-replayed"),
        Some("true"),
        "not sent again"
    );
    assert_eq!(again.body, first.body);
    assert_eq!(receiver.got().len(), 1);

    let other = test_event(&api, &subscription, "t-2");
    assert_eq!(other.status, 200);
    let ids = delivery_ids(&receiver);
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[1].0, ids[0].0, "a second event id");
    assert_ne!(ids[1].1, ids[0].1, "a second delivery id");
    assert_eq!(other.json()["event_id"], ids[1].0);
}

/// A test event whose own write fails was still sent: the call is a 503 problem, its key is
/// released, and the retry sends a new event under ids the receiver has not seen.
#[test]
fn a_test_event_whose_write_fails_is_a_503_and_its_retry_draws_new_ids() {
    let file = TempFile::new("test-unwritten");
    let receiver = Receiver::start(&[]);
    let api = Api::with(local().seed(15).state_file(&file.0));
    let subscription = subscribe(&api, "order.fulfilled", &receiver.url);

    let blocker = hold_write_lock(&file, "IMMEDIATE");
    let refused = test_event(&api, &subscription, "t-1");
    assert_eq!(refused.status, 503, "{:?}", refused.json());
    assert_eq!(refused.content_type(), "application/problem+json");
    let detail = refused.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("could not be written"), "{detail}");
    assert!(detail.contains("already sent"), "{detail}");
    blocker
        .execute_batch("COMMIT")
        .expect("the lock is released");

    let retry = test_event(&api, &subscription, "t-1");
    assert_eq!(retry.status, 200, "{:?}", retry.json());
    assert_eq!(retry.header("idempotent-replayed"), None, "ran again");
    let ids = delivery_ids(&receiver);
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[1].0, ids[0].0, "the event id is not reused");
    assert_ne!(ids[1].1, ids[0].1, "the delivery id is not reused");
    assert_eq!(retry.json()["event_id"], ids[1].0);
    assert_eq!(
        test_event(&api, &subscription, "t-1").header("idempotent-replayed"),
        Some("true")
    );
}

/// A drain that cannot even reach the state file after its deliveries (a failed write
/// before it could not be undone, so every later change waits for the file) is a 503 that
/// says the deliveries went out, as a drain whose own write fails is.
#[test]
fn a_drain_that_finds_the_state_file_unreadable_after_delivering_says_so() {
    let file = TempFile::new("drain-unreadable");
    let receiver = Receiver::start(&[500]);
    let api = Api::with(local().seed(17).state_file(&file.0));
    subscribe(&api, "order.fulfilled", &receiver.url);
    place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(&api)["failed"], 1, "queued again, and written");
    api.emu.clock().advance(Duration::from_secs(3_600));

    let blocker = hold_write_lock(&file, "EXCLUSIVE");
    let topup = api.call("billing.topup", json!({"credits": 1}));
    assert_eq!(topup.status, 503, "the write and its undo fail");
    let refused = api.call_with("webhooks.drain", &json!({}), &[]);
    assert_eq!(refused.status, 503, "{:?}", refused.json());
    let detail = refused.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("already sent"), "{detail}");
    assert_eq!(delivery_ids(&receiver).len(), 2, "the drain delivered");
    blocker
        .execute_batch("COMMIT")
        .expect("the lock is released");
}

/// A drain that finds a fulfilment on the clock, delivers it and then cannot write leaves the
/// fulfilment unswept, as a crash would: the next drain finds it again and sends it under the
/// event id the receiver already has, so a receiver that de-duplicates on it sees one event.
#[test]
fn an_event_swept_by_a_drain_whose_write_fails_keeps_its_event_id() {
    let file = TempFile::new("drain-sweep-unwritten");
    let receiver = Receiver::start(&[]);
    let api = Api::with(local().seed(18).state_file(&file.0));
    subscribe(&api, "order.fulfilled", &receiver.url);
    place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));

    let blocker = hold_write_lock(&file, "IMMEDIATE");
    let refused = api.call_with("webhooks.drain", &json!({}), &[]);
    assert_eq!(refused.status, 503, "{:?}", refused.json());
    blocker
        .execute_batch("COMMIT")
        .expect("the lock is released");
    assert_eq!(delivery_ids(&receiver).len(), 1, "the drain delivered");
    // Something else written in between draws from the generator.
    assert_eq!(
        api.call("projects.create", json!({"name": "between"}))
            .status,
        200
    );

    assert_eq!(drain(&api)["drained"], 1, "found and delivered again");
    assert_eq!(drain(&api)["drained"], 0, "and now kept");
    let ids = deliveries_of_one_event(&receiver, 2);
    assert_ne!(ids[1].1, ids[0].1, "a delivery id of its own");
    let bodies: Vec<Value> = receiver.got().iter().map(Received::json).collect();
    assert_eq!(bodies[1], bodies[0], "the same event");
}

/// A drain whose write fails is a 503 problem and puts the delivery it made back in the
/// outbox: the next drain delivers the same event again, under a delivery id of its own.
#[test]
fn a_drain_whose_write_fails_delivers_again_under_a_new_delivery_id() {
    let file = TempFile::new("drain-unwritten");
    let receiver = Receiver::start(&[500]);
    let api = Api::with(local().seed(16).state_file(&file.0));
    subscribe(&api, "order.fulfilled", &receiver.url);
    place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(&api)["failed"], 1, "queued again, and written");
    api.emu.clock().advance(Duration::from_secs(3_600));

    let blocker = hold_write_lock(&file, "IMMEDIATE");
    let refused = api.call_with("webhooks.drain", &json!({}), &[]);
    assert_eq!(refused.status, 503, "{:?}", refused.json());
    assert_eq!(refused.content_type(), "application/problem+json");
    let detail = refused.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("already sent"), "{detail}");
    blocker
        .execute_batch("COMMIT")
        .expect("the lock is released");
    assert_eq!(drain(&api)["drained"], 1, "delivered again");
    assert_eq!(drain(&api)["drained"], 0);

    let ids = deliveries_of_one_event(&receiver, 3);
    assert_ne!(ids[2].1, ids[1].1, "the delivery id is not reused");
    assert_ne!(ids[2].1, ids[0].1);
}

/// Places an order, subscribes `receiver` to it and drains once the order is fulfilled, so
/// that its delivery fails once and waits (in the state file, if any) for its retry; then
/// moves the clock past the backoff and holds the receiver, so the next drain's attempt stays
/// out until it is released.
fn a_retry_due_and_held(api: &Api, receiver: &Receiver) {
    subscribe(api, "order.fulfilled", &receiver.url);
    place_order(api);
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(api)["failed"], 1, "queued again, and written");
    api.emu.clock().advance(Duration::from_secs(3_600));
    receiver.hold();
}

/// A retry stays in the state file while its attempt is out: another request's write in the
/// meantime leaves its row alone, and an emulator stopped before the attempt's outcome came
/// back finds it after a restart and delivers it, under the event id the receiver has.
#[test]
fn a_retry_in_flight_when_the_emulator_stops_is_delivered_after_a_restart() {
    let file = TempFile::new("retry-in-flight-stopped");
    let receiver = Receiver::start(&[500]);
    let start = || Api::with(local().seed(19).state_file(&file.0));
    let api = start();
    a_retry_due_and_held(&api, &receiver);

    let url = api.url("webhooks.drain");
    let running = std::thread::spawn(move || {
        crate::common::client()
            .post(url)
            .json(&json!({}))
            .send()
            .map(|answer| answer.status())
    });
    receiver.wait_for(2);
    let writes = Writes::watch(&file);
    api.ok("billing.topup", json!({"credits": 1}));
    assert_eq!(
        writes.since_last(),
        [one_row("orgs")],
        "the outbox row is left alone"
    );
    // Stopped while the attempt is out: the emulator ends the drain, whose answer is lost
    // with it, before the receiver answers.
    drop(api);
    receiver.release();
    let _ = running.join().expect("the drain's thread");

    let api = start();
    api.emu.clock().advance(Duration::from_secs(3_600));
    let drained = drain(&api);
    assert_eq!(
        (drained["drained"].clone(), drained["remaining"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(drain(&api)["drained"], 0, "and now kept");
    deliveries_of_one_event(&receiver, 3);
}

/// A retry stays in the state file while its attempt is out (and is not sent by a second
/// drain meanwhile), so a drain whose own write then fails, after another request's write
/// went through meanwhile, reads it back: it is not lost but delivered by a drain after a
/// restart, under the same event id.
#[test]
fn a_retry_in_flight_across_another_write_survives_the_drains_failed_write() {
    let file = TempFile::new("retry-in-flight-undone");
    let receiver = Receiver::start(&[500, 500]);
    let start = || Api::with(local().seed(20).state_file(&file.0));
    let api = start();
    a_retry_due_and_held(&api, &receiver);

    let refused = std::thread::scope(|scope| {
        let running = scope.spawn(|| api.call_with("webhooks.drain", &json!({}), &[]));
        receiver.wait_for(2);
        let meanwhile = drain(&api);
        assert_eq!(
            meanwhile["drained"], 0,
            "not sent twice at once: {meanwhile}"
        );
        assert_eq!(receiver.got().len(), 2);
        api.ok("billing.topup", json!({"credits": 1}));
        let blocker = hold_write_lock(&file, "IMMEDIATE");
        receiver.release();
        let refused = running.join().expect("the drain");
        blocker
            .execute_batch("COMMIT")
            .expect("the lock is released");
        refused
    });
    assert_eq!(refused.status, 503, "{:?}", refused.json());
    let detail = refused.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("already sent"), "{detail}");
    drop(api);

    let api = start();
    api.emu.clock().advance(Duration::from_secs(86_400));
    let drained = drain(&api);
    assert_eq!(
        (drained["drained"].clone(), drained["remaining"].clone()),
        (json!(1), json!(0)),
        "still waiting, and delivered"
    );
    deliveries_of_one_event(&receiver, 3);
}

/// A drain whose caller hangs up while its attempt is out does not keep the delivery to
/// itself: once it has ended, the next drain attempts the delivery again.
#[test]
fn a_retry_whose_drain_was_abandoned_is_attempted_by_the_next_drain() {
    let receiver = Receiver::start(&[500]);
    let api = Api::with(local().seed(21));
    a_retry_due_and_held(&api, &receiver);

    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("a client");
    let abandoned = impatient
        .post(api.url("webhooks.drain"))
        .json(&json!({}))
        .send();
    assert!(abandoned.is_err(), "the caller gave up: {abandoned:?}");
    receiver.wait_for(2);
    // The emulator ended the drain, and hung up on the receiver.
    receiver.wait_for_abandoned(1);
    receiver.release();
    // A drain in the moment before the ended one let go of the delivery skips it as still
    // out; one right after attempts it.
    let mut drained = Value::Null;
    for _ in 0..100 {
        drained = drain(&api);
        if drained["drained"] != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        (drained["drained"].clone(), drained["remaining"].clone()),
        (json!(1), json!(0)),
    );
    deliveries_of_one_event(&receiver, 3);
}

/// Deleting a subscription drops its waiting deliveries from the state file as well as from
/// memory: their rows go in the delete's write, and a restart does not bring them back.
#[test]
fn deleting_a_subscription_drops_its_waiting_deliveries_from_the_state_file() {
    let file = TempFile::new("delete-drops-outbox");
    let receiver = Receiver::start(&[500, 500]);
    let start = || Api::with(local().seed(22).state_file(&file.0));
    let api = start();
    let subscription = subscribe(&api, "order.fulfilled", &receiver.url);
    place_order(&api);
    place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    assert_eq!(drain(&api)["failed"], 2, "both queued again, and written");

    let writes = Writes::watch(&file);
    let deleted = api.call(
        "event_subscriptions.delete",
        json!({"subscription_id": subscription["id"]}),
    );
    assert_eq!(deleted.status, 200);
    let outbox: Vec<_> = writes
        .since_last()
        .into_iter()
        .filter(|(table, _, _)| table == "outbox")
        .collect();
    assert_eq!(outbox, [("outbox".to_owned(), "delete".to_owned(), 2)]);
    drop(api);

    let api = start();
    api.emu.clock().advance(Duration::from_secs(3_600));
    let drained = drain(&api);
    assert_eq!(
        (drained["discarded"].clone(), drained["remaining"].clone()),
        (json!(0), json!(0)),
        "nothing came back: {drained}"
    );
    assert_eq!(receiver.got().len(), 2);
}

/// An endpoint on 127.0.0.1 that reads a request and writes `answer` back, whatever it is,
/// then closes the connection.
fn raw_endpoint(answer: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 65_536];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(&answer);
        }
    });
    url
}

/// A failed delivery says why: an endpoint nobody listens on could not be connected to, and
/// one that connected but whose answer was no HTTP answer to be read (a header too large, an
/// interim 1xx and then the connection closed) says that instead.
#[test]
fn a_delivery_to_an_unreadable_answer_is_not_reported_as_a_failed_connection() {
    let api = Api::with(local());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nobody = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    let huge_header = format!(
        "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
        "a".repeat(1_000_000)
    );
    for (endpoint, expected) in [
        (nobody, "could not connect to the endpoint"),
        (
            raw_endpoint(huge_header.into_bytes()),
            "the endpoint's answer could not be read",
        ),
        (
            raw_endpoint(b"HTTP/1.1 102 Processing\r\n\r\n".to_vec()),
            "the endpoint's answer could not be read",
        ),
    ] {
        let subscription = subscribe(&api, "order.fulfilled", &endpoint);
        let tested = api
            .call(
                "event_subscriptions.test",
                json!({"subscription_id": subscription["id"]}),
            )
            .json();
        assert_eq!(tested["delivered"], false, "{tested}");
        assert_eq!(tested["http_status"], Value::Null, "{tested}");
        assert_eq!(tested["error"], expected, "{endpoint}: {tested}");
    }
}

/// A repeat of a request under the same `Idempotency-Key` and body while the first is still
/// running (here, a test event held at its endpoint) is a 409 without sending anything, and
/// once the first has answered, a repeat is replayed.
#[test]
fn a_repeat_while_the_first_test_event_is_out_is_409_and_replayed_after() {
    let receiver = Receiver::start(&[]);
    let api = Api::with(local().seed(23));
    let subscription = subscribe(&api, "order.fulfilled", &receiver.url);

    receiver.hold();
    let (first, early) = std::thread::scope(|scope| {
        let running = scope.spawn(|| test_event(&api, &subscription, "t-1"));
        receiver.wait_for(1);
        let early = test_event(&api, &subscription, "t-1");
        receiver.release();
        (running.join().expect("the test call"), early)
    });
    assert_eq!(early.status, 409, "{:?}", early.json());
    assert_eq!(early.content_type(), "application/problem+json");
    let detail = early.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("still being processed"), "{detail}");
    assert_eq!(first.status, 200, "{:?}", first.json());
    assert_eq!(receiver.got().len(), 1, "the repeat sent nothing");

    let later = test_event(&api, &subscription, "t-1");
    assert_eq!(later.header("idempotent-replayed"), Some("true"));
    assert_eq!(later.body, first.body);
    assert_eq!(receiver.got().len(), 1);
}

/// A request under an `Idempotency-Key` whose caller hangs up while it waits on an endpoint
/// runs to its end: its delivery is made once, a retry while it still runs is told so, and a
/// retry after it is replayed its answer rather than delivering the event again.
#[test]
fn a_test_event_whose_caller_hung_up_is_finished_and_replayed_to_its_retry() {
    let receiver = Receiver::start(&[]);
    let api = Api::with(local().seed(25));
    let subscription = subscribe(&api, "order.fulfilled", &receiver.url);

    receiver.hold();
    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("a client");
    let abandoned = impatient
        .post(api.url("event_subscriptions.test"))
        .bearer_auth(api.emu.api_key())
        .header("idempotency-key", "t-gone")
        .json(&json!({"subscription_id": subscription["id"]}))
        .send();
    assert!(abandoned.is_err(), "the caller gave up: {abandoned:?}");
    receiver.wait_for(1);
    let early = test_event(&api, &subscription, "t-gone");
    assert_eq!(early.status, 409, "still running: {:?}", early.json());
    receiver.release();

    let mut retried = early;
    for _ in 0..250 {
        retried = test_event(&api, &subscription, "t-gone");
        if retried.status != 409 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(retried.status, 200, "{:?}", retried.json());
    assert_eq!(retried.json()["delivered"], true, "{:?}", retried.json());
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(receiver.got().len(), 1, "delivered once");
}

/// An endpoint on 127.0.0.1 that takes connections (the kernel completes them) and never
/// answers, until the test ends.
fn tarpit() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    (listener, url)
}

/// One organization's many deliveries to an endpoint that never answers neither hold a drain
/// past its deadline nor keep another organization's delivery waiting behind them: the
/// organizations take turns, and what is not attempted in time stays due.
#[test]
fn a_drain_takes_organizations_in_turns_and_stops_at_its_deadline() {
    const FLOOD: usize = 24;
    let api = Api::with(local().seed(24));
    let (_held, never) = tarpit();
    subscribe(&api, "order.fulfilled", &never);
    for _ in 0..FLOOD {
        place_order(&api);
    }
    let fast = Receiver::start(&[]);
    let other = format!("Bearer {}", api.emu.create_key_in_org("org_other", &["*"]));
    let created = api.call_with(
        "event_subscriptions.create",
        &json!({"event_type": "order.fulfilled", "endpoint_url": fast.url}),
        &[("authorization", &other)],
    );
    assert_eq!(created.status, 200, "{:?}", created.json());
    // Placed last, so its delivery is queued behind the flood.
    api.emu.clock().advance(Duration::from_secs(1));
    place_order_as(&api, &other);
    api.emu.clock().advance(Duration::from_secs(301));

    let started = std::time::Instant::now();
    let drained = drain(&api);
    let took = started.elapsed();
    assert_eq!(drained["drained"], 1, "{drained}");
    assert_eq!(
        fast.got().len(),
        1,
        "the other organization's delivery went first"
    );
    // 24 attempts of 5 s, 8 at a time, would take 15 s.
    assert!(
        took < geopera_emulator::DRAIN_DEADLINE + Duration::from_secs(4),
        "{took:?}"
    );
    let failed = drained["failed"].as_u64().expect("a count");
    assert!((7..FLOOD as u64).contains(&failed), "{drained}");
    assert_eq!(
        drained["remaining"], FLOOD,
        "failed or not yet attempted, all kept"
    );
}

/// Another request's failed write while a drain's attempt is out (its undo reads the state
/// file back) leaves the delivery marked as being attempted: a drain meanwhile does not send
/// it a second time at once, and the first drain's outcome is still applied.
#[test]
fn an_undone_write_while_an_attempt_is_out_does_not_let_another_drain_send_it() {
    let file = TempFile::new("undo-while-in-flight");
    let receiver = Receiver::start(&[500]);
    let api = Api::with(local().seed(25).state_file(&file.0));
    a_retry_due_and_held(&api, &receiver);

    let first = std::thread::scope(|scope| {
        let running = scope.spawn(|| api.call_with("webhooks.drain", &json!({}), &[]));
        receiver.wait_for(2);
        let blocker = hold_write_lock(&file, "IMMEDIATE");
        let refused = api.call("billing.topup", json!({"credits": 1}));
        assert_eq!(refused.status, 503, "{:?}", refused.json());
        blocker
            .execute_batch("COMMIT")
            .expect("the lock is released");
        let meanwhile = drain(&api);
        assert_eq!(meanwhile["drained"], 0, "{meanwhile}");
        assert_eq!(
            receiver.got().len(),
            2,
            "not sent again while its attempt is out"
        );
        receiver.release();
        running.join().expect("the drain")
    });
    assert_eq!(first.status, 200, "{:?}", first.json());
    assert_eq!(first.json()["drained"], 1);
    assert_eq!(first.json()["remaining"], 0, "its outcome applied");
    assert_eq!(drain(&api)["drained"], 0);
    assert_eq!(receiver.got().len(), 2);
}

/// A drain whose caller hangs up keeps the outcomes that came back before: a failed attempt
/// counts and waits its backoff, instead of going out again with the very next drain.
#[test]
fn an_abandoned_drain_keeps_the_outcomes_it_already_had() {
    let failing = Receiver::start(&[500, 500]);
    let slow = Receiver::start(&[]);
    let api = Api::with(local().seed(26));
    subscribe(&api, "order.fulfilled", &failing.url);
    subscribe(&api, "order.fulfilled", &slow.url);
    place_order(&api);
    api.emu.clock().advance(Duration::from_secs(301));
    slow.hold();

    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("a client");
    let abandoned = impatient
        .post(api.url("webhooks.drain"))
        .json(&json!({}))
        .send();
    assert!(abandoned.is_err(), "the caller gave up: {abandoned:?}");
    slow.wait_for(1);
    slow.wait_for_abandoned(1);
    slow.release();
    assert_eq!(failing.got().len(), 1);

    // The cut-off attempt is due again once the ended drain has let go of it; the failed one
    // waits its backoff.
    let mut drained = Value::Null;
    for _ in 0..100 {
        drained = drain(&api);
        if drained["drained"] != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(drained["drained"], 1, "{drained}");
    assert_eq!(failing.got().len(), 1, "the failure waits its backoff");
    assert_eq!(drained["remaining"], 1, "{drained}");

    api.emu.clock().advance(Duration::from_secs(10));
    assert_eq!(drain(&api)["failed"], 1);
    assert_eq!(failing.got().len(), 2);
}

/// While the state file takes no writes, the deliveries that fall due are not sent: each
/// would be undone with the failed write and sent again a second later, every second the
/// file refuses. Once it takes writes again, each is sent once.
#[test]
fn deliveries_wait_while_the_state_file_takes_no_writes() {
    let file = TempFile::new("deliveries-unwritten");
    let receiver = Receiver::start(&[]);
    let clock = geopera_emulator::ManualClock::system();
    let api = Api::with(local().clock(clock.clone()).state_file(&file.0));
    subscribe(&api, "processing.job.completed", &receiver.url);
    let project = api.ok("projects.create", json!({"name": "hooks"}));
    api.ok(
        "processing.execute",
        json!({"process_id": "ndvi", "workspaceId": project["id"]}),
    );
    let blocker = hold_write_lock(&file, "IMMEDIATE");
    // The job ends; the background pass finds its event within a second.
    clock.advance(Duration::from_secs(120));
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(receiver.got().len(), 0, "sent while nothing could be kept");
    blocker
        .execute_batch("COMMIT")
        .expect("the lock is released");
    receiver.wait_for(1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(receiver.got().len(), 1, "sent again");
}
