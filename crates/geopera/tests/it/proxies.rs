//! Proxies: a small proxy of the test's own between the SDK and the emulator — `CONNECT`
//! tunnels for HTTPS (through the TLS front), plain forwarding for HTTP — set on the builder
//! or taken from the environment. Environment variables are process-wide, so the tests that
//! set them run this test binary again as a child process with its own environment.

use std::process::Command;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, ErrorKind};

use crate::support::{emulator, seen, HOST};
use crate::tls_support::{Authority, Proxy, TlsFront};

fn search() -> CatalogSearchInput {
    CatalogSearchInput::new(HOST).limit(1)
}

#[tokio::test]
async fn an_https_call_tunnels_through_the_proxy_set_on_the_builder() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(front.base_url())
        .ca_file(pem.path())
        .proxy(proxy.url())
        .build()
        .expect("valid configuration");

    catalog_search::send(&client, search())
        .await
        .expect("a page through the tunnel");
    let asked = proxy.seen();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "CONNECT");
    assert_eq!(asked[0].target, front.addr().to_string());
    assert_eq!(asked[0].proxy_authorization, None);
    assert_eq!(front.handshakes(), 1);
    assert_eq!(seen(&emu, "catalog.search").len(), 1);
}

#[test]
fn blocking_calls_take_the_same_proxy() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(front.base_url())
        .ca_file(pem.path())
        .proxy(proxy.url())
        .build()
        .expect("valid configuration");

    catalog_search::send_blocking(&client, search()).expect("a page through the tunnel");
    let asked = proxy.seen();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "CONNECT");
    assert_eq!(front.handshakes(), 1);
}

/// A proxy URL without a scheme, as `HTTPS_PROXY` is often written and curl reads it, names
/// an HTTP proxy, its credentials included: its host or user name is not taken for a scheme.
#[tokio::test]
async fn a_proxy_url_without_a_scheme_is_an_http_proxy() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();
    for url in [
        proxy.addr().to_string(),
        format!(" agent:s3cret@{} ", proxy.addr()),
    ] {
        let client = AuthenticatedClient::builder(emu.api_key())
            .base_url(front.base_url())
            .ca_file(pem.path())
            .proxy(url)
            .build()
            .expect("valid configuration");
        catalog_search::send(&client, search())
            .await
            .expect("a page through the tunnel");
    }
    let asked = proxy.seen();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.iter().all(|a| a.method == "CONNECT"), "{asked:?}");
    assert_eq!(asked[0].proxy_authorization, None);
    // base64("agent:s3cret")
    assert_eq!(
        asked[1].proxy_authorization.as_deref(),
        Some("Basic YWdlbnQ6czNjcmV0")
    );
    assert_eq!(front.handshakes(), 2);
}

#[tokio::test]
async fn a_plain_http_call_is_forwarded_by_the_proxy() {
    let emu = emulator();
    let proxy = Proxy::start();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .proxy(proxy.url())
        .build()
        .expect("valid configuration");

    catalog_search::send(&client, search())
        .await
        .expect("a page through the proxy");
    let asked = proxy.seen();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].method, "POST");
    assert_eq!(
        asked[0].target,
        format!("{}/v1/op/catalog.search", emu.base_url())
    );
    assert_eq!(seen(&emu, "catalog.search").len(), 1);
}

#[tokio::test]
async fn proxy_credentials_go_to_the_proxy_and_nowhere_else() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(front.base_url())
        .ca_file(pem.path())
        .proxy(format!("http://agent:s3cret@{}", proxy.addr()))
        .build()
        .expect("valid configuration");
    assert!(!format!("{client:?}").contains("s3cret"));

    catalog_search::send(&client, search())
        .await
        .expect("a page through the tunnel");
    let asked = proxy.seen();
    assert_eq!(asked.len(), 1, "{asked:?}");
    // base64("agent:s3cret")
    assert_eq!(
        asked[0].proxy_authorization.as_deref(),
        Some("Basic YWdlbnQ6czNjcmV0")
    );
    let reached = seen(&emu, "catalog.search");
    assert_eq!(reached.len(), 1);
    assert!(!reached[0].headers.contains_key("proxy-authorization"));
}

#[tokio::test]
async fn an_unreachable_proxy_fails_without_showing_its_password() {
    let emu = emulator();
    // Bound and closed at once: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .proxy(format!("http://agent:s3cret@127.0.0.1:{port}"))
        .retries(0)
        .build()
        .expect("valid configuration");

    let err = catalog_search::send(&client, search())
        .await
        .expect_err("no proxy listens");
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    let mut shown = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(seen(&emu, "catalog.search").is_empty());
}

/// Runs [`child_calls_with_the_environment_given`] in a child process whose proxy variables
/// are `vars` alone, and says whether its call succeeded.
fn call_in_child(
    emu: &geopera_emulator::EmulatorHandle,
    front: &TlsFront,
    ca_file: &std::path::Path,
    vars: &[(&str, String)],
    knob: &str,
) -> std::process::Output {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"));
    child
        .args([
            "--exact",
            "proxies::child_calls_with_the_environment_given",
            "--ignored",
            "--test-threads=1",
        ])
        .env("GEOPERA_TEST_BASE_URL", front.base_url())
        .env("GEOPERA_TEST_TOKEN", emu.api_key())
        .env("GEOPERA_TEST_CA_FILE", ca_file)
        .env("GEOPERA_TEST_KNOB", knob);
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "REQUEST_METHOD",
    ] {
        child.env_remove(name).env_remove(name.to_ascii_lowercase());
    }
    for (name, value) in vars {
        child.env(name, value);
    }
    child.output().expect("the child runs")
}

