//! Connection limits over raw TCP and h2c: slow or silent clients and idle connections are
//! closed while other clients are still served at once.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
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
    read_status(stream)
}

/// Reads one answer from `stream` (waiting up to 5 s for each piece); returns the status.
fn read_status(stream: &mut TcpStream) -> u16 {
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

/// At most `max_connections` are served at once: past it, a new connection waits unanswered
/// until one closes, and is then served. Connections were once uncapped, so a client holding
/// thousands of idle ones held as many tasks and descriptors.
#[test]
fn a_connection_past_the_cap_waits_until_one_closes() {
    let emu = Emulator::builder()
        .rate_limits(RateLimits::off())
        .header_read_timeout(Duration::from_secs(30))
        .idle_timeout(Duration::from_secs(30))
        .max_connections(2)
        .start()
        .expect("emulator starts");
    // Both places taken: one connection served and kept alive, one silent.
    let mut kept = TcpStream::connect(emu.addr()).expect("connects");
    assert_eq!(exchange(&mut kept, &request(&emu)), 200);
    let silent = TcpStream::connect(emu.addr()).expect("connects");
    // The kernel completes a third handshake, but the emulator does not take it up.
    let mut third = TcpStream::connect(emu.addr()).expect("the handshake completes");
    third.write_all(&request(&emu)).expect("request written");
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout set");
    let mut byte = [0u8; 1];
    match third.read(&mut byte) {
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a third connection was served past the cap of 2: {other:?}"),
    }
    drop(silent);
    let freed = Instant::now();
    assert_eq!(read_status(&mut third), 200);
    let took = freed.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "served {took:?} after a place freed up"
    );
    assert_eq!(exchange(&mut kept, &request(&emu)), 200);
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

/// Set in the child process that runs the descriptor-exhaustion scenario.
const FD_CHILD: &str = "GEOPERA_EMULATOR_FD_CHILD";

/// Lowering the descriptor limit affects the whole process, so the scenario runs in a child
/// process of its own: this same test, re-run with [`FD_CHILD`] set.
#[cfg(target_os = "linux")]
#[test]
fn the_accept_loop_backs_off_while_descriptors_run_out_and_recovers() {
    if std::env::var_os(FD_CHILD).is_some() {
        return descriptors_run_out();
    }
    let name = "connections::the_accept_loop_backs_off_while_descriptors_run_out_and_recovers";
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(FD_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("child starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    for pipe in [
        child.stdout.take().map(|mut out| {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        }),
        child.stderr.take().map(|mut err| {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        }),
    ]
    .into_iter()
    .flatten()
    {
        output.push_str(&pipe);
    }
    eprintln!("{output}");
    assert!(status.success(), "the child failed:\n{output}");
    assert!(
        output.contains("1 passed"),
        "the child ran the scenario:\n{output}"
    );
}

/// User and system CPU time of this process so far, from an already open `/proc/self/stat`
/// (no descriptor is free to open it when it matters).
#[cfg(target_os = "linux")]
fn cpu_time(stat: &mut std::fs::File) -> Duration {
    use std::io::Seek;
    let mut text = String::new();
    stat.rewind().expect("rewind");
    stat.read_to_string(&mut text).expect("/proc/self/stat");
    let after_name = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15, in USER_HZ ticks (100 a second on Linux).
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

#[cfg(target_os = "linux")]
fn descriptors_run_out() {
    use rlimit::Resource;

    let emu = emulator(Duration::from_secs(30), Duration::from_secs(30));
    probe(&emu);
    let mut stat = std::fs::File::open("/proc/self/stat").expect("stat opens");
    let in_use = std::fs::read_dir("/proc/self/fd").expect("fd list").count() as u64;
    let (_, hard) = Resource::NOFILE.get().expect("limit read");
    Resource::NOFILE
        .set(in_use + 32, hard)
        .expect("limit lowered");

    // Fill every free descriptor, then free one for a client socket: the kernel completes
    // its handshake, but the server has no descriptor to accept it with.
    let mut fillers = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        fillers.push(file);
        assert!(fillers.len() < 1_000, "the lowered limit holds");
    }
    fillers.pop();
    let mut pending = TcpStream::connect(emu.addr()).expect("the handshake completes");
    std::thread::sleep(Duration::from_millis(200));

    let before = cpu_time(&mut stat);
    let measured = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let busy = cpu_time(&mut stat).saturating_sub(before);
    let share = busy.as_secs_f64() / measured.elapsed().as_secs_f64();
    println!(
        "CPU while out of descriptors: {busy:?} over {:?} ({:.0} % of one core)",
        measured.elapsed(),
        share * 100.0
    );

    drop(fillers);
    let recovered = Instant::now();
    assert_eq!(exchange(&mut pending, &request(&emu)), 200);
    println!(
        "the waiting connection was answered {:?} after descriptors were freed",
        recovered.elapsed()
    );
    assert_eq!(
        exchange(
            &mut TcpStream::connect(emu.addr()).expect("connects"),
            &request(&emu)
        ),
        200
    );
    assert!(
        share < 0.3,
        "the accept loop spun: {:.0} % of a core",
        share * 100.0
    );
}

#[test]
fn a_slow_reader_gets_the_whole_of_a_large_answer() {
    // The answer is larger than what the sockets buffer on loopback and takes about three
    // idle timeouts to read; the gaps between the server's writes (the kernel wakes a writer
    // once a third of its buffer is free) stay under one.
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(2_500));
    let mut stream = ask_for_a_large_answer(&emu, "");
    let started = Instant::now();
    // About 1.3 MB/s.
    let (seen, expected) = read_answer(&mut stream, Duration::from_millis(100));
    let expected = expected.expect("an answer head");
    assert!(expected > 4_000_000, "a large answer: {expected} bytes");
    assert!(
        started.elapsed() > Duration::from_secs(5),
        "read slowly: {:?}",
        started.elapsed()
    );
    assert_eq!(seen.len(), expected, "the whole answer arrived");
}

/// Asks on a new connection for `catalog.search_stream`'s answer: about 10 MB of NDJSON, more
/// than the sockets buffer on loopback. `extra` is more header lines, each ending in CRLF.
fn ask_for_a_large_answer(emu: &EmulatorHandle, extra: &str) -> TcpStream {
    let body = r#"{"host_name":"earthsearch-aws"}"#;
    let mut stream = TcpStream::connect(emu.addr()).expect("connects");
    write!(
        stream,
        "POST /v1/op/catalog.search_stream HTTP/1.1\r\nhost: {}\r\n\
         authorization: Bearer {}\r\ncontent-type: application/json\r\n\
         {extra}content-length: {}\r\n\r\n{body}",
        emu.addr(),
        emu.api_key(),
        body.len()
    )
    .expect("request written");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    stream
}

/// Reads `stream`, pausing `pause` after each read, until the connection ends (closed or
/// reset), the whole answer is in, or a minute has passed. What was read, and the answer's
/// whole length once its head was in.
fn read_answer(stream: &mut TcpStream, pause: Duration) -> (Vec<u8>, Option<usize>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut chunk = vec![0u8; 128 * 1024];
    let mut expected = None;
    while started.elapsed() < Duration::from_secs(60) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!("read failed: {error}"),
        }
        if expected.is_none() {
            if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                expected = Some(end + 4 + length);
            }
        }
        if expected.is_some_and(|total| seen.len() >= total) {
            break;
        }
        std::thread::sleep(pause);
    }
    (seen, expected)
}

