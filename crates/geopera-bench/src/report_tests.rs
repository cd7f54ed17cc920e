//! Unit tests of `report.rs`.
use super::*;

fn sample(mode: &str, limit: usize, concurrency: usize, rate: f64, cpu: f64) -> Sample {
    Sample {
        scenario: "static".into(),
        mode: mode.into(),
        limit,
        concurrency,
        calls: 100,
        seconds: 1.0,
        calls_per_sec: rate,
        cpu_us_per_call: cpu,
        peak_rss_mib: 10.0,
        ..Sample::default()
    }
}

#[test]
fn pairs_are_divided_within_the_pair_and_the_median_reported() {
    let paired = |mode: &str, concurrency: usize, rate: f64| Sample {
        scenario: "paired".into(),
        ..sample(mode, 10, concurrency, rate, 50.0)
    };
    let run = Run {
        samples: vec![
            paired("sdk-async", 64, 10_000.0),
            paired("sdk-blocking", 64, 9_000.0),
            // The machine slows down for the second pair: the ratio does not.
            paired("sdk-async", 64, 5_000.0),
            paired("sdk-blocking", 64, 4_000.0),
            paired("sdk-async", 64, 8_000.0),
            paired("sdk-blocking", 64, 6_800.0),
        ],
        compiles: Vec::new(),
    };
    assert_eq!(run.paired_ratios(10, 64), vec![0.9, 0.8, 0.85]);
    let text = run.render();
    assert!(
        text.contains("| 10 | 64 | 3 | 0.85 | 0.80 | 0.90 | 0.90, 0.80, 0.85 |"),
        "{text}"
    );
    assert!(
        !text.contains("| 10 | 64 | sdk-async |"),
        "pairs stay out of the tables"
    );
    assert!(
        !text.contains("best of"),
        "nor do they count as runs of a cell"
    );
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[1.0, 3.0]), Some(2.0));
}

#[test]
fn ratios_divide_ours_by_the_other_client() {
    let run = Run {
        samples: vec![
            sample("sdk-async", 10, 64, 30_000.0, 40.0),
            sample("reqwest-value", 10, 64, 10_000.0, 80.0),
        ],
        compiles: Vec::new(),
    };
    let text = run.render();
    assert!(
        text.contains("| 10 | 64 | sdk-async | reqwest-value | 3.00 | 0.50 |"),
        "{text}"
    );
    assert!(
            text.contains(
                "| 10 items, c64: sdk-async ÷ reqwest-value calls/s | ≥ 1.5 | 3.00 | yes | 2.00 | yes |"
            ),
            "{text}"
        );
    assert!(
        text.contains("| 10 items, c64: sdk-async ÷ python-async calls/s | ≥ 25 | n/a |"),
        "{text}"
    );
}

#[test]
fn results_lines_are_told_apart_by_scenario() -> anyhow::Result<()> {
    let text = format!(
        "{}\n\n{}\n",
        serde_json::to_string(&sample("sdk-async", 10, 1, 1.0, 1.0))?,
        r#"{"scenario":"compile","profile":"debug","seconds":61.5,"top":[["geopera",20.0]]}"#
    );
    let run = Run::parse(&text)?;
    assert_eq!(run.samples.len(), 1);
    assert_eq!(run.compiles[0].top[0], ("geopera".to_owned(), 20.0));
    Ok(())
}

#[test]
fn timings_are_summed_per_crate() -> anyhow::Result<()> {
    let html = concat!(
        "<script>\nconst UNIT_DATA = [\n",
        r#"{"i":0,"name":"ring","version":"0.17.0","mode":"run-custom-build","duration":3.0},"#,
        r#"{"i":1,"name":"ring","version":"0.17.0","mode":"todo","duration":4.5},"#,
        r#"{"i":2,"name":"syn","version":"2.0.1","mode":"todo","duration":1.0},"#,
        r#"{"i":3,"name":"syn","version":"3.0.1","mode":"todo","duration":1.5},"#,
        r#"{"i":4,"name":"geopera","version":"0.1.0","mode":"todo","duration":5.0}"#,
        "\n];\nconst CONCURRENCY_DATA = [];\n</script>"
    );
    let sample = compile_sample(html, "debug", 20.0, 3)?;
    assert_eq!(
        sample.top,
        vec![
            ("ring".to_owned(), 7.5),
            ("geopera".to_owned(), 5.0),
            ("syn ×2".to_owned(), 2.5)
        ]
    );
    assert_eq!((sample.unit_seconds, sample.own_seconds), (15.0, 5.0));
    Ok(())
}

#[test]
fn the_best_run_of_a_cell_is_reported() {
    let run = Run {
        samples: vec![
            sample("sdk-async", 10, 64, 20_000.0, 45.0),
            sample("sdk-async", 10, 64, 25_000.0, 40.0),
            sample("sdk-async", 10, 64, 22_000.0, 42.0),
        ],
        compiles: Vec::new(),
    };
    let (best, runs) = run.best();
    assert_eq!(runs, 3);
    assert_eq!(best.samples.len(), 1);
    assert_eq!(best.samples[0].calls_per_sec, 25_000.0);
}
