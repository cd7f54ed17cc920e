//! Real TLS and proxies for the tests: a certificate authority made at test time, a
//! TLS-terminating front that hands each connection to the emulator, and a small HTTP proxy
//! (`CONNECT` tunnels and plain forwarding) that records what it was asked.
//!
//! The servers run on one runtime of their own, so async and blocking clients alike can reach
//! them; each stops when its handle is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// The longest a test server waits for a client or an upstream, so nothing hangs a test.
const BOUND: Duration = Duration::from_secs(20);

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tls-test-servers")
            .enable_all()
            .build()
            .expect("the test servers' runtime starts")
    })
}

/// A listener bound now, so its address is known before the server runs; it is handed to
/// the servers' runtime, since a test's own runtime may not be running.
fn bind() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let addr = listener.local_addr().expect("an address");
    (listener, addr)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority no trust store knows, and the server certificates it signs.
pub struct Authority {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Authority {
    pub fn new() -> Self {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "geopera test CA");
        let cert = params.self_signed(&key).expect("a self-signed CA");
        Authority { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server configuration whose certificate, signed by this CA, names `names` (IP
    /// addresses become IP entries, the rest DNS names).
    pub fn server(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().expect("a server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .expect("server params")
            .signed_by(&key, &self.cert, &self.key)
            .expect("a server certificate");
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("a server configuration");
        Arc::new(config)
    }

    /// A rustls client configuration that trusts this CA alone.
    pub fn client_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.cert.der().to_vec()))
            .expect("the CA is a valid root");
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// The CA certificate in a PEM file, removed when the returned value is dropped.
    pub fn pem_file(&self) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "geopera-test-ca-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, self.pem()).expect("the CA file is written");
        TempFile(path)
    }
}

pub struct TempFile(PathBuf);

impl TempFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Terminates TLS on 127.0.0.1 and passes each connection's bytes on to `upstream`.
pub struct TlsFront {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsFront {
    pub fn start(upstream: SocketAddr, config: Arc<rustls::ServerConfig>) -> Self {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        let (listener, addr) = bind();
        let task = runtime().spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake here.
                    let Ok(Ok(mut tls)) = tokio::time::timeout(BOUND, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut upstream) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                    }
                });
            }
        });
        TlsFront {
            addr,
            handshakes,
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// How many TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request the proxy received.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    pub method: String,
    /// `host:port` for `CONNECT`, the absolute URL for a forwarded request.
    pub target: String,
    pub proxy_authorization: Option<String>,
}

/// An HTTP proxy on 127.0.0.1: tunnels `CONNECT` and forwards plain requests, recording each.
pub struct Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<ProxyRequest>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    pub fn start() -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let (listener, addr) = bind();
        let task = runtime().spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((tcp, _)) = listener.accept().await {
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(BOUND, serve(tcp, recorded)).await;
                });
            }
        });
        Proxy { addr, seen, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn seen(&self) -> Vec<ProxyRequest> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection: its first request's head decides between a tunnel and forwarding.
/// A forwarded connection stays bound to its first target, which is all the tests need.
async fn serve(tcp: TcpStream, seen: Arc<Mutex<Vec<ProxyRequest>>>) -> std::io::Result<()> {
    let mut client = BufReader::new(tcp);
    let mut head = Vec::new();
    for _ in 0..100 {
        let mut line = String::new();
        if client.read_line(&mut line).await? == 0 || line == "\r\n" {
            break;
        }
        head.push(line);
    }
    let Some(first) = head.first() else {
        return Ok(());
    };
    let mut parts = first.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or("HTTP/1.1").to_owned(),
    );
    let header = |name: &str| {
        head[1..].iter().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let proxy_authorization = header("proxy-authorization");
    seen.lock().expect("not poisoned").push(ProxyRequest {
        method: method.clone(),
        target: target.clone(),
        proxy_authorization,
    });
    if method == "CONNECT" {
        let mut upstream = TcpStream::connect(target.as_str()).await?;
        client
            .get_mut()
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    // Forwarding: `POST http://host:port/path HTTP/1.1` goes on as `POST /path HTTP/1.1`.
    let rest = target.strip_prefix("http://").unwrap_or(&target);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut upstream = TcpStream::connect(authority).await?;
    let path = if path.is_empty() { "/" } else { path };
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for line in &head[1..] {
        let name = line.split(':').next().unwrap_or_default();
        if !name.to_ascii_lowercase().starts_with("proxy-") {
            forwarded.push_str(line);
        }
    }
    forwarded.push_str("\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
