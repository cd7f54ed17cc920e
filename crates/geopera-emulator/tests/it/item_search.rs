//! Searching stored items (per project, per organization, and as a STAC API), their assets,
//! and the provenance graph between items and what produced them.

use serde_json::{json, Value};

use crate::common::{refused, Api, Resp};
use geopera_types::models::LineageGetOutput;

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .or_else(|| value["item"]["id"].as_str())
        .expect("an id")
        .to_owned()
}

/// A fresh project with three dated items at different places and cloud covers.
fn project_with_items(api: &Api) -> (String, Vec<String>) {
    let project = id(&api.ok("projects.create", json!({"name": "search"})));
    let collection = id(&api.ok(
        "collections.create",
        json!({"project_id": project, "name": "optical"}),
    ));
    let items = [
        (
            [10.0, 10.0, 11.0, 11.0],
            "2024-03-01T00:00:00Z",
            5.0,
            Some(&collection),
        ),
        (
            [20.0, 20.0, 21.0, 21.0],
            "2024-06-01T00:00:00Z",
            50.0,
            Some(&collection),
        ),
        ([10.5, 10.5, 12.0, 12.0], "2024-09-01T00:00:00Z", 15.0, None),
    ]
    .iter()
    .map(|(bbox, at, cloud, collection)| {
        id(&api.ok(
            "items.create",
            json!({"project_id": project, "collection_id": collection, "name": "scene",
                   "type": "satellite_capture", "bbox": bbox, "datetime": at,
                   "cloud_cover": cloud, "gsd": 0.5}),
        ))
    })
    .collect();
    (project, items)
}

/// The item ids of a page's features: their STAC ids, which are the items' own ids as the
/// items here are created without a `stac_id`.
fn ids(page: &Value) -> Vec<String> {
    page["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .map(str::to_owned)
        .collect()
}

#[test]
fn project_searches_filter_by_place_time_collection_and_cloud() {
    let api = Api::start();
    let (project, items) = project_with_items(&api);
    let all = api.ok("items.search", json!({"project_id": project}));
    assert_eq!(all["numberMatched"], 3);
    assert_eq!(ids(&all), items);

    let near = api.ok(
        "items.search",
        json!({"project_id": project, "bbox": [9.0, 9.0, 11.5, 11.5]}),
    );
    assert_eq!(ids(&near), vec![items[0].clone(), items[2].clone()]);
    let summer = api.ok(
        "items.search",
        json!({"project_id": project, "datetime": "2024-05-01T00:00:00Z/.."}),
    );
    assert_eq!(ids(&summer), vec![items[1].clone(), items[2].clone()]);
    let clear = api.ok(
        "items.search",
        json!({"project_id": project, "query": {"eo:cloud_cover": {"lt": 20}},
               "sortby": [{"field": "datetime", "direction": "desc"}]}),
    );
    assert_eq!(ids(&clear), vec![items[2].clone(), items[0].clone()]);
    let paged = api.ok(
        "items.search",
        json!({"project_id": project, "limit": 1, "offset": 1}),
    );
    assert_eq!(
        (paged["numberMatched"].clone(), ids(&paged)),
        (json!(3), vec![items[1].clone()])
    );

    let unknown = api.call(
        "items.search",
        json!({"project_id": project, "query": {"sun_elevation": {"gt": 10}}}),
    );
    assert_eq!(unknown.status, 422);
    assert!(String::from_utf8_lossy(&unknown.body).contains("sun_elevation"));
    // A refused operator is located as it was written; it was once lowercased there.
    let refused = api.call(
        "items.search",
        json!({"project_id": project, "query": {"eo:cloud_cover": {"GT": "x"}}}),
    );
    assert_eq!(refused.status, 422);
    let detail: Value = serde_json::from_slice(&refused.body).expect("json");
    assert_eq!(
        detail["detail"][0]["loc"],
        json!(["body", "query", "eo:cloud_cover", "GT"])
    );

    let org_wide = api.ok("items.search_org", json!({"limit": 500}));
    let found = ids(&org_wide);
    assert!(items.iter().all(|i| found.contains(i)));
    let other = api.emu.create_key_in_org("org_other_search", &["*"]);
    let theirs = api.call_as(&other, "items.search", json!({"project_id": project}));
    assert_eq!(theirs.status, 404);
}

/// An item whose geometry moves without a box of its own is found where it is: the box it was
/// made with stayed, so searches found it where it had been and missed it where it was.
#[test]
fn an_item_moved_without_a_box_is_found_where_it_is() {
    let api = Api::start();
    let (project, items) = project_with_items(&api);
    let moved = api.ok(
        "items.update",
        json!({"item_id": items[0], "geometry": {"type": "Point", "coordinates": [100.5, 10.5]}}),
    );
    assert_eq!(moved["bbox"], Value::Null, "{moved}");
    let found =
        |bbox: [f64; 4]| ids(&api.ok("items.search", json!({"project_id": project, "bbox": bbox})));
    assert_eq!(found([100.0, 10.0, 101.0, 11.0]), [items[0].clone()]);
    assert!(!found([9.0, 9.0, 10.9, 10.9]).contains(&items[0]));
    // Moved with a box of its own, that box is kept.
    let boxed = api.ok(
        "items.update",
        json!({"item_id": items[1], "geometry": {"type": "Point", "coordinates": [50.5, 5.5]},
               "bbox": [50.0, 5.0, 51.0, 6.0]}),
    );
    assert_eq!(boxed["bbox"], json!([50.0, 5.0, 51.0, 6.0]));
}

/// An interval that ends before it starts is a mistake (bounds swapped), not a search for
/// nothing: it is 422 at `datetime` on every item search, as `catalog.search` answers it,
/// rather than an empty page that reads as "no items".
#[test]
fn an_interval_ending_before_it_starts_is_422_at_datetime() {
    let api = Api::start();
    let (project, _) = project_with_items(&api);
    let swapped = "2024-09-01T00:00:00Z/2024-03-01T00:00:00Z";
    for (op, body) in [
        (
            "items.search",
            json!({"project_id": project, "datetime": swapped}),
        ),
        ("items.search_org", json!({"datetime": swapped})),
        ("stac.search", json!({"datetime": swapped})),
        (
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "datetime": swapped}),
        ),
    ] {
        refused(api.call(op, body), "datetime", op);
    }
    // One instant as both ends is an interval still.
    let same = "2024-03-01T00:00:00Z/2024-03-01T00:00:00Z";
    let found = api.ok(
        "items.search",
        json!({"project_id": project, "datetime": same}),
    );
    assert_eq!(found["numberMatched"], 1);
}

#[test]
fn the_stac_face_searches_by_ids_and_pages_from_one() {
    let api = Api::start();
    let (_, items) = project_with_items(&api);
    let by_id = api.call("stac.search", json!({"ids": [items[1]]}));
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.content_type(), "application/geo+json");
    assert_eq!(ids(&by_id.json()), vec![items[1].clone()]);
    let cql = api.call("stac.search", json!({"filter": {"op": "="}}));
    assert_eq!(cql.status, 422);
    let collections = api.ok("stac.collections.list", json!({}));
    assert!(collections["collections"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["title"] == "optical")));
}

