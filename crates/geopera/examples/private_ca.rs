//! Talking to a Geopera deployment behind a private certificate authority, optionally
//! through a proxy: the CA's certificate is trusted on top of the system's roots, and a
//! refused certificate is told apart from other connection failures.
//!
//! It needs a real HTTPS server, so it reads where to go from the environment:
//!
//! ```text
//! GEOPERA_API_URL=https://geopera.internal.example GEOPERA_API_TOKEN=gpra_... \
//! GEOPERA_CA_FILE=/etc/pki/internal-ca.pem [GEOPERA_PROXY=http://proxy.internal:3128] \
//! cargo run -p geopera --example private_ca
//! ```
//!
//! Without `GEOPERA_PROXY`, the usual `HTTPS_PROXY` / `NO_PROXY` variables apply.

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let need = |name: &str| {
        std::env::var(name)
            .map_err(|_| format!("set {name}; see the top of examples/private_ca.rs"))
    };
    let (base_url, token, ca_file) = (
        need("GEOPERA_API_URL")?,
        need("GEOPERA_API_TOKEN")?,
        need("GEOPERA_CA_FILE")?,
    );
    let mut builder = AuthenticatedClient::builder(token)
        .base_url(base_url)
        // Read by `build`, which fails if the file holds no PEM certificate.
        .ca_file(ca_file);
    if let Ok(proxy) = std::env::var("GEOPERA_PROXY") {
        builder = builder.proxy(proxy);
    }
    let client = builder.build()?;

    let first = CatalogSearchInput::new("earthsearch-aws").limit(1);
    match catalog_search::send(&client, first).await {
        Ok(page) => println!("connected: {} item(s)", page.features.len()),
        Err(error) if error.is_certificate_error() => {
            // The message names the failed check: unknown issuer, another host name, expiry.
            eprintln!("the server's certificate was refused: {error}");
            eprintln!("is GEOPERA_CA_FILE the CA that signed it, and the URL's host its name?");
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    }
    Ok(())
}
