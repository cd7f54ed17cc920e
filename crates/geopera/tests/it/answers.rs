//! Every kind of answer, parsed by the async and the blocking forms alike.

use std::time::{Duration, Instant};

use geopera::models::{CatalogSearchInput, OrderGetInput};
use geopera::operations::{catalog_search, orders_get};
use geopera::{AuthenticatedClient, Error, ErrorKind, Parsed, Request, StatusCode};
use geopera_emulator::Emulator;
use serde_json::json;

use crate::support::{client, emulator, seen, HOST};

fn search(limit: i64) -> CatalogSearchInput {
    CatalogSearchInput::new(HOST)
        .collections(["sentinel-2-l2a"])
        .limit(limit)
}

fn features(page: &geopera::models::CatalogSearchOutput) -> usize {
    page.features.len()
}

#[tokio::test]
async fn success_is_parsed_into_the_output_model() {
    let emu = emulator();
    let page = catalog_search::send(&client(&emu), search(7))
        .await
        .expect("a page");
    assert_eq!(features(&page), 7);
    assert_eq!(page.number_returned, Some(7));
    assert!(page.features.iter().all(|item| !item.id.is_empty()));

    let detailed = catalog_search::send_detailed(&client(&emu), search(3))
        .await
        .expect("an answer");
    assert_eq!(detailed.status, StatusCode::OK);
    assert_eq!(detailed.attempts, 1);
    let from_bytes: serde_json::Value =
        serde_json::from_slice(&detailed.content).expect("raw JSON");
    assert_eq!(from_bytes["features"].as_array().map(Vec::len), Some(3));
    assert!(matches!(&detailed.parsed, Parsed::Success(p) if features(p) == 3));
}

#[test]
fn success_is_parsed_by_the_blocking_forms() {
    let emu = emulator();
    let page = catalog_search::send_blocking(&client(&emu), search(4)).expect("a page");
    assert_eq!(features(&page), 4);
    let detailed =
        catalog_search::send_blocking_detailed(&client(&emu), search(2)).expect("an answer");
    assert_eq!(detailed.status, StatusCode::OK);
    assert!(detailed.is_success());
}

