//! Walking paged operations to the end, async and blocking, and the NDJSON item stream.

use std::collections::HashSet;

use futures::StreamExt as _;
use geopera::models::{CatalogSearchInput, ItemsListInput, OrdersListInput, SearchInput, StacItem};
use geopera::operations::{
    catalog_search, catalog_search_stream, items_list, orders_list, stac_search,
};

use crate::hostile::{json, Hostile};
use crate::support::{client, emulator, HOST};

/// A host the emulator answers with every collection (10,500 items).
const ALL_HOSTS: &str = "every-collection";

fn ids(items: &[serde_json::Value], key: &str) -> HashSet<String> {
    items
        .iter()
        .filter_map(|item| item[key].as_str().map(str::to_owned))
        .collect()
}

/// The ids of typed catalog items.
fn item_ids(items: &[StacItem]) -> HashSet<String> {
    items.iter().map(|item| item.id.clone()).collect()
}

#[tokio::test]
async fn walking_catalog_search_visits_every_item_exactly_once() {
    let emu = emulator();
    let items: Vec<_> =
        catalog_search::items(&client(&emu), CatalogSearchInput::new(ALL_HOSTS).limit(500))
            .map(|item| item.expect("an item"))
            .collect()
            .await;
    assert!(items.len() >= 10_000, "{}", items.len());
    assert_eq!(item_ids(&items).len(), items.len(), "no item twice");

    let pages: Vec<_> =
        catalog_search::pages(&client(&emu), CatalogSearchInput::new(ALL_HOSTS).limit(500))
            .collect()
            .await;
    assert_eq!(pages.len(), items.len().div_ceil(500));
    let last = pages.last().expect("pages").as_ref().expect("a page");
    assert!(last.next.is_none(), "the last page has no cursor");
}

#[test]
fn walking_catalog_search_blocking_matches_the_async_walk() {
    let emu = emulator();
    let body = || {
        CatalogSearchInput::new(HOST)
            .collections(["landsat-c2-l2"])
            .limit(100)
    };
    let items: Vec<_> = catalog_search::items_blocking(&client(&emu), body())
        .map(|i| i.expect("an item"))
        .collect();
    assert!(!items.is_empty());
    assert_eq!(item_ids(&items).len(), items.len());
    let first_page = catalog_search::send_blocking(&client(&emu), body()).expect("a page");
    if let Some(matched) = first_page.number_matched {
        assert_eq!(items.len() as u64, matched);
    }
    let pages = catalog_search::pages_blocking(&client(&emu), body()).count();
    assert_eq!(pages, items.len().div_ceil(100));
}

#[tokio::test]
async fn an_offset_paged_operation_is_walked_to_the_end() {
    let emu = emulator();
    // The project every organization starts with, holding a few hundred items.
    let project = emu.default_project(geopera_emulator::DEMO_ORG);
    let body = || ItemsListInput::new(project.clone()).limit(40);
    let items: Vec<_> = items_list::items(&client(&emu), body())
        .map(|i| i.expect("an item"))
        .collect()
        .await;
    let first = items_list::send(&client(&emu), body())
        .await
        .expect("a page");
    let total = first["total"].as_u64().expect("a total") as usize;
    assert_eq!(items.len(), total);
    assert_eq!(ids(&items, "id").len(), total, "every item once");
    let blocking: Vec<_> = items_list::items_blocking(&client(&emu), body())
        .map(|i| i.expect("an item"))
        .collect();
    assert_eq!(blocking, items);
}

#[tokio::test]
async fn a_page_and_size_paged_operation_is_walked_to_the_end() {
    let emu = emulator();
    let body = || OrdersListInput::new().size(20);
    let orders: Vec<_> = orders_list::items(&client(&emu), body())
        .map(|o| o.expect("an order"))
        .collect()
        .await;
    let first = orders_list::send(&client(&emu), body())
        .await
        .expect("a page");
    let total = first["totalElements"].as_u64().expect("a total") as usize;
    assert_eq!(orders.len(), total);
    assert_eq!(ids(&orders, "orderId").len(), total);
    let pages = orders_list::pages_blocking(&client(&emu), body()).count();
    assert_eq!(pages, total.div_ceil(20));
}

