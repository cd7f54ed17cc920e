//! Renders the JSON lines of one run as the Markdown tables of `BENCHMARKS.md`, and reads
//! the slowest crates out of a `cargo build --timings` report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context as _};
use serde::Deserialize;

use crate::{CompileSample, Sample};

/// The client modes in table order.
const MODES: [&str; 6] = [
    "sdk-async",
    "sdk-blocking",
    "reqwest-value",
    "reqwest-bytes",
    "python-async",
    "python-sync",
];

/// Our clients, the numerators of the ratios.
const OURS: [&str; 2] = ["sdk-async", "sdk-blocking"];

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Run {
    /// Client measurements, in the order they were read.
    pub samples: Vec<Sample>,
    /// Compile-time measurements.
    pub compiles: Vec<CompileSample>,
}

impl Run {
    /// Reads JSON lines: [`Sample`]s and [`CompileSample`]s (told apart by `scenario`).
    /// Blank lines are skipped.
    ///
    /// # Errors
    ///
    /// A line that is neither.
    pub fn parse(text: &str) -> anyhow::Result<Run> {
        #[derive(Deserialize)]
        struct Kind {
            scenario: String,
        }
        let mut run = Run::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let what = || format!("line {} of the results", number + 1);
            let kind: Kind = serde_json::from_str(line).with_context(what)?;
            if kind.scenario == "compile" {
                run.compiles
                    .push(serde_json::from_str(line).with_context(what)?);
            } else {
                run.samples
                    .push(serde_json::from_str(line).with_context(what)?);
            }
        }
        Ok(run)
    }

    /// One sample per (scenario, client, page, concurrency): the one with the most calls/s,
    /// since other processes on the machine only ever slow a run down. Also returns how many
    /// runs each cell had at most.
    pub fn best(&self) -> (Run, usize) {
        let mut best: Vec<Sample> = Vec::new();
        let mut runs: BTreeMap<(String, String, usize, usize), usize> = BTreeMap::new();
        for sample in &self.samples {
            let key = (
                sample.scenario.clone(),
                sample.mode.clone(),
                sample.limit,
                sample.concurrency,
            );
            *runs.entry(key).or_default() += 1;
            match best.iter_mut().find(|b| {
                b.scenario == sample.scenario
                    && b.mode == sample.mode
                    && b.limit == sample.limit
                    && b.concurrency == sample.concurrency
            }) {
                Some(kept) if kept.calls_per_sec >= sample.calls_per_sec => {}
                Some(kept) => *kept = sample.clone(),
                None => best.push(sample.clone()),
            }
        }
        let most = runs.values().copied().max().unwrap_or(0);
        let run = Run {
            samples: best,
            compiles: self.compiles.clone(),
        };
        (run, most)
    }

    fn find(
        &self,
        scenario: &str,
        mode: &str,
        limit: usize,
        concurrency: usize,
    ) -> Option<&Sample> {
        self.samples.iter().find(|s| {
            s.scenario == scenario
                && s.mode == mode
                && s.limit == limit
                && s.concurrency == concurrency
                && s.calls > 0
        })
    }

    /// The report: tables, ratios and the targets of issue 5, as Markdown. Cells measured
    /// more than once show their best run ([`Run::best`]).
    pub fn render(&self) -> String {
        // Pairs are reported one by one, never as a best cell.
        let (paired, cells): (Vec<Sample>, Vec<Sample>) = self
            .samples
            .iter()
            .cloned()
            .partition(|s| s.scenario == "paired");
        let cells = Run {
            samples: cells,
            compiles: self.compiles.clone(),
        };
        let (best, runs) = cells.best();
        let mut out = best.render_best(runs);
        Run {
            samples: paired,
            compiles: Vec::new(),
        }
        .render_paired(&mut out);
        out
    }

    /// The `paired` scenario: the async and the blocking client measured right after each
    /// other, pair after pair. Each pair's ratio is taken within the pair, and the median
    /// across pairs is what the one-engine target is read from.
    fn render_paired(&self, out: &mut String) {
        let cells = self.cells("paired");
        if cells.is_empty() {
            return;
        }
        let _ = writeln!(out, "### Blocking against async, back-to-back pairs\n");
        let _ = writeln!(
            out,
            "Each pair measures `sdk-async`, then `sdk-blocking`; the ratio is taken within \
             the pair.\n"
        );
        let _ = writeln!(
            out,
            "| page | concurrency | pairs | blocking ÷ async, median | lowest | highest | every pair |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---|");
        for (limit, concurrency) in cells {
            let mut ratios = self.paired_ratios(limit, concurrency);
            let every: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            ratios.sort_by(f64::total_cmp);
            let Some(median) = median(&ratios) else {
                continue;
            };
            let _ = writeln!(
                out,
                "| {limit} | {concurrency} | {} | {median:.2} | {:.2} | {:.2} | {} |",
                ratios.len(),
                ratios.first().copied().unwrap_or(median),
                ratios.last().copied().unwrap_or(median),
                every.join(", ")
            );
        }
        let _ = writeln!(out);
    }

    /// Blocking ÷ async calls/s of each pair, in the order measured: the n-th async sample
    /// with the n-th blocking one. A pair with a failed run is left out.
    fn paired_ratios(&self, limit: usize, concurrency: usize) -> Vec<f64> {
        let of = |mode: &str| -> Vec<&Sample> {
            self.samples
                .iter()
                .filter(|s| {
                    s.scenario == "paired"
                        && s.mode == mode
                        && s.limit == limit
                        && s.concurrency == concurrency
                })
                .collect()
        };
        of("sdk-async")
            .into_iter()
            .zip(of("sdk-blocking"))
            .filter(|(a, b)| a.calls > 0 && b.calls > 0 && a.calls_per_sec > 0.0)
            .map(|(a, b)| b.calls_per_sec / a.calls_per_sec)
            .collect()
    }

    fn render_best(&self, runs: usize) -> String {
        let mut out = String::new();
        if runs > 1 {
            let _ = writeln!(
                out,
                "Each cell is the best of {runs} runs (the one with the most calls/s).\n"
            );
        }
        self.render_static(&mut out);
        self.render_ratios(&mut out);
        self.render_scenario(
            &mut out,
            "rss",
            "Peak RSS with many requests in flight (bench server answering after a delay)",
        );
        self.render_scenario(
            &mut out,
            "emulator",
            "Emulator throughput (the real emulator, pinned like the bench server)",
        );
        self.render_compiles(&mut out);
        self.render_targets(&mut out);
        out
    }

    fn cells(&self, scenario: &str) -> Vec<(usize, usize)> {
        let mut cells: Vec<(usize, usize)> = self
            .samples
            .iter()
            .filter(|s| s.scenario == scenario)
            .map(|s| (s.limit, s.concurrency))
            .collect();
        cells.sort_unstable();
        cells.dedup();
        cells
    }

    fn render_static(&self, out: &mut String) {
        let _ = writeln!(out, "### Throughput against the bench server\n");
        let _ = writeln!(
            out,
            "CPU busy: the client's CPU time per second of the window (100 % is one core). \
             CPU wait: time its threads were ready but waited for a CPU, per second — \
             other processes on its core; high values make calls/s unreliable.\n"
        );
        let _ = writeln!(
            out,
            "| page | concurrency | client | calls/s | CPU µs/call | CPU busy % | CPU wait % | peak RSS MiB | errors |"
        );
        let _ = writeln!(out, "|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        for (limit, concurrency) in self.cells("static") {
            for sample in self.ordered("static", limit, concurrency) {
                let _ = writeln!(
                    out,
                    "| {limit} | {concurrency} | {} | {:.0} | {:.1} | {:.0} | {:.0} | {:.1} | {} |",
                    sample.mode,
                    sample.calls_per_sec,
                    sample.cpu_us_per_call,
                    sample.cpu_util * 100.0,
                    sample.cpu_wait * 100.0,
                    sample.peak_rss_mib,
                    sample.errors
                );
            }
        }
        let _ = writeln!(out);
    }

    fn ordered(&self, scenario: &str, limit: usize, concurrency: usize) -> Vec<&Sample> {
        let mut found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.scenario == scenario && s.limit == limit && s.concurrency == concurrency)
            .collect();
        found.sort_by_key(|s| {
            MODES
                .iter()
                .position(|m| *m == s.mode)
                .unwrap_or(MODES.len())
        });
        found
    }

    fn render_ratios(&self, out: &mut String) {
        let _ = writeln!(out, "### Ratios (ours ÷ other, same run)\n");
        let _ = writeln!(
            out,
            "Calls/s above 1 and CPU per call below 1 mean ours is better.\n"
        );
        let _ = writeln!(
            out,
            "| page | concurrency | ours | other | calls/s ratio | CPU/call ratio |"
        );
        let _ = writeln!(out, "|---:|---:|---|---|---:|---:|");
        for (limit, concurrency) in self.cells("static") {
            for ours in OURS {
                let Some(mine) = self.find("static", ours, limit, concurrency) else {
                    continue;
                };
                for other in self.ordered("static", limit, concurrency) {
                    if OURS.contains(&other.mode.as_str()) || other.calls == 0 {
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "| {limit} | {concurrency} | {ours} | {} | {:.2} | {:.2} |",
                        other.mode,
                        mine.calls_per_sec / other.calls_per_sec,
                        mine.cpu_us_per_call / other.cpu_us_per_call
                    );
                }
            }
        }
        let _ = writeln!(out);
    }

    fn render_scenario(&self, out: &mut String, scenario: &str, title: &str) {
        let cells = self.cells(scenario);
        if cells.is_empty() {
            return;
        }
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| page | concurrency | client | max in flight | calls/s | CPU µs/call | peak RSS MiB | errors |"
        );
        let _ = writeln!(out, "|---:|---:|---|---:|---:|---:|---:|---:|");
        for (limit, concurrency) in cells {
            for s in self.ordered(scenario, limit, concurrency) {
                let _ = writeln!(
                    out,
                    "| {limit} | {concurrency} | {} | {} | {:.0} | {:.1} | {:.1} | {} |",
                    s.mode,
                    s.max_in_flight,
                    s.calls_per_sec,
                    s.cpu_us_per_call,
                    s.peak_rss_mib,
                    s.errors
                );
            }
        }
        let _ = writeln!(out);
    }

    fn render_compiles(&self, out: &mut String) {
        if self.compiles.is_empty() {
            return;
        }
        let _ = writeln!(out, "### Clean build of the `geopera` crate\n");
        let _ = writeln!(
            out,
            "| profile | wall s | all units, s | own crates, s | slowest crates (unit s) |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---|");
        for compile in &self.compiles {
            let top: Vec<String> = compile
                .top
                .iter()
                .map(|(name, secs)| format!("{name} {secs:.1}"))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {:.1} | {:.1} | {:.1} | {} |",
                compile.profile,
                compile.seconds,
                compile.unit_seconds,
                compile.own_seconds,
                top.join(", ")
            );
        }
        let _ = writeln!(out);
    }

    fn render_targets(&self, out: &mut String) {
        let _ = writeln!(out, "### Targets of issue 5\n");
        let _ = writeln!(
            out,
            "\"per CPU\" divides the other client's CPU time per call by ours: the calls/s ratio \
             both clients would reach if each had a core to itself, which holds up when other \
             processes share the client's core.\n"
        );
        let _ = writeln!(out, "| target | goal | measured | met | per CPU | met |");
        let _ = writeln!(out, "|---|---|---:|---|---:|---|");
        let verdict = |value: Option<f64>, met: &dyn Fn(f64) -> bool| match value {
            Some(v) => (
                format!("{v:.2}"),
                if met(v) { "yes" } else { "**no**" }.to_owned(),
            ),
            None => ("n/a".to_owned(), "not measured".to_owned()),
        };
        // (ours, other, page, concurrency, at least this many times the other's calls/s)
        let speed: [(&str, &str, usize, usize, f64); 6] = [
            ("sdk-async", "reqwest-value", 10, 64, 1.5),
            ("sdk-async", "python-async", 10, 64, 25.0),
            ("sdk-async", "reqwest-value", 500, 64, 2.0),
            ("sdk-async", "reqwest-value", 500, 1, 2.0),
            ("sdk-async", "python-async", 500, 64, 8.0),
            ("sdk-blocking", "python-sync", 10, 1, 3.0),
        ];
        for (ours, other, limit, concurrency, goal) in speed {
            let pair = self.find("static", ours, limit, concurrency).zip(self.find(
                "static",
                other,
                limit,
                concurrency,
            ));
            let at_least = |v: f64| v >= goal;
            let (rate, rate_met) = verdict(
                pair.map(|(mine, theirs)| mine.calls_per_sec / theirs.calls_per_sec),
                &at_least,
            );
            let (cpu, cpu_met) = verdict(
                pair.map(|(mine, theirs)| theirs.cpu_us_per_call / mine.cpu_us_per_call),
                &at_least,
            );
            let _ = writeln!(
                out,
                "| {limit} items, c{concurrency}: {ours} ÷ {other} calls/s | ≥ {goal} | {rate} | {rate_met} | {cpu} | {cpu_met} |"
            );
        }
        let mut row = |name: &str, goal: &str, value: Option<f64>, met: &dyn Fn(f64) -> bool| {
            let (value, met) = verdict(value, met);
            let _ = writeln!(out, "| {name} | {goal} | {value} | {met} | | |");
        };
        let cpu_ratio = self
            .find("static", "sdk-async", 10, 64)
            .zip(self.find("static", "reqwest-value", 10, 64))
            .map(|(mine, theirs)| mine.cpu_us_per_call / theirs.cpu_us_per_call);
        row(
            "10 items, c64: sdk-async ÷ reqwest-value CPU/call",
            "≤ 0.7",
            cpu_ratio,
            &|v| v <= 0.7,
        );
        let rss = self
            .samples
            .iter()
            .filter(|s| s.scenario == "rss" && s.mode == "sdk-async" && s.calls > 0)
            .map(|s| s.peak_rss_mib)
            .reduce(f64::max);
        row(
            "peak RSS of sdk-async, 1,000 in flight (MiB)",
            "≤ 64",
            rss,
            &|v| v <= 64.0,
        );
        let debug = self
            .compiles
            .iter()
            .find(|c| c.profile == "debug")
            .map(|c| c.seconds);
        row(
            "clean debug build of `geopera` (s)",
            "≤ 90",
            debug,
            &|v| v <= 90.0,
        );
        let _ = writeln!(out);
    }
}

