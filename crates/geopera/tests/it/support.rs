//! Shared set-up: one emulator per test, so recorded requests and counters are the test's own.

use geopera::{AuthenticatedClient, Client};
use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};

pub const HOST: &str = "earthsearch-aws";

pub fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .seed(11)
        .rate_limits(RateLimits::off())
        .record_bodies(true)
        .start()
        .expect("the emulator starts on 127.0.0.1")
}

pub fn client(emulator: &EmulatorHandle) -> AuthenticatedClient {
    AuthenticatedClient::new(emulator.base_url(), emulator.api_key()).expect("valid configuration")
}

pub fn anonymous(emulator: &EmulatorHandle) -> Client {
    Client::new(emulator.base_url()).expect("valid configuration")
}

/// The requests the emulator saw for one operation.
pub fn seen(
    emulator: &EmulatorHandle,
    operation_id: &str,
) -> Vec<geopera_emulator::RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some(operation_id))
        .collect()
}

/// A capture id and footprint from the emulator's catalog, for placing archive orders.
pub fn capture(emulator: &EmulatorHandle) -> serde_json::Value {
    let page = geopera::operations::catalog_search::send_blocking(
        &client(emulator),
        geopera::models::CatalogSearchInput::new(HOST).limit(1),
    )
    .expect("a page");
    let feature = page
        .features
        .into_iter()
        .next()
        .expect("at least one feature");
    // A footprint of about 1 km², so that many orders stay within the starting credits.
    let corner = feature.bbox.unwrap_or_default();
    let (x, y) = (
        corner.first().copied().unwrap_or(0.0),
        corner.get(1).copied().unwrap_or(0.0),
    );
    let ring = serde_json::json!([
        [x, y],
        [x + 0.01, y],
        [x + 0.01, y + 0.01],
        [x, y + 0.01],
        [x, y]
    ]);
    serde_json::json!({"id": feature.id, "geometry": {"type": "Polygon", "coordinates": [ring]}})
}

/// An `orders.archive.place` body for one capture, named so the order can be found again.
pub fn archive_order(capture: &serde_json::Value, name: &str) -> geopera::JsonObject {
    serde_json::json!({"captures": [capture], "displayName": name})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The display names of every order of the demo organization, walked page by page.
pub fn order_names(emulator: &EmulatorHandle) -> Vec<String> {
    geopera::operations::orders_list::items_blocking(
        &client(emulator),
        geopera::models::OrdersListInput::new().size(100),
    )
    .map(|order| {
        order.expect("a listed order")["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
    .collect()
}
