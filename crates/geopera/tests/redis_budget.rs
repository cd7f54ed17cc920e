//! A fleet of worker processes sharing one rate budget in a real Redis, against one emulator
//! with a low cap and two-second windows. Each test starts its own `redis-server` (from the
//! Debian package) on a free port and skips, saying so, when it is not installed.
//!
//! The workers are this test binary run again as children (the ignored `worker` test), so
//! nothing is shared between them but Redis and the emulator.
//!
//! The `hostile` tests need no redis-server: they speak to a Redis of their own that answers
//! wrongly, late or never.
#![cfg(feature = "redis")]

#[path = "support/captured.rs"]
mod captured;
#[path = "redis_budget/hostile.rs"]
mod hostile;
#[path = "it/tls_support.rs"]
#[allow(dead_code, reason = "the proxy and client helpers serve other tests")]
mod tls_support;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use geopera::budget::{Budget as _, RedisBudget, Reservation};
use geopera::models::CatalogSearchInput;
use geopera::{AuthenticatedClient, RateClass};
use geopera_emulator::{Emulator, EmulatorHandle, ManualClock, RateLimits};

const WINDOW: Duration = Duration::from_secs(2);
const CAP: u32 = 40;
const WORKERS: usize = 8;
const TASKS: usize = 32;
const HOST: &str = "earthsearch-aws";

/// One fleet at a time: the machine running the tests is small, and the numbers mean more
/// when fleets do not compete for it.
static ONE_FLEET: Mutex<()> = Mutex::new(());

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A `redis-server` of the test's own, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts one on `port` (a free one when `None`); `None` when the server is not installed.
    ///
    /// A port found free can be taken before redis-server binds it, by the server of a test
    /// running beside this one: a test would then share that server and lose it when the
    /// other test ends. So the server that answers must be this child, by its process id, and
    /// a free port is tried again (a few times) when it is not.
    fn start(port: Option<u16>) -> Option<Redis> {
        for _ in 0..10 {
            let port = port.unwrap_or_else(|| {
                TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .expect("a free port")
            });
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let mut redis = Redis { child, port };
            if redis.answers_as_itself() {
                return Some(redis);
            }
        }
        panic!("no redis-server of this test's own answered in 10 tries");
    }

    /// Waits (5 s at most) for the server on this port to answer, and says whether it is
    /// this child: false when the child exits (its port was taken) or another answers.
    fn answers_as_itself(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            if let Some(pid) = server_pid(self.port) {
                return pid == self.child.id();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on {} within 5 s", self.port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

/// The process id of the Redis answering on `port`, from `INFO server`; `None` while none
/// answers.
fn server_pid(port: u16) -> Option<u32> {
    use std::io::{Read as _, Write as _};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while answer.len() < 64 * 1024 {
        let read = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        answer.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&answer);
        if let Some(rest) = text.split("process_id:").nth(1) {
            if let Some((pid, _)) = rest.split_once("\r\n") {
                return pid.trim().parse().ok();
            }
        }
    }
    None
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long the tests of what a shared budget does give Redis to answer, instead of the
/// default 100 ms: on a machine as loaded as CI's (the fleet test's workers run beside them),
/// an answer can take longer than that, and the budget would then pace on its own, which is
/// what other tests test. Also how long a 429 shared in the background may take to land.
const LOADED_MACHINE: Duration = Duration::from_secs(5);

fn skip_without_redis() -> bool {
    let installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("redis-server is not installed: skipping the shared rate budget test");
    }
    !installed
}

fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::uniform(CAP))
        .rate_window(WINDOW)
        .clock(ManualClock::system())
        .record_limit(200_000)
        .record_budget(256 << 20)
        .start()
        .expect("the emulator starts")
}

/// What the workers did, summed.
#[derive(Debug, Default)]
struct Totals {
    /// Calls that succeeded before the run's end.
    in_time: u64,
    /// Calls that succeeded after it (they were waiting for a window when it came).
    late: u64,
    /// Calls that ended in a typed error, by kind.
    errors: Vec<String>,
    /// Workers whose budget was on Redis at the end.
    shared_at_end: usize,
    /// Calls that succeeded in each window of the run, by window index.
    per_window: Vec<u64>,
    /// The longest any one call took, retries and waits for the budget included.
    slowest: Duration,
    /// Calls that took longer than one window: a worker stalled on them.
    stalled: u64,
}

