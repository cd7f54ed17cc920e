//! Unit tests of `usage.rs`.
use super::month_of;

#[test]
fn months_follow_the_calendar() {
    assert_eq!(month_of(0), (1970, 1));
    assert_eq!(month_of(1_735_689_600), (2025, 1)); // 2025-01-01T00:00:00Z
    assert_eq!(month_of(1_735_689_599), (2024, 12));
    assert_eq!(month_of(1_709_164_800), (2024, 2)); // 2024-02-29
    assert_eq!(month_of(-1), (1969, 12));
}
