//! Unit tests of `ndjson.rs`.
use super::*;

fn info() -> &'static OperationInfo {
    geopera_types::operations::find("catalog.search_stream").expect("known")
}

#[test]
fn frames_become_items_and_blank_lines_are_skipped() {
    let redactor = Redactor::default();
    let mut blank = 0;
    let parsed = item(
        info(),
        &redactor,
        64,
        &mut blank,
        Ok(Bytes::from_static(b" {\"a\":1}\r")),
    );
    assert_eq!(
        parsed.and_then(Result::ok),
        Some(serde_json::json!({"a": 1}))
    );
    assert!(item(
        info(),
        &redactor,
        64,
        &mut blank,
        Ok(Bytes::from_static(b"  "))
    )
    .is_none());
    assert_eq!(blank, 3, "two spaces and their line break");
    let too_long = item(
        info(),
        &redactor,
        64,
        &mut blank,
        Err(AnyDelimiterCodecError::MaxChunkLengthExceeded),
    );
    assert!(matches!(
        too_long,
        Some(Err(Error::TooLarge { limit: 64, .. }))
    ));
}