/// A client that asks for a large answer and never reads it is cut off once the socket has
/// been full for the idle timeout: hyper has no write timeout of its own, and while the
/// answer is still coming (here in pieces, as a `slow=` fault sends it) the request is in
/// progress, so no idle timeout applied and the connection held the answer for ever. A slow
/// reader is not cut (`a_slow_reader_gets_the_whole_of_a_large_answer`).
#[test]
fn a_client_that_never_reads_an_answer_in_progress_is_cut_off_after_the_idle_timeout() {
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(500));
    let mut stream = ask_for_a_large_answer(&emu, "x-emulator-fault: slow=1s\r\n");
    // The answer, in ten pieces over a second, fills what the sockets buffer well within
    // this, and the socket then stays full for many idle timeouts.
    std::thread::sleep(Duration::from_secs(6));
    let (seen, expected) = read_answer(&mut stream, Duration::ZERO);
    let expected = expected.expect("an answer head");
    assert!(expected > 8_000_000, "a large answer: {expected} bytes");
    assert!(
        seen.len() < expected,
        "the whole answer ({expected} bytes) was kept for a client that read none of it for 6 s"
    );
    // The emulator itself goes on answering.
    assert_eq!(probe_status(&emu), 200);
}

/// A new connection's answer to one request.
fn probe_status(emu: &EmulatorHandle) -> u16 {
    let mut stream = TcpStream::connect(emu.addr()).expect("connects");
    exchange(&mut stream, &request(emu))
}