#[test]
fn an_asset_downloads_until_deleted_and_provenance_walks_both_ways() {
    let api = Api::start();
    let (project, items) = project_with_items(&api);
    let assets = api.ok("items.list_assets", json!({"item_id": items[0]}));
    let asset = assets["assets"][0]["id"]
        .as_str()
        .expect("asset")
        .to_owned();
    let link = api.ok(
        "items.asset.download",
        json!({"item_id": items[0], "asset_id": asset}),
    );
    let url = link["url"].as_str().expect("url");
    let get = |url: &str| api.http.get(url).send().expect("GET").status().as_u16();
    assert_eq!(get(url), 200);
    // The link is signed as a finished job's are: altered or kept too long, it is refused.
    assert!(url.contains("signature="), "{url}");
    assert_eq!(get(&url.replace("signature=", "signature=00")), 403);
    assert_eq!(get(url.split('?').next().unwrap_or_default()), 403);
    api.emu
        .clock()
        .advance(std::time::Duration::from_secs(15 * 60));
    assert_eq!(get(url), 403, "expired");
    let bands = api.ok(
        "items.detect_asset_bands",
        json!({"item_id": items[0], "asset_id": asset}),
    );
    assert_eq!(
        bands["suggested_band_names"],
        json!(["red", "green", "blue", "nir"])
    );

    let copy = id(&api.ok("items.duplicate", json!({"item_id": items[0]})));
    let copy_of_copy = id(&api.ok("items.duplicate", json!({"item_id": copy})));
    let graph = |entity: &str, direction: &str| {
        let answer = api.ok(
            "provenance.get",
            json!({"entity_type": "item", "entity_id": entity, "direction": direction}),
        );
        serde_json::from_value::<LineageGetOutput>(answer.clone())
            .unwrap_or_else(|error| panic!("{error}: {answer}"))
    };
    let node = |entity: &str, depth: i64| LineageNodeSeen {
        entity_type: "item".to_owned(),
        entity_id: entity.to_owned(),
        depth,
    };
    let edge = |src: &str, dst: &str, depth: i64| {
        (
            src.to_owned(),
            dst.to_owned(),
            "duplicated_from".to_owned(),
            depth,
        )
    };

    let up = graph(&copy_of_copy, "up");
    assert_eq!(up.root["entity_id"], copy_of_copy);
    assert_eq!(up.root["entity_type"], "item");
    assert_eq!(
        seen_nodes(&up),
        [node(&copy_of_copy, 0), node(&copy, 1), node(&items[0], 2)]
    );
    assert_eq!(
        seen_edges(&up),
        [edge(&copy, &copy_of_copy, 1), edge(&items[0], &copy, 2)]
    );
    let down = graph(&items[0], "down");
    assert_eq!(
        seen_edges(&down),
        [edge(&items[0], &copy, 1), edge(&copy, &copy_of_copy, 2)]
    );
    // From the middle both ways, each edge once.
    let both = graph(&copy, "both");
    assert_eq!(
        seen_nodes(&both),
        [node(&copy, 0), node(&items[0], 1), node(&copy_of_copy, 1)]
    );
    assert_eq!(
        seen_edges(&both),
        [edge(&items[0], &copy, 1), edge(&copy, &copy_of_copy, 1)]
    );
    let sideways = api.call(
        "provenance.get",
        json!({"entity_type": "item", "entity_id": items[0], "direction": "sideways"}),
    );
    assert_eq!(sideways.status, 422);

    api.ok(
        "assets.delete",
        json!({"item_id": items[0], "asset_id": asset}),
    );
    let gone = api.call(
        "items.asset.download",
        json!({"item_id": items[0], "asset_id": asset}),
    );
    assert_eq!(gone.status, 404);
    let left = api.ok("items.list_assets", json!({"item_id": items[0]}));
    assert_eq!(left["total"], 0);
    // What the emulator keeps to know it is not part of the item as answered.
    let item = api.ok("items.get", json!({"item_id": items[0]}))["item"].clone();
    assert_eq!(item["id"], items[0].as_str(), "{item}");
    assert!(item.get("data_asset_deleted").is_none(), "{item}");
    let _ = project;
}

/// A walk goes as deep as `max_depth` asks, within the contract's bounds (default 20, at
/// most 50): a chain of 12 copies is walked whole, or cut where the caller asked.
#[test]
fn provenance_walks_as_deep_as_asked() {
    let api = Api::start();
    let (_, items) = project_with_items(&api);
    let mut chain = vec![items[0].clone()];
    for _ in 0..12 {
        let last = chain.last().cloned().unwrap_or_default();
        chain.push(id(&api.ok("items.duplicate", json!({"item_id": last}))));
    }
    let walk = |extra: Value| {
        let mut body = json!({"entity_type": "item", "entity_id": chain[12], "direction": "up"});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let answer = api.ok("provenance.get", body);
        let graph: LineageGetOutput = serde_json::from_value(answer.clone())
            .unwrap_or_else(|error| panic!("{error}: {answer}"));
        seen_nodes(&graph).iter().map(|node| node.depth).max()
    };
    assert_eq!(
        walk(json!({})),
        Some(12),
        "the default depth of 20 reaches the original"
    );
    assert_eq!(walk(json!({"max_depth": 50})), Some(12));
    assert_eq!(walk(json!({"max_depth": 11})), Some(11));
    let too_deep = api.call(
        "provenance.get",
        json!({"entity_type": "item", "entity_id": chain[12], "direction": "up", "max_depth": 51}),
    );
    assert_eq!(too_deep.status, 422);
}

/// Every root kind the contract names walks: a processing job leads down to the item made
/// with its id, and a collection or a project to the items it holds; a clip job is a
/// `clip_job`, and `job` names either. A processing job, a collection and a project were 404
/// as roots, and a job node was named `job`, a kind the contract does not know.
#[test]
fn provenance_starts_from_every_kind_of_root() {
    let api = Api::start();
    let (project, items) = project_with_items(&api);
    let job = api.ok(
        "processing.execute",
        json!({"process_id": "ndvi", "workspaceId": project}),
    )["id"]
        .as_str()
        .expect("a job id")
        .to_owned();
    let made = id(&api.ok(
        "items.create",
        json!({"project_id": project, "name": "ndvi result", "type": "derived_raster",
               "bbox": [10.0, 10.0, 11.0, 11.0], "job_id": job}),
    ));
    let down = |kind: &str, entity: &str| -> (Value, Vec<(String, String, i64)>) {
        let answer = api.ok(
            "provenance.get",
            json!({"entity_type": kind, "entity_id": entity, "direction": "down", "max_depth": 1}),
        );
        let graph: LineageGetOutput = serde_json::from_value(answer.clone())
            .unwrap_or_else(|error| panic!("{error}: {answer}"));
        let mut nodes: Vec<(String, String, i64)> = seen_nodes(&graph)
            .into_iter()
            .map(|node| (node.entity_type, node.entity_id, node.depth))
            .collect();
        nodes.sort();
        (answer["root"].clone(), nodes)
    };
    let (root, nodes) = down("processing_job", &job);
    assert_eq!(root["entity_type"], "processing_job");
    let own_status = || api.ok("processing.job.get", json!({"job_id": job}))["status"].clone();
    assert_eq!(root["status"], own_status(), "{root}");
    assert_eq!(
        nodes,
        vec![
            ("item".to_owned(), made.clone(), 1),
            ("processing_job".to_owned(), job.clone(), 0)
        ]
    );
    let (root, _) = down("job", &job);
    assert_eq!(root["entity_type"], "processing_job", "job names it too");
    // The status follows the clock, as the job's own answers do.
    api.emu
        .clock()
        .advance(std::time::Duration::from_secs(3600));
    let (root, _) = down("processing_job", &job);
    assert_eq!(root["status"], "succeeded", "{root}");
    assert_eq!(root["status"], own_status());
    let up = api.ok(
        "provenance.get",
        json!({"entity_type": "item", "entity_id": made, "direction": "up"}),
    );
    assert_eq!(up["edges"][0]["src_type"], "processing_job", "{up}");

    let collection = api.ok("items.get", json!({"item_id": items[0]}))["item"]["collection_id"]
        .as_str()
        .expect("a collection")
        .to_owned();
    let (root, nodes) = down("collection", &collection);
    assert_eq!(root["entity_id"], collection.as_str());
    let held: Vec<&str> = nodes
        .iter()
        .filter(|(kind, _, _)| kind == "item")
        .map(|(_, item, _)| item.as_str())
        .collect();
    let mut in_collection = vec![items[0].as_str(), items[1].as_str()];
    in_collection.sort_unstable();
    assert_eq!(held, in_collection);
    let (_, nodes) = down("project", &project);
    assert_eq!(
        nodes.len(),
        1 + items.len() + 1,
        "the project and its four items: {nodes:?}"
    );
    assert_eq!(
        api.call(
            "provenance.get",
            json!({"entity_type": "project", "entity_id": "prj_none"}),
        )
        .status,
        404
    );
}

