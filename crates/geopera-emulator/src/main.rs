//! `geopera-emulator`: run the local Geopera API emulator until Ctrl-C (or, on Unix, SIGTERM).

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use geopera_emulator::{Emulator, FaultPlan, ManualClock, RateLimits};

/// A local, offline emulator of the Geopera API.
#[derive(Debug, Parser)]
#[command(name = "geopera-emulator", version, about)]
struct Args {
    /// Address to listen on (loopback only is recommended).
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: SocketAddr,
    /// Seed for the synthetic data, ids and the demo key and session token.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rate limits: `default`, `off` or `N/min`.
    #[arg(long, default_value = "default")]
    rate_limits: RateLimits,
    /// Faults to inject, e.g. `503@10%,latency=50ms` (see the crate docs for the syntax).
    #[arg(long)]
    faults: Option<FaultPlan>,
    /// An OpenAPI document to serve at `GET /openapi.json`.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// A SQLite file that keeps orders, keys and balances across restarts.
    #[arg(long)]
    state: Option<PathBuf>,
    /// How long a client has to send a request head, e.g. `10s` or `500ms`; also ends idle
    /// HTTP/1.1 keep-alive connections.
    #[arg(long, default_value = "10s", value_parser = duration)]
    header_read_timeout: Duration,
    /// The largest request body read, in bytes; larger ones are answered 413.
    #[arg(long, default_value_t = geopera_emulator::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// How long a connection may have no request in progress, or hold an answer the client
    /// takes no byte of, before it is closed.
    #[arg(long, default_value = "60s", value_parser = duration)]
    idle_timeout: Duration,
    /// How many connections are served at once; more wait, unaccepted, until one closes.
    /// Lowered, with a warning, to what the open-file limit has room for.
    #[arg(long, value_name = "N", default_value_t = geopera_emulator::DEFAULT_MAX_CONNECTIONS,
          value_parser = connections)]
    max_connections: usize,
    /// Serve the control endpoints under /_emulator/ (clock, device-login decisions, sign-in
    /// counters). Anyone who can reach the port can use them.
    #[arg(long)]
    control: bool,
    /// Accept webhook endpoints on plain HTTP and on loopback, private and internal hosts
    /// (for receivers on this machine). Off, only https to public hosts is accepted.
    #[arg(long)]
    allow_local_webhooks: bool,
    /// Also answer requests that name the emulator NAME (a container's or machine's name);
    /// IP addresses and localhost are always answered. Repeat for more names. Other names are
    /// refused, so that a web page cannot reach the emulator through a name of its own.
    /// A bare name, without port or scheme: requests are matched on their host alone.
    #[arg(long = "allowed-host", value_name = "NAME", value_parser = allowed_host)]
    allowed_hosts: Vec<String>,
}

/// Takes an `--allowed-host` NAME only when requests could match it, so that one with a port
/// or a scheme is a usage error at start-up rather than a name the emulator then refuses.
fn allowed_host(name: &str) -> Result<String, geopera_emulator::AllowedHostError> {
    geopera_emulator::check_allowed_host(name).map(|()| name.to_owned())
}

/// Reads a number of connections, at least 1 (0 would serve no one).
fn connections(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?} is not a number of connections from 1 up"))
}

/// Reads `250ms`, `10s` or a bare number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|value| Duration::try_from_secs_f64(value * scale).ok())
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("{text:?} is not a duration like 500ms or 10s"))
}

/// Listens for Ctrl-C, or on Unix for SIGTERM too: what `kill`, `docker stop` and service
/// managers send. Either ends with the emulator's last write of its state file, which
/// keeps what changed without a request (the clock, above all). Both are listened for from
/// this call on, not from the first wait: a signal sent as soon as the banner says to must
/// not find the process unprepared, which ends it without that write.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        Ok(())
    })
}

/// Listens for Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    Ok(tokio::signal::ctrl_c())
}

/// Descriptors kept for what the emulator opens itself beside its connections: the listener,
/// the state file and its journal, webhook deliveries, the spec.
#[cfg(unix)]
const RESERVED_DESCRIPTORS: u64 = 256;

