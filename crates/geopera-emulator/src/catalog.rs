//! The synthetic STAC catalog and `catalog.search`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

use crate::error::{value_error, ApiError};
use crate::rng::{fnv, Rng};
use geopera_types::rfc3339::{format_date_time, parse_date_time_nanos, parse_full_date};

/// The host that serves only the commercial collection, with prices.
pub const COMMERCIAL_HOST: &str = "geopera-commercial";
/// The host that serves only the open-data collections.
pub const PUBLIC_HOST: &str = "earthsearch-aws";
/// The commercial collection's id.
pub const COMMERCIAL_COLLECTION: &str = "geopera-vhr-archive";
/// First instant of the catalog: 2023-01-01T00:00:00Z.
pub const CATALOG_START: i64 = 1_672_531_200;
/// Two years of acquisitions.
pub const CATALOG_SPAN_SECS: i64 = 730 * 86_400;

struct CollectionDef {
    id: &'static str,
    count: usize,
    prefix: &'static str,
    half_width: f64,
    gsd: f64,
    platforms: &'static [&'static str],
    constellation: &'static str,
    instrument: &'static str,
    optical: bool,
    commercial: bool,
    assets: &'static [(&'static str, &'static str, &'static str)],
}

impl CollectionDef {
    /// The host that serves the collection: the commercial archive or the open one.
    fn host(&self) -> &'static str {
        if self.commercial {
            COMMERCIAL_HOST
        } else {
            PUBLIC_HOST
        }
    }
}

const COLLECTIONS: &[CollectionDef] = &[
    CollectionDef {
        id: "sentinel-2-l2a",
        count: 4_000,
        prefix: "S2",
        half_width: 0.5,
        gsd: 10.0,
        platforms: &["sentinel-2a", "sentinel-2b"],
        constellation: "sentinel-2",
        instrument: "msi",
        optical: true,
        commercial: false,
        assets: &[
            ("thumbnail", "image/png", "thumbnail"),
            (
                "visual",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "visual",
            ),
            (
                "red",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
            (
                "nir",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
        ],
    },
    CollectionDef {
        id: "landsat-c2-l2",
        count: 3_000,
        prefix: "LC",
        half_width: 0.9,
        gsd: 30.0,
        platforms: &["landsat-8", "landsat-9"],
        constellation: "landsat",
        instrument: "oli",
        optical: true,
        commercial: false,
        assets: &[
            ("thumbnail", "image/png", "thumbnail"),
            (
                "red",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
            (
                "nir08",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
        ],
    },
    CollectionDef {
        id: "sentinel-1-grd",
        count: 2_000,
        prefix: "S1",
        half_width: 1.1,
        gsd: 10.0,
        platforms: &["sentinel-1a"],
        constellation: "sentinel-1",
        instrument: "c-sar",
        optical: false,
        commercial: false,
        assets: &[
            (
                "vv",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
            (
                "vh",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
        ],
    },
    CollectionDef {
        id: COMMERCIAL_COLLECTION,
        count: 1_500,
        prefix: "VHR",
        half_width: 0.08,
        gsd: 0.5,
        platforms: &["geopera-vhr-1", "geopera-vhr-2"],
        constellation: "geopera-vhr",
        instrument: "pan-ms",
        optical: true,
        commercial: true,
        assets: &[
            ("thumbnail", "image/png", "thumbnail"),
            (
                "analytic",
                "image/tiff; application=geotiff; profile=cloud-optimized",
                "data",
            ),
        ],
    },
];

/// One synthetic acquisition.
#[derive(Debug)]
pub struct Item {
    /// The item id, unique across collections.
    pub id: String,
    collection: usize,
    /// `[west, south, east, north]` in degrees; never crosses the antimeridian.
    pub bbox: [f64; 4],
    /// Acquisition time, Unix seconds.
    pub datetime: i64,
    cloud_cover: Option<f64>,
    platform: &'static str,
    /// Price in A$ per km² for commercial items.
    pub price_aud_per_km2: Option<f64>,
}

impl Item {
    /// The item's collection id.
    pub fn collection(&self) -> &'static str {
        COLLECTIONS
            .get(self.collection)
            .map_or("unknown", |def| def.id)
    }

    /// The host that serves the item's collection: the commercial archive or the open one.
    pub fn source(&self) -> &'static str {
        COLLECTIONS
            .get(self.collection)
            .map_or(PUBLIC_HOST, CollectionDef::host)
    }

    /// The kind of data it is, as a federated search's `data_types` names it: `optical` or
    /// `sar`.
    pub fn data_type(&self) -> &'static str {
        match COLLECTIONS.get(self.collection) {
            Some(def) if !def.optical => "sar",
            _ => "optical",
        }
    }

    /// The item as a STAC Feature whose asset links point at `base_url`.
    pub fn to_feature(&self, base_url: &str) -> Value {
        let [west, south, east, north] = self.bbox;
        let Some(def) = COLLECTIONS.get(self.collection) else {
            return Value::Null;
        };
        let mut properties = Map::new();
        properties.insert("datetime".into(), json!(format_date_time(self.datetime)));
        properties.insert("platform".into(), json!(self.platform));
        properties.insert("constellation".into(), json!(def.constellation));
        properties.insert("instruments".into(), json!([def.instrument]));
        properties.insert("gsd".into(), json!(def.gsd));
        if let Some(cloud) = self.cloud_cover {
            properties.insert("eo:cloud_cover".into(), json!(cloud));
        }
        if let Some(price) = self.price_aud_per_km2 {
            properties.insert(
                "geopera:price".into(),
                json!({
                    "currency": "AUD",
                    "aud_per_km2": price,
                    "min_area_km2": MIN_AREA_KM2,
                    "credits_per_km2": (price * 100.0).round() as i64,
                }),
            );
        }
        let mut assets = Map::new();
        for (name, media_type, role) in def.assets {
            let extension = if media_type.starts_with("image/png") {
                "png"
            } else {
                "tif"
            };
            assets.insert(
                (*name).to_owned(),
                json!({
                    "href": format!("{base_url}/assets/data/{}/{name}.{extension}", self.id),
                    "type": media_type,
                    "roles": [role],
                }),
            );
        }
        json!({
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [],
            "id": self.id,
            "collection": def.id,
            "bbox": [west, south, east, north],
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
            },
            "properties": properties,
            "assets": assets,
            "links": [
                {"rel": "collection", "type": "application/json", "href": format!("{base_url}/collections/{}", def.id)},
            ],
        })
    }
}

/// The host that serves the catalog's collection `id`, when the catalog has it: what a
/// `catalog.search` of that collection names as its `host_name`.
pub(crate) fn collection_host(id: &str) -> Option<&'static str> {
    COLLECTIONS
        .iter()
        .find(|def| def.id == id)
        .map(CollectionDef::host)
}

/// The `next` token that starts `search` (a `catalog.search` body) at match `offset`, as a
/// page ending there would have answered it; none for a body the search refuses.
pub(crate) fn token_at(search: &Value, offset: usize, seed: u64) -> Option<String> {
    let search = Search::parse(search, seed).ok()?;
    Some(encode_token(offset, search.query, seed))
}

/// The STAC Collection document of the catalog's collection `id`, shaped as an entry of
/// `stac.collections.list`, with links that start at `base_url`; `None` for an id the
/// catalog does not have. Its features' `collection` links lead here.
pub fn collection_document(id: &str, base_url: &str) -> Option<Value> {
    let def = COLLECTIONS.iter().find(|def| def.id == id)?;
    let base_url = base_url.trim_end_matches('/');
    Some(json!({
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": def.id,
        "title": def.id,
        "description": "",
        "license": if def.commercial { "proprietary" } else { "various" },
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[
                format_date_time(CATALOG_START),
                format_date_time(CATALOG_START + CATALOG_SPAN_SECS),
            ]]},
        },
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base_url}/collections/{}", def.id)},
        ],
    }))
}

