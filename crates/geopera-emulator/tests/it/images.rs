//! Operations that answer pictures or XML: tiles, COG renders, WMTS and the quicklook and
//! thumbnail assets the catalog redirects to.

use geopera_emulator::{Emulator, RateLimits};
use serde_json::{json, Value};

use crate::common::{Api, Resp};
use crate::jobs::{not_areas, refused_area, square};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Width and height from a PNG's IHDR chunk, checking the signature and chunk on the way.
fn png_size(body: &[u8]) -> (u32, u32) {
    assert!(
        body.starts_with(PNG_SIGNATURE),
        "not a PNG: {:?}",
        &body[..body.len().min(16)]
    );
    assert!(body.len() > 24, "too short for an IHDR");
    assert_eq!(&body[8..12], &[0, 0, 0, 13], "IHDR length");
    assert_eq!(&body[12..16], b"IHDR");
    let word = |at: usize| u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
    (word(16), word(20))
}

fn assert_jpeg(resp: &Resp) {
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(resp.content_type(), "image/jpeg");
    assert!(resp.body.starts_with(&[0xff, 0xd8, 0xff]), "SOI");
    assert!(resp.body.ends_with(&[0xff, 0xd9]), "EOI");
}

fn a_scene(api: &Api) -> String {
    let found = api.call(
        "catalog.search",
        json!({"host_name": "earthsearch-aws", "limit": 1}),
    );
    found.json()["features"][0]["id"]
        .as_str()
        .expect("a scene id")
        .to_owned()
}

/// An item of the caller's default project.
fn an_item(api: &Api) -> String {
    let project = api.emu.default_project(geopera_emulator::DEMO_ORG);
    api.call("items.list", json!({"project_id": project, "limit": 1}))
        .json()["items"][0]["id"]
        .as_str()
        .expect("an item")
        .to_owned()
}

/// A live share link of a collection, and its password.
fn a_share(api: &Api) -> (String, &'static str) {
    let project = api.call("projects.create", json!({"name": "tiles"})).json()["id"].clone();
    let collection = api
        .call(
            "collections.create",
            json!({"project_id": project, "name": "shared"}),
        )
        .json()["id"]
        .clone();
    let later = geopera_types::rfc3339::format_date_time(api.emu.clock().now_secs() + 3600);
    let link = api
        .call(
            "share.link.create",
            json!({"target_type": "collection", "target_id": collection,
                   "password": "tile password", "expires_at": later}),
        )
        .json();
    (
        link["token"].as_str().expect("a token").to_owned(),
        "tile password",
    )
}

fn cog_tile(z: i64, x: i64, y: i64, format: &str) -> Value {
    json!({"url": "https://example.com/a.tif", "z": z, "x": x, "y": y, "format": format})
}

#[test]
fn tile_render_answers_a_256_pixel_png() {
    let api = Api::start();
    let scene = a_scene(&api);
    let resp = api.call(
        "catalog.tile.render",
        json!({"collection": "sentinel-2-l2a", "scene_id": scene, "visualization": "true_color",
               "z": 3, "x": 4, "y": 2, "format": "png"}),
    );
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(resp.content_type(), "image/png");
    assert_eq!(png_size(&resp.body), (256, 256));
    let item = an_item(&api);
    let (token, password) = a_share(&api);
    for (op, body) in [
        ("cog.tile.render", cog_tile(0, 0, 0, "png")),
        (
            "cog.tile.terrain",
            json!({"url": "u", "z": 1, "x": 1, "y": 0}),
        ),
        (
            "items.tile.render",
            json!({"item_id": item, "z": 2, "x": 3, "y": 3}),
        ),
        (
            "items.tile.wmts_get_tile",
            json!({"item_id": item, "z": 2, "x": 0, "y": 1}),
        ),
        (
            "share.tile.render",
            json!({"token": token, "password": password, "z": 5, "x": 31, "y": 0}),
        ),
    ] {
        let resp = api.call(op, body);
        assert_eq!(resp.status, 200, "{op}: {:?}", resp.body);
        assert_eq!(resp.content_type(), "image/png", "{op}");
        assert_eq!(png_size(&resp.body), (256, 256), "{op}");
    }
}

#[test]
fn cog_thumbnail_has_the_asked_size_and_defaults_to_256() {
    let api = Api::start();
    let resp = api.call(
        "cog.thumbnail",
        json!({"url": "https://example.com/a.tif", "width": 120, "height": 60}),
    );
    assert_eq!(resp.content_type(), "image/png");
    assert_eq!(png_size(&resp.body), (120, 60));
    let resp = api.call("cog.thumbnail", json!({"url": "https://example.com/a.tif"}));
    assert_eq!(png_size(&resp.body), (256, 256));
}

