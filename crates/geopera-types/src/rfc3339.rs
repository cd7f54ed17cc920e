//! RFC 3339 timestamps, read and written by the one implementation the validator and the
//! emulator share.
//!
//! Hand-written rather than taken from a date crate: what is accepted here is exactly what
//! the validator's 422 messages promise (`T`/`Z` in either case, any number of fraction
//! digits, a leap second only as the last second of a minute, `±hh:mm` offsets), which no
//! general-purpose parser reproduces, and it keeps the crate free of further dependencies.
//! The validator refuses, beyond this, what the API's dates cannot hold: year 0000 and leap
//! seconds; and it first respells as RFC 3339 the looser forms the API reads as well (a bare
//! date, no offset, no seconds), so this reader stays strict for what the emulator parses.
//!
//! ```
//! use geopera_types::rfc3339::{format_date_time, parse_date_time, parse_full_date};
//!
//! let noon = parse_date_time("2024-06-01T14:00:00.5+02:00").expect("a date-time");
//! assert_eq!(format_date_time(noon), "2024-06-01T12:00:00Z");
//! assert_eq!(parse_full_date("2024-06-01"), Some(noon - 12 * 3600));
//! assert_eq!(parse_date_time("2024-06-01 12:00:00Z"), None);
//! ```

/// Reads an RFC 3339 `date-time` (`full-date "T" partial-time time-offset`) into Unix
/// seconds, with its offset applied and any fraction of a second dropped; `None` when the
/// text is anything else.
pub fn parse_date_time(text: &str) -> Option<i64> {
    parse_date_time_nanos(text).map(|(seconds, _)| seconds)
}

/// [`parse_date_time`] with the fraction of a second kept, in nanoseconds (digits past the
/// ninth dropped): what compares instants less than a second apart, and tells a bound of
/// `…:00.5Z` from one of `…:00Z`.
///
/// ```
/// use geopera_types::rfc3339::parse_date_time_nanos;
///
/// assert_eq!(parse_date_time_nanos("1970-01-01T00:00:01.25Z"), Some((1, 250_000_000)));
/// assert_eq!(parse_date_time_nanos("1970-01-01T00:00:01Z"), Some((1, 0)));
/// ```
pub fn parse_date_time_nanos(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    let days = days_of(bytes.get(..10)?)?;
    let time = &bytes[11..];
    let (hour, minute, second) = (
        digits(time, 2)?,
        digits(time.get(3..)?, 2)?,
        digits(time.get(6..)?, 2)?,
    );
    // A leap second is only ever the last second of a minute.
    let second_ok = second < 60 || (second == 60 && minute == 59);
    if time[2] != b':' || time[5] != b':' || hour > 23 || minute > 59 || !second_ok {
        return None;
    }
    let mut rest = &time[8..];
    let mut nanos = 0_u32;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        // Nine digits at most, each scaled to its place: `.5` is 500,000,000 ns.
        for place in 0..9 {
            let digit = fraction
                .get(place)
                .filter(|_| place < count)
                .map_or(0, |b| b - b'0');
            nanos = nanos * 10 + u32::from(digit);
        }
        rest = &fraction[count..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), offset @ ..] if offset.len() == 5 && offset[2] == b':' => {
            let (hours, minutes) = (digits(offset, 2)?, digits(&offset[3..], 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let clock = i64::from(hour * 3600 + minute * 60 + second);
    Some((days * 86_400 + clock - offset, nanos))
}

/// `text` respelled as RFC 3339 when it is written in a form the API's date-time parser
/// (pydantic 2) also reads, so that one RFC 3339 reader decides what is a real instant:
/// a bare `YYYY-MM-DD` (its midnight), a space or `_` between date and time, a time without
/// seconds, a comma before the fraction, no offset at all (the API keeps such a time
/// without zone; UTC here, since only validity is asked), and `±hhmm` offsets. `None` when
/// the text cannot be one of those; what is returned may still be no date-time.
pub fn respelled(text: &str) -> Option<String> {
    let date = text.get(..10)?;
    let rest = text.get(10..)?;
    if rest.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let rest = rest.strip_prefix(['T', 't', ' ', '_'])?;
    let clock = rest.get(..5)?;
    let mut rest = rest.get(5..)?;
    let mut seconds = ":00";
    let mut fraction = String::new();
    if let Some(after) = rest.strip_prefix(':') {
        seconds = rest.get(..3)?;
        rest = after.get(2..)?;
        if let Some(digits) = rest.strip_prefix(['.', ',']) {
            let count = digits.bytes().take_while(u8::is_ascii_digit).count();
            fraction = format!(".{}", digits.get(..count)?);
            rest = digits.get(count..)?;
        }
    }
    let offset = match rest.as_bytes() {
        [] => "Z".to_owned(),
        [sign @ (b'+' | b'-'), digits @ ..]
            if digits.len() == 4 && digits.iter().all(u8::is_ascii_digit) =>
        {
            format!(
                "{}{}:{}",
                char::from(*sign),
                rest.get(1..3)?,
                rest.get(3..)?
            )
        }
        // `Z` or `±hh:mm`, which the strict reader checks; anything else here (a fraction
        // after minutes without seconds, `12:00.5Z`) is no time pydantic reads either.
        [b'Z' | b'z' | b'+' | b'-', ..] => rest.to_owned(),
        _ => return None,
    };
    Some(format!("{date}T{clock}{seconds}{fraction}{offset}"))
}

/// The instant of a date-time written in any form the API reads: RFC 3339, or a looser
/// spelling [`respelled`] rewrites (a time without offset taken as UTC). The emulator reads
/// the date-times of request bodies with it, as they passed the input check that allows the
/// same forms; [`parse_date_time`] stays strict for what the emulator itself writes.
pub fn parse_api_date_time(text: &str) -> Option<i64> {
    parse_date_time(text).or_else(|| parse_date_time(&respelled(text)?))
}

/// Reads an RFC 3339 `full-date` (`YYYY-MM-DD`, a day that exists in that month) into the
/// Unix seconds of its midnight UTC; `None` when the text is anything else.
pub fn parse_full_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 {
        return None;
    }
    Some(days_of(bytes)? * 86_400)
}

/// Writes Unix seconds as an RFC 3339 UTC `date-time` without fraction, e.g.
/// `2025-01-01T00:00:00Z`.
pub fn format_date_time(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Reads exactly `width` ASCII digits at the start of `text`.
fn digits(text: &[u8], width: usize) -> Option<u32> {
    let part = text.get(..width)?;
    part.iter().try_fold(0u32, |number, &byte| {
        byte.is_ascii_digit()
            .then(|| number * 10 + u32::from(byte - b'0'))
    })
}

/// Days since 1970-01-01 of the `YYYY-MM-DD` that `bytes` starts with, if that day exists.
fn days_of(bytes: &[u8]) -> Option<i64> {
    let (year, month, day) = (
        digits(bytes, 4)?,
        digits(bytes.get(5..)?, 2)?,
        digits(bytes.get(8..)?, 2)?,
    );
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    Some(days_from_civil(
        i64::from(year),
        i64::from(month),
        i64::from(day),
    ))
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day counted from 1970-01-01: the
/// inverse of the date arithmetic [`parse_date_time`] uses, for callers that group times by
/// calendar month or day.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[path = "rfc3339_tests.rs"]
mod tests;
