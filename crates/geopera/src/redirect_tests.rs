//! Unit tests of `redirect.rs`.
use super::*;
use http::HeaderValue;

fn start() -> Hop<'static> {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("Bearer gpra_x"));
    headers.insert("x-api-key", HeaderValue::from_static("gpra_y"));
    headers.insert("cookie", HeaderValue::from_static("session=z"));
    headers.insert("x-team-token", HeaderValue::from_static("t"));
    headers.insert("user-agent", HeaderValue::from_static("geopera-rs/test"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    Hop {
        url: Cow::Borrowed("https://api.geopera.com/v1/op/catalog.image.quicklook"),
        method: Method::POST,
        headers: Cow::Owned(headers),
        body: Some(Bytes::from_static(b"{}")),
        secret_body: false,
        redirects: 0,
        left_origin: false,
    }
}

fn to(location: &'static str, status: u16) -> Option<Hop<'static>> {
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, HeaderValue::from_static(location));
    start().follow(StatusCode::from_u16(status).ok()?, &headers)
}

#[test]
fn another_origin_gets_no_credential_of_any_kind() {
    for location in [
        "https://cdn.example.net/q.png",
        "http://api.geopera.com/q.png",
        "https://api.geopera.com:8443/q.png",
    ] {
        let hop = to(location, 307).expect("followed");
        let names: Vec<&str> = hop.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["user-agent", "content-type"], "{location}");
        assert_eq!(hop.method, Method::POST, "307 keeps the method");
        assert_eq!(
            hop.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "the body it repeats is still JSON"
        );
    }
}

#[test]
fn the_same_origin_keeps_every_header_and_see_other_becomes_a_get() {
    let hop = to("/assets/quicklook/q.png", 303).expect("followed");
    assert_eq!(hop.url, "https://api.geopera.com/assets/quicklook/q.png");
    assert!(hop.headers.contains_key("x-api-key"));
    assert!(!hop.headers.contains_key("content-type"));
    assert_eq!((hop.method, hop.body), (Method::GET, None));
}

#[test]
fn odd_redirects_are_not_followed() {
    assert!(to("ftp://example.net/x", 302).is_none());
    assert!(to("https://example.net/x", 304).is_none());
    let mut hop = start();
    hop.redirects = MAX_REDIRECTS;
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, HeaderValue::from_static("/again"));
    assert!(hop.follow(StatusCode::FOUND, &headers).is_none());
}

#[test]
fn a_body_holding_credentials_is_repeated_to_its_own_origin_only() {
    let mut secret = start();
    secret.secret_body = true;
    let mut headers = HeaderMap::new();
    for location in [
        "https://elsewhere.example.net/v",
        "http://api.geopera.com/v",
        "https://api.geopera.com:8443/v",
    ] {
        headers.insert(LOCATION, HeaderValue::from_static(location));
        for status in [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
        ] {
            assert!(
                secret.follow(status, &headers).is_none(),
                "{location} {status}"
            );
        }
        // A redirect that drops the body may still be followed.
        let get = secret
            .follow(StatusCode::SEE_OTHER, &headers)
            .expect("followed");
        assert_eq!((get.method, get.body), (Method::GET, None));
    }
    headers.insert(
        LOCATION,
        HeaderValue::from_static("/v2/op/share.link.validate"),
    );
    let same = secret
        .follow(StatusCode::PERMANENT_REDIRECT, &headers)
        .expect("followed");
    assert_eq!(same.body.as_deref(), Some(&b"{}"[..]));
    assert!(same.secret_body, "and stays kept on later hops");
}
