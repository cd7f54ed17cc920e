//! Unit tests of `catalog.rs`.
use super::*;

#[test]
fn catalog_is_deterministic_and_large() {
    let a = Catalog::build(1);
    let b = Catalog::build(1);
    assert!(a.items().len() >= 10_000);
    assert_eq!(a.items()[17].id, b.items()[17].id);
    assert_eq!(a.by_id.len(), a.items().len(), "ids are unique");
    assert!(a.items().windows(2).all(|w| w[0].datetime >= w[1].datetime));
}

#[test]
fn tokens_round_trip_and_reject_forgeries() {
    let query = digest_of(&json!({"host_name": PUBLIC_HOST}));
    let token = encode_token(300, query, 5);
    assert_eq!(decode_token(&token, query, 5), Some(300));
    assert_eq!(decode_token(&token, query, 6), None);
    assert_eq!(decode_token(&token, query ^ 1, 5), None);
    assert_eq!(decode_token("garbage", query, 5), None);
    assert!(token
        .bytes()
        .all(|byte| byte.is_ascii_hexdigit() || byte == b'.'));
}

/// A page's token belongs to the search it came from, whatever order its keys are in, at any
/// page size; any other filter makes it another search.
#[test]
fn the_query_digest_reads_the_filters_and_nothing_else() {
    let base = json!({"host_name": PUBLIC_HOST, "bbox": [1, 2, 3, 4], "limit": 10,
                      "query": {"eo:cloud_cover": {"LT": 10, "GTE": 2}}});
    let digest = digest_of(&base);
    for same in [
        json!({"query": {"eo:cloud_cover": {"GTE": 2, "LT": 10}}, "limit": 10,
               "bbox": [1.0, 2.0, 3.0, 4.0], "host_name": PUBLIC_HOST}),
        json!({"host_name": PUBLIC_HOST, "bbox": [1, 2, 3, 4], "limit": 500, "next": null,
               "query": {"eo:cloud_cover": {"LT": 10, "GTE": 2}}, "datetime": null}),
        // Members the search does not read, and a default written out, ask for nothing else.
        json!({"host_name": PUBLIC_HOST, "bbox": [1, 2, 3, 4], "full_catalog": false,
               "query": {"eo:cloud_cover": {"LT": 10, "GTE": 2, "lt": 99},
                         "platform": {"eq": "x"}}, "collections": null}),
    ] {
        assert_eq!(digest_of(&same), digest, "{same}");
    }
    assert_eq!(
        digest_of(&json!({"host_name": PUBLIC_HOST})),
        digest_of(&json!({"host_name": PUBLIC_HOST, "query": {}, "ids": null})),
        "an empty query"
    );
    assert_eq!(
        digest_of(&json!({"ids": ["b", "a"]})),
        digest_of(&json!({"ids": ["a", "b", "a"]})),
        "ids are a set"
    );
    assert_ne!(
        digest_of(&json!({"ids": []})),
        digest_of(&json!({})),
        "no ids at all is not every id"
    );
    for (member, value) in [
        ("host_name", json!(COMMERCIAL_HOST)),
        ("bbox", json!([1, 2, 3, 5])),
        ("query", json!({"eo:cloud_cover": {"LT": 11, "GTE": 2}})),
        ("collections", json!(["sentinel-2-l2a"])),
        ("ids", json!(["x"])),
        ("datetime", json!("2024-01-01/..")),
        (
            "intersects",
            json!({"type": "Point", "coordinates": [2, 3]}),
        ),
    ] {
        let mut other = base.clone();
        if member == "intersects" {
            // A search takes one or the other.
            other["bbox"] = Value::Null;
        }
        other[member] = value;
        assert_ne!(digest_of(&other), digest, "{member}");
    }
}

/// The digest [`Search::parse`] finds for `body`.
fn digest_of(body: &Value) -> u64 {
    Search::parse(body, 0).expect("a valid search").query
}

