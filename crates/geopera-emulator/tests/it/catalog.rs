//! `catalog.search` paging and every filter, and `catalog.search_stream`.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::common::Api;

fn features(body: &Value) -> &Vec<Value> {
    body["features"].as_array().expect("features")
}

/// Walks every page of a search and returns the ids in order.
fn walk(api: &Api, mut body: Value) -> Vec<String> {
    let mut ids = Vec::new();
    for _page in 0..200 {
        let resp = api.call("catalog.search", body.clone());
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        let page = resp.json();
        assert_eq!(page["type"], "FeatureCollection");
        assert_eq!(
            page["numberReturned"].as_u64(),
            Some(features(&page).len() as u64)
        );
        ids.extend(
            features(&page)
                .iter()
                .map(|f| f["id"].as_str().expect("id").to_owned()),
        );
        match page.get("next").and_then(Value::as_str) {
            Some(next) => body["next"] = json!(next),
            None => return ids,
        }
    }
    panic!("more than 200 pages");
}

#[test]
fn walking_next_visits_every_one_of_10_000_items_once_in_a_stable_order() {
    let api = Api::start();
    let first = api
        .call(
            "catalog.search",
            json!({"host_name": "api.geopera.com", "limit": 500}),
        )
        .json();
    let matched = first["numberMatched"].as_u64().expect("numberMatched") as usize;
    assert!(matched >= 10_000, "{matched}");
    let ids = walk(&api, json!({"host_name": "api.geopera.com", "limit": 500}));
    assert_eq!(ids.len(), matched);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        matched,
        "no duplicates"
    );
    let again = walk(&api, json!({"host_name": "api.geopera.com", "limit": 500}));
    assert_eq!(ids, again, "stable order");
    // Smaller pages give the same sequence.
    let small = walk(
        &api,
        json!({"host_name": "api.geopera.com", "collections": ["landsat-c2-l2"], "limit": 97}),
    );
    let filtered: Vec<&String> = ids.iter().filter(|id| id.starts_with("LC_")).collect();
    assert_eq!(small.iter().collect::<Vec<_>>(), filtered);
}

#[test]
fn host_name_selects_open_or_commercial_collections() {
    let api = Api::start();
    let open = api
        .call(
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 500}),
        )
        .json();
    assert!(features(&open)
        .iter()
        .all(|f| f["collection"] != "geopera-vhr-archive"));
    assert!(features(&open)
        .iter()
        .all(|f| f["properties"].get("geopera:price").is_none()));
    let commercial = api
        .call(
            "catalog.search",
            json!({"host_name": "geopera-commercial", "limit": 50}),
        )
        .json();
    assert!(!features(&commercial).is_empty());
    for feature in features(&commercial) {
        assert_eq!(feature["collection"], "geopera-vhr-archive");
        assert!(feature["properties"]["geopera:price"]["aud_per_km2"]
            .as_f64()
            .is_some());
    }
}

#[test]
fn collections_and_ids_filter() {
    let api = Api::start();
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "collections": ["sentinel-1-grd"], "limit": 200}),
        )
        .json();
    assert_eq!(page["numberMatched"], 2000);
    assert!(features(&page)
        .iter()
        .all(|f| f["collection"] == "sentinel-1-grd"));
    let wanted: Vec<String> = features(&page)
        .iter()
        .take(3)
        .map(|f| f["id"].as_str().expect("id").to_owned())
        .collect();
    let page = api
        .call("catalog.search", json!({"host_name": "x", "ids": wanted}))
        .json();
    let got: HashSet<&str> = features(&page)
        .iter()
        .map(|f| f["id"].as_str().expect("id"))
        .collect();
    assert_eq!(got, wanted.iter().map(String::as_str).collect());
    assert!(page.get("next").is_none(), "last page has no next");
}

fn overlaps(bbox: &Value, query: [f64; 4]) -> bool {
    let b: Vec<f64> = bbox
        .as_array()
        .expect("bbox")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    b[0] <= query[2] && b[2] >= query[0] && b[1] <= query[3] && b[3] >= query[1]
}