/// Runs the workers from the next window boundary for `windows` windows; `during` runs in
/// the parent meanwhile (given the run's start, in Unix ms).
fn run_fleet(
    emu: &EmulatorHandle,
    redis_url: Option<&str>,
    windows: u64,
    during: impl FnOnce(u64),
) -> Totals {
    let _alone = ONE_FLEET.lock().unwrap_or_else(|e| e.into_inner());
    let window_ms = WINDOW.as_millis() as u64;
    let start = (unix_millis() / window_ms + 2) * window_ms;
    let end = start + windows * window_ms;
    let children: Vec<Child> = (0..WORKERS)
        .map(|_| {
            let mut child = Command::new(std::env::current_exe().expect("the test binary"));
            child
                .args(["--exact", "worker", "--ignored", "--nocapture"])
                .args(["--test-threads=1"])
                .env("GEOPERA_FLEET_BASE_URL", emu.base_url())
                .env("GEOPERA_FLEET_TOKEN", emu.api_key())
                .env("GEOPERA_FLEET_START", start.to_string())
                .env("GEOPERA_FLEET_END", end.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if let Some(url) = redis_url {
                child.env("GEOPERA_FLEET_REDIS", url);
            }
            child.spawn().expect("a worker starts")
        })
        .collect();
    during(start);
    let mut totals = Totals::default();
    for child in children {
        let output = child.wait_with_output().expect("the worker ends");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "a worker failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("FLEET ").map(|(_, report)| report))
            .expect("the worker reports");
        for field in line.split_whitespace() {
            match field.split_once('=') {
                Some(("in_time", n)) => totals.in_time += n.parse::<u64>().expect("a count"),
                Some(("late", n)) => totals.late += n.parse::<u64>().expect("a count"),
                Some(("shared", "true")) => totals.shared_at_end += 1,
                Some(("slowest_ms", n)) => {
                    let ms = Duration::from_millis(n.parse().expect("a duration"));
                    totals.slowest = totals.slowest.max(ms);
                }
                Some(("stalled", n)) => totals.stalled += n.parse::<u64>().expect("a count"),
                Some(("windows", counts)) => {
                    for (i, n) in counts.split(',').enumerate() {
                        let n: u64 = n.parse().expect("a count");
                        match totals.per_window.get_mut(i) {
                            Some(total) => *total += n,
                            None => totals.per_window.push(n),
                        }
                    }
                }
                Some(("error", kind)) => totals.errors.push(kind.to_owned()),
                _ => {}
            }
        }
    }
    totals
}

fn limited(emu: &EmulatorHandle) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count()
}

#[test]
fn a_fleet_on_a_shared_budget_meets_at_most_one_429_per_window() {
    if skip_without_redis() {
        return;
    }
    let redis = Redis::start(None).expect("redis-server starts");
    let windows = 4;
    let shared_emu = emulator();
    let shared = run_fleet(&shared_emu, Some(&redis.url()), windows, |_| {});
    let shared_429 = limited(&shared_emu);
    let capacity = windows * u64::from(CAP);

    let alone_emu = emulator();
    let alone = run_fleet(&alone_emu, None, windows, |_| {});
    let alone_429 = limited(&alone_emu);
    println!(
        "{WORKERS} workers x {TASKS} tasks, cap {CAP} per {WINDOW:?}, {windows} windows \
         (capacity {capacity}):\n  shared budget: {} ok in time ({:.0} %), {} late, {shared_429} \
         429s, errors {:?}, slowest call {:?}, {} calls longer than a window, per window {:?}\n  \
         each alone:    {} ok in time ({:.0} %), {} late, {alone_429} 429s, errors {}, slowest \
         call {:?}, {} calls longer than a window, per window {:?}",
        shared.in_time,
        shared.in_time as f64 * 100.0 / capacity as f64,
        shared.late,
        shared.errors,
        shared.slowest,
        shared.stalled,
        shared.per_window,
        alone.in_time,
        alone.in_time as f64 * 100.0 / capacity as f64,
        alone.late,
        alone.errors.len(),
        alone.slowest,
        alone.stalled,
        alone.per_window,
    );
    // The late calls go out in the window after the run: count it too.
    assert!(
        shared_429 as u64 <= windows + 1,
        "{shared_429} 429s in {windows} windows"
    );
    assert!(
        shared.in_time * 10 >= capacity * 9,
        "throughput {} of {capacity}",
        shared.in_time
    );
    assert!(shared.errors.is_empty(), "{:?}", shared.errors);
    assert_eq!(shared.shared_at_end, WORKERS);
}

