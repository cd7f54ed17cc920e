//! Whole workflows, as a user runs them: find, price, commit (idempotently), hear about it
//! through a verified webhook, wait for it on the emulator's clock, and fetch what it made.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use geopera::models::{
    ArchiveEstimateInput, CatalogSearchInput, JobStatus, Order, OrderAssetsInput, OrderStatus,
    ProcessExecuteInput, ProcessingJobInput, UploadStatus,
};
use geopera::operations::{
    catalog_search, orders_archive_estimate, orders_archive_place, orders_list_assets,
    processing_execute, processing_job_tile_info,
};
use geopera::uploads::Upload;
use geopera::webhooks::{Delivery, Event, Verifier};
use geopera::{wait, AuthenticatedClient, Geopera, Request};
use geopera_emulator::{Emulator, EmulatorHandle, ManualClock, RateLimits};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::support::{SharedTime, HOST};

/// A receiver that verifies every delivery and passes on the verified ones; refusals are
/// passed on as errors, so a test sees them too.
#[derive(Clone)]
struct Receiver {
    verifier: Verifier,
    deliveries: mpsc::UnboundedSender<Result<Delivery, String>>,
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let verified = receiver.verifier.verify(&headers, &body);
    let status = if verified.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let _ = receiver
        .deliveries
        .send(verified.map_err(|error| error.to_string()));
    status
}

/// The emulator on a clock the SDK's waits move, a client on that clock, and a receiver
/// subscribed to `event_type`.
struct World {
    emu: EmulatorHandle,
    client: AuthenticatedClient,
    deliveries: mpsc::UnboundedReceiver<Result<Delivery, String>>,
}

async fn world(event_type: &str) -> World {
    let clock = ManualClock::new();
    let emu = Emulator::builder()
        .clock(clock.clone())
        .rate_limits(RateLimits::off())
        .allow_local_webhooks(true)
        .start()
        .expect("the emulator starts");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .clock(SharedTime::new(&clock))
        .build()
        .expect("valid configuration");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    let subscription = Geopera::from(client.clone())
        .event_subscriptions()
        .create(json!({"event_type": event_type, "endpoint_url": endpoint}))
        .await
        .expect("a subscription");
    let secret = subscription.secret.expect("the secret, shown once");
    let (sender, deliveries) = mpsc::unbounded_channel();
    let receiver = Arc::new(Receiver {
        verifier: Verifier::new(secret.expose()).expect("a usable secret"),
        deliveries: sender,
    });
    let app = axum::Router::new()
        .route("/hooks", post(receive))
        .with_state(receiver);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    World {
        emu,
        client,
        deliveries,
    }
}

