//! `X-Request-Id`: echoed on every answer, generated when missing or unusable, recorded.

use geopera_emulator::{MAX_REQUEST_ID_CHARS, REQUEST_ID_HEADER};
use serde_json::json;

use crate::common::Api;

#[test]
fn the_id_is_echoed_on_a_404_unknown_operation_and_a_422_and_recorded() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let unknown = api.call_with(
        "no.such.op",
        &json!({}),
        &[("authorization", &key), (REQUEST_ID_HEADER, "it-404")],
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.header(REQUEST_ID_HEADER), Some("it-404"));
    let invalid = api.call_with(
        "catalog.search",
        &json!({"limit": "many"}),
        &[("authorization", &key), (REQUEST_ID_HEADER, "it-422")],
    );
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.header(REQUEST_ID_HEADER), Some("it-422"));
    let recorded: Vec<String> = api
        .emu
        .requests()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(recorded, ["it-404", "it-422"]);
}

#[test]
fn a_path_outside_the_api_echoes_the_id_too() {
    let api = Api::start();
    let resp = api
        .http
        .get(format!("{}/nowhere", api.emu.base_url()))
        .header(REQUEST_ID_HEADER, "it-fallback")
        .send()
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(
        resp.headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
        Some("it-fallback")
    );
}

#[test]
fn a_missing_oversized_or_invalid_id_is_replaced_by_a_generated_one() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let oversized = "x".repeat(MAX_REQUEST_ID_CHARS + 1);
    let body = json!({"host_name": "earthsearch-aws", "limit": 1});
    let mut seen = Vec::new();
    for sent in [None, Some(oversized.as_str()), Some("two words")] {
        let mut headers = vec![("authorization", key.as_str())];
        headers.extend(sent.map(|id| (REQUEST_ID_HEADER, id)));
        let resp = api.call_with("catalog.search", &body, &headers);
        assert_eq!(resp.status, 200);
        let echoed = resp.header(REQUEST_ID_HEADER).expect("an id").to_owned();
        assert!(echoed.starts_with("req_"), "{echoed}");
        seen.push(echoed);
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "each request gets its own id: {seen:?}");
    let recorded: Vec<String> = api
        .emu
        .requests()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(recorded, seen, "the log holds the id that was answered");
}