#[test]
fn a_fleet_goes_on_alone_while_redis_is_down_and_rejoins_when_it_returns() {
    if skip_without_redis() {
        return;
    }
    let mut redis = Some(Redis::start(None).expect("redis-server starts"));
    let port = redis.as_ref().map_or(0, |r| r.port);
    let url = format!("redis://127.0.0.1:{port}/");
    let emu = emulator();
    let windows = 5;
    let window_ms = WINDOW.as_millis() as u64;
    let totals = run_fleet(&emu, Some(&url), windows, |start| {
        let at = |ms: u64| {
            let now = unix_millis();
            std::thread::sleep(Duration::from_millis(ms.saturating_sub(now)));
        };
        at(start + window_ms + window_ms / 2);
        drop(redis.take());
        at(start + 3 * window_ms);
        redis = Some(Redis::start(Some(port)).expect("redis-server starts again"));
    });
    let limited = limited(&emu);
    let capacity = windows * u64::from(CAP);
    println!(
        "Redis down from the middle of window 2 to the start of window 4 of {windows}: {} ok in \
         time ({:.0} % of {capacity}), per window {:?}, {} late, {limited} 429s, errors {:?}, {} \
         of {WORKERS} workers back on Redis, slowest call {:?}, {} calls longer than a window",
        totals.in_time,
        totals.in_time as f64 * 100.0 / capacity as f64,
        totals.per_window,
        totals.late,
        totals.errors,
        totals.shared_at_end,
        totals.slowest,
        totals.stalled
    );
    // Window 3 (index 2) is wholly without Redis: the workers go on, on their local budgets.
    let without_redis = totals.per_window.get(2).copied().unwrap_or(0);
    assert!(
        without_redis * 2 >= u64::from(CAP),
        "only {without_redis} calls while Redis was down"
    );
    // After the restart (windows 4 and 5) they share again, and the fleet still gets through.
    let after: u64 = totals.per_window.iter().skip(3).sum();
    assert!(
        after * 2 >= 2 * u64::from(CAP),
        "only {after} calls after Redis returned"
    );
    // Every call ended in success or a typed error; the only error expected here is a call
    // refused with 429 after its retries, while the fleet was paced alone.
    assert!(
        totals.errors.iter().all(|e| e.starts_with("RateLimited/")),
        "{:?}",
        totals.errors
    );
    assert_eq!(totals.shared_at_end, WORKERS, "every worker rejoined");
    drop(redis);
}

#[test]
fn a_429_seen_by_one_worker_holds_back_every_worker_of_the_organization() {
    if skip_without_redis() {
        return;
    }
    let Some(redis) = Redis::start(None) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Other tests of this file load the machine with whole fleets at the same time. A Redis
    // answer slower than the budget's timeout would send a budget resting on its own (and
    // nothing would be shared), and a hold shorter than the wait for it to land could run out
    // before it is seen: so a patient timeout, and a hold far longer than the patience.
    let patience = LOADED_MACHINE * 4;
    let hold = patience * 3;
    let budget = |org: &str| {
        RedisBudget::builder(redis.url(), org)
            .window(Duration::from_secs(60))
            .timeout(patience)
            .build()
            .expect("a budget")
    };
    let (first, second, other_org) = (budget("org_a"), budget("org_a"), budget("org_b"));
    runtime.block_on(async {
        assert_eq!(
            second.reserve(RateClass::Default).await,
            Reservation::Granted,
            "nothing holds it back yet"
        );
        first.limited(RateClass::Default, hold).await;
        // The 429 is shared in the background: give it a bounded moment to land.
        let started = Instant::now();
        let held = loop {
            match second.reserve(RateClass::Default).await {
                Reservation::Wait(wait) => break Some(wait),
                Reservation::Granted if started.elapsed() < patience => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => break None,
            }
        };
        let wait = held.expect("the other worker is held back");
        assert!(wait > Duration::ZERO && wait <= hold, "{wait:?}");
        assert_eq!(
            other_org.reserve(RateClass::Default).await,
            Reservation::Granted,
            "another organization's budget is its own"
        );
    });
    assert!(first.is_shared() && second.is_shared());
    drop(redis);
}

