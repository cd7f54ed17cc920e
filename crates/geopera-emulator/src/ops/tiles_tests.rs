//! Unit tests of `tiles.rs`.
use super::*;

#[test]
fn capabilities_escape_the_item_and_list_every_level() {
    let doc = capabilities("a<b>&\"c d", "https://h/x/", "k&1", Some("true colour"));
    assert!(doc.starts_with("<?xml"));
    assert!(doc.contains("<ows:Identifier>a&lt;b&gt;&amp;&quot;c d</ows:Identifier>"));
    assert!(doc.contains(
        "template=\"https://h/x/wmts/a%3Cb%3E%26%22c%20d/{TileMatrixSet}/{TileMatrix}/\
             {TileCol}/{TileRow}.png?key=k%261&amp;profile=true%20colour\""
    ));
    assert_eq!(
        doc.matches("<TileMatrix>").count(),
        WMTS_LEVELS as usize + 1
    );
    assert!(doc.contains("<MatrixWidth>4194304</MatrixWidth>"));
    assert_eq!(
        doc,
        capabilities("a<b>&\"c d", "https://h/x/", "k&1", Some("true colour"))
    );
}

#[test]
fn xml_replaces_what_xml_cannot_hold() {
    assert_eq!(xml("a\u{1}b\tc"), "a\u{fffd}b\tc");
}
