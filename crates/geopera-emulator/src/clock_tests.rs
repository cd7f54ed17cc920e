//! Unit tests of `clock.rs`.
use super::*;

#[test]
fn retry_after_counts_to_the_window_end() {
    let clock = ManualClock::new();
    assert_eq!(clock.secs_to_minute_end(), 60);
    clock.advance(Duration::from_millis(59_500));
    assert_eq!(clock.secs_to_minute_end(), 1);
    clock.set(DEFAULT_START_UNIX_SECS + 15);
    assert_eq!(clock.secs_to_minute_end(), 45);
}
