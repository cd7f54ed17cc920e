//! `X-Request-Id`: one per logical call, the same on every attempt, on the `Response` and on
//! the final `Error`, as the emulator sees and echoes it.

use std::time::Duration;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, ErrorKind, Request, RetryPolicy};
use geopera_emulator::{Emulator, EmulatorHandle, FaultPlan, RateLimits, REQUEST_ID_HEADER};

use crate::support::{emulator, seen, HOST};

/// Every attempt fails: a 503, then 500s.
const FAILING: &str = "503;op=catalog.search;times=1,500;op=catalog.search";

fn emulator_with(faults: &str) -> EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .faults(FaultPlan::parse(faults).expect("a valid fault plan"))
        .start()
        .expect("starts")
}

fn quick_client(emu: &EmulatorHandle) -> AuthenticatedClient {
    AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .retry_policy(
            RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .expect("valid")
}

fn one() -> Request<CatalogSearchInput> {
    Request::new(CatalogSearchInput::new(HOST).limit(1)).retries(2)
}

/// The ids the emulator recorded for the search, one per attempt.
fn ids_seen(emu: &EmulatorHandle) -> Vec<String> {
    seen(emu, "catalog.search")
        .into_iter()
        .map(|r| {
            assert_eq!(
                r.header(REQUEST_ID_HEADER),
                Some(r.request_id.as_str()),
                "the emulator kept the id it was sent"
            );
            r.request_id
        })
        .collect()
}

fn assert_one_id_on_every_attempt(emu: &EmulatorHandle, error: &geopera::Error) {
    assert_eq!(error.kind(), ErrorKind::Server, "{error:?}");
    assert_eq!(error.attempts(), 3);
    let ids = ids_seen(emu);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(error.request_id(), Some(ids[0].as_str()));
    assert!(uuid_like(&ids[0]), "{}", ids[0]);
}

/// A random (version 4) UUID in its hyphenated lower-case form, as the SDK generates.
fn uuid_like(id: &str) -> bool {
    uuid::Uuid::parse_str(id)
        .is_ok_and(|uuid| uuid.get_version_num() == 4 && uuid.hyphenated().to_string() == id)
}

#[tokio::test]
async fn a_retried_call_sends_one_id_on_every_attempt_and_its_error_carries_it() {
    let emu = emulator_with(FAILING);
    let error = catalog_search::send(&quick_client(&emu), one())
        .await
        .expect_err("every attempt fails");
    assert_one_id_on_every_attempt(&emu, &error);
}

#[test]
fn a_retried_blocking_call_sends_one_id_on_every_attempt_and_its_error_carries_it() {
    let emu = emulator_with(FAILING);
    let error =
        catalog_search::send_blocking(&quick_client(&emu), one()).expect_err("every attempt fails");
    assert_one_id_on_every_attempt(&emu, &error);
}

#[tokio::test]
async fn a_response_carries_the_id_the_emulator_echoed() {
    let emu = emulator();
    let response = catalog_search::send_detailed(&quick_client(&emu), one())
        .await
        .expect("an answer");
    assert!(response.is_success());
    let echoed = response
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok());
    assert_eq!(echoed, Some(response.request_id.as_str()));
    assert_eq!(ids_seen(&emu), [response.request_id.as_str()]);
}

#[tokio::test]
async fn two_logical_calls_get_two_ids() {
    let emu = emulator();
    let client = quick_client(&emu);
    let first = catalog_search::send_detailed(&client, one()).await;
    let second = catalog_search::send_detailed(&client, one()).await;
    let (first, second) = (first.expect("an answer"), second.expect("an answer"));
    assert_ne!(first.request_id, second.request_id);
    assert_eq!(ids_seen(&emu), [first.request_id, second.request_id]);
}

#[tokio::test]
async fn calls_on_many_threads_get_distinct_random_ids() {
    // More calls per thread than one fill of a thread's id buffer holds, on four threads.
    let emu = emulator();
    let client = quick_client(&emu);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a runtime");
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            runtime.spawn(async move { catalog_search::send_detailed(&client, one()).await })
        })
        .collect();
    let mut answered = std::collections::HashSet::new();
    for call in calls {
        let response = call.await.expect("the call ran").expect("an answer");
        assert!(uuid_like(&response.request_id), "{}", response.request_id);
        assert!(answered.insert(response.request_id), "an id was used twice");
    }
    runtime.shutdown_background();
    let sent: std::collections::HashSet<String> = ids_seen(&emu).into_iter().collect();
    assert_eq!(
        sent, answered,
        "the ids sent are the ids answered, each once"
    );
}