#[test]
fn an_operation_body_that_stops_arriving_is_ended_with_408() {
    use std::io::BufRead as _;

    let emu = emulator(Duration::from_secs(10), Duration::from_secs(60));
    let mut peer = TcpStream::connect(emu.addr()).expect("connects");
    peer.set_read_timeout(Some(
        geopera_emulator::BODY_IDLE_TIMEOUT + Duration::from_secs(15),
    ))
    .expect("timeout set");
    write!(
        peer,
        "POST /v1/op/catalog.search HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"host_name\"",
        emu.addr(),
        emu.api_key()
    )
    .expect("part of a body, then nothing");
    let started = Instant::now();
    let mut status = String::new();
    std::io::BufReader::new(&peer)
        .read_line(&mut status)
        .expect("an answer before the read timeout");
    assert!(status.contains(" 408 "), "{status}");
    assert!(started.elapsed() >= geopera_emulator::BODY_IDLE_TIMEOUT - Duration::from_secs(1));
    // The server still answers others.
    assert_eq!(
        exchange(
            &mut TcpStream::connect(emu.addr()).expect("connects"),
            &request(&emu)
        ),
        200
    );
}

/// A body is bounded as a whole, not only between its bytes: a sign-in form that stalls (read
/// by a route of its own, not the operations' reader) and an operation's body sent a byte every
/// ten seconds are both ended once the body deadline passes, and the server answers others.
#[test]
fn a_stalled_sign_in_form_and_a_trickled_operation_body_end_at_the_body_deadline() {
    use std::io::BufRead as _;

    let emu = emulator(Duration::from_secs(10), Duration::from_secs(120));
    let deadline = geopera_emulator::BODY_DEADLINE;
    let status_within = move |mut peer: TcpStream, trickle: bool| {
        peer.set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout set");
        let started = Instant::now();
        let mut reader = std::io::BufReader::new(peer.try_clone().expect("a clone"));
        let mut status = String::new();
        while started.elapsed() < deadline + Duration::from_secs(20) {
            match reader.read_line(&mut status) {
                Ok(_) if !status.is_empty() => return (status, started.elapsed()),
                Ok(_) => break,
                Err(_) if trickle => {
                    // One more byte every ten seconds: never idle for the idle timeout.
                    if started.elapsed().as_secs() % 10 == 0 {
                        let _ = peer.write_all(b" ");
                    }
                }
                Err(_) => {}
            }
        }
        (status, started.elapsed())
    };
    let mut form = TcpStream::connect(emu.addr()).expect("connects");
    write!(
        form,
        "POST {}/protocol/openid-connect/token HTTP/1.1\r\nhost: {}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ngrant",
        geopera_emulator::REALM,
        emu.addr(),
    )
    .expect("part of a form, then nothing");
    let mut op = TcpStream::connect(emu.addr()).expect("connects");
    write!(
        op,
        "POST /v1/op/catalog.search HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: 100000\r\n\r\n{{\"host_name\"",
        emu.addr(),
        emu.api_key()
    )
    .expect("part of a body");
    let form = std::thread::spawn(move || status_within(form, false));
    let (op_status, op_took) = status_within(op, true);
    let (form_status, form_took) = form.join().expect("the form's peer");
    for (status, took) in [(&op_status, op_took), (&form_status, form_took)] {
        assert!(status.contains(" 408 "), "{status:?} after {took:?}");
        assert!(took >= deadline - Duration::from_secs(2), "{took:?}");
    }
    assert_eq!(
        exchange(
            &mut TcpStream::connect(emu.addr()).expect("connects"),
            &request(&emu)
        ),
        200
    );
}

/// The size of the bodies the body-budget tests hold, and their emulator's body limit.
const HELD_BODY_LIMIT: usize = 16 * 1024;

/// As many connections as the body budget has room for, each sending `head` and then all of
/// a [`HELD_BODY_LIMIT`] body but its last byte; together they leave less than a probe's body.
fn stalled_bodies(addr: std::net::SocketAddr, head: &str) -> Vec<TcpStream> {
    stalled_bodies_to(
        addr,
        "/v1/op/catalog.search",
        &format!("{head}content-type: application/json\r\n"),
    )
}

