//! Unit tests of `paging.rs`.
use super::*;
use crate::redact::Redactor;
use serde_json::json;

#[test]
fn items_are_found_where_pages_usually_keep_them() {
    assert_eq!(items_of(json!({"features": [1, 2], "links": [3]})).len(), 2);
    assert_eq!(items_of(json!({"content": [1], "page": 0})).len(), 1);
    assert_eq!(
        items_of(json!({"whatever": [1, 2, 3], "total": 3})).len(),
        3
    );
    assert_eq!(items_of(json!([1, 2])).len(), 2);
    assert!(
        items_of(json!({"a": [1], "b": [2]})).is_empty(),
        "ambiguous"
    );
}

#[test]
fn a_cursor_walk_stops_on_a_missing_or_repeated_cursor() {
    let info = geopera_types::operations::find("catalog.search").expect("known");
    let mut walker = Walker {
        info,
        body: Map::new(),
        done: false,
        pages: 0,
        repeated: None,
        cursors: CursorTrail::new(),
        redactor: Redactor::default(),
    };
    walker.advance(&json!({"features": [1], "next": "a"}));
    assert!(!walker.done);
    assert_eq!(walker.body["next"], "a");
    assert!(walker.repeated.is_none());
    walker.advance(&json!({"features": [1], "next": "a"}));
    assert!(walker.done, "a repeated cursor ends the walk");
    match walker.repeated.take() {
        Some(Error::RepeatedCursor {
            operation_id,
            pages,
            ..
        }) => assert_eq!((operation_id, pages), ("catalog.search", 2)),
        other => panic!("a repeated cursor is not a quiet end: {other:?}"),
    }
    let mut walker = Walker {
        info,
        body: Map::new(),
        done: false,
        pages: 0,
        repeated: None,
        cursors: CursorTrail::new(),
        redactor: Redactor::default(),
    };
    walker.advance(&json!({"features": [1]}));
    assert!(walker.done);
}

#[test]
fn offset_and_page_walks_stop_on_a_short_page() {
    let items = geopera_types::operations::find("items.list").expect("known");
    let mut walker = Walker {
        info: items,
        body: json!({"limit": 2, "offset": 0})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        done: false,
        pages: 0,
        repeated: None,
        cursors: CursorTrail::new(),
        redactor: Redactor::default(),
    };
    walker.advance(&json!({"items": [1, 2]}));
    assert_eq!(walker.body["offset"], 2);
    assert!(!walker.done);
    walker.advance(&json!({"items": [3]}));
    assert!(walker.done);

    let orders = geopera_types::operations::find("orders.list").expect("known");
    let mut walker = Walker {
        info: orders,
        body: json!({"page": 0, "size": 2})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        done: false,
        pages: 0,
        repeated: None,
        cursors: CursorTrail::new(),
        redactor: Redactor::default(),
    };
    walker.advance(&json!({"content": [1, 2], "totalPages": 2}));
    assert_eq!(walker.body["page"], 1);
    assert!(!walker.done);
    walker.advance(&json!({"content": [3, 4], "totalPages": 2}));
    assert!(walker.done, "the last page by totalPages");
}