/// A node of a provenance graph, comparable.
#[derive(Debug, PartialEq)]
struct LineageNodeSeen {
    entity_type: String,
    entity_id: String,
    depth: i64,
}

fn seen_nodes(graph: &LineageGetOutput) -> Vec<LineageNodeSeen> {
    let nodes = graph.nodes.as_deref().unwrap_or_default();
    nodes
        .iter()
        .map(|node| LineageNodeSeen {
            entity_type: node.entity_type.clone(),
            entity_id: node.entity_id.clone(),
            depth: node.depth,
        })
        .collect()
}

/// A graph's edges as (source, derived, relation, depth), for items.
fn seen_edges(graph: &LineageGetOutput) -> Vec<(String, String, String, i64)> {
    let edges = graph.edges.as_deref().unwrap_or_default();
    edges
        .iter()
        .map(|edge| {
            assert_eq!(edge.src_type.as_deref(), Some("item"));
            assert_eq!(edge.dst_type.as_deref(), Some("item"));
            let text = |value: &Option<String>| value.clone().unwrap_or_default();
            (
                text(&edge.src_id),
                text(&edge.dst_id),
                text(&edge.relation),
                edge.depth,
            )
        })
        .collect()
}

/// A download link outlives nothing: `assets.delete` once left a link handed out before it
/// serving the file until it expired, while `items.asset.download` already answered 404.
#[test]
fn a_download_link_is_404_once_its_asset_is_deleted() {
    let api = Api::start();
    let (_, items) = project_with_items(&api);
    let assets = api.ok("items.list_assets", json!({"item_id": items[0]}));
    let asset = assets["assets"][0]["id"]
        .as_str()
        .expect("asset")
        .to_owned();
    let link = api.ok(
        "items.asset.download",
        json!({"item_id": items[0], "asset_id": asset}),
    );
    let url = link["url"].as_str().expect("url");
    let get = |url: &str| Resp::read(api.http.get(url).send().expect("GET")).expect("read");
    assert_eq!(get(url).status, 200);

    api.ok(
        "assets.delete",
        json!({"item_id": items[0], "asset_id": asset}),
    );
    let gone = get(url);
    assert_eq!(gone.status, 404, "{}", String::from_utf8_lossy(&gone.body));
    assert_eq!(gone.content_type(), "application/problem+json");
    // The item itself stays.
    assert_eq!(
        api.call("items.get", json!({"item_id": items[0]})).status,
        200
    );
}

/// The contract lets `stac.search` ask for up to 10,000 features a page; answering fewer than
/// asked (and fewer than match) reads as the last page to a client that stops at a short one.
#[test]
fn a_stac_search_page_holds_the_limit_the_contract_allows() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "many"})));
    for _ in 0..800 {
        api.ok(
            "items.create",
            json!({"project_id": project, "name": "scene", "type": "satellite_capture",
                   "bbox": [10.0, 10.0, 11.0, 11.0], "datetime": "2024-03-01T00:00:00Z"}),
        );
    }
    let answer = api.ok("stac.search", json!({"limit": 2000}));
    let matched = answer["numberMatched"].as_u64().expect("numberMatched");
    assert!(matched > 1000, "{matched}");
    assert_eq!(
        answer["numberReturned"].as_u64(),
        Some(matched.min(2000)),
        "a page of limit 2000 is short while {matched} match; context {}",
        answer["context"]
    );
}

/// Items' datetimes are compared to the fraction of a second: the one at `.9` sorts after
/// the one at `.1` (created first), and a start at `.5` finds only the later one; the
/// fraction was dropped, so the two tied in creation order and both passed the bound.
#[test]
fn item_datetimes_compare_to_the_fraction_of_a_second() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "fractions"})));
    let item = |at: &str| {
        id(&api.ok(
            "items.create",
            json!({"project_id": project, "name": "scene", "type": "satellite_capture",
                   "bbox": [10.0, 10.0, 11.0, 11.0], "datetime": at}),
        ))
    };
    let later = item("2024-06-01T00:00:00.9Z");
    let earlier = item("2024-06-01T00:00:00.1Z");
    let sorted = api.ok(
        "items.search",
        json!({"project_id": project,
               "sortby": [{"field": "datetime", "direction": "asc"}]}),
    );
    assert_eq!(ids(&sorted), vec![earlier.clone(), later.clone()]);
    let bounded = api.ok(
        "items.search",
        json!({"project_id": project, "datetime": "2024-06-01T00:00:00.5Z/.."}),
    );
    assert_eq!(ids(&bounded), vec![later]);
    let instant = api.ok(
        "items.search",
        json!({"project_id": project, "datetime": "2024-06-01T00:00:00.1Z"}),
    );
    assert_eq!(ids(&instant), vec![earlier]);
}