#[test]
fn bbox_and_intersects_filter() {
    let api = Api::start();
    let query = [10.0, 40.0, 20.0, 50.0];
    let ids = walk(&api, json!({"host_name": "x", "bbox": query, "limit": 500}));
    assert!(!ids.is_empty());
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "bbox": query, "limit": 500}),
        )
        .json();
    assert!(features(&page).iter().all(|f| overlaps(&f["bbox"], query)));
    // The same area as a polygon matches the same items.
    let polygon = json!({"type": "Polygon", "coordinates": [[[10.0, 40.0], [20.0, 40.0], [20.0, 50.0], [10.0, 50.0], [10.0, 40.0]]]});
    let by_polygon = walk(
        &api,
        json!({"host_name": "x", "intersects": polygon, "limit": 500}),
    );
    assert_eq!(ids, by_polygon);
    // So does the polygon inside seven geometry collections, which the search accepts: its
    // positions were read only to a depth of six, and it matched nothing (422).
    let mut nested = polygon.clone();
    for _ in 0..7 {
        nested = json!({"type": "GeometryCollection", "geometries": [nested]});
    }
    let by_nested = walk(
        &api,
        json!({"host_name": "x", "intersects": nested, "limit": 500}),
    );
    assert_eq!(ids, by_nested);
    // A box across the antimeridian matches both sides.
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "bbox": [175.0, -10.0, -175.0, 10.0], "limit": 500}),
        )
        .json();
    assert!(!features(&page).is_empty());
    assert!(features(&page)
        .iter()
        .all(|f| overlaps(&f["bbox"], [175.0, -10.0, 180.0, 10.0])
            || overlaps(&f["bbox"], [-180.0, -10.0, -175.0, 10.0])));
    let bad = api.call(
        "catalog.search",
        json!({"host_name": "x", "bbox": [1.0, 2.0, 3.0]}),
    );
    assert_eq!(bad.status, 422);
}

/// A bound within a second is kept to: catalog items are dated to the whole second, so a
/// start half a second after an item's time leaves it out, and an instant half a second after
/// it matches nothing; the fraction was dropped, and both found the item.
#[test]
fn datetime_bounds_within_a_second_are_kept_to() {
    let api = Api::start();
    let first = api
        .call("catalog.search", json!({"host_name": "x", "limit": 1}))
        .json();
    let feature = &features(&first)[0];
    let id = feature["id"].clone();
    let at = feature["properties"]["datetime"]
        .as_str()
        .expect("datetime")
        .trim_end_matches('Z')
        .to_owned();
    let found = |datetime: String| {
        let resp = api.call(
            "catalog.search",
            json!({"host_name": "x", "datetime": datetime, "limit": 500}),
        );
        assert_eq!(resp.status, 200, "{datetime}");
        features(&resp.json()).iter().any(|f| f["id"] == id)
    };
    assert!(found(format!("{at}Z/..")), "from its own second");
    assert!(found(format!("../{at}.5Z")), "up to half a second after it");
    assert!(!found(format!("{at}.5Z/..")), "from half a second after it");
    assert!(
        !found(format!("{at}.5Z")),
        "the instant half a second after it"
    );
    assert!(found(format!("{at}Z")), "its own instant");
}

#[test]
fn datetime_filters_instants_intervals_and_open_ends() {
    let api = Api::start();
    let all = api
        .call("catalog.search", json!({"host_name": "x", "limit": 1}))
        .json();
    let total = all["numberMatched"].as_u64().expect("count");
    let instant = features(&all)[0]["properties"]["datetime"]
        .as_str()
        .expect("datetime")
        .to_owned();
    let exact = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "datetime": instant}),
        )
        .json();
    assert!(exact["numberMatched"].as_u64() >= Some(1));
    assert!(features(&exact)
        .iter()
        .all(|f| f["properties"]["datetime"] == instant.as_str()));

    let count = |datetime: &str| {
        let resp = api.call(
            "catalog.search",
            json!({"host_name": "x", "datetime": datetime, "limit": 1}),
        );
        assert_eq!(resp.status, 200, "{datetime}");
        resp.json()["numberMatched"].as_u64().expect("count")
    };
    let first_year = count("2023-01-01T00:00:00Z/2023-12-31T23:59:59Z");
    let second_year = count("2024-01-01T00:00:00Z/..");
    let before = count("../2023-12-31T23:59:59Z");
    assert_eq!(first_year, before);
    assert_eq!(first_year + second_year, total);
    assert!(first_year > 4000 && second_year > 4000);
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "datetime": "2024-03-01/2024-03-31T23:59:59Z", "limit": 500}),
        )
        .json();
    assert!(features(&page).iter().all(|f| f["properties"]["datetime"]
        .as_str()
        .is_some_and(|d| d.starts_with("2024-03"))));
    assert_eq!(
        api.call(
            "catalog.search",
            json!({"host_name": "x", "datetime": "yesterday"})
        )
        .status,
        422
    );
}