#[test]
fn intervals_parse() {
    assert_eq!(
        parse_interval("../2023-01-02"),
        Some((None, Some(CATALOG_START + 86_400)))
    );
    assert_eq!(
        parse_interval("2023-01-01/"),
        Some((Some(CATALOG_START), None))
    );
    assert_eq!(parse_interval("2024-01-01/2023-01-01"), None);
}

#[test]
fn areas_are_plausible() {
    let square = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]});
    let area = area_km2(&square).expect("polygon");
    assert!((12_000.0..12_500.0).contains(&area), "{area}");
    assert_eq!(geometry_bbox(&square), Some([0.0, 0.0, 1.0, 1.0]));
}

/// Searches that exercise every filter, alone and together, and paging.
fn searches() -> Vec<Value> {
    vec![
        json!({}),
        json!({"host_name": PUBLIC_HOST, "limit": 10}),
        json!({"host_name": PUBLIC_HOST, "limit": 500}),
        json!({"host_name": COMMERCIAL_HOST, "limit": 7}),
        json!({"host_name": COMMERCIAL_HOST, "collections": ["sentinel-2-l2a"]}),
        json!({"collections": ["landsat-c2-l2", "nope", COMMERCIAL_COLLECTION], "limit": 50}),
        json!({"collections": []}),
        json!({"datetime": "2023-06-01T00:00:00Z/2023-09-01T00:00:00Z", "limit": 33}),
        json!({"datetime": "../2023-03-01", "host_name": PUBLIC_HOST}),
        json!({"datetime": "2024-12-01/..", "collections": ["sentinel-1-grd"]}),
        json!({"bbox": [100.0, -50.0, 160.0, 10.0], "limit": 20}),
        json!({"bbox": [170.0, -60.0, -170.0, 60.0], "datetime": "2024-01-01/.."}),
        json!({"intersects": {"type": "Polygon", "coordinates": [[[-20.0, -20.0], [40.0, -20.0], [40.0, 40.0], [-20.0, -20.0]]]}}),
        json!({"query": {"eo:cloud_cover": {"LT": 10}}, "host_name": PUBLIC_HOST, "limit": 250}),
        json!({"query": {"cloudCoverage": {"GTE": 50, "LTE": 60}}, "collections": ["sentinel-1-grd", "sentinel-2-l2a"]}),
    ]
}

/// The filters applied item by item over the whole catalog, as a reference.
fn every_match<'c>(search: &Search, catalog: &'c Catalog) -> Vec<&'c Item> {
    catalog
        .items()
        .iter()
        .filter(|item| search.matches_indexed(item) && search.matches_rest(item))
        .filter(|item| search.ids.as_ref().is_none_or(|ids| ids.contains(&item.id)))
        .collect()
}

#[test]
fn indexed_pages_are_the_pages_of_a_full_scan() {
    let catalog = Catalog::build(3);
    let mut bodies = searches();
    let some_ids: Vec<&str> = catalog
        .items()
        .iter()
        .step_by(997)
        .map(|item| item.id.as_str())
        .collect();
    bodies.push(json!({"ids": some_ids, "limit": 4}));
    bodies.push(json!({"ids": some_ids, "host_name": PUBLIC_HOST, "datetime": "2023-07-01/.."}));
    bodies.push(json!({"ids": ["missing", some_ids[2]], "bbox": [-180, -90, 180, 90]}));
    for body in bodies {
        let search = Search::parse(&body, 3).expect("valid search");
        let expected = every_match(&search, &catalog);
        let all: Vec<&str> = search
            .all(&catalog)
            .iter()
            .map(|item| item.id.as_str())
            .collect();
        let ids: Vec<&str> = expected.iter().map(|item| item.id.as_str()).collect();
        assert_eq!(all, ids, "{body}");
        for offset in [
            0,
            1,
            search.limit,
            expected.len().saturating_sub(1),
            expected.len() + 5,
        ] {
            let search = Search {
                offset,
                ..Search::parse(&body, 3).expect("valid")
            };
            let page = search.run(&catalog, 3);
            let got: Vec<&str> = page.items(&catalog).map(|item| item.id.as_str()).collect();
            let want: Vec<&str> = ids
                .iter()
                .skip(offset)
                .take(search.limit)
                .copied()
                .collect();
            assert_eq!(got, want, "{body} at {offset}");
            assert_eq!(page.matched, expected.len(), "{body}");
            let end = offset + want.len();
            assert_eq!(
                page.next,
                (end < expected.len()).then(|| encode_token(end, digest_of(&body), 3))
            );
        }
    }
}