/// An item that covers a span of time, `start_datetime` to `end_datetime` with no `datetime`
/// (as STAC writes one) or beside it, is found by every search interval or instant that
/// overlaps the span, on each search face, and by none that misses it; such an item was
/// matched by no dated search at all.
#[test]
fn an_item_covering_a_span_is_found_by_searches_that_overlap_it() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "spans"})));
    // The organization's other items are kept out of the searches by a collection of
    // this test's own.
    let collection = id(&api.ok(
        "collections.create",
        json!({"project_id": project, "name": "spans"}),
    ));
    let item = |dates: Value| {
        let mut body = json!({"project_id": project, "collection_id": collection,
                              "name": "scene", "type": "satellite_capture",
                              "bbox": [10.0, 10.0, 11.0, 11.0]});
        body.as_object_mut()
            .expect("an object")
            .extend(dates.as_object().expect("dates").clone());
        id(&api.ok("items.create", body))
    };
    let spanned = item(json!({"start_datetime": "2024-04-01T00:00:00Z",
                              "end_datetime": "2024-04-30T00:00:00Z"}));
    let beside = item(json!({"datetime": "2024-04-10T00:00:00Z",
                             "start_datetime": "2024-04-05T00:00:00Z",
                             "end_datetime": "2024-04-15T00:00:00Z"}));
    let half = item(json!({"start_datetime": "2024-04-01T00:00:00Z"}));
    // Sorted by `datetime`, an item without one sits at its `start_datetime`: both spans
    // starting on April 1 (tied, so in creation order) before the one dated April 10.
    let sorted = api.ok(
        "items.search",
        json!({"project_id": project,
               "sortby": [{"field": "datetime", "direction": "asc"}]}),
    );
    assert_eq!(
        ids(&sorted),
        vec![spanned.clone(), half.clone(), beside.clone()]
    );
    let found = |datetime: &str| {
        let only = [&collection];
        let faces = [
            (
                "items.search",
                json!({"project_id": project, "datetime": datetime}),
            ),
            (
                "items.search_org",
                json!({"collections": only, "datetime": datetime}),
            ),
            (
                "stac.search",
                json!({"collections": only, "datetime": datetime}),
            ),
        ];
        let mut seen: Vec<Vec<String>> = faces
            .into_iter()
            .map(|(op, body)| {
                let mut found = ids(&api.ok(op, body));
                found.sort();
                found
            })
            .collect();
        seen.dedup();
        assert_eq!(
            seen.len(),
            1,
            "the search faces disagree at {datetime}: {seen:?}"
        );
        seen.remove(0)
    };
    let both = {
        let mut both = vec![spanned.clone(), beside.clone()];
        both.sort();
        both
    };
    assert_eq!(found("2024-04-20T00:00:00Z"), vec![spanned.clone()]);
    assert_eq!(found("2024-04-12T00:00:00Z"), both);
    assert_eq!(found("2024-04-29T00:00:00Z/.."), vec![spanned.clone()]);
    assert_eq!(found("../2024-04-06T00:00:00Z"), both);
    assert_eq!(
        found("2024-03-01T00:00:00Z/2024-04-01T00:00:00Z"),
        vec![spanned]
    );
    assert_eq!(found("2024-05-01T00:00:00Z/.."), Vec::<String>::new());
    assert!(
        !found("../..").contains(&half),
        "an item with half a span has no time to meet"
    );
}

/// `sortby` on `datetime` orders by the items' datetimes, not by when they were created, in
/// both directions and on every search that sorts; an item without one comes last either way.
#[test]
fn sorting_by_datetime_follows_the_datetimes_not_creation_order() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "sorted"})));
    // Created September, March, undated, June (written with an offset: 31 May, 23:00 UTC).
    let created: Vec<String> = [
        json!("2024-09-01T00:00:00Z"),
        json!("2024-03-01T00:00:00Z"),
        Value::Null,
        json!("2024-06-01T01:00:00+02:00"),
    ]
    .iter()
    .map(|at| {
        id(&api.ok(
            "items.create",
            json!({"project_id": project, "name": "scene", "type": "satellite_capture",
                   "bbox": [10.0, 10.0, 11.0, 11.0], "datetime": at}),
        ))
    })
    .collect();
    let [september, march, undated, june] = [0, 1, 2, 3].map(|i| created[i].clone());
    let oldest_first = vec![
        march.clone(),
        june.clone(),
        september.clone(),
        undated.clone(),
    ];
    let newest_first = vec![september, june, march, undated];
    let sortby = |field: &str, direction: &str| json!([{"field": field, "direction": direction}]);
    let search = |direction: &str| {
        api.ok(
            "items.search",
            json!({"project_id": project, "sortby": sortby("datetime", direction)}),
        )
    };
    assert_eq!(ids(&search("asc")), oldest_first, "oldest first");
    assert_eq!(ids(&search("desc")), newest_first, "newest first");
    let stac = |direction: &str| {
        api.ok(
            "stac.search",
            json!({"ids": created, "sortby": sortby("properties.datetime", direction)}),
        )
    };
    assert_eq!(ids(&stac("asc")), oldest_first, "stac.search, oldest first");
    assert_eq!(
        ids(&stac("desc")),
        newest_first,
        "stac.search, newest first"
    );
    let by_creation = api.ok(
        "items.search",
        json!({"project_id": project, "sortby": sortby("created", "desc")}),
    );
    let mut newest_created = created.clone();
    newest_created.reverse();
    assert_eq!(ids(&by_creation), newest_created, "created, newest first");
    // A field written with STAC's GET sign sorts as the sign says, whatever `direction` is
    // (`asc` unless given); it was dropped, and the order turned round unseen.
    let signed = |field: &str| {
        api.ok(
            "items.search",
            json!({"project_id": project, "sortby": [{"field": field}]}),
        )
    };
    assert_eq!(ids(&signed("-datetime")), newest_first);
    assert_eq!(ids(&signed("+datetime")), oldest_first);
    // One sign at most: a second is no field it sorts by.
    let twice = api.call(
        "items.search",
        json!({"project_id": project, "sortby": [{"field": "--datetime"}]}),
    );
    assert_eq!(twice.status, 422);
    // And `format: "stac"`, which the contract documents, answers the same STAC features.
    let stac_format = api.ok(
        "items.search",
        json!({"project_id": project, "format": "stac", "sortby": sortby("datetime", "asc")}),
    );
    assert_eq!(ids(&stac_format), oldest_first);
}

/// A `bbox` whose west edge is east of its east edge crosses the antimeridian, as GeoJSON and
/// STAC write it: the item searches once refused it. It matches items on both sides (and an
/// item whose own box crosses), and a coordinate off the globe is 422 at `bbox` on every
/// search that takes one, as `catalog.search` answers it, where latitudes beyond ±90 were
/// once accepted.
#[test]
fn a_bbox_across_the_antimeridian_matches_both_sides_and_off_the_globe_is_422() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "pacific"})));
    let [east_side, west_side, greenwich, astride] = [
        [176.0, -5.0, 177.0, -4.0],
        [-177.0, 4.0, -176.0, 5.0],
        [0.0, 0.0, 1.0, 1.0],
        [179.5, 20.0, -179.5, 21.0],
    ]
    .map(|bbox| {
        id(&api.ok(
            "items.create",
            json!({"project_id": project, "name": "scene", "type": "satellite_capture",
                   "bbox": bbox, "datetime": "2024-03-01T00:00:00Z"}),
        ))
    });
    let across = json!([170.0, -30.0, -170.0, 30.0]);
    let ops = [
        ("items.search", json!({"project_id": project})),
        ("items.search_org", json!({})),
        ("stac.search", json!({})),
    ];
    for (op, base) in &ops {
        let mut body = base.clone();
        body["bbox"] = across.clone();
        let answer = api.call(op, body);
        assert_eq!(
            answer.status,
            200,
            "{op}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(
            ids(&answer.json()),
            vec![east_side.clone(), west_side.clone(), astride.clone()],
            "{op}"
        );
        // Only the western half of the crossing item is in this box.
        let mut body = base.clone();
        body["bbox"] = json!([-180.0, 20.0, -179.0, 21.0]);
        assert_eq!(ids(&api.ok(op, body)), vec![astride.clone()], "{op}");
        // With heights: west, south, lowest, east, north, highest.
        let mut body = base.clone();
        body["bbox"] = json!([-1.0, -1.0, 0.0, 0.5, 0.5, 100.0]);
        assert_eq!(ids(&api.ok(op, body)), vec![greenwich.clone()], "{op}");
    }
    let catalog = json!({"host_name": "earthsearch-aws"});
    for bbox in [
        json!([0.0, -91.0, 1.0, 1.0]),
        json!([0.0, 0.0, 1.0, 90.5]),
        json!([-181.0, 0.0, 1.0, 1.0]),
        json!([0.0, 0.0, 180.5, 1.0]),
        json!([0.0, 2.0, 1.0, 1.0]),
        json!([0.0, 0.0, 1.0]),
    ] {
        for (op, base) in ops.iter().chain([&("catalog.search", catalog.clone())]) {
            let mut body = base.clone();
            body["bbox"] = bbox.clone();
            refused(api.call(op, body), "bbox", &format!("{op} {bbox}"));
        }
    }
    // A member of the stream's box that is not a number is refused at its place, as a
    // search's is; it was once skipped and the four numbers after it taken as a box.
    let skipped = api.call(
        "catalog.search_stream",
        json!({"host_name": "earthsearch-aws", "bbox": ["x", 0.0, 0.0, 1.0, 1.0]}),
    );
    assert_eq!(skipped.status, 422);
    assert_eq!(
        skipped.json()["detail"][0]["loc"],
        json!(["body", "bbox", 0])
    );
}