#[tokio::test]
async fn a_bad_token_is_401_unauthenticated() {
    let emu = emulator();
    let stranger = AuthenticatedClient::new(emu.base_url(), "gpra_not_a_real_key").expect("valid");
    let response = catalog_search::send_detailed(&stranger, search(1))
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    let Parsed::Problem(problem) = &response.parsed else {
        panic!("a problem: {:?}", response.parsed)
    };
    assert_eq!(problem.title, "Unauthenticated");
    assert_eq!(problem.r#type, "about:blank");

    let err = catalog_search::send(&stranger, search(1))
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(
        !err.to_string().contains("gpra_not_a_real_key"),
        "the token never appears: {err}"
    );
    let blocking = catalog_search::send_blocking(&stranger, search(1)).expect_err("401");
    assert_eq!(blocking.problem().map(|p| p.status), Some(401));
}

#[tokio::test]
async fn a_missing_scope_is_403_with_the_documented_detail() {
    let emu = emulator();
    let reader =
        AuthenticatedClient::new(emu.base_url(), emu.create_key(&["catalog:read"])).expect("valid");
    let err = geopera::operations::orders_cancel::send(
        &reader,
        geopera::models::OrderCancelInput::new("ord_1"),
    )
    .await
    .expect_err("403");
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    assert_eq!(
        err.to_string(),
        "403 Forbidden on orders.cancel: missing scope 'orders:write' for 'orders.cancel'"
    );
    assert_eq!(err.operation_id(), Some("orders.cancel"));
    // The same key may search.
    catalog_search::send(&reader, search(1))
        .await
        .expect("catalog:read is granted");
}

#[tokio::test]
async fn an_unknown_order_is_404() {
    let emu = emulator();
    let err = orders_get::send(&client(&emu), OrderGetInput::new("ord_does_not_exist"))
        .await
        .expect_err("404");
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert!(err.problem().is_some());
    let blocking =
        orders_get::send_blocking_detailed(&client(&emu), OrderGetInput::new("ord_nope"))
            .expect("an answer");
    assert!(matches!(blocking.parsed, Parsed::Problem(ref p) if p.status == 404));
}

#[tokio::test]
async fn a_server_error_is_a_500_problem() {
    let emu = emulator();
    let request = Request::new(search(1))
        .header("x-emulator-fault", "500")
        .retries(0);
    let response = catalog_search::send_detailed(&client(&emu), request)
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(matches!(response.parsed, Parsed::Problem(ref p) if p.status == 500));
    let request = Request::new(search(1))
        .header("x-emulator-fault", "500")
        .retries(0);
    let err = catalog_search::send_blocking(&client(&emu), request).expect_err("500");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn an_invalid_body_is_422_listing_every_failure() {
    let emu = emulator();
    // Bodies are checked before sending unless the client leaves it to the API: this one
    // shows the API's own 422 answer.
    let unchecked = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .validate_input(false)
        .build()
        .expect("valid");
    let response = catalog_search::send_detailed(&unchecked, search(5000))
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    let Parsed::Validation(invalid) = &response.parsed else {
        panic!("a validation body")
    };
    assert_eq!(invalid.detail[0].loc, vec!["body".into(), "limit".into()]);
    let err = catalog_search::send(&unchecked, search(0))
        .await
        .expect_err("422");
    assert!(err.validation().is_some());
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(
        err.to_string()
            .starts_with("422 Unprocessable Entity on catalog.search: body.limit"),
        "{err}"
    );
}

#[tokio::test]
async fn every_body_is_checked_before_sending_with_the_apis_wording_and_field_paths() {
    let emu = emulator();
    let client = client(&emu);
    let typed = catalog_search::send(&client, search(0))
        .await
        .expect_err("limit 0");
    let json = catalog_search::send(&client, json!({"host_name": HOST, "limit": 0}))
        .await
        .expect_err("limit 0");
    let invoked = geopera::Geopera::from(client.clone())
        .invoke("catalog.search", json!({"host_name": HOST, "limit": 0}))
        .await
        .expect_err("limit 0");
    for err in [&typed, &json, &invoked] {
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert_eq!(err.attempts(), 0);
        assert_eq!(
            err.to_string(),
            "invalid input for catalog.search: body.limit: Input should be greater than or equal to 1"
        );
    }
    // A wrong type names its field too, and every failure is listed.
    let err = catalog_search::send(&client, json!({"limit": "ten", "bbox": "everywhere"}))
        .await
        .expect_err("three failures");
    let listed: Vec<String> = err
        .validation()
        .expect("the failures")
        .detail
        .iter()
        .map(|failure| failure.to_string())
        .collect();
    assert_eq!(
        listed,
        [
            "body.limit: Input should be a valid integer",
            "body.bbox: Input should be a valid list",
            "body.host_name: Field required",
        ],
        "{err}"
    );
    let err = catalog_search::send_blocking(&client, json!({"host_name": HOST, "limit": "ten"}))
        .expect_err("blocking calls check too");
    assert!(err.to_string().contains("body.limit"), "{err}");
    assert!(seen(&emu, "catalog.search").is_empty(), "nothing was sent");
}

#[tokio::test]
async fn members_the_model_does_not_know_are_sent_not_dropped() {
    let emu = Emulator::builder()
        .rate_limits(geopera_emulator::RateLimits::off())
        .record_bodies(true)
        .start()
        .expect("starts");
    let body = json!({"host_name": HOST, "colections": ["landsat-c2-l2"], "limit": 3});
    catalog_search::send(&client(&emu), body.clone())
        .await
        .expect("the API decides about unknown members");
    catalog_search::send(
        &client(&emu),
        Request::new(body.clone()).header("x-request-source", "test"),
    )
    .await
    .expect("a JSON request with options");
    for recorded in seen(&emu, "catalog.search") {
        let sent: serde_json::Value =
            serde_json::from_slice(&recorded.body).expect("JSON on the wire");
        assert_eq!(sent, body, "sent exactly as given");
    }
    assert_eq!(seen(&emu, "catalog.search").len(), 2);
}

#[tokio::test]
async fn an_undocumented_status_is_unparsed_or_raised() {
    let emu = emulator();
    let teapot = || Request::new(search(1)).header("x-emulator-fault", "status=418");
    let response = catalog_search::send_detailed(&client(&emu), teapot())
        .await
        .expect("an answer");
    assert_eq!(response.status.as_u16(), 418);
    assert_eq!(response.parsed, Parsed::Unparsed);
    assert!(!response.content.is_empty(), "the raw body is kept");
    let err = catalog_search::send(&client(&emu), teapot())
        .await
        .expect_err("418");
    assert!(matches!(err, Error::UnexpectedStatus { status, .. } if status.as_u16() == 418));

    let raising = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .raise_on_unexpected_status(true)
        .validate_input(false)
        .build()
        .expect("valid");
    let err = catalog_search::send_detailed(&raising, teapot())
        .await
        .expect_err("raised");
    assert!(matches!(err, Error::UnexpectedStatus { .. }));
    let err = catalog_search::send_blocking_detailed(&raising, teapot()).expect_err("raised");
    assert!(matches!(err, Error::UnexpectedStatus { .. }));
    // Documented errors are still values.
    let response = catalog_search::send_detailed(&raising, search(9999))
        .await
        .expect("a 422 value");
    assert!(matches!(response.parsed, Parsed::Validation(_)));
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_an_excerpt() {
    let emu = emulator();
    let request = || Request::new(search(2)).header("x-emulator-fault", "malformed");
    let response = catalog_search::send_detailed(&client(&emu), request())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.parsed, Parsed::Unparsed);
    let err = catalog_search::send(&client(&emu), request())
        .await
        .expect_err("undecodable");
    let Error::Decode { excerpt, .. } = &err else {
        panic!("a decode error: {err:?}")
    };
    assert!(excerpt.starts_with('{'), "{excerpt}");
    let err = catalog_search::send_blocking(&client(&emu), request()).expect_err("undecodable");
    assert!(matches!(err, Error::Decode { .. }));
}

#[tokio::test]
async fn a_slow_answer_times_out_distinctly() {
    let emu = emulator();
    let slow = || {
        Request::new(search(1))
            .header("x-emulator-fault", "latency=3s")
            .timeout(Duration::from_millis(200))
            .retries(0)
    };
    let started = Instant::now();
    let err = catalog_search::send(&client(&emu), slow())
        .await
        .expect_err("timed out");
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        matches!(
            err,
            Error::Timeout {
                limit: geopera::TimeoutLimit::Attempt,
                source: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "catalog.search timed out (attempt timeout)"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = catalog_search::send_blocking(&client(&emu), slow()).expect_err("timed out");
    assert!(err.is_timeout(), "{err:?}");
    // A client-wide timeout applies too.
    let hasty = client(&emu).with_timeout(Duration::from_millis(200));
    let request = Request::new(search(1))
        .header("x-emulator-fault", "latency=3s")
        .retries(0);
    assert!(catalog_search::send(&hasty, request)
        .await
        .expect_err("timed out")
        .is_timeout());
}

#[tokio::test]
async fn a_dead_server_is_a_transport_error() {
    let emu = emulator();
    let url = emu.base_url();
    drop(emu);
    let client = AuthenticatedClient::new(url, "gpra_x").expect("valid");
    let err = catalog_search::send(&client, Request::new(search(1)).retries(0))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn an_error_answer_longer_than_a_problem_can_be_is_kept_as_bytes_only() {
    use crate::hostile::{json as hostile_json, Hostile};
    // Two answers alike but for their padding: one just within the bound, one just past it.
    let problem = |padding: usize| {
        format!(
            r#"{{"title":"Not Found","status":404,"detail":"gone","pad":"{}"}}"#,
            "x".repeat(padding)
        )
    };
    let frame = problem(0).len();
    for (body, parsed) in [
        (problem(geopera::MAX_PROBLEM_BYTES - frame), true),
        (problem(geopera::MAX_PROBLEM_BYTES - frame + 1), false),
    ] {
        let answer = body.clone();
        let server = Hostile::serve("127.0.0.1", move |_| {
            // 404 is documented for the operation: read as a problem whatever its type.
            hostile_json(404, &[], &answer)
        });
        let client = AuthenticatedClient::builder("gpra_test_key")
            .base_url(server.url())
            .build()
            .expect("valid configuration");
        let response = orders_get::send_detailed(&client, OrderGetInput::new("ord_1"))
            .await
            .expect("an answer");
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(response.content.len(), body.len());
        assert_eq!(
            matches!(&response.parsed, Parsed::Problem(p) if p.detail == "gone"),
            parsed,
            "{} bytes",
            body.len()
        );
        if !parsed {
            assert!(matches!(response.parsed, Parsed::Unparsed));
        }
    }
}
