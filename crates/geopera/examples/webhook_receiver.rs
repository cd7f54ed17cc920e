//! A webhook receiver in axum that verifies every delivery with `geopera::webhooks` and acts
//! on each event once.
//!
//! It subscribes to `order.fulfilled`, places an archive order, lets the embedded emulator's
//! clock fulfil it and asks the emulator to deliver. The real API only delivers to public
//! HTTPS endpoints, so this example always runs against an emulator started with local
//! receivers allowed; in production, mount `receive` on your public route.
//!
//! Run with `cargo run -p geopera --example webhook_receiver`.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use geopera::webhooks::{Event, Verifier, MAX_BODY_BYTES};
use geopera::Geopera;
use geopera_emulator::{Emulator, RateLimits};
use serde_json::json;

/// How many event ids the receiver remembers to recognise repeats.
const REMEMBERED: usize = 10_000;

struct Receiver {
    verifier: Verifier,
    /// Event ids already handled, oldest first, bounded.
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    // Verify the raw bytes before anything else reads them.
    let delivery = match receiver.verifier.verify(&headers, &body) {
        Ok(delivery) => delivery,
        Err(error) => {
            eprintln!("refused a delivery: {error}");
            return StatusCode::UNAUTHORIZED;
        }
    };
    // The signature covers no timestamp: de-duplicate on the event id, which also stops
    // a replayed delivery from being acted on twice.
    {
        let Ok(mut seen) = receiver.seen.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR;
        };
        let (ids, order) = &mut *seen;
        if !ids.insert(delivery.event_id.clone()) {
            println!("already handled {}; acknowledged again", delivery.event_id);
            return StatusCode::OK;
        }
        order.push_back(delivery.event_id.clone());
        if order.len() > REMEMBERED {
            if let Some(oldest) = order.pop_front() {
                ids.remove(&oldest);
            }
        }
    }
    match &delivery.event {
        Event::OrderFulfilled(order) => println!(
            "order {} fulfilled (event {}, delivery {})",
            order.order_id.as_deref().unwrap_or("?"),
            delivery.event_id,
            delivery.delivery_id.as_deref().unwrap_or("?"),
        ),
        other => println!("{}: not handled here", other.envelope().event_type),
    }
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .rate_limits(RateLimits::off())
        .allow_local_webhooks(true)
        .start()?;
    let geopera = Geopera::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .build()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/hooks/geopera", listener.local_addr()?);
    let subscription = geopera
        .invoke(
            "event_subscriptions.create",
            json!({"event_type": "order.fulfilled", "endpoint_url": endpoint}),
        )
        .await?;
    // The secret is shown once, here: keep it where your receiver can read it.
    let secret = subscription["secret"]
        .as_str()
        .ok_or("the subscription has no secret")?;
    let receiver = Arc::new(Receiver {
        verifier: Verifier::new(secret)?,
        seen: Mutex::new((HashSet::new(), VecDeque::new())),
    });
    let app = axum::Router::new()
        .route("/hooks/geopera", post(receive))
        // Refuse bodies larger than any event before buffering them.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(receiver);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("receiver stopped: {error}");
        }
    });

    let page = geopera
        .invoke(
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 1}),
        )
        .await?;
    let capture = page["features"][0]["id"].clone();
    let placed = geopera
        .invoke(
            "orders.archive.place",
            json!({"captures": [{"id": capture}]}),
        )
        .await?;
    println!(
        "placed {}",
        placed["orderId"].as_str().unwrap_or("an order")
    );

    // An archive order is fulfilled five minutes after it is placed, on the emulator's clock.
    emulator.clock().advance(Duration::from_secs(301));
    let drained = geopera.invoke("webhooks.drain", json!({})).await?;
    println!("delivered {} event(s)", drained["drained"]);
    Ok(())
}