#[tokio::test]
async fn an_error_ends_the_walk_with_that_error() {
    let emu = emulator();
    let mut stream =
        catalog_search::items(&client(&emu), CatalogSearchInput::new(HOST).limit(9999));
    let first = stream.next().await.expect("one item");
    assert!(first.expect_err("422").validation().is_some());
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn the_ndjson_stream_yields_the_same_matches_as_the_walk() {
    let emu = emulator();
    let filter = serde_json::json!({"host_name": HOST, "collections": ["sentinel-1-grd"]});
    let streamed: Vec<_> = catalog_search_stream::stream(
        &client(&emu),
        filter.as_object().cloned().unwrap_or_default(),
    )
    .map(|item| item.expect("an item"))
    .collect()
    .await;
    let walked: Vec<_> = catalog_search::items(
        &client(&emu),
        CatalogSearchInput::new(HOST)
            .collections(["sentinel-1-grd"])
            .limit(500),
    )
    .map(|item| item.expect("an item"))
    .collect()
    .await;
    assert_eq!(ids(&streamed, "id"), item_ids(&walked));
    assert_eq!(streamed.len(), walked.len());
    // The blocking iterator works from inside async code too (it reads on its own thread).
    let blocking = catalog_search_stream::stream_blocking(
        &client(&emu),
        filter.as_object().cloned().unwrap_or_default(),
    )
    .count();
    assert_eq!(blocking, streamed.len());
}

/// A server that serves at most 100 of its 250 items a page, whatever `limit` asks for, and
/// says so in the `limit` of its answer, as the emulator does above its own cap.
fn capped_pages() -> Hostile {
    const TOTAL: i64 = 250;
    Hostile::serve("127.0.0.1", |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let limit = body["limit"].as_i64().unwrap_or(100).clamp(1, 100);
        let offset = body["offset"].as_i64().unwrap_or(0).clamp(0, TOTAL);
        let items: Vec<serde_json::Value> = (offset..TOTAL.min(offset + limit))
            .map(|i| serde_json::json!({"id": format!("item_{i}")}))
            .collect();
        let answer = serde_json::json!({
            "items": items, "total": TOTAL, "limit": limit, "offset": offset
        });
        json(200, &[], &answer.to_string())
    })
}

/// A page the server filled to its own cap is not the last one, though it holds fewer items
/// than the walk asked for: the walk goes on to the end, on both faces.
#[tokio::test]
async fn a_walk_asking_for_more_than_the_server_serves_a_page_reads_every_item() {
    let server = capped_pages();
    let body = || ItemsListInput::new("proj_1").limit(500);
    let walked: Vec<_> = items_list::items(&client_of(&server), body())
        .map(|item| item.expect("an item"))
        .collect()
        .await;
    assert_eq!(ids(&walked, "id").len(), 250, "{} items", walked.len());
    let offsets: Vec<_> = server
        .seen()
        .iter()
        .map(|seen| {
            let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
            body["offset"].as_i64().unwrap_or(0)
        })
        .collect();
    assert_eq!(offsets, [0, 100, 200], "the short third page ends the walk");
    let blocking: Vec<_> = items_list::items_blocking(&client_of(&server), body())
        .map(|item| item.expect("an item"))
        .collect();
    assert_eq!(blocking, walked);
}

/// A client of a hostile `server`.
fn client_of(server: &Hostile) -> geopera::AuthenticatedClient {
    geopera::AuthenticatedClient::builder("gpra_test_key")
        .base_url(server.url())
        .build()
        .expect("valid configuration")
}

