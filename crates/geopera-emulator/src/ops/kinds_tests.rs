//! Unit tests of `kinds.rs`.
use super::*;

#[test]
fn every_derived_operation_has_a_handler() {
    for id in DERIVED {
        assert_ne!(kind(id), Kind::Sample, "{id} is listed as derived");
    }
}

#[test]
fn every_sample_says_why_it_keeps_nothing() {
    let unexplained: Vec<&str> = ALL
        .iter()
        .filter(|info| kind(info.id) == Kind::Sample)
        .filter(|info| !SAMPLE_REASONS.iter().any(|(p, _)| info.id.starts_with(p)))
        .map(|info| info.id)
        .collect();
    assert!(unexplained.is_empty(), "{unexplained:?}");
}

#[test]
fn the_docs_table_matches_the_handlers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md");
    let want = table();
    // Only `1`: a `0` or an empty value left in an environment must not turn the check off.
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|value| value == "1") {
        std::fs::write(path, &want).expect("write the table");
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/operations.md is stale; rerun with UPDATE_SNAPSHOTS=1"
    );
}
