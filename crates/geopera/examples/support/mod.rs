//! Where the examples send their calls: `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` when set,
//! otherwise an emulator started in-process, so every example runs offline.

#![allow(dead_code, reason = "each example uses a different part")]

use geopera_emulator::{Emulator, EmulatorHandle};

/// The API to talk to. Keep it alive for as long as the example runs: dropping it stops the
/// embedded emulator.
pub struct Target {
    pub base_url: String,
    pub token: String,
    _emulator: Option<EmulatorHandle>,
}

/// Reads the environment, or starts the emulator when `GEOPERA_API_URL` is unset.
pub fn target() -> Result<Target, Box<dyn std::error::Error>> {
    if let Ok(base_url) = std::env::var("GEOPERA_API_URL") {
        let token = std::env::var("GEOPERA_API_TOKEN")
            .map_err(|_| "GEOPERA_API_URL is set, so GEOPERA_API_TOKEN must be too")?;
        return Ok(Target {
            base_url,
            token,
            _emulator: None,
        });
    }
    let emulator = Emulator::builder().start()?;
    eprintln!(
        "(no GEOPERA_API_URL: using an embedded emulator at {})",
        emulator.base_url()
    );
    Ok(Target {
        base_url: emulator.base_url().to_string(),
        token: emulator.api_key().to_owned(),
        _emulator: Some(emulator),
    })
}

/// The number of features in a catalog page.
pub fn feature_count(page: &geopera::models::CatalogSearchOutput) -> usize {
    page.features.len()
}