fn assert_success(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A client given an async HTTP client of the caller's own (which may speak SOCKS) still
/// builds its blocking transport itself, which follows the proxy variables: with a SOCKS
/// proxy named for the base URL the client builds, and its blocking calls fail with the
/// variable named, where the check was skipped and every blocking call went to a proxy this
/// SDK does not speak.
#[test]
fn a_socks_proxy_is_refused_when_only_the_async_client_is_the_callers() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let output = call_in_child(
        &emu,
        &front,
        pem.path(),
        &[("ALL_PROXY", "socks5://127.0.0.1:1".to_owned())],
        "own_http",
    );
    let stderr = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("valid configuration") && stderr.contains("a page"),
        "the client builds; its blocking call fails: {stderr}"
    );
    assert!(
        stderr.contains("ALL_PROXY") && stderr.contains("SOCKS"),
        "{stderr}"
    );
    assert!(seen(&emu, "catalog.search").is_empty());
}

#[test]
fn https_proxy_from_the_environment_is_followed() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();

    let output = call_in_child(
        &emu,
        &front,
        pem.path(),
        &[("HTTPS_PROXY", proxy.url())],
        "",
    );
    assert_success(&output);
    let asked = proxy.seen();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].target, front.addr().to_string());
}

#[test]
fn no_proxy_from_the_environment_and_the_no_proxy_knob_go_direct() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();

    let listed = [
        ("HTTPS_PROXY", proxy.url()),
        ("NO_PROXY", "127.0.0.1".to_owned()),
    ];
    assert_success(&call_in_child(&emu, &front, pem.path(), &listed, ""));
    let unlisted = [("HTTPS_PROXY", proxy.url())];
    assert_success(&call_in_child(
        &emu,
        &front,
        pem.path(),
        &unlisted,
        "no_proxy",
    ));
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    assert_eq!(
        front.handshakes(),
        2,
        "both calls went straight to the server"
    );
}

#[test]
fn the_builder_proxy_wins_over_the_environment() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let (from_env, from_builder) = (Proxy::start(), Proxy::start());

    let vars = [
        ("HTTPS_PROXY", from_env.url()),
        ("GEOPERA_TEST_PROXY", from_builder.url()),
    ];
    assert_success(&call_in_child(&emu, &front, pem.path(), &vars, "proxy"));
    assert!(from_env.seen().is_empty(), "{:?}", from_env.seen());
    assert_eq!(from_builder.seen().len(), 1);
}

/// A proxy variable reqwest could not read would send calls around the proxy without a
/// word: the client is not built, and the error names the variable but not its value (which
/// may hold a password). With `no_proxy()`, or a proxy of the builder's, the variables are
/// not followed, so not checked.
#[test]
fn a_proxy_variable_that_is_no_url_fails_the_build_naming_it() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let proxy = Proxy::start();

    let broken = [("HTTPS_PROXY", "http://bob:pass word@127.0.0.1:1".to_owned())];
    let output = call_in_child(&emu, &front, pem.path(), &broken, "");
    assert!(!output.status.success());
    // The child's failure, as its test harness prints it.
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("the proxy variable HTTPS_PROXY"),
        "{printed}"
    );
    assert!(!printed.contains("pass word"), "{printed}");
    assert!(
        seen(&emu, "catalog.search").is_empty(),
        "nothing went direct"
    );

    assert_success(&call_in_child(
        &emu,
        &front,
        pem.path(),
        &broken,
        "no_proxy",
    ));
    let overridden = [
        ("HTTPS_PROXY", "http://127.0.0.1:99999".to_owned()),
        ("GEOPERA_TEST_PROXY", proxy.url()),
    ];
    assert_success(&call_in_child(
        &emu,
        &front,
        pem.path(),
        &overridden,
        "proxy",
    ));
    assert_eq!(proxy.seen().len(), 1);
}

/// The call the environment tests make in a child process; it does nothing when run
/// without their variables.
#[test]
#[ignore = "run in a child process by the tests of proxy environment variables"]
fn child_calls_with_the_environment_given() {
    let Ok(base_url) = std::env::var("GEOPERA_TEST_BASE_URL") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let mut builder = AuthenticatedClient::builder(var("GEOPERA_TEST_TOKEN"))
        .base_url(base_url)
        .ca_file(var("GEOPERA_TEST_CA_FILE"))
        .retries(0);
    match var("GEOPERA_TEST_KNOB").as_str() {
        "no_proxy" => builder = builder.no_proxy(),
        "proxy" => builder = builder.proxy(var("GEOPERA_TEST_PROXY")),
        "own_http" => builder = builder.http_client(reqwest::Client::new()),
        _ => {}
    }
    let client = builder.build().expect("valid configuration");
    catalog_search::send_blocking(&client, search()).expect("a page");
}
