//! What a careless or hostile Redis does to calls on a [`RedisBudget`]: a Redis of the test's
//! own, a listener on loopback speaking just enough of Redis's protocol (RESP) to answer what
//! the budget sends (AUTH or HELLO, SELECT, CLIENT SETINFO, EVALSHA, EVAL, and SCRIPT LOAD,
//! which the tests check it does not send), and then answering the scripts wrongly: errors,
//! replies of the wrong type, absurd numbers, length headers of gigabytes, silence, a byte a
//! second, a connection closed mid-reply.
//!
//! The budget never fails a call (see [`geopera::budget::Budget`]): whatever Redis does, a
//! reservation ends within the budget's timeout and the call is paced on the local budget
//! instead, with the outage logged once and never the Redis password. No redis-server is
//! needed: these run wherever the `redis` feature is on.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use geopera::budget::{Budget as _, RedisBudget, Reservation};
use geopera::models::CatalogSearchInput;
use geopera::{AuthenticatedClient, RateClass};
use geopera_emulator::{Emulator, EmulatorHandle};

use super::captured::Captured;
use super::{HOST, LOADED_MACHINE};

/// The Redis password of every test here: never in a message, a `Debug` or the log.
const SECRET: &str = "s3cret-redis-pw";

/// How long the budgets of the tests of a stalled Redis wait for it.
const PATIENCE: Duration = Duration::from_millis(250);

/// How long a reservation may take on a stalled Redis: the timeout and a generous margin for a
/// loaded machine, far less than any stall here would take if it were waited out.
const BOUND: Duration = Duration::from_secs(3);

/// What the server does with one command.
enum Answer {
    /// These bytes, at once.
    Reply(Vec<u8>),
    /// These bytes, then the connection is closed.
    ReplyThenClose(Vec<u8>),
    /// These bytes, one a second: a reply of ten bytes takes ten seconds.
    Drip(Vec<u8>),
    /// These bytes, after this long.
    Late(Duration, Vec<u8>),
    /// Nothing, ever: the connection stays open until the client closes it.
    Silence,
    /// `head`, then up to `bytes` bytes of filler, as fast as the client takes them; how many
    /// it took is reported when it hangs up or all were sent.
    Flood { head: &'static [u8], bytes: usize },
}

fn reply(bytes: &[u8]) -> Answer {
    Answer::Reply(bytes.to_vec())
}

/// The command's name, upper case.
fn name(command: &[String]) -> String {
    command
        .first()
        .map(|n| n.to_ascii_uppercase())
        .unwrap_or_default()
}

/// Whether `command` runs a script.
fn is_script(command: &[String]) -> bool {
    matches!(name(command).as_str(), "EVALSHA" | "EVAL")
}

/// What a Redis that knows its job answers to the commands that open a connection and load a
/// script; `None` for the scripts themselves.
fn polite(command: &[String]) -> Option<Answer> {
    let name = name(command);
    let sub = command.get(1).map(|s| s.to_ascii_uppercase());
    match (name.as_str(), sub.as_deref()) {
        ("AUTH" | "SELECT" | "CLIENT", _) => Some(reply(b"+OK\r\n")),
        ("PING", _) => Some(reply(b"+PONG\r\n")),
        ("HELLO", _) => Some(reply(
            b"%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n\
              $5\r\nproto\r\n:3\r\n",
        )),
        ("SCRIPT", Some("LOAD")) => {
            let sha = "0".repeat(40);
            Some(Answer::Reply(format!("$40\r\n{sha}\r\n").into_bytes()))
        }
        ("EVALSHA" | "EVAL", _) => None,
        _ => Some(reply(b"-ERR unknown command\r\n")),
    }
}

/// A Redis of the test's own on 127.0.0.1, answering each command as `script` says; stops
/// taking connections when dropped (a connection's thread ends when the client closes it).
struct HostileRedis {
    port: u16,
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    flooded: Mutex<mpsc::Receiver<usize>>,
    stop: Arc<AtomicBool>,
}

impl HostileRedis {
    fn start(script: impl Fn(&[String]) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (flood_done, flooded) = mpsc::channel();
        let script = Arc::new(script);
        let (seen_by_server, stopped) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (script, seen, flood_done) =
                    (script.clone(), seen_by_server.clone(), flood_done.clone());
                std::thread::spawn(move || serve(stream, &*script, &seen, &flood_done));
            }
        });
        HostileRedis {
            port,
            seen,
            flooded: Mutex::new(flooded),
            stop,
        }
    }

    /// Answers every script with `answer` (made afresh each time), and everything else
    /// politely.
    fn scripts(answer: impl Fn() -> Answer + Send + Sync + 'static) -> Self {
        Self::start(move |command| polite(command).unwrap_or_else(&answer))
    }

    /// The URL of this Redis with [`SECRET`] as its password.
    fn url(&self) -> String {
        format!("redis://:{SECRET}@127.0.0.1:{}/", self.port)
    }

    /// The commands received so far, each as its words.
    fn seen(&self) -> Vec<Vec<String>> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many bytes of a flood the client took before it hung up, waiting at most `within`.
    fn flooded(&self, within: Duration) -> Option<usize> {
        self.flooded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv_timeout(within)
            .ok()
    }
}