/// As [`stalled_bodies`], to `path` with the header lines `head`.
fn stalled_bodies_to(addr: std::net::SocketAddr, path: &str, head: &str) -> Vec<TcpStream> {
    (0..geopera_emulator::BODIES_HELD_AT_ONCE)
        .map(|_| {
            let mut hog = TcpStream::connect(addr).expect("connects");
            write!(
                hog,
                "POST {path} HTTP/1.1\r\nhost: {addr}\r\n{head}\
                 content-length: {HELD_BODY_LIMIT}\r\n\r\n{}",
                " ".repeat(HELD_BODY_LIMIT - 1)
            )
            .expect("all of a body but its last byte");
            hog
        })
        .collect()
}

/// A keyed search whose body is larger than what [`stalled_bodies`] leave of the budget.
fn keyed_search(api: &Api) -> crate::common::Resp {
    let body = format!(
        "{}{}",
        json!({"host_name": "earthsearch-aws", "limit": 1}),
        " ".repeat(200)
    );
    crate::common::Resp::read(
        api.http
            .post(api.url("catalog.search"))
            .header("authorization", format!("Bearer {}", api.emu.api_key()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("an answer"),
    )
    .expect("read")
}

/// Request bodies still arriving are held in memory, and the bytes held across every
/// connection are bounded: with the budget taken by keyed callers' bodies that stall just
/// short of their end, another request is 503 problem+json with `Retry-After` rather than one
/// more body held; once their peers go, requests are served again.
#[test]
fn bodies_held_while_they_arrive_are_bounded_in_bytes_across_connections() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .body_limit(HELD_BODY_LIMIT),
    );
    let addr = api.emu.addr();
    let hogs = stalled_bodies(
        addr,
        &format!("authorization: Bearer {}\r\n", api.emu.api_key()),
    );
    let probe = || keyed_search(&api);
    // The held bodies arrive as the server reads them; a few seconds at most.
    let mut refused = None;
    for _ in 0..250 {
        let answer = probe();
        if answer.status == 503 {
            refused = Some(answer);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let refused = refused.expect("a request beyond the budget is refused");
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(refused.header("retry-after"), Some("1"));

    drop(hogs);
    let mut served = None;
    for _ in 0..250 {
        let answer = probe();
        if answer.status != 503 {
            served = Some(answer);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let served = served.expect("served once the held bodies are gone");
    assert_eq!(served.status, 200, "{:?}", served.json());
}

/// A caller refused before its body is needed (no credentials, an unknown key) has none of
/// its body held: with the budget's worth of such bodies stalled just short of their end, a
/// keyed caller is served at once; each of them, once its last byte arrives, reads its 401 on
/// a connection that stays open for the next request.
#[test]
fn bodies_of_callers_refused_before_validation_take_nothing_from_the_budget() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .body_limit(HELD_BODY_LIMIT),
    );
    let addr = api.emu.addr();
    let mut hogs = stalled_bodies(addr, "");
    hogs.extend(stalled_bodies(
        addr,
        "authorization: Bearer gpra_notakeyofthisemulator\r\n",
    ));
    // Give the server time to read what the hogs sent, as the held-body test does.
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        let answer = keyed_search(&api);
        assert_eq!(answer.status, 200, "{:?}", answer.json());
    }
    for at in [0, geopera_emulator::BODIES_HELD_AT_ONCE] {
        assert_eq!(exchange(&mut hogs[at], b" "), 401);
        assert_eq!(exchange(&mut hogs[at], &request(&api.emu)), 200);
    }
}

/// Sign-in forms are read before anyone is known: unfinished ones, as many as would fill the
/// budget of operation bodies, hold none of it.
#[test]
fn unfinished_sign_in_forms_take_nothing_from_the_budget_of_operations() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .body_limit(HELD_BODY_LIMIT),
    );
    let token = format!("{}/protocol/openid-connect/token", geopera_emulator::REALM);
    let _hogs = stalled_bodies_to(
        api.emu.addr(),
        &token,
        "content-type: application/x-www-form-urlencoded\r\n",
    );
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        let answer = keyed_search(&api);
        assert_eq!(answer.status, 200, "{:?}", answer.json());
    }
}

