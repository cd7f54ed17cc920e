//! A 50 MB upload keeps the client's peak memory under 64 MiB, async and blocking: the upload
//! streams from the file in bounded chunks rather than reading it whole.
//!
//! The measuring binary runs the client in a child process of its own, so the peak is the
//! client's and not the emulator's; it reads Linux's `VmHWM`, hence Linux only.

#![cfg(target_os = "linux")]

use std::process::Command;

/// Runs one measured upload and returns the peak the client reached, in MiB.
fn peak_mib(extra: &[&str]) -> f64 {
    let output = Command::new(env!("CARGO_BIN_EXE_bench-upload-memory"))
        .args(["--mb", "50", "--limit-mib", "64"])
        .args(extra)
        .output()
        .expect("the measuring binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the upload failed or passed 64 MiB: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .expect("one JSON line");
    line["peak_rss_mib"].as_f64().expect("a peak")
}

#[test]
fn a_50_mb_upload_stays_under_64_mib_async_and_blocking() {
    for mode in [&[][..], &["--blocking"][..]] {
        let peak = peak_mib(mode);
        assert!(peak > 0.0 && peak < 64.0, "{mode:?}: {peak} MiB");
    }
}
