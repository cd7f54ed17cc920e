//! The operations of every family that answer pictures (`*.tile.*`, `cog.*`) and the WMTS
//! capabilities document, which the API answers as images and XML whatever the contract's
//! `application/json` says.
//!
//! What they name is looked up where the emulator keeps it: a catalog scene
//! (`catalog.tile.render`), a live share link with its password (`share.tile.render`), or a
//! project item of the caller's organization (`items.tile.render`, `items.tile.wmts_get_tile`,
//! `items.tile.wmts_capabilities`), each 404 when unknown or another organization's. COG URLs are
//! rendered whatever they are.

use geopera_types::models::{
    CatalogTileInput, CogTerrainInput, CogThumbnailInput, CogTileInput, ItemTileRenderInput,
    ItemTilejsonInput, ItemWmtsCapabilitiesInput, ItemWmtsGetTileInput, ShareTileInput,
};
use geopera_types::{LocItem, ValidationError};

use super::{Ctx, Outcome};
use crate::catalog::read_clip_area;
use crate::error::{ApiError, Reply};
use crate::images::{self, Format, MAX_ZOOM, TILE_SIZE};
use crate::resources::Family;

/// The emulator draws a scene's tile alike with or without `aoi_clip_body`, yet holds that
/// area to a clip job's rule ([`read_clip_area`]), so a tile clipped to a point or to a place
/// off the globe is refused rather than answered as if it had been clipped.
pub(crate) fn catalog_render(ctx: &Ctx<'_>, input: CatalogTileInput) -> Outcome {
    let key = tile_key(ctx, &input.scene_id, input.z, input.x, input.y)?;
    if let Some(area) = input.aoi_clip_body {
        read_clip_area("aoi_clip_body", &serde_json::Value::Object(area))?;
    }
    if ctx.shared.catalog.get(&input.scene_id).is_none() {
        return Err(ApiError::not_found(format!(
            "scene '{}' not found",
            input.scene_id
        )));
    }
    let quality = input.quality.unwrap_or(95);
    tile(ctx, &key, Format::from_name(&input.format), quality)
}

pub(crate) fn cog_render(ctx: &Ctx<'_>, input: CogTileInput) -> Outcome {
    let key = tile_key(ctx, &input.url, input.z, input.x, input.y)?;
    tile(ctx, &key, Format::from_name(&input.format), input.quality)
}

pub(crate) fn cog_terrain(ctx: &Ctx<'_>, input: CogTerrainInput) -> Outcome {
    let key = tile_key(ctx, &input.url, input.z, input.x, input.y)?;
    let body = images::terrain(ctx.shared.seed, &key, input.invert)?;
    Ok(image(ctx, Format::Png, body))
}

pub(crate) fn cog_thumbnail(ctx: &Ctx<'_>, input: CogThumbnailInput) -> Outcome {
    let key = format!("{}/{}", ctx.op.id, input.url);
    let side = |n: i64| u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX });
    let (width, height) = (side(input.width), side(input.height));
    let body = images::picture(ctx.shared.seed, &key, width, height, Format::Png, 0)?;
    Ok(image(ctx, Format::Png, body))
}