/// A large body sent with a key the emulator does not know is answered 401 problem+json,
/// read whole by the client: closed with the body unread, the connection could be reset
/// before the client reads the answer.
#[test]
fn a_large_body_with_an_unknown_key_gets_its_401() {
    let api = Api::start();
    let padding = " ".repeat(geopera_emulator::DEFAULT_BODY_LIMIT - 1024);
    let body = format!("{}{padding}", json!({"host_name": "earthsearch-aws"}));
    for _ in 0..5 {
        let answer = crate::common::Resp::read(
            api.http
                .post(api.url("catalog.search"))
                .header("authorization", "Bearer gpra_notakeyofthisemulator")
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .expect("an answer, not a reset"),
        )
        .expect("read");
        assert_eq!(answer.status, 401);
        assert_eq!(answer.content_type(), "application/problem+json");
    }
}

/// The search whose NDJSON answer is about 10 MB.
const LARGE_SEARCH: &str = r#"{"host_name":"earthsearch-aws"}"#;

/// A new h2c connection (HTTP/2 with prior knowledge) whose receive windows, per stream and
/// in all, are `window` bytes, opened again only as far as the test releases what it read.
/// The connection itself is driven on its own task, which reads it and answers pings however
/// the streams are read.
async fn h2c(emu: &EmulatorHandle, window: u32) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(emu.addr())
        .await
        .expect("connects");
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(window)
        .initial_connection_window_size(window)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("h2c handshake");
    tokio::spawn(connection);
    client
}

/// Asks `op` over HTTP/2 with `body`, under `fault` when given; the answer's head, its
/// announced length, and its body, none of which the window has been opened for yet.
async fn ask_h2(
    emu: &EmulatorHandle,
    client: h2::client::SendRequest<Bytes>,
    op: &str,
    body: &str,
    fault: Option<&str>,
) -> (http::response::Parts, usize, h2::RecvStream) {
    let mut request = http::Request::post(format!("http://{}/v1/op/{op}", emu.addr()))
        .header("authorization", format!("Bearer {}", emu.api_key()))
        .header("content-type", "application/json");
    if let Some(fault) = fault {
        request = request.header("x-emulator-fault", fault);
    }
    let mut client = client.ready().await.expect("a stream can open");
    let (answer, mut send) = client
        .send_request(request.body(()).expect("a request"), false)
        .expect("request sent");
    send.send_data(Bytes::copy_from_slice(body.as_bytes()), true)
        .expect("body sent");
    let (head, body) = answer.await.expect("an answer head").into_parts();
    let length = head
        .headers
        .get("content-length")
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .expect("content-length");
    (head, length, body)
}

/// Reads the rest of `body`, opening the window again for each piece as it comes.
async fn read_h2(body: &mut h2::RecvStream) -> Result<Vec<u8>, h2::Error> {
    let mut seen = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        body.flow_control().release_capacity(chunk.len())?;
        seen.extend_from_slice(&chunk);
    }
    Ok(seen)
}

/// An HTTP/2 connection with nothing in progress is closed after the idle timeout, though
/// the server's own pings (answered by the client) keep writing to it: counted as activity,
/// they kept it open for ever, and such connections could take every slot.
#[tokio::test]
async fn an_idle_http2_connection_is_closed_though_pings_go_on() {
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(500));
    let tcp = tokio::net::TcpStream::connect(emu.addr())
        .await
        .expect("connects");
    let (client, connection) = h2::client::Builder::new()
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("h2c handshake");
    let connection = tokio::spawn(connection);
    let (head, _, mut body) = ask_h2(&emu, client, "billing.credits.balance", "{}", None).await;
    assert_eq!(head.status, 200);
    read_h2(&mut body).await.expect("the whole answer");
    // Pinged every 250 ms, the connection is idle all the same: closed within a few idle
    // timeouts (at most two after its last answer).
    let closed = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(closed.is_ok(), "the idle connection stayed open");
}

/// A new HTTP/2 connection's answer to one request.
async fn h2_status(emu: &EmulatorHandle) -> u16 {
    let client = h2c(emu, 65_535).await;
    let (head, _, mut body) = ask_h2(emu, client, "billing.credits.balance", "{}", None).await;
    read_h2(&mut body).await.expect("the whole answer");
    head.status.as_u16()
}

