//! `geopera::webhooks` against the emulator's real deliveries: an axum receiver on 127.0.0.1
//! verifies each POST with the subscription's secret, a 500 brings the same event back with a
//! new delivery id, and a forged or altered delivery is refused.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use geopera::webhooks::{Event, Verifier, WebhookError, SIGNATURE_HEADER};
use geopera::Geopera;
use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};
use serde_json::{json, Value};

/// What the receiver saw: verified deliveries, refusals, and the statuses still to answer.
#[derive(Default)]
struct Inbox {
    verified: Vec<(String, Option<String>, Event)>,
    refused: Vec<String>,
    /// Event ids already acted on: a repeat is acknowledged and not acted on again.
    seen: HashSet<String>,
    acted: usize,
    failures_left: usize,
}

struct Receiver {
    verifier: Mutex<Option<Verifier>>,
    inbox: Mutex<Inbox>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let verifier = receiver.verifier.lock().expect("lock").clone();
    let Some(verifier) = verifier else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    let mut inbox = receiver.inbox.lock().expect("lock");
    match verifier.verify(&headers, &body) {
        Err(error) => {
            inbox.refused.push(error.to_string());
            StatusCode::UNAUTHORIZED
        }
        Ok(delivery) => {
            inbox.verified.push((
                delivery.event_id.clone(),
                delivery.delivery_id.clone(),
                delivery.event.clone(),
            ));
            if inbox.failures_left > 0 {
                inbox.failures_left -= 1;
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            if inbox.seen.insert(delivery.event_id) {
                inbox.acted += 1;
            }
            StatusCode::OK
        }
    }
}

/// Serves the receiver on 127.0.0.1 until the runtime ends; returns its URL.
async fn serve(receiver: Arc<Receiver>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/geopera",
        listener.local_addr().expect("addr")
    );
    let app = axum::Router::new()
        .route("/hooks/geopera", post(receive))
        .with_state(receiver);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .allow_local_webhooks(true)
        .start()
        .expect("the emulator starts")
}