/// Regression: `items.create` and `items.update` kept any `bbox` and `geometry`, so an item
/// could sit at latitude 95 (which TileJSON then gave as its bounds) while every search
/// refuses such a box. Both are now held to the searches' rule, 422 at the field; the boxes
/// and geometries GeoJSON allows (null, heights, across the antimeridian, every geometry
/// type) are kept as before.
#[test]
fn an_items_bbox_and_geometry_off_the_globe_are_422_at_the_field() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "stored"})));
    let create = |extra: Value| {
        let mut body = json!({"project_id": project, "name": "scene",
                              "type": "satellite_capture"});
        for (name, value) in extra.as_object().expect("members") {
            body[name] = value.clone();
        }
        api.call("items.create", body)
    };
    let kept = create(json!({"bbox": [10.0, 10.0, 11.0, 11.0]}));
    assert_eq!(kept.status, 200);
    let item = id(&kept.json());
    for bbox in [
        json!([0.0, -91.0, 1.0, 1.0]),
        json!([0.0, 0.0, 1.0, 95.0]),
        json!([-181.0, 0.0, 1.0, 1.0]),
        json!([0.0, 2.0, 1.0, 1.0]),
        json!([0.0, 0.0, 1.0]),
        json!([]),
    ] {
        refused(
            create(json!({"bbox": bbox})),
            "bbox",
            &format!("create {bbox}"),
        );
        refused(
            api.call("items.update", json!({"item_id": item, "bbox": bbox})),
            "bbox",
            &format!("update {bbox}"),
        );
    }
    let ring = json!([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]);
    for geometry in [
        json!({"type": "Point", "coordinates": [10.0, 95.0]}),
        json!({"type": "Point", "coordinates": [200.0, 0.0]}),
        json!({"type": "LineString", "coordinates": [[0.0, 0.0], [0.0, -100.0]]}),
        json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 91.0], [0.0, 0.0]]]}),
        json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0.0, 90.5]}]}),
        json!({"type": "Polygon"}),
        json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": ring}}),
        json!({"coordinates": [0.0, 0.0]}),
    ] {
        refused(
            create(json!({"geometry": geometry})),
            "geometry",
            &format!("create {geometry}"),
        );
        refused(
            api.call(
                "items.update",
                json!({"item_id": item, "geometry": geometry}),
            ),
            "geometry",
            &format!("update {geometry}"),
        );
    }
    // Nothing refused was kept.
    let stored = api.ok("items.get", json!({"item_id": item}))["item"].clone();
    assert_eq!(stored["bbox"], json!([10.0, 10.0, 11.0, 11.0]));
    assert_eq!(stored["geometry"], Value::Null);

    for allowed in [
        json!({"bbox": null, "geometry": null}),
        json!({"bbox": [-1.0, -1.0, 0.0, 0.5, 0.5, 100.0]}),
        json!({"bbox": [179.5, 20.0, -179.5, 21.0]}),
        json!({"bbox": [-180.0, -90.0, 180.0, 90.0]}),
        json!({"geometry": {"type": "Point", "coordinates": [180.0, -90.0, 12.5]}}),
        json!({"geometry": {"type": "MultiPoint", "coordinates": []}}),
        json!({"geometry": {"type": "Polygon", "coordinates": ring}}),
        json!({"geometry": {"type": "MultiLineString", "coordinates": [[[0.0, 0.0], [1.0, 1.0]]]}}),
        json!({"geometry": {"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [0.0, 0.0]},
            {"type": "MultiPolygon", "coordinates": [ring]}]}}),
    ] {
        let made = create(allowed.clone());
        assert_eq!(
            made.status,
            200,
            "create {allowed}: {}",
            String::from_utf8_lossy(&made.body)
        );
        let mut update = allowed.clone();
        update["item_id"] = json!(item);
        let changed = api.call("items.update", update);
        assert_eq!(
            changed.status,
            200,
            "update {allowed}: {}",
            String::from_utf8_lossy(&changed.body)
        );
    }
}

/// Regression: `stac.search` ignored `intersects` when a `bbox` came with it, while
/// `catalog.search` matched their overlap. STAC API item search allows only one of the two;
/// every search that takes both now answers both with 422 naming each, and either alone
/// still filters.
#[test]
fn a_search_given_both_bbox_and_intersects_is_422_naming_both() {
    let api = Api::start();
    let (_, items) = project_with_items(&api);
    let polygon = json!({"type": "Polygon", "coordinates":
        [[[19.5, 19.5], [21.5, 19.5], [21.5, 21.5], [19.5, 21.5], [19.5, 19.5]]]});
    let bbox = json!([9.0, 9.0, 11.5, 11.5]);
    let catalog = json!({"host_name": "earthsearch-aws"});
    for (op, base) in [
        ("stac.search", json!({})),
        ("catalog.search", catalog.clone()),
        ("catalog.search_stream", catalog.clone()),
        ("catalog.federated_search", json!({})),
    ] {
        let mut both = base.clone();
        both["bbox"] = bbox.clone();
        both["intersects"] = polygon.clone();
        let answer = api.call(op, both);
        let body = String::from_utf8_lossy(&answer.body).into_owned();
        assert_eq!(answer.status, 422, "{op}: {body}");
        let locs: Vec<Value> = answer.json()["detail"]
            .as_array()
            .expect("detail")
            .iter()
            .map(|failure| failure["loc"].clone())
            .collect();
        assert_eq!(
            locs,
            vec![json!(["body", "bbox"]), json!(["body", "intersects"])],
            "{op}: {body}"
        );
        for (name, value) in [("bbox", &bbox), ("intersects", &polygon)] {
            let mut alone = base.clone();
            alone[name] = value.clone();
            // A null beside it is not given.
            alone[if name == "bbox" { "intersects" } else { "bbox" }] = Value::Null;
            let answer = api.call(op, alone);
            assert_eq!(
                answer.status,
                200,
                "{op} {name}: {}",
                String::from_utf8_lossy(&answer.body)
            );
        }
    }
    let by_geometry = api.ok("stac.search", json!({"intersects": polygon}));
    assert_eq!(ids(&by_geometry), vec![items[1].clone()]);
    let by_box = api.ok("stac.search", json!({"bbox": bbox}));
    assert_eq!(ids(&by_box), vec![items[0].clone(), items[2].clone()]);
}

