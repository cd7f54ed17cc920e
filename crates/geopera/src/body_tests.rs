//! Unit tests of `body.rs`.
use super::*;

#[test]
fn chunks_add_up_to_the_cap_and_no_further() {
    let (mut first, mut buffer) = (None, BytesMut::new());
    append(&mut first, &mut buffer, Bytes::from_static(b"abc"), 6, 6).expect("fits");
    assert!(buffer.is_empty(), "a single chunk is not copied");
    assert_eq!(buffer.capacity(), 0, "nor is a buffer allocated for it");
    append(&mut first, &mut buffer, Bytes::from_static(b"def"), 6, 6).expect("fits exactly");
    assert_eq!(&buffer[..], b"abcdef");
    assert!(matches!(
        append(&mut first, &mut buffer, Bytes::from_static(b"g"), 6, 6),
        Err(ReadError::TooLarge)
    ));
}

#[test]
fn an_announced_length_over_the_cap_fails_before_reading() {
    assert!(matches!(
        expected_size(Some(7), 6),
        Err(ReadError::TooLarge)
    ));
    assert_eq!(expected_size(Some(6), 6).ok(), Some(6));
    assert_eq!(expected_size(None, 6).ok(), Some(0));
    // A large announcement reserves no more than the bound ahead of the bytes.
    assert_eq!(
        expected_size(Some(60 << 20), 64 << 20).ok(),
        Some(MAX_RESERVED_AHEAD)
    );
}
