//! The system's trust store as `system-roots` reads it. `SSL_CERT_FILE` names the store, here
//! a file holding only a certificate authority the test made, so the store can be changed
//! under a running client.
//!
//! A test binary of its own, with one test (see `support/private_tls.rs`). CI also runs it
//! with reqwest's default features on (`--features reqwest/default-tls`), as another crate of
//! a program may turn them on: the SDK must stay on rustls all the same.
#![cfg(all(feature = "system-roots", not(feature = "native-tls")))]

#[path = "support/captured.rs"]
mod captured;
#[path = "support/private_tls.rs"]
mod private_tls;
#[path = "it/tls_support.rs"]
#[allow(dead_code, reason = "the proxy helpers serve other tests")]
mod tls_support;

use geopera::operations::catalog_search;
use geopera::ErrorKind;

use captured::Captured;
use private_tls::{search, store_at, PrivateTls};

/// What `work` returns, and what it logged on this thread.
fn with_log<T>(work: impl FnOnce() -> T) -> (T, String) {
    let log = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    let output = tracing::subscriber::with_default(subscriber, work);
    (output, log.text())
}

#[test]
fn each_client_reads_the_store_once_and_trusts_it_on_every_thread() {
    let tls = PrivateTls::start();
    let store = &tls.ca_pem;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    // The store holds the private CA: without a CA file of its own, the client trusts it.
    store_at(store.path());
    let client = tls.builder().build().expect("the store is readable");
    let page = runtime
        .block_on(catalog_search::send(&client, search()))
        .expect("the system's store trusts the CA");
    assert_eq!(page.features.len(), 2);

    // The variable now names a file that does not exist: the store is empty. Each new
    // thread's first blocking call, alone, builds that thread's own connection pool; each
    // still trusts the store the client read when it was built.
    let gone = store.path().with_extension("gone");
    store_at(&gone);
    for _ in 0..3 {
        let client = client.clone();
        let page = std::thread::spawn(move || catalog_search::send_blocking(&client, search()))
            .join()
            .expect("the thread finishes")
            .expect("the client's store still trusts the CA");
        assert_eq!(page.features.len(), 2);
    }
    assert_eq!(
        tls.front.handshakes(),
        4,
        "the async pool and three threads' own pools each shook hands"
    );

    // A client built now reads the store as it is now, which trusts nothing, and says so,
    // unless the bundled roots leave it something to trust.
    let (later, logged) = with_log(|| tls.builder().build());
    let later = later.expect("an empty store is not an error");
    if cfg!(feature = "webpki-roots") {
        assert!(!logged.contains("trust store"), "{logged}");
    } else {
        assert!(
            logged.contains("WARN") && logged.contains("trust store holds no certificate"),
            "{logged}"
        );
        assert!(
            logged.contains(&gone.display().to_string()),
            "the problem names the file: {logged}"
        );
    }
    let error = runtime
        .block_on(catalog_search::send(&later, search()))
        .expect_err("the CA is unknown to an empty store");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert!(error.is_certificate_error(), "{error:?}");

    // With a CA file of its own, the client has roots to trust: nothing to warn about.
    let (own, logged) = with_log(|| tls.builder().ca_file(store.path()).build());
    let own = own.expect("a readable CA file");
    assert!(!logged.contains("trust store"), "{logged}");
    let page = runtime
        .block_on(catalog_search::send(&own, search()))
        .expect("the CA file's CA is trusted");
    assert_eq!(page.features.len(), 2);

    // A store whose certificates are all unusable fails the build, naming the store.
    let broken = store.path().with_extension("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("the broken store is written");
    store_at(&broken);
    let refused = tls.builder().build();
    let _ = std::fs::remove_file(&broken);
    let error = refused.expect_err("nothing in the store is usable");
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(error.to_string().contains("trust store"), "{error}");
}