#[test]
fn datetime_filters_read_rfc_3339_as_the_validator_does() {
    let api = Api::start();
    let status = |datetime: &str| {
        api.call(
            "catalog.search",
            json!({"host_name": "x", "datetime": datetime, "limit": 1}),
        )
        .status
    };
    for accepted in [
        "2024-03-01",
        "2024-03-01T00:00:00Z",
        "2024-02-29t12:00:00.123456z",
        "2024-03-01T02:00:00+02:00/..",
        "../2024-12-31T23:59:60Z",
    ] {
        assert_eq!(status(accepted), 200, "{accepted}");
    }
    for refused in [
        "2024-03-01 00:00:00Z",
        " 2024-03-01",
        "2023-02-29",
        "2024-03-01T00:00:00",
        "2024-03-01T12:30:60Z",
        "2024-03-01T00:00:00+24:00",
    ] {
        assert_eq!(status(refused), 422, "{refused}");
    }
}

#[test]
fn cloud_cover_query_filters_with_each_operator() {
    let api = Api::start();
    let cloud = |page: &Value| -> Vec<f64> {
        features(page)
            .iter()
            .map(|f| {
                f["properties"]["eo:cloud_cover"]
                    .as_f64()
                    .expect("cloud cover")
            })
            .collect()
    };
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "limit": 500, "query": {"eo:cloud_cover": {"LT": 10}}}),
        )
        .json();
    assert!(!cloud(&page).is_empty() && cloud(&page).iter().all(|c| *c < 10.0));
    // Both names of cloud cover in one body: each bound holds, whichever is tighter and in
    // whichever order they come. The one read last replaced the other, loosening the filter.
    for (coverage, cover) in [(10, 90), (90, 10)] {
        let page = api
            .call(
                "catalog.search",
                json!({"host_name": "x", "limit": 500, "query": {
                    "cloudCoverage": {"LT": coverage}, "eo:cloud_cover": {"LT": cover}}}),
            )
            .json();
        assert!(
            !cloud(&page).is_empty() && cloud(&page).iter().all(|c| *c < 10.0),
            "{coverage} and {cover}"
        );
    }
    let page = api.call("catalog.search", json!({"host_name": "x", "limit": 500, "query": {"eo:cloud_cover": {"GTE": 90, "LTE": 95}}})).json();
    assert!(!cloud(&page).is_empty() && cloud(&page).iter().all(|c| (90.0..=95.0).contains(c)));
    let page = api
        .call(
            "catalog.search",
            json!({"host_name": "x", "limit": 500, "query": {"eo:cloud_cover": {"GT": 99}}}),
        )
        .json();
    assert!(cloud(&page).iter().all(|c| *c > 99.0));
    // Radar has no cloud cover, so it never matches a cloud filter.
    let page = api.call("catalog.search", json!({"host_name": "x", "collections": ["sentinel-1-grd"], "query": {"eo:cloud_cover": {"LT": 100}}})).json();
    assert_eq!(page["numberMatched"], 0);
}

