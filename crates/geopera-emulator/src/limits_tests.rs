//! Unit tests of `limits.rs`.
use super::*;

#[test]
fn parses_the_cli_forms() {
    assert_eq!("default".parse(), Ok(RateLimits::documented()));
    assert_eq!("off".parse(), Ok(RateLimits::off()));
    assert_eq!("5/min".parse(), Ok(RateLimits::uniform(5)));
    assert!("lots".parse::<RateLimits>().is_err());
    assert!("0/min".parse::<RateLimits>().is_err());
}

/// Every class `geopera-types` names has a field here: a class added there without one would
/// be counted nowhere (the wildcard arm of `cap`).
#[test]
fn every_rate_class_has_a_cap() {
    for class in RateClass::ALL {
        assert_eq!(
            RateLimits::documented().cap(class),
            Some(class.documented_per_minute()),
            "{class:?}"
        );
        assert_eq!(RateLimits::uniform(7).cap(class), Some(7), "{class:?}");
        assert_eq!(RateLimits::off().cap(class), None, "{class:?}");
    }
}