/// A process falling back to its local budget within a window knows what Redis granted it
/// there, and the holds Redis answered: with a window's calls granted by Redis, the fallback
/// waits for the next window rather than granting them all again.
#[test]
fn falling_back_within_a_window_counts_what_redis_granted_in_it() {
    if skip_without_redis() {
        return;
    }
    let redis = Redis::start(None).expect("redis-server starts");
    // All in one window: not in the last seconds of one.
    let window_ms = 600_000;
    let into_window = unix_millis() % window_ms;
    if into_window > window_ms - 5_000 {
        std::thread::sleep(Duration::from_millis(window_ms - into_window + 100));
    }
    let budget = RedisBudget::builder(redis.url(), "org_fallback")
        .cap(RateClass::Default, 3)
        .headroom_percent(0)
        .window(Duration::from_millis(window_ms))
        .timeout(LOADED_MACHINE)
        .build()
        .expect("a budget");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for call in 0..3 {
            let granted = budget.reserve(RateClass::Default).await;
            assert!(
                matches!(granted, Reservation::Granted),
                "call {call}: {granted:?}"
            );
        }
        assert!(budget.is_shared(), "granted by Redis");
        drop(redis);
        let fallback = budget.reserve(RateClass::Default).await;
        assert!(!budget.is_shared(), "Redis is gone");
        assert!(
            matches!(fallback, Reservation::Wait(_)),
            "the window's calls were spent on Redis: {fallback:?}"
        );
    });
}

#[test]
fn a_redis_that_never_answers_costs_a_bounded_wait_then_the_local_budget() {
    // Takes connections and never answers: a hung Redis (no redis-server needed).
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("an address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(16) {
            held.extend(stream.ok());
        }
    });
    let budget = RedisBudget::builder(format!("redis://127.0.0.1:{port}/"), "org_hung")
        .timeout(Duration::from_millis(100))
        .build()
        .expect("a budget");
    let took = calls_on_the_local_budget(&budget, 5);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// A cap of 0 lifts the cap, on Redis and on the local budget a worker falls back to, as it
/// does on [`geopera::budget::LocalBudget`]: it allowed one call a window.
#[test]
fn a_cap_of_zero_lifts_the_cap_on_redis_and_on_the_fallback() {
    let reserve_many = |budget: &RedisBudget| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            for call in 0..20 {
                let granted = budget.reserve(RateClass::Default).await;
                assert!(
                    matches!(granted, Reservation::Granted),
                    "call {call}: {granted:?}"
                );
            }
        });
    };
    // Nothing listens on a port just freed: every reservation falls back to the local budget.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a port")
        .port();
    let alone = RedisBudget::builder(format!("redis://127.0.0.1:{closed}/"), "org_uncapped")
        .cap(RateClass::Default, 0)
        .window(Duration::from_secs(600))
        .timeout(LOADED_MACHINE)
        .build()
        .expect("a budget");
    reserve_many(&alone);
    assert!(!alone.is_shared());

    if skip_without_redis() {
        return;
    }
    let redis = Redis::start(None).expect("redis-server starts");
    let shared = RedisBudget::builder(redis.url(), "org_uncapped")
        .cap(RateClass::Default, 0)
        .window(Duration::from_secs(600))
        .timeout(LOADED_MACHINE)
        .build()
        .expect("a budget");
    reserve_many(&shared);
    assert!(
        shared.is_shared(),
        "every reservation was answered by Redis"
    );
}