/// The smallest area a commercial capture is billed for.
pub const MIN_AREA_KM2: f64 = 25.0;

/// Every item, in the one stable order searches page through (newest first, then id).
#[derive(Debug)]
pub struct Catalog {
    items: Vec<Item>,
    by_id: HashMap<String, usize>,
    /// For every set of collections (bit `i` for `COLLECTIONS[i]`), the positions of its
    /// items in search order: a search by host or collections pages through one of these.
    by_collections: Vec<Vec<u32>>,
}

impl Catalog {
    /// The catalog for a seed; built once per process and shared.
    pub fn for_seed(seed: u64) -> Arc<Catalog> {
        static CACHE: OnceLock<Mutex<HashMap<u64, Arc<Catalog>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let mut cache = match cache.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        cache
            .entry(seed)
            .or_insert_with(|| Arc::new(Catalog::build(seed)))
            .clone()
    }

    fn build(seed: u64) -> Catalog {
        let mut rng = Rng::new(seed ^ 0xca7a_1096);
        let mut items = Vec::new();
        for (collection, def) in COLLECTIONS.iter().enumerate() {
            for n in 0..def.count {
                let lat_half = def.half_width;
                let lon_half = def.half_width * 1.2;
                let lon = rng.range(-180.0 + lon_half, 180.0 - lon_half);
                let lat = rng.range(-60.0, 75.0);
                let datetime = CATALOG_START + (rng.next() % CATALOG_SPAN_SECS as u64) as i64;
                let platform = def.platforms[(rng.next() % def.platforms.len() as u64) as usize];
                let cloud_cover = def
                    .optical
                    .then(|| (rng.range(0.0, 100.0) * 100.0).round() / 100.0);
                let price = def
                    .commercial
                    .then(|| [8.5, 12.0, 16.0, 22.0][(rng.next() % 4) as usize]);
                let stamp = format_date_time(datetime).replace(['-', ':'], "");
                let stamp = stamp.trim_end_matches('Z');
                items.push(Item {
                    id: format!("{}_{}_{n:05}", def.prefix, stamp),
                    collection,
                    bbox: [
                        round6(lon - lon_half),
                        round6(lat - lat_half),
                        round6(lon + lon_half),
                        round6(lat + lat_half),
                    ],
                    datetime,
                    cloud_cover,
                    platform,
                    price_aud_per_km2: price,
                });
            }
        }
        items.sort_by(|a, b| b.datetime.cmp(&a.datetime).then_with(|| a.id.cmp(&b.id)));
        let by_id = items
            .iter()
            .enumerate()
            .map(|(index, item)| (item.id.clone(), index))
            .collect();
        let by_collections = (0..1u32 << COLLECTIONS.len())
            .map(|mask| {
                (0u32..)
                    .zip(&items)
                    .filter(|(_, item)| in_mask(mask, item))
                    .map(|(position, _)| position)
                    .collect()
            })
            .collect();
        Catalog {
            items,
            by_id,
            by_collections,
        }
    }

    /// Every item in search order.
    #[cfg(test)]
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Looks an item up by id.
    pub fn get(&self, id: &str) -> Option<&Item> {
        self.by_id.get(id).and_then(|&index| self.items.get(index))
    }
}

/// Whether an item's collection is one of the set `mask` stands for.
fn in_mask(mask: u32, item: &Item) -> bool {
    1u32.checked_shl(item.collection as u32)
        .is_some_and(|bit| mask & bit != 0)
}