/// A server that sends the walk back to a cursor it already followed: the walk stops at the
/// first repeat, each page's item once, and its last item is an error that says the walk was
/// cut short, so a caller cannot take the items for all there are. The same on both faces.
fn cycling_cursors() -> Hostile {
    Hostile::serve("127.0.0.1", |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let (this, next) = match body["next"].as_str() {
            None => ("start", "a"),
            Some("a") => ("a", "b"),
            Some("b") => ("b", "c"),
            Some(_) => ("c", "a"),
        };
        let page = serde_json::json!({
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "id": format!("item-{this}"), "properties": {}}],
            "next": next,
        });
        json(200, &[], &page.to_string())
    })
}

/// What a walk over [`cycling_cursors`] must yield: four items, then the error, then nothing.
fn assert_cut_short(server: &Hostile, walked: Vec<Result<StacItem, geopera::Error>>) {
    let mut walked = walked.into_iter();
    let items: Vec<String> = walked
        .by_ref()
        .take(4)
        .map(|item| item.expect("an item").id)
        .collect();
    assert_eq!(items, ["item-start", "item-a", "item-b", "item-c"]);
    match walked.next() {
        Some(Err(error @ geopera::Error::RepeatedCursor { pages: 4, .. })) => {
            assert_eq!(error.operation_id(), Some("catalog.search"));
            assert_eq!(error.kind(), geopera::ErrorKind::Server);
            assert!(!error.is_retryable());
            assert!(error.request_id().is_some(), "names the call that repeated");
            assert!(
                error.to_string().contains("later pages may be missing"),
                "{error}"
            );
        }
        other => panic!("the walk must end with RepeatedCursor after 4 pages: {other:?}"),
    }
    assert!(walked.next().is_none(), "nothing after the error");
    assert_eq!(server.seen().len(), 4, "no page fetched twice");
}

#[tokio::test]
async fn a_walk_stops_where_the_server_sends_it_back_to_a_cursor_it_followed() {
    let server = cycling_cursors();
    let client = client_of(&server);
    let walked = catalog_search::items(&client, CatalogSearchInput::new(HOST).limit(1))
        .collect()
        .await;
    assert_cut_short(&server, walked);
}

#[test]
fn a_blocking_walk_ends_with_the_same_error_on_a_repeated_cursor() {
    let server = cycling_cursors();
    let client = client_of(&server);
    let walked =
        catalog_search::items_blocking(&client, CatalogSearchInput::new(HOST).limit(1)).collect();
    assert_cut_short(&server, walked);
}

/// A server that answers every cursor with a page of items never sent before and the cursor
/// it was just asked for as the next one.
fn naming_the_current_cursor() -> Hostile {
    let answered = std::sync::atomic::AtomicUsize::new(0);
    Hostile::serve("127.0.0.1", move |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let turn = answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let page = serde_json::json!({
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "id": format!("item-{turn}"), "properties": {}}],
            "next": body["next"],
        });
        json(200, &[], &page.to_string())
    })
}

/// What a walk resumed from cursor `c7` over [`naming_the_current_cursor`] must yield: the
/// one page, then the error; `c7` is never asked for a second time.
fn assert_stopped_where_it_stands(server: &Hostile, walked: Vec<Result<StacItem, geopera::Error>>) {
    let mut walked = walked.into_iter();
    assert_eq!(
        walked.next().expect("a page").expect("an item").id,
        "item-0"
    );
    match walked.next() {
        Some(Err(geopera::Error::RepeatedCursor { pages: 1, .. })) => {}
        other => panic!("the walk must end with RepeatedCursor after 1 page: {other:?}"),
    }
    assert!(walked.next().is_none(), "nothing after the error");
    let cursors: Vec<serde_json::Value> = server
        .seen()
        .iter()
        .map(|seen| {
            serde_json::from_slice::<serde_json::Value>(&seen.body).expect("JSON")["next"].clone()
        })
        .collect();
    assert_eq!(
        cursors,
        [serde_json::json!("c7")],
        "the cursor resumed from, once"
    );
}

