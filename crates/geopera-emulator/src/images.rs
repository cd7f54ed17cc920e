//! Small synthetic images for the operations the API answers with pictures: tiles,
//! thumbnails, quicklooks. Clients under test decode, cache and compare these bytes, so a
//! picture depends only on the emulator's seed and the request that named it, and two
//! different tiles never look alike.

use bytes::Bytes;

use crate::rng::{fnv, Rng};

/// The side of a map tile, as in every XYZ / WMTS tile grid the API serves.
pub const TILE_SIZE: u32 = 256;

/// The largest side of a picture whose size the caller chooses (`cog.thumbnail`); the
/// contract bounds neither side, so larger ones are clamped rather than refused, the way
/// paging numbers are.
pub const MAX_SIDE: u32 = 512;

/// The deepest zoom level of a tile grid: beyond it, `2^z` tiles per axis no longer fit the
/// API's integers in any client.
pub const MAX_ZOOM: i64 = 30;

/// Whether a tile path ending `{z}/{x}/{y}.{ext}` names a tile of the grid (`x` and `y`
/// from 0 to `2^z - 1`, `z` up to [`MAX_ZOOM`]); `None` for a path of another shape.
pub(crate) fn on_grid(path: &str) -> Option<bool> {
    let mut segments = path.rsplit('/');
    let y = segments.next()?.split_once('.')?.0;
    let x = segments.next()?;
    let z = segments.next()?;
    let [z, x, y] = [z, x, y].map(|n| n.parse::<i64>().ok());
    let (z, x, y) = (z?, x?, y?);
    if !(0..=MAX_ZOOM).contains(&z) {
        return Some(false);
    }
    let tiles = 1i64 << z;
    Some((0..tiles).contains(&x) && (0..tiles).contains(&y))
}

/// An image encoding the emulator can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Lossless; the answer when a request names no format the emulator writes.
    Png,
    /// Baseline JPEG.
    Jpeg,
}

impl Format {
    /// Reads a request's format field. The contract types these fields as free strings (and
    /// the API also knows formats such as `webp` that the emulator does not write), so
    /// anything but a JPEG name gets PNG rather than a 422.
    pub fn from_name(name: &str) -> Format {
        let name = name.trim();
        let name = name.strip_prefix("image/").unwrap_or(name);
        if name.eq_ignore_ascii_case("jpeg") || name.eq_ignore_ascii_case("jpg") {
            Format::Jpeg
        } else {
            Format::Png
        }
    }

    /// The format a file name's extension asks for; `None` for other files.
    pub fn from_file(file: &str) -> Option<Format> {
        let (_, extension) = file.rsplit_once('.')?;
        if extension.eq_ignore_ascii_case("png") {
            Some(Format::Png)
        } else if extension.eq_ignore_ascii_case("jpg") || extension.eq_ignore_ascii_case("jpeg") {
            Some(Format::Jpeg)
        } else {
            None
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
        }
    }
}

/// Why an image could not be written. Writing into memory does not fail in practice; the
/// encoders still report errors, and those become a 500 rather than a panic.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The PNG encoder refused.
    #[error("could not write the PNG image: {0}")]
    Png(#[from] png::EncodingError),
    /// The JPEG encoder refused.
    #[error("could not write the JPEG image: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
}

/// A `width` × `height` picture for `key` (say `cog.tile.render/<url>/3/2/5`) in `format`;
/// `quality` (1 to 100) matters only to JPEG. Sides are clamped to 1..=[`MAX_SIDE`].
///
/// # Errors
/// When an encoder refuses (see [`EncodeError`]).
pub fn picture(
    seed: u64,
    key: &str,
    width: u32,
    height: u32,
    format: Format,
    quality: i64,
) -> Result<Bytes, EncodeError> {
    let width = width.clamp(1, MAX_SIDE);
    let height = height.clamp(1, MAX_SIDE);
    let rgb = pattern(seed ^ fnv(key), width, height);
    match format {
        Format::Png => png_rgb(&rgb, width, height),
        Format::Jpeg => jpeg_rgb(&rgb, width, height, quality),
    }
}

/// A terrain tile in the terrain-RGB encoding (height in metres is
/// `-10000 + 0.1 × (R × 65536 + G × 256 + B)`), always PNG since any loss would change the
/// heights. `invert` mirrors the heights around sea level.
///
/// # Errors
/// When the encoder refuses (see [`EncodeError`]).
pub fn terrain(seed: u64, key: &str, invert: bool) -> Result<Bytes, EncodeError> {
    const SEA_LEVEL: i64 = 100_000;
    let base = (Rng::new(seed ^ fnv(key)).next() % 40_000) as i64;
    let mut rgb = Vec::with_capacity((TILE_SIZE * TILE_SIZE * 3) as usize);
    for row in 0..i64::from(TILE_SIZE) {
        for column in 0..i64::from(TILE_SIZE) {
            // Tenths of a metre above -10000 m: a slope from sea level up to ~5 km.
            let rise = base + column * 40 + row * 25;
            let value = if invert {
                SEA_LEVEL - rise
            } else {
                SEA_LEVEL + rise
            };
            let value = value.clamp(0, 0xff_ffff);
            rgb.extend_from_slice(&[(value >> 16) as u8, (value >> 8) as u8, value as u8]);
        }
    }
    png_rgb(&rgb, TILE_SIZE, TILE_SIZE)
}

/// RGB pixels: a two-way gradient over a colour drawn from `seed`, with a checkerboard
/// whose cell size and phase also come from `seed`, so neighbouring tiles differ at a glance.
fn pattern(seed: u64, width: u32, height: u32) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let bits = rng.next().to_le_bytes();
    let [red, green, blue, cell, phase, ..] = bits;
    let cell = 8u32 << (cell % 4);
    let phase = u32::from(phase);
    let span = |side: u32| side.saturating_sub(1).max(1);
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for row in 0..height {
        let down = (row * 127 / span(height)) as u8;
        for column in 0..width {
            let across = (column * 127 / span(width)) as u8;
            let dark = ((column + phase) / cell + (row + phase) / cell) % 2 == 0;
            let shade = if dark { 0 } else { 64 };
            rgb.extend_from_slice(&[
                red.wrapping_add(across),
                green.wrapping_add(down),
                blue ^ shade,
            ]);
        }
    }
    rgb
}

fn png_rgb(rgb: &[u8], width: u32, height: u32) -> Result<Bytes, EncodeError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(Bytes::from(out))
}

fn jpeg_rgb(rgb: &[u8], width: u32, height: u32, quality: i64) -> Result<Bytes, EncodeError> {
    let quality = quality.clamp(1, 100) as u8;
    // Sides are at most MAX_SIDE, well within JPEG's 16-bit limit.
    let side = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality).encode(
        rgb,
        side(width),
        side(height),
        jpeg_encoder::ColorType::Rgb,
    )?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