/// A client that reads its HTTP/2 connection, and so never lets the socket fill, but never
/// opens a stream's window held the stream's answer and the connection for ever: hyper only
/// waits for the window, with no limit. It is cut off once hyper has waited the idle timeout
/// to ask the answer for more, while other connections are served.
#[tokio::test]
async fn an_http2_client_that_never_opens_a_streams_window_is_cut_off_after_the_idle_timeout() {
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(500));
    let client = h2c(&emu, 65_535).await;
    // Whatever hyper waits on starts after this, so the cut cannot come sooner than the idle
    // timeout after it, however late the test sees the answer's head.
    let started = Instant::now();
    // In ten pieces over a second, so that the answer is still in progress whatever hyper
    // does with a whole one.
    let (head, expected, mut body) = ask_h2(
        &emu,
        client,
        "catalog.search_stream",
        LARGE_SEARCH,
        Some("slow=1s"),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(h2_status(&emu).await, 200, "another connection meanwhile");
    // Takes what the first window lets through and releases none of it.
    let mut seen = 0;
    let ended = tokio::time::timeout(Duration::from_secs(6), async {
        while let Some(chunk) = body.data().await {
            match chunk {
                Ok(chunk) => seen += chunk.len(),
                Err(error) => return Some(error),
            }
        }
        None
    })
    .await;
    let took = started.elapsed();
    let error = ended
        .expect("the stream was ended within 6 s")
        .expect("the stream failed rather than ending whole");
    eprintln!("cut after {took:?} with {seen} of {expected} bytes read: {error}");
    assert!(seen < expected, "{seen} of {expected} bytes");
    assert!(took >= Duration::from_millis(500), "cut after {took:?}");
    assert_eq!(h2_status(&emu).await, 200, "another connection afterwards");
}

/// Reads the large answer over HTTP/2 at most `window` bytes every `pause`, under `fault`
/// when given; the announced length and what arrived.
async fn read_h2_slowly(
    emu: &EmulatorHandle,
    window: u32,
    pause: Duration,
    fault: Option<&str>,
) -> (usize, Vec<u8>) {
    use futures::FutureExt as _;

    let client = h2c(emu, window).await;
    let (head, expected, mut body) =
        ask_h2(emu, client, "catalog.search_stream", LARGE_SEARCH, fault).await;
    assert_eq!(head.status, 200);
    let mut seen = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(pause).await;
        // What has arrived by now, and no more.
        let mut taken = 0;
        while let Some(chunk) = body.data().now_or_never() {
            let Some(chunk) = chunk else {
                return (expected, seen);
            };
            let chunk = chunk.expect("the answer goes on");
            taken += chunk.len();
            seen.extend_from_slice(&chunk);
        }
        body.flow_control()
            .release_capacity(taken)
            .expect("window opened");
    }
    (expected, seen)
}

/// A slow HTTP/2 reader, who opens the window a little at a time but often, is not cut off,
/// though each of hyper's waits for the window is as long as the peer takes to read what it
/// was last handed: an answer handed over as one frame, and one whose source gives it in
/// pieces of about 1 MB (a `slow=` fault of 100 ms), each arrive whole.
#[tokio::test]
async fn an_http2_client_that_reads_slowly_gets_the_whole_of_a_large_answer() {
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(500));
    let started = Instant::now();
    // About 1.3 MB/s each.
    let window = 128 * 1024;
    let pause = Duration::from_millis(100);
    let ((expected, whole), (expected_in_pieces, in_pieces)) = tokio::join!(
        read_h2_slowly(&emu, window, pause, None),
        read_h2_slowly(&emu, window, pause, Some("slow=100ms")),
    );
    let took = started.elapsed();
    eprintln!(
        "read {} and {} bytes in {took:?}",
        whole.len(),
        in_pieces.len()
    );
    assert!(expected > 8_000_000, "a large answer: {expected} bytes");
    assert!(took > Duration::from_secs(5), "read slowly: {took:?}");
    assert_eq!(whole.len(), expected, "the whole answer arrived");
    assert_eq!(expected_in_pieces, expected);
    assert!(in_pieces == whole, "the answer in pieces arrived whole");
}

