//! Unit tests of `hosts.rs`.
use super::*;

#[test]
fn addresses_localhost_and_allowed_names_are_answered() {
    let allowed = ["emulator".to_owned()];
    for host in [
        "127.0.0.1:8787",
        "127.0.0.2",
        "10.1.2.3:80",
        "[::1]:8787",
        "[::1]",
        "localhost",
        "LocalHost:8787",
        "localhost.:8787",
        "api.localhost:8787",
        "emulator:8080",
        "Emulator",
    ] {
        assert!(is_allowed(host, &allowed), "{host}");
    }
}

#[test]
fn other_names_are_not() {
    let allowed = ["emulator".to_owned()];
    for host in [
        "rebind.attacker.example:8787",
        "attacker.example",
        "localhost.attacker.example",
        "emulator.attacker.example",
        "127.0.0.1.nip.io",
        "[not-an-address]:80",
        "::1",
        "",
    ] {
        assert!(!is_allowed(host, &allowed), "{host}");
    }
}

/// An emulator that serves a document at `GET /openapi.json`, so a request that gets through
/// the guard is answered 200.
fn emulator() -> crate::EmulatorHandle {
    crate::Emulator::builder()
        .spec(r#"{"openapi": "3.1.0"}"#)
        .start()
        .expect("emulator starts")
}

/// Writes `head` (a request head as sent, `\r\n\r\n` included) to the emulator over loopback
/// and returns the answer's status and head, lower-cased. No client library in between: one
/// would refuse, normalize or add the very headers these tests send.
fn answer(emulator: &crate::EmulatorHandle, head: &[u8]) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(emulator.addr()).expect("connects");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout set");
    stream.write_all(head).expect("request written");
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    // Bounded: every answer here is one short head and body, and the read times out.
    for _ in 0..64 {
        if String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
            break;
        }
        let n = stream.read(&mut chunk).expect("answer read");
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, head)
}

/// A `GET /openapi.json` over HTTP/1.1 naming the emulator `host`.
fn get_as(host: &str) -> Vec<u8> {
    format!("GET /openapi.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

#[test]
fn over_loopback_hosts_are_answered_or_refused_by_name() {
    let emulator = emulator();
    for host in [
        "LOCALHOST:8787",
        "localhost.:8787",
        "api.localhost",
        "127.0.0.1:8787",
        "[::1]:8787",
        "[::ffff:127.0.0.1]:1",
    ] {
        assert_eq!(answer(&emulator, &get_as(host)).0, 200, "{host}");
    }
    // Look-alikes of addresses and of localhost are names a web page could own; spellings of
    // 127.0.0.1 that only some resolvers accept are read as names too, and refused.
    for host in [
        "127.0.0.1.evil.com",
        "localhost.evil.com",
        "0x7f.1",
        "2130706433",
        "",
    ] {
        let (status, head) = answer(&emulator, &get_as(host));
        assert_eq!(status, 403, "{host:?}");
        assert!(head.contains("application/problem+json"), "{head}");
    }
    // HTTP/1.0 needs no Host; browsers always send one, so a request without it is no page's.
    let old = b"GET /openapi.json HTTP/1.0\r\n\r\n";
    assert_eq!(answer(&emulator, old).0, 200);
}

#[test]
fn an_http_1_1_request_without_host_is_refused() {
    // RFC 9112 §3.2: such a request gets 400. It was once served as an HTTP/1.0 one is.
    let emulator = emulator();
    for head in [
        &b"GET /openapi.json HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        b"GET http://localhost/openapi.json HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"POST /v1/op/catalog.search HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    ] {
        let (status, answer_head) = answer(&emulator, head);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(head));
        assert!(
            answer_head.contains("application/problem+json"),
            "{answer_head}"
        );
    }
}

#[test]
fn a_host_header_that_is_not_visible_ascii_is_refused() {
    // Such a header has no text to check a name in; it once fell through to the handlers.
    let emulator = emulator();
    for host in [
        &b"rebind.evil.example\xff"[..],
        b"localhost\x80",
        b"\xfflocalhost",
    ] {
        let mut head = b"GET /openapi.json HTTP/1.1\r\nHost: ".to_vec();
        head.extend_from_slice(host);
        head.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let (status, answer_head) = answer(&emulator, &head);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(host));
        assert!(
            answer_head.contains("application/problem+json"),
            "{answer_head}"
        );
    }
}

#[test]
fn a_request_with_two_host_headers_is_refused_in_either_order() {
    // Which of the two a handler or a proxy in front reads is anyone's guess, so neither is
    // trusted (RFC 9112 §3.2: 400). Once, `localhost` first let `evil.com` through.
    let emulator = emulator();
    for (first, second) in [
        ("localhost", "evil.com"),
        ("evil.com", "localhost"),
        ("localhost", "localhost"),
    ] {
        let head = format!(
            "GET /openapi.json HTTP/1.1\r\nHost: {first}\r\nHost: {second}\r\n\
             Connection: close\r\n\r\n"
        );
        let (status, answer_head) = answer(&emulator, head.as_bytes());
        assert_eq!(status, 400, "{first}, {second}");
        assert!(
            answer_head.contains("application/problem+json"),
            "{answer_head}"
        );
    }
}