/// Makes `calls` searches through a client on `budget`, each within 20 s, and checks that
/// each went ahead and that the budget has stopped relying on Redis; returns how long they
/// took.
fn calls_on_the_local_budget(budget: &RedisBudget, calls: u64) -> Duration {
    let emu = Emulator::builder().start().expect("the emulator starts");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .budget(Arc::new(budget.clone()))
        .build()
        .expect("a client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..calls {
            let input = CatalogSearchInput::new(HOST).limit(1);
            tokio::time::timeout(
                Duration::from_secs(20),
                geopera::operations::catalog_search::send(&client, input),
            )
            .await
            .expect("the call does not wait on Redis")
            .expect("the call goes ahead on the local budget");
        }
    });
    let took = started.elapsed();
    assert!(!budget.is_shared(), "the budget knows not to rely on Redis");
    assert_eq!(emu.executed("catalog.search"), calls);
    took
}

/// Calls without credentials are counted per client address, not per organization: in
/// Redis they have a key of their own, so a 429 of either kind holds only its own calls
/// across the fleet.
#[test]
fn a_429_without_credentials_holds_only_calls_without_credentials() {
    if skip_without_redis() {
        return;
    }
    let redis = Redis::start(None).expect("redis-server starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let budget = || {
        RedisBudget::builder(redis.url(), "org_anonymous")
            .timeout(LOADED_MACHINE)
            .build()
            .expect("a budget")
    };
    let (first, second) = (budget(), budget());
    // A hold is shared in the background: wait a bounded while for it to land.
    let second = &second;
    let held = |class: RateClass| async move {
        let started = Instant::now();
        while started.elapsed() < LOADED_MACHINE * 4 {
            if second.reserve(class).await != Reservation::Granted {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    runtime.block_on(async {
        first
            .limited(RateClass::Unauthenticated, Duration::from_secs(600))
            .await;
        assert!(
            held(RateClass::Unauthenticated).await,
            "the other worker's drains wait"
        );
        assert_eq!(
            second.reserve(RateClass::Default).await,
            Reservation::Granted,
            "the organization's calls go on"
        );
    });
    let keys = redis_keys(redis.port);
    assert!(
        keys.contains("geopera:{org_anonymous}:anonymous:blocked"),
        "{keys}"
    );
    assert!(!keys.contains("default:blocked"), "{keys}");
    assert!(first.is_shared() && second.is_shared());
}

/// `rediss://` speaks to Redis through TLS and checks its certificate: a budget trusting the
/// authority that signed it (given as a CA file, as a managed Redis's private authority is)
/// shares through it; one trusting another authority never reaches Redis and paces on its
/// own. The Redis here is a real one behind a TLS front of the test's own.
#[test]
fn a_rediss_budget_shares_over_tls_and_only_with_a_certificate_it_trusts() {
    if skip_without_redis() {
        return;
    }
    let Some(redis) = Redis::start(None) else {
        return;
    };
    let ca = tls_support::Authority::new();
    let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], redis.port));
    let front = tls_support::TlsFront::start(upstream, ca.server(&["127.0.0.1"]));
    let url = format!("rediss://127.0.0.1:{}/", front.addr().port());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let trusted = ca.pem_file();
    let budget = RedisBudget::builder(url.clone(), "org_tls")
        .timeout(LOADED_MACHINE)
        .ca_file(trusted.path())
        .build()
        .expect("a budget");
    assert_eq!(
        runtime.block_on(budget.reserve(RateClass::Default)),
        Reservation::Granted
    );
    assert!(budget.is_shared(), "the reservation went to Redis");
    assert!(front.handshakes() >= 1, "through the TLS front");
    assert!(redis_keys(redis.port).contains("{org_tls}"));

    let stranger = tls_support::Authority::new().pem_file();
    let untrusting = RedisBudget::builder(url, "org_tls_stranger")
        .timeout(LOADED_MACHINE)
        .ca_file(stranger.path())
        .build()
        .expect("a budget");
    let handshakes = front.handshakes();
    assert_eq!(
        runtime.block_on(untrusting.reserve(RateClass::Default)),
        Reservation::Granted,
        "paced by the local budget"
    );
    assert!(!untrusting.is_shared(), "the certificate was refused");
    assert_eq!(front.handshakes(), handshakes, "no handshake completed");
    assert!(!redis_keys(redis.port).contains("org_tls_stranger"));

    // Signed by the trusted authority, but for another name than the URL's host.
    let elsewhere = tls_support::TlsFront::start(upstream, ca.server(&["localhost"]));
    let misnamed = RedisBudget::builder(
        format!("rediss://127.0.0.1:{}/", elsewhere.addr().port()),
        "org_tls_misnamed",
    )
    .timeout(LOADED_MACHINE)
    .ca_file(trusted.path())
    .build()
    .expect("a budget");
    assert_eq!(
        runtime.block_on(misnamed.reserve(RateClass::Default)),
        Reservation::Granted,
        "paced by the local budget"
    );
    assert!(!misnamed.is_shared(), "the certificate names another host");
    assert_eq!(elsewhere.handshakes(), 0);
    assert!(!redis_keys(redis.port).contains("org_tls_misnamed"));
    drop(redis);
}

