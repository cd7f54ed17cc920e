//! Unit tests of `cursors.rs`.
use super::*;

#[test]
fn a_repeat_among_the_remembered_cursors_is_caught_at_once() {
    let mut trail = CursorTrail::new();
    for n in 0..1_000 {
        assert!(trail.first_visit(&format!("c{n}")));
    }
    assert!(!trail.first_visit("c500"));
    assert!(!trail.first_visit("c0"));
    assert!(trail.first_visit("c1000"));
}

#[test]
fn memory_stops_growing_and_a_far_cycle_is_still_found() {
    let mut trail = CursorTrail::new();
    let fresh = EXACT_CURSORS + 10_000;
    for n in 0..fresh {
        assert!(trail.first_visit(&format!("c{n}")), "c{n} is new");
    }
    assert_eq!(trail.exact.len(), EXACT_CURSORS, "the exact set is bounded");
    // A cursor from the remembered part: caught at once.
    assert!(!trail.first_visit("c7"));
    // A server that loops over 3,000 cursors past the remembered ones.
    let cycle: Vec<String> = (fresh..fresh + 3_000).map(|n| format!("c{n}")).collect();
    let mut visits = 0;
    let caught = cycle.iter().cycle().take(20_000).any(|cursor| {
        visits += 1;
        !trail.first_visit(cursor)
    });
    assert!(caught, "the cycle was never found");
    assert!(
        visits <= 2 * cycle.len() + 2 * 10_000,
        "found late: {visits}"
    );
    assert_eq!(trail.exact.len(), EXACT_CURSORS);
}

#[test]
fn its_debug_shows_counts_not_cursors() {
    let mut trail = CursorTrail::new();
    trail.first_visit("secret-cursor");
    let shown = format!("{trail:?}");
    assert!(!shown.contains("secret-cursor"), "{shown}");
    assert!(shown.contains("remembered: 1"), "{shown}");
}
