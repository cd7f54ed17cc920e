//! Unit tests of `images.rs`.
use super::*;

fn ihdr_size(png: &[u8]) -> (u32, u32) {
    let word = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!(&png[12..16], b"IHDR");
    (word(16), word(20))
}

#[test]
fn the_same_request_gives_the_same_bytes_and_another_tile_other_bytes() {
    for format in [Format::Png, Format::Jpeg] {
        let one = picture(7, "t/1/0/0", 256, 256, format, 90).expect("encodes");
        let again = picture(7, "t/1/0/0", 256, 256, format, 90).expect("encodes");
        let other = picture(7, "t/1/0/1", 256, 256, format, 90).expect("encodes");
        let reseeded = picture(8, "t/1/0/0", 256, 256, format, 90).expect("encodes");
        assert_eq!(one, again);
        assert_ne!(one, other);
        assert_ne!(one, reseeded);
    }
}

#[test]
fn png_has_its_signature_and_the_asked_size_within_bounds() {
    let png = picture(1, "k", 100, 40, Format::Png, 0).expect("encodes");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(ihdr_size(&png), (100, 40));
    let clamped = picture(1, "k", 0, 100_000, Format::Png, 0).expect("encodes");
    assert_eq!(ihdr_size(&clamped), (1, MAX_SIDE));
}

#[test]
fn jpeg_starts_and_ends_with_its_markers_at_any_quality() {
    for quality in [-5, 1, 85, 1000] {
        let jpeg = picture(1, "k", 64, 64, Format::Jpeg, quality).expect("encodes");
        assert!(jpeg.starts_with(&[0xff, 0xd8, 0xff]));
        assert!(jpeg.ends_with(&[0xff, 0xd9]));
    }
}

#[test]
fn terrain_is_a_tile_sized_png_that_inverts() {
    let up = terrain(1, "k", false).expect("encodes");
    assert_eq!(ihdr_size(&up), (TILE_SIZE, TILE_SIZE));
    assert_ne!(up, terrain(1, "k", true).expect("encodes"));
    assert_eq!(up, terrain(1, "k", false).expect("encodes"));
}

#[test]
fn format_names_and_extensions() {
    assert_eq!(Format::from_name("JPG"), Format::Jpeg);
    assert_eq!(Format::from_name("image/jpeg"), Format::Jpeg);
    assert_eq!(Format::from_name("webp"), Format::Png);
    assert_eq!(Format::from_name(""), Format::Png);
    assert_eq!(Format::from_file("a.b.JPEG"), Some(Format::Jpeg));
    assert_eq!(Format::from_file("x.png"), Some(Format::Png));
    assert_eq!(Format::from_file("x.tif"), None);
    assert_eq!(Format::from_file("png"), None);
}

#[test]
fn a_tile_path_is_on_the_grid_only_within_its_zoom() {
    assert_eq!(on_grid("itm_1/data/3/7/7.png"), Some(true));
    assert_eq!(on_grid("itm_1/data/0/0/0.jpg"), Some(true));
    for off in [
        "itm_1/data/3/8/1.png",
        "a/3/1/8.png",
        "a/31/0/0.png",
        "a/-1/0/0.png",
        "a/3/-1/0.png",
    ] {
        assert_eq!(on_grid(off), Some(false), "{off}");
    }
    for other in ["itm_1/data.tif", "a/b/c/d.png", "a/3/1/1"] {
        assert_eq!(on_grid(other), None, "{other}");
    }
}