#[test]
fn undeclared_cloud_operators_change_nothing() {
    // The contract declares GT, GTE, LT and LTE; the SDK and the CLI warn that anything else
    // is ignored. Once, `lt` was applied as `LT`, and beside a declared `LT` it widened the
    // filter or, as `null` or text, removed it.
    let api = Api::start();
    let highest = |condition: Value| -> f64 {
        let body = json!({"host_name": "x", "limit": 500, "query": {"eo:cloud_cover": condition}});
        let page = api.call("catalog.search", body).json();
        features(&page)
            .iter()
            .filter_map(|f| f["properties"]["eo:cloud_cover"].as_f64())
            .fold(f64::MIN, f64::max)
    };
    let unfiltered = highest(json!({}));
    assert!(unfiltered > 90.0, "{unfiltered}");
    assert!(highest(json!({"LT": 10})) < 10.0);
    assert_eq!(highest(json!({"lt": 10})), unfiltered);
    for undeclared in [json!(90), json!(null), json!("x")] {
        let both = json!({"LT": 10, "lt": undeclared});
        assert!(highest(both.clone()) < 10.0, "{both}");
    }
}

#[test]
fn limit_bounds_and_bad_tokens_are_rejected() {
    let api = Api::start();
    assert_eq!(
        api.call("catalog.search", json!({"host_name": "x", "limit": 0}))
            .status,
        422
    );
    assert_eq!(
        api.call("catalog.search", json!({"host_name": "x", "limit": 501}))
            .status,
        422
    );
    let page = api
        .call("catalog.search", json!({"host_name": "x", "limit": 500}))
        .json();
    assert_eq!(features(&page).len(), 500);
    assert_eq!(
        api.call(
            "catalog.search",
            json!({"host_name": "x", "next": "forged"})
        )
        .status,
        422
    );
}