async fn place_archive_order(geopera: &Geopera) -> String {
    let page = geopera
        .invoke(
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 1}),
        )
        .await
        .expect("a page");
    let capture = page["features"][0]["id"].clone();
    let placed = geopera
        .invoke(
            "orders.archive.place",
            json!({"captures": [{"id": capture}]}),
        )
        .await
        .expect("placed");
    placed["orderId"].as_str().expect("orderId").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_verifies_and_a_failed_one_comes_back_with_the_same_event_id() {
    let emulator = emulator();
    let receiver = Arc::new(Receiver {
        verifier: Mutex::new(None),
        inbox: Mutex::new(Inbox {
            failures_left: 1,
            ..Inbox::default()
        }),
    });
    let url = serve(receiver.clone()).await;
    let geopera = Geopera::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .build()
        .expect("client");

    let subscription = geopera
        .invoke(
            "event_subscriptions.create",
            json!({"event_type": "order.fulfilled", "endpoint_url": url}),
        )
        .await
        .expect("subscribed");
    let secret = subscription["secret"].as_str().expect("the secret, once");
    *receiver.verifier.lock().expect("lock") = Some(Verifier::new(secret).expect("secret"));

    let order = place_archive_order(&geopera).await;
    emulator.clock().advance(Duration::from_secs(301));
    let drained = geopera
        .invoke("webhooks.drain", json!({}))
        .await
        .expect("drained");
    assert_eq!(
        drained["drained"], 0,
        "the receiver answered 500: {drained}"
    );
    assert_eq!(drained["failed"], 1, "{drained}");
    // The retry is due after the backoff on the emulator's clock.
    emulator.clock().advance(Duration::from_secs(11));
    geopera
        .invoke("webhooks.drain", json!({}))
        .await
        .expect("drained");

    let inbox = receiver.inbox.lock().expect("lock");
    assert!(inbox.refused.is_empty(), "{:?}", inbox.refused);
    assert_eq!(inbox.verified.len(), 2, "one failed attempt, one delivered");
    let (first, second) = (&inbox.verified[0], &inbox.verified[1]);
    assert_eq!(first.0, second.0, "the same event id on both attempts");
    assert!(
        first.1.is_some() && first.1 != second.1,
        "a new delivery id"
    );
    assert_eq!(inbox.acted, 1, "acted on once");
    match &second.2 {
        Event::OrderFulfilled(fulfilled) => {
            assert_eq!(fulfilled.order_id.as_deref(), Some(order.as_str()));
            assert_eq!(fulfilled.envelope.entity_id, order);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_altered_delivery_is_refused() {
    let emulator = emulator();
    let receiver = Arc::new(Receiver {
        verifier: Mutex::new(None),
        inbox: Mutex::new(Inbox::default()),
    });
    let url = serve(receiver.clone()).await;
    let geopera = Geopera::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .build()
        .expect("client");
    let subscription = geopera
        .invoke(
            "event_subscriptions.create",
            json!({"event_type": "webhook.test", "endpoint_url": url}),
        )
        .await
        .expect("subscribed");
    let secret = subscription["secret"].as_str().expect("secret").to_owned();
    let id = subscription["id"].as_str().expect("id").to_owned();

    // A receiver holding the wrong secret refuses the emulator's genuine delivery.
    *receiver.verifier.lock().expect("lock") =
        Some(Verifier::new("whsec_not_the_one").expect("secret"));
    let test: Value = geopera
        .invoke("event_subscriptions.test", json!({"subscription_id": id}))
        .await
        .expect("tested");
    assert_eq!(test["http_status"], 401, "{test}");
    assert_eq!(receiver.inbox.lock().expect("lock").refused.len(), 1);

    // With the right secret it verifies, as a `webhook.test` event.
    *receiver.verifier.lock().expect("lock") = Some(Verifier::new(&secret).expect("secret"));
    let test: Value = geopera
        .invoke("event_subscriptions.test", json!({"subscription_id": id}))
        .await
        .expect("tested");
    assert_eq!(test["http_status"], 200, "{test}");
    assert!(matches!(
        receiver.inbox.lock().expect("lock").verified.last(),
        Some((_, _, Event::Test(_)))
    ));

    // A body sent without the emulator's signature, or changed after it, never verifies.
    let http = reqwest::Client::new();
    let forged = br#"{"event_id":"evt_x","event_type":"order.fulfilled","timestamp":"2025-01-01T00:00:00Z","organization_id":"org_demo","entity_type":"order","entity_id":"ord_x","data":{}}"#;
    let answer = http
        .post(&url)
        .header(SIGNATURE_HEADER, format!("sha256={}", "0".repeat(64)))
        .body(forged.to_vec())
        .send()
        .await
        .expect("posted");
    assert_eq!(answer.status().as_u16(), 401);
    let verifier = Verifier::new(&secret).expect("secret");
    let unsigned = verifier.verify(&geopera::HeaderMap::new(), forged);
    assert!(matches!(unsigned, Err(WebhookError::MissingSignature)));
}

/// The headers a subscription adds to its deliveries: a receiver gets them on every POST, and
/// no `Debug` of the input or of the typed answers shows their values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_headers_reach_the_receiver_and_never_print() {
    use geopera::models::{CreateSubscriptionInput, DeliveryHeaders, GetSubscriptionInput};

    const TOKEN: &str = "Bearer receiver-token-8c41";
    let emulator = emulator();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route(
            "/hooks",
            post(
                |State(seen): State<Arc<Mutex<Vec<String>>>>, headers: HeaderMap| async move {
                    let value = headers.get("authorization").and_then(|v| v.to_str().ok());
                    seen.lock()
                        .expect("lock")
                        .push(value.unwrap_or_default().to_owned());
                    StatusCode::OK
                },
            ),
        )
        .with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let geopera = Geopera::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .build()
        .expect("client");

    let input = CreateSubscriptionInput::new("webhook.test", url)
        .headers(DeliveryHeaders::new().with("Authorization", TOKEN));
    let printed_input = format!("{input:?}");
    let created = geopera
        .event_subscriptions()
        .create(input)
        .await
        .expect("subscribed");
    let fetched = geopera
        .event_subscriptions()
        .get(GetSubscriptionInput::new(created.id.clone()))
        .await
        .expect("fetched");
    for (what, printed) in [
        ("the input", printed_input),
        ("the created subscription", format!("{created:?}")),
        ("the fetched subscription", format!("{fetched:#?}")),
    ] {
        assert!(
            !printed.contains(TOKEN),
            "{what} prints the header value: {printed}"
        );
        assert!(
            printed.contains("Authorization"),
            "{what} names the header: {printed}"
        );
    }
    let headers = fetched
        .headers
        .as_ref()
        .expect("the subscription's headers");
    assert_eq!(
        headers.expose().get("Authorization").map(String::as_str),
        Some(TOKEN)
    );

    let test: Value = geopera
        .invoke(
            "event_subscriptions.test",
            json!({"subscription_id": created.id}),
        )
        .await
        .expect("tested");
    assert_eq!(test["http_status"], 200, "{test}");
    assert_eq!(*seen.lock().expect("lock"), [TOKEN.to_owned()]);
}