/// What would send a `rediss://` budget's password, or its calls' counts, to whoever is on the
/// path is refused at build: `#insecure` (the Redis client's way to skip the certificate
/// check), and TLS settings given with a `redis://` URL, which speaks in clear.
#[test]
fn a_redis_url_that_would_skip_or_lack_tls_is_refused_at_build() {
    let ca = tls_support::Authority::new().pem_file();
    let cases = [
        (
            "rediss://:hunter2@127.0.0.1:6380/#insecure",
            None,
            "#insecure",
        ),
        // Schemes are read whatever their case.
        ("REDISS://:hunter2@[::1]:6380/#insecure", None, "#insecure"),
        (
            "redis://:hunter2@127.0.0.1:6379/",
            Some(ca.path()),
            "use rediss://",
        ),
        (
            "rediss://:hunter2@127.0.0.1:6380/",
            // A regular file with no certificate in it.
            Some(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/Cargo.toml"
            ))),
            "no valid PEM certificate",
        ),
    ];
    for (url, ca_file, said) in cases {
        let mut builder = RedisBudget::builder(url, "org_refused");
        if let Some(path) = ca_file {
            builder = builder.ca_file(path);
        }
        let error = builder.build().expect_err(url);
        assert_eq!(error.kind(), geopera::ErrorKind::Config, "{url}: {error}");
        let message = error.to_string();
        assert!(message.contains(said), "{url}: {message}");
        assert!(!format!("{message} {error:?}").contains("hunter2"), "{url}");
    }
}

/// The keys of the Redis at `port`, as its `KEYS *` answer reads.
fn redis_keys(port: u16) -> String {
    use std::io::{Read as _, Write as _};
    let mut redis = TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
    redis
        .set_read_timeout(Some(LOADED_MACHINE))
        .expect("a read timeout");
    redis
        .write_all(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
        .expect("sent");
    let mut reply = vec![0u8; 64 * 1024];
    let read = redis.read(&mut reply).expect("a reply");
    String::from_utf8_lossy(&reply[..read]).into_owned()
}

/// Sets `key` to `value` on the Redis at `port`, in Redis's own protocol.
fn redis_set(port: u16, key: &str, value: &str) {
    use std::io::{Read as _, Write as _};
    let mut redis = TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
    write!(
        redis,
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    )
    .expect("sent");
    let mut reply = [0u8; 5];
    redis.read_exact(&mut reply).expect("a reply");
    assert_eq!(&reply, b"+OK\r\n");
}

/// A budget held on Redis for longer than any 429 holds it (a key written by something else)
/// is garbage: calls pace on the local budget instead of sleeping for centuries.
#[test]
fn a_hold_on_redis_longer_than_any_budget_writes_is_not_waited_for() {
    if skip_without_redis() {
        return;
    }
    let redis = Redis::start(None).expect("redis-server starts");
    redis_set(
        redis.port,
        "geopera:{org_garbage}:default:blocked",
        "99999999999999",
    );
    let budget = RedisBudget::builder(redis.url(), "org_garbage")
        .timeout(LOADED_MACHINE)
        .build()
        .expect("a budget");
    calls_on_the_local_budget(&budget, 3);
}

#[cfg(feature = "blocking")]
#[test]
fn blocking_calls_draw_from_the_shared_budget_too() {
    if skip_without_redis() {
        return;
    }
    let redis = Redis::start(None).expect("redis-server starts");
    let emu = Emulator::builder().start().expect("the emulator starts");
    let budget = || {
        RedisBudget::builder(redis.url(), "org_blocking")
            .window(Duration::from_secs(60))
            .cap(RateClass::Default, 3)
            .headroom_percent(0)
            .timeout(LOADED_MACHINE)
            .build()
            .expect("a budget")
    };
    let drawn = budget();
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .budget(Arc::new(drawn.clone()))
        .build()
        .expect("a client");
    // Blocking calls from plain threads, no runtime of the caller's anywhere.
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                let input = CatalogSearchInput::new(HOST).limit(1);
                geopera::operations::catalog_search::send_blocking(&client, input).is_ok()
            })
        })
        .collect();
    for thread in threads {
        assert!(
            thread.join().expect("no panic"),
            "a blocking call succeeded"
        );
    }
    assert_eq!(emu.executed("catalog.search"), 3);
    assert!(drawn.is_shared(), "the reservations went to Redis");
    // The three calls used the whole window's cap in Redis: another process is held back.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let other = budget();
    match runtime.block_on(other.reserve(RateClass::Default)) {
        Reservation::Wait(wait) => assert!(wait <= Duration::from_secs(60), "{wait:?}"),
        granted => panic!("the budget should be spent, got {granted:?}"),
    }
}