/// The ids on a page of `catalog.search`.
fn ids(page: &Value) -> Vec<String> {
    features(page)
        .iter()
        .map(|feature| feature["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Asserts the 422 a `next` token gets when it is not one of this search's.
fn assert_refused_token(resp: &crate::common::Resp, what: &str) {
    assert_eq!(resp.status, 422, "{what}: {:?}", resp.body);
    let detail = resp.json()["detail"].clone();
    assert_eq!(detail[0]["loc"], json!(["body", "next"]), "{what}");
    assert_eq!(detail[0]["type"], "value_error", "{what}");
}

/// A token is tied to the filters of the search that gave it: with them (at any page size,
/// and on another emulator of the same seed) it continues that search; with any other
/// filter it is refused as a forged token is, rather than continuing the other search at
/// the first one's offset.
#[test]
fn a_next_token_continues_its_own_search_and_is_refused_by_another() {
    let api = Api::start();
    let search = json!({"host_name": "earthsearch-aws", "collections": ["sentinel-2-l2a"],
                        "query": {"eo:cloud_cover": {"LT": 50}}});
    let with = |extra: Value| {
        let mut body = search.clone();
        for (key, value) in extra.as_object().expect("an object") {
            body[key] = value.clone();
        }
        body
    };
    let first = api.ok("catalog.search", with(json!({"limit": 5})));
    let token = first["next"].as_str().expect("a next page").to_owned();
    let ten = ids(&api.ok("catalog.search", with(json!({"limit": 12}))));

    let second = api.ok("catalog.search", with(json!({"limit": 5, "next": token})));
    assert_eq!(ids(&second), ten[5..10].to_vec());
    let longer = api.ok("catalog.search", with(json!({"limit": 7, "next": token})));
    assert_eq!(
        ids(&longer),
        ten[5..12].to_vec(),
        "the page size may change"
    );
    let same_seed = Api::start();
    let elsewhere = same_seed.ok("catalog.search", with(json!({"limit": 5, "next": token})));
    assert_eq!(
        ids(&elsewhere),
        ids(&second),
        "another emulator of the seed"
    );

    let forged = api.call("catalog.search", with(json!({"next": "5.00000000"})));
    assert_refused_token(&forged, "forged");
    for other in [
        json!({"host_name": "geopera-commercial"}),
        json!({"collections": ["landsat-c2-l2"]}),
        json!({"bbox": [0.0, 0.0, 30.0, 30.0]}),
        json!({"intersects": {"type": "Point", "coordinates": [10.0, 20.0]}}),
        json!({"datetime": "2024-01-01/.."}),
        json!({"query": {"eo:cloud_cover": {"LT": 60}}}),
        json!({"ids": [ten[0]]}),
    ] {
        let mut body = with(other.clone());
        body["limit"] = json!(5);
        body["next"] = json!(token);
        assert_refused_token(
            &api.call("catalog.search", body.clone()),
            &other.to_string(),
        );
        assert_refused_token(&api.call("catalog.search_stream", body), &other.to_string());
    }
    let fewer = json!({"host_name": "earthsearch-aws", "limit": 5, "next": token});
    assert_refused_token(&api.call("catalog.search", fewer), "fewer filters");
    let streamed = api.call("catalog.search_stream", with(json!({"next": token})));
    assert_eq!(
        streamed.status, 200,
        "the stream takes its own search's token"
    );
    // The same search spelled otherwise: a default written out, members set to null, an
    // operator the search does not read.
    let spelled = with(
        json!({"limit": 5, "next": token, "full_catalog": false, "ids": null,
                              "query": {"eo:cloud_cover": {"LT": 50, "lt": 90}}}),
    );
    assert_eq!(ids(&api.ok("catalog.search", spelled)), ids(&second));
}

/// The same search is the same search whatever order its keys come in, at the top and
/// inside `query`.
#[test]
fn a_next_token_is_taken_with_the_search_keys_in_another_order() {
    let api = Api::start();
    let post = |body: String| {
        let resp = api
            .http
            .post(api.url("catalog.search"))
            .bearer_auth(api.emu.api_key())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("request completes");
        crate::common::Resp::read(resp).expect("answer read")
    };
    let first = post(
        r#"{"query": {"eo:cloud_cover": {"LT": 50, "GTE": 5}}, "host_name": "earthsearch-aws",
            "bbox": [0, 0, 30, 30], "limit": 4}"#
            .to_owned(),
    );
    assert_eq!(first.status, 200, "{:?}", first.body);
    let token = first.json()["next"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = post(format!(
        r#"{{"limit": 4, "next": "{token}", "bbox": [0.0, 0.0, 30.0, 30.0],
            "host_name": "earthsearch-aws", "query": {{"eo:cloud_cover": {{"GTE": 5, "LT": 50}}}}}}"#
    ));
    assert_eq!(second.status, 200, "{:?}", second.body);
    let eight = api.ok(
        "catalog.search",
        json!({"host_name": "earthsearch-aws", "bbox": [0, 0, 30, 30], "limit": 8,
               "query": {"eo:cloud_cover": {"LT": 50, "GTE": 5}}}),
    );
    assert_eq!(ids(&second.json()), ids(&eight)[4..].to_vec());
}

#[test]
fn search_stream_answers_the_same_matches_as_ndjson() {
    let api = Api::start();
    let filter = json!({"host_name": "earthsearch-aws", "bbox": [0.0, 0.0, 30.0, 30.0], "query": {"eo:cloud_cover": {"LT": 50}}});
    let mut paged = filter.clone();
    paged["limit"] = json!(500);
    let ids = walk(&api, paged);
    let resp = api.call("catalog.search_stream", filter);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type(), "application/x-ndjson");
    let text = String::from_utf8(resp.body.to_vec()).expect("utf-8");
    let streamed: Vec<String> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).expect("one feature per line")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(streamed, ids);
}

/// A stream's filters are checked as a search's are, bar the host it may leave out: one of
/// another type (a collection as a text, ids as a text, a number as the token) was read as
/// no filter, and every item streamed.
#[test]
fn search_stream_refuses_a_filter_of_another_type() {
    let api = Api::start();
    for (body, field) in [
        (
            json!({"host_name": "earthsearch-aws", "collections": "sentinel-1-grd", "limit": 5}),
            "collections",
        ),
        (
            json!({"host_name": "earthsearch-aws", "ids": "S2_1"}),
            "ids",
        ),
        (json!({"host_name": "earthsearch-aws", "next": 42}), "next"),
        (json!({"host_name": 7}), "host_name"),
    ] {
        let resp = api.call("catalog.search_stream", body.clone());
        assert_eq!(resp.status, 422, "{body}");
        assert_eq!(
            resp.json()["detail"][0]["loc"],
            json!(["body", field]),
            "{body}"
        );
    }
    // The host may still be left out.
    let resp = api.call("catalog.search_stream", json!({"limit": 2}));
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(String::from_utf8_lossy(&resp.body).lines().count(), 2);
}

