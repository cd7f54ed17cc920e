//! A small HTTP/1.1 server of the tests' own that answers the way a broken or hostile server
//! would: endless or trickled bodies, lying lengths, redirects to another origin. It records
//! what it was sent, so a test can check what left the client.
//!
//! Plain threads and blocking sockets: it serves async and blocking clients alike, and every
//! answer it writes is bounded in time.

use std::io::{BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The longest any one answer is written for, so a test that fails never leaves a writer
/// running.
const WRITE_BOUND: Duration = Duration::from_secs(30);

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server writes back.
pub enum Reply {
    /// These bytes, then the connection closes.
    Raw(Vec<u8>),
    /// This head, then chunks of `chunk` bytes for ever (until the client leaves, or the
    /// write bound).
    Endless { head: String, chunk: Vec<u8> },
    /// This head, then the body one byte at a time, `every` apart.
    Trickle {
        head: String,
        body: Vec<u8>,
        every: Duration,
    },
    /// This head, then `line` `count` times, counting in `written` each line the socket took:
    /// how far the server got shows what the client read ahead of its caller.
    Lines {
        head: String,
        line: Vec<u8>,
        count: usize,
        written: Arc<AtomicUsize>,
    },
}

/// A complete answer with a JSON body.
pub fn json(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    Reply::Raw(format!("{head}\r\n{body}").into_bytes())
}

/// An NDJSON answer of `count` copies of `line` (which ends with its line break), with a
/// length, whose lines the server counts in `written` as the socket takes them.
pub fn counted_lines(line: &[u8], count: usize, written: &Arc<AtomicUsize>) -> Reply {
    Reply::Lines {
        head: format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\n\r\n",
            line.len() * count
        ),
        line: line.to_vec(),
        count,
        written: written.clone(),
    }
}

/// A redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Reply {
    Reply::Raw(
        format!(
            "HTTP/1.1 {status} Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .into_bytes(),
    )
}

/// A chunked answer whose body never ends.
pub fn endless(content_type: &str, chunk: &[u8]) -> Reply {
    Reply::Endless {
        head: format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
        ),
        chunk: chunk.to_vec(),
    }
}

type Answer = dyn Fn(&Seen) -> Reply + Send + Sync;

pub struct Hostile {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    /// Serves on `ip` (`127.0.0.1`, or `127.0.0.2` for a second origin) on a free port.
    pub fn serve(ip: &str, answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind((ip, 0)).expect("a free port on loopback");
        let addr = listener.local_addr().expect("bound");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let answer: Arc<Answer> = Arc::new(answer);
        let (log, stopped) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (log, answer, stopped) = (log.clone(), answer.clone(), stopped.clone());
                thread::spawn(move || serve_connection(stream, &log, &*answer, &stopped));
            }
        });
        Hostile { addr, seen, stop }
    }

    /// `http://ip:port`.
    /// A server on 127.0.0.1 that gives `answer` to its first request and an empty 500 to
    /// any later one.
    pub fn answering_once(answer: Reply) -> Hostile {
        let reply = Mutex::new(Some(answer));
        Hostile::serve("127.0.0.1", move |_| {
            reply
                .lock()
                .expect("not poisoned")
                .take()
                .unwrap_or_else(|| json(500, &[], "{}"))
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve_connection(stream: TcpStream, log: &Mutex<Vec<Seen>>, answer: &Answer, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(reader) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader.take(1 << 20));
    let mut writer = stream;
    loop {
        let Some(seen) = read_request(&mut reader) else {
            return;
        };
        log.lock().expect("not poisoned").push(seen.clone());
        if !write_reply(&mut writer, answer(&seen), stop) {
            return;
        }
    }
}

fn read_request(reader: &mut impl std::io::BufRead) -> Option<Seen> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

/// Writes one answer; `true` when the connection may serve another request.
fn write_reply(writer: &mut TcpStream, reply: Reply, stop: &AtomicBool) -> bool {
    let started = Instant::now();
    let going = || started.elapsed() < WRITE_BOUND && !stop.load(Ordering::SeqCst);
    match reply {
        Reply::Raw(bytes) => {
            let _ = writer.write_all(&bytes);
            let _ = writer.shutdown(Shutdown::Write);
            false
        }
        Reply::Endless { head, chunk } => {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            if writer.write_all(head.as_bytes()).is_err() {
                return false;
            }
            while going() && writer.write_all(&framed).is_ok() {}
            false
        }
        Reply::Trickle { head, body, every } => {
            if writer.write_all(head.as_bytes()).is_err() {
                return false;
            }
            for byte in body {
                if !going() || writer.write_all(&[byte]).is_err() {
                    return false;
                }
                thread::sleep(every);
            }
            false
        }
        Reply::Lines {
            head,
            line,
            count,
            written,
        } => {
            if writer.write_all(head.as_bytes()).is_err() {
                return false;
            }
            for _ in 0..count {
                if !going() || writer.write_all(&line).is_err() {
                    return false;
                }
                written.fetch_add(1, Ordering::SeqCst);
            }
            false
        }
    }
}