/// What one worker's tasks saw.
#[derive(Debug)]
struct Report {
    per_window: Vec<u64>,
    late: u64,
    errors: Vec<String>,
    slowest: Duration,
    stalled: u64,
}

impl Report {
    fn new(windows: usize) -> Self {
        Report {
            per_window: vec![0; windows],
            late: 0,
            errors: Vec::new(),
            slowest: Duration::ZERO,
            stalled: 0,
        }
    }

    fn took(&mut self, took: Duration) {
        self.slowest = self.slowest.max(took);
        if took > WINDOW {
            self.stalled += 1;
        }
    }

    fn add(&mut self, other: Report) {
        for (total, n) in self.per_window.iter_mut().zip(other.per_window) {
            *total += n;
        }
        self.late += other.late;
        self.errors.extend(other.errors);
        self.slowest = self.slowest.max(other.slowest);
        self.stalled += other.stalled;
    }
}

/// One worker: `TASKS` tasks calling `catalog.search` from the run's start to its end, on a
/// budget in Redis when one is named, else paced alone at the whole cap.
#[test]
#[ignore = "run as a child process by the fleet tests"]
fn worker() {
    let Ok(base_url) = std::env::var("GEOPERA_FLEET_BASE_URL") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let start: u64 = var("GEOPERA_FLEET_START").parse().expect("a start");
    let end: u64 = var("GEOPERA_FLEET_END").parse().expect("an end");
    let window_ms = WINDOW.as_millis() as u64;
    let windows = usize::try_from((end - start) / window_ms).expect("a few windows");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let per_minute = CAP * (60 / WINDOW.as_secs() as u32);
        let mut builder =
            AuthenticatedClient::builder(var("GEOPERA_FLEET_TOKEN")).base_url(base_url);
        let mut budget = None;
        match std::env::var("GEOPERA_FLEET_REDIS") {
            Ok(url) => {
                let shared = RedisBudget::builder(url, "org_fleet_test")
                    .namespace(format!("test{start}"))
                    .window(WINDOW)
                    .cap(RateClass::Default, CAP)
                    .fleet_size(WORKERS as u32)
                    .reconnect_after(Duration::from_millis(300))
                    .build()
                    .expect("a budget");
                budget = Some(shared.clone());
                builder = builder.budget(Arc::new(shared));
            }
            Err(_) => builder = builder.pace(RateClass::Default, per_minute),
        }
        let client = builder.build().expect("a client");
        tokio::time::sleep(Duration::from_millis(start.saturating_sub(unix_millis()))).await;
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut report = Report::new(windows);
                    // At most a few hundred calls each, and none begun after the end.
                    for _ in 0..500 {
                        if unix_millis() >= end {
                            break;
                        }
                        let input = CatalogSearchInput::new(HOST).limit(1);
                        let began = Instant::now();
                        let sent = geopera::operations::catalog_search::send(&client, input).await;
                        report.took(began.elapsed());
                        let now = unix_millis();
                        match sent {
                            Ok(_) if now <= end => {
                                let window = ((now.saturating_sub(start)) / window_ms) as usize;
                                if let Some(count) =
                                    report.per_window.get_mut(window.min(windows - 1))
                                {
                                    *count += 1;
                                }
                            }
                            Ok(_) => report.late += 1,
                            Err(e) => {
                                report
                                    .errors
                                    .push(format!("{:?}/{:?}", e.kind(), e.status()))
                            }
                        }
                    }
                    report
                })
            })
            .collect();
        let mut total = Report::new(windows);
        for task in tasks {
            let report = tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("a task ends within a minute")
                .expect("a task does not panic");
            total.add(report);
        }
        let shared = budget.as_ref().is_none_or(RedisBudget::is_shared);
        let in_time: u64 = total.per_window.iter().sum();
        let windows: Vec<String> = total.per_window.iter().map(u64::to_string).collect();
        let errors: String = total.errors.iter().map(|e| format!(" error={e}")).collect();
        println!(
            "FLEET in_time={in_time} late={} shared={shared} slowest_ms={} stalled={} \
             windows={}{errors}",
            total.late,
            total.slowest.as_millis(),
            total.stalled,
            windows.join(","),
        );
    });
}

