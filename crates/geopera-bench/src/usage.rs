//! CPU time and peak memory of the current process, read from `/proc` (Linux only).

use std::time::Duration;

use anyhow::{bail, Context as _};

/// Clock ticks per second of the `utime`/`stime` fields in `/proc/<pid>/stat`. Linux reports
/// them in `USER_HZ`, which is 100 on every architecture it exposes to user space.
const USER_HZ: u64 = 100;

/// User + system CPU time of every thread of this process so far (10 ms resolution).
///
/// # Errors
///
/// `/proc/self/stat` is missing or unreadable (not Linux).
pub fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    parse_stat(&stat)
}

/// The `utime + stime` of a `/proc/<pid>/stat` line.
fn parse_stat(stat: &str) -> anyhow::Result<Duration> {
    // The command name is in parentheses and may hold spaces; the fields after it start with
    // the state (field 3), so utime (field 14) and stime (field 15) are at 11 and 12.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no command name in /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |index: usize| -> anyhow::Result<u64> {
        fields
            .get(index)
            .context("/proc/self/stat is too short")?
            .parse()
            .context("a CPU time in /proc/self/stat is not a number")
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// Time the threads of this process that are alive now spent waiting for a CPU while ready
/// to run (the second field of `/proc/self/task/*/schedstat`): how much other processes on
/// the same core held this one back.
///
/// # Errors
///
/// `/proc/self/task` is missing or unreadable.
pub fn run_queue_wait() -> anyhow::Result<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").context("listing /proc/self/task")? {
        let path = task
            .context("listing /proc/self/task")?
            .path()
            .join("schedstat");
        // A thread may end between listing and reading.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        total += parse_schedstat_wait(&text)?;
    }
    Ok(Duration::from_nanos(total))
}

fn parse_schedstat_wait(text: &str) -> anyhow::Result<u64> {
    text.split_whitespace()
        .nth(1)
        .context("schedstat is too short")?
        .parse()
        .context("the run-queue wait in schedstat is not a number")
}

/// Peak resident set size of this process (`VmHWM`), in MiB.
///
/// # Errors
///
/// `/proc/self/status` is missing or holds no `VmHWM` line.
pub fn peak_rss_mib() -> anyhow::Result<f64> {
    Ok(status_bytes("VmHWM")? as f64 / (1024.0 * 1024.0))
}

/// One memory line of `/proc/self/status` (`VmHWM`, `VmRSS`, ...), in bytes.
///
/// # Errors
///
/// `/proc/self/status` is missing or holds no such line.
pub fn status_bytes(key: &str) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    parse_status_bytes(&status, key)
}

fn parse_status_bytes(status: &str, key: &str) -> anyhow::Result<u64> {
    for line in status.lines() {
        let Some(value) = line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
        else {
            continue;
        };
        let kib: u64 = value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("{key} is not a number of KiB"))?;
        return Ok(kib.saturating_mul(1024));
    }
    bail!("no {key} line in /proc/self/status")
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
