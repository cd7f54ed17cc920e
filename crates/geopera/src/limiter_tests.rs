//! Unit tests of `limiter.rs`.
use super::*;
use crate::clock::SystemClock;

#[test]
fn pacing_spaces_sends_and_pauses_add_up() {
    let limiter = Limiter::new(
        Arc::new(SystemClock::default()),
        None,
        &[(RateClass::Spend, 30)],
        None,
    );
    assert!(limiter.wait_for(RateClass::Spend) < Duration::from_millis(50));
    let second = limiter.wait_for(RateClass::Spend);
    assert!(
        second > Duration::from_millis(1900) && second <= Duration::from_secs(2),
        "{second:?}"
    );
    assert!(
        limiter.wait_for(RateClass::Default).is_zero(),
        "other classes are not paced"
    );
    limiter.pause_until(
        RateClass::Default,
        limiter.clock.now() + Duration::from_secs(5),
    );
    assert!(limiter.wait_for(RateClass::Default) > Duration::from_secs(4));
    assert!(
        limiter.wait_for(RateClass::OrderPlacement) > Duration::from_secs(4),
        "a narrower class draws on the default budget too, and waits out its pause"
    );
}
