//! Unit tests of `stac.rs`.
use super::*;
use serde_json::json;

fn page() -> Value {
    json!({
        "type": "FeatureCollection",
        "numberReturned": 1,
        "next": "abc",
        "x-vendor": {"deep": [1, 2]},
        "features": [{
            "type": "Feature", "stac_version": "1.0.0", "id": "S2_1", "collection": "sentinel-2-l2a",
            "bbox": [1.0, 2.0, 3.0, 4.0],
            "geometry": {"type": "Polygon", "coordinates": [[[1.0, 2.0], [3.0, 2.0], [3.0, 4.0], [1.0, 2.0]]]},
            "properties": {"datetime": "2024-01-01T00:00:00Z", "eo:cloud_cover": 12.5, "view:off_nadir": 3},
            "assets": {"red": {"href": "https://x/red.tif", "roles": ["data"], "file:size": 10}},
            "links": [{"href": "https://x", "rel": "self"}],
            "custom": true
        }]
    })
}

#[test]
fn a_page_decodes_into_fields_and_keeps_every_other_member() {
    let text = page().to_string();
    let decoded: CatalogSearchOutput = serde_json::from_str(&text).expect("a page");
    let item = &decoded.features[0];
    assert_eq!(item.id, "S2_1");
    assert_eq!(item.properties.cloud_cover, Some(12.5));
    assert_eq!(item.properties.extra["view:off_nadir"], 3);
    let assets = item
        .assets
        .as_ref()
        .expect("assets")
        .get()
        .expect("decodable");
    assert_eq!(assets["red"].extra["file:size"], 10);
    let links = item
        .links
        .as_ref()
        .expect("links")
        .get()
        .expect("decodable");
    assert_eq!(links[0].rel.as_deref(), Some("self"));
    assert_eq!(
        item.geometry.as_ref().and_then(Geometry::kind).as_deref(),
        Some("Polygon")
    );
    assert_eq!(decoded.extra["x-vendor"]["deep"][1], 2);
    assert_eq!(
        serde_json::to_value(&decoded).expect("serializable"),
        page(),
        "lossless round trip"
    );
}

#[test]
fn a_page_decodes_from_a_value_too() {
    let decoded = CatalogSearchOutput::deserialize(&page()).expect("from a value");
    assert_eq!(decoded.next.as_deref(), Some("abc"));
    assert_eq!(
        serde_json::to_value(&decoded).expect("serializable"),
        page()
    );
}

#[test]
fn escaped_member_names_are_matched() {
    let decoded: CatalogSearchOutput =
        serde_json::from_str(r#"{"next": "n", "features": []}"#).expect("a page");
    assert_eq!(decoded.next.as_deref(), Some("n"));
}

#[test]
fn only_an_object_geometry_has_a_kind() {
    let page: CatalogSearchOutput = serde_json::from_str(
        r#"{"features": [
            {"geometry": ["Polygon"]},
            {"geometry": "Point"},
            {"geometry": {"type": 7}},
            {"geometry": {"coordinates": [], "type": "Point", "bbox": {"type": "x"}}}
        ]}"#,
    )
    .expect("a page");
    let kinds: Vec<Option<String>> = page
        .features
        .iter()
        .map(|item| item.geometry.as_ref().and_then(Geometry::kind))
        .collect();
    assert_eq!(kinds, [None, None, None, Some("Point".to_owned())]);
}

/// A lone surrogate in the raw text of a geometry or of an item's assets and links is read
/// as U+FFFD, as in the rest of the page: kept, it failed every later reading of the member.
#[test]
fn a_lone_surrogate_in_raw_text_reads_as_the_replacement_character() {
    let text = r#"{"features": [{"id": "a", "geometry": {"type": "Point", "x": "\ud800"},
        "assets": {"data": {"href": "s3://b/x", "title": "a\udce9"}}}]}"#;
    assert!(serde_json::from_str::<Value>(text).is_err());
    let page: CatalogSearchOutput = serde_json::from_str(text).expect("decoded loosely");
    let geometry = page.features[0].geometry.as_ref().expect("a geometry");
    assert_eq!(
        geometry.to_value().expect("readable")["x"],
        "\u{fffd}",
        "{geometry:?}"
    );
    assert_eq!(geometry.kind().as_deref(), Some("Point"));
    let assets = page.features[0].assets.as_ref().expect("assets");
    assert_eq!(
        assets.to_value().expect("readable")["data"]["title"],
        "a\u{fffd}"
    );
    assert!(page.to_typed::<Value>().is_ok());
    // Text without one is kept as it came, byte for byte.
    let plain = r#"{"features": [{"id": "b", "geometry": {"type": "Point", "x": "\u00e9"}}]}"#;
    let page: CatalogSearchOutput = serde_json::from_str(plain).expect("decoded");
    let geometry = page.features[0].geometry.as_ref().expect("a geometry");
    assert_eq!(geometry.raw(), r#"{"type": "Point", "x": "\u00e9"}"#);
}
