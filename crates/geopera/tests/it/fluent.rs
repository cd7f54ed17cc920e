//! The fluent client: typed and JSON bodies, every finishing form, `invoke` by id.

use geopera::models::{CatalogSearchInput, TaskingEstimateInput};
use geopera::{Error, Geopera, StatusCode};
use serde_json::json;

use crate::support::{emulator, seen, HOST};

fn geopera(emu: &geopera_emulator::EmulatorHandle) -> Geopera {
    Geopera::builder(emu.api_key())
        .base_url(emu.base_url())
        .build()
        .expect("valid")
}

#[tokio::test]
async fn typed_and_json_bodies_reach_the_same_operation() {
    let emu = emulator();
    let geopera = geopera(&emu);
    let typed = geopera
        .catalog()
        .search(CatalogSearchInput::new(HOST).limit(3))
        .await
        .expect("a page");
    let json = geopera
        .catalog()
        .search(json!({"host_name": HOST, "limit": 3}))
        .await
        .expect("a page");
    assert_eq!(typed, json);
    let detailed = geopera
        .catalog()
        .search(CatalogSearchInput::new(HOST).limit(1))
        .send_detailed()
        .await
        .expect("ok");
    assert_eq!(detailed.status, StatusCode::OK);
    let estimate = geopera
        .orders()
        .tasking()
        .estimate(TaskingEstimateInput::new())
        .await;
    assert!(
        estimate.is_ok() || estimate.as_ref().is_err_and(|e| e.status().is_some()),
        "{estimate:?}"
    );
    assert_eq!(seen(&emu, "catalog.search").len(), 3);
}

#[test]
fn the_fluent_client_blocks_too() {
    let emu = emulator();
    let geopera = geopera(&emu);
    let page = geopera
        .catalog()
        .search(CatalogSearchInput::new(HOST).limit(2))
        .send_blocking()
        .expect("a page");
    assert_eq!(page.features.len(), 2);
    let err = geopera
        .catalog()
        .search(CatalogSearchInput::new(HOST).limit(501))
        .send_blocking_detailed()
        .expect_err("checked before sending");
    assert!(err.to_string().contains("body.limit"), "{err}");
    let value = geopera
        .invoke_blocking("catalog.search", json!({"host_name": HOST, "limit": 1}))
        .expect("JSON");
    assert_eq!(value["numberReturned"], 1);
}

#[tokio::test]
async fn a_json_body_that_does_not_fit_fails_before_sending() {
    let emu = emulator();
    let geopera = geopera(&emu);
    let err = geopera
        .catalog()
        .search(json!({"limit": "ten"}))
        .await
        .expect_err("no host_name");
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid input for catalog.search: body.limit: Input should be a valid integer; \
         body.host_name: Field required"
    );
    assert!(seen(&emu, "catalog.search").is_empty());
}

#[tokio::test]
async fn invoke_calls_any_operation_by_id() {
    let emu = emulator();
    let geopera = geopera(&emu);
    let page = geopera
        .invoke("catalog.search", json!({"host_name": HOST, "limit": 2}))
        .await
        .expect("JSON");
    assert_eq!(page["features"].as_array().map(Vec::len), Some(2));
    let balance = geopera
        .invoke("billing.credits.balance", json!({}))
        .await
        .expect("JSON");
    assert!(balance.is_object());

    let err = geopera
        .invoke("catalog.does_not_exist", json!({}))
        .await
        .expect_err("unknown id");
    assert!(matches!(err, Error::InvalidRequest { .. }));
    assert_eq!(err.operation_id(), Some("catalog.does_not_exist"));
    let err = geopera
        .invoke("catalog.search", json!({"limit": 2}))
        .await
        .expect_err("missing host_name");
    assert!(err.to_string().contains("host_name"), "{err}");
    assert!(emu
        .requests()
        .iter()
        .all(|r| r.operation_id.as_deref() != Some("catalog.does_not_exist")));
    assert_eq!(
        seen(&emu, "catalog.search").len(),
        1,
        "only the valid call was sent"
    );
}

