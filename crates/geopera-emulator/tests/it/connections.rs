//! Connection limits over raw TCP: slow or silent clients and idle connections are closed
//! while other clients are still served at once.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};
use serde_json::json;

use crate::common::Api;

fn emulator(header_read: Duration, idle: Duration) -> EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .header_read_timeout(header_read)
        .idle_timeout(idle)
        .start()
        .expect("emulator starts")
}

fn request(emu: &EmulatorHandle) -> Vec<u8> {
    format!(
        "POST /v1/op/billing.credits.balance HTTP/1.1\r\nhost: {}\r\n\
         authorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: 2\r\n\r\n{{}}",
        emu.addr(),
        emu.api_key()
    )
    .into_bytes()
}

/// Sends one request on `stream` and reads its answer; returns the status.
fn exchange(stream: &mut TcpStream, request: &[u8]) -> u16 {
    stream.write_all(request).expect("request written");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("answer read");
        assert!(
            n > 0,
            "closed mid-answer: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&seen);
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("content-length");
        if seen.len() >= end + 4 + length {
            return text[9..12].parse().expect("status");
        }
    }
}

/// A new connection's round trip, after a warm-up so first-use costs are not counted.
fn probe(emu: &EmulatorHandle) -> Duration {
    let mut stream = TcpStream::connect(emu.addr()).expect("connects");
    let started = Instant::now();
    assert_eq!(exchange(&mut stream, &request(emu)), 200);
    started.elapsed()
}

/// Waits up to `limit` for the server to close `stream`; how long it took, if it did.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    while started.elapsed() < limit {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout set");
        match stream.read(&mut chunk) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn a_slow_header_sender_is_closed_after_the_header_read_timeout() {
    let emu = emulator(Duration::from_millis(500), Duration::from_secs(30));
    probe(&emu);

    // A kept-alive connection whose next request head arrives one line every 100 ms.
    let mut slow = TcpStream::connect(emu.addr()).expect("connects");
    assert_eq!(exchange(&mut slow, &request(&emu)), 200);
    let started = Instant::now();
    slow.write_all(b"POST /v1/op/billing.credits.balance HTTP/1.1\r\n")
        .expect("start of a head");
    let mut closed = None;
    for n in 0..40 {
        if n == 2 {
            let took = probe(&emu);
            assert!(took < Duration::from_millis(100), "probe took {took:?}");
        }
        if slow.write_all(b"x-slow: 1\r\n").is_err() {
            closed = Some(started.elapsed());
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(100)).is_some() {
            closed = Some(started.elapsed());
            break;
        }
    }
    let closed = closed.expect("the slow sender was closed within 4 s");
    eprintln!("slow header sender closed {closed:?} after its head began");
    assert!(
        (Duration::from_millis(400)..Duration::from_millis(2_500)).contains(&closed),
        "closed after {closed:?}"
    );

    // A client that connects and never sends anything is closed as well.
    let mut silent = TcpStream::connect(emu.addr()).expect("connects");
    let took = probe(&emu);
    assert!(took < Duration::from_millis(100), "probe took {took:?}");
    let closed = closed_within(&mut silent, Duration::from_secs(3)).expect("silent one closed");
    eprintln!("silent connection closed after {closed:?}; probe took {took:?}");
    assert!(
        closed >= Duration::from_millis(300),
        "closed after {closed:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(500));
    probe(&emu);
    let mut idle = TcpStream::connect(emu.addr()).expect("connects");
    assert_eq!(exchange(&mut idle, &request(&emu)), 200);
    let started = Instant::now();
    assert!(
        closed_within(&mut idle, Duration::from_millis(200)).is_none(),
        "still open at first"
    );
    let took = probe(&emu);
    assert!(took < Duration::from_millis(100), "probe took {took:?}");
    closed_within(&mut idle, Duration::from_secs(3)).expect("the idle connection was closed");
    let closed = started.elapsed();
    eprintln!("idle connection closed {closed:?} after its answer; probe took {took:?}");
    assert!(
        (Duration::from_millis(400)..Duration::from_millis(2_500)).contains(&closed),
        "closed after {closed:?}"
    );
}

#[test]
fn slow_answers_are_not_idle() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .header_read_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_millis(300)),
    );
    let key = format!("Bearer {}", api.emu.api_key());
    let body = json!({"host_name": "earthsearch-aws", "limit": 5});
    for fault in ["latency=800ms", "slow=800ms"] {
        let resp = api
            .try_call_with(
                "catalog.search",
                &body,
                &[("authorization", &key), ("x-emulator-fault", fault)],
            )
            .expect("answered in full");
        assert_eq!(resp.status, 200, "{fault}");
        assert_eq!(resp.json()["numberReturned"], 5, "{fault}");
    }
}