#[test]
fn written_pages_are_the_serialized_tree() {
    let catalog = Catalog::for_seed(4);
    let base_url = "http://127.0.0.1:9";
    let features = Features::new(catalog.clone(), base_url.to_owned());
    for body in searches() {
        let search = Search::parse(&body, 4).expect("valid search");
        let page = search.run(&catalog, 4);
        // Twice: the second time every feature comes from the cache.
        for _ in 0..2 {
            let written = page.write(&features);
            let tree = serde_json::to_vec(&page.to_json(&catalog, base_url)).expect("serializes");
            assert!(written == tree, "{body}");
        }
    }
}

#[test]
fn areas_of_interest_are_measured_by_their_coverage_of_the_box_they_buy() {
    let square = |w: f64, s: f64, e: f64, n: f64| vec![(w, s), (e, s), (e, n), (w, n), (w, s)];
    let bbox = [10.0, 10.0, 11.0, 11.0];
    let near = |value: f64, expected: f64| (value - expected).abs() < 0.01 * expected;
    let covering = square(9.0, 9.0, 12.0, 12.0);
    assert_eq!(
        coverage_of_box(&vec![vec![covering.clone()]], &bbox, 0),
        1.0
    );
    let itself = square(10.0, 10.0, 11.0, 11.0);
    assert_eq!(coverage_of_box(&vec![vec![itself.clone()]], &bbox, 0), 1.0);
    let inside = coverage_of_box(&vec![vec![square(10.2, 10.2, 10.4, 10.4)]], &bbox, 0);
    assert!(near(inside, 0.04), "{inside}");
    let half = coverage_of_box(&vec![vec![square(10.5, 9.0, 12.0, 12.0)]], &bbox, 0);
    assert!(near(half, 0.5), "{half}");
    let south_half = coverage_of_box(&vec![vec![square(9.0, 9.0, 12.0, 10.5)]], &bbox, 0);
    assert!(near(south_half, 0.5), "{south_half}");
    let holed = vec![vec![covering.clone(), square(10.5, 9.5, 11.5, 11.5)]];
    assert!(near(coverage_of_box(&holed, &bbox, 0), 0.5));
    // Whichever way the rings wind: here the outer ring clockwise, its hole anticlockwise.
    let clockwise = |ring: Vec<(f64, f64)>| ring.into_iter().rev().collect::<Vec<_>>();
    let turned = vec![vec![
        clockwise(covering.clone()),
        square(10.5, 9.5, 11.5, 11.5),
    ]];
    assert!(near(coverage_of_box(&turned, &bbox, 0), 0.5));
    // A hole outside its polygon covers nothing.
    let hole_apart = vec![vec![
        square(10.5, 9.0, 12.0, 12.0),
        square(9.0, 9.0, 10.5, 12.0),
    ]];
    assert!(near(coverage_of_box(&hole_apart, &bbox, 0), 0.5));
    // A hole is a hole only in its own polygon: it takes nothing from another.
    let cancelling = vec![
        vec![covering.clone()],
        vec![square(30.0, 30.0, 30.1, 30.1), covering.clone()],
    ];
    assert_eq!(coverage_of_box(&cancelling, &bbox, 0), 1.0);
    let cancelling_inside = vec![
        vec![covering.clone()],
        vec![
            square(10.4, 10.4, 10.5, 10.5),
            square(10.0, 10.0, 11.0, 11.0),
        ],
    ];
    assert_eq!(coverage_of_box(&cancelling_inside, &bbox, 0), 1.0);
    // A figure eight covers its two lobes, each a quarter of the box, and cancels neither.
    let eight = |dip: f64| {
        vec![vec![vec![
            (10.0, 10.0),
            (11.0, 11.0),
            (11.0, 10.0 + dip),
            (10.0, 11.0),
            (10.0, 10.0),
        ]]]
    };
    assert!(near(coverage_of_box(&eight(0.0), &bbox, 0), 0.5));
    assert!((coverage_of_box(&eight(0.01), &bbox, 0) - 0.5).abs() < 0.02);
    // Repeats, overlaps and a ring that goes round twice count once.
    assert_eq!(
        coverage_of_box(&vec![vec![covering.clone()]; 5], &bbox, 0),
        1.0
    );
    let twice: Vec<_> = itself.iter().chain(&itself[1..]).copied().collect();
    assert_eq!(coverage_of_box(&vec![vec![twice]], &bbox, 0), 1.0);
    let overlapping = vec![
        vec![square(10.0, 9.0, 10.6, 12.0)],
        vec![square(10.4, 9.0, 11.0, 12.0)],
    ];
    assert_eq!(coverage_of_box(&overlapping, &bbox, 0), 1.0);
    let apart = vec![vec![square(20.0, 20.0, 21.0, 21.0)]];
    assert_eq!(coverage_of_box(&apart, &bbox, 0), 0.0);
    assert!(!extent_overlaps(&apart, &bbox));
    let touching = vec![vec![square(11.0, 10.0, 12.0, 11.0)]];
    assert_eq!(coverage_of_box(&touching, &bbox, 0), 0.0);
    assert!(!extent_overlaps(&touching, &bbox));
    // Parts on either side of the box overlap it no more than each part does.
    let astride = vec![apart[0].clone(), touching[0].clone()];
    assert!(!extent_overlaps(&astride, &bbox));
    // A sliver between two rows is an overlap all the same.
    let sliver = vec![vec![square(10.0, 10.0, 11.0, 10.0001)]];
    assert_eq!(coverage_of_box(&sliver, &bbox, 0), 0.0);
    assert!(extent_overlaps(&sliver, &bbox));
    assert!(extent_overlaps(&vec![vec![itself]], &bbox));
}

