//! A processing job from start to finish: start it (safe to repeat: one idempotency key), wait
//! for it with progress, and read where its output tiles are — then the same for a job that
//! fails, whose wait ends with the job's final state as a typed error, and a clip of a catalog
//! item, waited for with its final answer kept whole (`detailed()`), whose files come as
//! signed download links.
//!
//! Runs against the embedded emulator unless `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` are set;
//! on the emulator the client waits on its clock, so the minute a job takes passes at once. The
//! failing job and the clip, which need a process the emulator fails on purpose and one of its
//! catalog items, run on the embedded emulator only.
//!
//! Run with `cargo run -p geopera --example processing_workflow`.

mod support;

use std::time::Duration;

use geopera::models::{ClipJobInput, Job, ProcessExecuteInput, ProcessingJobInput};
use geopera::operations::{
    clip_create_from_item, clip_job_downloads, processing_execute, processing_job_tile_info,
};
use geopera::wait::{self, WaitError};
use geopera::{AuthenticatedClient, Geopera, Request};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (target, time) = support::target_with_time()?;
    let client = AuthenticatedClient::builder(&target.token)
        .base_url(&target.base_url)
        .clock(time.sdk_clock())
        .build()?;
    let project = Geopera::from(client.clone())
        .invoke("projects.create", json!({"name": "processing example"}))
        .await?;
    let project = project["id"].as_str().ok_or("the project has no id")?;

    // Start an NDVI job. The key makes a retry of this call start one job, not two.
    let key = uuid::Uuid::new_v4().to_string();
    let job = processing_execute::send(
        &client,
        Request::new(ProcessExecuteInput::new("ndvi", project)).idempotency_key(key),
    )
    .await?;
    println!("started {} ({})", job.id, status(&job));

    let done = wait::processing_job(&client, &job.id)
        .interval(Duration::from_secs(5), Duration::from_secs(20))
        .deadline(Duration::from_secs(30 * 60))
        .on_progress(|job| println!("  {} at {}%", status(job), job.progress.unwrap_or(0.0)))
        .await?;
    println!("{} {}", done.id, status(&done));
    let tiles = processing_job_tile_info::send(&client, ProcessingJobInput::new(&done.id)).await?;
    println!("tiles: {tiles}");

    if !target.is_embedded() {
        return Ok(());
    }
    // The emulator fails jobs of the process `emulator-fail` on purpose.
    let failing = processing_execute::send(
        &client,
        ProcessExecuteInput::new(geopera_emulator::JOB_FAIL_MARKER, project),
    )
    .await?;
    match wait::processing_job(&client, &failing.id).await {
        Err(WaitError::Failed { id, state, .. }) => println!("{id} ended {state}"),
        Err(other) => return Err(other.into()),
        Ok(job) => println!("{} unexpectedly {}", job.id, status(&job)),
    }

    // A clip of one catalog item. Its files are handed out as signed links: anyone holding
    // one can fetch the file until it expires, so `{:?}` prints them cut after their path.
    // The contract leaves this body open: it is a JSON object.
    let mut body = geopera::JsonObject::new();
    body.insert("item_id".to_owned(), json!("S2A_1"));
    let clip = clip_create_from_item::send(&client, body).await?;
    // `detailed()` ends the wait with the final poll's whole answer: its bytes as the server
    // sent them, for a program that keeps or forwards them, and its request id, to quote
    // when asking about it.
    let answer = wait::clip_job(&client, &clip.job.id).detailed().await?;
    let clipped = answer
        .parsed
        .success()
        .ok_or("a finished wait holds the job")?;
    println!(
        "{} {} (request {}, {} bytes)",
        clipped.id,
        status(clipped),
        answer.request_id,
        answer.content.len()
    );
    let links = clip_job_downloads::send(&client, ClipJobInput::new(&clipped.id)).await?;
    let downloads = links["downloads"].as_array().map_or(&[][..], Vec::as_slice);
    println!("{}: {} download link(s)", clipped.id, downloads.len());
    for download in downloads {
        // The link itself, for the code that fetches the file; it is a credential, so it is
        // not printed.
        let url = download["url"].as_str().unwrap_or_default();
        println!(
            "  {} ({} characters of signed URL)",
            download["file_name"].as_str().unwrap_or("(no file name)"),
            url.len()
        );
    }
    Ok(())
}

fn status(job: &Job) -> &str {
    job.status
        .as_ref()
        .map_or("without a status", |s| s.as_str())
}
