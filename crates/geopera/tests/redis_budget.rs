//! A fleet of worker processes sharing one rate budget in a real Redis, against one emulator
//! with a low cap and two-second windows. Each test starts its own `redis-server` (from the
//! Debian package) on a free port and skips, saying so, when it is not installed.
//!
//! The workers are this test binary run again as children (the ignored `worker` test), so
//! nothing is shared between them but Redis and the emulator.
#![cfg(feature = "redis")]

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
    fn start(port: Option<u16>) -> Option<Redis> {
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
        let redis = Redis { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "redis-server did not listen on {port} within 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
         429s, errors {:?}\n  each alone:    {} ok in time ({:.0} %), {} late, {alone_429} \
         429s, errors {}",
        shared.in_time,
        shared.in_time as f64 * 100.0 / capacity as f64,
        shared.late,
        shared.errors,
        alone.in_time,
        alone.in_time as f64 * 100.0 / capacity as f64,
        alone.late,
        alone.errors.len(),
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
        "Redis down for windows 2-3 of {windows}: {} ok in time ({:.0} % of {capacity}), {} \
         late, {limited} 429s, errors {:?}, {} of {WORKERS} workers back on Redis",
        totals.in_time,
        totals.in_time as f64 * 100.0 / capacity as f64,
        totals.late,
        totals.errors,
        totals.shared_at_end
    );
    assert!(totals.in_time > 0);
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
    let budget = |org: &str| {
        RedisBudget::builder(redis.url(), org)
            .window(Duration::from_secs(60))
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
        first
            .limited(RateClass::Default, Duration::from_secs(3))
            .await;
        // The 429 is shared in the background: give it a bounded moment to land.
        let started = Instant::now();
        let held = loop {
            match second.reserve(RateClass::Default).await {
                Reservation::Wait(wait) => break Some(wait),
                Reservation::Granted if started.elapsed() < Duration::from_secs(2) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => break None,
            }
        };
        let wait = held.expect("the other worker is held back");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        assert_eq!(
            other_org.reserve(RateClass::Default).await,
            Reservation::Granted,
            "another organization's budget is its own"
        );
    });
    assert!(first.is_shared() && second.is_shared());
    drop(redis);
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
                    let (mut in_time, mut late, mut errors) = (0u64, 0u64, Vec::new());
                    // At most a few hundred calls each, and none begun after the end.
                    for _ in 0..500 {
                        if unix_millis() >= end {
                            break;
                        }
                        let input = CatalogSearchInput::new(HOST).limit(1);
                        match geopera::operations::catalog_search::send(&client, input).await {
                            Ok(_) if unix_millis() <= end => in_time += 1,
                            Ok(_) => late += 1,
                            Err(e) => errors.push(format!("{:?}/{:?}", e.kind(), e.status())),
                        }
                    }
                    (in_time, late, errors)
                })
            })
            .collect();
        let (mut in_time, mut late, mut errors) = (0, 0, Vec::new());
        for task in tasks {
            let (i, l, e) = tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("a task ends within a minute")
                .expect("a task does not panic");
            in_time += i;
            late += l;
            errors.extend(e);
        }
        let shared = budget.as_ref().is_none_or(RedisBudget::is_shared);
        let errors: String = errors.iter().map(|e| format!(" error={e}")).collect();
        println!("FLEET in_time={in_time} late={late} shared={shared}{errors}");
    });
}