#[test]
fn an_absolute_form_target_is_judged_by_its_own_host() {
    // RFC 9112 §3.2.2: the target's authority, not `Host`, names the host. Once, only `Host`
    // was read, so `evil.com` in the target was served.
    let emulator = emulator();
    let get = |target: &str, host: Option<&str>| {
        let host = host.map_or_else(String::new, |host| format!("Host: {host}\r\n"));
        // Without Host, as HTTP/1.0 allows: HTTP/1.1 requires the header (RFC 9112 §3.2).
        let version = if host.is_empty() { "1.0" } else { "1.1" };
        let head = format!("GET {target} HTTP/{version}\r\n{host}Connection: close\r\n\r\n");
        answer(&emulator, head.as_bytes())
    };
    for (target, host) in [
        ("http://evil.com/openapi.json", Some("localhost")),
        ("http://evil.com:8787/openapi.json", Some("127.0.0.1:8787")),
        ("http://EVIL.com/openapi.json", None),
        ("http://localhost@evil.com/openapi.json", Some("localhost")),
        // Handlers read `Host` (sign-in discovery names its endpoints by it), so a `Host`
        // that differs from the target, as no client may send, is checked as well.
        ("http://localhost/openapi.json", Some("evil.com")),
    ] {
        let (status, head) = get(target, host);
        assert_eq!(status, 403, "{target} {host:?}");
        assert!(head.contains("application/problem+json"), "{head}");
    }
    for (target, host) in [
        ("http://localhost:8787/openapi.json", Some("localhost:8787")),
        ("http://Api.LocalHost./openapi.json", None),
        ("http://127.0.0.1/openapi.json", Some("127.0.0.1")),
        ("http://[::1]:8787/openapi.json", Some("[::1]:8787")),
    ] {
        assert_eq!(get(target, host).0, 200, "{target} {host:?}");
    }
}

#[test]
fn over_http2_the_authority_is_judged() {
    // HTTP/2 without TLS (h2c), as a client that knows the emulator speaks it: the name is
    // in `:authority`, resolved here to the emulator as a rebinding page's name would be.
    let emulator = emulator();
    let status = |name: &str| {
        let client = reqwest::blocking::Client::builder()
            .http2_prior_knowledge()
            .resolve(name, emulator.addr())
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("client");
        let url = format!("http://{name}:{}/openapi.json", emulator.addr().port());
        let answer = client.get(url).send().expect("answered");
        assert_eq!(answer.version(), reqwest::Version::HTTP_2);
        answer.status().as_u16()
    };
    assert_eq!(status("rebind.evil.example"), 403);
    assert_eq!(status("localhost"), 200);
    assert_eq!(status("api.localhost"), 200);
}

/// Names given to the emulator that no request's host can ever equal: requests are matched
/// on their host alone, without port, scheme, path or userinfo.
const NEVER_MATCHING: [&str; 12] = [
    "box:8080",
    "http://box",
    "https://box:8443/",
    "box/",
    "box/api",
    "box?x",
    "user@box",
    "box..",
    ".box",
    "*.box",
    "b\u{fc}cher.example",
    "",
];

#[test]
fn an_allowed_host_that_could_never_match_stops_start() {
    for name in NEVER_MATCHING {
        let error = crate::Emulator::builder()
            .allowed_host("emulator")
            .allowed_host(name)
            .allowed_host("also-fine")
            .start()
            .err()
            .unwrap_or_else(|| panic!("{name:?} was taken"));
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{name:?}");
        let message = error.to_string();
        assert!(message.contains("allowed_host"), "{message}");
        assert!(message.contains(&format!("{name:?}")), "{message}");
    }
}

#[test]
fn an_allowed_host_is_held_to_the_rules_of_a_request_host() {
    for name in NEVER_MATCHING {
        assert!(check_allowed_host(name).is_err(), "{name:?}");
    }
    let port = check_allowed_host("box:8080").expect_err("a port");
    assert!(port.to_string().contains("port"), "{port}");
    let scheme = check_allowed_host("http://box").expect_err("a scheme");
    assert!(scheme.to_string().contains("scheme"), "{scheme}");
    for name in [
        "box",
        "Box.",
        " emulator ",
        "my_service-1",
        "api.example.test",
        "127.0.0.1",
        "[::1]",
        "::1",
    ] {
        assert_eq!(check_allowed_host(name), Ok(()), "{name:?}");
    }
}

#[test]
fn an_allowed_host_matches_in_any_case_with_or_without_its_final_dot() {
    let emulator = crate::Emulator::builder()
        .spec("{}")
        .allowed_host("Box.")
        .allowed_host("my_service")
        .start()
        .expect("emulator starts");
    for host in ["box", "BOX.:8080", "My_Service:80"] {
        assert_eq!(answer(&emulator, &get_as(host)).0, 200, "{host}");
    }
    for host in ["box..", "box.example", "service"] {
        assert_eq!(answer(&emulator, &get_as(host)).0, 403, "{host}");
    }
}