/// Regression: a search's `intersects` needed only to hold coordinates, so a position off the
/// globe (a longitude of 200, a latitude of 95), a ring left open or a Feature was searched
/// with as its bounding box. Every search that takes one now holds it to the rule an item's
/// geometry is held to, with 422 at `intersects`.
#[test]
fn an_intersects_that_is_no_geometry_on_the_globe_is_422_at_intersects() {
    let api = Api::start();
    let catalog = json!({"host_name": "earthsearch-aws"});
    let square = |east: f64, north: f64| {
        json!({"type": "Polygon", "coordinates":
            [[[0.0, 0.0], [east, 0.0], [east, north], [0.0, north], [0.0, 0.0]]]})
    };
    for (op, base) in [
        ("stac.search", json!({})),
        ("catalog.search", catalog.clone()),
        ("catalog.search_stream", catalog.clone()),
        ("catalog.federated_search", json!({})),
    ] {
        for refused in [
            json!({"type": "Point", "coordinates": [200.0, 10.0]}),
            json!({"type": "Point", "coordinates": [10.0, 95.0]}),
            square(190.0, 10.0),
            square(10.0, -91.0),
            json!({"type": "Polygon", "coordinates":
                [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]}),
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.0, 1.0]}}),
            json!({"coordinates": [1.0, 1.0]}),
            json!({"type": "MultiPoint", "coordinates": []}),
        ] {
            let mut body = base.clone();
            body["intersects"] = refused.clone();
            let answer = api.call(op, body);
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            assert_eq!(answer.status, 422, "{op} {refused}: {text}");
            let locs: Vec<Value> = answer.json()["detail"]
                .as_array()
                .expect("detail")
                .iter()
                .map(|failure| failure["loc"].clone())
                .collect();
            assert_eq!(locs, vec![json!(["body", "intersects"])], "{op}: {text}");
        }
        let mut body = base.clone();
        body["intersects"] = square(180.0, 90.0);
        let answer = api.call(op, body);
        assert_eq!(
            answer.status,
            200,
            "{op}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
}

/// An item's STAC feature is one STAC 1.0.0 allows: no `bbox` without a geometry, a
/// geometry's box when the item's was cleared by an update of its geometry alone, and no
/// `collection` when it is in none; each was written as `null`.
#[test]
fn a_stac_feature_has_a_box_with_its_geometry_and_no_null_members() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "stac"})));
    let bare = id(&api.ok(
        "items.create",
        json!({"project_id": project, "name": "bare", "type": "clip"}),
    ));
    let feature = api.ok("items.get_stac", json!({"item_id": bare}));
    assert!(feature.get("bbox").is_none(), "{feature}");
    assert!(feature.get("collection").is_none(), "{feature}");

    let placed = id(&api.ok(
        "items.create",
        json!({"project_id": project, "name": "placed", "type": "clip",
               "bbox": [10.0, 10.0, 11.0, 11.0]}),
    ));
    let square = json!({"type": "Polygon", "coordinates": [[[20.0, 20.0], [22.0, 20.0],
                        [22.0, 23.0], [20.0, 23.0], [20.0, 20.0]]]});
    api.ok(
        "items.update",
        json!({"item_id": placed, "geometry": square}),
    );
    let feature = api.ok("items.get_stac", json!({"item_id": placed}));
    assert_eq!(
        feature["bbox"],
        json!([20.0, 20.0, 22.0, 23.0]),
        "{feature}"
    );
}

/// Regression: the `collection` link of an item that `items.get_stac` and `stac.search`
/// answer led to an operation's URL, which a `GET` cannot reach. It leads to the collection
/// as `stac.collections.list` answers it, for the organization's own credentials only.
#[test]
fn a_stac_items_collection_link_leads_to_its_collection() {
    let api = Api::start();
    let (_project, items) = project_with_items(&api);
    let item = api.ok("items.get_stac", json!({"item_id": items[0]}));
    let href = item["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|link| link["rel"] == "collection")
        .and_then(|link| link["href"].as_str())
        .expect("a collection link")
        .to_owned();
    let get = |token: Option<&str>| {
        let mut request = api.http.get(&href);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Resp::read(request.send().expect("GET")).expect("an answer")
    };
    let answer = get(Some(api.emu.api_key()));
    assert_eq!(answer.status, 200, "{href}: {:?}", answer.body);
    let listed = api.ok("stac.collections.list", json!({}));
    let expected = listed["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| Some(&c["id"]) == item.get("collection"))
        .expect("the item's collection is listed")
        .clone();
    assert_eq!(answer.json(), expected);
    let self_link = expected["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|link| link["rel"] == "self")
        .expect("a self link");
    assert_eq!(self_link["href"], href.as_str());

    assert_eq!(get(None).status, 401, "without credentials");
    let other = api.emu.create_key_in_org("org_other", &["*"]);
    assert_eq!(get(Some(&other)).status, 404, "another organization's");
    let missing = Resp::read(
        api.http
            .get(format!("{}/collections/col_missing", api.emu.base_url()))
            .bearer_auth(api.emu.api_key())
            .send()
            .expect("GET"),
    )
    .expect("an answer");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type(), "application/problem+json");
}

/// A GET of `href` with `token` as the bearer, or without credentials.
fn get_as(api: &Api, href: &str, token: Option<&str>) -> Resp {
    let mut request = api.http.get(href);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Resp::read(request.send().expect("GET")).expect("an answer")
}

fn link<'a>(document: &'a Value, rel: &str) -> Option<&'a str> {
    document["links"]
        .as_array()?
        .iter()
        .find(|link| link["rel"] == rel)?["href"]
        .as_str()
}

/// The items page of one of the catalog's collections lists that collection's catalog items,
/// as `catalog.search` finds them, page after page by its `next` link with none repeated;
/// it was always empty, as only the organization's own items were searched.
#[test]
fn a_catalog_collections_items_page_lists_its_items() {
    let api = Api::start();
    let key = Some(api.emu.api_key());
    let first = get_as(
        &api,
        &format!(
            "{}/collections/sentinel-1-grd/items?limit=3",
            api.emu.base_url()
        ),
        key,
    );
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let first = first.json();
    let matched = first["numberMatched"].as_i64().expect("a count");
    let searched = api.ok(
        "catalog.search",
        json!({"host_name": "earthsearch-aws", "collections": ["sentinel-1-grd"], "limit": 1}),
    );
    assert_eq!(json!(matched), searched["numberMatched"]);
    assert!(first.get("next").is_none(), "no search token: {first}");
    let ids = |page: &Value| -> Vec<String> {
        let features = page["features"].as_array().expect("features");
        assert!(
            features.iter().all(|f| f["collection"] == "sentinel-1-grd"),
            "{page}"
        );
        features
            .iter()
            .filter_map(|f| f["id"].as_str().map(str::to_owned))
            .collect()
    };
    let mut seen = ids(&first);
    assert_eq!(seen.len(), 3);
    let next = link(&first, "next").expect("a next page").to_owned();
    let second = get_as(&api, &next, key);
    assert_eq!(second.status, 200, "{next}");
    let second = second.json();
    assert_eq!(second["context"]["page"], 2, "{second}");
    let more = ids(&second);
    assert_eq!(more.len(), 3);
    assert!(
        more.iter().all(|id| !seen.contains(id)),
        "{seen:?} {more:?}"
    );
    seen.extend(more);
    let walked = api.ok(
        "catalog.search",
        json!({"host_name": "earthsearch-aws", "collections": ["sentinel-1-grd"], "limit": 6}),
    );
    assert_eq!(seen, ids(&walked), "the search's own order");
    assert_eq!(
        get_as(&api, &next, None).status,
        401,
        "the catalog is the caller's to search"
    );
}

