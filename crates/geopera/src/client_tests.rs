//! Unit tests of `client.rs`.
use super::*;

#[test]
fn base_urls_are_checked_and_normalized() {
    assert_eq!(
        normalize_base_url("http://127.0.0.1:8080/").ok().as_deref(),
        Some("http://127.0.0.1:8080")
    );
    assert!(normalize_base_url("ftp://example.com").is_err());
    assert!(normalize_base_url("not a url").is_err());
}

#[test]
fn a_password_in_the_base_url_is_refused_and_never_quoted() {
    for raw in [
        "http://user:hunter2@127.0.0.1:8080",
        "https://hunter2@api.example.com/v1",
        "http://user:hunter2@[::1",
        "ftp://user:hunter2@example.com",
        // Spellings a URL parser reads as the same authority: any number of slashes or
        // backslashes after the scheme, or none; tabs and newlines anywhere; leading spaces.
        "https:///u:hunter2@127.0.0.1:1",
        "http:u:hunter2@h",
        "https:\\\\u:hunter2@h",
        "https:/\\u:hunter2@h/p",
        "ht\ttps://u:hunter2@h",
        "https:/\n/u:hunter2@h",
        " https://u:hunter2@h",
        "HTTPS://u:hunter2@h",
    ] {
        let builder = Client::builder().base_url(raw);
        let shown = format!("{builder:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let err = builder.build().expect_err("refused");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("base URL"), "{shown}");
    }
    let err = Client::builder()
        .base_url("http://user:hunter2@127.0.0.1:8080")
        .build()
        .expect_err("refused");
    assert!(err.to_string().contains("user name or password"), "{err}");
    assert_eq!(
        without_userinfo("http://a:b@host/p@q"),
        "http://[redacted]@host/p@q"
    );
    assert_eq!(without_userinfo("http://host/p@q"), "http://host/p@q");
}

#[test]
fn a_base_url_is_quoted_without_its_query_or_fragment() {
    for (raw, refused) in [
        ("https://h/p?api_key=gpra_secret", "https://h/p?[redacted]"),
        ("https://h/p#gpra_secret", "https://h/p#[redacted]"),
        ("h:1/p?api_key=gpra_secret", "h:1/p?[redacted]"),
    ] {
        let builder = Client::builder().base_url(raw);
        let shown = format!("{builder:?}");
        assert!(!shown.contains("gpra_secret"), "{shown}");
        let err = builder.build().expect_err("refused");
        let message = err.to_string();
        assert!(!message.contains("gpra_secret"), "{message}");
        assert!(message.contains(refused), "{message}");
    }
}

#[test]
fn debug_redacts_the_token() {
    let client = AuthenticatedClient::new("http://127.0.0.1:1", "gpra_supersecret").expect("valid");
    let shown = format!("{client:?}");
    assert!(!shown.contains("supersecret"), "{shown}");
    assert!(shown.contains("redacted"));
}

#[test]
fn a_proxy_url_stays_out_of_debug_and_errors() {
    let builder = Client::builder().proxy("http://user:hunter2@127.0.0.1:3128");
    let shown = format!("{builder:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let client = builder.build().expect("a valid proxy");
    assert!(!format!("{client:?}").contains("hunter2"));

    for bad in [
        "http://user:hunter2@[::1",
        "socks9://user:hunter2@127.0.0.1:1",
    ] {
        let err = Client::builder().proxy(bad).build().expect_err("invalid");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("proxy"), "{shown}");
    }
}

#[test]
fn a_bad_header_is_reported_by_build() {
    let err = Client::builder()
        .header("bad header", "x")
        .build()
        .expect_err("invalid");
    assert!(err.to_string().contains("header"));
}

/// The `Accept` sent by default asks for the error media type the engine reads as a problem.
#[test]
fn the_default_accept_asks_for_problem_details() {
    assert!(
        DEFAULT_ACCEPT
            .split(',')
            .any(|media| media.trim() == geopera_types::PROBLEM_JSON),
        "{DEFAULT_ACCEPT}"
    );
}
