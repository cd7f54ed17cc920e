//! Every example runs to success against the embedded emulator: compiling is not enough, an
//! example can still fail at run time when the SDK's behaviour moves under it.
//!
//! `cargo test` builds the examples before it runs any test; this test runs the binaries it
//! built, each in a process of its own with a bounded wait.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Examples that cannot run on the embedded emulator, and why.
const NEEDS_A_REAL_SERVER: &[(&str, &str)] = &[(
    "private_ca",
    "talks to a server behind a private CA, given in GEOPERA_API_URL",
)];

/// Examples gated on a feature this test binary was not built with: cargo did not build them.
fn gated_off(name: &str) -> bool {
    name == "fleet_budget" && !cfg!(feature = "redis")
}

/// How long one example may take; the slowest takes about two seconds in a debug build.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Where cargo put the example binaries: `examples/` beside the `deps/` this test runs from.
fn examples_dir() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    test_binary
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in <target>/<profile>/deps")
        .join("examples")
}

/// Where the examples' sources are.
fn sources_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The example names, from the sources, so a new example is run without being listed here.
fn example_names(sources: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sources)
        .expect("the examples directory")
        .filter_map(|entry| {
            let path = entry.expect("a directory entry").path();
            let is_source = path.extension().is_some_and(|ext| ext == "rs");
            is_source.then(|| {
                path.file_stem()
                    .and_then(|stem| stem.to_str())
                    .expect("a UTF-8 file name")
                    .to_owned()
            })
        })
        .collect();
    names.sort();
    names
}

/// When `path` last changed.
fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|e| panic!("the modification time of {}: {e}", path.display()))
}

/// Runs one example with the API variables removed (so it starts its own emulator) and waits
/// at most [`TIME_LIMIT`]; returns its exit status and output, or why it did not finish.
fn run(binary: &Path) -> Result<(std::process::ExitStatus, String, String), String> {
    let mut child = Command::new(binary)
        .env_remove("GEOPERA_API_URL")
        .env_remove("GEOPERA_API_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    // The output is read on threads of their own, so a chatty example cannot fill a pipe
    // and stall while this thread waits for it to exit.
    let out = read_all(child.stdout.take().expect("piped stdout"));
    let err = read_all(child.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the example's status") {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {TIME_LIMIT:?}; killed"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().expect("the stdout reader");
    let stderr = err.join().expect("the stderr reader");
    Ok((status, stdout, stderr))
}

/// Reads `pipe` to its end on a thread of its own; the text is the thread's result.
fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[test]
fn every_example_runs_to_success_on_the_embedded_emulator() {
    let dir = examples_dir();
    let sources = sources_dir();
    let names = example_names(&sources);
    assert!(
        names.len() >= 20,
        "expected the examples in {}, found {names:?}",
        dir.display()
    );
    let mut ran = 0;
    let mut failures = Vec::new();
    for name in &names {
        if let Some((_, why)) = NEEDS_A_REAL_SERVER.iter().find(|(skip, _)| skip == name) {
            eprintln!("{name}: not run here, it {why}");
            continue;
        }
        if gated_off(name) {
            continue;
        }
        let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "{} is missing: run the tests with `cargo test`, which builds the examples first",
            binary.display()
        );
        // `cargo test --test examples` alone does not rebuild the examples: an example
        // edited since its last build would be judged by its old binary.
        let source = sources.join(format!("{name}.rs"));
        assert!(
            modified(&source) <= modified(&binary),
            "{} is older than its source: build the examples (`cargo build -p geopera \
             --examples`, or `cargo test` without `--test`) and run this test again",
            binary.display()
        );
        match run(&binary) {
            Ok((status, stdout, _)) if status.success() && !stdout.trim().is_empty() => ran += 1,
            Ok((status, stdout, stderr)) => failures.push(format!(
                "{name}: {status}\n--- stdout\n{stdout}--- stderr\n{stderr}"
            )),
            Err(reason) => failures.push(format!("{name}: {reason}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 19, "only {ran} examples ran");
}

/// The lines of each Rust code block in `text` (Markdown or a doc comment with its `///`
/// removed) whose fence carries `attribute`, without rustdoc's hidden `# ` lines.
fn code_blocks(text: &str, attribute: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        let line = match line.trim_start().strip_prefix("///") {
            Some(doc) => doc.strip_prefix(' ').unwrap_or(doc),
            None => line,
        };
        if let Some(fence) = line.strip_prefix("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None if fence.split(',').any(|a| a.trim() == attribute) => {
                    current = Some(Vec::new());
                }
                None => {}
            }
            continue;
        }
        if let Some(block) = current.as_mut() {
            let hidden = line.trim_start();
            if hidden != "#" && !hidden.starts_with("# ") {
                block.push(line.trim_end().to_owned());
            }
        }
    }
    blocks
}

/// The README's Redis snippet needs the `redis` feature, so the README doc test cannot
/// compile it (it is `ignore`d there); `RedisBudget`'s own doc example, compiled in CI's
/// Redis step, holds the same lines, and this keeps the two equal.
#[test]
fn the_readme_redis_snippet_is_the_compiled_doc_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let source = std::fs::read_to_string(root.join("src/budget/redis.rs")).expect("redis.rs");
    let ignored = code_blocks(&readme, "ignore");
    assert_eq!(ignored.len(), 1, "the README's ignored blocks: {ignored:?}");
    let compiled = code_blocks(&source, "no_run");
    assert!(
        compiled.contains(&ignored[0]),
        "the README's Redis snippet {:#?} is not a doc example of src/budget/redis.rs: {compiled:#?}",
        ignored[0]
    );
}