/// The middle of sorted values (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// A compile measurement from a `cargo build --timings` HTML report: the `top` slowest
/// crates (the units of one crate — build script, library, several versions — added up), the
/// time of all units and of the workspace's own `geopera*` crates.
///
/// # Errors
///
/// The report holds no unit data in the format cargo is known to use.
pub fn compile_sample(
    html: &str,
    profile: &str,
    seconds: f64,
    top: usize,
) -> anyhow::Result<CompileSample> {
    #[derive(Deserialize)]
    struct Unit {
        name: String,
        version: String,
        duration: f64,
    }
    const MARKER: &str = "const UNIT_DATA = ";
    let Some(start) = html.find(MARKER).map(|at| at + MARKER.len()) else {
        bail!("no UNIT_DATA in the timings report");
    };
    let rest = &html[start..];
    let end = rest.find("];").map_or(rest.len(), |at| at + 1);
    let units: Vec<Unit> =
        serde_json::from_str(rest[..end].trim()).context("reading UNIT_DATA of the timings")?;
    let mut by_crate: BTreeMap<String, (f64, Vec<String>)> = BTreeMap::new();
    let (mut unit_seconds, mut own_seconds) = (0.0, 0.0);
    for unit in units {
        unit_seconds += unit.duration;
        if unit.name.starts_with("geopera") {
            own_seconds += unit.duration;
        }
        let entry = by_crate.entry(unit.name).or_default();
        entry.0 += unit.duration;
        if !entry.1.contains(&unit.version) {
            entry.1.push(unit.version);
        }
    }
    let mut sorted: Vec<(String, f64)> = by_crate
        .into_iter()
        .map(|(name, (secs, versions))| match versions.len() {
            1 => (name, secs),
            n => (format!("{name} ×{n}"), secs),
        })
        .collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    sorted.truncate(top);
    Ok(CompileSample {
        scenario: "compile".to_owned(),
        profile: profile.to_owned(),
        seconds,
        top: sorted,
        unit_seconds,
        own_seconds,
    })
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
