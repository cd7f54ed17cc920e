//! Unit tests of `usage.rs`.
use super::*;

#[test]
fn stat_cpu_fields_are_read_after_the_command_name() -> anyhow::Result<()> {
    let line = "123 (bench client) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
    assert_eq!(parse_stat(line)?, Duration::from_secs(3));
    Ok(())
}

#[test]
fn schedstat_wait_is_the_second_field() -> anyhow::Result<()> {
    assert_eq!(parse_schedstat_wait("123456 7890 12\n")?, 7890);
    run_queue_wait()?;
    Ok(())
}

#[test]
fn hwm_is_converted_to_mib() -> anyhow::Result<()> {
    let status = "Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    2048 kB\n";
    assert_eq!(parse_status_bytes(status, "VmHWM")?, 2048 * 1024);
    assert!(parse_status_bytes(status, "VmRSS").is_err());
    Ok(())
}

#[test]
fn this_process_has_cpu_time_and_memory() -> anyhow::Result<()> {
    cpu_time()?;
    assert!(peak_rss_mib()? > 0.0);
    Ok(())
}
