//! The crate's example runs to success: it drives the emulator through a whole workflow and a
//! restart, so a change to the emulator's behaviour can break it while it still compiles.
//!
//! `cargo test` builds the examples before it runs any test; this test runs the binary it
//! built, in a process of its own, for a bounded time.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The slowest run takes about a second in a debug build.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Where cargo put the example binaries: `examples/` beside the `deps/` this test runs from.
fn example_binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    test_binary
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in <target>/<profile>/deps")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|e| panic!("the modification time of {}: {e}", path.display()))
}

#[test]
fn the_stateful_workflow_example_runs_to_success() {
    let binary = example_binary("stateful_workflow");
    assert!(
        binary.is_file(),
        "{} is missing: run the tests with `cargo test`, which builds the examples first",
        binary.display()
    );
    // `cargo test --test examples` alone does not rebuild the example.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/stateful_workflow.rs");
    assert!(
        modified(&source) <= modified(&binary),
        "{} is older than its source: `cargo build -p geopera-emulator --examples` first",
        binary.display()
    );
    let output = assert_cmd::Command::new(&binary)
        .timeout(TIME_LIMIT)
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The workflow before the restart, and the job found again after it.
    assert!(stdout.contains("PUT 262144 bytes: 200"), "{stdout}");
    assert!(stdout.contains("after a restart, job of "), "{stdout}");
}