impl World {
    /// Asks the emulator to deliver what is due, then takes the next verified delivery.
    async fn next_delivery(&mut self) -> Delivery {
        let drained = Geopera::from(self.client.clone())
            .invoke("webhooks.drain", json!({}))
            .await
            .expect("a drain");
        assert!(drained["drained"].as_u64() >= Some(1), "{drained}");
        let received = tokio::time::timeout(Duration::from_secs(10), self.deliveries.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the receiver runs");
        received.unwrap_or_else(|refused| panic!("a delivery was refused: {refused}"))
    }
}

#[tokio::test]
async fn archive_workflow_search_estimate_place_hear_wait_and_fetch_deliverables() {
    let mut world = world("order.fulfilled").await;
    let client = world.client.clone();

    // Search, then price the first capture.
    let page = catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("a page");
    let item = page.features.first().expect("a capture");
    let capture = json!({"id": item.id})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let estimate = orders_archive_estimate::send(
        &client,
        ArchiveEstimateInput::new().captures(vec![capture.clone()]),
    )
    .await
    .expect("an estimate");
    let group = estimate.groups.first().expect("a priced group");
    assert_eq!(group.captures, vec![item.id.clone()]);
    assert!(estimate.total_credits > 0);

    // Place it twice with one idempotency key: one order, charged once.
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({"captures": [capture], "displayName": "workflow"});
    let place = || {
        orders_archive_place::send(
            &client,
            Request::new(body.clone()).idempotency_key(key.clone()),
        )
    };
    let placed: Order = place().await.expect("placed");
    let again = place().await.expect("replayed");
    assert_eq!(placed.id, again.id, "the same key places one order");
    assert_eq!(world.emu.executed("orders.archive.place"), 1);
    assert_eq!(placed.total_credits, Some(estimate.total_credits));

    // Wait on the emulator's clock until it is fulfilled.
    let fulfilled = wait::order(&client, &placed.id)
        .interval(Duration::from_secs(15), Duration::from_secs(60))
        .deadline(Duration::from_secs(3600))
        .await
        .expect("fulfilled");
    assert_eq!(fulfilled.status, Some(OrderStatus::Fulfilled));

    // The webhook arrives and verifies.
    let delivery = world.next_delivery().await;
    let Event::OrderFulfilled(event) = &delivery.event else {
        panic!("not an order event: {:?}", delivery.event);
    };
    assert_eq!(event.envelope.entity_id, placed.id);

    // Fetch the delivery descriptors.
    let assets = orders_list_assets::send(&client, OrderAssetsInput::new(&placed.id))
        .await
        .expect("the order's assets");
    let listed = assets["assets"].as_array().expect("a list of assets");
    assert!(!listed.is_empty(), "{assets:?}");
    // Each link is signed; a log of the answer must not hand the signatures out.
    let shown = format!("{assets:?}");
    for asset in listed {
        let href = asset["href"].as_str().unwrap_or_default();
        let (_, query) = href.split_once('?').expect("a signed link");
        assert!(!shown.contains(query), "{shown}");
    }
    for asset in listed {
        let href = asset["href"].as_str().unwrap_or_default();
        assert!(href.starts_with("http"), "{asset}");
        assert!(asset["expires_at"].is_string(), "{asset}");
    }
}

#[tokio::test]
async fn processing_workflow_start_hear_wait_and_fetch_outputs() {
    let mut world = world("processing.job.completed").await;
    let client = world.client.clone();
    let geopera = Geopera::from(client.clone());
    let project = geopera
        .invoke("projects.create", json!({"name": "processing workflow"}))
        .await
        .expect("a project");
    let project = project["id"].as_str().expect("a project id");

    // Start it twice with one idempotency key: one job.
    let key = uuid::Uuid::new_v4().to_string();
    let start = || {
        processing_execute::send(
            &client,
            Request::new(ProcessExecuteInput::new("ndvi", project)).idempotency_key(key.clone()),
        )
    };
    let job = start().await.expect("a job");
    let again = start().await.expect("the same job");
    assert_eq!(job.id, again.id);
    assert_eq!(world.emu.executed("processing.execute"), 1);
    assert_eq!(job.status, Some(JobStatus::Pending));

    let done = wait::processing_job(&client, &job.id)
        .interval(Duration::from_secs(5), Duration::from_secs(20))
        .deadline(Duration::from_secs(600))
        .await
        .expect("the job succeeds");
    assert_eq!(done.status, Some(JobStatus::Succeeded));

    let delivery = world.next_delivery().await;
    let Event::ProcessingJobCompleted(event) = &delivery.event else {
        panic!("not a job event: {:?}", delivery.event);
    };
    assert_eq!(event.envelope.entity_id, job.id);

    let tiles = processing_job_tile_info::send(&client, ProcessingJobInput::new(&job.id))
        .await
        .expect("tile info of the finished job");
    assert!(tiles.as_object().is_some_and(|o| !o.is_empty()), "{tiles}");
}

#[tokio::test]
async fn upload_workflow_send_a_file_hear_wait_and_read_what_was_stored() {
    let mut world = world("upload.completed").await;
    let client = world.client.clone();
    let project = Geopera::from(client.clone())
        .invoke("projects.create", json!({"name": "upload workflow"}))
        .await
        .expect("a project");
    let project = project["id"].as_str().expect("a project id");

    // A file of 3 MiB, not a multiple of any chunk size.
    let bytes: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    let dir = std::env::temp_dir().join(format!("geopera-upload-workflow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("scene.tif");
    std::fs::write(&path, &bytes).expect("the file is written");

    let reported = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = reported.clone();
    let uploaded = Upload::from_path(project, &path)
        .content_type("image/tiff")
        .on_progress(move |progress| {
            seen.store(progress.bytes_sent, std::sync::atomic::Ordering::SeqCst);
        })
        .send(&client)
        .await
        .expect("the upload completes");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        reported.load(std::sync::atomic::Ordering::SeqCst),
        bytes.len() as u64,
        "progress reached the whole file"
    );

    // Waiting for a completed upload ends at once, with the stored files.
    let done = wait::upload(&client, &uploaded.upload_id)
        .deadline(Duration::from_secs(60))
        .await
        .expect("the upload is done");
    assert_eq!(done.status, Some(UploadStatus::Completed));
    let files = done.files.unwrap_or_default();
    let expected: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size, Some(bytes.len() as u64));
    assert_eq!(files[0].sha256.as_deref(), Some(expected.as_str()));

    let delivery = world.next_delivery().await;
    let Event::UploadCompleted(event) = &delivery.event else {
        panic!("not an upload event: {:?}", delivery.event);
    };
    assert_eq!(event.envelope.entity_id, uploaded.upload_id);
}
