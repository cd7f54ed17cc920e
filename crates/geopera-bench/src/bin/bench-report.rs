//! `bench-report`: turns the JSON lines of one benchmark run into Markdown tables, and reads
//! the slowest crates out of a `cargo build --timings` report.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use geopera_bench::report::{compile_sample, Run};

/// Reports of `bench/compare.sh`.
#[derive(Debug, Parser)]
#[command(name = "bench-report", about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the tables, ratios and targets of a results file (JSON lines) as Markdown.
    Table {
        /// The results file.
        results: PathBuf,
    },
    /// Print a compile measurement as a JSON line, with the slowest crates of a
    /// `cargo build --timings` HTML report.
    Timings {
        /// The `cargo-timing.html` of the build.
        #[arg(long)]
        html: PathBuf,
        /// `debug` or `release`.
        #[arg(long)]
        profile: String,
        /// Wall-clock seconds of the build.
        #[arg(long)]
        seconds: f64,
        /// How many crates to name.
        #[arg(long, default_value_t = 8)]
        top: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Table { results } => {
            let text = std::fs::read_to_string(&results)
                .with_context(|| format!("reading {}", results.display()))?;
            print!("{}", Run::parse(&text)?.render());
        }
        Command::Timings {
            html,
            profile,
            seconds,
            top,
        } => {
            let text = std::fs::read_to_string(&html)
                .with_context(|| format!("reading {}", html.display()))?;
            let sample = compile_sample(&text, &profile, seconds, top)?;
            println!("{}", serde_json::to_string(&sample)?);
        }
    }
    Ok(())
}