/// The set of collections, as a mask over [`COLLECTIONS`], whose ids are in `ids`; ids of
/// no collection are left out (no item belongs to them).
fn mask_of<'a>(ids: impl IntoIterator<Item = &'a str>) -> u32 {
    let mut mask = 0;
    for id in ids {
        for (bit, def) in COLLECTIONS.iter().enumerate() {
            if def.id == id {
                mask |= 1 << bit;
            }
        }
    }
    mask
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// A parsed `catalog.search` body.
#[derive(Debug, Default)]
pub struct Search {
    /// The collections searched, as a mask over [`COLLECTIONS`]; `None` for all of them.
    collections: Option<u32>,
    ids: Option<HashSet<String>>,
    boxes: Vec<[f64; 4]>,
    start: Option<i64>,
    end: Option<i64>,
    cloud: [Option<f64>; 4],
    /// Items per page.
    pub limit: usize,
    /// Position of the first item of this page among all matches.
    pub offset: usize,
    /// The [`Search::digest`] of the filters, which a page's `next` token is checked against.
    query: u64,
}

const GT: usize = 0;
const GTE: usize = 1;
const LT: usize = 2;
const LTE: usize = 3;

impl Search {
    /// Reads a (schema-valid) search body. Filters the contract cannot check, such as the
    /// datetime syntax or bbox geometry, are checked here.
    ///
    /// # Errors
    /// 422 naming the offending member.
    pub fn parse(body: &Value, seed: u64) -> Result<Search, ApiError> {
        let mut search = Search {
            limit: 100,
            ..Search::default()
        };
        let host = body
            .get("host_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let scope = if host == PUBLIC_HOST {
            Some(mask_of(
                COLLECTIONS
                    .iter()
                    .filter(|def| !def.commercial)
                    .map(|def| def.id),
            ))
        } else if host == COMMERCIAL_HOST {
            Some(mask_of([COMMERCIAL_COLLECTION]))
        } else {
            None
        };
        let asked = body
            .get("collections")
            .and_then(Value::as_array)
            .map(|ids| mask_of(ids.iter().filter_map(Value::as_str)));
        search.collections = match (scope, asked) {
            (Some(scope), Some(asked)) => Some(scope & asked),
            (scope, asked) => scope.or(asked),
        };
        search.ids = strings(body.get("ids"));
        // `catalog.search` has its limit checked by the contract already, and the stream its
        // body against the same shape (`ops::catalog::search_stream`); checked here too, by
        // the bounds the contract gives `catalog.search`, a limit of text or with a fraction
        // is refused rather than ignored or cut to a whole number however the search came.
        if let Some(limit) = body.get("limit").filter(|value| !value.is_null()) {
            let (least, most) = search_limit_bounds();
            let whole = limit
                .as_f64()
                .filter(|limit| limit.fract() == 0.0 && (least..=most).contains(limit));
            let Some(limit) = whole else {
                return Err(ApiError::invalid(
                    &["limit"],
                    format!("limit must be a whole number between {least} and {most}"),
                ));
            };
            search.limit = limit as usize;
        }
        let given = |name: &str| body.get(name).filter(|value| !value.is_null());
        bbox_or_intersects(given("bbox").is_some(), given("intersects").is_some())?;
        if let Some(bbox) = given("bbox") {
            search.boxes = parse_bbox(bbox)?;
        }
        if let Some(geometry) = given("intersects") {
            search.boxes = read_intersects(geometry)?;
        }
        if let Some(text) = body.get("datetime").and_then(Value::as_str) {
            let (start, end) = parse_interval(text)
                .ok_or_else(|| ApiError::invalid(&["datetime"], "datetime must be an RFC 3339 instant or a start/end interval with '..' for an open end"))?;
            search.start = start;
            search.end = end;
        }
        if let Some(query) = body.get("query").and_then(Value::as_object) {
            for (property, condition) in query {
                if property != "eo:cloud_cover" && property != "cloudCoverage" {
                    continue;
                }
                let Some(condition) = condition.as_object() else {
                    continue;
                };
                // Only the operators the contract declares count, spelled as it spells them:
                // the API ignores what it does not declare (the SDK and the CLI warn so), and
                // an undeclared `lt` must not widen or remove a declared `LT` beside it.
                for (operator, value) in condition {
                    let slot = match operator.as_str() {
                        "GT" => GT,
                        "GTE" => GTE,
                        "LT" => LT,
                        "LTE" => LTE,
                        _ => continue,
                    };
                    // Both names of cloud cover may come in one body: each bound holds, so
                    // the tighter one is kept, in whichever order the members came.
                    let tighter = match (search.cloud[slot], value.as_f64()) {
                        (Some(kept), Some(new)) if slot == GT || slot == GTE => kept.max(new),
                        (Some(kept), Some(new)) => kept.min(new),
                        (kept, new) => {
                            search.cloud[slot] = new.or(kept);
                            continue;
                        }
                    };
                    search.cloud[slot] = Some(tighter);
                }
            }
        }
        search.query = search.digest();
        if let Some(token) = body.get("next").and_then(Value::as_str) {
            search.offset = decode_token(token, search.query, seed).ok_or_else(|| {
                ApiError::invalid(
                    &["next"],
                    "next is not a token from a previous page of this search",
                )
            })?;
        }
        Ok(search)
    }

    fn has_cloud_filter(&self) -> bool {
        self.cloud.iter().any(Option::is_some)
    }

    /// Whether an item passes the collection and datetime filters.
    fn matches_indexed(&self, item: &Item) -> bool {
        self.collections.is_none_or(|mask| in_mask(mask, item))
            && self.start.is_none_or(|start| item.datetime >= start)
            && self.end.is_none_or(|end| item.datetime <= end)
    }

    /// Whether an item passes the filters no index answers: bbox/intersects and cloud cover.
    fn matches_rest(&self, item: &Item) -> bool {
        if !self.boxes.is_empty() && !self.boxes.iter().any(|query| overlaps(query, &item.bbox)) {
            return false;
        }
        if self.has_cloud_filter() {
            let Some(cloud) = item.cloud_cover else {
                return false;
            };
            let [gt, gte, lt, lte] = self.cloud;
            if gt.is_some_and(|v| cloud <= v)
                || gte.is_some_and(|v| cloud < v)
                || lt.is_some_and(|v| cloud >= v)
                || lte.is_some_and(|v| cloud > v)
            {
                return false;
            }
        }
        true
    }

    /// The positions, in search order, of the items that pass the collection, id and
    /// datetime filters: a range of a precomputed list, or the listed ids' own positions.
    fn candidates<'c>(&self, catalog: &'c Catalog) -> Cow<'c, [u32]> {
        if let Some(ids) = &self.ids {
            // A handful of ids: look each one up rather than walk a list.
            let mut positions: Vec<u32> = ids
                .iter()
                .filter_map(|id| catalog.by_id.get(id))
                .filter(|&&index| {
                    catalog
                        .items
                        .get(index)
                        .is_some_and(|item| self.matches_indexed(item))
                })
                .filter_map(|&index| u32::try_from(index).ok())
                .collect();
            positions.sort_unstable();
            return Cow::Owned(positions);
        }
        let all = (1u32 << COLLECTIONS.len()) - 1;
        let list = catalog
            .by_collections
            .get(self.collections.unwrap_or(all) as usize)
            .map_or(&[][..], Vec::as_slice);
        // Items run newest first: those within [start, end] are one stretch of every list.
        let items = &catalog.items;
        let newest = |position: &u32| {
            items
                .get(*position as usize)
                .map_or(0, |item| item.datetime)
        };
        let from = self.end.map_or(0, |end| {
            list.partition_point(|position| newest(position) > end)
        });
        let to = self.start.map_or(list.len(), |start| {
            list.partition_point(|position| newest(position) >= start)
        });
        Cow::Borrowed(list.get(from..to.max(from)).unwrap_or_default())
    }

    /// What the search asks for apart from where its page starts and how long it is: the
    /// filters as parsed, so that bodies spelling one search differently (keys in another
    /// order, `10` for `10.0`, a default or an empty `query` written out, members the search
    /// does not read) give one digest, and bodies asking for different items give different
    /// ones. FNV over a fixed spelling, so the digest is the same in every process.
    fn digest(&self) -> u64 {
        let mut ids: Vec<&str> = self.ids.iter().flatten().map(String::as_str).collect();
        ids.sort_unstable();
        // `-0.0 + 0.0` is `0.0`: the two zeros select the same items.
        let bits = |value: f64| (value + 0.0).to_bits();
        let boxes: Vec<[u64; 4]> = self.boxes.iter().map(|corners| corners.map(bits)).collect();
        let cloud = self.cloud.map(|bound| bound.map(bits));
        fnv(&format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.collections,
            self.ids.is_some(),
            ids,
            boxes,
            self.start,
            self.end,
            cloud
        ))
    }

    /// Runs the search: this page's items, how many match in all, and the next page's token.
    /// Costs the page's size when only collections, hosts and datetimes are filtered on;
    /// other filters are checked on every item the indexed ones leave.
    pub fn run(&self, catalog: &Catalog, seed: u64) -> Page {
        let candidates = self.candidates(catalog);
        let (positions, matched) = if self.boxes.is_empty() && !self.has_cloud_filter() {
            let page = candidates
                .get(self.offset..)
                .unwrap_or_default()
                .iter()
                .take(self.limit)
                .copied()
                .collect();
            (page, candidates.len())
        } else {
            let mut matched = 0usize;
            let mut page = Vec::new();
            for &position in candidates.iter() {
                let Some(item) = catalog.items.get(position as usize) else {
                    continue;
                };
                if !self.matches_rest(item) {
                    continue;
                }
                if matched >= self.offset && page.len() < self.limit {
                    page.push(position);
                }
                matched += 1;
            }
            (page, matched)
        };
        let end = self.offset.saturating_add(positions.len());
        let next = (end < matched).then(|| encode_token(end, self.query, seed));
        Page {
            positions,
            matched,
            next,
        }
    }

    /// Every match, for streaming.
    pub fn all<'c>(&self, catalog: &'c Catalog) -> Vec<&'c Item> {
        self.candidates(catalog)
            .iter()
            .filter_map(|&position| catalog.items.get(position as usize))
            .filter(|item| self.matches_rest(item))
            .collect()
    }
}