#[test]
fn areas_of_interest_are_polygons_on_the_globe() {
    let ring = json!([[0, 0], [1, 0], [1, 1], [0, 0]]);
    assert!(read_polygons(&json!({"type": "Polygon", "coordinates": [ring]})).is_ok());
    // RFC 7946 lets a position hold more than three numbers; the rest are ignored.
    let long = json!([[0, 0, 5, 7], [1, 0, 5], [1, 1, 5, 7, 9], [0, 0, 5, 7]]);
    assert_eq!(
        read_polygons(&json!({"type": "Polygon", "coordinates": [long]})),
        Ok(vec![vec![vec![
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 1.0),
            (0.0, 0.0)
        ]]])
    );
    assert!(
        read_polygons(&json!({"type": "MultiPolygon", "coordinates": [[ring], [ring]]}))
            .is_ok_and(|polygons| polygons.len() == 2)
    );
    for refused in [
        json!(null),
        json!([0, 0]),
        json!({"coordinates": [ring]}),
        json!({"type": "Point", "coordinates": [0, 0]}),
        json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}}),
        json!({"type": "Polygon"}),
        json!({"type": "Polygon", "coordinates": []}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, "1"], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1, "5"], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1], [1, 1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [181, 0], [1, 1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, -91], [1, 1], [0, 0]]]}),
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1e308, 0], [1, 1], [0, 0]]]}),
        json!({"type": "MultiPolygon", "coordinates": []}),
        json!({"type": "MultiPolygon", "coordinates": [ring]}),
    ] {
        assert!(read_polygons(&refused).is_err(), "{refused}");
    }
}

