//! Unit tests of `error.rs`.
use super::*;

#[test]
fn api_error_reads_like_the_status_line_and_detail() {
    let err = Error::Api {
        operation_id: "orders.archive.place",
        status: StatusCode::FORBIDDEN,
        problem: Box::new(Problem::new(
            403,
            "Forbidden",
            "missing scope 'orders:write' for 'orders.archive.place'",
        )),
        attempts: 1,
        request_id: None,
    };
    assert_eq!(
        err.to_string(),
        "403 Forbidden on orders.archive.place: missing scope 'orders:write' for 'orders.archive.place'"
    );
    assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
    assert!(!err.is_retryable());
}

#[test]
fn kinds_follow_the_status_and_say_what_is_retryable() {
    let api = |code: u16| Error::Api {
        operation_id: "catalog.search",
        status: StatusCode::from_u16(code).expect("a status"),
        problem: Box::new(Problem::new(code, "x", "")),
        attempts: 1,
        request_id: None,
    };
    assert_eq!(api(401).kind(), ErrorKind::Auth);
    assert_eq!(api(403).kind(), ErrorKind::Auth);
    assert_eq!(api(404).kind(), ErrorKind::NotFound);
    assert_eq!(api(409).kind(), ErrorKind::Conflict);
    assert_eq!(api(402).kind(), ErrorKind::Api);
    assert_eq!(api(501).kind(), ErrorKind::Server);
    assert!(!api(501).is_retryable(), "501 is not transient");
    for code in crate::retry::TRANSIENT_STATUSES {
        assert!(api(code).is_retryable(), "{code}");
    }
    assert!(!api(404).is_retryable());
    assert!(Error::too_large("catalog.search", 10).kind() == ErrorKind::TooLarge);
}

#[test]
fn a_size_cap_is_named_by_the_setting_that_moves_it() {
    let call = Error::too_large("catalog.search", 10).to_string();
    assert!(call.contains("ClientBuilder::max_response_bytes"), "{call}");
    for operation in ["oidc.token", "oidc.device_authorization"] {
        let sign_in = Error::too_large(operation, 65_536).to_string();
        assert!(!sign_in.contains("max_response_bytes"), "{sign_in}");
        assert!(sign_in.contains("identity provider"), "{sign_in}");
    }
}

#[test]
fn only_errors_of_a_call_take_its_request_id() {
    let named = Error::deadline("catalog.search", 2).with_request_id("id-1");
    assert_eq!(named.request_id(), Some("id-1"));
    let config = Error::Config("bad base URL".into()).with_request_id("id-1");
    assert_eq!(config.request_id(), None);
}

#[test]
fn excerpts_are_bounded() {
    let long = "x".repeat(1000);
    assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS + 1);
}

#[test]
fn the_error_stays_small() {
    assert!(
        std::mem::size_of::<Error>() <= 72,
        "{}",
        std::mem::size_of::<Error>()
    );
}

#[test]
fn a_quoted_body_is_shown_without_the_white_space_around_it() {
    let unexpected = |body: &'static str| Error::UnexpectedStatus {
        operation_id: "catalog.search",
        status: StatusCode::IM_A_TEAPOT,
        body: Bytes::from_static(body.as_bytes()),
        attempts: 1,
        request_id: None,
    };
    assert_eq!(
        unexpected("  blocked by the gateway\r\n").to_string(),
        "unexpected status 418 I'm a teapot from catalog.search: blocked by the gateway"
    );
    assert_eq!(
        unexpected(" \n").to_string(),
        "unexpected status 418 I'm a teapot from catalog.search"
    );
    let decode = |body: &[u8]| {
        let source = serde_json::from_slice::<u8>(body).expect_err("not a number");
        Error::decode("catalog.search", StatusCode::OK, body, source).to_string()
    };
    assert!(
        decode(b"oops\n").ends_with(": oops"),
        "{}",
        decode(b"oops\n")
    );
    assert!(
        decode(b" \n").ends_with(": the body is blank"),
        "{}",
        decode(b" \n")
    );
    assert!(
        decode(b"").ends_with(": the body is empty"),
        "{}",
        decode(b"")
    );
}

#[test]
fn only_a_provider_judging_the_grant_refuses_it() {
    use geopera_types::oidc::codes;
    let at = |status: u16| Some(StatusCode::from_u16(status).expect("a status"));
    let refused = [
        (codes::INVALID_GRANT, at(400)),
        (codes::INVALID_CLIENT, at(401)),
        (codes::ACCESS_DENIED, at(403)),
        // The session's own word that nothing is left to renew it with.
        (codes::INVALID_GRANT, None),
    ];
    for (code, status) in refused {
        let error = Error::sign_in(code, None, status);
        assert!(error.is_grant_refused(), "{code} {status:?}");
    }
    let not_refused = [
        // A gateway's page or a provider starting up: no OAuth code at all.
        ("invalid_response", at(403)),
        ("invalid_response", at(404)),
        // "Try again later" in HTTP's words, whatever code the body names.
        (codes::INVALID_GRANT, at(408)),
        (codes::INVALID_REQUEST, at(429)),
        (codes::INVALID_GRANT, at(503)),
        // A remembered outage and a device code's expiry end no session.
        (codes::TEMPORARILY_UNAVAILABLE, None),
        (codes::EXPIRED_TOKEN, None),
        // A 2xx that is no usable token.
        ("invalid_response", at(200)),
    ];
    for (code, status) in not_refused {
        let error = Error::sign_in(code, None, status);
        assert!(!error.is_grant_refused(), "{code} {status:?}");
    }
    assert!(!Error::config("no").is_grant_refused());
}

/// The decoder's words about an answer that may hold a credential are never shown, bar a
/// missing member, which names a field of the SDK's own: a string where an object belongs was
/// quoted whole.
#[test]
fn a_decoder_failure_on_a_credential_answer_quotes_no_value() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        upload_url: String,
    }
    let words = |text: &str| {
        let failure = serde_json::from_str::<Shape>(text).expect_err("does not fit");
        unquoted_decoder(&failure)
    };
    let typed = words(r#""https://s.example/o?signature=s3cr3t""#);
    assert!(!typed.contains("s3cr3t"), "{typed}");
    assert!(
        typed.contains("expected shape") && typed.contains("column 38"),
        "{typed}"
    );
    let valued = words(r#"{"upload_url": 5, "x": "s3cr3t"}"#);
    assert!(!valued.contains("s3cr3t"), "{valued}");
    assert_eq!(words("{}"), "missing field `upload_url` at line 1 column 2");
    assert!(words(r#"{"upload_url": "s3cr3t"#).contains("ends too soon"));
    assert!(words("[s3cr3t]").contains("is not JSON"));
}