/// A walk resumed from a cursor (`next` in its first body) has followed that cursor: a page
/// naming it as the next one sends the walk back where it stands. It used to be asked for
/// again, its page yielded twice over when the server answered it anew.
#[tokio::test]
async fn a_walk_resumed_from_a_cursor_stops_when_a_page_names_that_cursor_next() {
    let server = naming_the_current_cursor();
    let body = CatalogSearchInput::new(HOST).limit(1).next("c7");
    // At most five: a walk that does not stop would go on for ever.
    let walked = catalog_search::items(&client_of(&server), body)
        .take(5)
        .collect()
        .await;
    assert_stopped_where_it_stands(&server, walked);
}

#[test]
fn a_blocking_walk_resumed_from_a_cursor_stops_the_same_way() {
    let server = naming_the_current_cursor();
    let body = CatalogSearchInput::new(HOST).limit(1).next("c7");
    let walked = catalog_search::items_blocking(&client_of(&server), body)
        .take(5)
        .collect();
    assert_stopped_where_it_stands(&server, walked);
}

/// A server whose first page says there is more with a cursor that is no text (`42`).
fn numeric_cursor() -> Hostile {
    Hostile::serve("127.0.0.1", |_| {
        let page = serde_json::json!({
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "id": "item-0", "properties": {}}],
            "next": 42,
        });
        json(200, &[], &page.to_string())
    })
}

/// A walk over [`numeric_cursor`] ends with one decode error, not quietly as if the cursor
/// were absent (the pages after it unsaid), and asks nothing more.
fn assert_one_decode_error(server: &Hostile, walked: Vec<Result<StacItem, geopera::Error>>) {
    let mut walked = walked.into_iter();
    match walked.next() {
        Some(Err(error @ geopera::Error::Decode { .. })) => {
            let cause = std::error::Error::source(&error).map(ToString::to_string);
            assert!(cause.is_some_and(|c| c.contains("next")), "{error:?}");
        }
        other => panic!("the walk must end with a decode error: {other:?}"),
    }
    assert!(walked.next().is_none(), "one fault, one error");
    assert_eq!(server.seen().len(), 1, "nothing asked past the page");
}

#[tokio::test]
async fn a_walk_ends_with_an_error_on_a_cursor_that_is_no_text() {
    let server = numeric_cursor();
    let body = CatalogSearchInput::new(HOST).limit(1);
    let walked = catalog_search::items(&client_of(&server), body)
        .take(5)
        .collect()
        .await;
    assert_one_decode_error(&server, walked);
}

#[test]
fn a_blocking_walk_ends_the_same_way_on_a_cursor_that_is_no_text() {
    let server = numeric_cursor();
    let body = CatalogSearchInput::new(HOST).limit(1);
    let walked = catalog_search::items_blocking(&client_of(&server), body)
        .take(5)
        .collect();
    assert_one_decode_error(&server, walked);
}

/// The warning a walk logs when it ends early names the operation and the kind of fault but
/// quotes nothing of the page, whose items are the user's data: bodies are never recorded.
#[test]
fn a_walk_ended_early_logs_no_part_of_the_page() {
    const MARKER: &str = "private-note-4711";
    let server = Hostile::serve("127.0.0.1", |_| {
        let page = serde_json::json!({
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "id": "item-0", "properties": {"note": MARKER}}],
            "next": 42,
        });
        json(200, &[], &page.to_string())
    });
    let client = client_of(&server);
    let (walked, text) = crate::support::logged(
        &crate::support::this_threads_runtime(),
        catalog_search::items(&client, CatalogSearchInput::new(HOST).limit(1))
            .take(5)
            .collect::<Vec<_>>(),
    );
    assert_one_decode_error(&server, walked);
    assert!(text.contains("a page walk ends early"), "{text}");
    assert!(text.contains("catalog.search"), "{text}");
    assert!(!text.contains(MARKER), "{text}");
}

/// A server that ignores `offset` and answers every request with the first page: the walk
/// stops at the first repeat, each item once, and its last item is an error that says the
/// walk was cut short, instead of yielding the same page for ever.
fn ignoring_offsets() -> Hostile {
    Hostile::serve("127.0.0.1", |_| {
        json(
            200,
            &[],
            r#"{"items": [{"id": "first"}, {"id": "second"}]}"#,
        )
    })
}

