//! An archive order from start to finish: search the catalog, price a capture, place the order
//! (safe to repeat: one idempotency key), hear that it was fulfilled through a verified
//! webhook, wait for it, and fetch its delivery links.
//!
//! The real API delivers webhooks only to public HTTPS endpoints, so this example runs against
//! an embedded emulator that accepts a receiver on this machine. The emulator's clock stands
//! still; the client waits on it, so the five minutes an archive order takes pass at once.
//!
//! Run with `cargo run -p geopera --example archive_workflow`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use geopera::models::{ArchiveEstimateInput, CatalogSearchInput, Order, OrderAssetsInput};
use geopera::operations::{
    catalog_search, orders_archive_estimate, orders_archive_place, orders_list_assets,
};
use geopera::webhooks::{Delivery, Event, Verifier, MAX_BODY_BYTES};
use geopera::{wait, AuthenticatedClient, Geopera, Request};
use geopera_emulator::{Emulator, ManualClock, RateLimits};
use serde_json::json;
use tokio::sync::mpsc;

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let clock = ManualClock::new();
    let emulator = Emulator::builder()
        .clock(clock.clone())
        .rate_limits(RateLimits::off())
        .allow_local_webhooks(true)
        .start()?;
    let client = AuthenticatedClient::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .clock(support::sdk_clock_of(&clock))
        .build()?;
    let mut deliveries = receive_webhooks(&client).await?;

    // 1. Search, and price the first capture.
    let page =
        catalog_search::send(&client, CatalogSearchInput::new("earthsearch-aws").limit(1)).await?;
    let item = page.features.first().ok_or("the catalog is empty")?;
    let capture = json!({"id": item.id});
    let estimate = orders_archive_estimate::send(
        &client,
        ArchiveEstimateInput::new().captures(capture.as_object().cloned().into_iter().collect()),
    )
    .await?;
    for group in &estimate.groups {
        println!(
            "{} capture(s) of {}: {} credits",
            group.captures.len(),
            group.collection.as_deref().unwrap_or("?"),
            credits(group.total_credits)
        );
    }

    // 2. Place it. The idempotency key makes a retry — ours, or the client's after a lost
    //    answer — place one order, charged once.
    let key = uuid::Uuid::new_v4().to_string();
    let placed = orders_archive_place::send(
        &client,
        Request::new(json!({"captures": [capture], "displayName": "example"})).idempotency_key(key),
    )
    .await?;
    println!(
        "placed {} for {} credits",
        placed.id,
        credits(placed.total_credits)
    );

    // 3. Wait until it is fulfilled, reporting each state seen.
    let order = wait::order(&client, &placed.id)
        .interval(Duration::from_secs(15), Duration::from_secs(60))
        .deadline(Duration::from_secs(24 * 3600))
        .on_progress({
            // Each poll reports; a state is printed when it changes.
            let mut last = String::new();
            move |order| {
                let now = status(order);
                if now != last {
                    println!("  order is {now}");
                    now.clone_into(&mut last);
                }
            }
        })
        .await?;
    println!("{} is {}", order.id, status(&order));

    // 4. The webhook: ask the emulator to deliver what is due, and take the verified event.
    Geopera::from(client.clone())
        .invoke("webhooks.drain", json!({}))
        .await?;
    let delivery = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
        .await?
        .ok_or("the receiver stopped")?;
    if let Event::OrderFulfilled(event) = &delivery.event {
        println!(
            "webhook: order {} fulfilled (event {})",
            event.envelope.entity_id, delivery.event_id
        );
    }

    // 5. Fetch the delivery links.
    let assets = orders_list_assets::send(&client, OrderAssetsInput::new(&order.id)).await?;
    for asset in assets["assets"].as_array().into_iter().flatten() {
        // The link is signed: anyone holding it can fetch the file until it expires, so it
        // goes to the code that downloads, not to the output.
        let href = asset["href"].as_str().unwrap_or_default();
        let file = href
            .split('?')
            .next()
            .and_then(|path| path.rsplit('/').next());
        println!(
            "download {} ({} characters of signed URL, until {})",
            file.unwrap_or("(unnamed)"),
            href.len(),
            asset["expires_at"].as_str().unwrap_or("no stated time")
        );
    }
    Ok(())
}

/// A price in credits, or a word that there is none.
fn credits(total: Option<i64>) -> String {
    total.map_or_else(|| "no stated".to_owned(), |credits| credits.to_string())
}

fn status(order: &Order) -> &str {
    order
        .status
        .as_ref()
        .map_or("without a status", |s| s.as_str())
}

/// Subscribes to `order.fulfilled` with a receiver on 127.0.0.1 that verifies each delivery
/// and passes the verified ones on.
async fn receive_webhooks(
    client: &AuthenticatedClient,
) -> Result<mpsc::UnboundedReceiver<Delivery>, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/hooks/geopera", listener.local_addr()?);
    let subscription = Geopera::from(client.clone())
        .event_subscriptions()
        .create(json!({"event_type": "order.fulfilled", "endpoint_url": endpoint}))
        .await?;
    // The secret is shown once, here: keep it where the receiver can read it.
    let secret = subscription
        .secret
        .ok_or("the subscription has no secret")?;
    let (sender, deliveries) = mpsc::unbounded_channel();
    let state = Arc::new((Verifier::new(secret.expose())?, sender));
    let app = axum::Router::new()
        .route("/hooks/geopera", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("receiver stopped: {error}");
        }
    });
    Ok(deliveries)
}

async fn receive(
    State(state): State<Arc<(Verifier, mpsc::UnboundedSender<Delivery>)>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (verifier, deliveries) = &*state;
    match verifier.verify(&headers, &body) {
        Ok(delivery) => {
            // A real receiver de-duplicates on `delivery.event_id` here (see the
            // `webhook_receiver` example): the signature covers no timestamp.
            let _ = deliveries.send(delivery);
            StatusCode::OK
        }
        Err(error) => {
            eprintln!("refused a delivery: {error}");
            StatusCode::UNAUTHORIZED
        }
    }
}