/// The picture an analytics operation renders when its body asks for one
/// (`"output_format": "png"`, in any case), or `None` for its statistics, which the emulator
/// answers as a sample of their shape. A picture of the operation, the COG and the formula or
/// index it names, always 256 pixels square (`max_size` aside): the emulator holds no pixels
/// to compute a band or an index from.
///
/// # Errors
/// 500 when the encoder refuses, which it does not for these sides.
pub(crate) fn analytics_picture(
    ctx: &Ctx<'_>,
    body: &serde_json::Value,
) -> Result<Option<Reply>, ApiError> {
    let asked = body
        .get("output_format")
        .and_then(serde_json::Value::as_str);
    if !ctx.op.may_answer_binary() || !asked.is_some_and(|asked| asked.eq_ignore_ascii_case("png"))
    {
        return Ok(None);
    }
    let text = |name: &str| {
        body.get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    // What is computed, from what: the formula or the index, over the COG.
    let key = format!(
        "{}/{}/{}{}",
        ctx.op.id,
        text("cog_url"),
        text("formula"),
        text("index_name")
    );
    let picture = images::picture(ctx.shared.seed, &key, TILE_SIZE, TILE_SIZE, Format::Png, 0)?;
    Ok(Some(image(ctx, Format::Png, picture)))
}

pub(crate) fn items_render(ctx: &Ctx<'_>, input: ItemTileRenderInput) -> Outcome {
    let key = tile_key(ctx, &input.item_id, input.z, input.x, input.y)?;
    own_item(ctx, &input.item_id)?;
    tile(ctx, &key, Format::from_name(&input.format), input.quality)
}

pub(crate) fn items_wmts_tile(ctx: &Ctx<'_>, input: ItemWmtsGetTileInput) -> Outcome {
    let key = tile_key(ctx, &input.item_id, input.z, input.x, input.y)?;
    own_item(ctx, &input.item_id)?;
    tile(ctx, &key, Format::Png, 0)
}

/// A tile of what a live share link shows, for whoever holds its token and password.
pub(crate) fn share_render(ctx: &Ctx<'_>, input: ShareTileInput) -> Outcome {
    let key = tile_key(ctx, input.token.expose(), input.z, input.x, input.y)?;
    super::sharing::open(ctx, input.token.expose(), input.password.expose())?;
    tile(ctx, &key, Format::from_name(&input.format), 90)
}

/// TileJSON for an item the caller holds, whose tiles the emulator's asset route serves by
/// `GET` (the render operation itself is a `POST`).
pub(crate) fn items_tilejson(ctx: &Ctx<'_>, input: ItemTilejsonInput) -> Outcome {
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    let asset = input.asset_key.as_deref().unwrap_or("data");
    // The key is one segment of the tile URL, which the asset route reads back decoded, a
    // `/` as a separator: an empty part names nothing, and `.` and `..` (escaped or not) are
    // read as steps in the path, so a key holding one (`a//b`, `a/../b`) gave tiles that
    // were never served.
    if asset.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(ApiError::invalid(
            &["asset_key"],
            "asset_key names an asset: not empty, '.' or '..', nor holding such a part \
             between '/'",
        ));
    }
    // A box with heights (`[w, s, zmin, e, n, zmax]`) bounds the same place as one without.
    let bounds = item
        .fields
        .get("bbox")
        .and_then(serde_json::Value::as_array)
        .and_then(|b| match b.as_slice() {
            [w, s, e, n] | [w, s, _, e, n, _] => {
                Some(vec![w.clone(), s.clone(), e.clone(), n.clone()])
            }
            _ => None,
        })
        .unwrap_or_else(|| {
            vec![
                (-180.0).into(),
                (-85.051_128_78).into(),
                180.0.into(),
                85.051_128_78.into(),
            ]
        });
    let profile = input.profile.as_deref().map(|profile| ("profile", profile));
    let tiles = tile_template(
        &ctx.shared.base_url,
        &["assets", "tiles", &item.id, asset],
        profile.as_slice(),
    )?;
    Ok(ctx.ok(&serde_json::json!({
        "tilejson": "3.0.0",
        "name": item.fields.get("name"),
        "scheme": "xyz",
        "tiles": [tiles],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM.min(22),
        "bounds": bounds,
    })))
}