fn assert_stopped_on_the_repeat(
    server: &Hostile,
    walked: Vec<Result<serde_json::Value, geopera::Error>>,
) {
    let mut walked = walked.into_iter();
    let items: Vec<serde_json::Value> = walked
        .by_ref()
        .take(2)
        .map(|item| item.expect("an item")["id"].clone())
        .collect();
    assert_eq!(items, ["first", "second"]);
    match walked.next() {
        Some(Err(error @ geopera::Error::RepeatedPage { pages: 1, .. })) => {
            assert_eq!(error.operation_id(), Some("items.list"));
            assert_eq!(error.kind(), geopera::ErrorKind::Server);
            assert!(error.request_id().is_some(), "names the call that repeated");
            assert!(
                error.to_string().contains("later pages may be missing"),
                "{error}"
            );
        }
        other => panic!("the walk must end with RepeatedPage after 1 page: {other:?}"),
    }
    assert!(walked.next().is_none(), "nothing after the error");
    let offsets: Vec<serde_json::Value> = server
        .seen()
        .iter()
        .map(|seen| {
            serde_json::from_slice::<serde_json::Value>(&seen.body).expect("JSON")["offset"].clone()
        })
        .collect();
    assert_eq!(offsets, [serde_json::json!(0), serde_json::json!(2)]);
}

#[tokio::test]
async fn a_walk_stops_where_the_server_answers_the_next_offset_with_the_same_page() {
    let server = ignoring_offsets();
    let client = client_of(&server);
    let body = ItemsListInput::new("p-1").limit(2).offset(0);
    let walked = items_list::items(&client, body).collect().await;
    assert_stopped_on_the_repeat(&server, walked);
}

#[test]
fn a_blocking_walk_stops_the_same_way_on_a_repeated_page() {
    let server = ignoring_offsets();
    let client = client_of(&server);
    let body = ItemsListInput::new("p-1").limit(2).offset(0);
    let walked = items_list::items_blocking(&client, body).collect();
    assert_stopped_on_the_repeat(&server, walked);
}

#[tokio::test]
async fn a_walk_stops_where_a_fresh_cursor_brings_the_same_page_again() {
    // Every answer names a cursor never seen before, over the same item.
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let next = format!("{}x", body["next"].as_str().unwrap_or("c"));
        let page = serde_json::json!({
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "id": "same", "properties": {}}],
            "next": next,
        });
        json(200, &[], &page.to_string())
    });
    let client = client_of(&server);
    // At most three: a walk that does not stop would yield the item for ever.
    let walked: Vec<_> = catalog_search::items(&client, CatalogSearchInput::new(HOST).limit(1))
        .take(3)
        .collect()
        .await;
    assert_eq!(walked.len(), 2, "the item once, then the error: {walked:?}");
    assert_eq!(walked[0].as_ref().expect("an item").id, "same");
    assert!(
        matches!(
            &walked[1],
            Err(geopera::Error::RepeatedPage { pages: 1, .. })
        ),
        "{:?}",
        walked[1]
    );
    assert_eq!(server.seen().len(), 2);
}

/// A server that ignores `offset` and answers two pages in turn: no page is the same as the
/// one just before it, so only a walk that remembers every page it was answered stops.
fn alternating_pages() -> Hostile {
    let turn = std::sync::atomic::AtomicUsize::new(0);
    Hostile::serve("127.0.0.1", move |_| {
        let page = if turn.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 0 {
            r#"{"items": [{"id": "a"}, {"id": "b"}]}"#
        } else {
            r#"{"items": [{"id": "c"}, {"id": "d"}]}"#
        };
        json(200, &[], page)
    })
}

