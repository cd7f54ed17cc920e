//! The emulator's one source of time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2025-01-01T00:00:00Z, where a new [`ManualClock`] starts: on a minute boundary, so a test
/// knows it is at the start of a rate-limit window.
pub const DEFAULT_START_UNIX_SECS: i64 = 1_735_689_600;

/// The clock every time-dependent rule of the emulator reads: rate-limit windows, order
/// progress, key expiry and idempotency retention.
///
/// A clock is either frozen (the default: it moves only when [`advance`](Self::advance) or
/// [`set`](Self::set) is called) or [`system`](Self::system) (it follows the wall clock, plus
/// whatever was added with `advance`). Clones share the same time, so a test keeps one and
/// hands another to the emulator.
///
/// ```
/// use std::time::Duration;
/// use geopera_emulator::ManualClock;
///
/// let clock = ManualClock::new();
/// let before = clock.now_millis();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now_millis() - before, 90_000);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Milliseconds added to the base.
    offset_ms: AtomicI64,
    /// Whether time follows the wall clock (otherwise it stays at `base_ms`).
    ticking: bool,
    /// The frozen base time, in Unix milliseconds.
    base_ms: i64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A frozen clock at [`DEFAULT_START_UNIX_SECS`].
    pub fn new() -> Self {
        Self::starting_at(DEFAULT_START_UNIX_SECS)
    }

    /// A frozen clock at the given Unix time in seconds.
    pub fn starting_at(unix_secs: i64) -> Self {
        ManualClock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                ticking: false,
                base_ms: unix_secs.saturating_mul(1000),
            }),
        }
    }

    /// A clock that follows the wall clock; [`advance`](Self::advance) still moves it ahead.
    pub fn system() -> Self {
        ManualClock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                ticking: true,
                base_ms: 0,
            }),
        }
    }

    /// The current time in Unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        let base = if self.inner.ticking {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
                })
        } else {
            self.inner.base_ms
        };
        base.saturating_add(self.inner.offset_ms.load(Ordering::SeqCst))
    }

    /// The current time in whole Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.inner.offset_ms.fetch_add(millis, Ordering::SeqCst);
    }

    /// Moves the clock to the given Unix time in seconds (forward or backward).
    pub fn set(&self, unix_secs: i64) {
        let target = unix_secs.saturating_mul(1000);
        let current = self.now_millis();
        self.inner
            .offset_ms
            .fetch_add(target.saturating_sub(current), Ordering::SeqCst);
    }

    /// Seconds left until the current minute ends (1..=60), as `Retry-After` reports it.
    pub fn secs_to_minute_end(&self) -> i64 {
        let millis_into = self.now_millis().rem_euclid(60_000);
        // Round up so a client that waits this long is always in the next window.
        (60_000 - millis_into + 999) / 1000
    }
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp, e.g. `2025-01-01T00:00:00Z`.
pub fn rfc3339(unix_secs: i64) -> String {
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

/// Parses an RFC 3339 timestamp (`2024-05-01T10:00:00Z`, `...+02:00`, fractional seconds) or
/// a plain date (`2024-05-01`, read as midnight UTC) into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if bytes.len() < 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if bytes.len() == 10 {
        return Some(days * 86_400);
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) || bytes.len() < 19 {
        return None;
    }
    if bytes.get(13) != Some(&b':') || bytes.get(16) != Some(&b':') {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = fraction.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return None;
            }
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
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

fn civil_from_days(days: i64) -> (i64, i64, i64) {
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
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339(DEFAULT_START_UNIX_SECS), "2025-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2025-01-01T00:00:00Z"),
            Some(DEFAULT_START_UNIX_SECS)
        );
        assert_eq!(parse_rfc3339("2025-01-01"), Some(DEFAULT_START_UNIX_SECS));
        assert_eq!(
            parse_rfc3339("2025-01-01T02:00:00.123+02:00"),
            Some(DEFAULT_START_UNIX_SECS)
        );
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_rfc3339("2024-13-01"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00"), None);
    }

    #[test]
    fn retry_after_counts_to_the_window_end() {
        let clock = ManualClock::new();
        assert_eq!(clock.secs_to_minute_end(), 60);
        clock.advance(Duration::from_millis(59_500));
        assert_eq!(clock.secs_to_minute_end(), 1);
        clock.set(DEFAULT_START_UNIX_SECS + 15);
        assert_eq!(clock.secs_to_minute_end(), 45);
    }
}