#[tokio::test]
async fn the_underlying_client_serves_the_operation_functions() {
    let emu = emulator();
    let geopera = geopera(&emu);
    let page = geopera::operations::catalog_search::send(
        geopera.client(),
        CatalogSearchInput::new(HOST).limit(1),
    )
    .await
    .expect("a page");
    assert_eq!(page.features.len(), 1);
    // The fluent client is itself accepted wherever a client is.
    geopera::operations::catalog_search::send(&geopera, CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("ok");
}

#[tokio::test]
async fn the_fluent_ndjson_search_streams_its_items() {
    use futures::StreamExt;

    let emu = emulator();
    let geopera = geopera(&emu);
    let body = json!({"host_name": HOST, "limit": 5, "collections": ["landsat-c2-l2"]});
    let streamed: Vec<serde_json::Value> = geopera
        .catalog()
        .search_stream(body.clone())
        .stream()
        .map(|item| item.expect("an item"))
        .collect()
        .await;
    assert!(!streamed.is_empty());
    assert!(streamed
        .iter()
        .all(|item| item["collection"] == "landsat-c2-l2"));
    let direct: Vec<serde_json::Value> =
        geopera::operations::catalog_search_stream::stream(geopera.client(), body.clone())
            .map(|item| item.expect("an item"))
            .collect()
            .await;
    assert_eq!(streamed, direct);
    // The call's `stream` is the one every operation marked as answering NDJSON gets, so code
    // generic over those operations streams this one the same way.
    let generic: Vec<serde_json::Value> =
        any_ndjson_stream(geopera.catalog().search_stream(body.clone()))
            .map(|item| item.expect("an item"))
            .collect()
            .await;
    assert_eq!(generic, direct);

    // Awaited instead, the call hands over the raw newline-delimited text: one line per item.
    let raw = geopera
        .catalog()
        .search_stream(body)
        .await
        .expect("the raw answer");
    assert_eq!(raw.media_type(), "application/x-ndjson");
    let lines: Vec<serde_json::Value> = raw
        .text()
        .expect("UTF-8 text")
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON value per line"))
        .collect();
    assert_eq!(lines, direct);
}

/// Streams any call whose operation answers NDJSON, knowing nothing else of it.
fn any_ndjson_stream<O: geopera::NdjsonOperation>(
    call: geopera::Call<O>,
) -> geopera::PageStream<serde_json::Value> {
    call.stream()
}

#[test]
fn the_fluent_ndjson_search_streams_blocking_too() {
    let emu = emulator();
    let geopera = geopera(&emu);
    let first: Vec<String> = geopera
        .catalog()
        .search_stream(json!({"host_name": HOST, "collections": ["sentinel-1-grd"]}))
        .stream_blocking()
        .take(3)
        .map(|item| {
            item.expect("an item")["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|id| !id.is_empty()));
}

#[tokio::test]
async fn invoke_by_id_decodes_the_answer_as_the_caller_asks() {
    use geopera::models::CatalogSearchOutput;
    use geopera::{Binary, Parsed, Request};
    let emu = emulator();
    let geopera = geopera(&emu);
    let body = || Request::new(json!({"host_name": HOST, "limit": 2}));
    let kept = geopera
        .invoke_request_as::<Binary>("catalog.search", body())
        .await
        .expect("an answer");
    let Parsed::Success(bytes) = &kept.parsed else {
        panic!("not a success: {:?}", kept.parsed);
    };
    assert_eq!(bytes.bytes, kept.content, "the bytes, unread");
    let typed = geopera
        .invoke_request_as::<CatalogSearchOutput>("catalog.search", body())
        .await
        .expect("an answer");
    assert_eq!(
        typed.parsed.success().map(|page| page.features.len()),
        Some(2)
    );
    // An unknown id fails before any request, whatever the answer would be decoded as.
    let before = emu.requests().len();
    let unknown = geopera
        .invoke_request_as::<Binary>("no.such.operation", body())
        .await
        .expect_err("no such operation");
    assert!(
        matches!(unknown, Error::InvalidRequest { .. }),
        "{unknown:?}"
    );
    assert_eq!(emu.requests().len(), before);
}

/// Calling by id with per-call options works from blocking code as from async code: the
/// options go with the call, and the answer is decoded as the caller asks. Blocking code once
/// had `invoke` alone, with no way to send a key or keep the bytes unread.
#[cfg(feature = "blocking")]
#[test]
fn invoke_by_id_with_options_works_from_blocking_code() {
    use geopera::models::CatalogSearchOutput;
    use geopera::{Binary, Parsed, Request};
    let emu = emulator();
    let geopera = geopera(&emu);
    let body = || Request::new(json!({"host_name": HOST, "limit": 2}));

    let kept = geopera
        .invoke_request_as_blocking::<Binary>("catalog.search", body().request_id("by-id-1"))
        .expect("an answer");
    let Parsed::Success(bytes) = &kept.parsed else {
        panic!("not a success: {:?}", kept.parsed);
    };
    assert_eq!(bytes.bytes, kept.content, "the bytes, unread");
    let typed = geopera
        .invoke_request_as_blocking::<CatalogSearchOutput>("catalog.search", body())
        .expect("an answer");
    assert_eq!(
        typed.parsed.success().map(|page| page.features.len()),
        Some(2)
    );
    let value = geopera
        .invoke_request_blocking("catalog.search", body().request_id("by-id-2"))
        .expect("an answer")
        .into_result()
        .expect("a page");
    assert_eq!(value["features"].as_array().map(Vec::len), Some(2));
    let detailed = geopera
        .invoke_detailed_blocking("catalog.search", json!({"host_name": HOST, "limit": 1}))
        .expect("an answer");
    assert_eq!(detailed.status, StatusCode::OK);

    let ids: Vec<bool> = seen(&emu, "catalog.search")
        .iter()
        .map(|request| request.header_is("x-request-id", "by-id-1"))
        .collect();
    assert_eq!(
        ids,
        [true, false, false, false],
        "the first call's id went with it"
    );
    assert!(seen(&emu, "catalog.search")[2].header_is("x-request-id", "by-id-2"));
}
