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
