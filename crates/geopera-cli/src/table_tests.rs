//! Unit tests of `table.rs`.
use super::*;

fn parse(text: &str) -> Ordered {
    Ordered::parse(text).expect("JSON").0
}

#[test]
fn stac_items_get_id_collection_datetime_and_cloud_cover() {
    let page = parse(
        r#"{"type":"FeatureCollection","features":[
                {"type":"Feature","id":"S2A_1","collection":"sentinel-2-l2a","properties":{"datetime":"2024-01-02T03:04:05Z","eo:cloud_cover":12.5}},
                {"type":"Feature","id":"S2B_22","collection":"sentinel-2-l2a","properties":{"datetime":"2024-01-03T00:00:00Z"}}]}"#,
    );
    let text = table(&page, false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ID      COLLECTION      DATETIME              CLOUD COVER"
    );
    assert_eq!(
        lines[1],
        "S2A_1   sentinel-2-l2a  2024-01-02T03:04:05Z  12.5"
    );
    assert_eq!(lines[2], "S2B_22  sentinel-2-l2a  2024-01-03T00:00:00Z");
}

#[test]
fn other_lists_show_scalar_members_and_an_object_shows_key_value() {
    let list = parse(r#"[{"name":"a","n":1,"nested":{"x":1}},{"name":"b","extra":true}]"#);
    assert_eq!(
        table(&list, false),
        "NAME  N  EXTRA\na     1\nb        true"
    );
    let one = parse(r#"{"id":"p_1","tags":["a"]}"#);
    assert_eq!(
        table(&one, true),
        "\x1b[1mKEY   VALUE\x1b[0m\nid    p_1\ntags  [\"a\"]"
    );
}

#[test]
fn a_single_resource_holding_a_list_is_shown_as_pairs() {
    let order = parse(
        r#"{"orderId":"ord_1","status":"fulfilled","groups":[{"collection":"c","areaKm2":1.0}]}"#,
    );
    let shown = table(&order, false);
    assert!(shown.starts_with("KEY"), "{shown}");
    assert!(shown.contains("\nstatus   fulfilled\n"), "{shown}");
    let page = parse(r#"{"subscriptions":[{"id":"s_1"}],"next":"c2"}"#);
    assert_eq!(table(&page, false), "ID\ns_1");
}

#[test]
fn numbers_are_shown_as_the_server_wrote_them() {
    let page = parse(
        r#"[{"id":"a","big":123456789012345678901234567890,"fine":0.1000000000000000000000000001,"kept":1.50}]"#,
    );
    assert_eq!(
        table(&page, false),
        "ID  BIG                             FINE                            KEPT\na   123456789012345678901234567890  0.1000000000000000000000000001  1.50"
    );
    let one = parse(r#"{"n":-98765432109876543210,"nested":[1e400,2.50]}"#);
    assert_eq!(
        table(&one, false),
        "KEY     VALUE\nn       -98765432109876543210\nnested  [1e400,2.50]"
    );
}

#[test]
fn escape_sequences_from_the_server_are_shown_not_obeyed() {
    let hostile = parse(r#"[{"na\u001b]0;pwned\u0007me":"x\u001b[2Jy"}]"#);
    let shown = table(&hostile, false);
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("x\\u{1b}[2Jy"), "{shown:?}");
    let one = parse(r#"{"k\u009b":"v"}"#);
    assert!(!table(&one, false).contains('\u{9b}'));
}

/// One STAC item (`--jq '.features[0]'`, a line of `search-stream`) holds `links`, a list of
/// objects that once passed for a page, so the item was drawn as a table of its links.
#[test]
fn a_single_stac_item_is_one_row_and_a_collection_is_pairs() {
    let item = parse(
        r#"{"type":"Feature","id":"S2A_1","collection":"sentinel-2-l2a","properties":{"datetime":"2024-01-02T03:04:05Z","eo:cloud_cover":3},"links":[{"rel":"collection","href":"http://x/c"}],"assets":{}}"#,
    );
    assert_eq!(
        table(&item, false),
        "ID     COLLECTION      DATETIME              CLOUD COVER\n\
         S2A_1  sentinel-2-l2a  2024-01-02T03:04:05Z  3"
    );
    let collection = parse(
        r#"{"type":"Collection","id":"sentinel-2-l2a","links":[{"rel":"self","href":"http://x/c"}],"providers":[{"name":"p"}]}"#,
    );
    let shown = table(&collection, false);
    assert!(shown.starts_with("KEY"), "{shown}");
    assert!(shown.contains("\nid  "), "{shown}");
}

/// A line break, a carriage return or a tab in a value is shown as the escape other output
/// shows it as, not as a space, which would show another value (`a b` for `a\nb`).
#[test]
fn line_breaks_and_tabs_in_cells_are_shown_as_escapes() {
    let list = parse(r#"[{"name":"two\nlines","note":"a\tb\rc"},{"name":"one line","note":"x"}]"#);
    assert_eq!(
        table(&list, false),
        "NAME           NOTE\ntwo\\u{a}lines  a\\u{9}b\\u{d}c\none line       x"
    );
}

/// A page with no rows is a table with no rows, not its own members as key / value pairs:
/// under the columns its list's name gives (STAC items, orders, jobs), or nothing at all.
#[test]
fn an_empty_page_is_a_table_without_rows() {
    let search = parse(
        r#"{"type":"FeatureCollection","features":[],"numberMatched":0,"links":[{"rel":"self","href":"x"}]}"#,
    );
    assert_eq!(
        table(&search, false),
        "ID  COLLECTION  DATETIME  CLOUD COVER"
    );
    let jobs = parse(r#"{"jobs":[],"page":3,"limit":10,"total":2}"#);
    assert_eq!(table(&jobs, false), "ID  STATUS  PROGRESS");
    let page = parse(r#"{"content":[],"page":999,"size":2,"totalElements":258}"#);
    assert_eq!(table(&page, false), "");
    let items = parse(r#"{"items":[],"total":300,"offset":100000}"#);
    assert_eq!(table(&items, false), "");
    assert_eq!(table(&parse("[]"), false), "");
    // A page whose first list is empty shows the list that has rows, named or not.
    let page = parse(r#"{"links":[],"subscriptions":[{"id":"s_1"}],"next":null}"#);
    assert_eq!(table(&page, false), "ID\ns_1");
    let page = parse(r#"{"data":[],"subscriptions":[{"id":"s_1"}],"next":null}"#);
    assert_eq!(table(&page, false), "ID\ns_1");
    // A resource that merely holds an empty list is still a resource.
    let one = parse(r#"{"id":"x","results":[]}"#);
    assert_eq!(
        table(&one, false),
        "KEY      VALUE\nid       x\nresults  []"
    );
}

/// A page holding two lists of well-known names shows the one `--all` walks (the SDK's
/// `page_item_field`), not the other.
#[test]
fn a_table_shows_the_list_a_page_walk_yields() {
    let text = r#"{"data":[{"id":"d_1"}],"results":[{"id":"r_1"}],"total":2}"#;
    let page = parse(text);
    let walked: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).expect("JSON");
    assert_eq!(geopera::page_item_field(&walked), Some("results"));
    assert_eq!(table(&page, false), "ID\nr_1");
}
