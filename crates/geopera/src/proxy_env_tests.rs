//! Unit tests of `proxy_env.rs`.
use std::collections::HashMap;

use super::*;

fn first_unreadable(vars: &[(&str, &str)]) -> Option<&'static str> {
    unreadable(lookup(vars))
}

/// A lookup of the variables `vars`, as the environment would answer it.
fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).into()))
        .collect();
    move |name| vars.get(name).cloned()
}

#[test]
fn proxy_urls_reqwest_follows_pass() {
    for url in [
        "http://127.0.0.1:3128",
        "https://proxy.internal",
        "proxy.internal:3128",
        "http://bob:s3cret@127.0.0.1:3128",
        "http://bob@127.0.0.1:3128/ignored/path",
        "http://[::1]:3128",
        "socks5h://127.0.0.1:1080",
    ] {
        assert_eq!(first_unreadable(&[("HTTPS_PROXY", url)]), None, "{url}");
    }
    assert_eq!(first_unreadable(&[]), None);
    assert_eq!(
        first_unreadable(&[("HTTPS_PROXY", "")]),
        None,
        "empty is unset"
    );
}

#[test]
fn what_reqwest_would_pass_over_names_its_variable() {
    for url in [
        "http://127.0.0.1:1 ",
        "http://bob:two words@127.0.0.1:1",
        "http://[bad:1",
        "http://127.0.0.1:99999",
        "ftp://127.0.0.1:21",
        "/just/a/path",
    ] {
        assert_eq!(
            first_unreadable(&[("https_proxy", url)]),
            Some("https_proxy"),
            "{url:?}"
        );
    }
}

#[test]
fn only_the_variable_read_is_checked() {
    // The upper-case form wins when both are set, as for reqwest.
    let both = [
        ("ALL_PROXY", "http://127.0.0.1:3128"),
        ("all_proxy", "bad url"),
    ];
    assert_eq!(first_unreadable(&both), None);
    let both = [
        ("ALL_PROXY", "bad url"),
        ("all_proxy", "http://127.0.0.1:3128"),
    ];
    assert_eq!(first_unreadable(&both), Some("ALL_PROXY"));
    // A CGI program follows none of them, so none is checked there.
    let cgi = [
        ("REQUEST_METHOD", "GET"),
        ("HTTP_PROXY", "bad url"),
        ("HTTPS_PROXY", "bad url"),
    ];
    assert_eq!(first_unreadable(&cgi), None);
    assert_eq!(first_unreadable(&cgi[1..]), Some("HTTP_PROXY"));
    // ALL_PROXY stands in only for a scheme without its own variable.
    let covered = [
        ("HTTP_PROXY", "http://127.0.0.1:3128"),
        ("HTTPS_PROXY", "http://127.0.0.1:3128"),
        ("ALL_PROXY", "bad url"),
    ];
    assert_eq!(first_unreadable(&covered), None);
    assert_eq!(first_unreadable(&covered[1..]), Some("ALL_PROXY"));
}

/// A value that is not UTF-8 is passed over by reqwest as if unset: calls would go around the
/// proxy its operator set up, so it is named rather than skipped.
#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_names_its_variable() {
    use std::os::unix::ffi::OsStringExt as _;

    let latin1 = OsString::from_vec(b"http://bob:p\xe4ss@127.0.0.1:3128".to_vec());
    let vars: HashMap<&str, OsString> = HashMap::from([("HTTPS_PROXY", latin1)]);
    assert_eq!(
        unreadable(|name| vars.get(name).cloned()),
        Some("HTTPS_PROXY")
    );
}

/// A plain-http call, though to this machine's loopback, goes through the proxy `HTTP_PROXY`
/// (or `ALL_PROXY`) names unless `NO_PROXY` names its host: in clear text to the proxy.
#[test]
fn a_plain_http_call_a_proxy_variable_takes_is_told() {
    let taken = |url: &str, vars: &[(&str, &str)]| takes_in_clear_text(url, lookup(vars));
    let proxy = "http://proxy.corp:3128";
    for url in [
        "http://127.0.0.1:8787",
        "http://[::1]:8787",
        "http://localhost:8787",
    ] {
        assert_eq!(
            taken(url, &[("HTTP_PROXY", proxy)]),
            Some("HTTP_PROXY"),
            "{url}"
        );
        assert_eq!(
            taken(url, &[("all_proxy", proxy)]),
            Some("all_proxy"),
            "{url}"
        );
        assert_eq!(taken(url, &[]), None, "{url}");
        assert_eq!(
            taken(url, &[("HTTPS_PROXY", proxy)]),
            None,
            "{url}: https only"
        );
    }
    let listed = [("HTTP_PROXY", proxy), ("NO_PROXY", "127.0.0.1,localhost")];
    assert_eq!(taken("http://127.0.0.1:8787", &listed), None);
    assert_eq!(
        taken("https://127.0.0.1:8787", &[("ALL_PROXY", proxy)]),
        None,
        "tunnelled"
    );
    let cgi = [("HTTP_PROXY", proxy), ("REQUEST_METHOD", "GET")];
    assert_eq!(
        taken("http://127.0.0.1:8787", &cgi),
        None,
        "followed by none"
    );
}

/// A SOCKS proxy the calls would go through is named, the client cannot speak to it; one
/// `NO_PROXY` keeps them from is no matter (an `ssh -D` proxy for other hosts).
#[test]
fn a_socks_proxy_the_calls_go_through_is_named() {
    let through = |url: &str, vars: &[(&str, &str)]| takes_through_socks(url, lookup(vars));
    let socks = "socks5h://127.0.0.1:1080";
    let api = "https://api.geopera.example";
    assert_eq!(through(api, &[("ALL_PROXY", socks)]), Some("ALL_PROXY"));
    assert_eq!(through(api, &[("https_proxy", socks)]), Some("https_proxy"));
    assert_eq!(
        through("http://127.0.0.1:8787", &[("all_proxy", socks)]),
        Some("all_proxy")
    );
    let kept_out = [
        ("ALL_PROXY", socks),
        ("NO_PROXY", "127.0.0.1,api.geopera.example"),
    ];
    assert_eq!(through(api, &kept_out), None);
    assert_eq!(through("http://127.0.0.1:8787", &kept_out), None);
    let http_proxy = [
        ("HTTPS_PROXY", "http://proxy.corp:3128"),
        ("ALL_PROXY", socks),
    ];
    assert_eq!(through(api, &http_proxy), None, "HTTPS_PROXY comes first");
    // One the matcher cannot read stands aside: the SOCKS proxy's variable is named.
    let unread = [("HTTPS_PROXY", "http://bad port:1"), ("ALL_PROXY", socks)];
    assert_eq!(through(api, &unread), Some("ALL_PROXY"));
}

/// Any SOCKS proxy the client follows is named, `NO_PROXY` or not: calls to the hosts it
/// takes fail. An HTTP proxy is not.
#[test]
fn a_socks_proxy_followed_is_named_whatever_it_takes() {
    let named = |vars: &[(&str, &str)]| names_socks(lookup(vars));
    let socks = "socks5h://127.0.0.1:1080";
    assert_eq!(
        named(&[("ALL_PROXY", socks), ("NO_PROXY", "*")]),
        Some("ALL_PROXY")
    );
    assert_eq!(named(&[("https_proxy", socks)]), Some("https_proxy"));
    assert_eq!(named(&[("HTTPS_PROXY", "http://proxy.corp:3128")]), None);
    assert_eq!(
        named(&[("ALL_PROXY", socks), ("REQUEST_METHOD", "GET")]),
        None
    );
}
