//! Unit tests of `paging.rs`.
use super::*;
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

/// A walk of `operation` from `body`.
fn walk(operation: &str, body: serde_json::Value) -> PageWalk {
    let info = geopera_types::operations::find(operation).expect("known");
    PageWalk::new(info, body.as_object().cloned().unwrap_or_default())
}

/// Moves `walk` past `page`, counting its items as the streams do.
fn advance(walk: &mut PageWalk, page: serde_json::Value) -> Result<(), Error> {
    walk.advance(&page, count_items(&page))
}

/// A cursor that is no text says there is more but names nothing to ask for: an error that
/// names the member, where the walk used to end as if on the last page. Null is the last page.
#[test]
fn a_cursor_walk_fails_on_a_cursor_that_is_no_text() {
    for next in [json!(42), json!(true), json!(["a"]), json!({"token": "a"})] {
        let mut cursors = walk("catalog.search", json!({}));
        match advance(&mut cursors, json!({"features": [1], "next": next})) {
            Err(error @ Error::Decode { .. }) => {
                let cause = std::error::Error::source(&error).map(ToString::to_string);
                assert!(cause.is_some_and(|c| c.contains("`next`")), "{error:?}");
            }
            other => panic!("{next}: {other:?}"),
        }
        assert!(cursors.next_body().is_none(), "{next}: the walk is over");
    }
    let mut cursors = walk("catalog.search", json!({}));
    advance(&mut cursors, json!({"features": [1], "next": null})).expect("the last page");
    assert!(cursors.next_body().is_none());
}

#[test]
fn a_cursor_walk_stops_on_a_missing_or_repeated_cursor() {
    let mut cursors = walk("catalog.search", json!({}));
    advance(&mut cursors, json!({"features": [1], "next": "a"})).expect("a new cursor");
    assert_eq!(
        cursors.next_body().map(|body| &body["next"]),
        Some(&json!("a"))
    );
    match advance(&mut cursors, json!({"features": [2], "next": "a"})) {
        Err(Error::RepeatedCursor {
            operation_id,
            pages,
            ..
        }) => assert_eq!((operation_id, pages), ("catalog.search", 2)),
        other => panic!("a repeated cursor is not a quiet end: {other:?}"),
    }
    assert!(
        cursors.next_body().is_none(),
        "a repeated cursor ends the walk"
    );

    let mut last = walk("catalog.search", json!({}));
    advance(&mut last, json!({"features": [1]})).expect("no cursor is no error");
    assert!(last.next_body().is_none());
}

#[test]
fn offset_and_page_walks_stop_on_a_short_page() {
    let mut offsets = walk("items.list", json!({"limit": 2, "offset": 0}));
    advance(&mut offsets, json!({"items": [1, 2]})).expect("moves on");
    assert_eq!(
        offsets.next_body().map(|body| &body["offset"]),
        Some(&json!(2))
    );
    advance(&mut offsets, json!({"items": [3]})).expect("ends");
    assert!(offsets.next_body().is_none());

    let mut pages = walk("orders.list", json!({"page": 0, "size": 2}));
    advance(&mut pages, json!({"content": [1, 2], "totalPages": 2})).expect("moves on");
    assert_eq!(pages.next_body().map(|body| &body["page"]), Some(&json!(1)));
    advance(&mut pages, json!({"content": [3, 4], "totalPages": 2})).expect("ends");
    assert!(pages.next_body().is_none(), "the last page by totalPages");
    assert_eq!(pages.pages(), 2);
    advance(&mut pages, json!({"content": [5, 6], "totalPages": 9})).expect("ignored");
    assert!(
        pages.next_body().is_none(),
        "a walk that is over stays over"
    );
    assert_eq!(pages.pages(), 2);
}

/// A server caps the page size; a page it filled to its cap, which it states in the answer,
/// is full, though it holds fewer items than asked for. A size stated above the one asked for
/// is not believed.
#[test]
fn a_page_filled_to_the_size_the_server_states_is_not_short() {
    let mut offsets = walk("items.list", json!({"limit": 500}));
    advance(&mut offsets, json!({"items": [1, 2], "limit": 2})).expect("moves on");
    assert_eq!(
        offsets.next_body().map(|body| &body["offset"]),
        Some(&json!(2))
    );
    advance(&mut offsets, json!({"items": [3], "limit": 2})).expect("ends");
    assert!(offsets.next_body().is_none());

    let mut unasked = walk("items.list", json!({}));
    advance(&mut unasked, json!({"items": [1, 2], "limit": 3})).expect("ends");
    assert!(
        unasked.next_body().is_none(),
        "short of the size the server says it served"
    );

    let mut pages = walk("orders.list", json!({"size": 50}));
    advance(&mut pages, json!({"content": [1, 2], "size": 2})).expect("moves on");
    assert_eq!(pages.next_body().map(|body| &body["page"]), Some(&json!(1)));

    let mut stac = walk("stac.search", json!({"limit": 50, "page": 1}));
    advance(
        &mut stac,
        json!({"features": [1, 2], "context": {"page": 1, "limit": 2}}),
    )
    .expect("moves on");
    assert_eq!(stac.next_body().map(|body| &body["page"]), Some(&json!(2)));

    let mut boastful = walk("items.list", json!({"limit": 2}));
    advance(&mut boastful, json!({"items": [1, 2], "limit": 900})).expect("moves on");
    assert!(
        boastful.next_body().is_some(),
        "two of the two asked for is a full page"
    );
    let mut zero = walk("items.list", json!({"limit": 2}));
    advance(&mut zero, json!({"items": [1], "limit": 0})).expect("ends");
    assert!(zero.next_body().is_none(), "a size of 0 is not believed");
}

