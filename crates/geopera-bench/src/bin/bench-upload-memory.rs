//! `bench-upload-memory`: the client's peak memory while it uploads a large file, checked
//! against a limit.
//!
//! The emulator in this process takes the upload; the client runs in a child process (this
//! binary again, with `--child`), so the peak it reports (Linux `VmHWM`) is the client's
//! alone and not the emulator's. The parent writes the file, starts the child, checks that
//! the emulator counted every byte with the right SHA-256, and prints one JSON line; it exits
//! with an error when the child's peak passed `--limit-mib`.
//!
//! ```text
//! bench-upload-memory --mb 50 --limit-mib 64     # 50 MB, async send
//! bench-upload-memory --mb 50 --blocking         # the same through send_blocking
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Parser;
use geopera::uploads::Upload;
use geopera_bench::usage::status_bytes;
use sha2::{Digest as _, Sha256};

/// Peak client memory of one upload.
#[derive(Debug, Parser)]
#[command(name = "bench-upload-memory", about)]
struct Args {
    /// Size of the file in MB (10^6 bytes).
    #[arg(long, default_value_t = 50)]
    mb: u64,
    /// The peak the client may reach, in MiB.
    #[arg(long, default_value_t = 64)]
    limit_mib: u64,
    /// Upload with `send_blocking` instead of `send`.
    #[arg(long)]
    blocking: bool,
    /// Run as the client: upload `--path` into `--project` at `--base-url`.
    #[arg(long, hide = true)]
    child: bool,
    #[arg(long, hide = true)]
    base_url: Option<String>,
    #[arg(long, hide = true)]
    project: Option<String>,
    #[arg(long, hide = true)]
    path: Option<PathBuf>,
}

/// The token is passed to the child through its environment, not its command line, which
/// other users of the machine can read.
const TOKEN_VAR: &str = "GEOPERA_BENCH_TOKEN";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.child {
        return child(&args);
    }
    let emulator = geopera_emulator::Emulator::builder().start()?;
    let client = geopera::AuthenticatedClient::new(emulator.base_url(), emulator.api_key())?;
    let project = geopera::Geopera::from(client)
        .invoke_blocking("projects.create", serde_json::json!({"name": "bench"}))?;
    let project = project["id"].as_str().context("a project id")?.to_owned();

    let dir = std::env::temp_dir().join(format!("geopera-bench-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("large.bin");
    let outcome = write_file(&path, args.mb * 1_000_000).and_then(|sha256| {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args([
                "--child",
                "--base-url",
                &emulator.base_url(),
                "--project",
                &project,
            ])
            .arg("--path")
            .arg(&path)
            .env(TOKEN_VAR, emulator.api_key());
        if args.blocking {
            command.arg("--blocking");
        }
        let output = command.output().context("running the client")?;
        if !output.status.success() {
            bail!(
                "the client failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("the client's report")?;
        Ok((sha256, report))
    });
    std::fs::remove_dir_all(&dir)?;
    let (sha256, report) = outcome?;

    let counted = &report["upload"]["files"][0];
    if counted["size"] != args.mb * 1_000_000 || counted["sha256"] != sha256.as_str() {
        bail!("the emulator counted another file: {counted}");
    }
    let peak_mib = report["peak_rss_mib"].as_f64().context("a peak")?;
    let line = serde_json::json!({
        "file_mb": args.mb,
        "mode": if args.blocking { "blocking" } else { "async" },
        "rss_before_mib": report["rss_before_mib"],
        "peak_rss_mib": peak_mib,
        "limit_mib": args.limit_mib,
        "seconds": report["seconds"],
    });
    println!("{line}");
    if peak_mib > args.limit_mib as f64 {
        bail!(
            "the client's peak memory {peak_mib} MiB passed the limit of {} MiB",
            args.limit_mib
        );
    }
    Ok(())
}

/// Writes `len` bytes that are not all alike, a block at a time; answers their SHA-256.
fn write_file(path: &Path, len: u64) -> anyhow::Result<String> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let block: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(block.len() as u64))?;
        file.write_all(&block[..n])?;
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    file.flush()?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The client: one upload, then its report on stdout.
fn child(args: &Args) -> anyhow::Result<()> {
    let base_url = args.base_url.as_deref().context("--base-url")?;
    let project = args.project.as_deref().context("--project")?;
    let path = args.path.as_deref().context("--path")?;
    let token = std::env::var(TOKEN_VAR).with_context(|| format!("{TOKEN_VAR} is not set"))?;
    let client = geopera::AuthenticatedClient::new(base_url, token)?;
    let before = status_bytes("VmRSS")?;
    let started = Instant::now();
    let upload = Upload::from_path(project, path);
    let uploaded = if args.blocking {
        upload.send_blocking(&client)?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(upload.send(&client))?
    };
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_bytes("VmHWM")?;
    let mib = |bytes: u64| (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0;
    let report = serde_json::json!({
        "rss_before_mib": mib(before),
        "peak_rss_mib": mib(peak),
        "seconds": (seconds * 100.0).round() / 100.0,
        "upload": uploaded.upload,
    });
    println!("{report}");
    Ok(())
}
