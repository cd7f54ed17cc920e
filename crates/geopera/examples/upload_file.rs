//! Uploads: one file into a project in one call, with progress, and what a failure tells you.
//!
//! Run with `cargo run -p geopera --example upload_file [PATH]` (uses an embedded emulator
//! unless `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` are set). Without a path it uploads a
//! generated 8 MB file.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};

use geopera::models::ProjectCreate;
use geopera::operations::projects_create;
use geopera::uploads::{Release, Upload};
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;
    let project = projects_create::send(&client, ProjectCreate::new("upload example")).await?;

    let (path, generated) = match std::env::args_os().nth(1) {
        Some(path) => (path.into(), false),
        None => {
            let path =
                std::env::temp_dir().join(format!("geopera-example-{}.bin", std::process::id()));
            std::fs::write(&path, vec![42u8; 8_000_000])?;
            (path, true)
        }
    };

    // Progress arrives once per chunk; print every tenth of the way.
    let shown = AtomicU64::new(0);
    let outcome = Upload::from_path(&project.id, &path)
        .content_type("application/octet-stream")
        // The id to release the space with, should this program be stopped mid-way.
        .on_reserved(|id| println!("  space reserved as upload {id}"))
        .on_progress(move |p| {
            let tenth = p.bytes_sent * 10 / p.total_bytes.max(1);
            if shown.fetch_max(tenth, Ordering::Relaxed) < tenth {
                println!(
                    "  {:>3} % ({} of {} bytes)",
                    tenth * 10,
                    p.bytes_sent,
                    p.total_bytes
                );
            }
        })
        .send(&client)
        .await;
    if generated {
        std::fs::remove_file(&path)?;
    }

    match outcome {
        Ok(uploaded) => {
            println!(
                "upload {} completed: {} bytes at {}",
                uploaded.upload_id, uploaded.bytes, uploaded.object_path
            );
            let status = uploaded.upload.status.as_ref().map(|s| s.as_str());
            println!("status {}", status.unwrap_or("unknown"));
        }
        Err(error) => {
            // The reservation has already been released, unless `release` says otherwise.
            eprintln!("{error}");
            if let Release::NotReleased(why) = error.release() {
                eprintln!("call uploads.fail for {:?} later: {why}", error.upload_id());
            }
            return Err(error.into());
        }
    }
    Ok(())
}