#[test]
fn jpeg_and_jpg_formats_answer_jpeg() {
    let api = Api::start();
    assert_jpeg(&api.call("cog.tile.render", cog_tile(4, 1, 1, "jpeg")));
    assert_jpeg(&api.call("cog.tile.render", cog_tile(4, 1, 1, "JPG")));
    let (token, password) = a_share(&api);
    assert_jpeg(&api.call(
        "share.tile.render",
        json!({"token": token, "password": password, "z": 0, "x": 0, "y": 0, "format": "jpg"}),
    ));
    let wrong = api.call(
        "share.tile.render",
        json!({"token": token, "password": "not it", "z": 0, "x": 0, "y": 0}),
    );
    assert_eq!(wrong.status, 404);
}

#[test]
fn formats_the_emulator_does_not_write_fall_back_to_png() {
    let api = Api::start();
    // `items.tile.render` defaults to webp, which the emulator does not encode.
    let resp = api.call(
        "items.tile.render",
        json!({"item_id": an_item(&api), "z": 0, "x": 0, "y": 0}),
    );
    assert_eq!(resp.content_type(), "image/png");
    let resp = api.call("cog.tile.render", cog_tile(0, 0, 0, "avif"));
    assert_eq!(resp.content_type(), "image/png");
    png_size(&resp.body);
}

#[test]
fn the_same_tile_is_the_same_bytes_and_another_tile_or_seed_is_not() {
    let api = Api::start();
    let first = api.call("cog.tile.render", cog_tile(5, 10, 11, "png"));
    let again = api.call("cog.tile.render", cog_tile(5, 10, 11, "png"));
    assert_eq!(first.body, again.body);
    let neighbour = api.call("cog.tile.render", cog_tile(5, 10, 12, "png"));
    assert_ne!(first.body, neighbour.body);
    let jpeg = api.call("cog.tile.render", cog_tile(5, 10, 11, "jpeg"));
    assert_eq!(
        jpeg.body,
        api.call("cog.tile.render", cog_tile(5, 10, 11, "jpeg"))
            .body
    );

    let other_seed = Api::with(Emulator::builder().rate_limits(RateLimits::off()).seed(99));
    let reseeded = other_seed.call("cog.tile.render", cog_tile(5, 10, 11, "png"));
    assert_ne!(first.body, reseeded.body);
}