#[test]
fn a_window_longer_than_the_longest_wait_redis_can_answer_is_refused_at_build() {
    // No server is asked: the window is judged before anything connects.
    let build = |window| {
        geopera::budget::RedisBudget::builder("redis://127.0.0.1:1", "org_window")
            .window(window)
            .build()
    };
    for window in [
        Duration::from_secs(3601),
        Duration::from_secs(1000 * 3600),
        Duration::MAX,
    ] {
        let error = build(window).expect_err("too long a window");
        assert!(error.to_string().contains("window"), "{error}");
    }
    assert!(build(Duration::from_secs(3600)).is_ok());
    assert!(build(Duration::from_secs(60)).is_ok());
}

#[test]
fn a_timeout_longer_than_the_window_is_refused_at_build() {
    // A stalled Redis would otherwise hold calls for as long: no server is asked.
    let build = |timeout| {
        geopera::budget::RedisBudget::builder("redis://127.0.0.1:1", "org_timeout")
            .timeout(timeout)
            .build()
    };
    for timeout in [Duration::from_secs(61), Duration::MAX] {
        let error = build(timeout).expect_err("too long a timeout");
        assert!(error.to_string().contains("timeout"), "{error}");
        assert_eq!(error.kind(), geopera::ErrorKind::Config, "{error}");
    }
    assert!(build(Duration::from_secs(60)).is_ok());
    assert!(build(Duration::from_millis(100)).is_ok());
}

#[test]
fn a_blank_organization_or_one_with_braces_is_refused_at_build() {
    // Blank, every program that forgot it would share one budget; a brace would break the hash
    // tag that keeps an organization's keys on one Redis Cluster node. No server is asked.
    let build = |organization: &str| {
        geopera::budget::RedisBudget::builder("redis://127.0.0.1:1", organization).build()
    };
    for organization in ["", "  ", "}org", "org{1}", "{}"] {
        let error = build(organization).expect_err("refused");
        assert_eq!(error.kind(), geopera::ErrorKind::Config, "{error}");
        assert!(error.to_string().contains("organization"), "{error}");
        assert!(
            !error.to_string().contains("  "),
            "one line of words: {error}"
        );
    }
    assert!(build("org_7f3a").is_ok());
    // The namespace comes before the organization in every key: a brace there moves the tag.
    for namespace in ["app{}", "{app}"] {
        let error = geopera::budget::RedisBudget::builder("redis://127.0.0.1:1", "org_7f3a")
            .namespace(namespace)
            .build()
            .expect_err("refused");
        assert!(error.to_string().contains("namespace"), "{error}");
    }
}