/// A stream given a page's `next` token starts where that page does, as the page would: once,
/// the token was checked and then ignored, and the stream began again at the first match.
#[test]
fn search_stream_starts_at_its_next_token() {
    let api = Api::start();
    let filter = json!({"host_name": "earthsearch-aws", "bbox": [0.0, 0.0, 30.0, 30.0]});
    let mut first = filter.clone();
    first["limit"] = json!(3);
    let token = api.ok("catalog.search", first)["next"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let mut paged = filter.clone();
    paged["limit"] = json!(500);
    let every = walk(&api, paged);
    let streamed_ids = |body: Value| -> Vec<String> {
        let resp = api.call("catalog.search_stream", body);
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        String::from_utf8(resp.body.to_vec())
            .expect("utf-8")
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).expect("one feature per line")["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            })
            .collect()
    };
    let mut rest = filter.clone();
    rest["next"] = json!(token);
    assert_eq!(streamed_ids(rest.clone()), every[3..].to_vec());
    rest["limit"] = json!(2);
    assert_eq!(streamed_ids(rest), every[3..5].to_vec());
}

#[test]
fn search_stream_refuses_a_limit_that_is_not_a_whole_number_in_range() {
    // The stream's body is free-form in the contract, so the emulator checks its limit itself,
    // as `catalog.search`'s is checked: once, text was ignored and a fraction taken.
    let api = Api::start();
    let stream = |limit: Value| {
        api.call(
            "catalog.search_stream",
            json!({"host_name": "earthsearch-aws", "limit": limit}),
        )
    };
    for refused in [json!("5"), json!(1.5), json!(0), json!(501), json!(true)] {
        let resp = stream(refused.clone());
        assert_eq!(resp.status, 422, "{refused}");
        let body: Value = serde_json::from_slice(&resp.body).expect("json");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["body", "limit"]),
            "{refused}"
        );
    }
    // A limit that `catalog.search` would take is taken, and the stream holds that many
    // matches, the first of every match; once, a checked limit was then ignored.
    let every = stream(json!(null));
    assert_eq!(every.status, 200);
    let every = String::from_utf8(every.body.to_vec()).expect("utf-8");
    assert!(every.lines().count() > 500, "{}", every.lines().count());
    for (limit, lines) in [(json!(2), 2), (json!(3.0), 3), (json!(500), 500)] {
        let resp = stream(limit.clone());
        assert_eq!(resp.status, 200, "{limit}");
        let text = String::from_utf8(resp.body.to_vec()).expect("utf-8");
        let got: Vec<&str> = text.lines().collect();
        let first: Vec<&str> = every.lines().take(lines).collect();
        assert_eq!(got, first, "{limit}");
    }
}

