//! Unit tests of `item_search.rs`.
use super::*;

/// A key sorted by already is not kept again: past the first clause of a key, only its own
/// ties are left, which it cannot break. Every clause was kept, and walked on every tie.
#[test]
fn a_sort_key_given_again_is_kept_once() {
    let mut clauses = vec![("datetime".to_owned(), "desc".to_owned()); 10_000];
    clauses.push(("created".to_owned(), "asc".to_owned()));
    clauses.push(("-created".to_owned(), "asc".to_owned()));
    let mut filter = Filter::default();
    read_sort(&mut filter, &clauses).expect("known keys");
    assert_eq!(filter.order.len(), 2);
    assert!(matches!(filter.order[0], (SortKey::Datetime, true)));
    assert!(matches!(filter.order[1], (SortKey::Created, false)));
}
