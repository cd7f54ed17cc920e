//! Client construction, the `with_*` helpers, bringing your own HTTP client, and blocking
//! calls made from inside a runtime or alongside others.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geopera::auth::{AuthContext, Credential, CredentialFuture, Credentials};
use geopera::models::{CatalogSearchInput, DrainInput};
use geopera::operations::{catalog_search, webhooks_drain};
use geopera::{AuthenticatedClient, Client, Error, Request, StatusCode};

use crate::hostile::{json, Hostile};
use crate::support::{anonymous, client, emulator, seen, HOST};

#[tokio::test]
async fn with_helpers_share_the_pool_and_leave_the_original_alone() {
    let emu = emulator();
    let base = client(&emu);
    let tagged = base
        .with_headers([("x-tag", "batch")])
        .expect("valid header");
    let cookied = tagged.with_cookies([("c", "1")]).expect("valid cookie");
    let patient = cookied.with_timeout(Duration::from_secs(90));
    for derived in [&tagged, &cookied, &patient] {
        assert!(derived.shares_pool_with(&base));
    }
    assert_eq!(patient.timeout(), Some(Duration::from_secs(90)));
    assert_eq!(base.timeout(), Some(geopera::DEFAULT_TIMEOUT));

    catalog_search::send(&patient, CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("ok");
    catalog_search::send(&base, CatalogSearchInput::new(HOST).limit(1))
        .await
        .expect("ok");
    let requests = seen(&emu, "catalog.search");
    assert_eq!(
        requests[0].headers.get("x-tag").map(|v| v.as_bytes()),
        Some(&b"batch"[..])
    );
    assert_eq!(
        requests[0].headers.get("cookie").map(|v| v.as_bytes()),
        Some(&b"c=1"[..])
    );
    assert!(
        requests[1].headers.get("x-tag").is_none(),
        "the original client is unchanged"
    );

    let custom = base.with_http_client(reqwest::Client::new());
    assert!(!custom.shares_pool_with(&base));
    assert!(base.with_headers([("bad header", "x")]).is_err());
    assert!(base.with_cookies([("bad;name", "x")]).is_err());
}

/// An operation's future owns what it needs: it outlives the client it came from and can be
/// spawned as it is, while the body was checked when the call was made.
#[tokio::test]
async fn a_call_is_checked_when_made_and_its_future_outlives_the_client() {
    let emu = emulator();
    let client = client(&emu);
    let page = catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(2));
    let detailed = catalog_search::send_detailed(&client, CatalogSearchInput::new(HOST).limit(1));
    let refused = catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(0));
    drop(client);

    let page = tokio::spawn(page)
        .await
        .expect("the task ran")
        .expect("a page");
    assert_eq!(page.features.len(), 2);
    let detailed = tokio::spawn(detailed)
        .await
        .expect("the task ran")
        .expect("an answer");
    assert_eq!(detailed.status, StatusCode::OK);
    let error = tokio::spawn(refused)
        .await
        .expect("the task ran")
        .expect_err("limit 0 is refused before sending");
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
    assert_eq!(
        seen(&emu, "catalog.search").len(),
        2,
        "the refused body never reached the server"
    );
}

#[test]
fn a_custom_http_client_still_gets_base_url_and_credentials() {
    let emu = emulator();
    let made = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let http = reqwest::Client::builder()
        .user_agent("custom-agent")
        .build()
        .expect("builds");

    let custom = client(&emu).with_http_client(http.clone());
    runtime
        .block_on(catalog_search::send(
            &custom,
            CatalogSearchInput::new(HOST).limit(1),
        ))
        .expect("authenticated");
    let recorded = seen(&emu, "catalog.search").pop().expect("recorded");
    assert!(recorded.header_is("authorization", &format!("Bearer {}", emu.api_key())));

    let built = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .http_client(http)
        .blocking_http_client({
            let made = made.clone();
            move || {
                made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                reqwest::Client::new()
            }
        })
        .build()
        .expect("valid");
    catalog_search::send_blocking(&built, CatalogSearchInput::new(HOST).limit(1)).expect("a page");
    let recorded = seen(&emu, "catalog.search").pop().expect("recorded");
    assert!(
        recorded.header_is("authorization", &format!("Bearer {}", emu.api_key())),
        "credentials still apply through a custom blocking client"
    );
    catalog_search::send_blocking(&built, CatalogSearchInput::new(HOST).limit(1)).expect("a page");
    assert_eq!(
        made.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one client per thread, made on its first blocking call"
    );
}

/// A credentials provider that panics while `panicking` is set.
#[derive(Debug)]
struct PanickingProvider {
    panicking: Arc<AtomicBool>,
}

impl Credentials for PanickingProvider {
    fn credential<'a>(&'a self, _: AuthContext<'a>) -> CredentialFuture<'a, Credential> {
        assert!(
            !self.panicking.load(Ordering::SeqCst),
            "the provider's own panic"
        );
        Box::pin(async { Ok(Credential::bearer("gpra_test_key")) })
    }
}

