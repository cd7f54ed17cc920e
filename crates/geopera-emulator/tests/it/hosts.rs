//! The binary's `--allowed-host` flag.

use std::time::Duration;

#[test]
fn an_allowed_host_that_could_never_match_is_a_usage_error() {
    // A name with a port or a scheme is never equal to a request's host, which is compared
    // without them: the emulator would start and refuse every request by that name.
    for name in ["box:8080", "http://box"] {
        let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_geopera-emulator"))
            .args(["--addr", "127.0.0.1:0", "--allowed-host", name])
            // Past this, it started instead of refusing.
            .timeout(Duration::from_secs(30))
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("--allowed-host"), "{stderr}");
        assert!(stderr.contains(name), "{stderr}");
    }
}

/// Bound to every interface, the binary's banner says so, and names the loopback address its
/// links use beside it: the links' address alone read as a server no other machine reaches.
#[test]
fn the_banner_of_an_emulator_on_every_interface_says_so() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};

    let mut emulator = Command::new(env!("CARGO_BIN_EXE_geopera-emulator"))
        .args(["--addr", "0.0.0.0:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator binary starts");
    let first = BufReader::new(emulator.stdout.take().expect("its output"))
        .lines()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(
        first.starts_with("Geopera emulator listening on 0.0.0.0:"),
        "{first}"
    );
    assert!(
        first.contains("(every interface); links name http://127.0.0.1:"),
        "{first}"
    );
}

/// The binary `sh -c 'LIMITS; exec geopera-emulator --addr 127.0.0.1:0'`, its output read up
/// to its banner, and the process still running.
#[cfg(target_os = "linux")]
fn started_under(limits: &str) -> (std::process::Child, Vec<String>) {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};

    let mut emulator = Command::new("sh")
        .args(["-c", &format!("{limits} && exec \"$0\" --addr 127.0.0.1:0")])
        .arg(env!("CARGO_BIN_EXE_geopera-emulator"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator binary starts");
    let mut lines = Vec::new();
    for line in BufReader::new(emulator.stdout.take().expect("its output")).lines() {
        let Ok(line) = line else { break };
        let banner = line.starts_with("Geopera emulator listening on");
        lines.push(line);
        if banner || lines.len() > 50 {
            break;
        }
    }
    (emulator, lines)
}

/// The soft and hard open-file limits of the process `pid`.
#[cfg(target_os = "linux")]
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("its limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a line for open files");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

/// Started at a soft open-file limit below its connection cap (as many shells start programs,
/// at 1,024), the binary raises it as far as the cap needs: past the limit, idle connections
/// of anyone would leave it no descriptor for its state file or webhook deliveries.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_raises_its_open_file_limit_for_its_connections() {
    let (mut emulator, lines) = started_under("ulimit -Sn 300");
    let (soft, hard) = open_file_limits(emulator.id());
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(
        lines.last().is_some_and(|l| l.contains("listening")),
        "{lines:?}"
    );
    // The default cap, 10,000, and 256 for the emulator's own files.
    assert_eq!(soft, hard.min(10_256), "{lines:?}");
}

/// Where even the hard limit has no room for the cap, the cap is lowered to fit and the
/// binary says so.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_lowers_its_connection_cap_to_its_open_file_limit() {
    let (mut emulator, lines) = started_under("ulimit -n 400");
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("serving at most 144 at once")),
        "{lines:?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("listening")),
        "{lines:?}"
    );
}