/// What a walk over [`alternating_pages`] must yield: both pages once, then the error.
fn assert_stopped_on_the_circle(
    server: &Hostile,
    walked: Vec<Result<serde_json::Value, geopera::Error>>,
) {
    let mut walked = walked.into_iter();
    let items: Vec<serde_json::Value> = walked
        .by_ref()
        .take(4)
        .map(|item| item.expect("an item")["id"].clone())
        .collect();
    assert_eq!(items, ["a", "b", "c", "d"]);
    match walked.next() {
        Some(Err(error @ geopera::Error::RepeatedPage { pages: 2, .. })) => {
            assert!(error.request_id().is_some(), "names the call that repeated");
        }
        other => panic!("the walk must end with RepeatedPage after 2 pages: {other:?}"),
    }
    assert!(walked.next().is_none(), "nothing after the error");
    assert_eq!(
        server.seen().len(),
        3,
        "the third answer is the first again"
    );
}

#[tokio::test]
async fn a_walk_stops_where_the_server_goes_round_two_pages() {
    let server = alternating_pages();
    let client = client_of(&server);
    let body = ItemsListInput::new("p-1").limit(2).offset(0);
    // At most ten: a walk that does not stop would go round for ever.
    let walked = items_list::items(&client, body).take(10).collect().await;
    assert_stopped_on_the_circle(&server, walked);
}

#[test]
fn a_blocking_walk_stops_the_same_way_on_two_pages_in_turn() {
    let server = alternating_pages();
    let client = client_of(&server);
    let body = ItemsListInput::new("p-1").limit(2).offset(0);
    let walked = items_list::items_blocking(&client, body).take(10).collect();
    assert_stopped_on_the_circle(&server, walked);
}

#[tokio::test]
async fn a_page_answered_again_with_its_own_cursor_is_not_yielded_twice() {
    let server = Hostile::serve("127.0.0.1", |_| {
        json(
            200,
            &[],
            r#"{"type": "FeatureCollection", "next": "c1",
                "features": [{"type": "Feature", "id": "only", "properties": {}}]}"#,
        )
    });
    let client = client_of(&server);
    let walked: Vec<_> = catalog_search::items(&client, CatalogSearchInput::new(HOST).limit(1))
        .take(10)
        .collect()
        .await;
    assert_eq!(walked.len(), 2, "the item once, then the error: {walked:?}");
    assert_eq!(walked[0].as_ref().expect("an item").id, "only");
    assert!(
        matches!(
            &walked[1],
            Err(geopera::Error::RepeatedPage { pages: 1, .. })
        ),
        "{:?}",
        walked[1]
    );
}