#[test]
fn tiles_off_the_grid_are_422_naming_the_field() {
    let api = Api::start();
    let cases = [
        (cog_tile(31, 0, 0, "png"), vec!["z"]),
        (cog_tile(-1, 0, 0, "png"), vec!["z"]),
        (cog_tile(2, 4, 0, "png"), vec!["x"]),
        (cog_tile(2, 0, -1, "png"), vec!["y"]),
        (cog_tile(0, 1, 1, "png"), vec!["x", "y"]),
    ];
    for (body, fields) in cases {
        let resp = api.call("cog.tile.render", body.clone());
        assert_eq!(resp.status, 422, "{body}");
        let detail = resp.json()["detail"].clone();
        let named: Vec<&str> = detail
            .as_array()
            .expect("detail")
            .iter()
            .map(|error| {
                assert_eq!(error["loc"][0], "body");
                error["loc"][1].as_str().expect("a field")
            })
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    let resp = api.call(
        "items.tile.wmts_get_tile",
        json!({"item_id": "i", "z": 1, "x": 0, "y": 2}),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(resp.json()["detail"][0]["loc"], json!(["body", "y"]));
}

#[test]
fn catalog_tiles_of_an_unknown_scene_are_404_and_other_subjects_render_anyway() {
    let api = Api::start();
    let resp = api.call(
        "catalog.tile.render",
        json!({"collection": "c", "scene_id": "no-such-scene", "visualization": "v",
               "z": 0, "x": 0, "y": 0, "format": "png"}),
    );
    assert_eq!(resp.status, 404);
    assert_eq!(resp.content_type(), "application/problem+json");
    // The emulator cannot know COG URLs, so it draws them whatever they are.
    let resp = api.call("cog.tile.render", cog_tile(0, 0, 0, "png"));
    assert_eq!(resp.status, 200);
    // Items it does know: another organization's, or a missing one, is 404.
    for op in ["items.tile.render", "items.tile.wmts_get_tile"] {
        let resp = api.call(
            op,
            json!({"item_id": "itm_missing", "z": 0, "x": 0, "y": 0}),
        );
        assert_eq!(resp.status, 404, "{op}");
    }
    let other = api.emu.create_key_in_org("org_other_tiles", &["*"]);
    let theirs = api.call_as(
        &other,
        "items.tile.render",
        json!({"item_id": an_item(&api), "z": 0, "x": 0, "y": 0}),
    );
    assert_eq!(theirs.status, 404);
}

/// Regression: `catalog.tile.render` ignored `aoi_clip_body`, so a tile clipped to a point,
/// to a place off the globe or to no GeoJSON at all was drawn as if it had been clipped. The
/// area is held to a clip job's rule, with 422 at `aoi_clip_body`; the picture stays the same.
#[test]
fn a_tiles_aoi_clip_body_is_an_area_on_the_globe_else_422_at_aoi_clip_body() {
    let api = Api::start();
    let scene = a_scene(&api);
    let tile = |aoi: Value| {
        json!({"collection": "sentinel-2-l2a", "scene_id": scene, "visualization": "true_color",
               "z": 3, "x": 4, "y": 2, "format": "png", "aoi_clip_body": aoi})
    };
    let unclipped = api.call("catalog.tile.render", tile(Value::Null));
    assert_eq!(unclipped.status, 200, "{:?}", unclipped.body);
    let clipped = api.call("catalog.tile.render", tile(square(10.0, 10.0)));
    assert_eq!(clipped.status, 200, "{:?}", clipped.body);
    assert_eq!(clipped.content_type(), "image/png");
    assert_eq!(clipped.body, unclipped.body);
    for (what, aoi) in not_areas() {
        refused_area(
            api.call("catalog.tile.render", tile(aoi)),
            "aoi_clip_body",
            what,
        );
    }
}

#[test]
fn wmts_capabilities_are_xml_naming_the_item_and_its_tile_template() {
    let api = Api::start();
    let item = an_item(&api);
    let body = json!({"item_id": item, "base_url": "https://tiles.example.com/"});
    let resp = api.call("items.tile.wmts_capabilities", body.clone());
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type(), "application/xml");
    let text = std::str::from_utf8(&resp.body).expect("UTF-8");
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(text.contains("<Capabilities"));
    assert!(text.contains("version=\"1.0.0\""));
    assert!(text.contains(&format!("<ows:Identifier>{item}</ows:Identifier>")));
    assert!(text.contains("<ows:Identifier>WebMercatorQuad</ows:Identifier>"));
    assert!(text.contains(&format!(
        "template=\"https://tiles.example.com/wmts/{item}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png\""
    )));
    assert!(text.trim_end().ends_with("</Capabilities>"));
    assert_eq!(
        resp.body,
        api.call("items.tile.wmts_capabilities", body).body
    );
}

/// A WMTS client that reads the capabilities with the emulator as `base_url` and follows the
/// template gets the same tiles the operation answers; off-template requests are refused.
#[test]
fn the_wmts_template_leads_to_tiles_the_emulator_serves() {
    let api = Api::start();
    let item = an_item(&api);
    let base = api.emu.base_url();
    let capabilities = api.call(
        "items.tile.wmts_capabilities",
        json!({"item_id": item, "base_url": base, "key": "gpra_for_the_tile_client"}),
    );
    let text = std::str::from_utf8(&capabilities.body).expect("UTF-8");
    let template = text
        .split("template=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a ResourceURL template")
        .replace("&amp;", "&");
    let tile_url = |matrix_set: &str, level: &str, column: &str, row: &str| {
        template
            .replace("{TileMatrixSet}", matrix_set)
            .replace("{TileMatrix}", level)
            .replace("{TileCol}", column)
            .replace("{TileRow}.png", row)
    };
    let get = |url: String| Resp::read(api.http.get(url).send().expect("GET")).expect("read");

    let tile = get(tile_url("WebMercatorQuad", "3", "2", "5.png"));
    assert_eq!(tile.status, 200, "{:?}", tile.body);
    assert_eq!(tile.content_type(), "image/png");
    assert_eq!(png_size(&tile.body), (256, 256));
    let answered = api.call(
        "items.tile.wmts_get_tile",
        json!({"item_id": item, "z": 3, "x": 2, "y": 5}),
    );
    assert_eq!(tile.body, answered.body, "the operation's picture");
    let neighbour = get(tile_url("WebMercatorQuad", "3", "2", "6.png"));
    assert_ne!(neighbour.body, tile.body, "each tile its own picture");

    for (url, status) in [
        (tile_url("WebMercatorQuad", "3", "8", "5.png"), 400),
        (tile_url("WebMercatorQuad", "3", "2", "-1.png"), 400),
        (tile_url("WebMercatorQuad", "23", "0", "0.png"), 404),
        (tile_url("WebMercatorQuad", "x", "0", "0.png"), 404),
        (tile_url("WorldCRS84Quad", "0", "0", "0.png"), 404),
        (tile_url("WebMercatorQuad", "0", "0", "0.jpg"), 404),
    ] {
        let refused = get(url.clone());
        assert_eq!(refused.status, status, "{url}");
        assert_eq!(refused.content_type(), "application/problem+json", "{url}");
    }
}

#[test]
fn an_items_tilejson_points_at_tiles_the_emulator_serves() {
    let api = Api::start();
    let item = an_item(&api);
    let tilejson = api
        .call("items.tile.tilejson", json!({"item_id": item}))
        .json();
    let template = tilejson["tiles"][0].as_str().expect("a tile URL");
    let url = template
        .replace("{z}", "3")
        .replace("{x}", "2")
        .replace("{y}", "1");
    let tile = api.http.get(url).send().expect("GET");
    assert_eq!(tile.status().as_u16(), 200);
    let body = tile.bytes().expect("body");
    assert_eq!(png_size(&body), (256, 256));
    // Off the grid there is no tile, as `items.tile.render` refuses one (422 there).
    for (z, x, y) in [("3", "9", "1"), ("3", "1", "8"), ("31", "0", "0")] {
        let url = template
            .replace("{z}", z)
            .replace("{x}", x)
            .replace("{y}", y);
        let off = api.http.get(url).send().expect("GET");
        assert_eq!(off.status().as_u16(), 404, "{z}/{x}/{y}");
    }
    // The kind in other letters names the same tiles, and is held to the same grid.
    let shouted = template
        .replace("/assets/tiles/", "/assets/TILES/")
        .replace("{z}", "3")
        .replace("{x}", "99")
        .replace("{y}", "99");
    let off = api.http.get(shouted).send().expect("GET");
    assert_eq!(off.status().as_u16(), 404);
    let missing = api.call("items.tile.tilejson", json!({"item_id": "itm_missing"}));
    assert_eq!(missing.status, 404);
    // A box with heights bounds the same place as one without; it was read as the world.
    api.ok(
        "items.update",
        json!({"item_id": item, "bbox": [10.0, 20.0, -5.0, 11.0, 21.0, 30.0]}),
    );
    let tilejson = api.ok("items.tile.tilejson", json!({"item_id": item}));
    assert_eq!(tilejson["bounds"], json!([10.0, 20.0, 11.0, 21.0]));
}

/// A path segment with its `%XX` escapes decoded.
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escaped = (bytes[at] == b'%')
            .then(|| segment.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The asset key and the profile go into the tile URL escaped, where they once went in as
/// they were: a `/`, `?` or `#` in the key, or a `&` or `#` in the profile, made a URL that
/// named another path or other parameters. A key that cannot be one path segment is 422.
#[test]
fn an_items_tilejson_escapes_the_asset_key_and_the_profile() {
    let api = Api::start();
    let item = an_item(&api);
    let asset = "true colour/b?c#d%e&f";
    let profile = "natural&bands=1 2#top";
    let tilejson = api.ok(
        "items.tile.tilejson",
        json!({"item_id": item, "asset_key": asset, "profile": profile}),
    );
    let template = tilejson["tiles"][0].as_str().expect("a tile URL");
    assert!(template.contains("/{z}/{x}/{y}.png?"), "{template}");
    let url = reqwest::Url::parse(
        &template
            .replace("{z}", "3")
            .replace("{x}", "2")
            .replace("{y}", "1"),
    )
    .expect("a URL");
    let segments: Vec<String> = url
        .path_segments()
        .expect("a path")
        .map(percent_decoded)
        .collect();
    assert_eq!(
        segments,
        ["assets", "tiles", item.as_str(), asset, "3", "2", "1.png"],
        "{template}"
    );
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [("profile".to_owned(), profile.to_owned())],
        "{template}"
    );
    assert_eq!(url.fragment(), None, "{template}");
    let tile = Resp::read(api.http.get(url).send().expect("GET")).expect("read");
    assert_eq!(tile.status, 200);
    assert_eq!(png_size(&tile.body), (256, 256));

    // Nor a key whose parts between `/` the route would read as such steps: its tiles were
    // never served.
    for unusable in ["", ".", "..", "a//b", "a/../b", "a/.", "/a"] {
        let refused = api.call(
            "items.tile.tilejson",
            json!({"item_id": item, "asset_key": unusable}),
        );
        assert_eq!(refused.status, 422, "{unusable:?}");
        assert_eq!(
            refused.json()["detail"][0]["loc"],
            json!(["body", "asset_key"]),
            "{unusable:?}"
        );
    }
}

#[test]
fn the_operations_said_to_answer_with_a_redirect_are_the_ones_that_do() {
    let api = Api::start();
    let scene = a_scene(&api);
    let body = json!({"host_name": "earthsearch-aws", "image_id": scene});
    let said: Vec<&str> = geopera_types::operations::ALL
        .iter()
        .filter(|info| info.answers_with_redirect())
        .map(|info| info.id)
        .collect();
    assert_eq!(said, ["catalog.image.quicklook", "catalog.image.thumbnail"]);
    for id in said {
        assert_eq!(api.call(id, body.clone()).status, 307, "{id}");
    }
}

#[test]
fn quicklook_redirect_leads_to_a_png_of_the_scene() {
    let api = Api::start();
    let scene = a_scene(&api);
    let body = json!({"host_name": "earthsearch-aws", "image_id": scene});
    let resp = api.call("catalog.image.quicklook", body.clone());
    assert_eq!(resp.status, 307);
    let location = resp.header("location").expect("a Location").to_owned();
    let follow =
        || Resp::read(api.http.get(&location).send().expect("the asset answers")).expect("read");
    let asset = follow();
    assert_eq!(asset.status, 200);
    assert_eq!(asset.content_type(), "image/png");
    assert_eq!(png_size(&asset.body), (256, 256));
    assert_eq!(asset.body, follow().body);

    let resp = api.call("catalog.image.thumbnail", body);
    assert_eq!(resp.status, 307);
    let thumbnail = Resp::read(
        api.http
            .get(resp.header("location").expect("a Location"))
            .send()
            .expect("the asset answers"),
    )
    .expect("read");
    assert_eq!(png_size(&thumbnail.body), (128, 128));
}

#[test]
fn assets_answer_jpeg_for_jpeg_names_and_tiff_for_others() {
    let api = Api::start();
    let base = api.emu.base_url();
    let get = |path: &str| {
        Resp::read(
            api.http
                .get(format!("{base}{path}"))
                .send()
                .expect("answers"),
        )
        .expect("read")
    };
    for name in ["a.jpg", "a.JPEG"] {
        assert_jpeg(&get(&format!("/assets/quicklook/{name}")));
    }
    assert_ne!(
        get("/assets/quicklook/a.png").body,
        get("/assets/quicklook/b.png").body
    );
    assert_eq!(get("/assets/data/x/data.tif").content_type(), "image/tiff");
}

/// The analytics operations answer the picture they render when the body asks for one
/// (`output_format: png`), as the contract's summary says, and their statistics otherwise:
/// they answered a sample of JSON either way.
#[test]
fn analytics_answer_a_png_when_asked_for_one() {
    let api = Api::start();
    for (operation, body) in [
        (
            "analytics.band_math",
            json!({"cog_url": "https://example.com/a.tif", "formula": "b1 - b2", "bbox": {},
                   "sensor": "sentinel-2"}),
        ),
        (
            "analytics.calculate_index",
            json!({"cog_url": "https://example.com/a.tif", "index_name": "ndvi", "bbox": {},
                   "sensor": "sentinel-2"}),
        ),
    ] {
        let stats = api.call(operation, body.clone());
        assert_eq!(stats.status, 200, "{operation}");
        assert_eq!(stats.content_type(), "application/json", "{operation}");
        let mut asked = body.clone();
        asked["output_format"] = json!("PNG");
        let picture = api.call(operation, asked);
        assert_eq!(picture.status, 200, "{operation}");
        assert_eq!(picture.content_type(), "image/png", "{operation}");
        assert_eq!(png_size(&picture.body), (256, 256), "{operation}");
        // Another COG is another picture.
        let mut elsewhere = body.clone();
        elsewhere["output_format"] = json!("png");
        elsewhere["cog_url"] = json!("https://example.com/b.tif");
        let other = api.call(operation, elsewhere);
        assert_ne!(other.body, picture.body, "{operation}");
    }
}
