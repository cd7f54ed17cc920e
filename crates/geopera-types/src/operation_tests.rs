//! Unit tests of `operation.rs`.

/// The generator's reading of which operations answer NDJSON (the contract and its list; see
/// geopera-codegen's tests) reaches the descriptors, and such an answer is bytes, as the SDK
/// and the CLI read it before splitting its lines.
#[test]
fn the_descriptors_say_which_operations_answer_ndjson() {
    let ndjson: Vec<&str> = crate::generated::operations::ALL
        .iter()
        .filter(|info| info.answers_ndjson)
        .map(|info| info.id)
        .collect();
    assert_eq!(ndjson, ["catalog.search_stream"]);
    for info in crate::generated::operations::ALL {
        assert!(!info.answers_ndjson || info.answers_binary(), "{}", info.id);
    }
}