#[test]
fn a_stac_search_answering_page_0_as_page_1_is_not_read_twice() {
    let mut pages = walk("stac.search", json!({"limit": 2}));
    let answer =
        |page: i64| json!({"features": [page * 10, page * 10 + 1], "context": {"page": page}});
    advance(&mut pages, answer(1)).expect("moves on");
    assert_eq!(pages.next_body().map(|body| &body["page"]), Some(&json!(2)));
    advance(&mut pages, answer(2)).expect("moves on");
    assert_eq!(pages.next_body().map(|body| &body["page"]), Some(&json!(3)));

    // Counting from 0, or saying anything else, moves one page on: never back, never two.
    let mut zero = walk("stac.search", json!({"limit": 2, "page": 0}));
    advance(&mut zero, answer(0)).expect("moves on");
    assert_eq!(zero.next_body().map(|body| &body["page"]), Some(&json!(1)));
    for odd in [json!(-5), json!(40), json!("2"), json!(4)] {
        let mut pages = walk("stac.search", json!({"limit": 2, "page": 3}));
        advance(
            &mut pages,
            json!({"features": [1, 2], "context": {"page": odd}}),
        )
        .expect("moves on");
        assert_eq!(pages.next_body().map(|body| &body["page"]), Some(&json!(4)));
    }
}

