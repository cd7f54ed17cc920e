//! Unit tests of `deliver.rs`.
use super::*;

/// A slow body comes whole, in at most ten pieces, and its pauses add up to the time asked
/// (to the nanosecond a division rounds off), whatever its length.
#[test]
fn a_slow_body_takes_the_time_asked_whatever_its_length() {
    let total = Duration::from_secs(10);
    for length in 0..=300usize {
        let full = Bytes::from(vec![b'x'; length]);
        let (pieces, pause) = slow_pieces(&full, total);
        assert!(pieces.len() <= 10, "{length}: {} pieces", pieces.len());
        assert_eq!(pieces.concat(), full.to_vec(), "{length}");
        let waited = pause * u32::try_from(pieces.len()).expect("ten at most");
        assert!(waited <= total, "{length}: {waited:?}");
        if !pieces.is_empty() {
            assert!(
                total - waited < Duration::from_micros(1),
                "{length}: {waited:?}"
            );
        }
    }
}