#[tokio::test]
async fn a_walk_whose_page_labels_show_a_skipped_page_says_so() {
    // Counts pages from 0 but labels each one from 1: page 0 looks like a STAC search's page
    // 1, so the walk asks for page 2 next, and page 1 is never read.
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let page = body["page"].as_i64().unwrap_or(0);
        let features: Vec<serde_json::Value> = if page < 3 {
            (0..2)
                .map(|i| {
                    serde_json::json!({
                        "type": "Feature",
                        "id": format!("i{}", page * 2 + i),
                        "properties": {},
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let answer = serde_json::json!({
            "type": "FeatureCollection",
            "features": features,
            "context": {"page": page + 1},
        });
        json(200, &[], &answer.to_string())
    });
    let client = client_of(&server);
    let walked: Vec<_> = stac_search::items(&client, SearchInput::new().limit(2).page(0))
        .take(20)
        .collect()
        .await;
    let ids: Vec<String> = walked
        .iter()
        .filter_map(|item| item.as_ref().ok())
        .map(|item| item["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, ["i0", "i1", "i4", "i5"], "every page read is yielded");
    match walked.last() {
        Some(Err(error @ geopera::Error::SkippedPage { pages: 2, .. })) => {
            assert_eq!(error.operation_id(), Some("stac.search"));
            assert_eq!(error.kind(), geopera::ErrorKind::Server);
            assert!(
                error.request_id().is_some(),
                "names the call that showed it"
            );
            assert!(error.to_string().contains("skipped"), "{error}");
        }
        other => panic!("the walk must end with SkippedPage after 2 pages: {other:?}"),
    }
    assert_eq!(
        server.seen().len(),
        2,
        "nothing asked after the skip showed"
    );
}

/// A search that counts pages from 1, labels each page it answers, and says how many pages
/// there are: pages 1 to 3, two items each, page 0 answered as page 1 as a STAC search does.
fn labelled_pages_from_one(total_pages: i64) -> Hostile {
    Hostile::serve("127.0.0.1", move |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let page = body["page"].as_i64().unwrap_or(0).max(1);
        let features: Vec<serde_json::Value> = if page <= total_pages {
            (0..2)
                .map(|i| {
                    serde_json::json!({
                        "type": "Feature",
                        "id": format!("p{page}-{i}"),
                        "properties": {},
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let answer = serde_json::json!({
            "type": "FeatureCollection",
            "features": features,
            "context": {"page": page, "limit": 2},
            "totalPages": total_pages,
        });
        json(200, &[], &answer.to_string())
    })
}

/// `totalPages` counts the pages as the server numbers them: a server numbering from 1 has
/// its last page at `totalPages`, which the walk reads, on both faces, and asks for no more.
#[tokio::test]
async fn a_walk_over_pages_numbered_from_one_reads_the_last_page_total_pages_names() {
    for total_pages in [1, 2, 3, 4] {
        let server = labelled_pages_from_one(total_pages);
        let client = client_of(&server);
        let body = || SearchInput::new().limit(2).page(0);
        let walked: Vec<_> = stac_search::items(&client, body())
            .take(40)
            .map(|item| item.expect("an item"))
            .collect()
            .await;
        let expected: Vec<String> = (1..=total_pages)
            .flat_map(|page| [format!("p{page}-0"), format!("p{page}-1")])
            .collect();
        let got: Vec<String> = walked
            .iter()
            .map(|item| item["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(got, expected, "every page of {total_pages}");
        let asked = server.seen().len();
        assert_eq!(
            asked,
            usize::try_from(total_pages).expect("small"),
            "no page past the last"
        );
        let blocking: Vec<_> = stac_search::items_blocking(&client, body())
            .take(40)
            .map(|item| item.expect("an item"))
            .collect();
        assert_eq!(blocking, walked, "the blocking walk reads the same");
    }
}

/// What a walk does with a page that goes wrong, as `PageStream` documents it: a page that
/// does not fit the model is one decode error in its place, and the walk goes on to the page
/// it names; a page with no item array counts as an empty page and ends the walk, with no
/// error (`pages` yields it, `items` nothing for it).
#[tokio::test]
async fn an_undecodable_page_is_one_error_and_a_page_without_items_ends_the_walk() {
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap_or_default();
        let page = match body["next"].as_str() {
            None => serde_json::json!({
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "id": "first", "properties": {}}],
                "next": "c2",
            }),
            // An id that is no string does not fit a STAC item.
            Some("c2") => serde_json::json!({
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "id": 2, "properties": {}}],
                "next": "c3",
            }),
            Some(_) => serde_json::json!({"type": "FeatureCollection", "numberMatched": 0}),
        };
        json(200, &[], &page.to_string())
    });
    let client = client_of(&server);
    let search = || CatalogSearchInput::new(HOST).limit(1);

    let items: Vec<_> = catalog_search::items(&client, search()).collect().await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        matches!(&items[0], Ok(item) if item.id == "first"),
        "{items:?}"
    );
    assert!(
        matches!(&items[1], Err(error) if error.kind() == geopera::ErrorKind::Decode),
        "{items:?}"
    );
    assert_eq!(server.seen().len(), 3, "the walk went on past the error");

    let pages: Vec<_> = catalog_search::pages(&client, search()).collect().await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(matches!(&pages[1], Err(error) if error.kind() == geopera::ErrorKind::Decode));
    assert!(
        matches!(&pages[2], Ok(page) if page.features.is_empty()),
        "{pages:?}"
    );
    assert_eq!(
        server.seen().len(),
        6,
        "and stopped after the page with no items"
    );
}