#[tokio::test]
async fn a_caller_chosen_id_is_sent_verbatim_on_every_attempt() {
    let emu = emulator_with(FAILING);
    let client = quick_client(&emu);
    let error = catalog_search::send(&client, one().request_id("batch-7/item-42"))
        .await
        .expect_err("every attempt fails");
    assert_eq!(error.request_id(), Some("batch-7/item-42"));
    assert_eq!(ids_seen(&emu), ["batch-7/item-42"; 3]);
    // The plain header works the same way, and a success reports it too.
    emu.set_faults(FaultPlan::none());
    let response =
        catalog_search::send_detailed(&client, one().header("X-Request-Id", "my-own-id"))
            .await
            .expect("an answer");
    assert_eq!(response.request_id, "my-own-id");
    assert_eq!(
        response
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
        Some("my-own-id")
    );
}

/// A page walk is a logical call per page: each page gets an id of its own, unless the caller
/// chose one, which then goes with every page so that one search of their logs finds the walk.
#[tokio::test]
async fn each_page_of_a_walk_gets_its_own_id_unless_the_caller_chose_one() {
    use futures::StreamExt as _;
    let emu = emulator();
    let client = quick_client(&emu);
    let two_items = || Request::new(CatalogSearchInput::new(HOST).limit(2));
    let pages: Vec<_> = catalog_search::pages(&client, two_items())
        .take(3)
        .collect()
        .await;
    assert_eq!(pages.len(), 3);
    let ids = ids_seen(&emu);
    assert_eq!(ids.len(), 3, "{ids:?}");
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| uuid_like(id)), "{ids:?}");

    let chosen = catalog_search::pages(&client, two_items().request_id("walk-9"))
        .take(3)
        .collect::<Vec<_>>()
        .await;
    assert!(chosen.iter().all(Result::is_ok));
    assert_eq!(ids_seen(&emu)[3..], ["walk-9"; 3]);
}

#[tokio::test]
async fn an_error_made_from_a_response_later_carries_its_id() {
    let emu = emulator();
    // Left to the emulator, so that its 422 comes back as a detailed answer.
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .validate_input(false)
        .build()
        .expect("valid");
    let response = catalog_search::send_detailed(
        &client,
        Request::new(serde_json::json!({"host_name": HOST, "limit": "many"})),
    )
    .await
    .expect("an answer");
    assert_eq!(response.status.as_u16(), 422);
    let id = response.request_id.clone();
    let error = response.into_result().expect_err("a 422");
    assert_eq!(error.kind(), ErrorKind::Validation);
    assert_eq!(error.request_id(), Some(id.as_str()));
    assert_eq!(ids_seen(&emu), [id]);
}

#[tokio::test]
async fn an_invalid_caller_id_fails_before_sending_without_an_id() {
    let emu = emulator();
    let error = catalog_search::send(&quick_client(&emu), one().request_id("line\nbreak"))
        .await
        .expect_err("not a header value");
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.request_id(), None);
    assert!(seen(&emu, "catalog.search").is_empty());
}

fn stream_body() -> Request<geopera::JsonObject> {
    let body = serde_json::json!({"host_name": HOST, "limit": 5});
    Request::new(body.as_object().cloned().unwrap_or_default()).retries(2)
}

#[tokio::test]
async fn a_stream_that_cannot_open_fails_with_the_id_of_its_attempts() {
    use futures::StreamExt as _;
    let emu = emulator_with("503;op=catalog.search_stream");
    let items: Vec<_> =
        geopera::operations::catalog_search_stream::stream(&quick_client(&emu), stream_body())
            .collect()
            .await;
    let ids: Vec<String> = seen(&emu, "catalog.search_stream")
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    match items.as_slice() {
        [Err(error)] => assert_eq!(error.request_id(), Some(ids[0].as_str())),
        other => panic!("one error expected: {other:?}"),
    }
}

#[tokio::test]
async fn an_error_in_the_middle_of_a_stream_carries_the_calls_id() {
    use futures::StreamExt as _;
    let emu = emulator_with("malformed;op=catalog.search_stream");
    let items: Vec<_> =
        geopera::operations::catalog_search_stream::stream(&quick_client(&emu), stream_body())
            .collect()
            .await;
    let ids: Vec<String> = seen(&emu, "catalog.search_stream")
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    match items.last() {
        Some(Err(error)) => assert_eq!(error.request_id(), Some(ids[0].as_str()), "{error:?}"),
        other => panic!("the stream ends with an error: {other:?}"),
    }
}