/// Over HTTP/2 too, an answer whose own source is slow is not a peer that stopped reading:
/// latency before the head and pauses between pieces longer than the idle timeout do not
/// cut it. Both on one connection, so that the first answer's last piece, which hyper never
/// asks past, does not count against the second.
#[tokio::test]
async fn slow_answers_over_http2_are_not_cut() {
    let emu = emulator(Duration::from_secs(30), Duration::from_millis(300));
    let search = json!({"host_name": "earthsearch-aws", "limit": 5}).to_string();
    let client = h2c(&emu, 65_535).await;
    // Ten pauses of 400 ms for the second.
    for fault in ["latency=800ms", "slow=4s"] {
        let (head, expected, mut body) =
            ask_h2(&emu, client.clone(), "catalog.search", &search, Some(fault)).await;
        assert_eq!(head.status, 200, "{fault}");
        let seen = read_h2(&mut body).await.expect("answered in full");
        assert_eq!(seen.len(), expected, "{fault}");
        let answer: serde_json::Value = serde_json::from_slice(&seen).expect("JSON");
        assert_eq!(answer["numberReturned"], 5, "{fault}");
    }
}

/// The first line of what the emulator answers to `request` on a new connection.
fn status_line(emu: &EmulatorHandle, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(emu.addr()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    // The server may answer and close before it has read all of an oversized head.
    let _ = stream.write_all(request);
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !seen.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&seen);
    text.lines().next().unwrap_or_default().to_owned()
}

/// A request head longer than 64 KiB is refused with 431 rather than buffered: each of the
/// thousands of connections allowed could hold about 400 KB of a head it never finished.
#[test]
fn a_request_head_past_64_kib_is_refused_with_431() {
    let emu = emulator(Duration::from_secs(10), Duration::from_secs(60));
    let padded = |pad: usize| {
        let mut head = request(&emu);
        let at = head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        let header = format!("\r\nx-pad: {}", "a".repeat(pad));
        head.splice(at..at, header.into_bytes());
        head
    };
    assert!(status_line(&emu, &padded(200_000)).contains(" 431 "));
    assert!(status_line(&emu, &padded(16_000)).contains(" 200 "));
}

/// An answer the host guard gives (an unknown `Host`) carries the request's id as every
/// other answer does.
#[test]
fn a_refused_host_is_answered_with_the_request_id() {
    let emu = emulator(Duration::from_secs(10), Duration::from_secs(60));
    let mut stream = TcpStream::connect(emu.addr()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout set");
    let request = format!(
        "POST /v1/op/billing.credits.balance HTTP/1.1\r\nhost: evil.example\r\n\
         x-request-id: rid-host-guard\r\nx-api-key: {}\r\ncontent-type: application/json\r\n\
         content-length: 2\r\nconnection: close\r\n\r\n{{}}",
        emu.api_key()
    );
    stream.write_all(request.as_bytes()).expect("written");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("x-request-id: rid-host-guard"),
        "{answer}"
    );
}

/// `Duration::MAX`, a natural way to ask for no timeout, is taken as a year: a connection is
/// served, twice over, where the watchdog's sum overflowed and every connection ended in a
/// panic without an answer.
#[test]
fn timeouts_of_duration_max_serve_connections() {
    let emu = emulator(Duration::MAX, Duration::MAX);
    let mut stream = TcpStream::connect(emu.addr()).expect("connects");
    assert_eq!(exchange(&mut stream, &request(&emu)), 200);
    assert_eq!(exchange(&mut stream, &request(&emu)), 200, "kept alive");
}

/// A sign-in form posted over HTTP/2, which names the host in the request's authority and
/// sends no `Host` header, is taken when its `Origin` is the emulator's own (a browser behind
/// a proxy that speaks h2c upstream), and refused when another site's: the check read the
/// missing `Host` as no host, and took every origin for a foreign one.
#[tokio::test]
async fn a_sign_in_over_http2_from_the_emulators_own_origin_is_taken() {
    let emu = emulator(Duration::from_secs(10), Duration::from_secs(60));
    let form = "grant_type=password&client_id=geopera-cli&username=admin&password=admin-password";
    for (origin, expected) in [
        (format!("http://{}", emu.addr()), 200),
        ("https://evil.example".to_owned(), 403),
    ] {
        let client = h2c(&emu, 1 << 20).await;
        let mut client = client.ready().await.expect("a stream can open");
        let request = http::Request::post(format!(
            "http://{}/realms/public/protocol/openid-connect/token",
            emu.addr()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &origin)
        .body(())
        .expect("a request");
        let (answer, mut send) = client.send_request(request, false).expect("request sent");
        send.send_data(Bytes::from_static(form.as_bytes()), true)
            .expect("body sent");
        let head = answer.await.expect("an answer head");
        assert_eq!(head.status().as_u16(), expected, "{origin}");
    }
}
