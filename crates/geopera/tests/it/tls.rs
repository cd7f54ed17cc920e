//! TLS for real: a certificate authority made by the test, a server certificate it signed,
//! and a TLS front on 127.0.0.1 that hands each connection to the emulator. Nothing here is
//! trusted by the system, so the default refuses it and each knob has to earn the handshake.

use geopera::models::{CatalogSearchInput, CatalogSearchOutput};
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, ClientBuilder, Error, ErrorKind};
use geopera_emulator::EmulatorHandle;

use crate::support::{emulator, seen, HOST};
use crate::tls_support::{Authority, TlsFront};

fn search() -> CatalogSearchInput {
    CatalogSearchInput::new(HOST).limit(2)
}

fn builder(emu: &EmulatorHandle, front: &TlsFront) -> ClientBuilder<AuthenticatedClient> {
    AuthenticatedClient::builder(emu.api_key()).base_url(front.base_url())
}

fn assert_served(page: &CatalogSearchOutput, emu: &EmulatorHandle, front: &TlsFront) {
    assert_eq!(page.features.len(), 2);
    assert_eq!(
        front.handshakes(),
        1,
        "one connection, reused by nothing else"
    );
    assert_eq!(seen(emu, "catalog.search").len(), 1);
}

/// A refusal for the certificate: a transport failure that says so, sent once, and with no
/// credential in what it shows.
fn assert_refused(err: &Error, emu: &EmulatorHandle) {
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert!(err.is_certificate_error(), "{err:?}");
    assert!(
        !err.is_retryable(),
        "the same certificate would be refused again"
    );
    assert_eq!(err.attempts(), 1, "not retried");
    let message = err.to_string();
    assert!(message.contains("TLS certificate was refused"), "{message}");
    let shown = format!("{message} {err:?}");
    assert!(!shown.contains(emu.api_key()), "{shown}");
    assert!(
        seen(emu, "catalog.search").is_empty(),
        "nothing reached the API"
    );
}

#[tokio::test]
async fn a_private_ca_is_refused_by_default() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let client = builder(&emu, &front).build().expect("valid configuration");

    let err = catalog_search::send(&client, search())
        .await
        .expect_err("an unknown CA");
    assert_refused(&err, &emu);
    // rustls's words; the OS stacks have their own ("unable to get local issuer certificate").
    if cfg!(not(feature = "native-tls")) {
        assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    }
    assert_eq!(front.handshakes(), 0);
}

#[test]
fn a_private_ca_is_refused_by_default_blocking() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let client = builder(&emu, &front).build().expect("valid configuration");

    let err = catalog_search::send_blocking(&client, search()).expect_err("an unknown CA");
    assert_refused(&err, &emu);
}

#[tokio::test]
async fn a_ca_file_makes_the_private_ca_trusted() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let client = builder(&emu, &front)
        .ca_file(pem.path())
        .build()
        .expect("a readable CA file");

    let page = catalog_search::send(&client, search())
        .await
        .expect("the CA is trusted");
    assert_served(&page, &emu, &front);
}

#[test]
fn a_ca_file_makes_the_private_ca_trusted_blocking() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    let client = builder(&emu, &front)
        .ca_file(pem.path())
        .build()
        .expect("a readable CA file");

    let page = catalog_search::send_blocking(&client, search()).expect("the CA is trusted");
    assert_served(&page, &emu, &front);
}

#[tokio::test]
async fn verify_tls_off_accepts_an_unknown_ca() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let client = builder(&emu, &front)
        .verify_tls(false)
        .build()
        .expect("valid configuration");

    let page = catalog_search::send(&client, search())
        .await
        .expect("verification is off");
    assert_served(&page, &emu, &front);
}

#[tokio::test]
async fn a_trusted_certificate_for_another_name_is_refused() {
    let emu = emulator();
    let ca = Authority::new();
    // Signed by a CA the client trusts, but for a name that is not the one it dials.
    let front = TlsFront::start(emu.addr(), ca.server(&["other.example"]));
    let pem = ca.pem_file();
    let client = builder(&emu, &front)
        .ca_file(pem.path())
        .build()
        .expect("a readable CA file");

    let err = catalog_search::send(&client, search())
        .await
        .expect_err("the certificate names another host");
    assert_refused(&err, &emu);
    if cfg!(not(feature = "native-tls")) {
        assert!(err.to_string().contains("not valid for name"), "{err}");
    }
}