/// The connection cap the process's descriptor limit has room for. The soft limit is raised
/// as far as the cap needs (many shells start programs at 1,024 though the system allows far
/// more); where even the hard limit has no room for `wanted` connections and the reserve, the
/// cap is lowered to fit, with a warning. Past the limit the kernel refuses descriptors to
/// everything at once: accepting stalls, and the emulator's own state-file writes and webhook
/// deliveries fail with it, which a peer opening idle connections could cause at will.
#[cfg(unix)]
fn connections_within_descriptors(wanted: usize) -> usize {
    let needed = u64::try_from(wanted)
        .unwrap_or(u64::MAX)
        .saturating_add(RESERVED_DESCRIPTORS);
    let limit = match rlimit::increase_nofile_limit(needed) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(
                %error,
                "cannot read or raise the open-file limit; the connection cap stays {wanted}"
            );
            return wanted;
        }
    };
    if limit >= needed {
        return wanted;
    }
    let room = usize::try_from(limit.saturating_sub(RESERVED_DESCRIPTORS))
        .unwrap_or(usize::MAX)
        .max(1);
    tracing::warn!(
        "the open-file limit ({limit}) has no room for {wanted} connections and the \
         emulator's own files; serving at most {room} at once (raise `ulimit -n` for more)"
    );
    room
}

/// Elsewhere the cap stands as given.
#[cfg(not(unix))]
fn connections_within_descriptors(wanted: usize) -> usize {
    wanted
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        // Colour codes only for a terminal, so logs piped to a file or CI stay readable.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let args = Args::parse();
    let mut builder = Emulator::builder()
        .seed(args.seed)
        .addr(args.addr)
        .rate_limits(args.rate_limits.clone())
        .header_read_timeout(args.header_read_timeout)
        .idle_timeout(args.idle_timeout)
        .max_connections(connections_within_descriptors(args.max_connections))
        .body_limit(args.body_limit)
        .control(args.control)
        .allow_local_webhooks(args.allow_local_webhooks)
        .clock(ManualClock::system());
    if let Some(faults) = args.faults {
        builder = builder.faults(faults);
    }
    for name in &args.allowed_hosts {
        builder = builder.allowed_host(name.as_str());
    }
    if let Some(path) = &args.spec {
        let spec = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        builder = builder.spec(spec);
    }
    if let Some(path) = &args.state {
        builder = builder.state_file(path);
    }
    // The error names what failed: the address, or the state file.
    let emulator = builder.start().context("starting the emulator")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stopped = {
        let _entered = runtime.enter();
        stop_signal().context("listening for Ctrl-C and SIGTERM")?
    };
    // Bound to every interface, it says so: the base URL its links name is the loopback one,
    // which read alone would pass for a server other machines cannot reach.
    if emulator.addr().ip().is_unspecified() {
        println!(
            "Geopera emulator listening on {} (every interface); links name {}",
            emulator.addr(),
            emulator.base_url()
        );
    } else {
        println!("Geopera emulator listening on {}", emulator.base_url());
    }
    println!("Demo API key (every scope): {}", emulator.api_key());
    for user in emulator.users() {
        println!(
            "Demo user: {} / {} ({}, {})",
            user.username(),
            user.password(),
            user.org_id(),
            user.granted().join(" ")
        );
    }
    println!(
        "Sign in (OIDC): {}/.well-known/openid-configuration",
        geopera_types::oidc::issuer(&emulator.base_url())
    );
    if args.control {
        println!(
            "Control endpoints: {}{}/",
            emulator.base_url(),
            geopera_emulator::CONTROL_PREFIX
        );
    }
    if args.allow_local_webhooks {
        println!("Webhooks: local and plain-HTTP endpoints allowed");
    }
    println!("Rate limits: {}", args.rate_limits);
    println!("Press Ctrl-C to stop.");
    runtime
        .block_on(stopped)
        .context("waiting for Ctrl-C or SIGTERM")?;
    tracing::info!("shutting down");
    emulator.shutdown();
    Ok(())
}
