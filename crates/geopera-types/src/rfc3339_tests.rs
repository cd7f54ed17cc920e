//! Unit tests of `rfc3339.rs`.
use super::*;

/// 2025-01-01T00:00:00Z.
const NEW_YEAR_2025: i64 = 1_735_689_600;

#[test]
fn formats_and_parses_round_trip() {
    assert_eq!(format_date_time(NEW_YEAR_2025), "2025-01-01T00:00:00Z");
    assert_eq!(parse_date_time("2025-01-01T00:00:00Z"), Some(NEW_YEAR_2025));
    assert_eq!(parse_full_date("2025-01-01"), Some(NEW_YEAR_2025));
    assert_eq!(
        parse_date_time("2025-01-01T02:00:00.123+02:00"),
        Some(NEW_YEAR_2025)
    );
    assert_eq!(
        parse_date_time("2024-12-31t19:30:00-04:30"),
        Some(NEW_YEAR_2025)
    );
    assert_eq!(format_date_time(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_date_time(-1), "1969-12-31T23:59:59Z");
    for secs in [0, 951_782_400, NEW_YEAR_2025, 253_402_300_799] {
        assert_eq!(parse_date_time(&format_date_time(secs)), Some(secs));
    }
}

#[test]
fn a_leap_second_reads_as_the_next_minute() {
    assert_eq!(parse_date_time("2024-12-31T23:59:60Z"), Some(NEW_YEAR_2025));
}

#[test]
fn anything_else_is_none() {
    for bad in [
        "",
        "2024-13-01",
        "2024-02-30",
        "2024-06-01T12:00:00",
        "2024-06-01 12:00:00Z",
        " 2024-06-01T12:00:00Z",
        "2024-06-01T12:00Z",
        "2024-06-01T12:00:00+0100",
    ] {
        assert_eq!(parse_date_time(bad), None, "{bad}");
    }
    for bad in [
        "",
        "2024-6-01",
        "2024-02-30",
        "2024-06-01T00:00:00Z",
        "garbage!!",
    ] {
        assert_eq!(parse_full_date(bad), None, "{bad}");
    }
}