/// The names a refused certificate presents are the server's words: the message quotes them
/// with what would act on a terminal escaped, as it does every other word of a server.
#[tokio::test]
async fn the_names_of_a_refused_certificate_cannot_steer_a_terminal() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(
        emu.addr(),
        ca.server(&["evil\u{1b}]0;owned\u{7}\u{1b}[2J\rforged.example"]),
    );
    let pem = ca.pem_file();
    let client = builder(&emu, &front)
        .ca_file(pem.path())
        .build()
        .expect("a readable CA file");

    let err = catalog_search::send(&client, search())
        .await
        .expect_err("the certificate names another host");
    assert_refused(&err, &emu);
    let message = err.to_string();
    assert!(!message.contains(char::is_control), "{message:?}");
    if cfg!(not(feature = "native-tls")) {
        assert!(
            message.contains(r"evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{d}forged.example"),
            "{message:?}"
        );
    }
}

#[tokio::test]
async fn a_rustls_config_with_the_ca_in_its_roots_is_used() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let client = builder(&emu, &front)
        .tls_config(ca.client_config())
        .build()
        .expect("valid configuration");

    let page = catalog_search::send(&client, search())
        .await
        .expect("the configuration trusts the CA");
    assert_served(&page, &emu, &front);
}

#[tokio::test]
async fn a_rustls_config_replaces_the_ca_file() {
    let emu = emulator();
    let ca = Authority::new();
    let front = TlsFront::start(emu.addr(), ca.server(&["127.0.0.1"]));
    let pem = ca.pem_file();
    // Roots of another CA: the CA file given as well does not count.
    let client = builder(&emu, &front)
        .ca_file(pem.path())
        .tls_config(Authority::new().client_config())
        .build()
        .expect("valid configuration");

    let err = catalog_search::send(&client, search())
        .await
        .expect_err("the configuration does not trust the CA");
    assert_refused(&err, &emu);
}

#[cfg(unix)]
#[test]
fn a_ca_file_that_is_a_pipe_or_a_device_fails_the_build_instead_of_blocking() {
    let dir = std::env::temp_dir().join(format!("geopera-ca-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let pipe = dir.join("ca.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .is_ok_and(|status| status.success());
    assert!(made, "mkfifo made the pipe");
    for path in [pipe, std::path::PathBuf::from("/dev/zero")] {
        let (done, outcome) = std::sync::mpsc::channel();
        let asked = path.clone();
        std::thread::spawn(move || {
            let _ = done.send(geopera::Client::builder().ca_file(asked).build().map(drop));
        });
        match outcome.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Err(error @ geopera::Error::Config(_))) => {
                let message = error.to_string();
                assert!(message.contains("not a regular file"), "{message}");
                assert!(message.contains(&path.display().to_string()), "{message}");
            }
            Ok(other) => panic!("{}: {other:?}", path.display()),
            Err(_) => panic!("build() still blocked on {} after 10 s", path.display()),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A connection refused at a URL that says "certificate" is a refused connection, not a
/// refused certificate: with the OS's TLS stack, whose errors are known by their words, the
/// URL in the HTTP client's message was read as the TLS stack's, and the call was neither
/// retried nor `is_connect`.
#[tokio::test]
async fn a_refused_connection_to_a_url_naming_certificates_is_not_a_certificate_refusal() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let client = AuthenticatedClient::builder("gpra_test_key")
        .base_url(format!("https://127.0.0.1:{port}/certificate-gateway"))
        .retries(0)
        .build()
        .expect("valid configuration");
    let err = catalog_search::send(&client, search())
        .await
        .expect_err("nothing listens");
    assert!(!err.is_certificate_error(), "{err:?}");
    assert!(err.is_connect(), "{err:?}");
    assert!(err.is_retryable(), "{err:?}");
    assert!(
        !err.to_string().contains("certificate was refused"),
        "{err}"
    );
}