/// A TileJSON tile URL: `base_url`, then `segments` each escaped as one path segment, then
/// the template's `/{z}/{x}/{y}.png` as it is, then `query` form-encoded. Client input goes
/// into a URL only through here, so a `/`, `?`, `#`, `&` or space in it stays part of the
/// value it was given as.
///
/// # Errors
/// 500 when the base URL cannot take a path, which a running emulator's always can.
pub(super) fn tile_template(
    base_url: &str,
    segments: &[&str],
    query: &[(&str, &str)],
) -> Result<String, ApiError> {
    let broken = |why: String| ApiError::problem(http::StatusCode::INTERNAL_SERVER_ERROR, why);
    let mut url = url::Url::parse(base_url)
        .map_err(|e| broken(format!("the emulator's base URL is not a URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| broken("the emulator's base URL cannot take a path".to_owned()))?
        .pop_if_empty()
        .extend(segments);
    // Pushed as segments, the braces would be escaped too and the template lost.
    let mut template = format!("{}/{{z}}/{{x}}/{{y}}.png", url.as_str());
    if !query.is_empty() {
        template.push('?');
        template.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish(),
        );
    }
    Ok(template)
}

/// That the caller's organization holds the item.
///
/// # Errors
/// 404 otherwise, as for every item operation.
fn own_item(ctx: &Ctx<'_>, item: &str) -> Result<(), ApiError> {
    ctx.lock_org()
        .resources
        .get(Family::Item, ctx.org, None, item)
        .map(|_| ())
}

pub(crate) fn items_wmts_capabilities(ctx: &Ctx<'_>, input: ItemWmtsCapabilitiesInput) -> Outcome {
    own_item(ctx, &input.item_id)?;
    let document = capabilities(
        &input.item_id,
        &input.base_url,
        input.key.expose(),
        input.profile.as_deref(),
    );
    Ok(Reply {
        status: ctx.status(),
        content_type: "application/xml",
        headers: Vec::new(),
        body: document.into(),
    })
}

/// What a tile's picture is drawn from, once its coordinates are known to be on the grid:
/// the operation, the thing tiled, and `z/x/y`.
///
/// # Errors
/// 422 at each of `z`, `x`, `y` that is off the grid (`0 <= z <= 30`, `0 <= x, y < 2^z`).
fn tile_key(ctx: &Ctx<'_>, subject: &str, z: i64, x: i64, y: i64) -> Result<String, ApiError> {
    grid_key(ctx.op.id, subject, z, x, y)
}

/// The key a tile of `subject` is drawn from, the same for an operation's tile and the REST
/// tile that stands for it; a tile off the grid is 422 at its field.
fn grid_key(operation: &str, subject: &str, z: i64, x: i64, y: i64) -> Result<String, ApiError> {
    let mut errors = Vec::new();
    let mut off_grid = |field: &str, msg: String| {
        errors.push(ValidationError::new(
            vec![LocItem::from("body"), LocItem::from(field)],
            format!("Value error, {msg}"),
            "value_error",
        ));
    };
    if !(0..=MAX_ZOOM).contains(&z) {
        off_grid("z", format!("z must be from 0 to {MAX_ZOOM}, not {z}"));
    } else {
        let tiles = 1i64 << z;
        for (field, value) in [("x", x), ("y", y)] {
            if !(0..tiles).contains(&value) {
                off_grid(
                    field,
                    format!(
                        "{field} must be from 0 to {} at zoom {z}, not {value}",
                        tiles - 1
                    ),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(format!("{operation}/{subject}/{z}/{x}/{y}"))
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn tile(ctx: &Ctx<'_>, key: &str, format: Format, quality: i64) -> Outcome {
    let body = images::picture(ctx.shared.seed, key, TILE_SIZE, TILE_SIZE, format, quality)?;
    Ok(image(ctx, format, body))
}

fn image(ctx: &Ctx<'_>, format: Format, body: bytes::Bytes) -> Reply {
    Reply {
        status: ctx.status(),
        content_type: format.content_type(),
        headers: Vec::new(),
        body,
    }
}

/// The deepest level the capabilities list; WMTS clients request nothing deeper.
const WMTS_LEVELS: u32 = 22;

/// The one tile matrix set the capabilities offer.
const WMTS_MATRIX_SET: &str = "WebMercatorQuad";

/// A tile fetched through the capabilities document's RESTful template, when its `base_url`
/// is this emulator: `/wmts/{item}/WebMercatorQuad/{TileMatrix}/{TileCol}/{TileRow}.png`. It is
/// the picture `items.tile.wmts_get_tile` answers for the same item and tile. Like the
/// emulator's other asset tiles it is served to anyone: the template's `key` is not checked,
/// and the picture, drawn from the seed and the path, tells nothing about the item.
///
/// # Errors
///
/// 404 for another tile matrix set, a level the capabilities do not list or a name that is
/// not `{row}.png`; 400 for a column or row off the level's grid.
pub(crate) fn wmts_rest_tile(
    seed: u64,
    item: &str,
    matrix_set: &str,
    level: &str,
    column: &str,
    row_file: &str,
) -> Result<Reply, ApiError> {
    if matrix_set != WMTS_MATRIX_SET {
        return Err(ApiError::not_found(format!(
            "no tile matrix set '{matrix_set}': the capabilities offer {WMTS_MATRIX_SET}"
        )));
    }
    let z = level
        .parse::<u32>()
        .ok()
        .filter(|z| *z <= WMTS_LEVELS)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no tile matrix '{level}' in {WMTS_MATRIX_SET}: levels 0 to {WMTS_LEVELS}"
            ))
        })?;
    let row = row_file.strip_suffix(".png").ok_or_else(|| {
        ApiError::not_found(format!("no tile '{row_file}': tiles are {{row}}.png"))
    })?;
    let tiles = 1u64 << z;
    let index = |name: &str, text: &str| {
        text.parse::<u64>()
            .ok()
            .filter(|n| *n < tiles)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::problem(
                    http::StatusCode::BAD_REQUEST,
                    format!(
                        "{name} must be from 0 to {} at level {z}, not '{text}'",
                        tiles - 1
                    ),
                )
            })
    };
    let (x, y) = (index("TileCol", column)?, index("TileRow", row)?);
    let operation = geopera_types::operations::ITEMS_TILE_WMTS_GET_TILE.id;
    let key = grid_key(operation, item, i64::from(z), x, y)?;
    let body = images::picture(seed, &key, TILE_SIZE, TILE_SIZE, Format::Png, 0)?;
    Ok(Reply {
        status: http::StatusCode::OK,
        content_type: Format::Png.content_type(),
        headers: Vec::new(),
        body,
    })
}

/// A WMTS 1.0.0 Capabilities document with one layer, the item, on the WebMercatorQuad
/// grid, whose tiles are fetched through a RESTful template under `base_url`.
fn capabilities(item_id: &str, base_url: &str, key: &str, profile: Option<&str>) -> String {
    // The extent and the scale of level 0 of WebMercatorQuad (OGC 17-083r2, annex D.1).
    const HALF_WORLD: f64 = 20_037_508.342_789_244;
    const SCALE_0: f64 = 559_082_264.028_717_8;
    let mut query = Vec::new();
    if !key.is_empty() {
        query.push(format!("key={}", percent(key)));
    }
    if let Some(profile) = profile {
        query.push(format!("profile={}", percent(profile)));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    // Served by `wmts_rest_tile` when `base_url` is the emulator's.
    let template = format!(
        "{}/wmts/{}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png{query}",
        base_url.trim_end_matches('/'),
        percent(item_id),
    );
    let id = xml(item_id);
    let mut doc = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.0.0">
  <ows:ServiceIdentification>
    <ows:Title>Geopera emulator</ows:Title>
    <ows:ServiceType>OGC WMTS</ows:ServiceType>
    <ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>
  </ows:ServiceIdentification>
  <Contents>
    <Layer>
      <ows:Title>{id}</ows:Title>
      <ows:WGS84BoundingBox>
        <ows:LowerCorner>-180 -85.0511287798066</ows:LowerCorner>
        <ows:UpperCorner>180 85.0511287798066</ows:UpperCorner>
      </ows:WGS84BoundingBox>
      <ows:Identifier>{id}</ows:Identifier>
      <Style isDefault="true">
        <ows:Identifier>default</ows:Identifier>
      </Style>
      <Format>image/png</Format>
      <TileMatrixSetLink>
        <TileMatrixSet>{WMTS_MATRIX_SET}</TileMatrixSet>
      </TileMatrixSetLink>
      <ResourceURL format="image/png" resourceType="tile" template="{template}"/>
    </Layer>
    <TileMatrixSet>
      <ows:Identifier>{WMTS_MATRIX_SET}</ows:Identifier>
      <ows:SupportedCRS>urn:ogc:def:crs:EPSG::3857</ows:SupportedCRS>
      <WellKnownScaleSet>urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible</WellKnownScaleSet>
"#,
        template = xml(&template),
    );
    for level in 0..=WMTS_LEVELS {
        let tiles = 1u64 << level;
        let scale = SCALE_0 / tiles as f64;
        doc.push_str(&format!(
            r#"      <TileMatrix>
        <ows:Identifier>{level}</ows:Identifier>
        <ScaleDenominator>{scale}</ScaleDenominator>
        <TopLeftCorner>-{HALF_WORLD} {HALF_WORLD}</TopLeftCorner>
        <TileWidth>{TILE_SIZE}</TileWidth>
        <TileHeight>{TILE_SIZE}</TileHeight>
        <MatrixWidth>{tiles}</MatrixWidth>
        <MatrixHeight>{tiles}</MatrixHeight>
      </TileMatrix>
"#
        ));
    }
    doc.push_str("    </TileMatrixSet>\n  </Contents>\n</Capabilities>\n");
    doc
}

/// Text safe inside XML content and double-quoted attributes.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A URL path segment or query value: everything but RFC 3986's unreserved characters is
/// percent-encoded, so an id can neither add segments nor end the template early.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "tiles_tests.rs"]
mod tests;
