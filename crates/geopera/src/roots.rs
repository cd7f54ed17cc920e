//! The platform's trust store, read once per client.
//!
//! reqwest reads the store — every certificate file of it — each time it builds an HTTP
//! client, which takes milliseconds, and one of our clients builds several: one for its async
//! calls and one for each thread that carries blocking calls ([`crate::blocking`]). So the
//! store is read when the first of them is built and handed to each later build as
//! certificates, which reqwest adds in a fraction of that time. A client thereby trusts one
//! store on every thread: the store as it stood when the client first needed it.
//!
//! A [`RedisBudget`](crate::budget::RedisBudget) on `rediss://` reads the same store, the
//! same way, when it is built.

#[cfg(not(feature = "native-tls"))]
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

#[cfg(not(feature = "native-tls"))]
use crate::Error;

/// The certificates of the platform's trust store, read on first use and shared by every
/// clone of one client's transport settings.
#[cfg(not(feature = "native-tls"))]
#[derive(Clone, Default)]
pub(crate) struct SystemRoots(Arc<OnceLock<Result<Arc<[reqwest::Certificate]>, String>>>);

#[cfg(not(feature = "native-tls"))]
impl SystemRoots {
    /// The store's usable certificates, read now if no build of this client read them yet.
    /// `other_roots`: whether the client trusts certificates of its own besides the store's.
    ///
    /// # Errors
    ///
    /// The store holds certificates but not one that rustls can use.
    pub(crate) fn certificates(
        &self,
        other_roots: bool,
    ) -> Result<Arc<[reqwest::Certificate]>, Error> {
        self.0
            .get_or_init(|| {
                let store = read()?;
                if store.certificates.is_empty()
                    && !other_roots
                    && cfg!(not(feature = "webpki-roots"))
                {
                    tracing::warn!(
                        problems = ?store.problems,
                        "the system's trust store holds no certificate: HTTPS servers are \
                         refused unless ClientBuilder::ca_file, ClientBuilder::tls_config or \
                         the webpki-roots feature give roots (a container image may lack its \
                         CA certificates package)"
                    );
                }
                Ok(store
                    .certificates
                    .iter()
                    .filter_map(|der| reqwest::Certificate::from_der(der).ok())
                    .collect())
            })
            .clone()
            .map_err(Error::Config)
    }
}

/// The store's usable certificates, and what its reader could not read.
pub(crate) struct Store {
    pub(crate) certificates: Vec<CertificateDer<'static>>,
    pub(crate) problems: Vec<String>,
}

/// Reads the store, keeping the certificates rustls accepts as roots.
///
/// Stores keep ancient or malformed certificates; those are skipped, as reqwest skips them,
/// since one unusable root must not stop every client. A store with certificates but none
/// usable is an error, as it is for reqwest; an empty or missing store is not, and leaves
/// only the caller's own CA files to trust, which the caller checks.
pub(crate) fn read() -> Result<Store, String> {
    // The store's reader takes the file this variable names as it is: a named pipe there
    // would block every client's build, a device fill memory.
    if let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|path| !path.is_empty()) {
        let path = std::path::Path::new(&path);
        if let Some(why) = crate::trust_files::unusable(path) {
            return Err(format!(
                "SSL_CERT_FILE names {}, which cannot be read as a trust store: {why}",
                path.display()
            ));
        }
    }
    let found = rustls_native_certs::load_native_certs();
    let mut check = rustls::RootCertStore::empty();
    let mut usable = Vec::with_capacity(found.certs.len());
    let mut unusable = 0_usize;
    for der in found.certs {
        // Kept only if rustls takes it as a root and reqwest as a certificate, so that both
        // users of the store trust the same set.
        let fits = check.add(der.clone()).is_ok() && reqwest::Certificate::from_der(&der).is_ok();
        if fits {
            usable.push(der);
        } else {
            unusable += 1;
        }
    }
    let problems: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
    if usable.is_empty() && unusable > 0 {
        let mut reason =
            format!("none of the {unusable} certificates of the system's trust store is usable");
        for problem in &problems {
            reason.push_str("; ");
            reason.push_str(problem);
        }
        return Err(reason);
    }
    Ok(Store {
        certificates: usable,
        problems,
    })
}