/// Regression: an item's `self` link was `items.get_stac`'s URL with the id in its query,
/// which a GET cannot reach (405). It leads to the item as that operation answers it: under
/// its collection, or at `/items/{id}` for an item in none, for the organization's own
/// credentials only.
#[test]
fn a_stac_items_self_link_answers_a_get_as_items_get_stac_does() {
    let api = Api::start();
    let (_project, items) = project_with_items(&api);
    let other = api.emu.create_key_in_org("org_other", &["*"]);
    let key = api.emu.api_key().to_owned();
    // The first is in a collection, the last in none.
    for item in [&items[0], &items[2]] {
        let feature = api.ok("items.get_stac", json!({"item_id": item}));
        let href = link(&feature, "self").expect("a self link").to_owned();
        let answer = get_as(&api, &href, Some(&key));
        assert_eq!(answer.status, 200, "{href}: {:?}", answer.body);
        assert_eq!(answer.content_type(), "application/geo+json");
        assert_eq!(answer.json(), feature, "{href}");
        assert_eq!(get_as(&api, &href, None).status, 401, "{href}");
        assert_eq!(get_as(&api, &href, Some(&other)).status, 404, "{href}");
    }
    let in_collection = api.ok("items.get_stac", json!({"item_id": items[0]}));
    let collection = in_collection["collection"].as_str().expect("a collection");
    assert!(link(&in_collection, "self").is_some_and(
        |href| href.ends_with(&format!("/collections/{collection}/items/{}", items[0]))
    ));
    // One URL per item: not under a collection it is not in.
    let base = api.emu.base_url();
    let elsewhere = format!("{base}/collections/{collection}/items/{}", items[2]);
    let answer = get_as(&api, &elsewhere, Some(&key));
    assert_eq!(answer.status, 404);
    assert_eq!(answer.content_type(), "application/problem+json");
}

/// Regression: a collection's `items` link was `stac.search`'s URL, which a GET cannot reach
/// (405). It leads to the collection's items, as `stac.search` limited to it answers them,
/// paged by `page` and `limit` with a `next` link until the last page.
#[test]
fn a_collections_items_link_pages_through_its_items() {
    let api = Api::start();
    let (_project, items) = project_with_items(&api);
    let key = api.emu.api_key().to_owned();
    let ours = api.ok("items.get_stac", json!({"item_id": items[0]}))["collection"].clone();
    let listed = api.ok("stac.collections.list", json!({}));
    let collection = listed["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|c| c["id"] == ours)
        .expect("the items' collection is listed");
    let href = link(collection, "items").expect("an items link").to_owned();
    let whole = get_as(&api, &href, Some(&key));
    assert_eq!(whole.status, 200, "{href}: {:?}", whole.body);
    assert_eq!(whole.content_type(), "application/geo+json");
    let whole = whole.json();
    assert_eq!(whole["type"], "FeatureCollection");
    // The first two items are in the collection, the third in none.
    assert_eq!(ids(&whole), items[..2]);
    assert_eq!(link(&whole, "next"), None, "{whole}");
    assert_eq!(link(&whole, "collection"), link(collection, "self"));

    let mut found = Vec::new();
    let mut next = Some(format!("{href}?limit=1"));
    let mut pages = 0;
    while let Some(href) = next.take() {
        pages += 1;
        assert!(pages <= 5, "the pages never end: {found:?}");
        let page = get_as(&api, &href, Some(&key));
        assert_eq!(page.status, 200, "{href}: {:?}", page.body);
        let page = page.json();
        if pages > 1 {
            // A `next` link is the page's own `self`.
            assert_eq!(link(&page, "self"), Some(href.as_str()));
        }
        found.extend(ids(&page));
        next = link(&page, "next").map(str::to_owned);
    }
    assert_eq!((found.as_slice(), pages), (&items[..2], 2));

    // A limit past the search's own maximum is clamped to it, not refused as a body field.
    let clamped = get_as(&api, &format!("{href}?limit=20000"), Some(&key));
    assert_eq!(clamped.status, 200, "{:?}", clamped.body);
    assert_eq!(ids(&clamped.json()), items[..2]);

    assert_eq!(get_as(&api, &href, None).status, 401);
    for query in ["bbox=0,0,1,1", "limit=0", "page=x", "page=1&page=2"] {
        let refused = get_as(&api, &format!("{href}?{query}"), Some(&key));
        assert_eq!(refused.status, 400, "{query}");
        assert_eq!(
            refused.content_type(),
            "application/problem+json",
            "{query}"
        );
    }
}

/// Regression: the items of a collection the organization does not hold were an empty page
/// while the collection itself was 404. Both are 404 with the same problem, for another
/// organization's collection and for one no one holds; an empty collection of its own is an
/// empty page.
#[test]
fn a_collection_the_organization_lacks_has_no_items_page() {
    let api = Api::start();
    let (project, _items) = project_with_items(&api);
    let key = api.emu.api_key().to_owned();
    let other = api.emu.create_key_in_org("org_other_items", &["*"]);
    let ours = api.ok("stac.collections.list", json!({}))["collections"][0]["id"]
        .as_str()
        .expect("a collection")
        .to_owned();
    let base = api.emu.base_url();
    for (collection, token) in [(ours.as_str(), &other), ("col_missing", &key)] {
        let whole = get_as(
            &api,
            &format!("{base}/collections/{collection}"),
            Some(token),
        );
        let items = get_as(
            &api,
            &format!("{base}/collections/{collection}/items?limit=1"),
            Some(token),
        );
        assert_eq!(whole.status, 404, "{collection}: {:?}", whole.body);
        assert_eq!(items.status, 404, "{collection}: {:?}", items.body);
        assert_eq!(items.content_type(), "application/problem+json");
        assert_eq!(items.json(), whole.json(), "{collection}");
    }
    let empty = id(&api.ok(
        "collections.create",
        json!({"project_id": project, "name": "empty"}),
    ));
    let page = get_as(
        &api,
        &format!("{base}/collections/{empty}/items"),
        Some(&key),
    );
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert_eq!(page.json()["numberMatched"], 0);
}

/// Regression: the STAC `GET` routes were missing from the request log that every operation
/// is in. Each is recorded with its method, path, status and request id, its credentials
/// redacted, a refused one too.
#[test]
fn the_stac_get_routes_are_in_the_request_log() {
    let api = Api::start();
    let (_project, items) = project_with_items(&api);
    let key = api.emu.api_key().to_owned();
    let collection = api.ok("items.get_stac", json!({"item_id": items[0]}))["collection"]
        .as_str()
        .expect("a collection")
        .to_owned();
    let base = api.emu.base_url();
    let paths = [
        (format!("/collections/{collection}"), 200),
        (format!("/collections/{collection}/items"), 200),
        (format!("/collections/{collection}/items/{}", items[0]), 200),
        (format!("/items/{}", items[2]), 200),
        ("/items/itm_missing".to_owned(), 404),
    ];
    api.emu.clear_requests();
    for (n, (path, status)) in paths.iter().enumerate() {
        let answer = api
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&key)
            .header("x-request-id", format!("stac-{n}"))
            .send()
            .expect("GET");
        assert_eq!(answer.status().as_u16(), *status, "{path}");
    }
    let recorded = api.emu.requests();
    assert_eq!(recorded.len(), paths.len(), "{recorded:?}");
    for (n, ((path, status), request)) in paths.iter().zip(&recorded).enumerate() {
        assert_eq!(request.method, "GET");
        assert_eq!(&request.path, path);
        assert_eq!(request.status, Some(*status), "{path}");
        assert_eq!(request.request_id, format!("stac-{n}"));
        assert_eq!(request.operation_id, None);
        assert_eq!(request.header("authorization"), Some("Bearer [redacted]"));
        assert!(request.header_is("authorization", &format!("Bearer {key}")));
    }
}