/// Makes a blocking call whose provider panics, and returns the panic's message.
fn panic_of(client: &AuthenticatedClient, panicking: &AtomicBool) -> String {
    panicking.store(true, Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        catalog_search::send_blocking(client, CatalogSearchInput::new(HOST))
    }));
    panicking.store(false, Ordering::SeqCst);
    match outcome {
        Ok(result) => panic!("the provider's panic became {result:?}"),
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
    }
}

/// A panic in the caller's own code (here its credentials provider) reaches the caller of a
/// blocking call, as it would from an async one, wherever the call runs: on the calling thread
/// when it is the client's only blocking call in flight, on the client's I/O thread when
/// another one is. That thread is the SDK's, not the caller's: it goes on serving the call in
/// flight and the ones after.
#[test]
fn a_panicking_provider_panics_the_blocking_caller_whether_or_not_others_are_in_flight() {
    let release = Arc::new(AtomicBool::new(false));
    let held = release.clone();
    let server = Hostile::serve("127.0.0.1", move |seen| {
        if seen.header("x-held").is_some() {
            // Answered once the test lets it go (bounded, so a failing test ends).
            let since = Instant::now();
            while !held.load(Ordering::SeqCst) && since.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        json(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
    });
    let panicking = Arc::new(AtomicBool::new(false));
    let client = AuthenticatedClient::builder_with_credentials(PanickingProvider {
        panicking: panicking.clone(),
    })
    .base_url(server.url())
    .build()
    .expect("valid");

    // Alone: the call runs on this thread.
    assert_eq!(panic_of(&client, &panicking), "the provider's own panic");

    // Another thread's blocking call in flight, until released: the next one goes to the
    // I/O thread.
    let in_flight = {
        let client = client.clone();
        std::thread::spawn(move || {
            catalog_search::send_blocking(
                &client,
                Request::new(CatalogSearchInput::new(HOST)).header("x-held", "1"),
            )
        })
    };
    for _ in 0..3000 {
        if server.seen().iter().any(|r| r.header("x-held").is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(panic_of(&client, &panicking), "the provider's own panic");
    catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST))
        .expect("the I/O thread still serves calls");
    release.store(true, Ordering::SeqCst);
    in_flight
        .join()
        .expect("joined")
        .expect("the call in flight is served");
}

/// A panic in the caller's own code while a blocking stream opens reaches the caller, as it
/// would from an async stream: the NDJSON iterator ended as if the search had found nothing,
/// and a blocking byte stream said only that its reader had stopped.
#[test]
fn a_panicking_provider_panics_the_caller_of_a_blocking_stream() {
    use geopera::operations::{catalog_search_stream, cog_tile_render};
    let server = Hostile::serve("127.0.0.1", |_| json(200, &[], "{}"));
    let panicking = Arc::new(AtomicBool::new(true));
    let client = AuthenticatedClient::builder_with_credentials(PanickingProvider {
        panicking: panicking.clone(),
    })
    .base_url(server.url())
    .build()
    .expect("valid");
    let message = |payload: Box<dyn std::any::Any + Send>| {
        payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    };
    let lines = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let body = serde_json::json!({"host_name": HOST})
            .as_object()
            .cloned()
            .unwrap_or_default();
        catalog_search_stream::stream_blocking(&client, body).count()
    }));
    match lines {
        Ok(count) => panic!("the provider's panic became a stream of {count} items"),
        Err(payload) => assert_eq!(message(payload), "the provider's own panic"),
    }
    let tile = serde_json::json!({"url": "https://cogs.example/a.tif", "z": 0, "x": 0, "y": 0,
                                  "format": "png"});
    let bytes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cog_tile_render::stream_body_blocking(&client, Request::new(tile)).map(drop)
    }));
    match bytes {
        Ok(outcome) => panic!("the provider's panic became {outcome:?}"),
        Err(payload) => assert_eq!(message(payload), "the provider's own panic"),
    }
    assert!(server.seen().is_empty(), "nothing was sent");
}

#[test]
fn blocking_calls_from_inside_a_runtime_work() {
    let emu = emulator();
    let client = client(&emu);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let page = runtime.block_on(async {
        // Blocking inside async code: runs on a helper thread instead of panicking.
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(2))
    });
    assert!(page.is_ok(), "{page:?}");
    // Dropping the last clone (with its blocking pool) inside the runtime is fine too.
    runtime.block_on(async move { drop(client) });
}

/// Whether `error` is the refusal of an async call awaited outside any Tokio runtime.
fn refused_outside_tokio(error: &Error) -> bool {
    error.kind() == geopera::ErrorKind::InvalidRequest
        && error.to_string().contains("outside a Tokio runtime")
}