/// One page of results.
#[derive(Debug)]
pub struct Page {
    /// The positions in the catalog of the items on this page.
    positions: Vec<u32>,
    /// How many items match in all.
    pub matched: usize,
    /// The token for the following page, if any.
    pub next: Option<String>,
}

impl Page {
    /// The items on this page.
    #[cfg(test)]
    pub fn items<'c>(&self, catalog: &'c Catalog) -> impl Iterator<Item = &'c Item> + use<'_, 'c> {
        self.positions
            .iter()
            .filter_map(|&position| catalog.items.get(position as usize))
    }

    /// The FeatureCollection's members other than its features, which are left empty.
    fn envelope(&self, features: Vec<Value>) -> Value {
        let mut body = json!({
            "type": "FeatureCollection",
            "features": features,
            "numberReturned": self.positions.len(),
            "numberMatched": self.matched,
        });
        if let (Some(next), Some(object)) = (&self.next, body.as_object_mut()) {
            object.insert("next".into(), json!(next));
        }
        body
    }

    /// The STAC FeatureCollection answer as a JSON tree.
    #[cfg(test)]
    pub fn to_json(&self, catalog: &Catalog, base_url: &str) -> Value {
        self.envelope(
            self.items(catalog)
                .map(|item| item.to_feature(base_url))
                .collect(),
        )
    }

    /// The STAC FeatureCollection answer: the bytes serde_json writes for the answer as one
    /// tree, with each feature's JSON copied from `features`.
    pub fn write(&self, features: &Features) -> Vec<u8> {
        const EMPTY: &[u8] = b"\"features\":[]";
        let envelope = serde_json::to_vec(&self.envelope(Vec::new())).unwrap_or_default();
        // The members are numbers and a token of hex digits and a dot, so the empty feature
        // list is the only place this text occurs.
        let Some(at) = envelope
            .windows(EMPTY.len())
            .position(|window| window == EMPTY)
            .map(|at| at + EMPTY.len() - 1)
        else {
            return envelope;
        };
        let (head, tail) = envelope.split_at(at);
        let written: Vec<&[u8]> = self
            .positions
            .iter()
            .map(|&position| features.get(position as usize))
            .collect();
        let size = envelope.len() + written.iter().map(|bytes| bytes.len() + 1).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(head);
        for (index, bytes) in written.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(tail);
        out
    }
}

/// The catalog's items as STAC Feature JSON for one emulator (their links point at its base
/// URL); each item is written the first time a page holds it and copied from then on.
#[derive(Debug)]
pub struct Features {
    catalog: Arc<Catalog>,
    base_url: String,
    written: Box<[OnceLock<Box<[u8]>>]>,
}

impl Features {
    /// None written yet.
    pub fn new(catalog: Arc<Catalog>, base_url: String) -> Features {
        let written = catalog.items.iter().map(|_| OnceLock::new()).collect();
        Features {
            catalog,
            base_url,
            written,
        }
    }

    /// The JSON of the item at `position` in search order.
    fn get(&self, position: usize) -> &[u8] {
        let (Some(slot), Some(item)) =
            (self.written.get(position), self.catalog.items.get(position))
        else {
            return b"null";
        };
        slot.get_or_init(|| {
            serde_json::to_vec(&item.to_feature(&self.base_url))
                .unwrap_or_default()
                .into()
        })
    }
}

fn strings(value: Option<&Value>) -> Option<HashSet<String>> {
    value.and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

fn parse_bbox(value: &Value) -> Result<Vec<[f64; 4]>, ApiError> {
    // A member that is not a number is refused, not skipped: skipped, `["x", 1, 2, 3, 4]`
    // would read as a box of the four numbers after it.
    let numbers: Vec<f64> = value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_f64).collect())
        .unwrap_or_default();
    Ok(split_antimeridian(read_bbox(&numbers)?))
}

/// Reads a `bbox` as `[west, south, east, north]`, from 4 numbers or 6 (with the heights
/// third and sixth), as GeoJSON (RFC 7946, 5) and STAC write it: latitudes within -90..90
/// with south <= north, longitudes within -180..180. A west edge east of the east edge is a
/// box across the antimeridian, not a mistake; [`split_antimeridian`] turns it into two.
///
/// # Errors
/// 422 at `bbox` otherwise, saying which rule the box breaks.
pub(crate) fn read_bbox(numbers: &[f64]) -> Result<[f64; 4], ApiError> {
    let [west, south, east, north] = match numbers {
        [w, s, e, n] | [w, s, _, e, n, _] => [*w, *s, *e, *n],
        _ => {
            return Err(ApiError::invalid(
                &["bbox"],
                "bbox must have 4 (or 6) numbers: west, south, east, north",
            ))
        }
    };
    if !(-90.0..=90.0).contains(&south) || !(-90.0..=90.0).contains(&north) || south > north {
        return Err(ApiError::invalid(
            &["bbox"],
            "bbox latitudes must be within -90..90, south <= north",
        ));
    }
    if !(-180.0..=180.0).contains(&west) || !(-180.0..=180.0).contains(&east) {
        return Err(ApiError::invalid(
            &["bbox"],
            "bbox longitudes must be within -180..180",
        ));
    }
    Ok([west, south, east, north])
}

/// A box whose west edge is east of its east edge crosses the antimeridian: split it.
pub(crate) fn split_antimeridian([west, south, east, north]: [f64; 4]) -> Vec<[f64; 4]> {
    if west <= east {
        vec![[west, south, east, north]]
    } else {
        vec![[west, south, 180.0, north], [-180.0, south, east, north]]
    }
}

/// Whether two boxes, neither crossing the antimeridian, share a point.
pub(crate) fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1]
}

/// A search takes a `bbox` or an `intersects`, not both, as STAC API item search rules
/// ("only one of either intersects or bbox may be specified"): a client that sends both
/// is told so, rather than answered by a rule of the emulator's own (their overlap, or one
/// of them) that a STAC API server would not follow.
///
/// # Errors
/// 422 at both `bbox` and `intersects` when both were given (neither `null`).
pub(crate) fn bbox_or_intersects(bbox: bool, intersects: bool) -> Result<(), ApiError> {
    if !(bbox && intersects) {
        return Ok(());
    }
    let message = "bbox and intersects exclude each other: give one of them";
    Err(ApiError::Validation(
        ["bbox", "intersects"]
            .into_iter()
            .map(|field| value_error(vec!["body".into(), field.into()], message))
            .collect(),
    ))
}

