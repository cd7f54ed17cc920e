//! Binary answers: render a catalog scene's map tile, get its PNG bytes as a `Binary`, then
//! stream the same tile's body chunk by chunk, as for images too large to hold whole. The
//! tile is written to `geopera-tile.png` in the system's temporary folder (`/tmp` on Linux),
//! replacing any file of that name.
//!
//! Run with `cargo run -p geopera --example render_tile` (uses an embedded emulator unless
//! `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` are set).

mod support;

use futures::TryStreamExt as _;
use geopera::models::{CatalogSearchInput, CatalogTileInput};
use geopera::operations::{catalog_search, catalog_tile_render};
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;

    let page =
        catalog_search::send(&client, CatalogSearchInput::new("earthsearch-aws").limit(1)).await?;
    let Some(scene) = page.features.first() else {
        println!("the catalog has no scene to render");
        return Ok(());
    };
    let tile = || CatalogTileInput::new("sentinel-2-l2a", &scene.id, "true_color", 3, 4, 2, "png");

    // The whole answer, within the client's response-size cap.
    let png = catalog_tile_render::send(&client, tile()).await?;
    println!(
        "tile of {}: {} bytes of {}",
        scene.id,
        png.len(),
        png.content_type
    );
    let path = std::env::temp_dir().join("geopera-tile.png");
    std::fs::write(&path, &png.bytes)?;
    println!("written to {}", path.display());

    // The same body as it arrives: nothing but the current chunk is held in memory.
    let mut body = catalog_tile_render::stream_body(&client, tile()).await?;
    let (mut chunks, mut total) = (0, 0);
    while let Some(chunk) = body.try_next().await? {
        chunks += 1;
        total += chunk.len();
    }
    println!(
        "streamed {total} bytes of {} in {chunks} chunk(s)",
        body.content_type()
    );
    Ok(())
}