impl Drop for HostileRedis {
    fn drop(&mut self) {
        // The accept loop sees the flag on the next connection: make one.
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one command (an array of bulk strings); `None` when the client closed the
/// connection or sent something that is not a command.
fn read_command(reader: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let line = |reader: &mut BufReader<TcpStream>| -> Option<String> {
        let mut line = String::new();
        let read = reader.by_ref().take(1024).read_line(&mut line).ok()?;
        (read > 0).then(|| line.trim_end().to_owned())
    };
    let count: usize = line(reader)?.strip_prefix('*')?.parse().ok()?;
    if count > 64 {
        return None;
    }
    let mut words = Vec::with_capacity(count);
    for _ in 0..count {
        let len: usize = line(reader)?.strip_prefix('$')?.parse().ok()?;
        if len > 1 << 16 {
            return None;
        }
        let mut word = vec![0; len + 2];
        reader.read_exact(&mut word).ok()?;
        word.truncate(len);
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    Some(words)
}

fn serve(
    stream: TcpStream,
    script: &(dyn Fn(&[String]) -> Answer + Send + Sync),
    seen: &Mutex<Vec<Vec<String>>>,
    flood_done: &mpsc::Sender<usize>,
) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Some(command) = read_command(&mut reader) {
        let answer = script(&command);
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(command);
        let written = match answer {
            Answer::Reply(bytes) => writer.write_all(&bytes),
            Answer::ReplyThenClose(bytes) => {
                let _ = writer.write_all(&bytes);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Answer::Drip(bytes) => {
                // The pace of the drip is what is tested, not a wait for something to happen.
                for byte in bytes {
                    if writer.write_all(&[byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                Ok(())
            }
            Answer::Late(after, bytes) => {
                std::thread::sleep(after);
                writer.write_all(&bytes)
            }
            Answer::Silence => Ok(()),
            Answer::Flood { head, bytes } => {
                let _ = writer.write_all(head);
                let chunk = vec![b'x'; 64 << 10];
                let mut sent = 0;
                while sent < bytes {
                    let n = chunk.len().min(bytes - sent);
                    match writer.write(&chunk[..n]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sent += n,
                    }
                }
                let _ = flood_done.send(sent);
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A budget on `redis`, waiting `timeout` for it.
fn budget_on(redis: &HostileRedis, timeout: Duration) -> RedisBudget {
    RedisBudget::builder(redis.url(), "org_hostile")
        .timeout(timeout)
        .build()
        .expect("a budget")
}

/// Panics on the budget's I/O thread so far. Such a panic is caught
/// (the reservation goes on without Redis), but it prints, and aborts a program built with
/// `panic = "abort"`: what Redis answers must never cause one.
fn io_thread_panics() -> usize {
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    static COUNTING: Once = Once::new();
    COUNTING.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("geopera-budget-io") {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            report(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}

/// Reserves one call on `budget`, checking that the answer came within [`BOUND`] and that
/// nothing panicked on the way.
fn reserve(runtime: &tokio::runtime::Runtime, budget: &RedisBudget) -> Reservation {
    let panics = io_thread_panics();
    let started = Instant::now();
    let answer = runtime.block_on(async {
        tokio::time::timeout(BOUND * 4, budget.reserve(RateClass::Default))
            .await
            .expect("the reservation ends")
    });
    let took = started.elapsed();
    assert!(took < BOUND, "the reservation took {took:?}");
    assert_eq!(
        io_thread_panics(),
        panics,
        "the budget's I/O thread panicked"
    );
    answer
}

/// Neither the budget's `Debug` nor what was logged shows the password.
fn assert_no_secret(budget: &RedisBudget, log: &Captured) {
    let shown = format!("{budget:?} {budget:#?}");
    assert!(!shown.contains(SECRET), "{shown}");
    let log = log.text();
    assert!(
        !log.contains(SECRET),
        "the password was logged: {}",
        log.chars().take(2_000).collect::<String>()
    );
}

/// A subscriber for this thread that keeps what the budget logs.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// Replies to a reservation that are not an answer the script can give (an error, another
/// type, a number out of range) are Redis failing: the call is paced on the local budget at
/// once, and the budget says it is no longer shared.
#[test]
fn a_reservation_answered_wrongly_is_paced_on_the_local_budget() {
    let cases: &[(&str, &'static [u8])] = &[
        ("an error", b"-ERR something broke\r\n"),
        (
            "still loading",
            b"-LOADING Redis is loading the dataset in memory\r\n",
        ),
        (
            "read-only",
            b"-READONLY You can't write against a read only replica.\r\n",
        ),
        ("busy", b"-BUSY Redis is busy running a script\r\n"),
        ("an error of no known code", b"-WHATEVER\r\n"),
        ("an empty error", b"-\r\n"),
        ("a status", b"+OK\r\n"),
        ("a word", b"$5\r\nhello\r\n"),
        ("nil", b"$-1\r\n"),
        ("an empty array", b"*0\r\n"),
        ("an array of one", b"*1\r\n:0\r\n"),
        ("an array of two", b"*2\r\n:0\r\n:0\r\n"),
        ("a nil array", b"*-1\r\n"),
        ("a negative number", b":-1\r\n"),
        ("the least number", b":-9223372036854775808\r\n"),
        ("the greatest number", b":9223372036854775807\r\n"),
        ("a number past 64 bits", b":99999999999999999999999\r\n"),
        ("a wait past an hour", b":3600001\r\n"),
        ("a number that is not one", b":12ab\r\n"),
        ("a RESP3 null", b"_\r\n"),
        ("a RESP3 boolean", b"#t\r\n"),
        ("a RESP3 map", b"%1\r\n:0\r\n:0\r\n"),
        ("a RESP3 infinity", b",inf\r\n"),
        ("bytes that are not RESP", b"hello there\r\n"),
    ];
    paced_locally(cases);
}

/// Reserves a call on a Redis answering each of `cases` in turn, and checks that it was paced
/// on the local budget after the script ran.
fn paced_locally(cases: &[(&str, &'static [u8])]) {
    let runtime = runtime();
    for (what, bytes) in cases {
        let bytes = *bytes;
        let redis = HostileRedis::scripts(move || reply(bytes));
        let budget = budget_on(&redis, LOADED_MACHINE);
        let answer = reserve(&runtime, &budget);
        assert_eq!(
            answer,
            Reservation::Granted,
            "{what}: the local budget grants"
        );
        assert!(!budget.is_shared(), "{what}: the budget knows Redis failed");
        assert!(
            redis.seen().iter().any(|c| is_script(c)),
            "{what}: the script was run"
        );
    }
}

/// The script answers an integer, always: a double or a number written as a string is not
/// its answer, and a NaN or negative double is no grant.
#[test]
fn a_reservation_answered_with_a_number_of_another_type_is_paced_locally() {
    paced_locally(&[
        ("a RESP3 NaN", b",nan\r\n"),
        ("a RESP3 negative double", b",-1.5\r\n"),
        ("a RESP3 zero double", b",0\r\n"),
        ("a RESP3 wait as a double", b",250.7\r\n"),
        ("a zero as a word", b"$1\r\n0\r\n"),
        ("a zero as a status", b"+0\r\n"),
        ("a wait as a word", b"$3\r\n250\r\n"),
    ]);
}

/// A Redis without the budget's scripts (restarted, flushed, a new replica) is given them
/// with EVAL, which also keeps them for the EVALSHA after: the budget asks no SCRIPT LOAD,
/// whose answer (here another digest, as a careless Redis may give) the Redis client checks
/// by panicking in debug builds.
#[test]
fn a_redis_without_the_scripts_is_given_them_with_eval() {
    let kept = Arc::new(AtomicBool::new(false));
    let redis = HostileRedis::start(move |c| match name(c).as_str() {
        "EVALSHA" if !kept.load(Ordering::SeqCst) => {
            reply(b"-NOSCRIPT No matching script. Please use EVAL.\r\n")
        }
        "EVAL" => {
            kept.store(true, Ordering::SeqCst);
            reply(b":0\r\n")
        }
        "SCRIPT" => reply(b"$40\r\n0123456789012345678901234567890123456789\r\n"),
        _ => polite(c).unwrap_or_else(|| reply(b":0\r\n")),
    });
    let budget = budget_on(&redis, LOADED_MACHINE);
    let runtime = runtime();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert!(budget.is_shared(), "Redis answered");
    let seen = redis.seen();
    let scripts: Vec<String> = seen
        .iter()
        .filter(|c| is_script(c) || name(c) == "SCRIPT")
        .map(|c| name(c))
        .collect();
    assert_eq!(scripts, ["EVALSHA", "EVAL", "EVALSHA"]);
    let eval = seen.iter().find(|c| name(c) == "EVAL").expect("an EVAL");
    assert!(
        eval.get(1)
            .is_some_and(|body| body.contains("redis.call('TIME')")),
        "{eval:?}"
    );
}

/// A Redis that keeps no script (NOSCRIPT even to EVAL) costs one EVALSHA and one EVAL, then
/// the local budget: no loop of loads, no panic.
#[test]
fn a_redis_that_keeps_no_script_costs_one_eval_then_the_local_budget() {
    let redis = HostileRedis::start(|c| match name(c).as_str() {
        "SCRIPT" => reply(b"$40\r\n0123456789012345678901234567890123456789\r\n"),
        _ => polite(c).unwrap_or_else(|| reply(b"-NOSCRIPT No matching script.\r\n")),
    });
    let budget = budget_on(&redis, LOADED_MACHINE);
    let runtime = runtime();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert!(!budget.is_shared());
    let scripts: Vec<String> = redis
        .seen()
        .iter()
        .filter(|c| is_script(c) || name(c) == "SCRIPT")
        .map(|c| name(c))
        .collect();
    assert_eq!(scripts, ["EVALSHA", "EVAL"]);
}

/// The answers the script can give are taken as given, an hour's hold included: the checks
/// above do not refuse what a working Redis says.
#[test]
fn a_reservation_answered_rightly_is_taken_as_answered() {
    let runtime = runtime();
    let cases: &[(&[u8], Reservation)] = &[
        (b":0\r\n", Reservation::Granted),
        (b":250\r\n", Reservation::Wait(Duration::from_millis(250))),
        (
            b":3600000\r\n",
            Reservation::Wait(Duration::from_secs(3600)),
        ),
    ];
    for (bytes, expected) in cases {
        let bytes = bytes.to_vec();
        let redis = HostileRedis::scripts(move || Answer::Reply(bytes.clone()));
        let budget = budget_on(&redis, LOADED_MACHINE);
        assert_eq!(reserve(&runtime, &budget), *expected);
        assert!(budget.is_shared(), "{expected:?}");
    }
}

/// Redis that stalls anywhere in the conversation (before the handshake's answer, before the
/// script's, a byte a second, a length header of gigabytes and nothing after it, a reply cut
/// by a closed connection) costs a call one timeout, then the call goes ahead on the local
/// budget; nothing logged or shown holds the password.
#[test]
fn a_redis_that_stalls_or_hangs_up_costs_a_call_one_timeout() {
    type Script = fn(&[String]) -> Answer;
    let cases: &[(&str, Script)] = &[
        ("silent from the start", |_| Answer::Silence),
        ("silent after AUTH", |c| match name(c).as_str() {
            "AUTH" => Answer::Silence,
            _ => polite(c).unwrap_or(Answer::Silence),
        }),
        ("silent on the script", |c| {
            polite(c).unwrap_or(Answer::Silence)
        }),
        ("a byte a second", |c| {
            polite(c).unwrap_or_else(|| Answer::Drip(b":0\r\n".repeat(3)))
        }),
        ("a bulk string of ten gigabytes, never sent", |c| {
            polite(c).unwrap_or_else(|| reply(b"$9999999999\r\n"))
        }),
        ("an array of two billion, never sent", |c| {
            polite(c).unwrap_or_else(|| reply(b"*2147483647\r\n"))
        }),
        ("a map of a billion pairs, never sent", |c| {
            polite(c).unwrap_or_else(|| reply(b"%1073741823\r\n"))
        }),
        ("a number without its line's end", |c| {
            polite(c).unwrap_or_else(|| reply(b":12"))
        }),
        ("closed before the script's answer", |c| {
            polite(c).unwrap_or_else(|| Answer::ReplyThenClose(Vec::new()))
        }),
        ("closed mid-reply", |c| {
            polite(c).unwrap_or_else(|| Answer::ReplyThenClose(b"$10\r\nhal".to_vec()))
        }),
        ("closed mid-number", |c| {
            polite(c).unwrap_or_else(|| Answer::ReplyThenClose(b":1".to_vec()))
        }),
        ("closed during the handshake", |c| match name(c).as_str() {
            "AUTH" => Answer::ReplyThenClose(b"+O".to_vec()),
            _ => polite(c).unwrap_or(Answer::Silence),
        }),
    ];
    let emu = Emulator::builder().start().expect("the emulator starts");
    let runtime = runtime();
    for (what, script) in cases {
        let redis = HostileRedis::start(script);
        let budget = budget_on(&redis, PATIENCE);
        let (log, _guard) = capture();
        let took = call(&runtime, &emu, &budget);
        assert!(took < BOUND, "{what}: the call took {took:?}");
        assert!(!budget.is_shared(), "{what}: the budget knows Redis failed");
        assert_no_secret(&budget, &log);
    }
    assert_eq!(emu.executed("catalog.search"), cases.len() as u64);
}

/// One search through a client on `budget`, which must succeed; returns how long it took.
fn call(runtime: &tokio::runtime::Runtime, emu: &EmulatorHandle, budget: &RedisBudget) -> Duration {
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .budget(Arc::new(budget.clone()))
        .build()
        .expect("a client");
    let panics = io_thread_panics();
    let started = Instant::now();
    runtime.block_on(async {
        let input = CatalogSearchInput::new(HOST).limit(1);
        tokio::time::timeout(
            BOUND * 4,
            geopera::operations::catalog_search::send(&client, input),
        )
        .await
        .expect("the call does not hang on Redis")
        .expect("the call goes ahead on the local budget");
    });
    let took = started.elapsed();
    assert_eq!(
        io_thread_panics(),
        panics,
        "the budget's I/O thread panicked"
    );
    took
}

/// A length header of gigabytes followed by as many bytes as the client will take: the budget
/// reads no more of a reply than an answer of its scripts could need, so what a hostile Redis
/// sends does not pile up in memory until the timeout.
#[test]
fn a_reply_of_gigabytes_is_not_read_into_memory() {
    let redis = HostileRedis::scripts(|| Answer::Flood {
        head: b"$9999999999\r\n",
        bytes: 256 << 20,
    });
    // Patient, so that a budget reading everything would have the time to.
    let budget = budget_on(&redis, Duration::from_secs(2));
    let runtime = runtime();
    let started = Instant::now();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert!(!budget.is_shared());
    let taken = redis
        .flooded(Duration::from_secs(5))
        .expect("the client hangs up");
    assert!(
        taken < 16 << 20,
        "the budget took {} MiB of one reply in {:?}",
        taken >> 20,
        started.elapsed()
    );
}

/// A Redis answering with an error that quotes the password (as Redis 7 does for a command it
/// does not know: "unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'default'
/// '<password>'", when HELLO is renamed away) does not get it into the log.
#[test]
fn an_error_quoting_the_password_does_not_log_it() {
    let echo = |command: &[String]| {
        let args: Vec<String> = command.iter().skip(1).map(|a| format!("'{a}'")).collect();
        Answer::Reply(
            format!(
                "-ERR unknown command '{}', with args beginning with: {}\r\n",
                command.first().map_or("", String::as_str),
                args.join(" ")
            )
            .into_bytes(),
        )
    };
    let runtime = runtime();
    // RESP3, as the URL may ask: the password goes in HELLO.
    let redis = HostileRedis::start(move |c| match name(c).as_str() {
        "HELLO" => echo(c),
        _ => polite(c).unwrap_or_else(|| reply(b":0\r\n")),
    });
    let budget = RedisBudget::builder(format!("{}?protocol=resp3", redis.url()), "org_echo")
        .timeout(LOADED_MACHINE)
        .build()
        .expect("a budget");
    let (log, guard) = capture();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert!(!budget.is_shared());
    assert!(
        redis.seen().iter().any(|c| c.iter().any(|w| w == SECRET)),
        "the password was sent, in HELLO"
    );
    assert_no_secret(&budget, &log);
    drop(guard);

    // An error to the script that quotes it back.
    let redis = HostileRedis::scripts(|| {
        Answer::Reply(format!("-ERR invalid password '{SECRET}' for this script\r\n").into_bytes())
    });
    let budget = budget_on(&redis, LOADED_MACHINE);
    let (log, _guard) = capture();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert!(!budget.is_shared());
    assert_no_secret(&budget, &log);
}

/// Redis's words in the log are shown as the SDK shows a server's words: a bounded excerpt,
/// with the characters that would steer a terminal escaped.
#[test]
fn redis_words_in_the_log_are_bounded_and_inert() {
    let runtime = runtime();
    let long = format!("-ERR \x1b]0;owned\x07\x1b[2J{}\r\n", "a".repeat(10_000));
    let redis = HostileRedis::scripts(move || Answer::Reply(long.clone().into_bytes()));
    let budget = budget_on(&redis, LOADED_MACHINE);
    let (log, _guard) = capture();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    assert!(!budget.is_shared());
    let log = log.text();
    let start: String = log.chars().take(300).collect();
    assert!(log.contains("shared rate budget unreachable"), "{start:?}");
    assert!(log.len() < 4_000, "{} bytes logged: {start:?}…", log.len());
    assert!(!log.contains('\x1b') && !log.contains('\x07'), "{log:?}");
    assert!(log.contains("\\u{1b}]0;owned"), "{log:?}");
}

/// A Redis URL with a password that does not parse is refused without quoting the password.
#[test]
fn a_bad_redis_url_is_refused_without_its_password() {
    for url in [
        format!("redis://:{SECRET}@127.0.0.1:notaport/"),
        format!("redis://:{SECRET}@127.0.0.1:6379/notadb"),
        format!("redis://:{SECRET}@127.0.0.1:99999/"),
        format!("rediss://:{SECRET}@127.0.0.1:6379/#insecure"),
        format!("http://:{SECRET}@127.0.0.1:6379/"),
        format!("redis://:{SECRET}@[::1/"),
        format!("redis://:{SECRET}@127.0.0.1:6379/?protocol=9"),
    ] {
        let builder = RedisBudget::builder(url.clone(), "org_url");
        let shown = format!("{builder:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        let error = builder.build().expect_err(&url);
        assert_eq!(error.kind(), geopera::ErrorKind::Config, "{error}");
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(SECRET), "{url}: {shown}");
    }
}

/// A Redis that holds every class for most of an hour (a hold it may rightly ask for) keeps a
/// call waiting, and a caller's deadline ends it as a timeout, within the deadline.
#[test]
fn a_long_hold_on_redis_ends_at_the_callers_deadline() {
    let redis = HostileRedis::scripts(|| reply(b":3599999\r\n"));
    let budget = budget_on(&redis, LOADED_MACHINE);
    let emu = Emulator::builder().start().expect("the emulator starts");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .budget(Arc::new(budget.clone()))
        .deadline(Duration::from_millis(500))
        .build()
        .expect("a client");
    let started = Instant::now();
    let error = runtime()
        .block_on(async {
            let input = CatalogSearchInput::new(HOST).limit(1);
            tokio::time::timeout(
                BOUND * 4,
                geopera::operations::catalog_search::send(&client, input),
            )
            .await
            .expect("the deadline ends the call")
        })
        .expect_err("held past the deadline");
    let took = started.elapsed();
    assert!(error.is_timeout(), "{error:?}");
    assert!(took < BOUND, "{took:?}");
    assert!(budget.is_shared(), "Redis answered");
    assert_eq!(emu.executed("catalog.search"), 0);
}

/// A 429 told to a Redis that never answers is told in the background: `limited` returns
/// before Redis could have answered, and the reservation after it ends within the bound, held
/// no longer than the 429 asked.
#[test]
fn a_429_told_to_a_silent_redis_holds_no_call_longer_than_asked() {
    let redis = HostileRedis::scripts(|| Answer::Silence);
    let budget = budget_on(&redis, PATIENCE);
    let runtime = runtime();
    let started = Instant::now();
    runtime.block_on(budget.limited(RateClass::Default, Duration::from_millis(10)));
    let took = started.elapsed();
    assert!(took < PATIENCE, "{took:?}");
    match reserve(&runtime, &budget) {
        Reservation::Granted => {}
        Reservation::Wait(wait) => assert!(wait <= Duration::from_millis(10), "{wait:?}"),
        other => panic!("{other:?}"),
    }
}

/// A 429 told to a Redis that never answers it leaves no wedged connection behind, even when
/// the report's time ran out while the connection was being made (so the Redis client's own
/// wait for the answer had not run out yet): once Redis is tried again, the next reservation
/// goes on a fresh connection and is answered at once, instead of being handed the answer
/// still owed to the report, or waiting behind it.
#[test]
fn a_429_report_that_timed_out_leaves_no_wedged_connection() {
    // A handshake that takes a third of the budget's patience, so the report's time runs out
    // a third of the way into the Redis client's own wait; the report of a 429 names one key,
    // a reservation two.
    let patience = Duration::from_millis(900);
    let redis = HostileRedis::start(move |c| match name(c).as_str() {
        "AUTH" | "HELLO" => Answer::Late(patience / 3, b"+OK\r\n".to_vec()),
        _ => polite(c).unwrap_or_else(|| match c.get(2).map(String::as_str) {
            Some("1") => Answer::Silence,
            _ => reply(b":0\r\n"),
        }),
    });
    let rest = Duration::from_millis(20);
    let budget = RedisBudget::builder(redis.url(), "org_hostile")
        .timeout(patience)
        .reconnect_after(rest)
        .build()
        .expect("a budget");
    let runtime = runtime();
    runtime.block_on(budget.limited(RateClass::Default, Duration::from_millis(1)));
    // The report is sent in the background and times out there.
    let started = Instant::now();
    while budget.is_shared() {
        assert!(started.elapsed() < BOUND, "the report never timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(rest * 3);
    let started = Instant::now();
    assert_eq!(reserve(&runtime, &budget), Reservation::Granted);
    let took = started.elapsed();
    assert!(
        budget.is_shared(),
        "the reservation after the rest was answered by Redis (it took {took:?}): {:?}",
        redis.seen()
    );
}
