use std::future::pending;
use std::time::Duration;

use super::*;

const SHORT: Duration = Duration::from_millis(40);
const LONG: Duration = Duration::from_secs(30);

#[test]
fn an_attempt_no_longer_than_the_read_timeout_needs_one_timer() {
    let bounds = Bounds::starting_now(Some(SHORT), TimeoutLimit::Attempt, Some(LONG));
    assert!(matches!(bounds.whole(), Some((_, TimeoutLimit::Attempt))));

    let equal = Bounds::starting_now(Some(LONG), TimeoutLimit::Deadline, Some(LONG));
    assert!(matches!(equal.whole(), Some((_, TimeoutLimit::Deadline))));
}

#[test]
fn reads_are_watched_when_the_attempt_is_longer_or_unbounded() {
    assert!(
        Bounds::starting_now(Some(LONG), TimeoutLimit::Attempt, Some(SHORT))
            .whole()
            .is_none()
    );
    assert!(
        Bounds::starting_now(None, TimeoutLimit::Deadline, Some(SHORT))
            .whole()
            .is_none()
    );
    // Too far away to add to the clock: no bound, not an overflow, and reads still watched.
    assert!(
        Bounds::starting_now(Some(Duration::MAX), TimeoutLimit::Attempt, Some(SHORT))
            .whole()
            .is_none()
    );
}

#[test]
fn nothing_to_watch_is_no_bound_at_all() {
    assert!(Bounds::starting_now(None, TimeoutLimit::Deadline, None)
        .whole()
        .is_none());
    assert!(
        Bounds::starting_now(Some(Duration::MAX), TimeoutLimit::Attempt, None)
            .whole()
            .is_none()
    );
}

#[tokio::test]
async fn a_quiet_wait_ends_with_the_read_timeout() {
    let bounds = Bounds::starting_now(Some(LONG), TimeoutLimit::Attempt, Some(SHORT));
    assert_eq!(
        bounds.step(pending::<()>()).await,
        Err(Elapsed(TimeoutLimit::Read))
    );
    let unbounded = Bounds::starting_now(None, TimeoutLimit::Deadline, Some(SHORT));
    assert_eq!(
        unbounded.step(pending::<()>()).await,
        Err(Elapsed(TimeoutLimit::Read))
    );
}

#[tokio::test]
async fn the_attempt_ends_a_wait_that_the_read_timeout_would_not_yet() {
    // Watching reads (`whole` is `None`), with the attempt's end nearer than the next read's.
    let bounds = Bounds::starting_now(Some(SHORT * 3), TimeoutLimit::Deadline, Some(SHORT * 2));
    assert!(bounds.whole().is_none());
    tokio::time::sleep(SHORT * 2).await;
    assert_eq!(
        bounds.step(pending::<()>()).await,
        Err(Elapsed(TimeoutLimit::Deadline))
    );
}

#[tokio::test]
async fn a_wait_that_ends_in_time_gives_its_output() {
    let bounds = Bounds::starting_now(Some(LONG), TimeoutLimit::Attempt, Some(LONG / 2));
    assert_eq!(bounds.step(async { 7 }).await, Ok(7));
    assert_eq!(Bounds::none().step(async { 8 }).await, Ok(8));
}