/// How many parts of an `intersects` are matched each by a box of its own; a geometry of
/// more is matched by one box around them all, so a search compares an item with at most
/// this many boxes.
pub(crate) const MAX_INTERSECTS_PARTS: usize = 1_000;

/// Reads a search's `intersects` as the boxes an item must overlap one of: it is held to the
/// rule an item's geometry is held to ([`read_geometry`]: a GeoJSON geometry, every position
/// on the globe), as a `bbox` is held to [`read_bbox`], and matched by the bounding box of
/// each of its parts ([`parts_of`]).
///
/// Part by part, because a geometry that crosses the antimeridian is cut in two there (RFC
/// 7946 §3.1.9): one box around both halves would span the globe between them, the long way
/// round. A part is read as GeoJSON draws it, with straight lines in longitude and latitude
/// (§3.1.1), so an uncut edge from 170 to -170 does run the long way round.
///
/// # Errors
/// 422 at `intersects` when it is not such a geometry, or has no position at all.
pub(crate) fn read_intersects(geometry: &Value) -> Result<Vec<[f64; 4]>, ApiError> {
    let refuse = |message: String| ApiError::invalid(&["intersects"], message);
    read_geometry(geometry).map_err(refuse)?;
    let boxes = geometry_boxes(geometry);
    if boxes.is_empty() {
        return Err(refuse(
            "intersects has no positions to match items by".to_owned(),
        ));
    }
    Ok(boxes)
}

/// The boxes a geometry covers, one a part ([`parts_of`]), so that a geometry cut in two at
/// the antimeridian, as RFC 7946 advises, covers its two sides and not the whole band
/// between them; one box in all past [`MAX_INTERSECTS_PARTS`] parts. Empty when it has no
/// positions.
pub(crate) fn geometry_boxes(geometry: &Value) -> Vec<[f64; 4]> {
    let Some(whole) = geometry_bbox(geometry) else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    parts_of(geometry, &mut parts);
    if parts.len() > MAX_INTERSECTS_PARTS {
        return vec![whole];
    }
    parts.into_iter().filter_map(geometry_bbox).collect()
}

/// Adds the parts of a geometry [`read_geometry`] accepted to `parts`, each as its
/// coordinates: the geometry's own for a Point, LineString or Polygon; each position, line or
/// polygon of a MultiPoint, MultiLineString or MultiPolygon; the parts of each member of a
/// GeometryCollection (whose nesting [`read_geometry`] bounds). Stops past
/// [`MAX_INTERSECTS_PARTS`], which are matched as one.
fn parts_of<'g>(geometry: &'g Value, parts: &mut Vec<&'g Value>) {
    let members = |name: &str| {
        geometry
            .get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    };
    match geometry.get("type").and_then(Value::as_str) {
        Some("MultiPoint" | "MultiLineString" | "MultiPolygon") => {
            parts.extend(members("coordinates").take(MAX_INTERSECTS_PARTS + 1));
        }
        Some("GeometryCollection") => {
            for member in members("geometries") {
                if parts.len() > MAX_INTERSECTS_PARTS {
                    return;
                }
                parts_of(member, parts);
            }
        }
        _ => parts.extend(geometry.get("coordinates")),
    }
}

/// The bounding box of any GeoJSON geometry, Feature or FeatureCollection.
pub fn geometry_bbox(value: &Value) -> Option<[f64; 4]> {
    let mut bbox: Option<[f64; 4]> = None;
    collect_points(
        value,
        &mut |lon, lat| {
            bbox = Some(match bbox {
                None => [lon, lat, lon, lat],
                Some([w, s, e, n]) => [w.min(lon), s.min(lat), e.max(lon), n.max(lat)],
            });
        },
        0,
    );
    bbox
}

/// Calls `visit` with every position in `value`. Bounded by the depth a body may have
/// ([`geopera_types::validate::MAX_DEPTH`]), which every geometry it is given came in: a
/// tighter bound dropped the positions of a polygon inside the seven geometry collections
/// [`read_geometry`] accepts, and a search by it matched nothing.
fn collect_points(value: &Value, visit: &mut dyn FnMut(f64, f64), depth: usize) {
    if depth > geopera_types::validate::MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(object) => {
            for key in ["coordinates", "geometry", "geometries", "features"] {
                if let Some(inner) = object.get(key) {
                    collect_points(inner, visit, depth + 1);
                }
            }
        }
        Value::Array(items) => match items.as_slice() {
            [Value::Number(lon), Value::Number(lat), ..] => {
                if let (Some(lon), Some(lat)) = (lon.as_f64(), lat.as_f64()) {
                    visit(lon, lat);
                }
            }
            _ => {
                for item in items {
                    collect_points(item, visit, depth + 1);
                }
            }
        },
        _ => {}
    }
}

/// Reads the polygons of an area to task or order: a GeoJSON FeatureCollection (every
/// feature's geometry), a Feature or a geometry, each a Polygon or MultiPolygon on the globe
/// (see [`read_polygons`]). Anything else has no area to price, and is refused rather than
/// measured as its bounding box or as nothing.
///
/// # Errors
/// What keeps `value` from being such an area, worded for the caller.
pub fn read_area(value: &Value) -> Result<Polygons, String> {
    fn geometry_of(feature: &Value) -> &Value {
        static NO_GEOMETRY: Value = Value::Null;
        feature.get("geometry").unwrap_or(&NO_GEOMETRY)
    }
    match value.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {
            let features = value
                .get("features")
                .and_then(Value::as_array)
                .filter(|features| !features.is_empty())
                .ok_or("a FeatureCollection needs a non-empty array of features")?;
            let mut polygons = Polygons::new();
            for (index, feature) in features.iter().enumerate() {
                let read = read_polygons(geometry_of(feature))
                    .map_err(|message| format!("feature {index}: {message}"))?;
                polygons.extend(read);
            }
            Ok(polygons)
        }
        Some("Feature") => read_polygons(geometry_of(value)),
        _ => read_polygons(value),
    }
}

/// Reads the area a clip keeps (a clip job's `aoi_geometry`, a tile's `aoi_clip_body`) as an
/// area to order is read ([`read_area`]) rather than as any geometry ([`read_geometry`]). The
/// contract types these fields only as objects, so the choice rests on what a clip does: it
/// keeps what lies inside its area, and a point or a line has no inside, so a clip to one
/// would keep nothing rather than fail. `catalog.granule_points` holds its `clip_polygon` to
/// the same rule.
///
/// # Errors
/// 422 at `field`, saying what keeps `value` from being such an area.
pub(crate) fn read_clip_area(field: &str, value: &Value) -> Result<Polygons, ApiError> {
    read_area(value).map_err(|why| {
        ApiError::invalid(
            &[field],
            format!(
                "{field} must be the area to clip to, Polygons or MultiPolygons on the globe \
                 (bare or in a Feature or FeatureCollection): {why}"
            ),
        )
    })
}

/// The area in km² of what [`read_area`] reads from `value`, as [`polygons_area_km2`]
/// measures it.
///
/// # Errors
/// What keeps `value` from being an area, worded for the caller.
pub fn area_km2(value: &Value) -> Result<f64, String> {
    read_area(value).map(|polygons| polygons_area_km2(&polygons))
}

