//! Unit tests of `error.rs`.
use super::*;

fn parse(content_type: Option<&str>, body: &str) -> Result<Option<Value>, ApiError> {
    let mut headers = HeaderMap::new();
    if let Some(kind) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(kind).expect("header"));
    }
    ApiJson::<Value>::parse(&headers, body.as_bytes())
}

#[test]
fn bodies_are_read_like_the_api() {
    let rejection = parse(Some("application/json"), "{\"a\": ").expect_err("malformed");
    let reply = rejection.into_reply();
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["body", 6]));

    let rejection = parse(Some("text/plain"), "{}").expect_err("wrong type");
    assert_eq!(rejection.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let value = parse(None, "{\"a\":1}").expect("untyped body reads as JSON");
    assert_eq!(value.expect("a body")["a"], 1);
    assert!(parse(Some("application/json"), " \n")
        .expect("blank")
        .is_none());
}

#[test]
fn problems_render_problem_json() {
    let reply = ApiError::unauthenticated("no credentials")
        .with_header(http::header::RETRY_AFTER, 3)
        .into_reply();
    assert_eq!(reply.content_type, "application/problem+json");
    let body: Value = serde_json::from_slice(&reply.body).expect("json");
    assert_eq!(body["title"], "Unauthenticated");
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["status"], 401);
    assert_eq!(reply.headers.len(), 1);
}

#[test]
fn a_long_message_keeps_its_beginning_and_end_within_the_bound() {
    // Multi-byte characters on both cuts: the clip must land between characters.
    let id = "é".repeat(50_000);
    let detail = match ApiError::not_found(format!("order '{id}' not found")) {
        ApiError::Problem { detail, .. } => detail,
        other => panic!("not a problem: {other:?}"),
    };
    assert!(detail.len() <= MAX_MESSAGE_BYTES, "{} bytes", detail.len());
    assert!(detail.starts_with("order 'éé"), "{detail}");
    assert!(detail.ends_with("éé' not found"), "{detail}");
    assert!(detail.contains(" bytes left out "), "{detail}");

    let short = "item 'it_1' not found";
    assert!(matches!(
        ApiError::not_found(short),
        ApiError::Problem { detail, .. } if detail == short
    ));
    let body = ApiError::invalid(&["name"], "x".repeat(5_000))
        .into_reply()
        .body;
    let body: Value = serde_json::from_slice(&body).expect("json");
    let msg = body["detail"][0]["msg"].as_str().expect("a message");
    assert!(msg.len() <= MAX_MESSAGE_BYTES && msg.starts_with("Value error, xx"));
}