/// Every `href` in `document`, at any depth: its links, its assets', its features'.
fn hrefs(document: &Value, out: &mut Vec<String>) {
    match document {
        Value::Object(members) => {
            for (name, value) in members {
                match (name.as_str(), value.as_str()) {
                    ("href", Some(href)) => out.push(href.to_owned()),
                    _ => hrefs(value, out),
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|value| hrefs(value, out)),
        _ => {}
    }
}

/// Every link the emulator puts in its STAC documents (items, searches, collections, the
/// catalog's features, and the documents those links lead to) answers a GET with 200, with
/// the organization's credentials where the document is the organization's.
#[test]
fn every_link_in_the_emulators_stac_documents_answers_a_get() {
    let api = Api::start();
    let (project, items) = project_with_items(&api);
    let key = api.emu.api_key().to_owned();
    let base = api.emu.base_url();
    let mut queue = Vec::new();
    for (operation, body) in [
        ("items.get_stac", json!({"item_id": items[0]})),
        ("items.get_stac", json!({"item_id": items[2]})),
        ("stac.search", json!({"limit": 1})),
        ("stac.collections.list", json!({})),
        ("items.search", json!({"project_id": project})),
        ("items.search_org", json!({})),
        (
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 1}),
        ),
        (
            "catalog.search",
            json!({"host_name": "geopera-commercial", "limit": 1}),
        ),
    ] {
        hrefs(&api.ok(operation, body), &mut queue);
    }
    // The demo organization's starter items are walked too, each page of them once.
    let mut seen = std::collections::HashSet::new();
    queue.retain(|href| seen.insert(href.clone()));
    for _ in 0..2_000 {
        let Some(href) = queue.pop() else { break };
        assert!(href.starts_with(&format!("{base}/")), "{href}");
        let answer = get_as(&api, &href, Some(&key));
        assert_eq!(answer.status, 200, "{href}: {:?}", answer.body);
        if answer.content_type().contains("json") {
            let mut found = Vec::new();
            hrefs(&answer.json(), &mut found);
            queue.extend(found.into_iter().filter(|href| seen.insert(href.clone())));
        }
    }
    assert!(
        queue.is_empty(),
        "more links than the walk follows: {queue:?}"
    );
    let collection = api.ok("items.get_stac", json!({"item_id": items[0]}))["collection"]
        .as_str()
        .expect("a collection")
        .to_owned();
    for walked in [
        format!("{base}/collections/{collection}"),
        format!("{base}/collections/{collection}/items"),
        format!("{base}/collections/{collection}/items/{}", items[0]),
        format!("{base}/items/{}", items[2]),
    ] {
        assert!(seen.contains(&walked), "{walked} not among {seen:?}");
    }
}

/// Regression: the `data` asset `items.get_stac` listed for an item had no id that
/// `items.asset.download` took (404), and its `href` was a public path that answered a
/// stand-in file for any item id, even another organization's or one deleted. What is listed
/// is what is served: the asset's id, and a download link that stops with the asset; paths
/// the emulator never links to are 404.
#[test]
fn a_bare_items_listed_data_asset_is_what_is_served() {
    let api = Api::start();
    let project = id(&api.ok("projects.create", json!({"name": "bare"})));
    let item = id(&api.ok(
        "items.create",
        json!({"project_id": project, "name": "bare", "type": "satellite_capture"}),
    ));
    let feature = api.ok("items.get_stac", json!({"item_id": item}));
    let listed = &feature["assets"]["data"];
    let asset = listed["id"].as_str().expect("the asset's id").to_owned();
    let download = api.ok(
        "items.asset.download",
        json!({"item_id": item, "asset_id": asset}),
    );
    assert_eq!(download["asset_id"], asset.as_str());
    let href = listed["href"].as_str().expect("an href").to_owned();
    let listed_by_list =
        api.ok("items.list_assets", json!({"item_id": item}))["assets"][0]["href"].clone();
    assert_eq!(listed_by_list, href.as_str());
    let fetched = get_as(&api, &href, None);
    assert_eq!(fetched.status, 200, "{href}: {:?}", fetched.body);
    assert_eq!(fetched.content_type(), "image/tiff");

    let base = api.emu.base_url();
    for path in [
        format!("/assets/{item}/data.tif"),
        "/assets/itm_none/data.tif".to_owned(),
        "/assets/anything/x.png".to_owned(),
    ] {
        let answer = get_as(&api, &format!("{base}{path}"), None);
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.content_type(), "application/problem+json", "{path}");
    }

    api.ok("assets.delete", json!({"item_id": item, "asset_id": asset}));
    assert_eq!(get_as(&api, &href, None).status, 404, "{href}");
    let feature = api.ok("items.get_stac", json!({"item_id": item}));
    assert_eq!(feature["assets"], json!({}));
}

/// The links of STAC documents start at the emulator's own address, never at one the request
/// names: neither a `Host` the emulator answers to (any IP address does) nor forwarding
/// headers, whose hostile values (another origin, `javascript:`, quotes, spaces) would
/// otherwise be handed on to whoever follows the links.
#[test]
fn stac_links_start_at_the_emulators_address_whatever_the_request_names() {
    let api = Api::start();
    let (_project, items) = project_with_items(&api);
    let key = api.emu.api_key().to_owned();
    let base = api.emu.base_url();
    let named: [(&str, &str); 5] = [
        ("host", "10.9.8.7:8080"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "javascript"),
        ("x-forwarded-prefix", "/\" onmouseover=\"x"),
        ("forwarded", "host=\"evil.example\";proto=javascript"),
    ];
    let feature = api.ok("items.get_stac", json!({"item_id": items[0]}));
    let collection = feature["collection"].as_str().expect("a collection");
    let mut answers = Vec::new();
    for (operation, body) in [
        ("items.get_stac", json!({"item_id": items[0]})),
        ("items.get_stac", json!({"item_id": items[2]})),
        ("stac.search", json!({"limit": 1})),
        ("stac.collections.list", json!({})),
        (
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 1}),
        ),
    ] {
        let mut headers = vec![("authorization", format!("Bearer {key}"))];
        headers.extend(
            named
                .iter()
                .map(|(name, value)| (*name, (*value).to_owned())),
        );
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        answers.push((
            operation.to_owned(),
            api.call_with(operation, &body, &headers),
        ));
    }
    for path in [
        format!("/collections/{collection}"),
        format!("/collections/{collection}/items?limit=1"),
        format!("/collections/{collection}/items/{}", items[0]),
        format!("/items/{}", items[2]),
    ] {
        let mut request = api.http.get(format!("{base}{path}")).bearer_auth(&key);
        for (name, value) in named {
            request = request.header(name, value);
        }
        answers.push((
            path,
            Resp::read(request.send().expect("GET")).expect("read"),
        ));
    }
    for (what, answer) in answers {
        assert_eq!(answer.status, 200, "{what}: {:?}", answer.body);
        let mut found = Vec::new();
        hrefs(&answer.json(), &mut found);
        assert!(!found.is_empty(), "{what}");
        for href in found {
            assert!(href.starts_with(&format!("{base}/")), "{what}: {href}");
        }
    }
}
