//! `geopera-codegen`: regenerates (or with `--check`, verifies) the SDK's generated code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

/// Generates the Geopera SDK's models and operations from the OpenAPI contract.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The OpenAPI document to read.
    #[arg(long, default_value = "../shared/spec/geopera-openapi.json")]
    spec: PathBuf,
    /// The workspace root to write into.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Only compare: exit non-zero when the committed code differs from what the spec produces.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.spec)
        .with_context(|| format!("reading {}", args.spec.display()))?;
    let spec: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", args.spec.display()))?;
    let output = geopera_codegen::generate(&spec)?;
    let report = geopera_codegen::sync(&output, &args.root, args.check)?;
    let (operations, schemas) = output.counts;
    if args.check {
        if report.changed.is_empty() && report.stale.is_empty() {
            println!(
                "generated code is up to date (v{}, {operations} operations, {schemas} schemas)",
                output.version
            );
            return Ok(ExitCode::SUCCESS);
        }
        for path in &report.changed {
            eprintln!("out of date: {}", path.display());
        }
        for path in &report.stale {
            eprintln!("no longer generated: {}", path.display());
        }
        eprintln!("run `cargo run -p geopera-codegen` to regenerate");
        return Ok(ExitCode::from(1));
    }
    println!(
        "generated v{} ({operations} operations, {schemas} schemas): {} files written, {} removed",
        output.version,
        report.changed.len(),
        report.stale.len()
    );
    Ok(ExitCode::SUCCESS)
}
