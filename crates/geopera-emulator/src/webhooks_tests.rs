//! Unit tests of `webhooks.rs`.
use super::*;

#[test]
fn the_ssrf_guard_refuses_internal_hosts_and_plain_http() {
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://2130706433/",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://intranet/",
        "https://[64:ff9b::7f00:1]/",
        "https://[64:ff9b::a00:1]/",
        "https://[64:ff9b:1::1]/",
        "https://[2002:7f00:1::1]/",
        "https://[2002:c0a8:101::1]/",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "https://kubernetes.default.svc/",
        "https://nas.lan/",
        "https://user:pw@example.com/",
        "ftp://example.com/",
        "not a url",
    ] {
        let problem = endpoint_problem(url, false);
        assert!(
            problem
                .as_deref()
                .is_some_and(|p| p.contains("endpoint_url")),
            "{url} was accepted"
        );
    }
    assert_eq!(endpoint_problem("https://hooks.example.com/x", false), None);
    assert_eq!(endpoint_problem("https://8.8.8.8/x", false), None);
    assert_eq!(
        endpoint_problem("https://[64:ff9b::808:808]/x", false),
        None
    );
    assert_eq!(
        endpoint_problem("https://[2606:4700:4700::1111]/x", false),
        None
    );
    assert_eq!(endpoint_problem("http://127.0.0.1:9/x", true), None);
}

#[test]
fn backoff_doubles_from_ten_seconds() {
    assert_eq!(backoff_ms(1), 10_000);
    assert_eq!(backoff_ms(2), 20_000);
    assert_eq!(backoff_ms(7), 640_000);
}

#[test]
fn filters_match_dotted_paths() {
    let body = json!({"entity_type": "order", "data": {"project_id": "p1"}});
    assert_eq!(lookup(&body, "data.project_id"), Some(&json!("p1")));
    assert_eq!(lookup(&body, "data.missing"), None);
    assert_eq!(lookup(&body, "entity_type"), Some(&json!("order")));
}