/// Areas to task or order are measured by what their rings enclose: a hole or a second ring
/// outside the outer ring takes nothing away, a hole inside takes its own area, the loops of
/// a figure eight both count, and a small polygon with a hole far away keeps its area.
#[test]
fn polygon_areas_cannot_be_cancelled_by_their_rings() {
    let square = |west: f64, south: f64, east: f64, north: f64| {
        vec![
            (west, south),
            (east, south),
            (east, north),
            (west, north),
            (west, south),
        ]
    };
    let near = |a: f64, b: f64| (a - b).abs() <= b * 0.01;
    let whole = polygons_area_km2(&vec![vec![square(0.0, 0.0, 1.0, 1.0)]]);
    assert!((12_000.0..12_500.0).contains(&whole), "{whole}");
    let apart = vec![vec![square(0.0, 0.0, 1.0, 1.0), square(3.0, 0.0, 4.0, 1.0)]];
    assert!(near(polygons_area_km2(&apart), whole));
    let holed = vec![vec![square(0.0, 0.0, 1.0, 1.0), square(0.0, 0.0, 0.5, 1.0)]];
    assert!(near(polygons_area_km2(&holed), whole / 2.0));
    let larger_hole = vec![vec![
        square(0.0, 0.0, 1.0, 1.0),
        square(-1.0, -1.0, 2.0, 2.0),
    ]];
    assert_eq!(polygons_area_km2(&larger_hole), 0.0);
    let eight = vec![vec![vec![
        (0.0, 0.0),
        (1.0, 1.0),
        (1.0, 0.0),
        (0.0, 1.0),
        (0.0, 0.0),
    ]]];
    assert!(near(polygons_area_km2(&eight), whole / 2.0));
    let small = square(0.0, 0.0, 0.01, 0.01);
    let alone = polygons_area_km2(&vec![vec![small.clone()]]);
    let far_hole = vec![vec![small, square(50.0, 50.0, 60.0, 60.0)]];
    assert!(near(polygons_area_km2(&far_hole), alone), "{alone}");
    assert!((1.0..1.5).contains(&alone), "{alone}");
    // Nothing but polygons on the globe is an area.
    for refused in [
        json!({"type": "Point", "coordinates": [0.0, 0.0]}),
        json!({"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0]]}),
        json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1e200, 0.0], [1e200, 1e200], [0.0, 0.0]]]}),
        json!({"type": "FeatureCollection", "features": []}),
        json!({}),
    ] {
        assert!(area_km2(&refused).is_err(), "{refused}");
    }
}

#[test]
fn an_intersects_is_matched_part_by_part_up_to_the_bound() {
    let points = |count: usize| {
        let positions: Vec<Value> = (0..count)
            .map(|i| json!([(i % 360) as f64 - 180.0, 0.0]))
            .collect();
        json!({"type": "MultiPoint", "coordinates": positions})
    };
    let boxes = |geometry: &Value| read_intersects(geometry).expect("a geometry");
    assert_eq!(
        boxes(&points(3)),
        vec![
            [-180.0, 0.0, -180.0, 0.0],
            [-179.0, 0.0, -179.0, 0.0],
            [-178.0, 0.0, -178.0, 0.0]
        ]
    );
    assert_eq!(
        boxes(&points(MAX_INTERSECTS_PARTS)).len(),
        MAX_INTERSECTS_PARTS
    );
    // Past the bound, one box around them all.
    assert_eq!(
        boxes(&points(MAX_INTERSECTS_PARTS + 1)),
        vec![[-180.0, 0.0, 179.0, 0.0]]
    );
    let nested = json!({"type": "GeometryCollection", "geometries": [
        points(MAX_INTERSECTS_PARTS),
        {"type": "Point", "coordinates": [1.0, 1.0]}]});
    assert_eq!(boxes(&nested), vec![[-180.0, 0.0, 179.0, 1.0]]);
    let line = json!({"type": "LineString", "coordinates": [[0.0, 0.0], [2.0, 3.0]]});
    assert_eq!(boxes(&line), vec![[0.0, 0.0, 2.0, 3.0]]);
}

