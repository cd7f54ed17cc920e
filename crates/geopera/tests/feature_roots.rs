//! Without the `system-roots` feature a client does not trust the system's trust store, even
//! when another crate of the program turns on reqwest's own system roots, which would read it
//! at every client build. CI runs this binary so: `--no-default-features --features
//! webpki-roots,reqwest/rustls-tls-native-roots`; in builds that trust the store it is empty.
//!
//! A test binary of its own, with one test (see `support/private_tls.rs`).
#![cfg(not(any(feature = "system-roots", feature = "native-tls")))]

#[path = "support/private_tls.rs"]
mod private_tls;
#[path = "it/tls_support.rs"]
#[allow(dead_code, reason = "the proxy helpers serve other tests")]
mod tls_support;

use geopera::operations::catalog_search;
use geopera::ErrorKind;

use private_tls::{search, store_at, PrivateTls};

#[test]
fn the_system_store_is_trusted_only_with_its_feature() {
    let tls = PrivateTls::start();
    store_at(tls.ca_pem.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    // The store names the private CA, but nothing of this build reads the store.
    let client = tls.builder().build().expect("a client");
    let error = runtime
        .block_on(catalog_search::send(&client, search()))
        .expect_err("the store's CA is not trusted without system-roots");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert!(error.is_certificate_error(), "{error:?}");

    // The same CA as the client's own CA file: the server itself was fine.
    let own = tls
        .builder()
        .ca_file(tls.ca_pem.path())
        .build()
        .expect("a client");
    let page = runtime
        .block_on(catalog_search::send(&own, search()))
        .expect("the CA file's CA is trusted");
    assert_eq!(page.features.len(), 2);
}
