//! Without the `system-roots` feature a client does not trust the system's trust store, even
//! when another crate of the program turns on reqwest's own system roots, which would read it
//! at every client build. CI runs this binary so: `--no-default-features --features
//! webpki-roots,reqwest/rustls-tls-native-roots`; in builds that trust the store it is empty.
//!
//! A test binary of its own: `SSL_CERT_FILE`, which names the store, is process-wide.
#![cfg(not(any(feature = "system-roots", feature = "native-tls")))]

#[path = "it/tls_support.rs"]
#[allow(dead_code, reason = "the proxy helpers serve other tests")]
mod tls_support;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, ErrorKind};
use geopera_emulator::{Emulator, RateLimits};

use tls_support::{Authority, TlsFront};

#[test]
fn the_system_store_is_trusted_only_with_its_feature() {
    let emu = Emulator::builder()
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts on 127.0.0.1");
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let store = ca.pem_file();
    // Only this binary's one test runs, so nothing reads the environment while it changes.
    std::env::set_var("SSL_CERT_FILE", store.path());
    std::env::remove_var("SSL_CERT_DIR");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let search = || CatalogSearchInput::new("earthsearch-aws").limit(2);
    let builder = || AuthenticatedClient::builder(emu.api_key()).base_url(front.base_url());

    // The store names the private CA, but nothing of this build reads the store.
    let client = builder().build().expect("a client");
    let error = runtime
        .block_on(catalog_search::send(&client, search()))
        .expect_err("the store's CA is not trusted without system-roots");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert!(error.is_certificate_error(), "{error:?}");

    // The same CA as the client's own CA file: the server itself was fine.
    let own = builder().ca_file(store.path()).build().expect("a client");
    let page = runtime
        .block_on(catalog_search::send(&own, search()))
        .expect("the CA file's CA is trusted");
    assert_eq!(page.features.len(), 2);
}
