//! Unit tests of `scopes.rs`.
use super::{covers, grants, KNOWN_GRANTS};

#[test]
fn grants_match_exactly_or_by_wildcard() {
    assert!(grants("orders:write", "orders:write"));
    assert!(grants("orders:*", "orders:write"));
    assert!(grants("*:write", "orders:write"));
    assert!(grants("*", "orders:write"));
    assert!(grants("*:*", "orders:write"));
    assert!(!grants("orders:read", "orders:write"));
    assert!(!grants("catalog:*", "orders:write"));
    assert!(!grants("*:read", "orders:write"));
    assert!(!grants("orders", "orders:write"));
}

#[test]
fn a_grant_covers_only_patterns_no_wider_than_itself() {
    let cases = [
        ("*", "*", true),
        ("*", "*:read", true),
        ("*", "orders:*", true),
        ("orders:*", "orders:read", true),
        ("orders:*", "orders:*", true),
        ("orders:*", "*", false),
        ("orders:*", "*:read", false),
        ("orders:*", "catalog:read", false),
        ("*:read", "orders:read", true),
        ("*:read", "*:read", true),
        ("*:read", "orders:*", false),
        ("*:read", "*", false),
        ("orders:read", "orders:read", true),
        ("orders:read", "orders:write", false),
        ("orders:read", "orders:*", false),
        ("*:*", "*", true),
    ];
    for (held, wanted, expected) in cases {
        assert_eq!(covers(held, wanted), expected, "{held} covers {wanted}");
    }
}

#[test]
fn known_grants_are_the_operation_scopes_and_their_wildcards() {
    assert!(KNOWN_GRANTS.contains("*"));
    assert!(KNOWN_GRANTS.contains("orders:write"));
    assert!(KNOWN_GRANTS.contains("orders:*"));
    assert!(KNOWN_GRANTS.contains("*:read"));
    assert!(!KNOWN_GRANTS.contains("orders:fly"));
    assert!(!KNOWN_GRANTS.contains("*:*"));
    assert!(KNOWN_GRANTS
        .iter()
        .all(|grant| grant.chars().count() <= crate::ops::MAX_SCOPE_CHARS));
}