/// A server counting from 0 but labelling from 1 shows the skip on the page after the first,
/// even when that page is empty: the page between them held items the walk never read.
#[test]
fn an_empty_page_labelled_past_the_page_asked_for_shows_the_skip() {
    let mut pages = walk("stac.search", json!({"limit": 2, "page": 0}));
    advance(
        &mut pages,
        json!({"features": [1, 2], "context": {"page": 1}}),
    )
    .expect("moves on");
    assert_eq!(pages.next_body().map(|body| &body["page"]), Some(&json!(2)));
    match advance(&mut pages, json!({"features": [], "context": {"page": 3}})) {
        Err(Error::SkippedPage { pages: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(pages.next_body().is_none(), "the walk is over");

    // An empty page labelled as the one asked for is simply the end.
    let mut pages = walk("stac.search", json!({"limit": 2, "page": 0}));
    advance(
        &mut pages,
        json!({"features": [1, 2], "context": {"page": 1}}),
    )
    .expect("moves on");
    advance(&mut pages, json!({"features": [], "context": {"page": 2}})).expect("the end");
    assert!(pages.next_body().is_none());
}

/// Page `n` starts `n` first pages in: a server whose later page is larger than its first
/// (another replica, another cap) answered from past items the walk never read.
#[test]
fn a_later_page_larger_than_the_first_shows_skipped_items() {
    let items = |from: i64, to: i64| (from..to).collect::<Vec<_>>();
    // Capped at 10 on page 0, then served 20 a page: items 10 to 19 were never asked for.
    let mut pages = walk("orders.list", json!({"size": 20}));
    advance(&mut pages, json!({"content": items(0, 10), "size": 10})).expect("a full page");
    match advance(&mut pages, json!({"content": items(20, 40), "size": 20})) {
        Err(Error::SkippedPage { pages: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(pages.next_body().is_none(), "the walk is over");

    // More items than the first page held, whatever size the answer names.
    let mut pages = walk("stac.search", json!({"limit": 5, "page": 0}));
    advance(&mut pages, json!({"features": items(0, 5)})).expect("a full page");
    let larger = advance(
        &mut pages,
        json!({"features": items(10, 20), "context": {"limit": 5}}),
    );
    assert!(
        matches!(larger, Err(Error::SkippedPage { .. })),
        "{larger:?}"
    );

    // A server that serves more than asked for (a page of at least 1, or of 10) numbers its
    // pages by what it serves: no skip, on the first page or after.
    for (asked, served) in [(0, 1), (5, 10)] {
        let mut pages = walk("orders.list", json!({"size": asked}));
        advance(
            &mut pages,
            json!({"content": items(0, served), "size": served}),
        )
        .expect("a page of more than asked");
        advance(&mut pages, json!({"content": items(served, 2 * served)})).expect("the next");
        advance(&mut pages, json!({"content": [], "size": served})).expect("the end");
        assert!(pages.next_body().is_none());
    }

    // A short last page saying how many items it holds is the end, not a skip.
    let mut pages = walk("orders.list", json!({"size": 20}));
    advance(&mut pages, json!({"content": items(0, 20), "size": 20})).expect("a full page");
    advance(&mut pages, json!({"content": items(20, 25), "size": 5})).expect("the last page");
    advance(&mut pages, json!({"content": [], "size": 20})).expect("the end");
    assert!(pages.next_body().is_none());
}

#[test]
fn items_are_counted_where_they_are_split_from() {
    for page in [
        json!({"features": [1, 2], "links": [3]}),
        json!({"whatever": [1, 2, 3], "total": 3}),
        json!([1, 2]),
        json!({"a": [1], "b": [2]}),
        json!({"features": "not a list", "data": [1]}),
        json!("neither"),
    ] {
        assert_eq!(count_items(&page), items_of(page.clone()).len(), "{page}");
    }
}

#[test]
fn a_walk_answered_the_same_page_again_stops_with_an_error() {
    for (operation, body, page) in [
        (
            "items.list",
            json!({"limit": 2, "offset": 0}),
            json!({"items": [{"id": 1}, {"id": 2}]}),
        ),
        (
            "orders.list",
            json!({"page": 0, "size": 2}),
            json!({"content": [{"id": 1}, {"id": 2}]}),
        ),
        (
            "catalog.search",
            json!({"host_name": "h", "limit": 2}),
            json!({"features": [{"id": 1}, {"id": 2}], "next": "c1"}),
        ),
    ] {
        let mut walk = walk(operation, body);
        advance(&mut walk, page.clone()).expect("a first page");
        // A cursor walk is handed a fresh cursor with the same items.
        let page = match page.get("next") {
            Some(_) => json!({"features": page["features"].clone(), "next": "c2"}),
            None => page,
        };
        match advance(&mut walk, page) {
            Err(Error::RepeatedPage {
                operation_id,
                pages,
                ..
            }) => assert_eq!((operation_id, pages), (operation, 1)),
            other => panic!("{operation}: a repeated page is not a quiet end: {other:?}"),
        }
        assert!(walk.next_body().is_none(), "{operation}: the walk is over");
        assert_eq!(walk.pages(), 1);
    }
    // Pages that share only their first item, or only their last, are different pages.
    let mut offsets = walk("items.list", json!({"limit": 2}));
    advance(&mut offsets, json!({"items": [1, 2]})).expect("moves on");
    advance(&mut offsets, json!({"items": [1, 3]})).expect("another page");
    advance(&mut offsets, json!({"items": [4, 3]})).expect("another page");
    assert!(offsets.next_body().is_some());
}

#[test]
fn a_walk_ends_past_the_largest_offset_or_page_a_body_can_name() {
    let mut offsets = walk("items.list", json!({"limit": 2, "offset": i64::MAX - 1}));
    advance(&mut offsets, json!({"items": [1, 2]})).expect("ends quietly");
    assert!(offsets.next_body().is_none());

    let mut pages = walk("orders.list", json!({"page": i64::MAX, "size": 2}));
    advance(&mut pages, json!({"content": [1, 2]})).expect("no overflow");
    assert!(pages.next_body().is_none());

    // A label one past the page asked for moves the walk only from page 0: from here the
    // next page is the last a body can name, and the walk ends after it.
    let mut labelled = walk("orders.list", json!({"page": i64::MAX - 1, "size": 2}));
    let answered = json!({"content": [1, 2], "context": {"page": i64::MAX}});
    advance(&mut labelled, answered).expect("no overflow");
    assert_eq!(
        labelled.next_body().map(|body| &body["page"]),
        Some(&json!(i64::MAX))
    );
    advance(&mut labelled, json!({"content": [3, 4]})).expect("no overflow");
    assert!(labelled.next_body().is_none());
}

/// A walk starts where the server does: at an offset or page written as an integral float
/// (`5.0`, which the API reads as 5) and at a negative one (which it reads as the first);
/// read as 0 or stepped from below 0, the walk asked for items it had already given.
#[test]
fn a_walk_steps_on_from_where_the_server_started() {
    let ten: Vec<i64> = (0..10).collect();
    for (start, next) in [(json!(5.0), 15), (json!(-5), 10), (json!(5), 15)] {
        let mut offsets = walk("items.list", json!({"limit": 10, "offset": start}));
        advance(&mut offsets, json!({"items": ten})).expect("moves on");
        assert_eq!(
            offsets.next_body().map(|body| &body["offset"]),
            Some(&json!(next)),
            "from {start}"
        );
    }
    for (start, next) in [(json!(2.0), 3), (json!(-1), 1)] {
        let mut pages = walk("orders.list", json!({"page": start, "size": 2}));
        advance(&mut pages, json!({"content": [1, 2], "totalPages": 9})).expect("moves on");
        assert_eq!(
            pages.next_body().map(|body| &body["page"]),
            Some(&json!(next)),
            "from {start}"
        );
    }
}