/// [`area_km2`] of an area to task, which must enclose some: rings that wind around nothing
/// (a line drawn there and back, a ring of one point) would be tasked for free.
///
/// # Errors
/// What keeps `value` from being an area that encloses some, worded for the caller.
pub fn enclosed_area_km2(value: &Value) -> Result<f64, String> {
    enclosed_km2(&read_area(value)?, 0)
}

/// [`enclosed_area_km2`] of polygons read already, as one of several measures of a request,
/// which together work through `request_edges` edges ([`edge_count`] summed over them; 0 for
/// one measure alone): the rows each measure samples are chosen from all of them, so that the
/// request as a whole stays within [`MAX_CROSSINGS`]. Chosen measure by measure, many areas
/// just under the bound each passed it together.
///
/// # Errors
/// The polygons enclose no area.
pub fn enclosed_km2(polygons: &Polygons, request_edges: usize) -> Result<f64, String> {
    let area = polygons_area_km2_among(polygons, request_edges);
    if area > 0.0 {
        Ok(area)
    } else {
        Err("its polygons enclose no area".to_owned())
    }
}

/// The area of `polygons` in km²: each polygon measured over what its outer ring winds around
/// less what its holes wind around (the rule of [`coverage_of_box`]), the polygons summed.
///
/// Each polygon is swept over the extent of its outer ring alone, on [`COVERAGE_ROWS`] rows
/// each measured at its own latitude, so a hole never takes away more than lies inside the
/// outer ring, a hole or ring far away does not widen the rows past what a small polygon can
/// be seen in, and a ring that crosses itself covers both of its loops. Signed shoelace
/// areas have none of this: a second ring anywhere subtracts its own area, and the loops of a
/// figure eight cancel, so a huge area could be measured as a small one.
pub fn polygons_area_km2(polygons: &Polygons) -> f64 {
    polygons_area_km2_among(polygons, 0)
}

/// [`polygons_area_km2`] as one of several measures of a request, which together work
/// through `request_edges` edges (as [`enclosed_km2`]); fewer than `polygons` hold count as
/// theirs.
pub fn polygons_area_km2_among(polygons: &Polygons, request_edges: usize) -> f64 {
    // One count of rows for all the polygons, from all their edges: counted polygon by
    // polygon, a MultiPolygon of many polygons just under the cap would pass it many times.
    let rows = rows_for(polygons, request_edges);
    polygons
        .iter()
        .map(|polygon| {
            let Some(extent) = polygon.first().and_then(|outer| extent(outer.iter())) else {
                return 0.0;
            };
            let rows = covered_rows(std::slice::from_ref(polygon), &extent, rows);
            let step = (extent[3] - extent[1]) / rows.len().max(1) as f64;
            rows.iter()
                .enumerate()
                .map(|(row, length)| {
                    let lat = extent[1] + (row as f64 + 0.5) * step;
                    length * KM_PER_DEGREE_LON * lat.to_radians().cos() * step * KM_PER_DEGREE_LAT
                })
                .sum::<f64>()
        })
        .sum()
}

/// Kilometres per degree of longitude on the equator, and per degree of latitude.
const KM_PER_DEGREE_LON: f64 = 111.32;
const KM_PER_DEGREE_LAT: f64 = 110.574;

/// An area of interest as polygons, each a list of rings (the outer ring first, then its
/// holes) of `(longitude, latitude)` points.
pub type Polygons = Vec<Vec<Vec<(f64, f64)>>>;

/// Reads an area of interest that has to be a GeoJSON Polygon or MultiPolygon on the globe,
/// or says what is wrong with it: an area that is a point, a line, or off the globe has no
/// extent to price.
///
/// # Errors
/// What keeps `geometry` from being such a polygon, worded for the caller.
pub fn read_polygons(geometry: &Value) -> Result<Polygons, String> {
    if !geometry.is_object() {
        return Err("the geometry must be a GeoJSON Polygon or MultiPolygon object".into());
    }
    let kind = geometry
        .get("type")
        .and_then(Value::as_str)
        .ok_or("the geometry needs a type, Polygon or MultiPolygon")?;
    let coordinates = geometry.get("coordinates").and_then(Value::as_array);
    match (kind, coordinates) {
        ("Polygon", Some(rings)) => Ok(vec![read_polygon(rings)?]),
        ("MultiPolygon", Some(polygons)) => {
            if polygons.is_empty() {
                return Err("a MultiPolygon needs at least one polygon".into());
            }
            polygons
                .iter()
                .map(|polygon| {
                    polygon.as_array().map_or_else(
                        || Err("each polygon of a MultiPolygon is an array of rings".into()),
                        |rings| read_polygon(rings),
                    )
                })
                .collect()
        }
        ("Polygon" | "MultiPolygon", None) => {
            Err(format!("a {kind}'s coordinates must be an array"))
        }
        _ => Err(format!(
            "the geometry must be a Polygon or MultiPolygon, not a {kind}: an area of interest \
             needs an extent"
        )),
    }
}

/// How deep GeometryCollections may nest in [`read_geometry`]; RFC 7946 §3.1.8 advises
/// against nesting them at all.
const MAX_GEOMETRY_NESTING: usize = 8;

/// Checks that `geometry` is a GeoJSON geometry (RFC 7946 §3.1) on the globe: a Point,
/// MultiPoint, LineString (two positions or more), MultiLineString, Polygon or MultiPolygon
/// (read as [`read_polygons`] reads them) whose coordinates have that type's shape, or a
/// GeometryCollection of those; every position within -180..180 / -90..90, the rule a
/// `bbox` is held to ([`read_bbox`]).
///
/// # Errors
/// What keeps `geometry` from being one, worded for the caller.
pub fn read_geometry(geometry: &Value) -> Result<(), String> {
    read_geometry_at(geometry, 0)
}

fn read_geometry_at(geometry: &Value, depth: usize) -> Result<(), String> {
    const KINDS: &str = "Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon \
                         or GeometryCollection";
    let Some(kind) = geometry.get("type").and_then(Value::as_str) else {
        return Err(format!(
            "the geometry must be a GeoJSON object typed {KINDS}"
        ));
    };
    let coordinates = || {
        geometry
            .get("coordinates")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("a {kind}'s coordinates must be an array"))
    };
    let line = |positions: &Value| -> Result<(), String> {
        let positions = positions
            .as_array()
            .filter(|positions| positions.len() >= 2)
            .ok_or("each line string is an array of at least 2 positions")?;
        positions
            .iter()
            .try_for_each(|p| read_position(p).map(drop))
    };
    match kind {
        "Point" => read_position(geometry.get("coordinates").unwrap_or(&Value::Null)).map(drop),
        "MultiPoint" => coordinates()?
            .iter()
            .try_for_each(|p| read_position(p).map(drop)),
        "LineString" => line(geometry.get("coordinates").unwrap_or(&Value::Null)),
        "MultiLineString" => coordinates()?.iter().try_for_each(line),
        "Polygon" | "MultiPolygon" => read_polygons(geometry).map(drop),
        "GeometryCollection" => {
            if depth >= MAX_GEOMETRY_NESTING {
                return Err(format!(
                    "geometry collections nest at most {MAX_GEOMETRY_NESTING} deep"
                ));
            }
            geometry
                .get("geometries")
                .and_then(Value::as_array)
                .ok_or("a GeometryCollection's geometries must be an array")?
                .iter()
                .try_for_each(|inner| read_geometry_at(inner, depth + 1))
        }
        _ => Err(format!(
            "the geometry must be a GeoJSON {KINDS}, not a {kind}"
        )),
    }
}