/// A ring of so many edges that every one crossing each of 512 rows would be tens of millions
/// of crossings is measured on fewer rows, the work held to `MAX_CROSSINGS`, and still near the
/// area a ring of few edges gives the same shape: a circle of 90,000 vertices against one of
/// 360, and the same ring walked as a star (every edge across the whole circle) against it.
#[test]
fn a_ring_of_very_many_edges_is_measured_on_fewer_rows_and_about_as_well() {
    let ring = |vertices: usize, step: usize| {
        let mut ring: Vec<(f64, f64)> = (0..vertices)
            .map(|i| {
                let angle =
                    std::f64::consts::TAU * ((i * step) % vertices) as f64 / vertices as f64;
                (10.0 + 0.5 * angle.cos(), 10.0 + 0.5 * angle.sin())
            })
            .collect();
        ring.push(ring[0]);
        vec![vec![ring]]
    };
    assert_eq!(rows_for(&ring(360, 1), 0), COVERAGE_ROWS);
    let many = ring(90_001, 1);
    let rows = rows_for(&many, 0);
    assert!((MIN_ROWS..COVERAGE_ROWS).contains(&rows), "{rows}");
    let few = polygons_area_km2(&ring(360, 1));
    let near = |a: f64| (a - few).abs() <= few * 0.02;
    assert!(
        near(polygons_area_km2(&many)),
        "{} against {few}",
        polygons_area_km2(&many)
    );
    // Many polygons each under the cap count together: a MultiPolygon is measured as one.
    let pieces: Polygons = (0..23).flat_map(|_| ring(3_900, 1)).collect();
    assert!(
        rows_for(&pieces, 0) < COVERAGE_ROWS,
        "{}",
        rows_for(&pieces, 0)
    );
    let one = polygons_area_km2(&ring(3_900, 1));
    let all = polygons_area_km2(&pieces);
    assert!(
        (all - 23.0 * one).abs() <= one * 23.0 * 0.02,
        "{all} against 23 × {one}"
    );
    // Areas measured one by one for one request share the bound: each of 23 measures of
    // 3,900 edges samples the rows their 89,700 edges together allow, as the MultiPolygon of
    // all of them does, and measures about as much.
    let request_edges = 23 * edge_count(&ring(3_900, 1));
    assert_eq!(
        rows_for(&ring(3_900, 1), request_edges),
        rows_for(&pieces, 0)
    );
    let shared = polygons_area_km2_among(&ring(3_900, 1), request_edges);
    assert!((shared - one).abs() <= one * 0.02, "{shared} against {one}");
    // Fewer edges than the area's own count as its own.
    assert_eq!(rows_for(&pieces, 1), rows_for(&pieces, 0));
    // Each vertex joined to the one almost opposite: a star that winds around the centre.
    let star = ring(90_001, 90_001 / 2 - 1);
    let covered = polygons_area_km2(&star);
    assert!(
        covered > 0.0 && covered <= few * 1.02,
        "{covered} against {few}"
    );
}

/// The stream's free-form body takes `catalog.search`'s page sizes, read from the contract:
/// its largest is taken, one more or a fraction is refused naming both bounds.
#[test]
fn a_stream_limit_is_bounded_as_catalog_search_bounds_it() {
    let with = |limit: Value| json!({"host_name": PUBLIC_HOST, "limit": limit});
    assert_eq!(search_limit_bounds(), (1.0, 500.0));
    let search = Search::parse(&with(json!(500)), 0).expect("the largest page is taken");
    assert_eq!(search.limit, 500);
    for refused in [json!(501), json!(0), json!(2.5), json!("10")] {
        let error = Search::parse(&with(refused.clone()), 0).expect_err("refused");
        let text = format!("{error:?}");
        assert!(text.contains("between 1 and 500"), "{refused}: {text}");
    }
}