#[test]
fn async_calls_awaited_outside_a_tokio_runtime_are_an_error_not_a_panic() {
    use futures::executor::block_on;
    use futures::StreamExt as _;

    let emu = emulator();
    let client = client(&emu);
    let search = || CatalogSearchInput::new(HOST).limit(1);
    let oidc = geopera::auth::Oidc::for_base_url(&emu.base_url()).expect("a provider");
    // Asked inside a runtime, so that only its wait is awaited outside one.
    let flow = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(oidc.device_authorization(&anonymous(&emu), None))
        .expect("a device code");
    emu.clear_requests();

    let sent = block_on(catalog_search::send(&client, search())).expect_err("refused");
    assert!(refused_outside_tokio(&sent), "{sent:?}");
    let paged = block_on(catalog_search::pages(&client, search()).next());
    let paged = paged.expect("one item").expect_err("refused");
    assert!(refused_outside_tokio(&paged), "{paged:?}");
    let streamed = block_on(
        geopera::operations::catalog_search_stream::stream(
            &client,
            serde_json::json!({"host_name": HOST}),
        )
        .next(),
    );
    let streamed = streamed.expect("one item").expect_err("refused");
    assert!(refused_outside_tokio(&streamed), "{streamed:?}");
    // A file, whose size is read before anything is sent.
    let upload = geopera::uploads::Upload::from_path(
        "p_1",
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
    );
    let uploaded = block_on(upload.send(&client)).expect_err("refused");
    assert_eq!(uploaded.step(), geopera::uploads::UploadStep::Prepare);
    assert!(uploaded.is_released(), "nothing was reserved: {uploaded:?}");
    let cause = uploaded.api_error().expect("the SDK's own error");
    assert!(refused_outside_tokio(cause), "{cause:?}");
    let waited = block_on(std::future::IntoFuture::into_future(geopera::wait::order(
        &client, "ord_1",
    )))
    .expect_err("refused");
    let geopera::wait::WaitError::Call { source, .. } = &waited else {
        panic!("the poll's error: {waited:?}");
    };
    assert!(refused_outside_tokio(source), "{waited:?}");
    let refreshed = block_on(oidc.refresh(&anonymous(&emu), "rt_1")).expect_err("refused");
    assert!(refused_outside_tokio(&refreshed), "{refreshed:?}");
    let approved = block_on(flow.wait(&anonymous(&emu))).expect_err("refused");
    assert!(refused_outside_tokio(&approved), "{approved:?}");
    assert!(emu.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn the_anonymous_client_reaches_operations_that_need_no_credentials() {
    let emu = emulator();
    let response = webhooks_drain::send_detailed(&anonymous(&emu), DrainInput::new())
        .await
        .expect("an answer");
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.parsed);
    let err = catalog_search::send(&anonymous(&emu), CatalogSearchInput::new(HOST))
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
}

#[test]
fn configuration_errors_are_reported_by_build() {
    assert!(matches!(Client::new("not a url"), Err(Error::Config(_))));
    assert!(matches!(
        Client::new("ftp://example.com"),
        Err(Error::Config(_))
    ));
    let err = AuthenticatedClient::builder("gpra_secret\nvalue")
        .build()
        .expect_err("a newline");
    assert!(
        !err.to_string().contains("gpra_secret"),
        "the token is not echoed: {err}"
    );
    assert!(!format!("{err:?}").contains("gpra_secret"));
    let err = Client::builder()
        .ca_file("/nonexistent/ca.pem")
        .build()
        .expect_err("unreadable");
    assert!(err.to_string().contains("CA file"));
    let err = Client::builder()
        .cookie("x;y", "1")
        .build()
        .expect_err("bad cookie");
    assert!(matches!(err, Error::Config(_)));
}

#[test]
fn tls_knobs_build() {
    let pem_dir = std::env::temp_dir().join(format!("geopera-ca-{}", std::process::id()));
    std::fs::create_dir_all(&pem_dir).expect("temp dir");
    let not_pem = pem_dir.join("empty.pem");
    std::fs::write(&not_pem, b"no certificates here").expect("writable");
    let err = Client::builder()
        .ca_file(&not_pem)
        .build()
        .expect_err("no certificate in the file");
    assert!(
        err.to_string().contains("no valid PEM certificate"),
        "{err}"
    );
    Client::builder()
        .verify_tls(false)
        .build()
        .expect("verification can be disabled");
    let roots = rustls::RootCertStore::empty();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let builder = Client::builder().tls_config(config);
    #[cfg(feature = "http2")]
    let builder = builder.http2_prior_knowledge(true);
    builder.build().expect("a custom rustls config");
    let _ = std::fs::remove_dir_all(pem_dir);
}

#[cfg(feature = "http2")]
#[tokio::test]
async fn http2_prior_knowledge_talks_to_the_emulator() {
    let emu = emulator();
    let h2 = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .http2_prior_knowledge(true)
        .build()
        .expect("valid");
    let response = catalog_search::send_detailed(&h2, CatalogSearchInput::new(HOST).limit(1)).await;
    match response {
        Ok(response) => assert_eq!(response.status, StatusCode::OK),
        Err(err) => panic!("h2c against the emulator failed: {err:?}"),
    }
}