/// One polygon's rings, each closed (RFC 7946 §3.1.6) and of at least four positions.
fn read_polygon(rings: &[Value]) -> Result<Vec<Vec<(f64, f64)>>, String> {
    if rings.is_empty() {
        return Err("a polygon needs an outer ring".into());
    }
    rings
        .iter()
        .map(|ring| {
            let positions = ring
                .as_array()
                .ok_or("each ring of a polygon is an array of positions")?;
            let points = positions
                .iter()
                .map(read_position)
                .collect::<Result<Vec<_>, String>>()?;
            if points.len() < 4 {
                return Err("each ring of a polygon needs at least 4 positions".to_owned());
            }
            if points.first() != points.last() {
                return Err("each ring of a polygon must end where it starts".into());
            }
            Ok(points)
        })
        .collect()
}

/// A `[longitude, latitude]` position. RFC 7946 §3.1.1 lets a position hold more numbers
/// (a height, then anything else) and lets parsers accept them, so they are allowed and
/// ignored.
fn read_position(position: &Value) -> Result<(f64, f64), String> {
    let numbers: Option<Vec<f64>> = position
        .as_array()
        .filter(|numbers| numbers.len() >= 2)
        .and_then(|numbers| numbers.iter().map(Value::as_f64).collect());
    let Some([lon, lat, ..]) = numbers.as_deref() else {
        return Err(
            "each position is an array of numbers, [longitude, latitude] and optionally a height"
                .into(),
        );
    };
    let on_globe = lon.is_finite()
        && lat.is_finite()
        && (-180.0..=180.0).contains(lon)
        && (-90.0..=90.0).contains(lat);
    if !on_globe {
        return Err(
            "positions must lie on the globe: longitude within -180..180, latitude within -90..90"
                .into(),
        );
    }
    Ok((*lon, *lat))
}

/// Whether `polygons` can cover any of the box `[west, south, east, north]`: whether the
/// extent of one of them (the bounding box of all its rings) has an area in common with the
/// box. Decided from the positions themselves, not from [`coverage_of_box`]'s rows, so a sliver
/// of an overlap that falls between two rows is still an overlap; boxes that only touch do
/// not overlap.
pub fn extent_overlaps(polygons: &Polygons, bbox: &[f64; 4]) -> bool {
    let [west, south, east, north] = *bbox;
    polygons.iter().any(|polygon| {
        extent(polygon.iter().flatten())
            .is_some_and(|[w, s, e, n]| w.max(west) < e.min(east) && s.max(south) < n.min(north))
    })
}

/// The bounding box `[west, south, east, north]` of `points`; `None` when there are none.
fn extent<'a>(mut points: impl Iterator<Item = &'a (f64, f64)>) -> Option<[f64; 4]> {
    let &(x, y) = points.next()?;
    Some(points.fold([x, y, x, y], |[w, s, e, n], &(x, y)| {
        [w.min(x), s.min(y), e.max(x), n.max(y)]
    }))
}

/// How many rows [`coverage_of_box`] samples across a box. Along a row the coverage is exact;
/// across rows, each horizontal boundary of an area is placed to within one row, so the
/// fraction is off by at most about one row (1/512 of the box) per such boundary. Areas of
/// more than [`MAX_CROSSINGS`] / 512 edges get fewer rows (see [`rows_for`]).
pub const COVERAGE_ROWS: usize = 512;

/// The most edge crossings a measure of coverage or area works through. Each edge may cross
/// every row, so a body at the request limit (about 90,000 vertices of a ring that zigzags
/// across its whole height) cost 46 million crossings on 512 rows, each row's then sorted:
/// seconds of a worker thread per request, two such requests stalling every other client.
const MAX_CROSSINGS: usize = 2_000_000;

/// The fewest rows a measure uses, however many edges: enough that an area's place in a box
/// is still known to a sixty-fourth of it.
const MIN_ROWS: usize = 64;

/// The rows to sample `polygons` on: [`COVERAGE_ROWS`], or fewer for so many edges that every
/// one crossing every row would pass [`MAX_CROSSINGS`]. The edges are those of the request's
/// every measure, `request_edges`, or `polygons`' own when they are more.
fn rows_for(polygons: &[Vec<Vec<(f64, f64)>>], request_edges: usize) -> usize {
    let edges = edge_count(polygons).max(request_edges);
    (MAX_CROSSINGS / edges.max(1)).clamp(MIN_ROWS, COVERAGE_ROWS)
}

/// How many edges `polygons` have, each a measure's cost per row at worst: for sharing
/// [`MAX_CROSSINGS`] among a request's measures ([`enclosed_km2`]).
pub fn edge_count(polygons: &[Vec<Vec<(f64, f64)>>]) -> usize {
    polygons.iter().flatten().map(Vec::len).sum()
}

/// The fraction, 0 to 1, of the box `[west, south, east, north]` covered by the union of
/// `polygons`, a polygon covering what its outer ring winds around (the nonzero rule) and
/// none of what one of its holes winds around.
///
/// A scanline: on each of [`COVERAGE_ROWS`] rows across the box (through the rows' centres),
/// the points where a polygon's ring edges cross the row are sorted and swept in order,
/// counting how each ring winds around the stretch between successive crossings. So a ring
/// that crosses itself (a figure eight) covers both of its loops and one that goes round twice
/// covers its inside once (the even-odd rule would make it cover nothing), whichever way the
/// rings wind, and a hole takes area from its own polygon only. The stretches are cut to the
/// box and the stretches of all the polygons merged before they are measured, so overlapping
/// or repeated polygons count once, nothing outside the box counts, the fraction never exceeds
/// 1 and a box covered whole gives exactly 1. Summing the signed shoelace areas of clipped
/// rings has none of these properties: holes and twisted rings cancel area anywhere and
/// repeats add up.
///
/// Each edge is tested only against the rows its ends span, so the cost is O(rows × edges) at
/// worst, which [`rows_for`] holds to [`MAX_CROSSINGS`] and [`MIN_ROWS`] × edges.
///
/// The measure may be one of several of a request, which together work through
/// `request_edges` edges (as [`enclosed_km2`]); 0 for one alone.
pub fn coverage_of_box(polygons: &Polygons, bbox: &[f64; 4], request_edges: usize) -> f64 {
    let width = bbox[2] - bbox[0];
    let rows = covered_rows(polygons, bbox, rows_for(polygons, request_edges));
    let covered: f64 = rows.iter().map(|length| length / width).sum();
    (covered / rows.len().max(1) as f64).min(1.0)
}

