//! The emulator behind TLS that only a certificate authority made at test time vouches for,
//! for the tests that point the system's trust store at that authority. They are binaries of
//! their own with one test each: the variables naming the store are process-wide, and any
//! other test building a client meanwhile would read whatever store they named then.
//!
//! Needs the `tls_support` module (`tests/it/tls_support.rs`) beside it in the crate.

use std::path::Path;

use geopera::models::CatalogSearchInput;
use geopera::{AuthenticatedClient, ClientBuilder};
use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};

use crate::tls_support::{Authority, TempFile, TlsFront};

/// An emulator without rate limits, a TLS front before it, and the authority's certificate.
pub struct PrivateTls {
    pub emu: EmulatorHandle,
    pub front: TlsFront,
    /// The authority's certificate as a PEM file: a store, or a client's own CA file.
    pub ca_pem: TempFile,
}

impl PrivateTls {
    pub fn start() -> Self {
        let emu = Emulator::builder()
            .rate_limits(RateLimits::off())
            .start()
            .expect("the emulator starts on 127.0.0.1");
        let ca = Authority::new();
        let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
        PrivateTls {
            emu,
            front,
            ca_pem: ca.pem_file(),
        }
    }

    /// A client of the emulator's key, through the front.
    pub fn builder(&self) -> ClientBuilder<AuthenticatedClient> {
        AuthenticatedClient::builder(self.emu.api_key()).base_url(self.front.base_url())
    }
}

/// A small page, the call every step of the tests makes.
pub fn search() -> CatalogSearchInput {
    CatalogSearchInput::new("earthsearch-aws").limit(2)
}

/// Points the system's trust store at `path` alone. The binary's only test calls it, so
/// nothing reads the environment while it changes.
pub fn store_at(path: &Path) {
    std::env::set_var("SSL_CERT_FILE", path);
    std::env::remove_var("SSL_CERT_DIR");
}
