//! A workflow against the emulator's kept state: make a project, upload a file to it through a
//! signed URL, process it, let the emulator's clock run the job to completion, read the
//! notifications — then restart the emulator from its state file and find everything again.
//!
//! Run with `cargo run -p geopera-emulator --example stateful_workflow`.

use std::time::Duration;

use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};
use serde_json::{json, Value};

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let state = std::env::temp_dir().join(format!("geopera-example-{}.sqlite", std::process::id()));
    let http = reqwest::blocking::Client::new();
    let start = || {
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .state_file(&state)
            .start()
    };

    let (project, job) = {
        let emulator = start()?;
        let call = |op: &str, body: Value| call(&http, &emulator, op, body);

        let project = call("projects.create", json!({"name": "Coastal survey"}))?;
        let project = text(&project, "id")?;
        println!("project {project}");

        // Reserve quota, take a signed URL and PUT the bytes to it, then complete.
        let bytes = vec![42u8; 256 * 1024];
        let upload = call(
            "uploads.initiate",
            json!({"project_id": project, "total_bytes": bytes.len()}),
        )?;
        let upload = text(&upload, "id")?;
        let signed = call(
            "uploads.signed_url",
            json!({"upload_id": upload, "file_name": "scene.tif", "content_type": "image/tiff"}),
        )?;
        let put = http.put(text(&signed, "upload_url")?).body(bytes).send()?;
        println!("PUT {} bytes: {}", 256 * 1024, put.status());
        let done = call("uploads.complete", json!({"upload_id": upload}))?;
        println!(
            "upload {upload}: {}, storage {}",
            done["status"], done["storage"]
        );

        // A job runs on the emulator's clock: move the clock instead of waiting.
        let job = call(
            "processing.execute",
            json!({"process_id": "ndvi", "workspaceId": project, "inputs": {"upload_id": upload}}),
        )?;
        let job = text(&job, "id")?;
        emulator.clock().advance(Duration::from_secs(61));
        let finished = call("processing.job.get", json!({"job_id": job}))?;
        println!("job {job}: {}", finished["status"]);

        let notes = call("notifications.list", json!({}))?;
        for note in notes["notifications"].as_array().into_iter().flatten() {
            println!("notification: {} {}", note["type"], note["entity_id"]);
        }
        (project, job)
    };

    // The same state file, a new process's worth of emulator: the records are still there.
    let emulator = start()?;
    let job = call(
        &http,
        &emulator,
        "processing.job.get",
        json!({"job_id": job}),
    )?;
    println!("after a restart, job of {project}: {}", job["status"]);
    drop(emulator);
    // The empty file beside the state file that kept other emulators off it.
    let mut lock = std::fs::canonicalize(&state)?.into_os_string();
    lock.push("-lock");
    std::fs::remove_file(lock)?;
    std::fs::remove_file(&state)?;
    Ok(())
}

/// Calls an operation with the demo key and returns its JSON answer, or the problem as an
/// error.
fn call(
    http: &reqwest::blocking::Client,
    emulator: &EmulatorHandle,
    op: &str,
    body: Value,
) -> Result<Value, Failure> {
    let response = http
        .post(format!("{}/v1/op/{op}", emulator.base_url()))
        .bearer_auth(emulator.api_key())
        .json(&body)
        .send()?;
    let status = response.status();
    let answer: Value = response.json()?;
    if !status.is_success() {
        return Err(format!("{op}: {status} {answer}").into());
    }
    Ok(answer)
}

fn text(value: &Value, field: &str) -> Result<String, Failure> {
    value[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no '{field}' in {value}").into())
}
