//! A processing job from start to finish: start it (safe to repeat: one idempotency key), wait
//! for it with progress, and read where its output tiles are — then the same for a job that
//! fails, whose wait ends with the job's final state as a typed error.
//!
//! Runs against the embedded emulator unless `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` are set;
//! on the emulator the client waits on its clock, so the minute a job takes passes at once.
//!
//! Run with `cargo run -p geopera --example processing_workflow`.

mod support;

use std::time::Duration;

use geopera::models::{Job, ProcessExecuteInput, ProcessingJobInput};
use geopera::operations::{processing_execute, processing_job_tile_info};
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
    Ok(())
}

fn status(job: &Job) -> &str {
    job.status
        .as_ref()
        .map_or("without a status", |s| s.as_str())
}
