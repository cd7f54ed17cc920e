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
