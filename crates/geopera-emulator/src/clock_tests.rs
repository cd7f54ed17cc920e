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

/// Moves far enough to pass the end of `i64` stop there; the offset once wrapped round, so
/// a clock moved forward read a time in the past.
#[test]
fn moves_saturate_instead_of_wrapping() {
    let clock = ManualClock::new();
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    assert_eq!(clock.now_millis(), i64::MAX);
    clock.set(DEFAULT_START_UNIX_SECS);
    assert_eq!(clock.now_secs(), DEFAULT_START_UNIX_SECS);
    let latest = clock.now_millis() + 1_000;
    assert!(!clock.advance_until(Duration::from_millis(1_001), latest));
    assert!(clock.advance_until(Duration::from_millis(1_000), latest));
    assert!(!clock.advance_until(Duration::from_millis(1), latest));
    assert_eq!(clock.now_millis(), latest);
}