/// Regression: an `intersects` cut in two at the antimeridian, as RFC 7946 advises, was
/// matched by one box around both halves, which spans the globe between them. Each part is
/// matched by a box of its own now, so the cut geometry finds what a `bbox` across the
/// antimeridian finds, in `catalog.search` and `stac.search` alike; an uncut edge still runs
/// the long way round, as GeoJSON draws it.
#[test]
fn an_intersects_cut_at_the_antimeridian_matches_either_side_only() {
    let api = Api::start();
    let square = |west: f64, east: f64| {
        json!([[
            [west, -10.0],
            [east, -10.0],
            [east, 10.0],
            [west, 10.0],
            [west, -10.0]
        ]])
    };
    let cut = [
        json!({"type": "MultiPolygon", "coordinates": [square(175.0, 180.0), square(-180.0, -175.0)]}),
        json!({"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "coordinates": square(175.0, 180.0)},
            {"type": "Polygon", "coordinates": square(-180.0, -175.0)}]}),
    ];
    let across = walk(
        &api,
        json!({"host_name": "x", "bbox": [175.0, -10.0, -175.0, 10.0], "limit": 500}),
    );
    assert!(!across.is_empty());
    for geometry in &cut {
        let found = walk(
            &api,
            json!({"host_name": "x", "intersects": geometry, "limit": 500}),
        );
        assert_eq!(found.len(), across.len(), "{geometry}");
        assert_eq!(found, across, "{geometry}");
    }
    let uncut = json!({"type": "Polygon", "coordinates": square(-175.0, 175.0)});
    let long_way = walk(
        &api,
        json!({"host_name": "x", "bbox": [-175.0, -10.0, 175.0, 10.0], "limit": 500}),
    );
    let found = walk(
        &api,
        json!({"host_name": "x", "intersects": uncut, "limit": 500}),
    );
    assert_eq!(found, long_way);

    let project = api.ok("projects.create", json!({"name": "antimeridian"}))["id"].clone();
    let item = |bbox: [f64; 4]| {
        api.ok(
            "items.create",
            json!({"project_id": project, "name": "scene", "type": "satellite_capture",
                   "bbox": bbox}),
        )["id"]
            .as_str()
            .expect("an item id")
            .to_owned()
    };
    let east = item([176.0, 0.0, 177.0, 1.0]);
    let _middle = item([0.0, 0.0, 1.0, 1.0]);
    let west = item([-177.0, 0.0, -176.0, 1.0]);
    for geometry in &cut {
        let page = api.ok("stac.search", json!({"intersects": geometry}));
        // Created without a `stac_id`, the items' STAC ids are their own.
        let found: Vec<&str> = features(&page)
            .iter()
            .filter_map(|f| f["id"].as_str())
            .collect();
        assert_eq!(found, vec![east.as_str(), west.as_str()], "{geometry}");
    }
    // An item stored as such a cut geometry, with no `bbox`, covers its two sides only: read
    // as one box, it spanned every longitude of its latitudes and matched every search there.
    let cut_item = api.ok(
        "items.create",
        json!({"project_id": project, "name": "cut", "type": "satellite_capture",
               "geometry": cut[0]}),
    )["id"]
        .as_str()
        .expect("an item id")
        .to_owned();
    let found = |bbox: [f64; 4]| -> bool {
        features(&api.ok("stac.search", json!({"bbox": bbox})))
            .iter()
            .any(|f| f["id"] == cut_item.as_str())
    };
    assert!(!found([0.0, 0.0, 1.0, 1.0]), "far from either side");
    assert!(found([176.0, 0.0, 177.0, 1.0]), "its east side");
    assert!(found([-177.0, 0.0, -176.0, 1.0]), "its west side");
    assert!(found([179.0, 0.0, -179.0, 1.0]), "across the antimeridian");
}

/// Regression: a catalog feature's `collection` link led to a route that answered 404. It
/// leads to the collection's STAC document, public as the catalog's assets are, whose own
/// `self` link is the same URL.
#[test]
fn a_catalog_features_collection_link_leads_to_its_collection() {
    let api = Api::start();
    let mut seen = HashSet::new();
    for host in ["earthsearch-aws", "geopera-commercial"] {
        let page = api.ok("catalog.search", json!({"host_name": host, "limit": 500}));
        for feature in features(&page) {
            let link = feature["links"]
                .as_array()
                .expect("links")
                .iter()
                .find(|link| link["rel"] == "collection")
                .expect("a collection link");
            let href = link["href"].as_str().expect("href").to_owned();
            if !seen.insert(href.clone()) {
                continue;
            }
            let answer = crate::common::Resp::read(api.http.get(&href).send().expect("GET"))
                .expect("an answer");
            assert_eq!(answer.status, 200, "{href}: {:?}", answer.body);
            assert_eq!(answer.content_type(), "application/json");
            let collection = answer.json();
            assert_eq!(collection["type"], "Collection", "{collection}");
            assert_eq!(collection["id"], feature["collection"], "{collection}");
            assert_eq!(collection["links"][0]["rel"], "self");
            assert_eq!(collection["links"][0]["href"], href.as_str());
        }
    }
    assert!(seen.len() >= 2, "{seen:?}");
}
