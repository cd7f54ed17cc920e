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