/// The length of longitude, in degrees, that `polygons` cover on each of `rows` rows (as
/// [`rows_for`] counts them) across the box, from south to north (see [`coverage_of_box`] for
/// how); none for a box without area.
fn covered_rows(polygons: &[Vec<Vec<(f64, f64)>>], bbox: &[f64; 4], rows: usize) -> Vec<f64> {
    let [west, south, east, north] = *bbox;
    let (width, height) = (east - west, north - south);
    if !(width > 0.0 && height > 0.0) {
        return Vec::new();
    }
    let step = height / rows as f64;
    let row_y = |row: usize| south + (row as f64 + 0.5) * step;
    // A latitude's place in rows from the box's south edge, held near the box so that it
    // converts to an index safely.
    let row_at = |y: f64| ((y - south) / step).clamp(-1.0, rows as f64 + 1.0);
    let mut stretches: Vec<Vec<(f64, f64)>> = vec![Vec::new(); rows];
    // Per row: where an edge crosses it, the edge's ring, and +1 upwards or -1 downwards.
    let mut crossings: Vec<Vec<(f64, usize, i64)>> = vec![Vec::new(); rows];
    for polygon in polygons {
        let (mut touched_from, mut touched_to) = (rows, 0);
        for (index, ring) in polygon.iter().enumerate() {
            for edge in ring.windows(2) {
                let [(x1, y1), (x2, y2)] = [edge[0], edge[1]];
                // The rows whose centres may lie between the ends, with one to spare each side;
                // the test below decides.
                let first = (row_at(y1.min(y2)) - 1.5).floor().max(0.0) as usize;
                let last = ((row_at(y1.max(y2)) + 0.5).ceil() as usize).min(rows);
                for (row, xs) in crossings.iter_mut().enumerate().take(last).skip(first) {
                    let y = row_y(row);
                    // Half-open, so a vertex on a row is crossed once and a horizontal edge
                    // never.
                    if (y1 <= y) != (y2 <= y) {
                        let x = x1 + (y - y1) * (x2 - x1) / (y2 - y1);
                        xs.push((x, index, if y2 > y1 { 1 } else { -1 }));
                        touched_from = touched_from.min(row);
                        touched_to = touched_to.max(row + 1);
                    }
                }
            }
        }
        // A closed ring crosses a row as often upwards as downwards, so every winding is back
        // to 0 at the end of each row.
        let mut windings = vec![0_i64; polygon.len()];
        for row in touched_from..touched_to {
            let xs = &mut crossings[row];
            xs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut holes_around = 0_usize;
            let mut from = None;
            for &(x, ring, direction) in xs.iter() {
                let before = windings[ring];
                windings[ring] += direction;
                if ring > 0 {
                    match (before, windings[ring]) {
                        (0, _) => holes_around += 1,
                        (_, 0) => holes_around -= 1,
                        _ => {}
                    }
                }
                let inside = windings[0] != 0 && holes_around == 0;
                match (from, inside) {
                    (None, true) => from = Some(x),
                    (Some(start), false) => {
                        let (start, end) = (f64::max(start, west), x.min(east));
                        if start < end {
                            stretches[row].push((start, end));
                        }
                        from = None;
                    }
                    _ => {}
                }
            }
            xs.clear();
        }
    }
    let mut covered = Vec::with_capacity(rows);
    for row in &mut stretches {
        row.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut length = 0.0;
        let mut current: Option<(f64, f64)> = None;
        for &(from, to) in row.iter() {
            current = match current {
                Some((start, end)) if from <= end => Some((start, end.max(to))),
                Some((start, end)) => {
                    length += end - start;
                    Some((from, to))
                }
                None => Some((from, to)),
            };
        }
        if let Some((start, end)) = current {
            length += end - start;
        }
        covered.push(length);
    }
    covered
}

/// The area of a `[west, south, east, north]` box in km².
pub fn bbox_area_km2(bbox: &[f64; 4]) -> f64 {
    let mean_lat = (bbox[1] + bbox[3]) / 2.0;
    (bbox[2] - bbox[0]).abs()
        * KM_PER_DEGREE_LON
        * mean_lat.to_radians().cos()
        * (bbox[3] - bbox[1]).abs()
        * KM_PER_DEGREE_LAT
}

/// One end of a `datetime` filter, in seconds and nanoseconds: an RFC 3339 date-time, or a
/// full date read as its midnight UTC, as STAC searches take them.
fn instant(text: &str) -> Option<(i64, u32)> {
    parse_date_time_nanos(text).or_else(|| parse_full_date(text).map(|seconds| (seconds, 0)))
}

/// A `datetime` filter as inclusive bounds in whole seconds, which catalog items are dated
/// to: a bound within a second is rounded inwards (a start up, an end down), so that
/// `…:00.5Z/..` leaves out an item of `…:00Z`, and an instant within a second matches
/// nothing. Bounds the wrong way round are `None`, judged on the instants as written.
fn parse_interval(text: &str) -> Option<(Option<i64>, Option<i64>)> {
    let open = |part: &str| part.is_empty() || part == "..";
    let up = |(seconds, nanos): (i64, u32)| seconds.saturating_add(i64::from(nanos > 0));
    let down = |(seconds, _): (i64, u32)| seconds;
    match text.split_once('/') {
        Some((start, end)) => {
            let start = if open(start) {
                None
            } else {
                Some(instant(start)?)
            };
            let end = if open(end) { None } else { Some(instant(end)?) };
            if let (Some(start), Some(end)) = (start, end) {
                if start > end {
                    return None;
                }
            }
            Some((start.map(up), end.map(down)))
        }
        None => {
            let instant = instant(text)?;
            Some((Some(up(instant)), Some(down(instant))))
        }
    }
}

/// The check of a token for page `offset` of the search with digest `query`: the offset is
/// mixed in first and the query after, so neither can cancel the other out.
fn token_check(offset: usize, query: u64, seed: u64) -> u64 {
    let mut at_offset = Rng::new(seed ^ (offset as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut rng = Rng::new(at_offset.next() ^ query);
    rng.next() & 0xffff_ffff
}

fn encode_token(offset: usize, query: u64, seed: u64) -> String {
    format!("{offset:x}.{:08x}", token_check(offset, query, seed))
}

fn decode_token(token: &str, query: u64, seed: u64) -> Option<usize> {
    let (offset, check) = token.split_once('.')?;
    let offset = usize::from_str_radix(offset, 16).ok()?;
    let check = u64::from_str_radix(check, 16).ok()?;
    (check == token_check(offset, query, seed)).then_some(offset)
}

/// The smallest and largest `limit` of a `catalog.search` page, as the contract bounds it.
fn search_limit_bounds() -> (f64, f64) {
    let bounds = geopera_types::schemas::CATALOG_SEARCH_INPUT.number_bounds("limit");
    let least = bounds.and_then(|bounds| bounds.minimum).unwrap_or(1.0);
    let most = bounds.and_then(|bounds| bounds.maximum).unwrap_or(f64::MAX);
    (least, most)
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
