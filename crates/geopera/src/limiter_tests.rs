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

#[test]
fn paced_slots_given_back_go_to_the_next_call() {
    let limiter = Limiter::new(
        Arc::new(SystemClock::default()),
        None,
        &[(RateClass::Default, 60)],
        None,
    );
    let take = || limiter.reserve_slot(RateClass::Default);
    let (at, first) = take();
    assert!(at.is_none(), "the first call goes at once");
    first.used();
    let [(Some(second), second_slots), (Some(third), third_slots), (Some(_), fourth_slots)] =
        [take(), take(), take()]
    else {
        panic!("later calls wait");
    };
    assert_eq!(third - second, Duration::from_secs(1));
    // A slot between others, given back, goes to the next call to ask.
    drop(third_slots);
    let (again, again_slots) = take();
    assert_eq!(again, Some(third));
    // Slots given back at the end of the queue take it back to the first of them.
    drop(fourth_slots);
    drop(again_slots);
    drop(second_slots);
    let (again, again_slots) = take();
    assert_eq!(again, Some(second));
    again_slots.used();
    assert_eq!(take().0, Some(third), "and on from there");
}

#[test]
fn a_narrower_class_gives_back_its_slots_of_both_budgets() {
    let limiter = Limiter::new(
        Arc::new(SystemClock::default()),
        None,
        &[(RateClass::Default, 60), (RateClass::Spend, 30)],
        None,
    );
    limiter.reserve_slot(RateClass::Spend).1.used();
    let (spend, spend_slots) = limiter.reserve_slot(RateClass::Spend);
    drop(spend_slots);
    assert_eq!(limiter.reserve_slot(RateClass::Spend).0, spend);
    let default = limiter.wait_for(RateClass::Default);
    assert!(
        default > Duration::from_millis(900) && default <= Duration::from_secs(1),
        "the default slot taken with the spend one was given back: {default:?}"
    );
}

/// A call waiting for its paced slot when a 429's pause begins (another task's) gives its
/// in-flight slot back for the pause: a call of a class the pause does not hold goes
/// meanwhile, where it used to wait the pause out behind it.
#[tokio::test]
async fn a_pause_that_begins_during_a_paced_wait_is_waited_out_without_the_in_flight_slot() {
    let limiter = Arc::new(Limiter::new(
        Arc::new(SystemClock::default()),
        Some(1),
        &[(RateClass::Default, 60)],
        None,
    ));
    let started = std::time::Instant::now();
    drop(
        limiter
            .admit("test.op", RateClass::Default, None, SendBy(None))
            .await,
    );
    // The next default slot is a second away: this call takes the in-flight slot, then waits.
    let paced = tokio::spawn({
        let limiter = limiter.clone();
        async move {
            let admission = limiter
                .admit("test.op", RateClass::Spend, None, SendBy(None))
                .await;
            (admission.is_ok(), started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    limiter.pause_until(
        RateClass::Spend,
        limiter.clock.now() + Duration::from_secs(4),
    );
    let other = limiter
        .admit("test.op", RateClass::Default, None, SendBy(None))
        .await;
    let other_went = started.elapsed();
    assert!(other.is_ok());
    assert!(
        other_went < Duration::from_secs(3),
        "the default call waited {other_went:?}, behind a spend call sitting out its pause"
    );
    drop(other);
    let (admitted, paced_went) = paced.await.expect("joined");
    assert!(admitted);
    assert!(
        paced_went >= Duration::from_secs(4),
        "the spend call went at {paced_went:?}, inside its pause"
    );
}

/// Calls without credentials are counted per client address, apart from the organization's
/// budgets: neither side's pacing nor pauses hold the other.
#[test]
fn the_per_address_class_and_the_organization_hold_each_other_in_nothing() {
    let limiter = Limiter::new(
        Arc::new(SystemClock::default()),
        None,
        &[(RateClass::Default, 1), (RateClass::Unauthenticated, 1)],
        None,
    );
    assert!(limiter.wait_for(RateClass::Default).is_zero());
    assert!(
        limiter.wait_for(RateClass::Unauthenticated).is_zero(),
        "the default budget's one slot of the minute is not the address's"
    );
    assert!(limiter.wait_for(RateClass::Unauthenticated) > Duration::from_secs(50));
    let now = limiter.clock.now();
    limiter.pause_until(RateClass::Unauthenticated, now + Duration::from_secs(3600));
    assert!(
        limiter.wait_for(RateClass::Spend) < Duration::from_secs(61),
        "a 429 without credentials holds no call of the organization"
    );
    limiter.pause_until(RateClass::Default, now + Duration::from_secs(7200));
    assert!(limiter.wait_for(RateClass::Unauthenticated) < Duration::from_secs(3601));
}
