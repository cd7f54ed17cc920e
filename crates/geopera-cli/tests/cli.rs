//! The built `geopera` binary against an emulator started in the test process, with `HOME`
//! in a temporary folder so no real credentials are read or written.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use geopera_emulator::{Emulator, EmulatorHandle};
use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_geopera");

struct Setup {
    emulator: EmulatorHandle,
    home: TempDir,
}

fn setup() -> Setup {
    Setup::on(Emulator::builder())
}

impl Setup {
    /// An emulator built as `builder` says, and a fresh home.
    fn on(builder: geopera_emulator::EmulatorBuilder) -> Setup {
        Setup {
            emulator: builder.start().expect("emulator starts"),
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// An emulator on a clock that moves only when the test says, and the clock.
    fn on_manual_clock() -> (Setup, geopera_emulator::ManualClock) {
        let clock = geopera_emulator::ManualClock::new();
        (Setup::on(Emulator::builder().clock(clock.clone())), clock)
    }

    /// Like [`Setup::cli`], as a process the test starts and signals itself, with stdout
    /// and stderr piped.
    fn process(&self) -> std::process::Command {
        let mut command = std::process::Command::new(BIN);
        command
            .env_clear()
            .env("HOME", self.home.path())
            .env("GEOPERA_API_URL", self.emulator.base_url())
            .env("GEOPERA_API_TOKEN", self.emulator.api_key())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `geopera` with a clean environment: only `HOME` and `PATH`.
    fn bare(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .timeout(Duration::from_secs(60));
        command
    }

    /// `geopera` pointed at a server of the test's own, `url`, with a key it never checks.
    fn against(&self, url: &str) -> Command {
        let mut command = self.bare();
        command
            .env("GEOPERA_API_URL", url)
            .env("GEOPERA_API_TOKEN", "gpra_test");
        command
    }

    /// `geopera` pointed at the emulator with its demo key in `GEOPERA_API_TOKEN`.
    fn cli(&self) -> Command {
        let mut command = self.bare();
        command
            .env("GEOPERA_API_URL", self.emulator.base_url())
            .env("GEOPERA_API_TOKEN", self.emulator.api_key());
        command
    }

    fn credentials_path(&self) -> PathBuf {
        self.home.path().join(".config/geopera/credentials.json")
    }

    fn credentials(&self) -> Value {
        let text = std::fs::read_to_string(self.credentials_path()).expect("credentials file");
        serde_json::from_str(&text).expect("credentials are JSON")
    }

    /// Writes `contents` as the stored credentials file, as a login would have left it.
    fn store_credentials(&self, contents: &str) {
        let path = self.credentials_path();
        std::fs::create_dir_all(path.parent().expect("test step")).expect("test step");
        std::fs::write(&path, contents).expect("test step");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .expect("test step");
        }
    }
}

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A search of the emulator's catalog for one scene.
const SEARCH_ONE: [&str; 6] = [
    "catalog",
    "search",
    "--host-name",
    "earthsearch-aws",
    "--limit",
    "1",
];

/// What `--dry-run` prints before the blank line (the request line and the headers) and after
/// it (the body).
fn dry_run_parts(output: &std::process::Output) -> (String, String) {
    let out = text(&output.stdout);
    let (head, body) = out.split_once("\n\n").expect("headers, blank line, body");
    (head.to_owned(), body.to_owned())
}

/// The request line and body `--dry-run` prints.
fn dry_run(output: &std::process::Output) -> (String, Value) {
    let (head, body) = dry_run_parts(output);
    let first = head.lines().next().unwrap_or_default().to_owned();
    (first, serde_json::from_str(&body).expect("body is JSON"))
}

/// Asserts that `output` ended with exit `code` and that its stderr says `said`, naming
/// `run` if not; returns that stderr for further checks.
fn fails_saying(
    output: &std::process::Output,
    code: i32,
    said: &str,
    run: impl std::fmt::Debug,
) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{run:?}: {stderr}");
    assert!(stderr.contains(said), "{run:?}: {stderr}");
    stderr
}

/// Asserts that `output` succeeded and printed a search answer of exactly one feature.
fn one_feature(output: &std::process::Output) {
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        stdout_json(output)["features"].as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn version_and_every_group_help_exit_zero() {
    let s = setup();
    s.bare().arg("--version").assert().success();
    let mut groups: Vec<&str> = geopera_types::operations::ALL
        .iter()
        .filter(|info| !info.is_admin())
        .map(|info| info.id.split('.').next().unwrap_or_default())
        .collect();
    groups.dedup();
    assert!(groups.len() > 20, "{groups:?}");
    for group in groups {
        let name = group.replace('_', "-");
        let output = s
            .bare()
            .args([name.as_str(), "--help"])
            .output()
            .expect("geopera runs");
        assert!(output.status.success(), "{name} --help: {output:?}");
    }
    // A group without a subcommand shows its help too.
    s.bare().arg("orders").assert().success();
}

#[test]
fn a_string_flag_calls_the_operation_and_prints_json() {
    let s = setup();
    let output = s
        .cli()
        .args([
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--limit",
            "2",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let answer = stdout_json(&output);
    assert_eq!(answer["features"].as_array().map(Vec::len), Some(2));
    assert!(
        text(&output.stdout).contains("\n  \"features\": ["),
        "two-space indent"
    );
}

#[test]
fn an_integer_out_of_range_is_a_usage_error_naming_the_flag() {
    let s = setup();
    let output = s
        .cli()
        .args(["catalog", "search", "--host-name", "x", "--limit", "0"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--limit"),
        "{}",
        text(&output.stderr)
    );
    let output = s
        .cli()
        .args(["catalog", "search", "--host-name", "x", "--limit", "many"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(s.emulator.executed("catalog.search"), 0, "nothing was sent");
}

#[test]
fn booleans_arrays_and_global_options_after_the_subcommand() {
    let s = setup();
    let output = s
        .cli()
        .args(["catalog", "search", "--host-name", "h", "--no-full-catalog"])
        .args([
            "--collections",
            "a",
            "--collections",
            "b",
            "--bbox",
            "1.5",
            "--bbox",
            "-2",
        ])
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (_, body) = dry_run(&output);
    assert_eq!(body["full_catalog"], Value::Bool(false));
    assert_eq!(body["collections"], serde_json::json!(["a", "b"]));
    assert_eq!(body["bbox"], serde_json::json!([1.5, -2]));
    assert!(
        !text(&output.stdout).contains(s.emulator.api_key()),
        "the key is redacted"
    );
}

#[test]
fn an_enum_value_outside_the_choices_is_a_usage_error() {
    let s = setup();
    let output = s
        .cli()
        .args([
            "items",
            "update",
            "--item-id",
            "i",
            "--lifecycle-state",
            "bogus",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--lifecycle-state") && stderr.contains("archived"),
        "{stderr}"
    );
}

#[test]
fn a_missing_required_flag_is_a_usage_error_unless_json_carries_it() {
    let s = setup();
    let output = s
        .cli()
        .args(["catalog", "search"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--host-name"));
    s.cli()
        .args(["catalog", "search", "--limit", "1"])
        .args(["--json", r#"{"host_name": "earthsearch-aws"}"#])
        .assert()
        .success();
}

/// A text field's value may start with `-`, as in the official CLI: the word after the flag
/// is its value. `--formula -b1` was refused as unknown flags, and `--formula -h` printed
/// help and exited 0 with nothing sent, which a script read as success. A word that starts
/// with `--` is still an option: a text field left without its value before `--dry-run`
/// is a usage error, and nothing is sent.
#[test]
fn a_text_field_value_may_start_with_a_dash() {
    let s = setup();
    for formula in ["-b1", "-(b1-b2)", "-h", "-"] {
        let output = s
            .cli()
            .args([
                "analytics",
                "validate-formula",
                "--dry-run",
                "--sensor",
                "s2",
            ])
            .args(["--formula", formula])
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{formula}: {}",
            text(&output.stderr)
        );
        let (_, body) = dry_run(&output);
        assert_eq!(body["formula"], formula);
    }
    let output = s
        .cli()
        .args(["projects", "create", "--name", "--dry-run"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert_eq!(
        s.emulator.executed("projects.create"),
        0,
        "nothing was sent"
    );
}

#[test]
fn json_from_a_string_a_file_and_stdin_with_flags_overriding() {
    let s = setup();
    let output = s
        .cli()
        .args(["catalog", "search", "--dry-run", "--limit", "3"])
        .args([
            "--json",
            r#"{"host_name": "from-json", "limit": 9, "query": {"eo:cloud_cover": {"lt": 5}}}"#,
        ])
        .output()
        .expect("geopera runs");
    let (_, body) = dry_run(&output);
    assert_eq!(body["host_name"], "from-json");
    assert_eq!(body["limit"], 3, "the flag wins over the JSON member");
    assert_eq!(body["query"]["eo:cloud_cover"]["lt"], 5);

    let file = s.home.path().join("body.json");
    std::fs::write(&file, r#"{"host_name": "from-file"}"#).expect("test step");
    let output = s
        .cli()
        .args(["catalog", "search", "--dry-run", "--json"])
        .arg(format!("@{}", file.display()))
        .output()
        .expect("geopera runs");
    assert_eq!(dry_run(&output).1["host_name"], "from-file");

    let output = s
        .cli()
        .args(["catalog", "search", "--dry-run", "--json", "-"])
        .write_stdin(r#"{"host_name": "from-stdin"}"#)
        .output()
        .expect("geopera runs");
    assert_eq!(dry_run(&output).1["host_name"], "from-stdin");

    let output = s
        .cli()
        .args(["catalog", "search", "--json", "[1]"])
        .output()
        .expect("geopera runs");
    assert_eq!(
        output.status.code(),
        Some(1),
        "a --json that is not an object"
    );
}

/// A body file an editor on Windows saved begins with a UTF-8 byte-order mark: it is read as
/// the JSON after it, from a file, from stdin and through `op`, where JSON parsers refuse it
/// with "expected value at line 1 column 1". A mark anywhere else is a character like any other.
#[test]
fn a_body_that_begins_with_a_byte_order_mark_is_read_as_the_json_after_it() {
    let s = setup();
    let file = s.home.path().join("bom.json");
    std::fs::write(&file, "\u{feff}{\"host_name\": \"from-file\"}").expect("test step");
    let output = s
        .cli()
        .args(["catalog", "search", "--dry-run", "--json"])
        .arg(format!("@{}", file.display()))
        .output()
        .expect("geopera runs");
    assert_eq!(dry_run(&output).1["host_name"], "from-file");

    let output = s
        .cli()
        .args(["catalog", "search", "--dry-run", "--json", "-"])
        .write_stdin("\u{feff}{\"host_name\": \"from-stdin\"}")
        .output()
        .expect("geopera runs");
    assert_eq!(dry_run(&output).1["host_name"], "from-stdin");

    s.cli()
        .args(["op", "catalog.search", "--file"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(s.emulator.executed("catalog.search"), 1);

    // Two marks: the second is inside the text, which is then not JSON.
    std::fs::write(&file, "\u{feff}\u{feff}{}").expect("test step");
    let output = s
        .cli()
        .args(["catalog", "search", "--host-name", "h", "--json"])
        .arg(format!("@{}", file.display()))
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        s.emulator.executed("catalog.search"),
        1,
        "nothing more was sent"
    );
}

#[test]
fn a_body_keeps_the_users_key_order_and_flags_only_add_keys_in_schema_order() {
    let s = setup();
    let (sent, bodies) = std::sync::mpsc::channel::<Vec<u8>>();
    let url = test_server(2, move |body| {
        let _ = sent.send(body.to_vec());
        (200, "{}".to_owned())
    });
    // `limit` is overridden in its place; `ids`, `full_catalog` and `next` are given by flags
    // only, in another order than the schema's, and come after the user's keys in its order.
    let leaf = [
        "catalog",
        "search",
        "--json",
        r#"{"limit":5,"host_name":"e","bbox":[1,2,3,4],"query":{"z":{"lt":1},"a":{"gt":2}}}"#,
        "--next",
        "c",
        "--limit",
        "7",
        "--full-catalog",
        "--ids",
        "a",
    ];
    let expected = r#"{"limit":7,"host_name":"e","bbox":[1,2,3,4],"query":{"z":{"lt":1},"a":{"gt":2}},"ids":["a"],"full_catalog":true,"next":"c"}"#;
    // `op` sends its body as written.
    let op = [
        "op",
        "catalog.search",
        r#"{"limit":5,"host_name":"e","bbox":[1,2,3,4]}"#,
    ];
    let op_expected = r#"{"limit":5,"host_name":"e","bbox":[1,2,3,4]}"#;
    for (args, expected) in [(&leaf[..], expected), (&op[..], op_expected)] {
        let output = s.against(&url).args(args).output().expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let body = bodies
            .recv_timeout(Duration::from_secs(30))
            .expect("the server got a request");
        assert_eq!(text(&body), expected, "sent by {args:?}");

        let output = s
            .against(&url)
            .args(args)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let out = text(&output.stdout);
        let (_, shown) = out.split_once("\n\n").expect("headers, blank line, body");
        let shown: String = shown.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(shown, expected, "--dry-run of {args:?} shows what is sent");
    }
}

#[test]
fn the_api_url_comes_from_the_flag_then_env_then_profile_then_default() {
    let s = setup();
    let first_line = |command: &mut Command| {
        let output = command
            .args(["orders", "get", "--order-id", "o", "--dry-run"])
            .output()
            .expect("geopera runs");
        assert!(output.status.success(), "{}", text(&output.stderr));
        dry_run(&output).0
    };
    assert_eq!(
        first_line(&mut s.bare()),
        "POST https://api.geopera.com/v1/op/orders.get"
    );
    s.store_credentials(
        r#"{"default": {"api_url": "http://profile.example/"}, "other": {"api_url": "http://other.example"}}"#,
    );
    assert_eq!(
        first_line(&mut s.bare()),
        "POST http://profile.example/v1/op/orders.get"
    );
    assert_eq!(
        first_line(s.bare().env("GEOPERA_PROFILE", "other")),
        "POST http://other.example/v1/op/orders.get"
    );
    assert_eq!(
        first_line(s.bare().env("GEOPERA_API_URL", "http://env.example//")),
        "POST http://env.example/v1/op/orders.get"
    );
    assert_eq!(
        first_line(
            s.bare()
                .env("GEOPERA_API_URL", "http://env.example")
                .args(["--api-url", "http://flag.example/"])
        ),
        "POST http://flag.example/v1/op/orders.get"
    );
    // Before the subcommand works as well as after it.
    let output = s
        .bare()
        .args([
            "--api-url",
            "http://before.example",
            "orders",
            "get",
            "--order-id",
            "o",
            "--dry-run",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(
        dry_run(&output).0,
        "POST http://before.example/v1/op/orders.get"
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("test step")
        .permissions()
        .mode()
        & 0o777
}

/// `geopera login` with the emulator's demo key, read from stdin, for the emulator's URL.
fn login_with_the_demo_key(s: &Setup) -> std::process::Output {
    let output = s
        .bare()
        .args([
            "login",
            "--api-url",
            &s.emulator.base_url(),
            "--api-key",
            "-",
        ])
        .write_stdin(format!("{}\n", s.emulator.api_key()))
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    output
}

#[test]
fn login_with_an_api_key_whoami_a_call_and_logout() {
    let s = setup();
    let url = s.emulator.base_url();
    let output = login_with_the_demo_key(&s);
    assert!(text(&output.stdout).starts_with("Logged in as "));

    let raw = std::fs::read_to_string(s.credentials_path()).expect("test step");
    assert!(raw.ends_with("}\n"), "a trailing newline");
    assert_eq!(
        s.credentials(),
        serde_json::json!({"default": {"api_url": url, "auth": {"type": "api_key", "api_key": s.emulator.api_key()}}})
    );
    assert!(
        raw.find("\"api_url\"") < raw.find("\"auth\""),
        "sorted keys"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&s.credentials_path()), 0o600);
        assert_eq!(
            mode(s.credentials_path().parent().expect("test step")),
            0o700
        );
    }

    // The stored key is used, and the stored URL.
    s.bare()
        .args(["orders", "list", "--size", "1"])
        .assert()
        .success();
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let who = text(&output.stdout);
    assert!(who.contains("api_url:") && who.contains(&url), "{who}");
    assert_eq!(who.lines().count(), 6);
    let output = s
        .bare()
        .args(["whoami", "--json"])
        .output()
        .expect("geopera runs");
    assert!(stdout_json(&output)["sub"].is_string());

    s.bare().arg("logout").assert().success();
    assert_eq!(
        s.credentials(),
        serde_json::json!({"default": {"api_url": url}})
    );
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "not signed in");
}

/// Runs `command` (advice a message gave, with what the test adds) in a POSIX shell as a user
/// would paste it, with `geopera` on the `PATH`, the test's home and the emulator's key on
/// stdin; the shell's `URL` is the emulator's.
fn run_in_shell(s: &Setup, command: &str) -> std::process::Output {
    let bin_dir = Path::new(BIN).parent().expect("the binary's folder");
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("a PATH");
    std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .env("HOME", s.home.path())
        .env("PATH", &path)
        .env("URL", s.emulator.base_url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                writeln!(stdin, "{}", s.emulator.api_key())?;
            }
            child.wait_with_output()
        })
        .expect("sh runs")
}

/// A command of a profile with no credentials advises the login of that profile: a bare
/// `geopera login` signs in to `default`, where the failing command never looks. The advice,
/// run by a POSIX shell as written, signs in to the right profile whatever its name.
#[test]
fn no_credentials_advises_the_login_of_the_profile_that_has_none() {
    let s = setup();
    for (profile, advice) in [
        ("default", "geopera login".to_owned()),
        ("work", "geopera login --profile work".to_owned()),
        (
            "-it's mine",
            r"geopera login --profile='-it'\''s mine'".to_owned(),
        ),
    ] {
        let list = || {
            s.bare()
                .env("GEOPERA_API_URL", s.emulator.base_url())
                .arg(format!("--profile={profile}"))
                .args(["orders", "list", "--size", "1"])
                .output()
                .expect("geopera runs")
        };
        let output = list();
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("run '{advice}' or set")),
            "{stderr}"
        );

        let login = run_in_shell(&s, &format!("{advice} --api-url \"$URL\" --api-key -"));
        assert_eq!(login.status.code(), Some(0), "{}", text(&login.stderr));
        let output = list();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    assert!(s.credentials()["-it's mine"]["auth"].is_object());
}

/// An operation that needs no credentials (`webhooks.drain`) runs where nothing is signed
/// in, as the API takes it, and its dry run does not say credentials are missing; one that
/// needs them still says how to sign in.
#[test]
fn an_operation_that_needs_no_credentials_runs_signed_out() {
    let s = setup();
    let url = s.emulator.base_url();
    let drained = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .args(["op", "webhooks.drain", "{}"])
        .output()
        .expect("geopera runs");
    assert_eq!(drained.status.code(), Some(0), "{}", text(&drained.stderr));
    assert!(
        stdout_json(&drained)["remaining"].is_number(),
        "{}",
        text(&drained.stdout)
    );
    assert_eq!(s.emulator.executed("webhooks.drain"), 1);
    let plan = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .args(["op", "webhooks.drain", "{}", "--dry-run"])
        .output()
        .expect("geopera runs");
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(
        !text(&plan.stdout).contains("no credentials"),
        "{}",
        text(&plan.stdout)
    );
    let searched = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .args([
            "op",
            "catalog.search",
            r#"{"host_name": "earthsearch-aws"}"#,
        ])
        .output()
        .expect("geopera runs");
    fails_saying(&searched, 1, "run 'geopera login' or set", "a search");
    // A login stored for another server is neither read nor refused for it.
    s.store_credentials(
        &serde_json::json!({"default": {"api_url": "https://api.geopera.example", "auth": {
            "type": "api_key", "api_key": "gpra_of_another_server",
        }}})
        .to_string(),
    );
    let drained = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .args(["op", "webhooks.drain", "{}"])
        .output()
        .expect("geopera runs");
    assert_eq!(drained.status.code(), Some(0), "{}", text(&drained.stderr));
    assert_eq!(s.emulator.executed("webhooks.drain"), 2);
}

/// Advice to sign in repeats an `--api-url` given on the command line: without it the login
/// would go to the public API. Run as written, it signs in to the server the command named.
#[test]
fn the_advised_login_keeps_the_api_url_of_the_command_line() {
    let s = setup();
    let url = s.emulator.base_url();
    let output = s
        .bare()
        .args(["--api-url", &url, "orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    let advice = format!("geopera login --api-url {url}");
    fails_saying(
        &output,
        1,
        &format!("run '{advice}' or set"),
        "no credentials",
    );
    // From the environment, the URL is found there again.
    let output = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    fails_saying(
        &output,
        1,
        "run 'geopera login' or set",
        "from the environment",
    );

    let login = run_in_shell(&s, &format!("{advice} --api-key -"));
    assert_eq!(login.status.code(), Some(0), "{}", text(&login.stderr));
    assert_eq!(s.credentials()["default"]["api_url"], url.as_str());
}

/// `whoami` with a `GEOPERA_API_TOKEN` the API refuses says so, rather than advising a login,
/// which would change nothing while the variable is set; a credentials failure, it exits 1,
/// as a login whose key is refused does.
#[test]
fn whoami_with_a_refused_token_in_the_environment_names_the_variable() {
    let s = setup();
    let output = s
        .cli()
        .env("GEOPERA_API_TOKEN", "gpra_wrongkey0000")
        .arg("whoami")
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "GEOPERA_API_TOKEN was refused", "whoami");
    assert!(!stderr.contains("geopera login"), "{stderr}");
}

/// An operation called with a session token in `GEOPERA_API_TOKEN` that the API refuses (an
/// expired one) ends as a credentials failure naming the variable, exit 1, as the official
/// CLI ends it (no refresh token is stored for it) and as `whoami` does; it ended as the
/// API's error, `[401] Unauthenticated`, exit 2, naming no credential. An API key refused
/// stays the API's error, as there.
#[test]
fn an_operation_with_a_refused_session_token_in_the_environment_names_the_variable() {
    let s = setup();
    let output = s
        .cli()
        .env("GEOPERA_API_TOKEN", "an.expired.session-token")
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "GEOPERA_API_TOKEN was refused", "orders list");
    assert!(!stderr.contains("geopera login"), "{stderr}");
    assert_eq!(s.emulator.executed("orders.list"), 0, "nothing ran");

    let output = s
        .cli()
        .env("GEOPERA_API_TOKEN", "gpra_wrongkey0000")
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

/// A credential the identity provider refuses for what it may see (403 `insufficient_scope`,
/// as for a session signed in without `openid`) is a credentials failure, exit 1, for
/// `whoami` and for `login --api-key`, which stores nothing; a provider failing to answer is
/// an API error, exit 2.
#[test]
fn a_userinfo_refusal_is_a_credentials_failure_and_an_outage_an_api_error() {
    let s = setup();
    for (status, code) in [(403, 1), (503, 2)] {
        let url = canned_server(status, r#"{"error": "insufficient_scope"}"#.to_owned(), 2);
        let output = s
            .against(&url)
            .arg("whoami")
            .output()
            .expect("geopera runs");
        fails_saying(&output, code, &status.to_string(), "whoami");
        let output = s
            .bare()
            .args([
                "login",
                "--api-key",
                "gpra_refused_for_scope",
                "--api-url",
                &url,
            ])
            .output()
            .expect("geopera runs");
        fails_saying(&output, code, &status.to_string(), "login");
        assert!(
            !s.credentials_path().exists(),
            "{status}: nothing is stored"
        );
    }
}

/// A profile name with a line break in it (`GEOPERA_PROFILE` read from a file with two lines)
/// is quoted escaped in every message that names it, each message on one `Error:` line, and
/// the advised login names the profile `NAME` rather than a command that would sign in to
/// another one.
#[test]
fn a_profile_name_with_a_line_break_keeps_each_error_on_one_line() {
    let s = setup();
    let one_error = |output: std::process::Output, what: &str| {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(
            stderr.contains(r"profile 'work\u{a}Error: forged'"),
            "{stderr}"
        );
        assert!(stderr.contains(what), "{stderr}");
    };
    let profile = "work\nError: forged";
    let whoami = || {
        s.bare()
            .env("GEOPERA_API_URL", s.emulator.base_url())
            .env("GEOPERA_PROFILE", profile)
            .arg("whoami")
            .output()
            .expect("geopera runs")
    };
    one_error(whoami(), "run 'geopera login --profile=NAME' or set");
    // Stored for another server.
    let stored = serde_json::json!({profile: {
        "api_url": "http://127.0.0.1:9",
        "auth": {"type": "api_key", "api_key": s.emulator.api_key()},
    }});
    s.store_credentials(&stored.to_string());
    one_error(whoami(), "are for http://127.0.0.1:9");
    // A member of the profile that does not read.
    s.store_credentials(&serde_json::json!({profile: {"api_url": 5}}).to_string());
    one_error(whoami(), "api_url must be a string");
}

/// `GEOPERA_API_TOKEN` wins over the stored credentials, so a login or a logout with it set
/// changes nothing for the commands after it: each says so on stderr, beside its usual line.
#[test]
fn login_and_logout_warn_that_the_token_in_the_environment_still_wins() {
    let s = setup();
    let warned = |output: &std::process::Output| {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stderr).contains("Warning: GEOPERA_API_TOKEN is set: commands use it")
    };
    let output = login_with_the_demo_key(&s);
    assert!(!warned(&output), "{}", text(&output.stderr));
    let output = s.cli().arg("logout").output().expect("geopera runs");
    assert!(text(&output.stdout).starts_with("Logged out"));
    assert!(warned(&output), "{}", text(&output.stderr));
    // Nothing stored: still the same warning, as the commands still work.
    let output = s.cli().arg("logout").output().expect("geopera runs");
    assert!(text(&output.stdout).starts_with("No stored credentials"));
    assert!(warned(&output), "{}", text(&output.stderr));
    let output = s.bare().arg("logout").output().expect("geopera runs");
    assert!(!warned(&output), "{}", text(&output.stderr));

    let output = s
        .cli()
        .args(["login", "--api-key", "-"])
        .write_stdin(format!("{}\n", s.emulator.api_key()))
        .output()
        .expect("geopera runs");
    assert!(text(&output.stdout).starts_with("Logged in as "));
    assert!(warned(&output), "{}", text(&output.stderr));
    assert!(
        !text(&output.stderr).contains(s.emulator.api_key()),
        "the warning names the variable, never its value"
    );
}

/// `--scope` and `--no-browser` shape the browser sign-in only: beside `--api-key` they were
/// ignored, and the key was stored with every permission it has while the user believed it
/// narrowed to the scopes asked for.
#[test]
fn login_with_an_api_key_refuses_the_browser_sign_in_options_and_stores_nothing() {
    let s = setup();
    let url = s.emulator.base_url();
    let key = s.emulator.api_key();
    for options in [
        &["--scope", "catalog:read"][..],
        &["--no-browser"][..],
        &["--scope", "catalog:read", "--no-browser"][..],
    ] {
        for given in [key, "-"] {
            let output = s
                .bare()
                .args(["login", "--api-url", &url, "--api-key", given])
                .args(options)
                .write_stdin(format!("{key}\n"))
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, "--api-key", (options, given));
            assert!(stderr.contains(options[0]), "{options:?}: {stderr}");
            assert!(!stderr.contains(key), "the key is never printed: {stderr}");
            assert!(output.stdout.is_empty(), "{options:?}: {output:?}");
            assert!(!s.credentials_path().exists(), "{options:?}: stored");
        }
    }
}

#[test]
fn a_refused_api_key_is_not_saved_and_an_unparsable_file_is_an_error() {
    let s = setup();
    let output = s
        .bare()
        .args([
            "login",
            "--api-url",
            &s.emulator.base_url(),
            "--api-key",
            "gpra_wrong",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(!s.credentials_path().exists());

    s.store_credentials("{not json");
    let output = s
        .bare()
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("not valid JSON"));
    assert_eq!(
        std::fs::read_to_string(s.credentials_path()).expect("test step"),
        "{not json",
        "left as it was"
    );
}

#[test]
fn a_stored_credential_of_the_wrong_shape_is_named_and_logout_clears_it() {
    let s = setup();
    let url = s.emulator.base_url();
    // A key stored as a number: before, the profile read as signed out.
    let stored = serde_json::json!({
        "default": {"api_url": url, "auth": {"type": "api_key", "api_key": 7}},
        "other": {"api_url": url, "auth": {"type": "client_secret", "secret": "s"}},
    });
    s.store_credentials(&stored.to_string());
    let output = s
        .bare()
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("profile 'default': auth.api_key must be a string"),
        "{stderr}"
    );
    assert!(!stderr.contains("no credentials"), "{stderr}");
    let output = s
        .bare()
        .args(["whoami", "--profile", "other"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("auth.type must be \"oauth\" or \"api_key\""),
        "{stderr}"
    );
    assert_eq!(s.credentials(), stored, "nothing is rewritten by a read");

    // Logging out forgets what does not read, keeps the URL and the other profile.
    let output = s.bare().arg("logout").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("auth.api_key must be a string"));
    assert_eq!(
        s.credentials()["default"],
        serde_json::json!({"api_url": url})
    );
    assert_eq!(s.credentials()["other"], stored["other"]);

    // An unreadable URL names the login that replaces it.
    s.store_credentials(r#"{"default": {"api_url": 5}}"#);
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("api_url must be a string") && stderr.contains("login --api-url"),
        "{stderr}"
    );
}

/// A credential no request header can carry is a credential failure (exit 1) that names where
/// it came from, before anything is sent, and never quotes it. Before, it was refused as a
/// client setting (exit 2), and `whoami` reported the server as unreachable.
#[test]
fn a_credential_no_header_can_carry_is_named_by_its_source_and_nothing_is_sent() {
    let s = setup();
    let url = s.emulator.base_url();
    let stored_key = |key: &str| {
        serde_json::json!({"default": {"api_url": url, "auth": {"type": "api_key", "api_key": key}}})
            .to_string()
    };
    let check = |output: std::process::Output, source: &str, why: &str| {
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(source) && stderr.contains(why), "{stderr}");
        assert!(!stderr.contains("SECRET"), "{stderr}");
        assert!(!stderr.contains("could not reach"), "{stderr}");
        assert!(output.stdout.is_empty());
    };
    for (key, why) in [
        ("gpra_SECRET\nX", "no key or token has"),
        ("gpra_SECRET\u{7f}", "no key or token has"),
        ("gpra_SECRET\u{e9}", "no key or token has"),
        ("gpra_SECRET X", "no key or token has"),
        ("  ", "is blank"),
    ] {
        s.store_credentials(&stored_key(key));
        for command in [&["orders", "list"][..], &["whoami"], &["op", "orders.list"]] {
            let output = s.bare().args(command).output().expect("geopera runs");
            check(output, "stored credential of profile 'default'", why);
        }
    }
    s.store_credentials(&format!(
        r#"{{"default": {{"api_url": "{url}", "auth": {{"type": "oauth", "access_token": "SECRET\r", "refresh_token": "rt", "expires_at": null, "scope": "openid", "issuer": "{url}"}}}}}}"#
    ));
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    check(
        output,
        "stored credential of profile 'default'",
        "no key or token has",
    );

    let output = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .env("GEOPERA_API_TOKEN", "SECRET\u{1}")
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    check(output, "GEOPERA_API_TOKEN", "no key or token has");

    // A key given to `login` is a value of the command line: a usage error, nothing saved.
    std::fs::remove_file(s.credentials_path()).expect("test step");
    let output = s
        .bare()
        .args(["login", "--api-url", &url, "--api-key", "-"])
        .write_stdin("gpra_SECRET\u{1b}[2J\n")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no key or token has"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");
    assert!(!s.credentials_path().exists(), "nothing saved");
}

#[test]
fn exit_codes_for_api_errors_usage_errors_and_network_failures() {
    let s = setup();
    let output = s
        .cli()
        .args(["orders", "get", "--order-id", "ord_missing"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("Error: [404] "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);

    let output = s
        .cli()
        .args(["orders", "no-such-command"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    let output = s
        .cli()
        .args(["orders", "list", "--no-such-flag"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test step");
        listener.local_addr().expect("test step").port()
    };
    let output = s
        .cli()
        .args([
            "--api-url",
            &format!("http://127.0.0.1:{closed}"),
            "orders",
            "list",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("Error: could not reach"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, no trace");
}

#[test]
fn a_validation_answer_prints_one_line_per_field() {
    let s = setup();
    let output = s
        .cli()
        .args(["op", "catalog.search", "{}"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "Error: [422] body.host_name: Field required\n"
    );
}

#[test]
fn members_an_operation_does_not_declare_are_sent_with_a_warning_naming_them() {
    let s = setup();
    let leaf = s
        .cli()
        .args(SEARCH_ONE)
        .args(["--json", r#"{"colections": ["sentinel-2-l2a"]}"#])
        .output()
        .expect("geopera runs");
    let op = s
        .cli()
        .args(["op", "catalog.search"])
        .arg(r#"{"host_name": "earthsearch-aws", "limt": 1, "query": {"eo:cloud_cover": {"lte": 5}}}"#)
        .output()
        .expect("geopera runs");
    for (output, named) in [
        (
            &leaf,
            "body.colections; the API ignores what it does not declare, so it is sent",
        ),
        (
            &op,
            "body.limt, body.query.eo:cloud_cover.lte; the API ignores",
        ),
    ] {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with("Warning: catalog.search does not declare "),
            "{stderr}"
        );
        assert!(stderr.contains(named), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let declared = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    assert_eq!(text(&declared.stderr), "", "nothing to warn of");
}

#[test]
fn an_unreachable_proxy_is_named_as_what_could_not_be_reached() {
    let s = setup();
    // Port 9 (discard) has no listener here: the proxy refuses the connection.
    let proxy = "http://someone:proxy-password@127.0.0.1:9";
    let output = s
        .cli()
        .env("HTTP_PROXY", proxy)
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("through the proxy http://127.0.0.1:9 (from HTTP_PROXY"),
        "{stderr}"
    );
    assert!(!stderr.contains("proxy-password"), "{stderr}");
    // The SDK's warning that the credential would go in clear text to that proxy is said,
    // once, as this program's own warnings are.
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("Warning:") && line.contains("clear text to the proxy"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains("HTTP_PROXY"), "{stderr}");
    assert_eq!(s.emulator.executed("catalog.search"), 0);
    // Where NO_PROXY exempts the API, the call goes straight to it.
    let exempt = s
        .cli()
        .env("HTTP_PROXY", proxy)
        .env("NO_PROXY", "127.0.0.1")
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(exempt.status.code(), Some(0), "{}", text(&exempt.stderr));
    assert_eq!(text(&exempt.stderr), "", "nothing to warn of");
    // A proxy variable that is no URL (a password with a space, a port past 65535) is refused
    // as a client that cannot be set up (exit 2), named, its value not shown, rather than
    // passed over with the call sent around it.
    for broken in [
        "http://someone:proxy password@127.0.0.1:9",
        "http://127.0.0.1:99999",
    ] {
        let output = s
            .cli()
            .env("HTTP_PROXY", broken)
            .args(SEARCH_ONE)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, "the proxy variable HTTP_PROXY", broken);
        assert!(!stderr.contains(broken), "{stderr}");
    }
    assert_eq!(
        s.emulator.executed("catalog.search"),
        1,
        "only the exempt call"
    );
}

#[test]
fn stac_search_works() {
    let s = setup();
    let output = s
        .cli()
        .args(["stac", "search", "--limit", "1"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout_json(&output).is_object());
    s.cli()
        .args(["stac", "search", "--help"])
        .assert()
        .success();
}

#[test]
fn a_body_a_json_value_would_change_is_refused_and_not_sent() {
    let s = setup();
    let cases = [
        (
            r#"{"name":"a","name":"b"}"#,
            r#"the body repeats the key "name" at /"#,
        ),
        (
            r#"{"name":"a","big":12345678901234567890123}"#,
            "the number 12345678901234567890123 at /big cannot be sent exactly (beyond 64-bit \
             integers)",
        ),
        (
            r#"{"name":"a","tiny":[1e-400]}"#,
            "the number 1e-400 at /tiny/0 cannot be sent exactly (too small to be told from 0)",
        ),
    ];
    for (body, said) in cases {
        for dry in [false, true] {
            for way in 0..3 {
                let mut run = s.cli();
                match way {
                    0 => run.args(["op", "projects.create", body]),
                    1 => run.args(["projects", "create", "--json", body]),
                    _ => run
                        .args(["projects", "create", "--json", "-"])
                        .write_stdin(body),
                };
                if dry {
                    run.arg("--dry-run");
                }
                let output = run.output().expect("geopera runs");
                fails_saying(&output, 1, said, (body, dry));
                assert!(output.stdout.is_empty(), "{body} {dry}");
            }
        }
    }
    assert_eq!(
        s.emulator.executed("projects.create"),
        0,
        "nothing was sent"
    );
    // What a `Value` keeps exactly still goes.
    let output = s
        .cli()
        .args([
            "op",
            "projects.create",
            r#"{"name":"n","x":[1.5,18446744073709551615]}"#,
            "--dry-run",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn op_calls_any_operation_and_lists_them() {
    let s = setup();
    let output = s
        .cli()
        .args([
            "op",
            "catalog.search",
            r#"{"host_name": "earthsearch-aws", "limit": 1}"#,
        ])
        .output()
        .expect("geopera runs");
    one_feature(&output);

    let output = s
        .cli()
        .args(["op", "orders.list", "-"])
        .write_stdin(r#"{"size": 2}"#)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let output = s
        .bare()
        .args(["op", "--list"])
        .output()
        .expect("geopera runs");
    assert!(output.status.success());
    let ids = text(&output.stdout);
    assert_eq!(ids.lines().count(), geopera_types::operations::ALL.len());
    assert!(
        ids.lines().any(|id| id == "webhooks.drain"),
        "admin ids included"
    );

    let output = s.cli().arg("op").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
}

/// Signs the default profile in to `s`'s emulator by the device flow, as `geopera login
/// --no-browser` does, approved as the emulator's admin user.
fn log_in_by_device(s: &Setup) {
    let url = s.emulator.base_url();
    let mut child = std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .args(["login", "--no-browser", "--api-url", url.as_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("test step");
    let stdout = child.stdout.take().expect("test step");
    let mut lines = BufReader::new(stdout).lines();
    let mut code = None;
    let mut after_code_label = false;
    for line in lines.by_ref().take(20) {
        let line = line.expect("test step");
        if after_code_label && !line.trim().is_empty() {
            code = Some(line.trim().to_owned());
            break;
        }
        after_code_label = line.contains("code:");
    }
    let code = code.expect("the CLI printed a user code");
    assert_eq!(s.emulator.approve_device(&code, "admin"), Ok(true));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("test step");
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("Logged in as ")),
        "{rest:?}"
    );
}

#[test]
fn device_login_then_refresh_after_expiry() {
    let s = setup();
    let url = s.emulator.base_url();
    log_in_by_device(&s);

    let auth = s.credentials()["default"]["auth"].clone();
    assert_eq!(auth["type"], "oauth");
    assert!(auth["expires_at"].is_f64());
    assert_eq!(auth["issuer"], url.as_str());
    let first_refresh = refresh_token_in(&auth);

    // Make the stored session look expired: the next call refreshes it first and stores the
    // rotated tokens.
    let mut all = s.credentials();
    all["default"]["auth"]["expires_at"] = serde_json::json!(1.0);
    let mut file = std::fs::File::create(s.credentials_path()).expect("test step");
    file.write_all(all.to_string().as_bytes())
        .expect("test step");
    drop(file);
    let output = s
        .bare()
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let auth = s.credentials()["default"]["auth"].clone();
    assert_ne!(auth["refresh_token"].as_str(), Some(first_refresh.as_str()));
    assert!(auth["expires_at"].as_f64().expect("test step") > 1.0);

    // The emulator's clock moves past the access token's life: the 401 makes the CLI
    // refresh once and try again.
    let second_refresh = refresh_token_in(&auth);
    s.emulator.clock().advance(Duration::from_secs(600));
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let auth = s.credentials()["default"]["auth"].clone();
    assert_ne!(
        auth["refresh_token"].as_str(),
        Some(second_refresh.as_str())
    );

    s.emulator.clock().advance(Duration::from_secs(600));
    let output = s
        .bare()
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // Two commands that find the session expired at the same moment: the file lock lets one
    // refresh while the other waits and then uses the rotated tokens, so neither spends a
    // refresh token the other already rotated.
    let expire = || {
        let mut all = s.credentials();
        all["default"]["auth"]["expires_at"] = serde_json::json!(1.0);
        std::fs::write(s.credentials_path(), all.to_string()).expect("test step");
    };
    expire();
    let racers = three_listing_at_once(&s);
    for racer in racers {
        let output = racer.wait_with_output().expect("geopera ends");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    expire();
    let output = s
        .bare()
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "the stored refresh token is still valid: {}",
        text(&output.stderr)
    );
    s.bare().arg("logout").assert().success();
    assert_eq!(
        s.credentials(),
        serde_json::json!({"default": {"api_url": url}})
    );
}

#[test]
fn all_walks_every_page_as_ndjson() {
    let s = setup();
    let output = s
        .cli()
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    let total = stdout_json(&output)["totalElements"]
        .as_u64()
        .expect("a total");
    assert!(total > 20, "several pages: {total}");
    let output = s
        .cli()
        .args(["orders", "list", "--size", "20", "--all"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = text(&output.stdout);
    assert_eq!(lines.lines().count() as u64, total);
    let mut ids = std::collections::HashSet::new();
    for line in lines.lines() {
        let order: Value = serde_json::from_str(line).expect("one JSON document per line");
        ids.insert(order["orderId"].as_str().expect("an id").to_owned());
    }
    assert_eq!(ids.len() as u64, total, "no page twice");
    // Operations without pages have no --all.
    let output = s
        .cli()
        .args(["orders", "get", "--order-id", "x", "--all"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn all_refuses_table_and_yaml_and_sends_nothing() {
    let s = setup();
    let before = s.emulator.requests().len();
    // One key names one request body; a walk sends one a page.
    for run in [
        &["orders", "list", "--all", "--idempotency-key", "k-1"][..],
        &[
            "orders",
            "list",
            "--all",
            "--idempotency-key",
            "k-1",
            "--dry-run",
        ],
    ] {
        let output = s.cli().args(run).output().expect("geopera runs");
        let stderr = fails_saying(&output, 2, "--idempotency-key", run);
        assert!(stderr.contains("--all"), "{run:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{run:?}");
    }
    for format in ["table", "yaml"] {
        for run in [
            &["orders", "list", "--size", "20", "--all", "-o", format][..],
            &["-o", format, "orders", "list", "--all", "--jq", ".orderId"][..],
        ] {
            let output = s.cli().args(run).output().expect("geopera runs");
            let stderr = fails_saying(&output, 2, &format!("-o {format}"), run);
            assert!(stderr.contains("--all"), "{run:?}: {stderr}");
            assert!(stderr.contains("nothing was sent"), "{run:?}: {stderr}");
            assert!(
                output.stdout.is_empty(),
                "{run:?}: {}",
                text(&output.stdout)
            );
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    // JSON and NDJSON are the lines --all prints, and stay accepted.
    for format in ["json", "ndjson"] {
        let output = s
            .cli()
            .args(["orders", "list", "--size", "20", "--all", "-o", format])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(!output.stdout.is_empty());
    }
}

#[test]
fn orders_wait_ends_on_fulfilled_or_fails_on_cancelled() {
    let s = setup();
    let output = s
        .cli()
        .args(["orders", "list", "--size", "100", "--all"])
        .output()
        .expect("geopera runs");
    let orders: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    let with_status = |status: &str| {
        orders
            .iter()
            .find(|o| o["status"] == status)
            .and_then(|o| o["orderId"].as_str())
            .expect("such an order")
            .to_owned()
    };
    let output = s
        .cli()
        .args(["orders", "wait", &with_status("fulfilled")])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output)["status"], "fulfilled");
    let output = s
        .cli()
        .args(["orders", "wait", &with_status("cancelled")])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("cancelled"));
    // The order is printed as it ended, before the failure is reported.
    assert_eq!(stdout_json(&output)["status"], "cancelled");
    // Nobody reading that order does not make the wait a success.
    let cancelled = with_status("cancelled");
    let (status, stderr) = closed_early(&s, &["orders", "wait", &cancelled], 0);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    // Nor does a `--jq` program that halts before printing it.
    let output = s
        .cli()
        .args(["orders", "wait", &cancelled, "--jq", "halt"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    assert!(text(&output.stderr).contains("cancelled"));
    // A program that fails says so, and the order's end is still said.
    let output = s
        .cli()
        .args(["orders", "wait", &cancelled, "--jq", r#"error("no luck")"#])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no luck") && stderr.contains("cancelled"),
        "{stderr}"
    );
    let output = s
        .cli()
        .args(["orders", "wait", "ord_missing"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).starts_with("Error: [404] "));
}

/// An answer holding a lone surrogate's escape (`"\udce9"`, as Python writes a file name it
/// read leniently) is read by every output that builds a tree of it, the escape read as the
/// replacement character (`--all` still prints each item as it came): `--all`, `-o yaml`,
/// `-o table` and `--jq` failed on it, while `-o json` printed it.
#[test]
fn an_answer_with_a_lone_surrogate_is_read_by_every_output() {
    let s = setup();
    let order = r#"{"orderId":"ord_1","name":"scene_\udce9.tif","status":"fulfilled"}"#;
    let page =
        format!(r#"{{"content":[{order}],"totalElements":1,"totalPages":1,"number":0,"size":20}}"#);
    let runs: [(&[&str], String); 4] = [
        (&["orders", "list", "--size", "20", "--all"], page.clone()),
        (
            &["orders", "get", "--order-id", "ord_1", "-o", "yaml"],
            order.to_owned(),
        ),
        (
            &["orders", "get", "--order-id", "ord_1", "-o", "table"],
            order.to_owned(),
        ),
        (
            &["orders", "get", "--order-id", "ord_1", "--jq", ".name"],
            order.to_owned(),
        ),
    ];
    for (args, answer) in runs {
        let url = test_server(2, move |_| (200, answer.clone()));
        let output = s.against(&url).args(args).output().expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&output.stderr)
        );
        let printed = text(&output.stdout);
        // `--all` prints each item as it came; the others show the replacement character.
        let shown = if args.contains(&"--all") {
            "scene_\\udce9.tif"
        } else {
            "scene_\u{fffd}.tif"
        };
        assert!(printed.contains(shown), "{args:?}: {printed}");
    }
}

/// `geopera orders wait ord_42` against a server answering its polls with `answers` in turn,
/// the last one over and over, with how many requests it was sent.
fn orders_wait_answered(answers: &[&str]) -> (std::process::Output, usize) {
    let s = setup();
    let answers: Vec<String> = answers.iter().map(|a| (*a).to_owned()).collect();
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = polls.clone();
    let url = test_server(8, move |_| {
        let poll = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let last = answers.len().saturating_sub(1);
        (
            200,
            answers.get(poll.min(last)).cloned().unwrap_or_default(),
        )
    });
    let output = s
        .against(&url)
        .args(["orders", "wait", "ord_42", "--wait-timeout", "30"])
        .output()
        .expect("geopera runs");
    (output, polls.load(std::sync::atomic::Ordering::SeqCst))
}

#[test]
fn orders_wait_prints_the_answer_it_judged_and_reads_nothing_more() {
    let fulfilled = r#"{"orderId":"ord_42","status":"fulfilled","totalCredits":500,"x":1}"#;
    let cancelled = r#"{"orderId":"ord_42","status":"cancelled","totalCredits":500,"x":1}"#;
    let other = r#"{"orderId":"ord_EVIL","status":"fulfilled","totalCredits":1}"#;
    // The poll that saw the end is printed as the server wrote it, whatever a later read
    // would say, and no later read is made.
    for (answers, code) in [(&[fulfilled, cancelled], 0), (&[cancelled, fulfilled], 1)] {
        let (output, polls) = orders_wait_answered(answers);
        assert_eq!(output.status.code(), Some(code), "{}", text(&output.stderr));
        assert_eq!(
            stdout_json(&output),
            serde_json::from_str::<Value>(answers[0]).expect("JSON")
        );
        assert_eq!(polls, 1, "{answers:?}");
    }
    let (output, _) = orders_wait_answered(&[cancelled]);
    fails_saying(&output, 1, "order ord_42 ended cancelled", cancelled);
    // Another order's answer is news of nothing: the wait fails and nothing is printed.
    let (output, _) = orders_wait_answered(&[other]);
    let stderr = fails_saying(&output, 1, "answered order ord_EVIL instead", other);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

/// An order in a state this program does not know is no end of the wait, which may then go on
/// for days: a warning names the state once, however many polls see it, and a wait that runs
/// out of time says what it last saw. Off a terminal, with no spinner, these lines are all
/// that tells what the wait is waiting on.
#[test]
fn a_wait_on_a_state_this_program_does_not_know_names_it_once_and_when_time_runs_out() {
    let s = setup();
    let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = polls.clone();
    let url = test_server(8, move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (200, r#"{"orderId":"ord_42","status":"expired"}"#.to_owned())
    });
    let run = ["orders", "wait", "ord_42", "--wait-timeout", "5"];
    let output = s.against(&url).args(run).output().expect("geopera runs");
    let stderr = fails_saying(&output, 1, "it was last seen 'expired'", run);
    assert_eq!(
        stderr,
        "Warning: order ord_42 is 'expired', a state this program does not know; the wait goes \
         on until it is fulfilled or cancelled, or --wait-timeout (5 s) passes\n\
         Error: order ord_42 was not done within 5s; it was last seen 'expired'\n"
    );
    assert!(
        polls.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "polled again"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

/// A poll that fails with an error that may pass (here a 503 past the client's retries) is
/// ridden out by the wait, which off a terminal would otherwise show nothing of an outage: a
/// warning tells of each kind of failure once, however many polls meet it.
#[test]
fn a_wait_tells_of_a_failed_poll_once_and_polls_on() {
    let s = setup();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = requests.clone();
    // Two polls, each a request and its two retries, meet a 503; the third finds the end.
    let url = test_server(16, move |_| {
        match counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0..=5 => (
                503,
                r#"{"title":"Service Unavailable","status":503}"#.to_owned(),
            ),
            _ => (
                200,
                r#"{"orderId":"ord_42","status":"fulfilled"}"#.to_owned(),
            ),
        }
    });
    let output = s
        .against(&url)
        .args(["orders", "wait", "ord_42", "--wait-timeout", "60"])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout_json(&output)["status"], "fulfilled");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("Warning: a poll of order ord_42 failed (")
            && stderr.contains("503")
            && stderr.contains("the wait polls on until --wait-timeout (60 s) passes"),
        "{stderr}"
    );
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), 7);
}

/// On a terminal the spinner shows the state of the last poll, laid out afresh ten times a
/// second. A state of megabytes was shown whole, and laying it out kept a wait of
/// `--wait-timeout 2` going many times as long, a core busy all the while; it is cut, as the
/// messages cut it. Run on a pseudo-terminal from util-linux `script`, where present (on
/// Linux: the BSD `script` of other systems takes other options).
#[cfg(target_os = "linux")]
#[test]
fn a_state_of_megabytes_on_a_terminal_keeps_the_wait_within_its_timeout() {
    let home = tempfile::tempdir().expect("temp dir");
    let answer = format!(
        r#"{{"orderId":"ord_42","status":"{}"}}"#,
        "x".repeat(60 << 20)
    );
    let url = test_server(8, move |_| (200, answer.clone()));
    let typescript = home.path().join("typescript");
    let typed = std::fs::File::create(&typescript).expect("a file");
    let started = Instant::now();
    let Ok(mut child) = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{BIN} orders wait ord_42 --wait-timeout 2"),
            "/dev/null",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TERM", "xterm")
        .env("GEOPERA_API_URL", &url)
        .env("GEOPERA_API_TOKEN", "gpra_test")
        .stdin(Stdio::null())
        .stdout(typed)
        .spawn()
    else {
        return;
    };
    let ended = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let shown = text(&std::fs::read(&typescript).unwrap_or_default());
    let end: String = shown
        .chars()
        .rev()
        .take(600)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(ended.and_then(|s| s.code()), Some(1), "{elapsed:?}: {end}");
    assert!(shown.contains("was not done within 2s"), "{end}");
    assert!(
        elapsed < Duration::from_secs(8),
        "a wait of 2 s took {elapsed:?}"
    );
}

#[test]
fn wait_on_a_clip_job_ends_when_it_succeeds() {
    let (s, clock) = Setup::on_manual_clock();
    let child = s
        .process()
        .args([
            "clip",
            "create-from-item",
            "--json",
            r#"{"item_id": "S2A_1"}"#,
        ])
        .args(["--wait", "--wait-timeout", "60"])
        .spawn()
        .expect("geopera starts");
    // The job runs on the emulator's clock: move it well past the job's run time while the
    // command polls.
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(500));
        clock.advance(Duration::from_secs(600));
        if s.emulator.executed("clip.job.get") > 0 {
            break;
        }
    }
    let output = child.wait_with_output().expect("geopera ends");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let job = stdout_json(&output);
    assert_eq!(job["status"], "succeeded");
    let id = job["id"].as_str().expect("a job id");
    // The job's id, and no spinner off a terminal.
    assert_eq!(
        text(&output.stderr),
        format!(
            "clip job {id} started; waiting for it \
             (see it with: geopera clip job get --job-id {id})\n"
        )
    );
}

#[test]
fn a_redirect_prints_its_location_and_succeeds() {
    let s = setup();
    let output = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    let id = stdout_json(&output)["features"][0]["id"]
        .as_str()
        .expect("an item id")
        .to_owned();
    let output = s
        .cli()
        .args([
            "catalog",
            "image",
            "quicklook",
            "--host-name",
            "earthsearch-aws",
        ])
        .args(["--image-id", &id])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let answer = stdout_json(&output);
    assert_eq!(answer["status"], 307);
    assert!(answer["location"].as_str().is_some_and(|l| l.contains(&id)));
}

#[test]
fn a_body_field_named_profile_is_reachable_beside_the_global_option() {
    let s = setup();
    let output = s
        .cli()
        .args(["--profile", "elsewhere", "items", "tile", "render"])
        .args(["--body-profile", "sar", "--z", "1", "--x", "0", "--y", "0"])
        .args(["--json", r#"{"item_id": "i"}"#, "--dry-run"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (_, body) = dry_run(&output);
    assert_eq!(body["profile"], "sar");
    assert_eq!(body["item_id"], "i");
}

#[test]
fn the_idempotency_key_and_the_api_key_header_reach_the_server() {
    let s = setup();
    s.cli()
        .args([
            "orders",
            "list",
            "--size",
            "1",
            "--idempotency-key",
            "cli-key-1",
        ])
        .assert()
        .success();
    let recorded = s.emulator.requests();
    let call = recorded
        .iter()
        .rev()
        .find(|r| r.operation_id.as_deref() == Some("orders.list"))
        .expect("the call was recorded");
    assert_eq!(call.header("idempotency-key"), Some("cli-key-1"));
    assert!(
        call.header("x-api-key").is_some(),
        "a gpra_ key goes as X-API-Key"
    );
    assert!(call.header("authorization").is_none());
}

/// Every header `--dry-run` shows with a value is the one a real run sends, as the emulator
/// recorded it: a dry run is read as the request, so a header it names wrongly would mislead.
#[test]
fn the_headers_a_dry_run_shows_are_the_ones_a_real_run_sends() {
    let s = setup();
    let args = ["orders", "list", "--size", "1"];
    s.cli().args(args).assert().success();
    let recorded = s.emulator.requests();
    let call = recorded
        .iter()
        .rev()
        .find(|r| r.operation_id.as_deref() == Some("orders.list"))
        .expect("the call was recorded");
    let output = s
        .cli()
        .args(args)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (head, _) = dry_run_parts(&output);
    let mut compared = Vec::new();
    for line in head.lines().skip(1).filter(|line| !line.starts_with('#')) {
        let (name, shown) = line.split_once(": ").expect("a header line");
        // The credential is shown redacted; that it is sent is checked elsewhere.
        if name.eq_ignore_ascii_case("x-api-key") || name.eq_ignore_ascii_case("authorization") {
            continue;
        }
        assert_eq!(call.header(name), Some(shown), "{name} in:\n{head}");
        compared.push(name.to_ascii_lowercase());
    }
    for name in ["content-type", "accept", "accept-encoding", "user-agent"] {
        assert!(compared.iter().any(|c| c == name), "{name} in:\n{head}");
    }
}

/// An answer compressed with gzip, as a server sends one to a client that asks (this one
/// does, as the official CLI's HTTP client does), is printed as the JSON it holds.
#[test]
fn a_compressed_answer_is_printed_as_its_json() {
    let s = setup();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (heads, asked) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let answer = br#"{"organization_id":"org_1","credits":42}"#;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(answer).expect("compressing into memory");
        let body = encoder.finish().expect("compressing into memory");
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            let (head, _) = read_request(&stream);
            let _ = heads.send(head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    let output = s
        .against(&url)
        .args(["billing", "credits", "balance", "--jq", ".credits"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "42");
    let head = asked
        .recv_timeout(Duration::from_secs(30))
        .expect("the server got a request");
    assert!(
        head.iter()
            .any(|line| line.eq_ignore_ascii_case("accept-encoding: gzip")),
        "{head:?}"
    );
}

/// A key no header can carry is refused alike with and without `--dry-run`: the dry run
/// printed it, its line break making a header line of its own, and exited 0.
#[test]
fn an_idempotency_key_with_a_line_break_is_refused_by_the_dry_run_as_by_the_call() {
    let s = setup();
    for key in ["k\nX-Forged: 1", "k\u{1b}[2J", "k\u{7f}"] {
        for dry in [true, false] {
            let output = s
                .cli()
                .args(["--idempotency-key", key, "orders", "list", "--size", "1"])
                .args(dry.then_some("--dry-run"))
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, "a header cannot carry", (key, dry));
            assert!(output.stdout.is_empty(), "{key:?} {dry}");
            assert!(!stderr.contains("X-Forged: 1\n"), "{stderr}");
        }
    }
    assert_eq!(s.emulator.executed("orders.list"), 0, "nothing was sent");
    // A tab is a header's own character, and goes.
    let output = s
        .cli()
        .args(["--idempotency-key", "k\t1", "orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// A dry run shows a string with a bidirectional override or a C1 control (from a body file
/// someone else wrote) as the same JSON with `\u` escapes, not raw: reordered on screen, the
/// text read would not be the text sent.
#[test]
fn a_dry_run_shows_characters_that_steer_the_terminal_as_escapes() {
    let s = setup();
    let name = "invoice-\u{202e}fdp.exe\u{9b}2J\u{2028}";
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("body.json");
    std::fs::write(&path, format!("{{\"name\": \"{name}\"}}")).expect("a file");
    let output = s
        .cli()
        .args(["--dry-run", "--idempotency-key", "k\u{202e}1"])
        .args(["projects", "create", "--json"])
        .arg(format!("@{}", path.display()))
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(
        !out.chars()
            .any(|c| geopera::terminal::steers(c) && c != '\n'),
        "{out:?}"
    );
    assert!(out.contains("Idempotency-Key: k\\u{202e}1\n"), "{out}");
    assert!(
        out.contains(r#""name": "invoice-\u202efdp.exe\u009b2J\u2028""#),
        "{out}"
    );
    let (_, body) = dry_run(&output);
    assert_eq!(body["name"], name, "the same string");
    assert_eq!(s.emulator.executed("projects.create"), 0);
}

/// A number flag sends a whole number as the integer typed, as `--json` sends it: read as a
/// float, `10` went out as `10.0` and `9007199254740993` as `9007199254740992.0`.
#[test]
fn a_number_flag_sends_a_whole_number_as_typed() {
    let s = Setup::on(Emulator::builder().record_bodies(true));
    let bbox = ["9007199254740993", "10", "-33.5", "1e3"];
    let sent = r#""bbox":[9007199254740993,10,-33.5,1000.0]"#;
    let mut args = vec!["catalog", "search", "--host-name", "earthsearch-aws"];
    for value in bbox {
        args.extend(["--bbox", value]);
    }
    let output = s
        .cli()
        .args(&args)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (_, shown) = dry_run(&output);
    let shown = serde_json::to_string(&shown["bbox"]).expect("JSON");
    assert_eq!(format!(r#""bbox":{shown}"#), sent, "the dry run");
    s.cli().args(&args).output().expect("geopera runs");
    let recorded = s.emulator.requests();
    let call = recorded
        .iter()
        .find(|r| r.operation_id.as_deref() == Some("catalog.search"))
        .expect("the call was recorded");
    let body = String::from_utf8_lossy(&call.body);
    assert!(body.contains(sent), "{body}");
}

/// A number flag takes any negative number as its value, however it is written (`-1e-5`,
/// `-.5`), where clap's own reading of negative numbers left the flag without a value; one
/// that is no number is refused naming the flag, and a flag where the number belongs is still
/// a missing value.
#[test]
fn a_number_flag_takes_every_spelling_of_a_negative_number() {
    let s = setup();
    let output = s
        .cli()
        .args([
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--dry-run",
        ])
        .args([
            "--bbox", "-1e-5", "--bbox", "-.5", "--bbox", "-2", "--bbox", "-1E+2",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let (_, body) = dry_run(&output);
    assert_eq!(body["bbox"], serde_json::json!([-1e-5, -0.5, -2, -100.0]));

    for (args, said) in [
        (
            ["--bbox", "-1e-5x"],
            "invalid value '-1e-5x' for '--bbox <NUMBER>'",
        ),
        (
            ["--bbox", "--limit"],
            "a value is required for '--bbox <NUMBER>'",
        ),
        // Only a flag for a number is given such a word: a text one keeps clap's rule.
        (["--idempotency-key", "-9abc"], "unexpected argument '-9'"),
    ] {
        let output = s
            .cli()
            .args([
                "catalog",
                "search",
                "--host-name",
                "earthsearch-aws",
                "--dry-run",
            ])
            .args(args)
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, said, args);
        assert!(output.stdout.is_empty());
    }
}

/// An integer flag takes every whole number `--json` sends exactly, to 2^64 - 1, and names one
/// beyond them as such, where it refused both with "expected a whole number".
#[test]
fn an_integer_flag_takes_what_json_takes_and_names_one_beyond_64_bits() {
    let s = Setup::on(Emulator::builder().record_bodies(true));
    let args = ["notifications", "list", "--offset", "18446744073709551615"];
    let output = s
        .cli()
        .args(args)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(r#""offset": 18446744073709551615"#),
        "{}",
        text(&output.stdout)
    );
    s.cli().args(args).output().expect("geopera runs");
    let recorded = s.emulator.requests();
    let call = recorded
        .iter()
        .find(|r| r.operation_id.as_deref() == Some("notifications.list"))
        .expect("the call was recorded");
    let body = String::from_utf8_lossy(&call.body);
    assert!(body.contains(r#""offset":18446744073709551615"#), "{body}");
    for beyond in ["18446744073709551616", "-9223372036854775809"] {
        let output = s
            .cli()
            .args(["notifications", "list", &format!("--offset={beyond}")])
            .output()
            .expect("geopera runs");
        fails_saying(
            &output,
            2,
            &format!("{beyond} cannot be sent exactly (beyond 64-bit integers)"),
            beyond,
        );
    }
    let output = s
        .cli()
        .args(["notifications", "list", "--offset", "1e3"])
        .output()
        .expect("geopera runs");
    fails_saying(&output, 2, "expected a whole number", "1e3");
    assert_eq!(s.emulator.executed("notifications.list"), 1);
}

/// The first scene the emulator's catalog answers.
fn a_scene(s: &Setup) -> String {
    let output = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    stdout_json(&output)["features"][0]["id"]
        .as_str()
        .expect("a scene id")
        .to_owned()
}

/// A read-only file is refused as `>` refuses it, even to root (whom `>` would let through):
/// renaming over it needs only the folder to be writable, so it was replaced without a word.
#[cfg(unix)]
#[test]
fn out_refuses_a_read_only_file_and_leaves_it_as_it_was() {
    use std::os::unix::fs::PermissionsExt as _;

    let s = setup();
    let scene = a_scene(&s);
    let dir = tempfile::tempdir().expect("temp dir");
    let kept = dir.path().join("kept.png");
    std::fs::write(&kept, b"keep me").expect("the file");
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let render = |target: &std::path::Path| {
        s.cli()
            .args(tile_render(&scene))
            .arg("--out")
            .arg(target)
            .output()
            .expect("geopera runs")
    };

    let output = render(&kept);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("kept.png") && stderr.contains("read-only"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&kept).expect("read"), b"keep me");
    let mode = std::fs::metadata(&kept).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o444);
    let entries = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(entries, 1, "no temporary file left");

    // Through a link, the file it names is what counts.
    let link = dir.path().join("link.png");
    std::os::unix::fs::symlink(&kept, &link).expect("a link");
    let output = render(&link);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(&kept).expect("read"), b"keep me");

    // Made writable, it is replaced.
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = render(&kept);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(std::fs::read(&kept)
        .expect("read")
        .starts_with(b"\x89PNG\r\n\x1a\n"));
}

/// `--out` naming a FIFO writes into it, as `>` does, and opening one waits for a reader.
/// Ctrl-C ends that wait, as it ends `>`'s, where the open went on after SIGINT for ever;
/// SIGTERM ends it too, with 143. Nothing is left behind: no temporary file, the FIFO as it
/// was.
#[cfg(unix)]
#[test]
fn ctrl_c_or_sigterm_while_out_waits_for_a_reader_of_its_fifo_ends_it() {
    use std::os::unix::fs::FileTypeExt as _;

    let s = setup();
    let scene = a_scene(&s);
    for (name, code, said) in [
        ("INT", 130, "Error: interrupted"),
        ("TERM", 143, "Error: terminated"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("tile.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let before = s.emulator.executed("catalog.tile.render");
        let mut child = s
            .process()
            .args(tile_render(&scene))
            .arg("--out")
            .arg(&fifo)
            .stdin(Stdio::null())
            .spawn()
            .expect("geopera starts");
        let started = std::time::Instant::now();
        while s.emulator.executed("catalog.tile.render") == before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never rendered"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The answer is in; the command is opening the FIFO, which nobody reads.
        std::thread::sleep(Duration::from_millis(500));
        let status = signal(&mut child, name);
        let stderr = stderr_of(&mut child);
        assert_eq!(status.code(), Some(code), "SIG{name}: {stderr}");
        assert!(stderr.contains(said), "SIG{name}: {stderr}");
        let kind = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
        assert!(kind.is_fifo(), "the FIFO is left as it was");
        let entries = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(entries, 1, "nothing else is left");
    }
}

/// A command blocked writing to a pipe whose reader has stopped reading never hears Ctrl-C
/// where it waits (the write restarts after the signal); it still ends as interrupted (exit
/// 130) a moment later, where it waited for the reader for ever. Its stderr is the same full
/// pipe in the second run, so saying "interrupted" cannot hold it up either.
#[cfg(unix)]
#[test]
fn ctrl_c_ends_a_command_blocked_writing_to_a_pipe_nobody_reads() {
    let s = setup();
    for shared_stderr in [false, true] {
        let before = s.emulator.executed("catalog.search");
        // Pages of 500 features, each far more than a pipe holds unread.
        let search = [
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--limit",
            "500",
            "--all",
        ];
        let mut command = if shared_stderr {
            // `2>&1` by a shell that then becomes the command (same process, same signal).
            let mut shell = std::process::Command::new("sh");
            shell
                .args(["-c", "exec \"$0\" \"$@\" 2>&1", BIN])
                .args(search)
                .env_clear()
                .env("HOME", s.home.path())
                .env("GEOPERA_API_URL", s.emulator.base_url())
                .env("GEOPERA_API_TOKEN", s.emulator.api_key())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            shell
        } else {
            let mut command = s.process();
            command.args(search);
            command
        };
        let mut child = command
            .stdin(Stdio::null())
            .spawn()
            .expect("geopera starts");
        let started = std::time::Instant::now();
        while s.emulator.executed("catalog.search") == before {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never searched"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Well past the time a page takes to fill the pipe: the command is blocked writing.
        std::thread::sleep(Duration::from_millis(1000));
        let status = interrupt(&mut child);
        assert_eq!(status.code(), Some(130), "stderr shared: {shared_stderr}");
        if !shared_stderr {
            let stderr = stderr_of(&mut child);
            assert!(stderr.contains("interrupted"), "{stderr}");
        }
    }
}

/// A `-v` walk of search pages with stdout closed and its stderr a pipe nobody reads: page
/// after page is logged until the pipe is full and the walk stands still, blocked in a write
/// where no signal reaches it.
#[cfg(unix)]
#[expect(
    clippy::zombie_processes,
    reason = "the child is handed to the caller, which waits for it"
)]
fn a_walk_blocked_writing_to_its_stderr(s: &Setup) -> std::process::Child {
    let mut child = s
        .process()
        .args(["-v", "catalog", "search", "--host-name", "earthsearch-aws"])
        .args(["--limit", "1", "--all"])
        .stdout(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("geopera starts");
    let started = std::time::Instant::now();
    let mut seen = s.emulator.executed("catalog.search");
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = s.emulator.executed("catalog.search");
        if now == seen && now > 0 {
            return child;
        }
        seen = now;
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the walk never stood still");
        }
    }
}

/// Sends the signal `name` with `kill` and returns at once.
fn send(child: &std::process::Child, name: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

/// How `child` ended, waiting at most `limit`; killed and failing the test past it.
fn ended_within(
    child: &mut std::process::Child,
    limit: Duration,
    after: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running {limit:?} after {after}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A second Ctrl-C ends a command at once, wherever it is blocked: here in a write to a
/// stderr pipe nobody reads (`-v` logging each page of a walk), where the first press cannot
/// reach it, and which is no stdout write to end by itself.
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_ends_a_command_blocked_writing_to_its_stderr() {
    let s = setup();
    let mut child = a_walk_blocked_writing_to_its_stderr(&s);
    send(&child, "INT");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().expect("child status").is_none(),
        "blocked where the first press cannot reach it"
    );
    let status = interrupt(&mut child);
    assert_eq!(status.code(), Some(130));
}

/// One SIGTERM ends a command blocked writing to a stderr pipe nobody reads, where it cannot
/// hear the signal: whoever sent it (`kill`, `timeout`) sends no second one, and the default
/// action the handler replaced would have ended the process.
#[cfg(unix)]
#[test]
fn one_sigterm_ends_a_command_blocked_writing_to_its_stderr() {
    let s = setup();
    let mut child = a_walk_blocked_writing_to_its_stderr(&s);
    send(&child, "TERM");
    let status = ended_within(&mut child, Duration::from_secs(15), "one SIGTERM");
    assert_eq!(status.code(), Some(143));
}

/// A name as long as the file system allows (255 bytes) is written as `>` writes it, where its
/// temporary name, the name and 23 bytes more, was refused as "File name too long".
#[test]
fn out_writes_a_file_whose_name_is_as_long_as_the_file_system_allows() {
    let s = setup();
    let scene = a_scene(&s);
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        format!("{}.png", "t".repeat(251)),
        format!("{}.png", "é".repeat(125)),
    ] {
        let target = dir.path().join(&name);
        let output = s
            .cli()
            .args(tile_render(&scene))
            .arg("--out")
            .arg(&target)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let written = std::fs::read(&target).expect("the file");
        assert!(written.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        std::fs::remove_file(&target).expect("removed");
        let entries = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(entries, 0, "no temporary file left");
    }
}

#[test]
fn a_binary_answer_goes_to_out_whole_or_to_a_pipe_unchanged() {
    let s = setup();
    let scene = a_scene(&s);
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("tile.png");
    let tile = |command: &mut Command| {
        command.args(tile_render(&scene));
    };
    let mut to_file = s.cli();
    tile(&mut to_file);
    let output = to_file
        .arg("--out")
        .arg(&target)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "nothing on stdout");
    let written = std::fs::read(&target).expect("the file");
    assert!(written.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let entries = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(entries, 1, "no temporary file left");

    let mut to_pipe = s.cli();
    tile(&mut to_pipe);
    let output = to_pipe.output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(output.stdout, written, "the same bytes through a pipe");
    let mut dash = s.cli();
    tile(&mut dash);
    let output = dash.args(["--out", "-"]).output().expect("geopera runs");
    assert_eq!(output.stdout, written, "--out - is stdout");

    // On a terminal (a pseudo-terminal from util-linux `script`, where present: on Linux,
    // as the BSD `script` of other systems takes other options) it refuses.
    if !cfg!(target_os = "linux") {
        return;
    }
    let shown = format!(
        "{BIN} catalog tile render --collection sentinel-2-l2a --scene-id {scene} \
         --visualization true_color --z 3 --x 4 --y 2 --format png"
    );
    let Ok(output) = std::process::Command::new("script")
        .args(["-qec", &shown, "/dev/null"])
        .env("GEOPERA_API_URL", s.emulator.base_url())
        .env("GEOPERA_API_TOKEN", s.emulator.api_key())
        .env("HOME", s.home.path())
        .stdin(Stdio::null())
        .output()
    else {
        return;
    };
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert!(
        text(&output.stdout).contains("stdout is a terminal"),
        "{}",
        text(&output.stdout)
    );
    assert!(!output.stdout.windows(4).any(|w| w == b"\x89PNG"));
}

/// Sends SIGINT, as Ctrl-C in a terminal does, and returns how the command ended; it must end
/// within 5 s, or it is killed and the test fails, leaving nothing running.
fn interrupt(child: &mut std::process::Child) -> std::process::ExitStatus {
    signal(child, "INT")
}

/// Sends the signal `name` (`INT`, `TERM`) with `kill`, and returns how the command ended, as
/// [`interrupt`] does.
fn signal(child: &mut std::process::Child, name: &str) -> std::process::ExitStatus {
    send(child, name);
    ended_within(child, Duration::from_secs(5), &format!("SIG{name}"))
}

/// [`interrupt`], then what the command wrote to stderr.
fn interrupted(child: &mut std::process::Child) -> (std::process::ExitStatus, String) {
    let status = interrupt(child);
    (status, stderr_of(child))
}

/// What a command that has ended wrote to stderr (piped by [`Setup::process`]).
fn stderr_of(child: &mut std::process::Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
    }
    stderr
}

/// Waits (at most `within`) until the emulator has executed `operation` at least once.
fn executed_soon(s: &Setup, operation: &str, within: Duration) {
    let started = std::time::Instant::now();
    while s.emulator.executed(operation) == 0 {
        assert!(started.elapsed() < within, "{operation} was never called");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A new project's id.
fn a_project(s: &Setup, name: &str) -> String {
    let output = s
        .cli()
        .args(["projects", "create", "--name", name])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    stdout_json(&output)["id"]
        .as_str()
        .expect("a project id")
        .to_owned()
}

/// The body of an archive order for a small square of the first scene the search finds.
fn archive_order(s: &Setup, name: &str) -> Value {
    let output = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    let feature = &stdout_json(&output)["features"][0];
    let (x, y) = (
        feature["bbox"][0].as_f64().expect("a bbox"),
        feature["bbox"][1].as_f64().expect("a bbox"),
    );
    let ring = serde_json::json!([
        [x, y],
        [x + 0.01, y],
        [x + 0.01, y + 0.01],
        [x, y + 0.01],
        [x, y]
    ]);
    serde_json::json!({
        "captures": [{"id": feature["id"], "geometry": {"type": "Polygon", "coordinates": [ring]}}],
        "displayName": name,
    })
}

#[test]
fn wait_on_a_placed_archive_order_ends_when_it_is_fulfilled() {
    let (s, clock) = Setup::on_manual_clock();
    let body = archive_order(&s, "fulfilled in the end");
    let mut child = s
        .process()
        .args(["orders", "archive", "place", "--json", &body.to_string()])
        .args(["--wait", "--wait-timeout", "60", "-o", "table"])
        .spawn()
        .expect("geopera starts");
    // The order moves on the emulator's clock: a day every quarter second while it waits.
    for _ in 0..120 {
        if child.try_wait().expect("child status").is_some() {
            break;
        }
        clock.advance(Duration::from_secs(86_400));
        std::thread::sleep(Duration::from_millis(250));
    }
    let output = child.wait_with_output().expect("geopera ends");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("KEY"), "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("status") && l.trim_end().ends_with("fulfilled")),
        "{table}"
    );
    // The order's id, and no spinner off a terminal.
    let stderr = text(&output.stderr);
    let id = placed_order(&stderr);
    assert_eq!(
        stderr,
        format!("order {id} placed; waiting for it (resume with: geopera orders wait {id})\n")
    );
}

/// The id of the order that the first line of a `--wait`'s stderr says was placed.
fn placed_order(stderr: &str) -> &str {
    stderr
        .strip_prefix("order ")
        .and_then(|rest| rest.split_once(" placed; waiting for it"))
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no placed order named: {stderr}"))
}

#[test]
fn wait_timeout_without_wait_is_a_usage_error_and_sends_nothing() {
    let s = setup();
    let before = s.emulator.requests().len();
    let body = r#"{"captures":[{"id":"S2A_1","geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
    for run in [
        &[
            "orders",
            "archive",
            "place",
            "--json",
            body,
            "--wait-timeout",
            "30",
        ][..],
        &[
            "clip",
            "create-from-item",
            "--json",
            r#"{"item_id":"S2A_1"}"#,
            "--wait-timeout",
            "30",
        ][..],
    ] {
        let output = s.cli().args(run).output().expect("geopera runs");
        let stderr = fails_saying(&output, 2, "--wait", run);
        assert!(stderr.contains("--wait-timeout"), "{run:?}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "{run:?}: {}",
            text(&output.stdout)
        );
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

#[test]
fn a_wait_that_fails_after_the_placement_names_the_placed_order_and_exits_1() {
    let s = setup();
    let url = test_server(4, |body| {
        if text(body).contains("captures") {
            let placed = r#"{"orderId":"ord_42","status":"received","totalCredits":500}"#;
            (202, placed.to_owned())
        } else {
            let missing = r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"Order not found"}"#;
            (404, missing.to_owned())
        }
    });
    let body = r#"{"captures":[{"id":"S2A_1","geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
    let run = ["orders", "archive", "place", "--wait", "--json", body];
    let output = s
        .against(&url)
        .args(run)
        .args(["--wait-timeout", "30"])
        .output()
        .expect("geopera runs");
    // The placement succeeded: not an API error (2), which would say to place it again.
    let stderr = fails_saying(&output, 1, "ord_42", run);
    assert_eq!(
        stderr,
        "order ord_42 placed; waiting for it (resume with: geopera orders wait ord_42)\n\
         Error: order ord_42 was placed, but waiting for it failed: [404] Order not found \
         (resume with: geopera orders wait ord_42)\n"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

/// Advice to run another command names the API and profile this one used: without them the
/// command would ask the public API, or the default profile, about an order placed elsewhere.
#[test]
fn a_wait_names_the_api_it_placed_the_order_with_in_its_advice() {
    let s = setup();
    let url = test_server(4, |body| {
        if text(body).contains("captures") {
            (
                202,
                r#"{"orderId":"ord_42","status":"received"}"#.to_owned(),
            )
        } else {
            let missing = r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"Order not found"}"#;
            (404, missing.to_owned())
        }
    });
    let body = r#"{"captures":[{"id":"S2A_1","geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
    let output = s
        .against("http://127.0.0.1:9")
        .args(["--api-url", &url, "--profile", "work"])
        .args(["orders", "archive", "place", "--wait", "--json", body])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "ord_42", "--api-url");
    let resume = format!("resume with: geopera --profile work --api-url {url} orders wait ord_42");
    assert_eq!(stderr.matches(&resume).count(), 2, "{stderr}");
}

/// `-v` events quote what the server chose (here the id a wait polls) inert, as every other
/// line does: the formatter wrote a carriage return or a bidirectional override as it came.
#[test]
fn verbose_events_quote_the_server_s_words_inert() {
    let s = setup();
    let url = test_server(16, |body| {
        if text(body).contains("captures") {
            let placed =
                r#"{"orderId":"ord_1\u001b[2J\rError: forged \u202egnp.exe","status":"received"}"#;
            (202, placed.to_owned())
        } else {
            let busy = r#"{"type":"about:blank","title":"Unavailable","status":503}"#;
            (503, busy.to_owned())
        }
    });
    let body = r#"{"captures":[{"id":"S2A_1","geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
    let output = s
        .against(&url)
        .args(["-v", "orders", "archive", "place", "--wait", "--json", body])
        .args(["--wait-timeout", "2"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let events: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("geopera::"))
        .collect();
    assert!(
        events
            .iter()
            .any(|line| line.contains(r"ord_1\u{1b}[2J\u{d}Error: forged \u{202e}gnp.exe")),
        "an event names the id, escaped: {stderr}"
    );
    assert!(!stderr.contains(['\r', '\u{202e}', '\u{1b}']), "{stderr:?}");
    assert!(
        !stderr.lines().any(|line| line.starts_with("Error: forged")),
        "{stderr}"
    );
}

/// A placement answered without an id it can read (here a number) leaves `--wait` nothing to
/// wait for; the order was placed all the same, which the failure says, with how to find it
/// and how to repeat the command without placing a second one.
#[test]
fn a_wait_for_an_answer_without_an_id_says_the_order_was_placed_and_how_not_to_place_it_twice() {
    let s = setup();
    let url = test_server(1, |_| {
        (202, r#"{"orderId":12345,"status":"received"}"#.to_owned())
    });
    let body = r#"{"captures":[{"id":"S2A_1","geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
    let output = s
        .against("http://127.0.0.1:9")
        .args(["--api-url", &url])
        .args(["orders", "archive", "place", "--wait", "--json", body])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "the order was placed", "no id");
    assert!(
        stderr.contains(&format!("'geopera --api-url {url} orders list'")),
        "{stderr}"
    );
    let key = stderr
        .split("--idempotency-key ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("the key to repeat the command with");
    assert!(!key.is_empty() && !key.contains(' '), "{stderr}");
    assert!(
        stderr.contains(&format!("sent with Idempotency-Key {key}")),
        "{stderr}"
    );
    assert_eq!(
        stdout_json(&output)["orderId"],
        12345,
        "the answer is printed"
    );
}

/// A clip job started with an answer that names no job id points at a listing that runs:
/// `clip jobs list` requires the organization, which the advice asks for; without it, the
/// command it advised was a usage error.
#[test]
fn a_clip_wait_without_a_job_id_advises_a_listing_that_runs() {
    let s = setup();
    let url = test_server(1, |_| (201, r#"{"assets_to_clip":1}"#.to_owned()));
    let output = s
        .against(&url)
        .args([
            "clip",
            "create-from-item",
            "--json",
            r#"{"item_id":"S2A_1"}"#,
            "--wait",
        ])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "the clip job was", "no job id");
    let advised = stderr
        .split("find it with 'geopera ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a listing to find it with");
    let words: Vec<String> = advised
        .split(' ')
        .map(|word| word.replace("ORG_ID", geopera_emulator::DEMO_ORG))
        .collect();
    let listed = s.cli().args(&words).output().expect("geopera runs");
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{advised}: {}",
        text(&listed.stderr)
    );
}

#[test]
fn a_wait_that_fails_after_a_job_started_names_the_job_and_exits_1() {
    let s = setup();
    let url = test_server(4, |body| {
        if text(body).contains("item_id") {
            let started = r#"{"job":{"id":"job_7","status":"pending"},"assets_to_clip":1}"#;
            (201, started.to_owned())
        } else {
            let failed = r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"Job not found"}"#;
            (404, failed.to_owned())
        }
    });
    let run = [
        "clip",
        "create-from-item",
        "--json",
        r#"{"item_id":"S2A_1"}"#,
        "--wait",
    ];
    let output = s
        .against(&url)
        .args(run)
        .args(["--wait-timeout", "30"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "job_7", run);
    assert_eq!(
        stderr,
        "clip job job_7 started; waiting for it (see it with: geopera clip job get --job-id job_7)\n\
         Error: clip job job_7 was started, but waiting for it failed: [404] Job not found \
         (see it with: geopera clip job get --job-id job_7)\n"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

#[test]
fn ctrl_c_during_a_wait_exits_130_promptly() {
    // On a clock that never moves, an open order never finishes.
    let (s, _clock) = Setup::on_manual_clock();
    let body = archive_order(&s, "never finishes");
    // The wait runs on stored credentials, so an interruption meets a credentials file.
    login_with_the_demo_key(&s);
    let folder = s.credentials_path().parent().expect("a folder").to_owned();
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .expect("the credentials folder")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let (names_before, stored_before) = (
        listing(),
        std::fs::read(s.credentials_path()).expect("stored"),
    );
    let mut child = std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .env("GEOPERA_API_URL", s.emulator.base_url())
        .args([
            "orders",
            "archive",
            "place",
            "--wait",
            "--json",
            &body.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    executed_soon(&s, "orders.get", Duration::from_secs(5));
    let (status, stderr) = interrupted(&mut child);
    assert_eq!(status.code(), Some(130));
    // No spinner: the order's id as it was placed, and again with the interruption, so it is
    // not placed a second time by someone who thinks it never was.
    let id = placed_order(&stderr);
    assert_eq!(
        stderr,
        format!(
            "order {id} placed; waiting for it (resume with: geopera orders wait {id})\n\
             Error: interrupted; order {id} was placed (resume with: geopera orders wait {id})\n"
        ),
    );
    // Nothing half-written: the same files, the credentials byte for byte.
    assert_eq!(listing(), names_before);
    assert_eq!(
        std::fs::read(s.credentials_path()).expect("stored"),
        stored_before
    );
}

/// The `Idempotency-Key` header among the lines of a request's head.
fn idempotency_key_of(head: &[String]) -> String {
    head.iter()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("idempotency-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no Idempotency-Key in {head:?}"))
}

#[test]
fn ctrl_c_before_a_call_with_side_effects_is_answered_names_its_idempotency_key() {
    let s = setup();
    // The API takes the placement and never answers it.
    let (api, heads) = silent_server();
    let mut child = s
        .process()
        .env("GEOPERA_API_URL", &api)
        .env("GEOPERA_API_TOKEN", "gpra_test")
        .args(["orders", "archive", "place", "--json", r#"{"captures":[]}"#])
        .spawn()
        .expect("geopera starts");
    let head = heads
        .recv_timeout(Duration::from_secs(20))
        .expect("the placement was sent");
    let key = idempotency_key_of(&head);
    let (status, stderr) = interrupted(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "Error: interrupted\n\
             Error: orders.archive.place may have been executed: it was sent with \
             Idempotency-Key {key}; to retry it without executing it twice, repeat the same \
             command with --idempotency-key {key}\n"
        )
    );
}

#[test]
fn a_call_with_side_effects_that_times_out_names_the_idempotency_key_it_was_retried_with() {
    let s = setup();
    let place = ["orders", "archive", "place", "--json", r#"{"captures":[]}"#];
    let (api, heads) = silent_server();
    let output = s
        .against(&api)
        .args(place)
        .args(["--timeout", "1"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "orders.archive.place timed out", "placing");
    // Every attempt went with one key, the one named.
    let sent: Vec<String> = heads
        .try_iter()
        .map(|head| idempotency_key_of(&head))
        .collect();
    assert!(sent.len() > 1, "the placement was retried: {sent:?}");
    assert!(sent.iter().all(|key| key == &sent[0]), "{sent:?}");
    let key = &sent[0];
    assert!(
        stderr.ends_with(&format!(
            "\nError: orders.archive.place may have been executed: it was sent with \
             Idempotency-Key {key}; to retry it without executing it twice, repeat the same \
             command with --idempotency-key {key}\n"
        )),
        "{stderr}"
    );
    // A key of the user's own is the one named, quoted for the shell.
    let (api, _heads) = silent_server();
    let output = s
        .against(&api)
        .args(place)
        .args(["--timeout", "1", "--idempotency-key", "my key"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "timed out", "placing with a key");
    assert!(
        stderr.contains("Idempotency-Key my key; ")
            && stderr.contains("--idempotency-key 'my key'\n"),
        "{stderr}"
    );
    // A read has nothing to execute twice: its timeout says no more.
    let (api, _heads) = silent_server();
    let output = s
        .against(&api)
        .args(["orders", "list", "--timeout", "1"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "orders.list timed out", "a read");
    assert!(!stderr.contains("Idempotency-Key"), "{stderr}");
}

#[test]
fn a_call_with_side_effects_that_never_connects_names_its_key_only_for_an_earlier_attempt() {
    let s = setup();
    // A port nothing listens on: every attempt is refused before anything is sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let output = s
        .against(&closed)
        .args(["orders", "archive", "place", "--json", r#"{"captures":[]}"#])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "could not reach", "placing");
    assert!(
        stderr.contains(
            "Error: orders.archive.place may have been executed if an earlier attempt reached \
             the API: it was sent with Idempotency-Key "
        ),
        "{stderr}"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn upload_sends_a_file_and_prints_the_completed_upload() {
    let s = setup();
    let project = a_project(&s, "uploads");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes).expect("a file");
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--content-type", "image/tiff"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "no progress off a terminal");
    let upload = stdout_json(&output);
    assert_eq!(upload["status"], "completed");
    assert_eq!(upload["files"][0]["sha256"], sha256_hex(&bytes).as_str());

    // --dry-run says what would happen and reserves nothing.
    let before = s.emulator.executed("uploads.initiate");
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--dry-run"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("200000 bytes"));
    assert_eq!(s.emulator.executed("uploads.initiate"), before);

    // A missing file fails before anything is reserved.
    let output = s
        .cli()
        .args(["upload", "/nonexistent/file.tif", "--project", &project])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).starts_with("Error: cannot read /nonexistent/file.tif: "),
        "{}",
        text(&output.stderr)
    );
    // An unknown project is an API error, with nothing left reserved.
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", "p_missing"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

/// A commit the API answers with success but says failed is the API refusing the file: exit 2,
/// as its refusal by status is, with its reason; it exited 1, which a script retrying its own
/// failures took as worth sending the file again.
#[test]
fn an_upload_the_api_says_failed_exits_2_with_its_reason() {
    let s = setup();
    let own_url = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let known = own_url.clone();
    let url = test_server(8, move |body| {
        let body = text(body);
        let answer = if body.contains("total_bytes") {
            r#"{"id":"u_1","total_bytes":3}"#.to_owned()
        } else if body.contains("error_step") {
            return (409, r#"{"detail":"the upload is failed"}"#.to_owned());
        } else if body.contains("file_name") {
            let put = format!("{}/put", known.get().map_or("", String::as_str));
            serde_json::json!({"upload_url": put, "object_path": "p/u_1/scene.tif"}).to_string()
        } else if body == "abc" {
            "{}".to_owned()
        } else {
            r#"{"id":"u_1","status":"failed","error_message":"not a GeoTIFF"}"#.to_owned()
        };
        (200, answer)
    });
    own_url.set(url.clone()).expect("set once");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"abc").expect("a file");
    let output = s
        .against(&url)
        .arg("upload")
        .arg(&path)
        .args(["--project", "prj_1"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(
        &output,
        2,
        "the API answered that the upload failed",
        "failed",
    );
    assert!(stderr.contains("not a GeoTIFF"), "{stderr}");
}

/// `--categorical` says the raster holds classes, which `uploads.initiate` is told
/// (`is_categorical`); without it the upload says measurements. The command always sent
/// `false`, so a land cover or mask uploaded by it was resampled as measurements.
#[test]
fn upload_categorical_tells_the_api_the_raster_holds_classes() {
    let s = Setup::on(Emulator::builder().record_bodies(true));
    let project = a_project(&s, "classes");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("landcover.tif");
    std::fs::write(&path, [3u8; 64]).expect("a file");
    for flag in [Some("--categorical"), None] {
        let output = s
            .cli()
            .arg("upload")
            .arg(&path)
            .args(["--project", &project])
            .args(flag)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let told: Vec<Value> = s
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some("uploads.initiate"))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
            body["is_categorical"].clone()
        })
        .collect();
    assert_eq!(told, vec![Value::Bool(true), Value::Bool(false)]);
}

/// `-` names stdin elsewhere (`--json -`, `op -`, `--out -`), and stdin cannot be uploaded, as
/// its size is unknown until it ends: `upload -` says so, exit 2, where it answered "cannot
/// read -: No such file or directory". A file named `-` is uploaded as any other.
#[test]
fn upload_of_dash_says_stdin_cannot_be_uploaded_and_a_file_named_dash_still_is() {
    let s = setup();
    let project = a_project(&s, "dash");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = s
        .cli()
        .current_dir(dir.path())
        .args(["upload", "-", "--project", &project])
        .write_stdin("bytes on stdin")
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 2, "cannot upload - (stdin): ", "upload -");
    assert!(stderr.contains("save it to a file"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );

    std::fs::write(dir.path().join("-"), b"a file named dash").expect("a file");
    let output = s
        .cli()
        .current_dir(dir.path())
        .args(["upload", "-", "--project", &project])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let upload = stdout_json(&output);
    assert_eq!(upload["files"][0]["file_name"], "-");
    assert_eq!(upload["files"][0]["size"], 17);
}

fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[test]
fn webhooks_verify_accepts_a_signed_delivery_and_refuses_the_rest() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "whsec_test_0123456789";
    let body = br#"{"event_id":"evt_1","event_type":"order.fulfilled","timestamp":"2025-01-01T00:05:00Z","organization_id":"org_demo","entity_type":"order","entity_id":"ord_1","data":{"order_id":"ord_1","status":"fulfilled"}}"#;
    let body_path = dir.path().join("body.json");
    std::fs::write(&body_path, body).expect("body");
    let headers_path = dir.path().join("headers.txt");
    std::fs::write(
        &headers_path,
        format!(
            "POST /hook HTTP/1.1\nContent-Type: application/json\nX-Geopera-Signature: {}\nX-Geopera-Event: order.fulfilled\nX-Geopera-Event-ID: evt_1\nX-Geopera-Delivery-ID: dlv_9\n",
            signature(secret, body)
        ),
    )
    .expect("headers");
    let verify = |secret_env: &str, headers: &Path, body: &Path| {
        s.bare()
            .env("HOOK_SECRET", secret_env)
            .args(["webhooks", "verify", "--secret-env", "HOOK_SECRET"])
            .arg("--headers")
            .arg(headers)
            .arg("--body")
            .arg(body)
            .output()
            .expect("geopera runs")
    };

    let output = verify(secret, &headers_path, &body_path);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let event = stdout_json(&output);
    assert_eq!(event["event"], "OrderFulfilled");
    assert_eq!(event["order_id"], "ord_1");
    assert_eq!(event["delivery_id"], "dlv_9");
    assert_eq!(event["body"]["entity_id"], "ord_1");

    // The secret on the command line works too, and is never echoed.
    let output = s
        .bare()
        .args(["webhooks", "verify", "--secret", secret])
        .arg("--headers")
        .arg(&headers_path)
        .arg("--body")
        .arg(&body_path)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!text(&output.stdout).contains(secret));

    let refused = |output: std::process::Output, why: &str| {
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.to_lowercase().contains(why), "{stderr}");
        assert!(!stderr.contains(secret), "{stderr}");
        assert!(output.stdout.is_empty());
    };
    // A body changed after signing.
    let tampered = dir.path().join("tampered.json");
    std::fs::write(
        &tampered,
        String::from_utf8_lossy(body).replace("ord_1", "ord_2"),
    )
    .expect("tampered");
    refused(
        verify(secret, &headers_path, &tampered),
        "signature does not match",
    );
    // Another secret.
    refused(
        verify("whsec_other", &headers_path, &body_path),
        "signature does not match",
    );
    // A second event header that says another event than the one verified.
    let contradicting = dir.path().join("contradicting.txt");
    let first = std::fs::read_to_string(&headers_path).expect("headers");
    for extra in [
        "X-Geopera-Event: order.cancelled\n",
        "x-geopera-event-id: evt_2\n",
    ] {
        std::fs::write(&contradicting, format!("{first}{extra}")).expect("headers");
        refused(
            verify(secret, &contradicting, &body_path),
            "contradicts the one on line",
        );
    }
    // Headers from stdin, as a capture piped in.
    let output = s
        .bare()
        .env("HOOK_SECRET", secret)
        .args([
            "webhooks",
            "verify",
            "--secret-env",
            "HOOK_SECRET",
            "--headers",
            "-",
        ])
        .arg("--body")
        .arg(&body_path)
        .write_stdin(first.clone())
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output)["event_id"], "evt_1");
    let output = s
        .bare()
        .env("HOOK_SECRET", secret)
        .args(["webhooks", "verify", "--secret-env", "HOOK_SECRET"])
        .args(["--headers", "-", "--body", "-"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    // No signature header.
    let unsigned = dir.path().join("unsigned.txt");
    std::fs::write(&unsigned, "X-Geopera-Event: order.fulfilled\n").expect("headers");
    refused(
        verify(secret, &unsigned, &body_path),
        "no x-geopera-signature header",
    );
}

#[test]
fn webhooks_verify_never_prints_a_signing_secret_given_where_another_word_belongs() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let (headers, body) = (dir.path().join("headers.txt"), dir.path().join("body.json"));
    std::fs::write(&headers, "X-Geopera-Signature: sha256=00\n").expect("headers");
    std::fs::write(&body, "{}").expect("body");
    let secret = "whsec_pasted_0123456789abcdef";
    // The secret as the name of its variable, and as a stray argument clap quotes back.
    let runs = [
        (
            vec!["--secret-env", secret],
            1,
            "takes the name of the variable",
        ),
        (
            vec!["--secret-env", "HOOK_SECRET", secret],
            2,
            "unexpected argument",
        ),
    ];
    for (args, code, why) in runs {
        let output = s
            .bare()
            .args(["webhooks", "verify"])
            .args(&args)
            .arg("--headers")
            .arg(&headers)
            .arg("--body")
            .arg(&body)
            .output()
            .expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(stderr.contains("[redacted]"), "{stderr}");
        assert!(!stderr.contains("pasted_0123456789abcdef"), "{stderr}");
    }
}

#[test]
fn output_table_and_yaml_and_jq() {
    let s = setup();
    let search = [
        "catalog",
        "search",
        "--host-name",
        "earthsearch-aws",
        "--limit",
        "3",
    ];
    let json = stdout_json(&s.cli().args(search).output().expect("geopera runs"));
    let ids: Vec<&str> = json["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3);

    // A table of STAC items: a header, then one row per item with its id first. Off a
    // terminal there is no colour.
    let output = s
        .cli()
        .args(search)
        .args(["--output", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("ID")
            && lines[0].contains("COLLECTION")
            && lines[0].contains("CLOUD COVER"),
        "{table}"
    );
    assert!(!table.contains('\x1b'));
    for (line, feature) in lines[1..]
        .iter()
        .zip(json["features"].as_array().expect("features"))
    {
        assert!(
            line.starts_with(feature["id"].as_str().expect("an id")),
            "{line}"
        );
        assert!(
            line.contains(feature["collection"].as_str().expect("a collection")),
            "{line}"
        );
    }

    // Orders get their own columns.
    let output = s
        .cli()
        .args(["orders", "list", "--size", "2", "-o", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.lines().next().unwrap_or_default().contains("STATUS"));
    assert_eq!(table.lines().count(), 3, "{table}");

    // A page past the last, or a search that matched nothing, is a table with no rows: the
    // header when its list's name gives the columns, else nothing; never the page's members.
    let empty_search = [
        "catalog",
        "search",
        "--host-name",
        "earthsearch-aws",
        "--ids",
        "nosuchitem",
        "-o",
        "table",
    ];
    for (args, printed) in [
        (&empty_search[..], "ID  COLLECTION  DATETIME  CLOUD COVER\n"),
        (
            &[
                "orders", "list", "--size", "2", "--page", "999", "-o", "table",
            ][..],
            "",
        ),
    ] {
        let output = s.cli().args(args).output().expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert_eq!(text(&output.stdout), printed, "{args:?}");
    }

    // YAML reads like the JSON, members in order.
    let output = s
        .cli()
        .args(search)
        .args(["--output", "yaml"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let yaml = text(&output.stdout);
    assert!(yaml.contains(&format!("id: {}", ids[0])), "{yaml}");

    // --jq filters the answer; each result is printed.
    let output = s
        .cli()
        .args(search)
        .args(["--jq", ".features[].id"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let printed: Vec<String> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<String>(line).expect("a JSON string"))
        .collect();
    assert_eq!(printed, ids);
    // With --all, on every item.
    let output = s
        .cli()
        .args(["orders", "list", "--size", "5", "--all", "--jq", ".orderId"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).lines().count() > 5);
    // A program that does not compile is a usage error and nothing is sent.
    let before = s.emulator.executed("catalog.search");
    let output = s
        .cli()
        .args(search)
        .args(["--jq", ".features[ | nosuch"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).starts_with("Error: --jq"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(s.emulator.executed("catalog.search"), before);
}

#[test]
fn ctrl_c_during_a_long_jq_program_exits_130_promptly() {
    let s = setup();
    // `last` and `range` are native filters: the loop never leaves jaq's own code.
    for program in ["last(range(1e12))", "reduce range(1e12) as $x (0; . + 1)"] {
        let mut child = s
            .process()
            .args(SEARCH_ONE)
            .args(["--jq", program])
            .spawn()
            .expect("geopera starts");
        executed_soon(&s, "catalog.search", Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(300));
        let (status, stderr) = interrupted(&mut child);
        assert_eq!(status.code(), Some(130), "{program}: {stderr}");
        assert!(stderr.contains("Error: interrupted"), "{program}: {stderr}");
    }
}

/// A server of the test's own that answers one request with `answer`, and says on the
/// channel it returns once the answer is written whole.
fn answering_once(answer: String) -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (written, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        request_body(&stream);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{answer}",
            answer.len()
        );
        let _ = written.send(());
    });
    (url, heard)
}

/// A page whose cursor is no text says there is more but names nothing to ask for: `--all`
/// prints the page's items and exits 1 naming the cursor, where it used to exit 0 as if on
/// the last page.
#[test]
fn all_fails_on_a_cursor_that_is_no_text_after_printing_the_page() {
    let s = setup();
    let page = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"item-0","properties":{}}],"next":42}"#;
    let (url, _written) = answering_once(page.to_owned());
    let output = s
        .cli()
        .env("GEOPERA_API_URL", &url)
        .env("GEOPERA_API_TOKEN", "gpra_test")
        .args([
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--all",
        ])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`next` is a number"), "{stderr}");
    let printed = text(&output.stdout);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(printed.contains(r#""id":"item-0""#), "{printed}");
}

#[test]
fn ctrl_c_while_a_huge_answer_is_checked_or_laid_out_exits_130_promptly() {
    let s = setup();
    // About 40 MB: laying it out takes seconds, all of it after the answer has arrived.
    let mut answer = String::from(r#"{"items":["#);
    for i in 0..400_000 {
        if i > 0 {
            answer.push(',');
        }
        answer.push_str(&format!(
            r#"{{"id":"x{i}","status":"ok","n":{i},"name":"item {i}","k":{{"a":[1,2,3]}}}}"#
        ));
    }
    answer.push_str("]}");
    for output in ["table", "yaml", "json"] {
        let (url, written) = answering_once(answer.clone());
        let mut child = s
            .process()
            .env("GEOPERA_API_URL", &url)
            .env("GEOPERA_API_TOKEN", "gpra_test")
            .args(["orders", "list", "-o", output])
            .stdout(Stdio::null())
            .spawn()
            .expect("geopera starts");
        written
            .recv_timeout(Duration::from_secs(30))
            .expect("the answer was sent");
        std::thread::sleep(Duration::from_millis(500));
        let (status, stderr) = interrupted(&mut child);
        assert_eq!(status.code(), Some(130), "-o {output}: {stderr}");
        assert_eq!(stderr, "Error: interrupted\n", "-o {output}");
    }
}

#[test]
fn a_jq_program_that_recurses_without_end_is_an_error_not_an_abort() {
    let s = setup();
    for program in ["def f: 1 + f; f", "def f: [f]; f"] {
        let output = s
            .cli()
            .args(SEARCH_ONE)
            .args(["--jq", program])
            .timeout(Duration::from_secs(30))
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(
            &output,
            1,
            "Error: --jq: the program recursed too deep",
            program,
        );
        assert!(!stderr.contains("overflow"), "{stderr}");
    }
    // A recursion with an end is evaluated.
    let output = s
        .cli()
        .args(SEARCH_ONE)
        .args([
            "--jq",
            "def fact: if . <= 1 then 1 else . * (. - 1 | fact) end; 20 | fact",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "2432902008176640000");
}

#[test]
fn a_jq_result_nested_too_deep_to_print_is_an_error_not_an_abort() {
    let s = setup();
    // Built without recursion, so the bound on a program's recursion never meets them.
    let programs = [
        "reduce range(200000) as $i (null; [.])",
        "[range(100000)] | reduce .[] as $x (null; {a: .})",
    ];
    for program in programs {
        for output in ["json", "ndjson", "table", "yaml"] {
            let run = s
                .cli()
                .args(SEARCH_ONE)
                .args(["--jq", program, "-o", output])
                .timeout(Duration::from_secs(30))
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(
                &run,
                1,
                "Error: --jq: a result of the program nests arrays and objects 128 levels deep",
                (program, output),
            );
            assert!(!stderr.contains("overflow"), "{stderr}");
            assert!(run.stdout.is_empty(), "{program} -o {output}");
        }
    }
    // The results before it are printed; one level less than the limit is printed whole.
    let run = s
        .cli()
        .args(SEARCH_ONE)
        .args([
            "--jq",
            "1, (reduce range(127) as $i (null; [.]) | tojson | length), \
             reduce range(128) as $i (null; [.])",
            "-o",
            "ndjson",
        ])
        .output()
        .expect("geopera runs");
    fails_saying(&run, 1, "which is not printed", "the 128th level");
    assert_eq!(text(&run.stdout), format!("1\n{}\n", 127 * 2 + 4));
}

#[test]
fn a_jq_result_that_is_not_json_shows_server_text_escaped_or_is_named_as_such() {
    let s = setup();
    // Raw C1 controls and bidirectional formatting characters are valid in JSON strings.
    let answer = "{\"x\":\"a\u{9b}31m\u{202e}b\"}";
    for form in [&[][..], &["-o", "ndjson"]] {
        let url = canned_server(200, answer.to_owned(), 1);
        let output = s
            .against(&url)
            .args(["orders", "list", "--jq", "[nan, .x]"])
            .args(form)
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{form:?}: {}",
            text(&output.stderr)
        );
        let shown = text(&output.stdout);
        assert!(
            !shown.contains(['\u{9b}', '\u{202e}']),
            "{form:?}: {shown:?}"
        );
        assert!(shown.contains(r"a\u009b31m\u202eb"), "{form:?}: {shown:?}");
    }
    for format in ["table", "yaml"] {
        let url = canned_server(200, answer.to_owned(), 1);
        let output = s
            .against(&url)
            .args(["orders", "list", "--jq", "{(1): .x}", "-o", format])
            .output()
            .expect("geopera runs");
        fails_saying(&output, 1, "a result of --jq is not JSON", format);
    }
}

#[test]
fn jq_results_with_nan_or_infinities_are_printed_as_jq_prints_them() {
    let s = setup();
    let program = "[nan, infinite, -infinite, {a: [nan]}, 1.5]";
    let expected = serde_json::json!([null, f64::MAX, -f64::MAX, {"a": [null]}, 1.5]);
    for form in ["json", "ndjson", "yaml"] {
        let url = canned_server(200, "{}".to_owned(), 1);
        let output = s
            .against(&url)
            .args(["orders", "list", "--jq", program, "-o", form])
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{form}: {}",
            text(&output.stderr)
        );
        let shown = text(&output.stdout);
        assert!(
            !shown.contains("NaN") && !shown.contains("Infinity"),
            "{form}: {shown}"
        );
        if form == "yaml" {
            assert!(
                shown.contains("- null\n") && shown.contains("a:\n  - null"),
                "{shown}"
            );
        } else {
            let read: serde_json::Value = serde_json::from_str(&shown).expect("the result is JSON");
            assert_eq!(read, expected, "{form}");
        }
    }
}

#[test]
fn json_text_nested_too_deep_for_fromjson_is_a_jq_error_not_an_abort() {
    let s = setup();
    // The brackets are inside a string, so the answer itself is shallow and is read; jaq's
    // parser behind `fromjson` recursed once per `[`: a stack overflow, exit 134.
    let answer = format!(r#"{{"x":"{}"}}"#, "[".repeat(1_000_000));
    let url = canned_server(200, answer, 2);
    let output = search_at(&s, &url)
        .args(["--jq", ".x | fromjson"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(
        &output,
        1,
        "as JSON: it nests arrays and objects 128 levels deep or more",
        "an answer's member",
    );
    assert!(!stderr.contains("overflow"), "{stderr}");
    assert!(output.stdout.is_empty());
    // A jq error like any other: `try` catches it.
    let output = search_at(&s, &url)
        .args(["--jq", r#"try (.x | fromjson) catch "refused""#])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "\"refused\"\n");
    // Text a program makes, as the first report had it.
    let output = s
        .cli()
        .args(SEARCH_ONE)
        .args(["--jq", r#""[" * 1000000 | fromjson"#])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("geopera runs");
    fails_saying(&output, 1, "Error: --jq: ", "a program's text");
}

#[test]
fn a_jq_error_quoting_a_huge_value_is_one_short_line_naming_its_length() {
    let s = setup();
    let url = canned_server(200, format!(r#"{{"x":"{}"}}"#, "y".repeat(5_000_000)), 1);
    let runs = [
        // The first report: the whole string was quoted, a line of 50 MB.
        (
            s.cli()
                .args(SEARCH_ONE)
                .args(["--jq", r#"("x" * 50000000) | fromjson"#])
                .timeout(Duration::from_secs(60))
                .output(),
            "50000002",
        ),
        // A string from the answer, in a type error of jaq's own.
        (
            search_at(&s, &url)
                .args(["--jq", ".x | .[0]"])
                .timeout(Duration::from_secs(60))
                .output(),
            "5000022",
        ),
    ];
    for (output, length) in runs {
        let output = output.expect("geopera runs");
        let stderr = fails_saying(
            &output,
            1,
            &format!("… ({length} characters in all)"),
            length,
        );
        assert!(stderr.starts_with("Error: --jq: "), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.len() < 1_000, "{} bytes", stderr.len());
    }
}

#[test]
fn yaml_output_spells_exponents_so_yaml_1_1_reads_floats_with_the_same_digits() {
    let s = setup();
    let answer = r#"{"features":[],"values":[1e-7,1E3,1.5e10,1e300,1e400,2.5E-3,1.50,12345678901234567890]}"#;
    let url = canned_server(200, answer.to_owned(), 1);
    let output = printed_with(&s, &url, &["-o", "yaml"]);
    let yaml = text(&output.stdout);
    // As the server wrote them, YAML 1.1 readers took `1e-7`, `1E3`, `1.5e10` for strings.
    assert_eq!(
        yaml,
        "features: []\nvalues:\n- 1.0e-7\n- 1.0E+3\n- 1.5e+10\n- 1.0e+300\n- 1.0e+400\n- 2.5E-3\n\
         - 1.50\n- 12345678901234567890\n"
    );
    // Read back by a YAML 1.1 reader too, where one is installed.
    let check = "import sys, yaml\n\
                 values = yaml.safe_load(sys.stdin)['values']\n\
                 print(' '.join(type(x).__name__ for x in values))";
    let python = std::process::Command::new("python3")
        .args(["-c", check])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut python) = python else {
        eprintln!("skipped the PyYAML reading: no python3");
        return;
    };
    if let Some(mut stdin) = python.stdin.take() {
        stdin.write_all(yaml.as_bytes()).expect("to python3");
    }
    let read = python.wait_with_output().expect("python3 runs");
    if text(&read.stderr).contains("No module named 'yaml'") {
        eprintln!("skipped the PyYAML reading: PyYAML is not installed");
        return;
    }
    assert_eq!(read.status.code(), Some(0), "{}", text(&read.stderr));
    assert_eq!(
        text(&read.stdout).trim(),
        "float float float float float float float int"
    );
}

#[test]
fn verbose_and_debug_trace_calls_on_stderr_without_the_credential() {
    let s = setup();
    // `-vv` is `--debug`, which adds the connections' events; `-v` twice apart counts too.
    for (flags, connections) in [
        (&["-v"][..], false),
        (&["-vv"][..], true),
        (&["-v", "--verbose"][..], true),
        (&["--debug"][..], true),
    ] {
        let output = s
            .cli()
            .args(SEARCH_ONE)
            .args(flags)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        let flag = flags.join(" ");
        assert_eq!(
            stderr.contains("hyper_util"),
            connections,
            "{flag}: {stderr}"
        );
        assert!(stderr.contains("catalog.search"), "{flag}: {stderr}");
        assert!(stderr.contains("request_id"), "{flag}: {stderr}");
        assert!(
            !stderr.contains(s.emulator.api_key()),
            "{flag} shows the key"
        );
        stdout_json(&output);
    }
    // Without either, stderr stays empty.
    let output = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

/// A shared rate budget whose Redis does not answer leaves the process pacing on its own: the
/// call is made, and stderr says so in one `Warning:` line, terminal or not, where only `-v`
/// said it before.
#[test]
fn an_unreachable_rate_budget_is_one_warning_and_the_call_is_made() {
    let s = setup();
    let output = s
        .cli()
        .args(["--rate-budget-redis", "redis://127.0.0.1:1/"])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    stdout_json(&output);
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("Warning: shared rate budget unreachable"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(s.emulator.executed("catalog.search"), 1);
}

/// A `redis-server` of the test's own on a free port, killed when dropped; `None` when the
/// server is not installed, which [`Redis::start`] says before the test skips (CI installs
/// it, and fails without it).
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    /// A port found free can be taken before redis-server binds it, by the server of a test
    /// running beside this one, which this test would then share and lose when that test
    /// ends: so the server that answers must be this child, by its process id, or another
    /// free port is tried (a few times).
    fn start() -> Option<Redis> {
        Redis::start_with(&[])
    }

    /// [`Redis::start`], with more arguments for the server.
    fn start_with(more: &[&str]) -> Option<Redis> {
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .map(|addr| addr.port())
                .ok()?;
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(more)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(child) = child else {
                eprintln!("redis-server is not installed: skipping this shared rate budget test");
                return None;
            };
            let mut redis = Redis { child, port };
            if redis.answers_as_itself() {
                return Some(redis);
            }
        }
        panic!("no redis-server of this test's own answered in 10 tries");
    }

    /// Waits (5 s at most) for the server on this port to answer, and says whether it is
    /// this child: false when the child exits (its port was taken) or another answers.
    fn answers_as_itself(&mut self) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let info = self.command(&["INFO", "server"]);
                let pid = info
                    .split("process_id:")
                    .nth(1)
                    .and_then(|rest| rest.split("\r\n").next())
                    .and_then(|pid| pid.trim().parse::<u32>().ok());
                return pid == Some(self.child.id());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on {} within 5 s", self.port)
    }

    /// The URL the command line is given for it.
    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The keys the server holds.
    fn keys(&self) -> String {
        self.command(&["KEYS", "*"])
    }

    /// Holds the budget of `class` (its key name, as `default`) of `organization` for
    /// `hold_ms` from now on Redis's clock, as a 429 told to the budget by another process of
    /// the fleet would.
    fn hold(&self, organization: &str, class: &str, hold_ms: u64) {
        let script = "local t = redis.call('TIME') \
                      redis.call('SET', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000) + ARGV[1]) \
                      return 0";
        let key = format!("geopera:{{{organization}}}:{class}:blocked");
        let answer = self.command(&["EVAL", script, "1", &key, &hold_ms.to_string()]);
        assert_eq!(answer, ":0\r\n", "the hold is set");
    }

    /// Sends one command over RESP and answers the server's reply as text.
    fn command(&self, words: &[&str]) -> String {
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        let mut request = format!("*{}\r\n", words.len());
        for word in words {
            request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        stream
            .write_all(request.as_bytes())
            .expect("send the command");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a read timeout");
        let mut answer = vec![0u8; 64 * 1024];
        let read = std::io::Read::read(&mut stream, &mut answer).expect("read the answer");
        String::from_utf8_lossy(&answer[..read]).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_shared_rate_budget_is_drawn_from_redis_and_a_dead_redis_is_no_failure() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let setup = setup();
    let url = redis.url();
    let output = setup
        .cli()
        .args(["--rate-budget-redis", &url, "--rate-budget-org", "org_cli"])
        .args(SEARCH_ONE)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output)["type"], "FeatureCollection");
    let keys = redis.keys();
    assert!(
        keys.contains("org_cli"),
        "the call was counted in Redis: {keys}"
    );

    // From the environment too; and with nothing listening, the call paces alone.
    drop(redis);
    let output = setup
        .cli()
        .env("GEOPERA_RATE_BUDGET_REDIS", url)
        .args(SEARCH_ONE)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// A free port on 127.0.0.1 (free when asked).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A certificate authority made now, and a certificate it signed for 127.0.0.1, as PEM files
/// in `dir`: (the authority's, the server's, the server's key).
fn tls_files(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("parameters");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).expect("an authority");
    let key = rcgen::KeyPair::generate().expect("a key");
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("parameters")
        .signed_by(&key, &ca, &ca_key)
        .expect("a certificate");
    let files = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&files.0, ca.pem()).expect("written");
    std::fs::write(&files.1, server.pem()).expect("written");
    std::fs::write(&files.2, key.serialize_pem()).expect("written");
    files
}

/// A Redis that speaks only TLS (`rediss://`, its certificate signed by an authority made by
/// the test) is shared through when `--rate-budget-redis-ca` (or its variable) names that
/// authority; without it, the certificate is refused and the command paces alone, with a
/// warning, as for any Redis it cannot reach.
#[test]
fn a_shared_rate_budget_over_tls_trusts_the_authority_it_is_given() {
    let dir = tempfile::tempdir().expect("a folder");
    let (ca, cert, key) = tls_files(dir.path());
    let tls_port = free_port().to_string();
    let (cert, key, ca) = (
        cert.display().to_string(),
        key.display().to_string(),
        ca.display().to_string(),
    );
    let Some(redis) = Redis::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "no",
    ]) else {
        return;
    };
    let setup = setup();
    let url = format!("rediss://127.0.0.1:{tls_port}/");
    let output = setup
        .cli()
        .args(["--rate-budget-redis", &url, "--rate-budget-org", "org_tls"])
        .args(["--rate-budget-redis-ca", &ca])
        .args(SEARCH_ONE)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        !text(&output.stderr).contains("Warning"),
        "{}",
        text(&output.stderr)
    );
    assert!(redis.keys().contains("org_tls"), "counted through TLS");

    let output = setup
        .cli()
        .env("GEOPERA_RATE_BUDGET_REDIS_CA", &ca)
        .args(["--rate-budget-redis", &url, "--rate-budget-org", "org_env"])
        .args(SEARCH_ONE)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        redis.keys().contains("org_env"),
        "the variable names it too"
    );

    let output = setup
        .cli()
        .args([
            "--rate-budget-redis",
            &url,
            "--rate-budget-org",
            "org_untrusted",
        ])
        .args(SEARCH_ONE)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("Warning"),
        "the refused certificate is said: {}",
        text(&output.stderr)
    );
    assert!(!redis.keys().contains("org_untrusted"));
}

#[test]
fn man_pages_cover_every_command() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let output = s
        .bare()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("pages")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // A page per command: the 202 operations of the tree, their groups and the rest.
    let operations = s
        .bare()
        .args(["op", "--list"])
        .output()
        .expect("geopera runs");
    assert!(
        names.len() > text(&operations.stdout).lines().count() - 25,
        "{} pages",
        names.len()
    );
    // clap's `help` subcommands get no pages: they would be most of the folder.
    let helps: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with("-help.1") || n.contains("-help-"))
        .collect();
    assert!(helps.is_empty(), "{} help pages: {helps:?}", helps.len());
    // Nor does any page refer to one, or to any other page that is not written: every
    // `geopera-…(1)` a page names (in roff, `geopera\-orders\-list(1)`) is a file here.
    let mut references = 0;
    for name in &names {
        let page = std::fs::read_to_string(dir.path().join(name)).expect("page");
        for (at, _) in page.match_indices("(1)") {
            let start = page[..at]
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || "\\-_".contains(*c)))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let referred = page[start..at].replace("\\-", "-");
            if !referred.starts_with("geopera") {
                continue;
            }
            references += 1;
            assert!(
                names.contains(&format!("{referred}.1")),
                "{name} refers to {referred}(1), which is not written"
            );
        }
    }
    assert!(references > 200, "{references} references");
    for name in [
        "geopera.1",
        "geopera-login.1",
        "geopera-orders-wait.1",
        "geopera-orders-archive-place.1",
        "geopera-catalog-search.1",
        "geopera-upload.1",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
    let top = std::fs::read_to_string(dir.path().join("geopera.1")).expect("page");
    assert!(top.contains(".TH geopera 1"), "{top}");
    assert!(top.contains("Exit codes"));
    let search =
        std::fs::read_to_string(dir.path().join("geopera-catalog-search.1")).expect("page");
    assert!(search.contains(r"\-\-host\-name"), "{search}");
    assert!(text(&output.stderr).contains(&format!("{} manual pages", names.len())));

    let output = s.bare().arg("man").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains(".TH geopera 1"));
}

#[test]
fn colour_only_on_a_terminal_or_when_forced() {
    let s = setup();
    let plain = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    assert_eq!(plain.status.code(), Some(0));
    assert!(!plain.stdout.contains(&0x1b), "no colour into a pipe");
    let forced = s
        .cli()
        .env("CLICOLOR_FORCE", "1")
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    let coloured = text(&forced.stdout);
    assert!(coloured.contains("\u{1b}["), "{coloured}");
    assert_eq!(strip_ansi(&coloured), text(&plain.stdout), "same text");
    let refused = s
        .cli()
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(refused.stdout, plain.stdout, "NO_COLOR wins");
    let error = s
        .cli()
        .env("CLICOLOR_FORCE", "1")
        .args(["orders", "get", "--order-id", "ord_missing"])
        .output()
        .expect("geopera runs");
    assert_eq!(error.status.code(), Some(2));
    let stderr = text(&error.stderr);
    assert!(stderr.starts_with("\u{1b}["), "{stderr:?}");
    assert!(
        strip_ansi(&stderr).starts_with("Error: [404] "),
        "{stderr:?}"
    );
}

/// Removes SGR sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A server of the test's own: reads one request on each of at most `connections`
/// connections, answers it with what `answer` makes of the request body (status, JSON), and
/// closes the connection.
fn test_server(
    connections: usize,
    answer: impl Fn(&[u8]) -> (u16, String) + Send + 'static,
) -> String {
    typed_test_server("application/json", connections, answer)
}

/// [`test_server`] answering with `content_type`.
fn typed_test_server(
    content_type: &'static str,
    connections: usize,
    answer: impl Fn(&[u8]) -> (u16, String) + Send + 'static,
) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let request_body = request_body(&stream);
            let (status, body) = answer(&request_body);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// Reads one request from `stream`, its head and then as much body as its `Content-Length`
/// says (at most 1 MiB), each read waiting at most 5 s, and gives the head's lines (the
/// request line first) and the body: what it got of it when the client stopped sending.
fn read_request(stream: &std::net::TcpStream) -> (Vec<String>, Vec<u8>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(reading) = stream.try_clone() else {
        return (Vec::new(), Vec::new());
    };
    let mut reader = BufReader::new(reading);
    let (mut head, mut length) = (Vec::new(), 0usize);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {
                if let Some(n) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap_or(0);
                }
                head.push(line.trim_end().to_owned());
            }
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    let _ = std::io::Read::read_exact(&mut reader, &mut body);
    (head, body)
}

/// The body of the request [`read_request`] reads from `stream`.
fn request_body(stream: &std::net::TcpStream) -> Vec<u8> {
    read_request(stream).1
}

/// [`test_server`] with one fixed answer.
fn canned_server(status: u16, body: String, connections: usize) -> String {
    test_server(connections, move |_| (status, body.clone()))
}

/// The peak resident memory `child` reached (KiB), sampled every `every` until it exits; it
/// may not take more than two minutes.
fn peak_until_exit(child: &mut std::process::Child, every: Duration) -> u64 {
    let started = std::time::Instant::now();
    let mut peak = 0;
    while child.try_wait().expect("status").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "still running"
        );
        peak = peak.max(peak_kib(child.id()).unwrap_or(0));
        std::thread::sleep(every);
    }
    peak
}

/// The peak resident memory of a running process so far (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn all_streams_many_pages_in_constant_memory() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: the memory of --all is not measured here");
        return;
    }
    // 200 cursor pages of 500 items, about 25 MB of output in all.
    const PAGES: usize = 200;
    const ITEMS: usize = 500;
    let padding = "x".repeat(150);
    let url = test_server(PAGES + 5, move |request| {
        let body: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
        let page: usize = body["next"]
            .as_str()
            .and_then(|n| n.strip_prefix('p'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let features: Vec<String> = (0..ITEMS)
            .map(|i| {
                format!(
                    r#"{{"type":"Feature","id":"it_{page}_{i}","collection":"c","properties":{{"datetime":"2024-01-01T00:00:00Z","pad":"{padding}"}}}}"#
                )
            })
            .collect();
        let next = if page + 1 < PAGES {
            format!(r#","next":"p{}""#, page + 1)
        } else {
            String::new()
        };
        (
            200,
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]{next}}}"#,
                features.join(",")
            ),
        )
    });
    let s = setup();
    let mut child = std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .env("GEOPERA_API_URL", &url)
        .env("GEOPERA_API_TOKEN", "gpra_test")
        .args([
            "catalog",
            "search",
            "--host-name",
            "h",
            "--limit",
            "500",
            "--all",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let (mut lines, mut bytes, mut last) = (0usize, 0usize, String::new());
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("a line");
            lines += 1;
            bytes += line.len() + 1;
            last = line;
        }
        (lines, bytes, last)
    });
    let peak = peak_until_exit(&mut child, Duration::from_millis(20));
    let status = child.wait().expect("status");
    let (lines, bytes, last) = reader.join().expect("the reader");
    assert!(status.success());
    assert_eq!(lines, PAGES * ITEMS);
    assert!(last.contains(&format!("it_{}_{}", PAGES - 1, ITEMS - 1)));
    let peak_mib = peak / 1024;
    eprintln!("--all printed {bytes} bytes; peak RSS {peak_mib} MiB");
    assert!(bytes > 25_000_000, "{bytes}");
    assert!(peak > 0, "the peak was read");
    assert!(peak_mib < 40, "peak RSS {peak_mib} MiB for {bytes} bytes");
}

/// A server whose cursors go round (start → a → b → a): `--all` prints each page's item once,
/// then fails (exit 1) saying why it stopped, so a script cannot take the list for complete.
#[test]
fn all_stops_with_an_error_when_the_server_repeats_a_cursor() {
    let url = test_server(10, |request| {
        let body: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
        let (this, next) = match body["next"].as_str() {
            None => ("start", "a"),
            Some("a") => ("a", "b"),
            Some(_) => ("b", "a"),
        };
        (
            200,
            format!(
                r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":"it_{this}","properties":{{}}}}],"next":"{next}"}}"#
            ),
        )
    });
    let (ids, stderr) = all_ending_in_an_error(
        &url,
        &["catalog", "search", "--host-name", "h", "--limit", "1"],
    );
    assert_eq!(ids, [r#""it_start""#, r#""it_a""#, r#""it_b""#]);
    assert!(
        stderr.contains("Error:")
            && stderr.contains("cursor it had already sent")
            && stderr.contains("after 3 pages"),
        "{stderr}"
    );
    // Known before its page is printed, the repeat outlives a `--jq` program that halts on
    // that page: the walk did not end where the program stopped reading it.
    let (ids, stderr) = all_ending_in_an_error(
        &url,
        &[
            "catalog",
            "search",
            "--host-name",
            "h",
            "--limit",
            "1",
            "--jq",
            r#"if .id == "it_b" then halt else . end"#,
        ],
    );
    assert_eq!(ids, [r#""it_start""#, r#""it_a""#]);
    assert!(stderr.contains("cursor it had already sent"), "{stderr}");
}

/// Runs `args --all` against the server at `url`, which must end the walk with exit 1;
/// returns the ids of the items printed (as JSON text) and what went to stderr.
fn all_ending_in_an_error(url: &str, args: &[&str]) -> (Vec<String>, String) {
    let s = setup();
    let out = s
        .bare()
        .env("GEOPERA_API_URL", url)
        .env("GEOPERA_API_TOKEN", "gpra_test")
        .args(args)
        .arg("--all")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let ids = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("an item")["id"].to_string())
        .collect();
    (ids, stderr)
}

/// A server that ignores `offset` and answers every page with the first: `--all` prints its
/// items once, then fails (exit 1) saying why it stopped, instead of printing them for ever.
#[test]
fn all_stops_with_an_error_when_the_server_answers_the_same_page_again() {
    let url = test_server(10, |_| {
        (
            200,
            r#"{"items":[{"id":"first"},{"id":"second"}]}"#.to_owned(),
        )
    });
    let (ids, stderr) = all_ending_in_an_error(
        &url,
        &["items", "list", "--project-id", "p", "--limit", "2"],
    );
    assert_eq!(ids, [r#""first""#, r#""second""#]);
    assert!(
        stderr.contains("Error:")
            && stderr.contains("same items as the page before")
            && stderr.contains("after 1 pages"),
        "{stderr}"
    );
}

#[test]
fn text_from_the_server_cannot_steer_the_terminal() {
    let s = setup();
    // ESC and BEL must be escaped in JSON; the C1 control CSI (U+009B) may appear raw.
    let answer = format!(
        r#"{{"features":[{{"type":"Feature","id":"a\u001b]0;owned\u0007","collection":"c\u001b[2J","properties":{{"datetime":"d{csi}31m"}}}}],"note":"n{csi}1m"}}"#,
        csi = '\u{9b}'
    );
    let steers = |bytes: &[u8]| {
        let shown = text(bytes);
        shown.contains(['\u{1b}', '\u{7}', '\u{9b}'])
    };
    for format in ["json", "table", "yaml", "ndjson"] {
        let url = canned_server(200, answer.clone(), 1);
        let output = s
            .against(&url)
            .args(["catalog", "search", "--host-name", "h", "-o", format])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(
            !steers(&output.stdout),
            "{format}: {:?}",
            text(&output.stdout)
        );
        if format == "json" {
            // Still the same JSON, the CSI written as an escape.
            let back = stdout_json(&output);
            assert_eq!(back["note"], "n\u{9b}1m");
        }
    }
    let problem = r#"{"title":"bad\u001b[31m","detail":"see \u001b]8;;http://evil.example\u0007here\u001b]8;;\u0007"}"#;
    let url = canned_server(404, problem.to_owned(), 1);
    let output = s
        .against(&url)
        .args(["orders", "get", "--order-id", "o"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(!steers(&output.stderr), "{:?}", text(&output.stderr));
    assert!(text(&output.stderr).contains(r"\u{1b}]8;;http://evil.example"));
}

/// A password the body carries stays out of the error an answer quoting it makes, as the
/// call's own credential does: a gateway echoing the body printed it on stderr.
#[test]
fn a_password_in_the_body_stays_out_of_an_error_quoting_it() {
    let s = setup();
    for (status, answer) in [
        (400, r#"{"detail":"rejected password hunter2hunter2"}"#),
        (
            422,
            r#"{"detail":[{"loc":["body","password"],"input":"hunter2hunter2"}]}"#,
        ),
    ] {
        let url = canned_server(status, answer.to_owned(), 1);
        let output = s
            .against(&url)
            .args([
                "share",
                "link",
                "create",
                "--target-type",
                "item",
                "--target-id",
                "x",
            ])
            .args([
                "--password",
                "hunter2hunter2",
                "--expires-at",
                "2030-01-01T00:00:00Z",
            ])
            .output()
            .expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("[redacted]") || status == 422, "{stderr}");
        assert!(!stderr.contains("hunter2hunter2"), "{stderr}");
    }
    // Quoted inside a JSON string, as a server echoing the body quotes it.
    let echoed = r#"{"detail":"bad body: {\"password\":\"hunter2\\\"hunter2\"}"}"#;
    let url = canned_server(400, echoed.to_owned(), 1);
    let output = s
        .against(&url)
        .args([
            "share",
            "link",
            "create",
            "--target-type",
            "item",
            "--target-id",
            "x",
        ])
        .args([
            "--password",
            "hunter2\"hunter2",
            "--expires-at",
            "2030-01-01T00:00:00Z",
        ])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[redacted]"), "{stderr}");
    assert!(!stderr.contains("hunter2\\\"hunter2"), "{stderr}");
}

#[test]
fn a_long_cell_in_a_table_is_printed_whole_without_widening_every_other_row() {
    let s = setup();
    // One value of 100,000 characters among a thousand short ones: padded to it, each of the
    // other rows would carry 100,000 blanks, a table of 100 MB from an answer of 130 KB.
    let long = "x".repeat(100_000);
    let mut rows = vec![format!(r#"{{"id":"{long}","name":"long"}}"#)];
    rows.extend((0..1000).map(|i| format!(r#"{{"id":"i{i}","name":"n{i}"}}"#)));
    let answer = format!(r#"{{"results":[{}],"count":1001}}"#, rows.join(","));
    let url = canned_server(200, answer.clone(), 1);
    let output = printed_with(&s, &url, &["-o", "table"]);
    let table = text(&output.stdout);
    assert!(
        table.len() < 2 * answer.len(),
        "a table of {} bytes from an answer of {}",
        table.len(),
        answer.len()
    );
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1002, "a heading and every row");
    assert_eq!(lines[1], format!("{long}  long"), "the long cell whole");
    // The other rows keep one alignment, the heading's.
    let name_at = |line: &str| line.find(" n").map(|at| at + 1);
    assert!(name_at(lines[2]).is_some(), "{}", lines[2]);
    assert_eq!(name_at(lines[2]), name_at(lines[1001]));
    assert_eq!(lines[0].find("NAME"), name_at(lines[2]), "{}", lines[0]);
}

#[test]
fn a_table_aligns_wide_and_combining_characters_by_the_columns_they_take() {
    let s = setup();
    // Two characters that take two columns each, an `e` with a combining accent (two
    // characters, one column), and plain ASCII: four columns wide, every one of them.
    let answer = r#"{"results":[{"id":"漢字","name":"a"},{"id":"e\u0301e\u0301ee","name":"b"},{"id":"abcd","name":"c"}],"count":3}"#;
    let url = canned_server(200, answer.to_owned(), 1);
    let output = printed_with(&s, &url, &["-o", "table"]);
    assert_eq!(
        text(&output.stdout),
        "ID    NAME\n漢字  a\ne\u{301}e\u{301}ee  b\nabcd  c\n"
    );
}

/// A list whose rows are not all objects, or are objects with no scalar member, has no
/// columns of members to lay out: it was printed as an empty line, exit 0.
#[test]
fn a_table_of_a_list_without_columns_shows_each_row_in_one_column() {
    let s = setup();
    let search = [
        "catalog",
        "search",
        "--host-name",
        "earthsearch-aws",
        "--limit",
        "2",
    ];
    let json = stdout_json(&s.cli().args(search).output().expect("geopera runs"));
    let features = json["features"].as_array().expect("features");
    let id = |i: usize| features[i]["id"].as_str().expect("an id").to_owned();
    let compact = |value: &Value| serde_json::to_string(value).expect("JSON");
    let cases = [
        ("[.features[].id]", vec![id(0), id(1)]),
        (
            "[.features[].bbox]",
            vec![compact(&features[0]["bbox"]), compact(&features[1]["bbox"])],
        ),
        (
            "[.features[0].id, {a: 1}, null, 2.50]",
            vec![
                id(0),
                r#"{"a":1}"#.to_owned(),
                String::new(),
                "2.50".to_owned(),
            ],
        ),
        (
            "[.features[] | {bbox}]",
            vec![
                compact(&serde_json::json!({"bbox": features[0]["bbox"]})),
                compact(&serde_json::json!({"bbox": features[1]["bbox"]})),
            ],
        ),
    ];
    for (program, rows) in cases {
        let output = s
            .cli()
            .args(search)
            .args(["--jq", program, "-o", "table"])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let table = text(&output.stdout);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.first(), Some(&"VALUE"), "{program}: {table:?}");
        assert_eq!(
            lines[1..]
                .iter()
                .map(|line| line.trim_end())
                .collect::<Vec<_>>(),
            rows,
            "{program}: {table:?}"
        );
    }
}

#[test]
fn a_table_of_rows_with_many_different_members_shows_a_bounded_number_of_columns() {
    let s = setup();
    // Each row with a member of its own: a column each, a table of 3,000 rows by 3,000
    // columns, nearly all of them blanks, 28 MB from an answer of 40 KB.
    let rows: Vec<String> = (0..3000).map(|i| format!(r#"{{"k{i}":1}}"#)).collect();
    let answer = format!(r#"{{"results":[{}],"count":3000}}"#, rows.join(","));
    let url = canned_server(200, answer.clone(), 1);
    let output = printed_with(&s, &url, &["-o", "table"]);
    let table = text(&output.stdout);
    assert!(
        table.len() < 2 * answer.len(),
        "a table of {} bytes from an answer of {}",
        table.len(),
        answer.len()
    );
    let heading = table.lines().next().unwrap_or_default();
    assert!(heading.starts_with("K0  K1  K2"), "{heading}");
    assert_eq!(heading.split_whitespace().count(), 16, "{heading}");
    // What is not shown is said.
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("Warning: "), "{stderr}");
    assert!(stderr.contains("16 of the 3000"), "{stderr}");
    assert!(stderr.contains("the other 2984"), "{stderr}");
    assert!(stderr.contains("-o json"), "{stderr}");
}

#[test]
fn table_and_yaml_print_numbers_as_the_server_wrote_them() {
    let s = setup();
    let answer = r#"{"features":[{"type":"Feature","id":"a","collection":"c","properties":{"datetime":"d","eo:cloud_cover":12.3456789012345678901234567}}],"numberMatched":123456789012345678901234567890,"kept":1.50}"#;
    let url = canned_server(200, answer.to_owned(), 2);
    let output = printed_with(&s, &url, &["-o", "table"]);
    assert!(
        text(&output.stdout).ends_with("  12.3456789012345678901234567\n"),
        "{}",
        text(&output.stdout)
    );
    let output = printed_with(&s, &url, &["-o", "yaml"]);
    let yaml = text(&output.stdout);
    for line in [
        "    eo:cloud_cover: 12.3456789012345678901234567\n",
        "\nnumberMatched: 123456789012345678901234567890\n",
        "\nkept: 1.50\n",
    ] {
        assert!(yaml.contains(line), "{line:?} in\n{yaml}");
    }
}

#[test]
fn a_repeated_key_is_shown_once_with_its_last_value_and_named_on_stderr() {
    let s = setup();
    let answer = r#"{"id":"first","k\u001b[31m":1,"note":"x","id":"last","k\u001b[31m":2}"#;
    let url = canned_server(200, answer.to_owned(), 2);
    let mut shown = Vec::new();
    for format in ["yaml", "table"] {
        let output = printed_with(&s, &url, &["-o", format]);
        let stderr = text(&output.stderr);
        assert_eq!(
            stderr,
            "Warning: the answer repeats the key \"id\" at /; only its last value is shown\n\
             Warning: the answer repeats the key \"k\\u001b[31m\" at /; only its last value is shown\n",
            "{format}"
        );
        shown.push(text(&output.stdout));
    }
    assert_eq!(shown[0], "id: last\n\"k\\u001b[31m\": 2\nnote: x\n");
    assert_eq!(
        shown[1],
        "KEY          VALUE\nid           last\nk\\u{1b}[31m  2\nnote         x\n"
    );
    // Past ten, a count.
    let members: Vec<String> = (0..12).map(|i| format!(r#""k{i}":1,"k{i}":2"#)).collect();
    let url = canned_server(200, format!("{{{}}}", members.join(",")), 1);
    let output = search_at(&s, &url)
        .args(["-o", "yaml"])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 11, "{stderr}");
    assert!(
        stderr.ends_with("Warning: ... and 2 more repeated keys\n"),
        "{stderr}"
    );
}

/// `--jq` reads a repeated key's last value, as jq does, where `-o json` prints both: the key
/// is named on stderr as `-o table` names it, for an answer, NDJSON lines and the items of
/// `--all` (once for all the documents that repeat it at the same place), and nothing is said
/// of an answer without one.
#[test]
fn a_repeated_key_that_jq_reads_once_is_named_on_stderr() {
    let s = setup();
    let warning =
        "Warning: the answer repeats the key \"id\" at /; only its last value reaches --jq\n";
    let url = canned_server(200, r#"{"id":"first","id":"last"}"#.to_owned(), 1);
    let output = printed_with(&s, &url, &["--jq", ".id"]);
    assert_eq!(text(&output.stdout), "\"last\"\n");
    assert_eq!(text(&output.stderr), warning);

    // Named once for every line that repeats it at the same place.
    let lines = "{\"id\":1,\"id\":2}\n{\"id\":3}\n{\"id\":4,\"id\":5}\n";
    let url = typed_test_server("application/x-ndjson", 1, move |_| (200, lines.to_owned()));
    let output = printed_with(&s, &url, &["--jq", ".id"]);
    assert_eq!(text(&output.stdout), "2\n3\n5\n");
    assert_eq!(text(&output.stderr), warning);

    let page = r#"{"type":"FeatureCollection","features":[{"id":"a","id":"b"},{"id":"c"}]}"#;
    let url = canned_server(200, page.to_owned(), 1);
    let output = printed_with(&s, &url, &["--all", "--jq", ".id"]);
    assert_eq!(text(&output.stdout), "\"b\"\n\"c\"\n");
    assert_eq!(text(&output.stderr), warning);

    let url = canned_server(200, r#"{"id":"only","n":{"id":1}}"#.to_owned(), 1);
    let output = printed_with(&s, &url, &["--jq", ".id"]);
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn yaml_shows_bidirectional_and_control_characters_as_escapes_of_the_same_string() {
    let s = setup();
    let answer = r#"{"name\u202e":"invoice\u202egpj.exe","isolate":"\u2066a\u2069\u200f","c1":"x\u0085\u009b31m","sep":"a\u2028b"}"#;
    let url = canned_server(200, answer.to_owned(), 1);
    let output = printed_with(&s, &url, &["-o", "yaml"]);
    let yaml = text(&output.stdout);
    assert!(
        !yaml.contains(|c: char| c.is_control() && c != '\n'
            || matches!(c, '\u{200f}' | '\u{2028}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "{yaml:?}"
    );
    assert!(
        yaml.contains(r#"name\u202e": "invoice\u202egpj.exe""#),
        "{yaml}"
    );
    // Still YAML, and the same strings.
    let back: Value = serde_norway::from_str(&yaml).expect("YAML");
    assert_eq!(back, serde_json::from_str::<Value>(answer).expect("JSON"));
}

#[test]
fn a_line_break_in_the_server_text_cannot_forge_a_line_of_its_own() {
    let s = setup();
    // As the JSON text writes them.
    for brk in [r"\n", r"\r\n", r"\r", r"\u2028", r"\u2029", r"\u0085"] {
        // A problem's detail, through the typed operations (the SDK's problem) and `op`.
        let problem = format!(r#"{{"title":"t","detail":"bad{brk}Error: forged"}}"#);
        for args in [
            &["orders", "get", "--order-id", "o"][..],
            &["op", "orders.get", r#"{"order_id":"o"}"#][..],
        ] {
            let url = canned_server(404, problem.clone(), 1);
            let output = s.against(&url).args(args).output().expect("geopera runs");
            let stderr = fails_saying(&output, 2, "[404] bad", (brk, args));
            assert_eq!(stderr.lines().count(), 1, "{brk:?} {args:?}: {stderr:?}");
            assert!(
                !stderr.contains(['\r', '\u{2028}', '\u{2029}', '\u{85}']),
                "{stderr:?}"
            );
        }
        // A validation list keeps one line per item, each item's text on its line.
        let list = format!(
            r#"{{"detail":[{{"loc":["body","a{brk}b"],"msg":"one{brk}Error: forged"}},{{"loc":["body"],"msg":"two"}}]}}"#
        );
        let url = canned_server(422, list, 1);
        let output = s
            .against(&url)
            .args(["op", "orders.get", r#"{"order_id":"o"}"#])
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, "[422] body.a", brk);
        assert_eq!(stderr.lines().count(), 2, "{brk:?}: {stderr:?}");
        assert!(
            stderr.lines().all(|l| l.starts_with("Error: [422] body")),
            "{stderr:?}"
        );
    }
    let url = canned_server(404, r#"{"detail":"a\nb"}"#.to_owned(), 1);
    let output = s
        .against(&url)
        .args(["orders", "get", "--order-id", "o"])
        .output()
        .expect("geopera runs");
    assert_eq!(text(&output.stderr), "Error: [404] a\\u{a}b\n");
}

/// Regression: a name that is not UTF-8 was uploaded with U+FFFD in place of its bytes.
#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_refused_unless_one_is_given() {
    use std::os::unix::ffi::OsStrExt as _;
    let s = setup();
    let project = a_project(&s, "names");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"scene\xff.tif"));
    let steering = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"scene\xff\x1b[2J.tif"));
    for file in [&path, &steering] {
        std::fs::write(file, b"bytes").expect("a file");
    }
    let before = s.emulator.executed("uploads.initiate");
    for (file, shown, dry_run) in [
        (&path, r"scene\xFF.tif", false),
        (&path, r"scene\xFF.tif", true),
        (&steering, r"scene\xFF\u{1b}[2J.tif", false),
    ] {
        let output = s
            .cli()
            .arg("upload")
            .arg(file)
            .args(["--project", &project])
            .args(dry_run.then_some("--dry-run"))
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, shown, dry_run);
        assert!(
            stderr.contains("is not UTF-8") && stderr.contains("--file-name NAME"),
            "{stderr}"
        );
        assert!(!stderr.contains(['\u{1b}', '\u{fffd}']), "{stderr:?}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(s.emulator.executed("uploads.initiate"), before);

    // Named, it is uploaded under that name.
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--file-name", "scene.tif"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let upload = stdout_json(&output);
    assert_eq!(upload["status"], "completed");
    assert!(upload.to_string().contains("scene.tif"), "{upload}");
}

/// An upload stored, whose answer then fails to print (here a `--jq` program's error), says
/// that the file is stored and names the upload: said alone, the failure read as the
/// upload's, and a script retrying on it sent the file again.
#[test]
fn an_upload_stored_whose_answer_cannot_be_printed_says_it_is_stored() {
    let s = setup();
    let project = a_project(&s, "printed");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--jq", "error(\"no\")"])
        .output()
        .expect("geopera runs");
    assert_ne!(output.status.code(), Some(0));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--jq"),
        "the printing's failure is said: {stderr}"
    );
    let id = stderr
        .split("upload ")
        .nth(1)
        .and_then(|rest| rest.split(" is completed").next())
        .unwrap_or_else(|| panic!("no upload named: {stderr}"));
    assert!(
        stderr.contains("is stored; do not send it again"),
        "{stderr}"
    );
    let output = s
        .cli()
        .args(["uploads", "progress", "--upload-id", id])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output)["status"], "completed");
}

/// Regression: a dry run approved the upload of a file named only by blanks, whose name the
/// real upload then refused.
#[test]
fn a_file_named_by_blanks_is_refused_unless_a_name_is_given_in_a_dry_run_too() {
    let s = setup();
    let project = a_project(&s, "blanks");
    let dir = tempfile::tempdir().expect("temp dir");
    let before = s.emulator.requests().len();
    for name in [" ", "\t"] {
        let path = dir.path().join(name);
        std::fs::write(&path, b"bytes").expect("a file");
        for dry_run in [true, false] {
            let output = s
                .cli()
                .arg("upload")
                .arg(&path)
                .args(["--project", &project])
                .args(dry_run.then_some("--dry-run"))
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, "is empty or blank", (name, dry_run));
            assert!(stderr.contains("--file-name NAME"), "{stderr}");
            assert!(stderr.contains(&format!("{path:?}")), "{stderr}");
            assert!(output.stdout.is_empty(), "{name:?} {dry_run}");
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");

    // Named, it is uploaded under that name.
    let output = s
        .cli()
        .arg("upload")
        .arg(dir.path().join(" "))
        .args(["--project", &project, "--file-name", "scene.tif"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output)["status"], "completed");
}

/// Regression: a name the API refuses at `uploads.signed_url` (a separator, `.` or `..`
/// alone, a control character) passed the dry run, and the real upload reserved quota, was
/// refused and released it again.
#[test]
fn upload_refuses_a_file_name_that_is_not_one_path_component_before_any_request() {
    let s = setup();
    let project = a_project(&s, "components");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    let before = s.emulator.requests().len();
    for (value, says) in [
        ("a/b.tif", "holds '/' or '\\'"),
        ("a\\b.tif", "holds '/' or '\\'"),
        ("..", "'.' or '..' alone"),
        (".", "'.' or '..' alone"),
        ("a\nb.tif", "control character"),
        ("a\u{7}b.tif", "control character"),
    ] {
        for dry_run in [false, true] {
            let output = s
                .cli()
                .arg("upload")
                .arg(&path)
                .args(["--project", &project, "--file-name", value])
                .args(dry_run.then_some("--dry-run"))
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, says, (value, dry_run));
            assert!(stderr.contains("--file-name"), "{stderr}");
            assert!(!stderr.contains("unset variable"), "{stderr}");
            assert!(output.stdout.is_empty(), "{value:?} {dry_run}");
        }
    }

    // A file whose own name holds a control character, without --file-name.
    #[cfg(unix)]
    {
        let odd = dir.path().join("scene\n.tif");
        std::fs::write(&odd, b"bytes").expect("a file");
        for dry_run in [false, true] {
            let output = s
                .cli()
                .arg("upload")
                .arg(&odd)
                .args(["--project", &project])
                .args(dry_run.then_some("--dry-run"))
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, "control character", dry_run);
            assert!(stderr.contains(&format!("{odd:?}")), "{stderr}");
            assert!(stderr.contains("--file-name NAME"), "{stderr}");
            assert!(output.stdout.is_empty(), "{dry_run}");
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );
}

#[test]
fn a_content_type_that_is_no_header_value_is_a_usage_error_before_any_request() {
    let s = setup();
    let project = a_project(&s, "typed");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    for dry in [false, true] {
        let mut run = s.cli();
        run.arg("upload").arg(&path).args([
            "--project",
            &project,
            "--content-type",
            "image/tiff\r\nX-Evil: 1",
        ]);
        if dry {
            run.arg("--dry-run");
        }
        let output = run.output().expect("geopera runs");
        let stderr = fails_saying(&output, 2, "--content-type", dry);
        assert!(stderr.contains("not a valid HTTP header value"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );
}

#[test]
fn an_empty_or_blank_file_name_or_content_type_is_a_usage_error_before_any_request() {
    let s = setup();
    let project = a_project(&s, "named");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    let before = s.emulator.requests().len();
    for option in ["--file-name", "--content-type"] {
        for value in ["", "  "] {
            for dry in [false, true] {
                let mut run = s.cli();
                run.arg("upload")
                    .arg(&path)
                    .args(["--project", &project, option, value]);
                if dry {
                    run.arg("--dry-run");
                }
                let output = run.output().expect("geopera runs");
                // The SDK's rule, as its upload would word it.
                let stderr = fails_saying(&output, 2, option, (option, value, dry));
                assert!(stderr.contains("is empty or blank"), "{stderr}");
                assert!(output.stdout.is_empty(), "{option} {value:?} {dry}");
            }
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );
}

#[test]
fn a_dry_run_upload_refuses_what_the_upload_refuses() {
    let s = setup();
    let project = a_project(&s, "local");
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let missing = dir.path().join("missing.tif");
    let refused = [
        (PathBuf::from("/dev/zero"), "is not a regular file"),
        (dir.path().to_owned(), "is not a regular file"),
        (fifo, "is not a regular file"),
        (missing, "No such file or directory"),
    ];
    for (path, said) in refused {
        let mut seen = Vec::new();
        for dry in [true, false] {
            let mut run = s.cli();
            run.arg("upload").arg(&path).args(["--project", &project]);
            if dry {
                run.arg("--dry-run");
            }
            let output = run.output().expect("geopera runs");
            let stderr = fails_saying(&output, 1, said, (&path, dry));
            assert!(stderr.contains(&path.display().to_string()), "{stderr}");
            assert!(output.stdout.is_empty(), "{path:?} {dry}");
            seen.push(stderr);
        }
        assert_eq!(seen[0], seen[1], "the dry run fails as the upload does");
    }
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"12345").expect("a file");
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--dry-run"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("(5 bytes)"));
    assert!(!text(&output.stdout).contains("no credentials"));
    // Without a credential the plan says the real run would need one, as an operation's does.
    let output = s
        .bare()
        .env("GEOPERA_API_URL", s.emulator.base_url())
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--dry-run"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let plan = text(&output.stdout);
    assert!(
        plan.contains("(5 bytes)") && plan.contains("# no credentials: run 'geopera login"),
        "{plan}"
    );
    // An API URL the upload would refuse is refused by its dry run, with the same words.
    for url in ["ftp://h.example", "https://u:p@h.example"] {
        let mut seen = Vec::new();
        for dry in [true, false] {
            let mut run = s.cli();
            run.args(["--api-url", url, "upload"])
                .arg(&path)
                .args(["--project", &project]);
            if dry {
                run.arg("--dry-run");
            }
            let output = run.output().expect("geopera runs");
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{url} {dry}: {stderr}");
            assert!(output.stdout.is_empty(), "{url} {dry}");
            seen.push(stderr);
        }
        assert_eq!(
            seen[0], seen[1],
            "{url}: the dry run fails as the upload does"
        );
    }
}

#[test]
fn a_dry_run_upload_shows_a_file_name_that_steers_the_terminal_escaped() {
    let s = setup();
    let project = a_project(&s, "steering");
    let dir = tempfile::tempdir().expect("temp dir");
    // An escape sequence that clears the screen, and a line break that would start a line of
    // its own. Such a name cannot be the uploaded file's, so the upload names it otherwise;
    // without that it is refused, and the refusal shows the path escaped too.
    let path = dir.path().join("scene\u{1b}[2J\nError: forged.tif");
    std::fs::write(&path, b"12345").expect("a file");
    let refused = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project, "--dry-run"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&refused, 2, r"scene\u{1b}[2J\nError: forged.tif", "unnamed");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args([
            "--project",
            &format!("{project}\u{1b}]0;title\u{7}"),
            "--file-name",
            "scene.tif",
            "--dry-run",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(!stdout.contains(['\u{1b}', '\u{7}']), "{stdout:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(
        stdout.contains(r"scene\u{1b}[2J\u{a}Error: forged.tif (5 bytes)"),
        "{stdout:?}"
    );
    assert!(stdout.contains(r"\u{1b}]0;title\u{7}"), "{stdout:?}");
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );
}

#[test]
fn an_upload_whose_file_changes_while_it_is_sent_names_the_file() {
    // Signing takes 2 s: the file is emptied after it was measured and before it is read.
    let s = Setup::on(
        Emulator::builder().faults(
            "latency=2s;op=uploads.signed_url"
                .parse()
                .expect("a fault plan"),
        ),
    );
    let project = a_project(&s, "shrinking");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data.bin");
    std::fs::write(&path, vec![7u8; 300_000]).expect("a file");
    let child = s
        .process()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project])
        .spawn()
        .expect("geopera starts");
    executed_soon(&s, "uploads.initiate", Duration::from_secs(20));
    std::fs::write(&path, b"").expect("the file emptied");
    let output = child.wait_with_output().expect("geopera ends");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "Error: upload failed at step transfer: {} changed while it was read",
            path.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Upload::"), "{stderr}");
}

/// An upload of a 300 KB file against an emulator with `faults`, interrupted with Ctrl-C once
/// its bytes are in: the emulator, and how the command ended (exit status, stderr).
fn interrupted_upload(faults: &str) -> (Setup, std::process::ExitStatus, String) {
    // Once the signed URL is handed out the bytes follow in milliseconds; with completing
    // held back, the interruption comes while the command waits for it (an earlier one,
    // during the bytes, must release the reservation just the same).
    interrupted_upload_once(faults, |s| {
        executed_soon(s, "uploads.signed_url", Duration::from_secs(20));
        std::thread::sleep(Duration::from_secs(1));
    })
}

/// [`interrupted_upload`], interrupted once `ready` returns.
fn interrupted_upload_once(
    faults: &str,
    ready: impl FnOnce(&Setup),
) -> (Setup, std::process::ExitStatus, String) {
    signalled_upload_once(faults, "INT", ready)
}

/// [`interrupted_upload_once`], stopped by the signal `name` (`INT`, `TERM`).
fn signalled_upload_once(
    faults: &str,
    name: &str,
    ready: impl FnOnce(&Setup),
) -> (Setup, std::process::ExitStatus, String) {
    let s = Setup {
        emulator: Emulator::builder()
            .faults(faults.parse().expect("a fault plan"))
            .record_bodies(true)
            .start()
            .expect("emulator starts"),
        home: tempfile::tempdir().expect("temp dir"),
    };
    let project = a_project(&s, "interrupted");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, vec![7u8; 300_000]).expect("a file");
    let mut child = s
        .process()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project])
        .spawn()
        .expect("geopera starts");
    ready(&s);
    let status = signal(&mut child, name);
    let stderr = stderr_of(&mut child);
    (s, status, stderr)
}

/// SIGTERM (`kill`, `timeout`, a cancelled CI job) gets Ctrl-C's clean-up: the upload's
/// reservation is released and said, where the default action ended the process with the
/// space held until the upload expired. The exit status says which signal it was.
#[cfg(unix)]
#[test]
fn sigterm_during_an_upload_exits_143_and_releases_its_reservation() {
    let (s, status, stderr) =
        signalled_upload_once("latency=30s;op=uploads.complete", "TERM", |s| {
            executed_soon(s, "uploads.signed_url", Duration::from_secs(20));
            std::thread::sleep(Duration::from_secs(1));
        });
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert_eq!(s.emulator.executed("uploads.complete"), 0, "not completed");
    assert_eq!(s.emulator.executed("uploads.fail"), 1, "{stderr}");
    let (upload_id, answered, upload) = released_upload(&s);
    assert_eq!(answered, Some(200));
    assert_eq!(upload["status"], "failed");
    assert!(stderr.starts_with("Error: terminated\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("upload {upload_id}: its reservation was released")),
        "{stderr}"
    );
}

/// Ctrl-C during an upload signed in with a stored session whose release of the reservation
/// meets a 401: the session is renewed from the credentials file and the release sent again.
/// The file's read looked for Ctrl-C as it went and ended the command there, the release
/// never sent and not a word said of the reservation.
#[cfg(unix)]
#[test]
fn ctrl_c_during_an_upload_on_a_session_renews_it_to_release_the_reservation() {
    let s = Setup::on(
        Emulator::builder().faults(
            "latency=30s;op=uploads.complete,401;op=uploads.fail;times=1"
                .parse()
                .expect("a fault plan"),
        ),
    );
    log_in_by_device(&s);
    let project = a_project(&s, "signed in");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, vec![7u8; 300_000]).expect("a file");
    // The stored profile's session, not the demo key: only HOME is set.
    let mut child = std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .arg("upload")
        .arg(&path)
        .args(["--project", &project])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    executed_soon(&s, "uploads.signed_url", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let status = signal(&mut child, "INT");
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(s.emulator.executed("uploads.complete"), 0, "{stderr}");
    assert_eq!(s.emulator.executed("uploads.fail"), 1, "{stderr}");
    assert!(stderr.starts_with("Error: interrupted\n"), "{stderr}");
    assert!(
        stderr.contains(": its reservation was released"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_during_an_upload_exits_130_and_releases_its_reservation() {
    // Completing the upload takes 30 s, so the command is still running once the bytes are in.
    let (s, status, stderr) = interrupted_upload("latency=30s;op=uploads.complete");
    assert_eq!(status.code(), Some(130));
    assert_eq!(s.emulator.executed("uploads.complete"), 0, "not completed");
    assert_eq!(
        s.emulator.executed("uploads.fail"),
        1,
        "the reservation was released"
    );
    // The release named the upload: it is failed, its space given back.
    let (upload_id, answered, upload) = released_upload(&s);
    assert_eq!(answered, Some(200));
    assert_eq!(upload["status"], "failed");
    // And the command said so, naming the upload.
    assert!(stderr.starts_with("Error: interrupted\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("upload {upload_id}: its reservation was released")),
        "{stderr}"
    );
}

/// Ctrl-C while the space is still being reserved: the upload heard it only from its own
/// listener, installed once the reservation was made, so the file was sent and stored all
/// the same (exit 0, "it is stored") after the user had stopped it before any byte went.
#[test]
fn ctrl_c_before_the_reservation_is_answered_stops_the_upload() {
    let (s, status, stderr) = interrupted_upload_once("latency=2s;op=uploads.initiate", |_| {
        std::thread::sleep(Duration::from_millis(700));
    });
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(s.emulator.executed("uploads.complete"), 0, "{stderr}");
    assert_eq!(s.emulator.executed("uploads.signed_url"), 0, "{stderr}");
    assert!(stderr.starts_with("Error: interrupted\n"), "{stderr}");
}

/// An upload whose release outlasts the moment Ctrl-C gives it (here a slow `uploads.fail`)
/// is left to it, and the command names the upload in the advice to release it, where it
/// wrote `--upload-id=ID`; one still waiting for its reservation's answer says so, where it
/// claimed the upload was releasing its space.
#[test]
fn an_upload_cut_short_after_ctrl_c_is_named_in_the_advice() {
    let (_s, status, stderr) =
        interrupted_upload("latency=30s;op=uploads.complete,latency=5s;op=uploads.fail");
    assert_eq!(status.code(), Some(130), "{stderr}");
    let named = stderr
        .split("upload ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("no upload named: {stderr}"));
    assert!(named.starts_with("u"), "{stderr}");
    assert!(
        stderr.contains("it may still be reserved")
            && stderr.contains(&format!("uploads fail --upload-id={named}")),
        "{stderr}"
    );

    let (_s, status, stderr) = interrupted_upload_once("latency=8s;op=uploads.initiate", |_| {
        std::thread::sleep(Duration::from_millis(700));
    });
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("ended while its space was being reserved")
            && stderr.contains("--upload-id=ID"),
        "{stderr}"
    );
    assert!(!stderr.contains("was releasing"), "{stderr}");
}

/// Ctrl-C once the upload is committed, its answer still on the way: the release is refused,
/// as the upload is no longer open, and the command waits for the answer, prints the upload
/// and exits 0. Told it failed, a script would send the file again.
#[test]
fn ctrl_c_after_the_upload_is_committed_says_it_is_stored() {
    let (s, status, stderr) = interrupted_upload_once("slow=1s;op=uploads.complete", |s| {
        executed_soon(s, "uploads.complete", Duration::from_secs(20));
    });
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Warning: interrupted after the upload was complete; it is stored"),
        "{stderr}"
    );
    assert!(!stderr.contains("Error:"), "{stderr}");
    assert_eq!(s.emulator.executed("uploads.complete"), 1);
    let (_, answered, upload) = released_upload(&s);
    assert_eq!(answered, Some(409), "a release was tried, and refused");
    assert_eq!(upload["status"], "completed");
}

/// `geopera upload` of a 300 KB file against an emulator with `faults`: the file's bytes, and
/// how the command ended.
fn upload_with_faults(faults: &str) -> (Setup, Vec<u8>, std::process::Output) {
    let s = Setup::on(Emulator::builder().faults(faults.parse().expect("a fault plan")));
    let project = a_project(&s, "answers lost");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&path, &bytes).expect("a file");
    let output = s
        .cli()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project])
        .output()
        .expect("geopera runs");
    (s, bytes, output)
}

/// The commit is made and its answer lost on every attempt (a gateway's 503 after the work,
/// a connection dropped): the release is refused with 409, so the upload is read again, found
/// completed, printed, and the command succeeds. Told it failed, and to release a reservation
/// that no longer exists, a script would send the file again.
#[test]
fn an_upload_whose_commit_answer_is_lost_is_read_again_and_reported_stored() {
    for faults in [
        "503;after;op=uploads.complete",
        "reset;after;op=uploads.complete",
    ] {
        let (s, bytes, output) = upload_with_faults(faults);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{faults}: {stderr}");
        let upload = stdout_json(&output);
        assert_eq!(upload["status"], "completed", "{faults}");
        assert_eq!(upload["files"][0]["sha256"], sha256_hex(&bytes).as_str());
        let id = upload["id"].as_str().expect("an upload id");
        assert!(
            stderr.starts_with("Warning: no answer to uploads.complete could be taken ("),
            "{faults}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("read again, upload {id} is completed, so ")),
            "{faults}: {stderr}"
        );
        assert!(!stderr.contains("Error:"), "{faults}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{faults}: {stderr}");
        assert!(s.emulator.executed("uploads.complete") >= 1, "{faults}");
    }
    // A release refused with 409 when the upload is not completed: the command fails, and
    // does not advise a release the API refuses the same way.
    let (_s, _, output) = upload_with_faults("503;op=uploads.complete, status=409;op=uploads.fail");
    let stderr = fails_saying(
        &output,
        2,
        "as it does once an upload is completed or failed",
        "409",
    );
    assert!(
        stderr.contains("see it with 'geopera uploads progress --upload-id=u_"),
        "{stderr}"
    );
    assert!(!stderr.contains("uploads fail"), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

/// The upload the one `uploads.fail` the emulator saw named, the status it answered, and the
/// upload as `geopera uploads progress` shows it now.
fn released_upload(s: &Setup) -> (String, Option<u16>, Value) {
    let released = s
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.operation_id.as_deref() == Some("uploads.fail"))
        .expect("the release was recorded");
    let body: Value = serde_json::from_slice(&released.body).expect("a JSON body");
    let upload_id = body["upload_id"].as_str().expect("an upload id").to_owned();
    let output = s
        .cli()
        .args(["uploads", "progress", "--upload-id", &upload_id])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    (upload_id, released.status, stdout_json(&output))
}

/// Ctrl-C during an upload whose release the API refuses: the command says the reservation
/// is still held, and how to release it, naming the upload, and that the commit under way
/// may have been made, and how to see it. (Refused with 403: a 409 says the upload is no
/// longer open, so its commit was made, and the upload waits for the commit's answer
/// instead.)
#[test]
fn ctrl_c_during_an_upload_whose_release_fails_says_how_to_release_it() {
    let (_s, status, stderr) =
        interrupted_upload("latency=30s;op=uploads.complete, status=403;op=uploads.fail");
    assert_eq!(status.code(), Some(130));
    assert!(stderr.starts_with("Error: interrupted\n"), "{stderr}");
    assert!(
        stderr.contains("its reservation was NOT released"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run 'geopera uploads fail --upload-id=u_"),
        "{stderr}"
    );
    // The commit was under way: the file may be stored, and how to see it is said.
    assert!(stderr.contains("may have been uploaded"), "{stderr}");
    assert!(
        stderr.contains("see it with 'geopera uploads progress --upload-id=u_"),
        "{stderr}"
    );
}

/// A stand-in API that reserves an upload under `id` and refuses every later call, its
/// release among them.
fn reserving_then_refusing(id: &str) -> String {
    let answered = std::sync::atomic::AtomicUsize::new(0);
    let reserved = serde_json::json!({ "id": id }).to_string();
    test_server(3, move |_| {
        if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            (200, reserved.clone())
        } else {
            (400, r#"{"detail":"refused"}"#.to_owned())
        }
    })
}

/// A server of the test's own that takes requests and never answers them: it reads each one
/// whole (head, and as much body as its `Content-Length` says), sends the head's lines on the
/// channel it returns, and holds the connection open for a minute.
fn silent_server() -> (String, std::sync::mpsc::Receiver<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (heads, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { continue };
            let heads = heads.clone();
            std::thread::spawn(move || {
                let (head, _) = read_request(&stream);
                let _ = heads.send(head);
                std::thread::sleep(Duration::from_secs(60));
                drop(stream);
            });
        }
    });
    (url, heard)
}

#[test]
fn timeout_bounds_how_long_an_upload_transfer_may_go_without_progress() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"12345").expect("a file");
    // The bytes go to a server that takes them and never answers.
    let (storage, puts) = silent_server();
    let signed = serde_json::json!({
        "upload_url": format!("{storage}/bucket/u_1/scene.tif?signature=s"),
        "object_path": "bucket/u_1/scene.tif",
    })
    .to_string();
    let api = test_server(4, move |body| {
        let body = String::from_utf8_lossy(body);
        if body.contains("total_bytes") {
            (200, r#"{"id":"u_1"}"#.to_owned())
        } else if body.contains("file_name") {
            (200, signed.clone())
        } else if body.contains("error_message") {
            (200, r#"{"id":"u_1","status":"failed"}"#.to_owned())
        } else {
            (400, r#"{"detail":"unexpected"}"#.to_owned())
        }
    });
    let started = Instant::now();
    let output = s
        .against(&api)
        .arg("upload")
        .arg(&path)
        .args(["--project", "p", "--timeout", "1"])
        .timeout(Duration::from_secs(30))
        .output()
        .expect("geopera runs");
    let elapsed = started.elapsed();
    let stderr = fails_saying(&output, 1, "the transfer stalled for 1s", &path);
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}: {stderr}");
    assert!(
        stderr.contains("upload u_1: its reservation was released"),
        "{stderr}"
    );
    let head = puts
        .recv_timeout(Duration::from_secs(5))
        .expect("the bytes were sent");
    assert!(head[0].starts_with("PUT /bucket/u_1/scene.tif"), "{head:?}");
}

#[test]
fn a_server_chosen_upload_id_is_quoted_in_the_advice_to_release_it() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    let upload = |id: &str| {
        let url = reserving_then_refusing(id);
        let output = s
            .against(&url)
            .arg("upload")
            .arg(&path)
            .args(["--project", "p"])
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, "NOT released", id)
    };
    let stderr = upload("u_1; curl evil|sh #");
    assert!(
        stderr.contains(
            "run 'geopera uploads fail --upload-id='u_1; curl evil|sh #' --error-message"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("--upload-id u_1;"), "{stderr}");
    let stderr = upload("it's");
    assert!(stderr.contains(r"--upload-id='it'\''s'"), "{stderr}");
    // A plain id is shown as it is.
    let stderr = upload("u_2");
    assert!(stderr.contains("--upload-id=u_2 "), "{stderr}");
    // One a terminal would act on is not put into a command at all, and stays on its line.
    let stderr = upload("u_3\nError: forged");
    assert!(stderr.contains("upload id is unusual"), "{stderr}");
    assert!(!stderr.contains("\nError: forged"), "{stderr}");
}

#[test]
fn a_stored_credential_never_goes_to_another_server() {
    let s = setup();
    let url = s.emulator.base_url();
    login_with_the_demo_key(&s);

    let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let log = seen.clone();
    let other = test_server(4, move |request| {
        log.lock().expect("not poisoned").push(request.to_vec());
        (200, "{}".to_owned())
    });
    for (flag, env) in [(Some(other.as_str()), None), (None, Some(other.as_str()))] {
        let mut command = s.bare();
        if let Some(api_url) = flag {
            command.args(["--api-url", api_url]);
        }
        if let Some(api_url) = env {
            command.env("GEOPERA_API_URL", api_url);
        }
        let output = command
            .args(["catalog", "search", "--host-name", "earthsearch-aws"])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("are for {url}")), "{stderr}");
        assert!(!stderr.contains(s.emulator.api_key()), "{stderr}");
    }
    assert!(
        seen.lock().expect("not poisoned").is_empty(),
        "nothing was sent to the other server"
    );

    // The same origin, spelled with a trailing slash, is the same server.
    let output = s
        .bare()
        .args(["--api-url", &format!("{url}/")])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // A token given for the named server is used there.
    let output = s
        .bare()
        .env("GEOPERA_API_TOKEN", s.emulator.api_key())
        .env("GEOPERA_API_URL", &other)
        .args(["catalog", "search", "--host-name", "earthsearch-aws"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(seen.lock().expect("not poisoned").len(), 1);
}

#[test]
fn a_password_in_the_api_url_is_refused_and_never_printed() {
    let s = setup();
    for extra in [&[][..], &["--dry-run"][..]] {
        let output = s
            .cli()
            .args(["--api-url", "http://user:hunter2@127.0.0.1:1"])
            .args(["catalog", "search", "--host-name", "x"])
            .args(extra)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert!(!all.contains("hunter2"), "{all}");
        assert!(all.contains("user name or password"), "{all}");
    }
}

/// An API URL that ends in the version this program adds itself sends every call to
/// `/v1/v1/op/...`, and one that ends in `/v1/op` to `/v1/op/v1/op/...`, where each is
/// answered 404: a warning says so before the call goes.
#[test]
fn an_api_url_that_ends_in_the_version_is_warned_about() {
    let s = setup();
    let versioned = format!("{}/v1/", s.emulator.base_url());
    let output = s
        .cli()
        .env("GEOPERA_API_URL", &versioned)
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("Warning: GEOPERA_API_URL: the API URL "),
        "{stderr}"
    );
    assert!(
        stderr.contains("ends in /v1, which this program adds itself"),
        "{stderr}"
    );
    assert!(stderr.contains("[404]"), "{stderr}");
    // An operation's URL copied up to its id: once answered 404 with no word of why.
    let copied = format!("{}/v1/op/", s.emulator.base_url());
    let output = s
        .cli()
        .env("GEOPERA_API_URL", &copied)
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ends in /v1/op, which this program adds itself"),
        "{stderr}"
    );
    let output = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

/// An API URL that is plain http to another machine sends the credential unencrypted: a
/// warning names the source and says so. Plain http on loopback (the emulator's) is quiet.
#[test]
fn an_api_url_in_clear_text_to_another_machine_is_warned_about() {
    let s = setup();
    // `--dry-run` sends nothing, so no address is reached.
    for (url, warned) in [
        ("http://10.9.8.7:8787", true),
        ("http://api.example", true),
        ("https://api.example", false),
        ("http://127.0.0.2:8787", false),
        ("http://localhost:8787", false),
    ] {
        let output = s
            .cli()
            .env("GEOPERA_API_URL", url)
            .args([
                "catalog",
                "search",
                "--dry-run",
                "--host-name",
                "earthsearch-aws",
            ])
            .output()
            .expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{url}: {stderr}");
        let said = stderr.starts_with("Warning: GEOPERA_API_URL: the API URL ")
            && stderr.contains("crosses the network unencrypted");
        assert_eq!(said, warned, "{url}: {stderr}");
    }
}

#[test]
fn a_malformed_api_url_is_a_usage_error_naming_its_source_and_never_showing_its_query() {
    let s = setup();
    let cases = [
        ("localhost:18787", "must start with http:// or https://"),
        (
            "https://h.example/p?api_key=SECRET",
            "must not have a query or fragment",
        ),
        (
            "https://h.example/p#SECRET",
            "must not have a query or fragment",
        ),
        (
            "http://u:SECRET@h.example/?k=SECRET",
            "must not carry a user name or password",
        ),
        ("http://", "is not a URL"),
    ];
    for (url, said) in cases {
        for dry_run in [&[][..], &["--dry-run"][..]] {
            let by_flag = s
                .cli()
                .args(["--api-url", url])
                .args(SEARCH_ONE)
                .args(dry_run)
                .output()
                .expect("geopera runs");
            let by_env = s
                .cli()
                .env("GEOPERA_API_URL", url)
                .args(SEARCH_ONE)
                .args(dry_run)
                .output()
                .expect("geopera runs");
            for (output, source) in [(by_flag, "--api-url: "), (by_env, "GEOPERA_API_URL: ")] {
                let stderr = fails_saying(&output, 2, said, (url, source));
                assert!(stderr.contains(source), "{url}: {stderr}");
                let all = format!("{}{stderr}", text(&output.stdout));
                assert!(!all.contains("SECRET"), "{url}: {all}");
            }
        }
    }
    assert_eq!(s.emulator.executed("catalog.search"), 0);
    // From the profile, the credentials file is named.
    s.store_credentials(r#"{"default": {"api_url": "ftp://h.example/?token=SECRET"}}"#);
    let output = s
        .bare()
        .env("GEOPERA_API_TOKEN", "gpra_whatever")
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(
        &output,
        2,
        "the api_url of profile 'default' in ",
        "a stored URL",
    );
    assert!(stderr.contains("credentials.json"), "{stderr}");
    assert!(stderr.contains("ftp://h.example/?[redacted]"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");
}

#[test]
fn a_stored_expiry_too_large_for_any_clock_is_no_panic() {
    let s = setup();
    for expires_at in ["1e300", "9.3e18", "18446744073709551616"] {
        s.store_credentials(&format!(
            r#"{{"default": {{"api_url": "{}", "auth": {{"type": "oauth", "access_token": "at", "refresh_token": "rt", "expires_at": {expires_at}, "scope": "openid profile", "issuer": "{}"}}}}}}"#,
            s.emulator.base_url(),
            s.emulator.base_url()
        ));
        let output = s
            .bare()
            .args(["catalog", "search", "--host-name", "earthsearch-aws"])
            .output()
            .expect("geopera runs");
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        // The token is unknown to the emulator and so is the refresh token: refused, typed.
        assert!(matches!(output.status.code(), Some(1 | 2)), "{stderr}");
    }
}

/// Runs `geopera args`, reads `keep` bytes of its stdout and closes the pipe: the process
/// must end on its own, without a panic, soon.
fn closed_early(s: &Setup, args: &[&str], keep: usize) -> (std::process::ExitStatus, String) {
    let mut child = s.process().args(args).spawn().expect("geopera starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = vec![0u8; keep];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("some output");
    drop(stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            return (status, stderr_of(&mut child));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("geopera {args:?} kept running after its reader left");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_reader_that_leaves_ends_the_command_quietly() {
    let s = setup();
    // Endless jq results, every page of a long walk, a completion script, a help text.
    for args in [
        &[
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--jq",
            "repeat(1)",
        ][..],
        &[
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--limit",
            "10",
            "--all",
        ][..],
        &["completions", "bash"][..],
        &["orders"][..],
    ] {
        let (status, stderr) = closed_early(&s, args, 2);
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Error"), "{args:?}: {stderr}");
    }
    // The walk stopped when its reader left, long before its last page.
    let log = s.emulator.requests();
    let walked = log
        .iter()
        .filter(|r| r.operation_id.as_deref() == Some("catalog.search"))
        .count();
    assert!(
        walked < 100,
        "{walked} pages fetched for a reader that left"
    );
}

#[test]
fn commands_without_a_dry_run_refuse_the_flag_and_do_nothing() {
    let s = setup();
    let url = s.emulator.base_url();
    let before = s.emulator.requests().len();
    let (_delivery, secret, headers, body) = signed_delivery();
    let pages = tempfile::tempdir().expect("temp dir");
    let pages = pages.path().join("pages");
    let pages = pages.to_str().expect("a UTF-8 temp path");
    for args in [
        &[
            "login",
            "--api-url",
            url.as_str(),
            "--api-key",
            "gpra_unused",
        ][..],
        &["logout"][..],
        &["whoami"][..],
        &["orders", "wait", "ord_x"][..],
        &["completions", "bash"][..],
        &["man"][..],
        &["man", "--out-dir", pages][..],
        &["op", "--list"][..],
        &[
            "webhooks",
            "verify",
            "--secret",
            secret,
            "--headers",
            headers.as_str(),
            "--body",
            body.as_str(),
        ][..],
    ] {
        for dry_run_at in [0, args.len()] {
            let output = s
                .cli()
                .args(&args[..dry_run_at])
                .arg("--dry-run")
                .args(&args[dry_run_at..])
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, "--dry-run", args);
            assert!(stderr.contains("has no dry run"), "{args:?}: {stderr}");
            assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
            assert!(output.stdout.is_empty(), "{args:?}");
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert!(!s.credentials_path().exists(), "nothing was stored");
    assert!(!Path::new(pages).exists(), "no manual page was written");
}

#[test]
fn commands_that_send_no_one_operation_refuse_an_idempotency_key_and_do_nothing() {
    let s = setup();
    let url = s.emulator.base_url();
    let before = s.emulator.requests().len();
    let (_delivery, secret, headers, body) = signed_delivery();
    let dir = tempfile::tempdir().expect("temp dir");
    let pages = dir.path().join("pages");
    let pages = pages.to_str().expect("a UTF-8 temp path");
    let file = dir.path().join("scene.tif");
    std::fs::write(&file, b"bytes").expect("a file");
    let file = file.to_str().expect("a UTF-8 temp path");
    for (args, why) in [
        (
            &["upload", file, "--project", "prj_1"][..],
            "makes several calls",
        ),
        (
            &[
                "login",
                "--api-url",
                url.as_str(),
                "--api-key",
                "gpra_unused",
            ][..],
            "sends no operation",
        ),
        (&["logout"][..], "sends no operation"),
        (&["whoami"][..], "sends no operation"),
        (&["orders", "wait", "ord_x"][..], "sends no operation"),
        (&["completions", "bash"][..], "sends no operation"),
        (&["man"][..], "sends no operation"),
        (&["man", "--out-dir", pages][..], "sends no operation"),
        (&["op", "--list"][..], "sends no operation"),
        (
            &[
                "webhooks",
                "verify",
                "--secret",
                secret,
                "--headers",
                headers.as_str(),
                "--body",
                body.as_str(),
            ][..],
            "sends no operation",
        ),
    ] {
        for key_at in [0, args.len()] {
            let output = s
                .cli()
                .args(&args[..key_at])
                .args(["--idempotency-key", "k-1"])
                .args(&args[key_at..])
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, "--idempotency-key", args);
            assert!(stderr.contains(why), "{args:?}: {stderr}");
            assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
            assert!(output.stdout.is_empty(), "{args:?}");
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert!(!s.credentials_path().exists(), "nothing was stored");
    assert!(!Path::new(pages).exists(), "no manual page was written");
}

/// A delivery signed with a secret, saved as a receiver would save it: the folder holding
/// it, the secret, and the paths of its headers and its body.
fn signed_delivery() -> (TempDir, &'static str, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "whsec_test_0123456789";
    let body = br#"{"event_id":"evt_1","event_type":"order.fulfilled","timestamp":"2025-01-01T00:05:00Z","organization_id":"org_demo","entity_type":"order","entity_id":"ord_1","data":{"order_id":"ord_1","status":"fulfilled"}}"#;
    let body_path = dir.path().join("body.json");
    std::fs::write(&body_path, body).expect("body");
    let headers_path = dir.path().join("headers.txt");
    std::fs::write(
        &headers_path,
        format!(
            "X-Geopera-Signature: {}\nX-Geopera-Event: order.fulfilled\nX-Geopera-Event-ID: evt_1\n",
            signature(secret, body)
        ),
    )
    .expect("headers");
    let path = |path: PathBuf| path.to_str().expect("a UTF-8 temp path").to_owned();
    (dir, secret, path(headers_path), path(body_path))
}

#[test]
fn webhooks_verify_refuses_a_headers_file_that_is_not_utf8_naming_it_and_the_line() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = "whsec_test_0123456789";
    // The body's id ends in U+FFFD, which a byte that is no text would become if read lossily.
    let body = br#"{"event_id":"evt_9\ufffd","event_type":"order.fulfilled","timestamp":"2025-01-01T00:05:00Z","organization_id":"org_demo","entity_type":"order","entity_id":"ord_1","data":{"order_id":"ord_1","status":"fulfilled"}}"#;
    let body_path = dir.path().join("body.json");
    std::fs::write(&body_path, body).expect("body");
    let signed = format!(
        "X-Geopera-Signature: {}\nX-Geopera-Event: order.fulfilled\n",
        signature(secret, body)
    );
    for (name, line) in [
        ("ff.txt", &b"X-Geopera-Event-ID: evt_9\xff\n"[..]),
        ("fe.txt", &b"X-Geopera-Event-ID: evt_9\xfe\n"[..]),
        ("delivery.txt", &b"X-Geopera-Delivery-ID: dlv_\xc3\n"[..]),
    ] {
        let headers = dir.path().join(name);
        std::fs::write(&headers, [signed.as_bytes(), line].concat()).expect("headers");
        let output = s
            .bare()
            .env("HOOK_SECRET", secret)
            .args(["webhooks", "verify", "--secret-env", "HOOK_SECRET"])
            .arg("--headers")
            .arg(&headers)
            .arg("--body")
            .arg(&body_path)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 1, "line 3 is not UTF-8", name);
        assert!(stderr.contains(name), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(output.stdout.is_empty(), "{name}: {}", text(&output.stdout));
    }
}

#[test]
fn a_jq_program_sees_the_environment_without_the_credentials_in_it() {
    let s = setup();
    let token = s.emulator.api_key();
    let home = s
        .home
        .path()
        .to_str()
        .expect("a UTF-8 temp path")
        .to_owned();
    let program = "env | {token: .GEOPERA_API_TOKEN, set: has(\"GEOPERA_API_TOKEN\"), \
                   dsn: .BACKUP_DSN, note: .NOTE, home: .HOME}";
    let output = s
        .cli()
        .env(
            "BACKUP_DSN",
            "postgres://app:hunter2-db-password@db.internal/app",
        )
        .env("NOTE", format!("copied {token} here"))
        .args(SEARCH_ONE)
        .args(["--jq", program, "-o", "ndjson"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(!stdout.contains(token), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    let seen: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        seen,
        serde_json::json!({
            "token": "[redacted]",
            "set": true,
            "dsn": "[redacted]",
            "note": "copied [redacted] here",
            "home": home,
        })
    );

    // The variable --secret-env names, and the token that command never reads.
    let (_delivery, secret, headers, body) = signed_delivery();
    let output = s
        .cli()
        .env("HOOK_SECRET", secret)
        .args(["webhooks", "verify", "--secret-env", "HOOK_SECRET"])
        .args(["--headers", &headers, "--body", &body])
        .args([
            "--jq",
            "env | [.HOOK_SECRET, .GEOPERA_API_TOKEN]",
            "-o",
            "ndjson",
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        r#"["[redacted]","[redacted]"]"#
    );
}

#[test]
fn a_jq_programs_debug_stderr_and_halt_error_write_on_stderr() {
    let s = setup();
    let run = |program: &str| {
        s.cli()
            .args(SEARCH_ONE)
            .args(["--jq", program])
            .output()
            .expect("geopera runs")
    };
    let output = run(r#".features | length | debug | debug("n=\(.)") | stderr | . + 1"#);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "2");
    assert_eq!(
        text(&output.stderr).lines().collect::<Vec<_>>(),
        [r#"["DEBUG:",1]"#, r#"["DEBUG:","n=1"]"#, "1"]
    );

    // The message a program ends with, line by line, none of it able to steer the terminal.
    let output = run(r#""no item has \u001b[2Ja cloud cover\nsee the answer\n" | halt_error"#);
    let stderr = fails_saying(&output, 1, "the program stopped", "halt_error");
    assert_eq!(
        stderr.lines().take(2).collect::<Vec<_>>(),
        [r"no item has \u{1b}[2Ja cloud cover", "see the answer"]
    );
    assert!(output.stdout.is_empty());
    assert!(
        text(&output.stderr).contains("exit code 5"),
        "{}",
        text(&output.stderr)
    );

    // `halt` stops with success, as jq exits 0, keeping what was printed before it.
    let output = run(".features | length, halt, 7");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "1");
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

/// Several results of `--jq` with `-o table` are one table, a row each, as the lines of an
/// NDJSON answer are: each was a table of its own, its header repeated above every row.
#[test]
fn several_jq_results_are_one_table() {
    let s = setup();
    let output = s
        .cli()
        .args([
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--limit",
            "3",
        ])
        .args(["--jq", ".features[] | {id, collection}", "-o", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("COLLECTION"),
        "{table}"
    );
    assert_eq!(table.matches("COLLECTION").count(), 1, "{table}");
    // One result is a row too, so the layout does not change with what the search found.
    let output = s
        .cli()
        .args(SEARCH_ONE)
        .args(["--jq", ".features[] | {id, collection}", "-o", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(table.starts_with("ID"), "{table}");
    // A lone list is laid out as the list it is.
    let output = s
        .cli()
        .args([
            "catalog",
            "search",
            "--host-name",
            "earthsearch-aws",
            "--limit",
            "3",
        ])
        .args(["--jq", "[.features[] | {id}]", "-o", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).lines().count(),
        4,
        "{}",
        text(&output.stdout)
    );
    // Results without end are refused past a bound rather than held until memory runs out.
    let output = s
        .cli()
        .args(SEARCH_ONE)
        .args(["--jq", "repeat(1)", "-o", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("-o ndjson"),
        "{}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty(), "a table cut short was printed");
    // And so are those of the lines of a stream, whole answers each (the bytes' bound).
    let output = s
        .cli()
        .args([
            "catalog",
            "search-stream",
            "--json",
            r#"{"host_name": "earthsearch-aws", "limit": 1}"#,
        ])
        .args(["--jq", "repeat(.)", "-o", "table"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "a table cut short was printed");
}

/// An answer with no body is `null` to `--jq`, as to jq: the program runs on it. The word
/// `null` was printed as it was, the program never run (`error("x")` exited 0).
#[test]
fn an_empty_answer_goes_through_the_jq_program_as_null() {
    let s = Setup::on(
        Emulator::builder().faults("status=204;op=catalog.search".parse().expect("a plan")),
    );
    let run = |program: &str| {
        s.cli()
            .args(SEARCH_ONE)
            .args(["--jq", program])
            .output()
            .expect("geopera runs")
    };
    let output = run(r#". // "none""#);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), r#""none""#);
    let output = run(r#"error("refused")"#);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
}

#[cfg(unix)]
#[test]
fn a_jq_program_reads_a_variable_that_is_not_utf8_as_jq_does_without_failing() {
    use std::os::unix::ffi::OsStrExt as _;
    let s = setup();
    let output = s
        .cli()
        .env("ODD", std::ffi::OsStr::from_bytes(b"a\xffb"))
        .args(SEARCH_ONE)
        .args(["--jq", "env.ODD"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "\"a\u{fffd}b\"");
}

#[test]
fn webhooks_verify_applies_jq_and_output_to_the_event_it_prints() {
    let s = setup();
    let (_delivery, secret, headers, body) = signed_delivery();
    let verify = |options: &[&str]| {
        s.bare()
            .args(["webhooks", "verify", "--secret", secret])
            .args(["--headers", headers.as_str(), "--body", body.as_str()])
            .args(options)
            .output()
            .expect("geopera runs")
    };
    let event = stdout_json(&verify(&[]));
    assert_eq!(event["event"], "OrderFulfilled");

    let output = verify(&["--jq", ".body.entity_id"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output), "ord_1");

    let output = verify(&["-o", "ndjson"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).lines().count(), 1);
    assert_eq!(stdout_json(&output), event);

    let output = verify(&["-o", "yaml", "--jq", ".event_id"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let read: Value = serde_norway::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not YAML ({e}): {}", text(&output.stdout)));
    assert_eq!(read, "evt_1");
}

/// A delivery's body saved with a line break added at its end (an editor, `echo >`) no longer
/// matches its signature: still refused, as those are not the bytes that were signed, but the
/// refusal says so, where "does not match" alone left a wrong secret or a forged body to guess.
/// A body that matches without its last line break under no secret is not said to.
#[test]
fn a_delivery_saved_with_a_final_line_break_is_refused_saying_so() {
    let s = setup();
    let (_delivery, secret, headers, body) = signed_delivery();
    let signed = std::fs::read(&body).expect("the body");
    for ending in ["\n", "\r\n"] {
        let mut saved = signed.clone();
        saved.extend_from_slice(ending.as_bytes());
        std::fs::write(&body, &saved).expect("the body saved again");
        for (secret, said) in [(secret, true), ("whsec_another", false)] {
            let output = s
                .bare()
                .args(["webhooks", "verify", "--secret", secret])
                .args(["--headers", headers.as_str(), "--body", body.as_str()])
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(
                &output,
                1,
                "delivery refused: the signature does not match the body and secret",
                (ending, secret),
            );
            assert_eq!(
                stderr.contains("it matches the body without its final line break"),
                said,
                "{ending:?} {secret}: {stderr}"
            );
            assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
        }
    }
}

#[test]
fn whoami_applies_jq_and_output_to_its_claims() {
    let s = setup();
    let claims = stdout_json(
        &s.cli()
            .args(["whoami", "--json"])
            .output()
            .expect("geopera runs"),
    );
    let output = s
        .cli()
        .args(["whoami", "--jq", ".sub"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output), claims["sub"]);
    let output = s
        .cli()
        .args(["-o", "yaml", "whoami"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let read: Value = serde_norway::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not YAML ({e}): {}", text(&output.stdout)));
    assert_eq!(read, claims);
}

#[test]
fn whoami_prints_the_claims_numbers_as_the_server_wrote_them() {
    let s = setup();
    let claims = r#"{"sub":"u_1","geopera_org_id":12345678901234567890123,"auth_time":1.5e9}"#;
    for (args, shown) in [
        (&["whoami", "--json"][..], "12345678901234567890123"),
        (
            &["whoami", "--jq", ".geopera_org_id"][..],
            "12345678901234567890123",
        ),
        (&["whoami", "--jq", ".auth_time"][..], "1.5e9"),
        (&["whoami", "-o", "yaml"][..], "12345678901234567890123"),
    ] {
        let url = canned_server(200, claims.to_owned(), 1);
        let output = s.against(&url).args(args).output().expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&output.stderr)
        );
        let stdout = text(&output.stdout);
        assert!(stdout.contains(shown), "{args:?}: {stdout}");
        assert!(!stdout.contains("e+22"), "{args:?}: {stdout}");
    }
}

/// A claim that is present but no string (an organization id sent as a number, a `scope`
/// sent as a list) was shown as `-`, the mark of a missing one.
#[test]
fn whoami_shows_claims_that_are_no_strings_rather_than_a_dash() {
    let s = setup();
    let claims = r#"{"sub":"u_1","geopera_principal_type":null,"geopera_org_id":12345678901234567890123,"scope":["orders:read","catalog:read"]}"#;
    let url = canned_server(200, claims.to_owned(), 1);
    let output = s
        .against(&url)
        .arg("whoami")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let line = |label: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(label))
            .map(|line| line[label.len()..].trim().to_owned())
    };
    assert_eq!(line("sub:").as_deref(), Some("u_1"), "{stdout}");
    assert_eq!(line("principal_type:").as_deref(), Some("-"), "{stdout}");
    assert_eq!(
        line("org_id:").as_deref(),
        Some("12345678901234567890123"),
        "{stdout}"
    );
    assert_eq!(
        line("scope:").as_deref(),
        Some("orders:read catalog:read"),
        "{stdout}"
    );
    // `login` greets by the same claims.
    let url = canned_server(
        200,
        r#"{"geopera_principal_id":42,"sub":"u_1"}"#.to_owned(),
        1,
    );
    let output = s
        .bare()
        .env("GEOPERA_API_URL", &url)
        .args(["login", "--api-key", "gpra_test"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("Logged in as 42 "), "{stdout}");
}

#[test]
fn whoami_shows_claims_that_steer_the_terminal_escaped_in_every_form() {
    let s = setup();
    // Raw C1 controls and bidirectional formatting characters are valid in JSON strings.
    let claims =
        "{\"sub\":\"u\u{9b}31m\",\"name\":\"invoice\u{202e}gpj.exe\",\"scope\":\"a\u{7f}\"}";
    let steers = |bytes: &[u8]| {
        text(bytes).contains(|c: char| {
            (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}')
        })
    };
    for form in [
        &["--json"][..],
        &[],
        &["-o", "json"],
        &["-o", "yaml"],
        &["--jq", "."],
    ] {
        let url = canned_server(200, claims.to_owned(), 1);
        let output = s
            .against(&url)
            .arg("whoami")
            .args(form)
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{form:?}: {}",
            text(&output.stderr)
        );
        assert!(
            !steers(&output.stdout),
            "{form:?}: {:?}",
            text(&output.stdout)
        );
        if form == ["--json"] {
            // Still the claims, each character written as an escape of the same string.
            assert_eq!(
                stdout_json(&output),
                serde_json::from_str::<Value>(claims).expect("JSON")
            );
        }
    }
}

#[test]
fn commands_that_print_no_json_refuse_jq_and_output() {
    let s = setup();
    let before = s.emulator.requests().len();
    for args in [
        &["op", "--list"][..],
        &["completions", "bash"][..],
        &["man"][..],
        &["logout"][..],
        &["login", "--api-key", "gpra_unused"][..],
    ] {
        for option in [&["--jq", "."][..], &["-o", "yaml"][..]] {
            let output = s
                .cli()
                .args(args)
                .args(option)
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 2, option[0], (args, option));
            assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
            assert!(output.stdout.is_empty(), "{args:?} {option:?}");
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert!(!s.credentials_path().exists(), "nothing was stored");
}

/// The options `--jq` and `-o/--output` are refused with, one at a time.
const SHAPING: [&[&str]; 3] = [&["--jq", "."], &["-o", "yaml"], &["-o", "json"]];

/// Asserts that `output` is the refusal of `--jq` or `-o/--output` (`option`) as a usage error
/// naming both options, with nothing on stdout.
fn shaping_refused(output: &std::process::Output, option: &[&str], run: impl std::fmt::Debug) {
    let stderr = fails_saying(output, 2, option[0], &run);
    assert!(stderr.contains("--jq and -o/--output"), "{run:?}: {stderr}");
    assert!(stderr.contains("nothing was sent"), "{run:?}: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "{run:?}: {}",
        text(&output.stdout)
    );
}

#[test]
fn op_refuses_an_unknown_operation_in_a_dry_run_as_in_a_real_run_and_shows_no_escapes() {
    let s = setup();
    let before = s.emulator.requests().len();
    for id in ["catalog.search?x=1", "x\u{1b}]0;pwned\u{7}"] {
        let mut said = Vec::new();
        for dry_run in [true, false] {
            let mut command = s.cli();
            command.args(["op", id]);
            if dry_run {
                command.arg("--dry-run");
            }
            let output = command.output().expect("geopera runs");
            let stderr = fails_saying(&output, 2, "unknown operation", (id, dry_run));
            assert!(
                output.stdout.is_empty(),
                "{id:?} {dry_run}: {}",
                text(&output.stdout)
            );
            assert!(!stderr.contains('\u{1b}'), "{id:?} {dry_run}: {stderr:?}");
            said.push(stderr);
        }
        assert_eq!(
            said[0], said[1],
            "{id:?}: the dry run and the real run agree"
        );
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    // A known id is still shown in a dry run.
    let output = s
        .cli()
        .args(["op", "catalog.search", "--dry-run"])
        .output()
        .expect("geopera runs");
    let (first, _) = dry_run(&output);
    assert!(first.ends_with("/v1/op/catalog.search"), "{first}");
}

#[test]
fn a_dry_run_refuses_jq_and_output_and_sends_nothing() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    let path = path.to_str().expect("a UTF-8 path");
    let before = s.emulator.requests().len();
    for args in [
        &SEARCH_ONE[..],
        &[
            "op",
            "catalog.search",
            r#"{"host_name": "earthsearch-aws"}"#,
        ][..],
        &["upload", path, "--project", "p_unused"][..],
    ] {
        let output = s
            .cli()
            .args(args)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(
            !output.stdout.is_empty(),
            "{args:?}: the dry run is printed"
        );
        for option in SHAPING {
            let output = s
                .cli()
                .args(args)
                .arg("--dry-run")
                .args(option)
                .output()
                .expect("geopera runs");
            shaping_refused(&output, option, (args, option));
            assert!(text(&output.stderr).contains("dry run"));
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

/// `catalog tile render` of a scene, as arguments.
fn tile_render(scene: &str) -> Vec<&str> {
    vec![
        "catalog",
        "tile",
        "render",
        "--collection",
        "sentinel-2-l2a",
        "--scene-id",
        scene,
        "--visualization",
        "true_color",
        "--z",
        "3",
        "--x",
        "4",
        "--y",
        "2",
        "--format",
        "png",
    ]
}

/// The body of [`tile_render`], for `geopera op catalog.tile.render`.
fn tile_render_body(scene: &str) -> String {
    serde_json::json!({
        "collection": "sentinel-2-l2a", "scene_id": scene, "visualization": "true_color",
        "z": 3, "x": 4, "y": 2, "format": "png",
    })
    .to_string()
}

#[test]
fn out_on_a_binary_answer_refuses_jq_and_output_before_anything_is_sent() {
    let s = setup();
    let scene = a_scene(&s);
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("answer");
    let target = target.to_str().expect("a UTF-8 path");
    let tile = tile_render(&scene);
    let tile_body = tile_render_body(&scene);
    let stream = [
        "catalog",
        "search-stream",
        "--json",
        r#"{"host_name":"earthsearch-aws"}"#,
    ];
    let before = s.emulator.requests().len();
    for args in [
        [&tile[..], &["--out", target]].concat(),
        [&tile[..], &["--out", "-"]].concat(),
        vec![
            "op",
            "catalog.tile.render",
            tile_body.as_str(),
            "--out",
            target,
        ],
        [&stream[..], &["--out", target]].concat(),
        [&stream[..], &["--out", "-"]].concat(),
    ] {
        for option in SHAPING {
            let output = s
                .cli()
                .args(&args)
                .args(option)
                .output()
                .expect("geopera runs");
            shaping_refused(&output, option, (&args, option));
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert!(!Path::new(target).exists(), "nothing was written");
}

/// A binary operation answered with a redirect prints `{"status", "location"}` as JSON, so
/// `--jq` and `-o` apply to it as to any JSON answer.
#[test]
fn a_redirect_answering_a_binary_operation_goes_through_jq_and_output() {
    let s = setup();
    let url = redirecting_server(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: https://tiles.example/t/3/4/2.png\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    let body = tile_render_body("s-1");
    for (args, option, printed) in [
        (
            tile_render("s-1"),
            &["--jq", ".location"][..],
            "\"https://tiles.example/t/3/4/2.png\"",
        ),
        (
            vec!["op", "catalog.tile.render", body.as_str()],
            &["--jq", ".location"][..],
            "\"https://tiles.example/t/3/4/2.png\"",
        ),
        (
            tile_render("s-1"),
            &["-o", "yaml"][..],
            "status: 307\nlocation: https://tiles.example/t/3/4/2.png",
        ),
    ] {
        let output = s
            .against(&url)
            .args(&args)
            .args(option)
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?} {option:?}: {}",
            text(&output.stderr)
        );
        assert_eq!(
            text(&output.stdout).trim_end(),
            printed,
            "{args:?} {option:?}"
        );
    }
}

/// A redirect that names no place to go (no `Location`, an empty one, or a 304) is no
/// answer to a binary operation: it fails with exit 2 rather than printing an empty location
/// as a success.
#[test]
fn a_redirect_naming_no_place_fails() {
    let s = setup();
    for head in [
        "HTTP/1.1 307 Temporary Redirect\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        "HTTP/1.1 302 Found\r\nlocation: \r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nlocation: https://tiles.example/t.png\r\nconnection: close\r\n\r\n",
    ] {
        let url = redirecting_server(head);
        let output = s
            .against(&url)
            .args(tile_render("s-1"))
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, "names no place to go", head);
        assert!(output.stdout.is_empty(), "{head}: {}", text(&output.stdout));
    }
}

/// With `--out FILE`, a redirect to the bytes is printed and the command fails saying nothing
/// was written: it ended 0 with FILE untouched, which a script read as the tile (or, with a
/// file of an earlier run, as this run's).
#[test]
fn a_redirect_answering_out_file_is_printed_and_fails_leaving_the_file_as_it_was() {
    let s = setup();
    let url = redirecting_server(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: https://tiles.example/t/3/4/2.png\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("t.png");
    std::fs::write(&file, "old").expect("a file of an earlier run");
    let out = file.to_str().expect("a UTF-8 path");
    for (out, named) in [
        (out, "nothing was written to"),
        ("-", "stdout holds that JSON instead of the bytes"),
    ] {
        let output = s
            .against(&url)
            .args(tile_render("s-1"))
            .args(["--out", out])
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 1, "is a redirect", out);
        assert!(stderr.contains(named), "{stderr}");
        assert_eq!(
            stdout_json(&output)["location"],
            "https://tiles.example/t/3/4/2.png"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).expect("the file"), "old");
}

/// Bytes that `--jq` or `-o` cannot shape are refused once they come, and not written.
#[test]
fn a_binary_answer_of_bytes_with_jq_or_output_fails_and_writes_nothing() {
    let s = setup();
    let scene = a_scene(&s);
    let body = tile_render_body(&scene);
    for args in [
        tile_render(&scene),
        vec!["op", "catalog.tile.render", body.as_str()],
    ] {
        for option in SHAPING {
            let output = s
                .cli()
                .args(&args)
                .args(option)
                .output()
                .expect("geopera runs");
            let stderr = fails_saying(&output, 1, "it was not written", (&args, option));
            assert!(stderr.contains(option[0]), "{stderr}");
            assert!(stderr.contains("not JSON"), "{stderr}");
            assert!(output.stdout.is_empty(), "{args:?} {option:?}");
        }
    }
}

#[test]
fn a_stream_answered_with_other_bytes_is_not_written_when_jq_or_output_was_asked_for() {
    let s = setup();
    let url = typed_test_server("application/octet-stream", 2, |_| {
        (200, "not lines of JSON".to_owned())
    });
    for option in [&["--jq", ".id"][..], &["-o", "yaml"][..]] {
        let output = s
            .against(&url)
            .args(["catalog", "search-stream", "--json", "{}"])
            .args(option)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 1, "not NDJSON", option);
        assert!(stderr.contains(option[0]), "{stderr}");
        assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    }
}

/// A cut-off answer of an operation whose answer holds a credential (a signed upload URL) is
/// refused without quoting how it begins, where the credential would be; another operation's
/// is quoted, as it helps to see a proxy's page.
#[test]
fn a_cut_off_answer_holding_a_credential_is_not_quoted() {
    let s = setup();
    let url = test_server(2, |_| {
        (
            200,
            r#"{"upload_url": "https://store.example/u?sig=SIGNATURE-SECRET"#.to_owned(),
        )
    });
    let output = s
        .against(&url)
        .args(["op", "uploads.signed_url", r#"{"upload_id": "upl_1"}"#])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "is not JSON", "uploads.signed_url");
    assert!(!stderr.contains("SIGNATURE-SECRET"), "{stderr}");
    assert!(!stderr.contains("store.example"), "{stderr}");
    assert!(stderr.contains("not shown"), "{stderr}");
    let output = s
        .against(&url)
        .args(["op", "orders.get", r#"{"order_id": "ord_1"}"#])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "is not JSON", "orders.get");
    assert!(stderr.contains("store.example"), "{stderr}");
}

#[test]
fn a_global_option_given_before_and_after_the_subcommand_is_a_usage_error() {
    let s = setup();
    let redis = ["--rate-budget-redis", "redis://127.0.0.1:1/"];
    let cases: [(&[&str], &[&str], &str); 9] = [
        (&["--timeout", "1"], &["--timeout", "10"], "--timeout"),
        (&["--timeout=1"], &["--timeout=10"], "--timeout"),
        (&["--profile", "a"], &["--profile", "b"], "--profile"),
        (
            &["--api-url", "http://127.0.0.1:1"],
            &["--api-url", "http://127.0.0.1:2"],
            "--api-url",
        ),
        (&redis, &redis, "--rate-budget-redis"),
        (
            &["--rate-budget-org", "a"],
            &[
                "--rate-budget-org",
                "b",
                "--rate-budget-redis",
                "redis://127.0.0.1:1/",
            ],
            "--rate-budget-org",
        ),
        (
            &["--idempotency-key", "k1"],
            &["--idempotency-key", "k2"],
            "--idempotency-key",
        ),
        (&["-vo", "json"], &["--output", "yaml"], "--output"),
        (&["--jq", "."], &["--jq", ".features"], "--jq"),
    ];
    let before = s.emulator.requests().len();
    for (first, second, named) in cases {
        let output = s
            .cli()
            .args(first)
            .args(SEARCH_ONE)
            .args(second)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, named, (first, second));
        assert!(stderr.contains("before and after"), "{stderr}");
        assert!(output.stdout.is_empty(), "{first:?} {second:?}");
        // Once, on either side, is no error.
        for side in [first, second] {
            let output = s
                .cli()
                // Where `--rate-budget-org` alone finds its Redis.
                .env("GEOPERA_RATE_BUDGET_REDIS", "redis://127.0.0.1:1/")
                .args(side)
                .args(SEARCH_ONE)
                .arg("--dry-run")
                .output()
                .expect("geopera runs");
            taken_once(&output, side);
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

/// Asserts that the dry run `output` got past the check of options given twice: it succeeded,
/// or, given `--jq` or `-o`, it was refused as a dry run, which prints no answer for them to
/// shape, and not as an option given twice.
fn taken_once(output: &std::process::Output, run: impl std::fmt::Debug) {
    let stderr = text(&output.stderr);
    let refused_as_dry_run = output.status.code() == Some(2)
        && stderr.contains("a dry run prints the request, not an answer");
    assert!(
        output.status.code() == Some(0) || refused_as_dry_run,
        "{run:?}: {stderr}"
    );
}

#[test]
fn a_global_option_given_at_any_two_levels_is_a_usage_error() {
    let s = setup();
    let studies = ["orders", "tasking", "feasibility-studies", "list"];
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "orders",
                "--api-url",
                "http://127.0.0.1:1",
                "list",
                "--api-url",
                "http://127.0.0.1:2",
            ],
            "--api-url",
        ),
        (
            &["orders", "--timeout", "1", "list", "--timeout", "2"],
            "--timeout",
        ),
        (
            &["--timeout", "1", "orders", "--timeout=2", "list"],
            "--timeout",
        ),
        (&["orders", "-vo", "json", "list", "-oyaml"], "--output"),
        (
            &[
                "orders",
                "tasking",
                "--profile",
                "a",
                "feasibility-studies",
                "list",
                "--profile=b",
            ],
            "--profile",
        ),
        (
            &[
                "orders",
                "--jq",
                ".",
                "tasking",
                "feasibility-studies",
                "--jq",
                ".a",
                "list",
            ],
            "--jq",
        ),
    ];
    let before = s.emulator.requests().len();
    for (args, named) in cases {
        let output = s
            .cli()
            .args(args)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, named, args);
        assert!(stderr.contains("given twice"), "{stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    // A value that reads as a subcommand or an option, clusters of short options, `--`, a
    // body field beside a global of its name, and words that are not UTF-8 are read as the
    // parse that runs the command reads them: each option here is given once.
    let once: [&[&str]; 6] = [
        &["--profile", "orders", "orders", "list"],
        &[
            "--idempotency-key=--timeout",
            "orders",
            "--timeout",
            "2",
            "list",
        ],
        &["--jq", ".a", "orders", "-oyaml", "list"],
        &[
            "-vo",
            "yaml",
            "orders",
            "tasking",
            "--profile=x",
            "feasibility-studies",
            "list",
        ],
        &studies,
        &[
            "--profile",
            "x",
            "items",
            "tile",
            "render",
            "--body-profile",
            "y",
            "--z",
            "1",
            "--x",
            "0",
            "--y",
            "0",
            "--item-id",
            "i",
        ],
    ];
    for args in once {
        let output = s
            .cli()
            .args(args)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        taken_once(&output, args);
    }
    // After `--` an option's name is the body of `op`, not the option.
    let output = s
        .cli()
        .args([
            "--jq",
            ".",
            "op",
            "catalog.search",
            "--dry-run",
            "--",
            "--jq",
        ])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "invalid JSON body", "op -- --jq");
    assert!(!stderr.contains("given twice"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let path = std::ffi::OsStr::from_bytes(b"not-utf8-\xff.tif");
        for (after, code) in [(&[][..], 1), (&["--timeout", "2"][..], 2)] {
            let output = s
                .cli()
                .args(["--timeout", "1", "upload"])
                .arg(path)
                .args(["--project", "p", "--dry-run"])
                .args(after)
                .output()
                .expect("geopera runs");
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(code), "{after:?}: {stderr}");
            assert_eq!(stderr.contains("given twice"), code == 2, "{stderr}");
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

/// Runs the one-feature search with `flag` given empty, blank and as `flag=`, before and
/// after the subcommand, with `--dry-run` (and without it, when `unless_dry` says the call
/// could otherwise reach the emulator), and checks each is a usage error naming the flag that
/// prints and sends nothing: such a value is what an unset shell variable becomes.
fn an_empty_flag_is_refused(s: &Setup, flag: &str, unless_dry: bool) {
    let before = s.emulator.requests().len();
    let inline = format!("{flag}=");
    let mut layouts = vec![(false, true), (true, true)];
    if unless_dry {
        layouts.push((true, false));
    }
    for given in [vec![flag, ""], vec![flag, "  "], vec![inline.as_str()]] {
        for &(after, dry_run) in &layouts {
            let mut command = s.cli();
            if after {
                command.args(SEARCH_ONE).args(&given);
            } else {
                command.args(&given).args(SEARCH_ONE);
            }
            if dry_run {
                command.arg("--dry-run");
            }
            let output = command.output().expect("geopera runs");
            fails_saying(&output, 2, flag, &given);
            assert!(
                output.stdout.is_empty(),
                "{given:?}: {}",
                text(&output.stdout)
            );
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

#[test]
fn an_empty_or_blank_api_url_option_is_a_usage_error_and_nothing_is_sent() {
    let s = setup();
    an_empty_flag_is_refused(&s, "--api-url", false);
    // A blank variable is no URL, as its help says: the next source is used.
    let output = s
        .cli()
        .env("GEOPERA_API_URL", " ")
        .args(SEARCH_ONE)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(dry_run(&output).0.contains("https://api.geopera.com/"));
    let help = s.bare().arg("--help").output().expect("geopera runs");
    assert!(text(&help.stdout).contains("ignored when empty or blank"));
}

#[test]
fn wait_timeout_help_names_the_limits_that_apply_without_it() {
    let s = setup();
    for args in [
        &["orders", "archive", "place", "--help"][..],
        &["processing", "execute", "--help"],
        &["orders", "wait", "--help"],
    ] {
        let output = s.bare().args(args).output().expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let help = text(&output.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(help.contains("--wait-timeout"), "{args:?}: {help}");
        assert!(!help.contains("no limit"), "{args:?}: {help}");
        assert!(
            help.contains("60 days for an order, 24 hours for a job"),
            "{args:?}: {help}"
        );
    }
}

#[test]
fn a_rate_budget_the_command_line_cannot_mean_is_a_usage_error_and_nothing_is_sent() {
    let s = setup();
    let redis = "redis://127.0.0.1:1/";
    let before = s.emulator.requests().len();
    let cases: [(&[&str], Option<&str>, &str); 10] = [
        (
            &["--rate-budget-redis", "notaurl"],
            None,
            "--rate-budget-redis",
        ),
        // A brace would break the hash tag that keeps the organization's keys together.
        (
            &["--rate-budget-org", "{org}", "--rate-budget-redis", redis],
            None,
            "--rate-budget-org",
        ),
        (&[], Some("notaurl"), "GEOPERA_RATE_BUDGET_REDIS"),
        (&["--rate-budget-org", "org_a"], None, "--rate-budget-org"),
        (
            &["--rate-budget-org", "", "--rate-budget-redis", redis],
            None,
            "--rate-budget-org",
        ),
        (
            &["--rate-budget-org", " ", "--rate-budget-redis", redis],
            None,
            "--rate-budget-org",
        ),
        (&["--rate-budget-org", ""], Some(redis), "--rate-budget-org"),
        // A certificate authority is for a Redis over TLS, named, and a file that holds one.
        (
            &["--rate-budget-redis-ca", "Cargo.toml"],
            None,
            "--rate-budget-redis-ca names the certificate authority",
        ),
        (
            &[
                "--rate-budget-redis-ca",
                "Cargo.toml",
                "--rate-budget-redis",
                redis,
            ],
            None,
            "use rediss://",
        ),
        (
            &[
                "--rate-budget-redis-ca",
                "/nonexistent/ca.pem",
                "--rate-budget-redis",
                "rediss://127.0.0.1:1/",
            ],
            None,
            "--rate-budget-redis-ca: ",
        ),
    ];
    for (args, variable, named) in cases {
        for dry_run in [false, true] {
            let mut command = s.cli();
            if let Some(url) = variable {
                command.env("GEOPERA_RATE_BUDGET_REDIS", url);
            }
            command.args(args).args(SEARCH_ONE);
            if dry_run {
                command.arg("--dry-run");
            }
            let output = command.output().expect("geopera runs");
            fails_saying(&output, 2, named, (args, variable, dry_run));
            assert!(output.stdout.is_empty(), "{args:?}");
        }
    }
    // `GEOPERA_RATE_BUDGET_ORG="$UNSET"`: set but blank is refused as the option is, where it
    // joined the `default` organization's budget.
    for blank in ["", " "] {
        let output = s
            .cli()
            .env("GEOPERA_RATE_BUDGET_ORG", blank)
            .args(["--rate-budget-redis", redis])
            .args(SEARCH_ONE)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(
            &output,
            2,
            "GEOPERA_RATE_BUDGET_ORG is set but empty",
            blank,
        );
        assert!(stderr.contains("an unset variable?"), "{stderr}");
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    // Either variable without a Redis is said, not refused: it may be set for every process
    // of a machine.
    for (variable, value) in [
        ("GEOPERA_RATE_BUDGET_ORG", "org_a"),
        ("GEOPERA_RATE_BUDGET_REDIS_CA", "/etc/fleet-ca.pem"),
    ] {
        let output = s
            .cli()
            .env(variable, value)
            .args(["--dry-run"])
            .args(SEARCH_ONE)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("{variable} is set but no Redis is named")),
            "{stderr}"
        );
        assert_eq!(stderr.matches("is set but no Redis").count(), 1, "{stderr}");
    }
    // The Redis may come from the environment, the organization from the command line.
    let output = s
        .cli()
        .env("GEOPERA_RATE_BUDGET_REDIS", redis)
        .args(["--rate-budget-org", "org_a", "--dry-run"])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn an_empty_or_blank_rate_budget_redis_option_is_a_usage_error_and_nothing_is_sent() {
    let s = setup();
    an_empty_flag_is_refused(&s, "--rate-budget-redis", true);
    // A blank variable is no Redis, as the help says: the call is paced alone.
    let output = s
        .cli()
        .env("GEOPERA_RATE_BUDGET_REDIS", " ")
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    one_feature(&output);
    let help = s.bare().arg("--help").output().expect("geopera runs");
    let help = text(&help.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("GEOPERA_RATE_BUDGET_REDIS, ignored when empty or blank"),
        "{help}"
    );
}

#[test]
fn a_rate_budget_is_checked_only_by_the_commands_that_call_the_api_with_one() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let pages = dir.path().join("pages");
    let headers = dir.path().join("headers.txt");
    let body = dir.path().join("body.json");
    std::fs::write(
        &headers,
        "POST /hook HTTP/1.1\nX-Geopera-Signature: t=1,v1=00\n",
    )
    .expect("test step");
    std::fs::write(&body, "{}").expect("test step");
    let variable = ("GEOPERA_RATE_BUDGET_REDIS", "notaurl");
    // None of these sends a call a budget paces, so none reads the variable.
    let login = ["login", "--api-key", s.emulator.api_key()];
    let pages_arg = pages.to_string_lossy().into_owned();
    let headers_arg = headers.to_string_lossy().into_owned();
    let body_arg = body.to_string_lossy().into_owned();
    let webhook = [
        "webhooks",
        "verify",
        "--secret",
        "s",
        "--headers",
        headers_arg.as_str(),
        "--body",
        body_arg.as_str(),
    ];
    let cases: [(&[&str], i32); 9] = [
        (&["completions", "bash"], 0),
        (&["man"], 0),
        (&["man", "--out-dir", pages_arg.as_str()], 0),
        (&login, 0),
        (&["whoami"], 0),
        (&["logout"], 0),
        (&["op", "--list"], 0),
        (&["orders"], 0),
        (&webhook, 1),
    ];
    for (args, code) in cases {
        let output = s
            .bare()
            .env("GEOPERA_API_URL", s.emulator.base_url())
            .env(variable.0, variable.1)
            .args(args)
            .output()
            .expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains(variable.0), "{args:?}: {stderr}");
    }
    // The commands that call the API with a budget still refuse it, before anything is sent.
    let before = s.emulator.requests().len();
    for args in [
        &["op", "catalog.search", "--dry-run"][..],
        &["orders", "wait", "ord_1"],
        &["upload", body_arg.as_str(), "--project", "p", "--dry-run"],
    ] {
        let output = s
            .cli()
            .env(variable.0, variable.1)
            .args(args)
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, variable.0, args);
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

/// A server of the test's own that answers every request with `head` and no body.
fn redirecting_server(head: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = stream.write_all(head.as_bytes());
        }
    });
    url
}

/// A 200 answer that is not the operation's model is no refusal by the API: `orders wait` and
/// `upload` exit 1 for it, as every call does, not 2 with `[200]`. A 422 to a step of the
/// upload says each failed field once, as a call's 422 does, without the status twice.
#[test]
fn an_unreadable_success_exits_1_and_a_refused_upload_names_the_field() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("small.txt");
    std::fs::write(&file, "some bytes").expect("a file");
    let file = file.to_str().expect("a UTF-8 path");
    let garbled = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\nhello world";
    for args in [
        vec!["orders", "wait", "ord_1"],
        vec!["upload", file, "--project", "p_1"],
    ] {
        let output = s
            .cli()
            .env("GEOPERA_API_URL", redirecting_server(garbled))
            .args(&args)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 1, "could not decode", &args);
        assert!(!stderr.contains("[200]"), "{args:?}: {stderr}");
        // A reservation answered unreadably may be held: said, not passed over.
        assert_eq!(
            stderr.contains("may have reserved quota"),
            args[0] == "upload",
            "{args:?}: {stderr}"
        );
    }

    let refused = "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/json\r\ncontent-length: 69\r\nconnection: close\r\n\r\n{\"detail\":[{\"loc\":[\"body\",\"file_name\"],\"msg\":\"Too long\",\"type\":\"x\"}]}";
    let output = s
        .cli()
        .env("GEOPERA_API_URL", redirecting_server(refused))
        .args(["upload", file, "--project", "p_1"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 2, "[422] body.file_name: Too long", "upload");
    assert_eq!(stderr.matches("422").count(), 1, "{stderr}");
}

#[test]
fn a_redirect_on_a_json_operation_is_an_error_naming_it() {
    let s = setup();
    let url = redirecting_server(
        "HTTP/1.1 302 Found\r\nlocation: https://elsewhere.example/v1/op/catalog.search\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    let output = s
        .cli()
        .env("GEOPERA_API_URL", &url)
        .args(["catalog", "search", "--host-name", "earthsearch-aws"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[302]"), "{stderr}");
    assert!(stderr.contains("https://elsewhere.example"), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
}

#[test]
fn an_empty_idempotency_key_is_a_usage_error() {
    let s = setup();
    let before = s.emulator.requests().len();
    let output = s
        .cli()
        .args(["--idempotency-key", " "])
        .args(["projects", "create", "--name", "p"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("--idempotency-key"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

/// NDJSON holds one item a line, so a stream with no lines has no items: nothing is printed,
/// where an empty JSON answer prints `null`, which `--jq .id` would take for an item.
#[test]
fn an_ndjson_answer_with_no_matches_prints_nothing() {
    let s = setup();
    let none = r#"{"host_name":"earthsearch-aws","ids":["no-such-scene"]}"#;
    for option in [&[][..], &["--jq", ".id"][..], &["-o", "yaml"][..]] {
        let output = s
            .cli()
            .args(["catalog", "search-stream", "--json", none])
            .args(option)
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{option:?}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "", "{option:?}");
    }
}

#[test]
fn an_ndjson_answer_prints_line_by_line_through_jq_and_output() {
    let s = setup();
    let stream = |extra: &[&str]| {
        s.cli()
            .args([
                "catalog",
                "search-stream",
                "--json",
                r#"{"host_name":"earthsearch-aws"}"#,
            ])
            .args(extra)
            .output()
            .expect("geopera runs")
    };
    let output = stream(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let lines = text(&output.stdout);
    let mut count = 0;
    for line in lines.lines() {
        let item: Value = serde_json::from_str(line).expect("one JSON document per line");
        assert!(item["id"].is_string(), "{line}");
        count += 1;
    }
    assert!(count > 100, "{count} lines");

    let output = stream(&["--jq", ".id"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let ids = text(&output.stdout);
    assert_eq!(ids.lines().count(), count);
    assert!(
        ids.lines().all(|id| id.starts_with('"')),
        "{}",
        &ids[..200.min(ids.len())]
    );

    let output = stream(&["-o", "yaml", "--jq", "{id}"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout)
            .lines()
            .filter(|l| l.starts_with("id: "))
            .count(),
        count
    );

    // A stream of one item is one line too, not an indented object.
    let first: Value =
        serde_json::from_str(lines.lines().next().unwrap_or_default()).expect("a first item");
    let one = serde_json::json!({"host_name": "earthsearch-aws", "ids": [first["id"]]});
    let output = s
        .cli()
        .args(["catalog", "search-stream", "--json", &one.to_string()])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let printed = text(&output.stdout);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let item: Value = serde_json::from_str(printed.trim()).expect("one JSON document");
    assert_eq!(item["id"], first["id"]);
}

/// The lines of an NDJSON answer are YAML documents apart with `-o yaml`, and one table with
/// `-o table`: printed back to back, a YAML reader read the items as one, keeping the last;
/// and each line was a table with its own header.
#[test]
fn ndjson_lines_are_separate_yaml_documents_and_one_table() {
    let s = setup();
    let stream = [
        "catalog",
        "search-stream",
        "--json",
        r#"{"host_name": "earthsearch-aws", "limit": 3}"#,
    ];
    let output = s.cli().args(stream).output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let items: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(items.len(), 3);
    let ids: Vec<Value> = items.iter().map(|item| item["id"].clone()).collect();

    // The stream printed as `format`, through `jq` when given.
    let shaped = |format: &str, jq: Option<&str>| {
        let output = s
            .cli()
            .args(stream)
            .args(["-o", format])
            .args(jq.map(|jq| ["--jq", jq]).into_iter().flatten())
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    for jq in [None, Some("{id}")] {
        let yaml = shaped("yaml", jq);
        let read: Vec<Value> = serde_norway::Deserializer::from_str(&yaml)
            .map(|document| {
                <Value as serde::Deserialize>::deserialize(document).expect("a YAML document")
            })
            .collect();
        let read_ids: Vec<Value> = read.iter().map(|item| item["id"].clone()).collect();
        assert_eq!(read_ids, ids, "{jq:?}: {yaml}");
        if jq.is_none() {
            assert_eq!(read, items, "the items as the JSON lines say");
        }
    }

    for jq in [None, Some(".id")] {
        let table = shaped("table", jq);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines.len(),
            1 + 3,
            "{jq:?}: one header, a row per item: {table}"
        );
        let header = if jq.is_none() { "ID" } else { "VALUE" };
        assert!(lines[0].starts_with(header), "{jq:?}: {table}");
        for (line, id) in lines[1..].iter().zip(&ids) {
            let id = id.as_str().expect("a text id");
            assert!(line.starts_with(id), "{jq:?}: {table}");
        }
    }
}

/// A line of an NDJSON answer that is not JSON ends `-o table` with an error after the table
/// of the lines before it, as the other outputs print those lines first.
#[test]
fn a_bad_ndjson_line_ends_the_table_after_the_rows_before_it() {
    let s = setup();
    let body = "{\"id\":\"first\"}\n{\"id\":\"second\"}\nnot json\n{\"id\":\"after\"}\n";
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let url = redirecting_server(Box::leak(head.into_boxed_str()));
    let output = s
        .cli()
        .env("GEOPERA_API_URL", url)
        .args([
            "catalog",
            "search-stream",
            "--json",
            r#"{"host_name": "earthsearch-aws"}"#,
        ])
        .args(["-o", "table"])
        .output()
        .expect("geopera runs");
    fails_saying(&output, 1, "line 3 of the answer is not JSON", "a bad line");
    let table = text(&output.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines, ["ID", "first", "second"], "{table}");
}

#[test]
fn stac_search_all_reads_every_item_once() {
    let s = setup();
    let output = s
        .cli()
        .args(["stac", "search", "--limit", "3", "--all", "--jq", ".id"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let ids: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    assert!(ids.len() > 3, "several pages: {}", ids.len());
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no item twice: {ids:?}");
    let output = s
        .cli()
        .args(["stac", "search", "--limit", "100"])
        .output()
        .expect("geopera runs");
    let matched = stdout_json(&output)["numberMatched"]
        .as_u64()
        .expect("a count");
    assert_eq!(ids.len() as u64, matched, "every item");
}

#[test]
fn a_refused_refresh_after_a_401_says_to_sign_in_again() {
    let s = setup();
    s.store_credentials(&format!(
        r#"{{"default": {{"api_url": "{url}", "auth": {{"type": "oauth", "access_token": "at_bogus", "refresh_token": "rt_bogus", "expires_at": null, "scope": "openid profile", "issuer": "{url}"}}}}}}"#,
        url = s.emulator.base_url()
    ));
    let output = s
        .bare()
        .args(["catalog", "search", "--host-name", "earthsearch-aws"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("token refresh failed"), "{stderr}");
    assert!(stderr.contains("geopera login"), "{stderr}");
    assert!(
        !stderr.contains("rt_bogus") && !stderr.contains("at_bogus"),
        "{stderr}"
    );
}

/// `geopera whoami` with an expired stored session (`at_old`, `rt_kept`) against a server whose
/// token endpoint answers a refresh with `answer`.
fn whoami_refreshed_with(s: &Setup, answer: &'static str) -> std::process::Output {
    let url = test_server(4, move |body| {
        if String::from_utf8_lossy(body).contains("grant_type=refresh_token") {
            (200, answer.to_owned())
        } else {
            (200, r#"{"sub":"u1"}"#.to_owned())
        }
    });
    s.store_credentials(&a_session_for(&url, "at_old", "rt_kept", 1.0));
    s.bare().arg("whoami").output().expect("geopera runs")
}

#[test]
fn a_refresh_answered_with_empty_tokens_is_refused_and_keeps_the_stored_session() {
    let s = setup();
    for answer in [
        r#"{"access_token":"","refresh_token":"","expires_in":300}"#,
        r#"{"access_token":"at\u0000new","refresh_token":"rt_new","expires_in":300}"#,
    ] {
        let output = whoami_refreshed_with(&s, answer);
        let stderr = fails_saying(&output, 1, "no usable access token", answer);
        assert!(stderr.contains("geopera login"), "{stderr}");
        let auth = &s.credentials()["default"]["auth"];
        assert_eq!(auth["access_token"], "at_old", "{answer}");
        assert_eq!(auth["refresh_token"], "rt_kept", "{answer}");
    }
}

#[test]
fn a_refresh_answered_with_an_empty_refresh_token_keeps_the_one_that_worked() {
    let s = setup();
    let output = whoami_refreshed_with(
        &s,
        r#"{"access_token":"at_new","refresh_token":"","expires_in":300}"#,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let auth = &s.credentials()["default"]["auth"];
    assert_eq!(auth["access_token"], "at_new");
    assert_eq!(auth["refresh_token"], "rt_kept");
}

/// A refresh answer is read by the SDK's rules, as the SDK's own sessions read it: a lifetime
/// written as a string or in an odd shape does not throw away the rotated refresh token in
/// it (the one sent is spent already). An answer with no lifetime still stores `expires_at`
/// as `null`, in the same profile format as before, not as the lifetime the SDK assumes.
#[test]
fn a_refresh_answer_is_read_by_the_sdk_rules_and_no_lifetime_is_stored_as_null() {
    let s = setup();
    for (answer, stated) in [
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":"300"}"#,
            true,
        ),
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":300.5}"#,
            true,
        ),
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":{"s":1}}"#,
            false,
        ),
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new"}"#,
            false,
        ),
    ] {
        let output = whoami_refreshed_with(&s, answer);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{answer}: {}",
            text(&output.stderr)
        );
        let auth = s.credentials()["default"]["auth"].clone();
        let keys: Vec<&String> = auth.as_object().expect("an object").keys().collect();
        assert_eq!(
            keys,
            [
                "access_token",
                "expires_at",
                "issuer",
                "refresh_token",
                "scope",
                "type"
            ],
            "{answer}"
        );
        assert_eq!(auth["access_token"], "at_new", "{answer}");
        assert_eq!(auth["refresh_token"], "rt_new", "{answer}");
        if stated {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs_f64();
            let left = auth["expires_at"].as_f64().expect("a float") - now;
            assert!((250.0..=301.0).contains(&left), "{answer}: {left}");
        } else {
            assert!(auth["expires_at"].is_null(), "{answer}: {auth}");
        }
    }
}

/// A stored session (`at_old`, `rt_kept`, no known expiry) whose first call is answered 401,
/// against a server that refreshes it with `answer` and then takes the call: the output of
/// `geopera op catalog.search`.
fn op_refreshed_after_a_401_with(s: &Setup, answer: &'static str) -> std::process::Output {
    op_refreshed_with(s, answer, true, None)
}

/// A stored session (`at_old`, `rt_kept`, with `scope` when given) refreshed with `answer`:
/// after its first call is answered 401 when `after_401`, else before the call, as its
/// `expires_at` has passed. The output of `geopera op catalog.search`.
fn op_refreshed_with(
    s: &Setup,
    answer: &'static str,
    after_401: bool,
    scope: Option<&str>,
) -> std::process::Output {
    let calls = std::sync::atomic::AtomicUsize::new(usize::from(!after_401));
    let url = test_server(3, move |body| {
        if String::from_utf8_lossy(body).contains("grant_type=refresh_token") {
            return (200, answer.to_owned());
        }
        match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => (
                401,
                r#"{"title":"Unauthenticated","status":401}"#.to_owned(),
            ),
            _ => (200, "{}".to_owned()),
        }
    });
    let mut auth = serde_json::json!({
        "type": "oauth", "access_token": "at_old", "refresh_token": "rt_kept",
        "expires_at": if after_401 { Value::Null } else { serde_json::json!(1.0) },
    });
    if let Some(scope) = scope {
        auth["scope"] = Value::String(scope.to_owned());
    }
    s.store_credentials(
        &serde_json::json!({"default": {"api_url": url, "auth": auth}}).to_string(),
    );
    s.bare()
        .args(["op", "catalog.search", "{}"])
        .output()
        .expect("geopera runs")
}

/// A refresh answer that names no scope keeps the stored one, whether the session was
/// refreshed before the call or after a 401, as the official CLI keeps it; one that names a
/// scope replaces it.
#[test]
fn a_refresh_answer_without_a_scope_keeps_the_stored_one_before_a_call_and_after_a_401() {
    let s = setup();
    for after_401 in [false, true] {
        for (answer, stored) in [
            (
                r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":300}"#,
                "openid profile orders:read",
            ),
            (
                r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":300,"scope":"openid"}"#,
                "openid",
            ),
        ] {
            let output =
                op_refreshed_with(&s, answer, after_401, Some("openid profile orders:read"));
            assert_eq!(
                output.status.code(),
                Some(0),
                "{after_401} {answer}: {}",
                text(&output.stderr)
            );
            let auth = s.credentials()["default"]["auth"].clone();
            assert_eq!(auth["access_token"], "at_new", "{after_401} {answer}");
            assert_eq!(auth["scope"], stored, "{after_401} {answer}");
        }
    }
}

/// A session refreshed after a 401 is stored as a refresh before the call stores it: an
/// answer with no lifetime gives `expires_at: null`, as the official CLI writes it, not the
/// lifetime the SDK assumes for its own use.
#[test]
fn a_refresh_after_a_401_without_a_lifetime_stores_no_expiry() {
    let s = setup();
    for (answer, stated) in [
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new"}"#,
            false,
        ),
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":300}"#,
            true,
        ),
    ] {
        let output = op_refreshed_after_a_401_with(&s, answer);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{answer}: {}",
            text(&output.stderr)
        );
        let auth = s.credentials()["default"]["auth"].clone();
        assert_eq!(auth["access_token"], "at_new", "{answer}");
        assert_eq!(auth["refresh_token"], "rt_new", "{answer}");
        assert_eq!(auth["expires_at"].is_f64(), stated, "{answer}: {auth}");
        assert_eq!(auth["expires_at"].is_null(), !stated, "{answer}: {auth}");
    }
}

/// `--timeout` bounds the refresh after a 401 too, not only the one before a call.
#[test]
fn timeout_bounds_the_refresh_after_a_401() {
    let s = setup();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    // Turns the call down, then says nothing to the refresh for longer than the test waits.
    let url = test_server(3, move |body| {
        if String::from_utf8_lossy(body).contains("grant_type=refresh_token") {
            std::thread::sleep(Duration::from_secs(40));
        }
        match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => (
                401,
                r#"{"title":"Unauthenticated","status":401}"#.to_owned(),
            ),
            _ => (200, "{}".to_owned()),
        }
    });
    s.store_credentials(
        &serde_json::json!({"default": {"api_url": url, "auth": {
            "type": "oauth", "access_token": "at_old", "refresh_token": "rt_kept",
            "expires_at": null,
        }}})
        .to_string(),
    );
    let started = Instant::now();
    let output = s
        .bare()
        .args(["--timeout", "2", "op", "catalog.search", "{}"])
        .output()
        .expect("geopera runs");
    let took = started.elapsed();
    fails_saying(&output, 1, "timed out", "a refresh after a 401");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(
        s.credentials()["default"]["auth"]["refresh_token"],
        "rt_kept"
    );
}

/// A refresh the provider could not answer (a 503, a gateway's 403 page) is no sign the
/// session was revoked: the failure says the session is kept and to try again, and only an
/// OAuth refusal of the grant, on the rule an SDK session ends by, says to sign in again.
#[test]
fn a_refresh_the_provider_cannot_answer_is_not_called_a_revocation() {
    let s = setup();
    for (status, body, revoked) in [
        (503, r#"{"error":"temporarily_unavailable"}"#, false),
        (403, r#"{"message":"blocked by the gateway"}"#, false),
        // "Slow down" in HTTP's words, whatever code its body names.
        (429, r#"{"error":"invalid_request"}"#, false),
        (400, r#"{"error":"invalid_grant"}"#, true),
    ] {
        let url = canned_server(status, body.to_owned(), 4);
        s.store_credentials(&a_session_for(&url, "at_old", "rt_kept", 1.0));
        let output = s.bare().arg("whoami").output().expect("geopera runs");
        let stderr = fails_saying(&output, 1, "token refresh failed", status);
        assert_eq!(
            stderr.contains("may have been revoked"),
            revoked,
            "{status}: {stderr}"
        );
        if !revoked {
            assert!(stderr.contains("the stored session is kept"), "{stderr}");
        }
        assert_eq!(
            s.credentials()["default"]["auth"]["refresh_token"],
            "rt_kept",
            "{status}"
        );
    }
}

/// `--timeout` bounds a stored session's refresh as it bounds the other sign-in requests.
#[test]
fn timeout_bounds_the_refresh_of_a_stored_session() {
    let s = setup();
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    s.store_credentials(&a_session_for(&url, "at_old", "rt_kept", 1.0));
    let started = Instant::now();
    let output = s
        .bare()
        .args(["--timeout", "1", "whoami"])
        .output()
        .expect("geopera runs");
    let took = started.elapsed();
    fails_saying(&output, 1, "token refresh failed", "a refresh");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_eq!(
        s.credentials()["default"]["auth"]["refresh_token"],
        "rt_kept"
    );
}

#[test]
fn all_on_an_answer_without_items_is_an_error_not_an_empty_walk() {
    let s = setup();
    let url = canned_server(200, r#"{"path":"x","len":3}"#.to_owned(), 2);
    let output = s
        .cli()
        .env("GEOPERA_API_URL", &url)
        .args(["items", "list", "--project-id", "p", "--all"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("holds no list of items"),
        "{}",
        text(&output.stderr)
    );
}

/// The commands that sign in or check a sign-in: `whoami`, and `login` with a key.
const SIGN_IN_COMMANDS: [&[&str]; 2] = [&["whoami"], &["login", "--api-key", "gpra_whatever"]];

/// Runs `args` with a token in the environment against the server at `url`, under
/// `--timeout timeout`.
fn with_token_at(s: &Setup, url: &str, timeout: &str, args: &[&str]) -> std::process::Output {
    s.bare()
        .env("GEOPERA_API_TOKEN", "gpra_whatever")
        .args(["--api-url", url, "--timeout", timeout])
        .args(args)
        .output()
        .expect("geopera runs")
}

#[test]
fn timeout_bounds_whoami_and_login_too() {
    let s = setup();
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    for args in SIGN_IN_COMMANDS {
        let started = Instant::now();
        let output = with_token_at(&s, &url, "1", args);
        let took = started.elapsed();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(took < Duration::from_secs(15), "{args:?} took {took:?}");
    }
    // A read is retried: the message counts the attempts the time went to.
    let output = with_token_at(&s, &url, "1", &["orders", "get", "--order-id", "ord_1"]);
    fails_saying(&output, 1, "3 attempts of up to 1 s each", "orders get");
}

/// A server that reads one request on each of at most `connections` connections, says
/// nothing for `silent`, then answers 200 with `body`.
fn slow_server(silent: Duration, connections: usize, body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                request_body(&stream);
                std::thread::sleep(silent);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    url
}

#[test]
fn a_timeout_above_the_sdk_read_timeout_is_waited_out_whole() {
    // The SDK's own read timeout (60 s) ends a quiet answer unless `--timeout` replaces it:
    // nothing shorter than a minute of silence tells the two apart, so this test takes one.
    let s = setup();
    let url = slow_server(Duration::from_secs(61), 3, r#"{"id": "ord_1"}"#);
    let started = Instant::now();
    let output = s
        .against(&url)
        .args(["--timeout", "70", "orders", "get", "--order-id", "ord_1"])
        .timeout(Duration::from_secs(80))
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(stdout_json(&output)["id"], "ord_1");
    assert!(started.elapsed() >= Duration::from_secs(61));
}

#[test]
fn a_timeout_below_the_sdk_read_timeout_ends_the_attempt_and_says_so() {
    let s = setup();
    let url = slow_server(Duration::from_secs(3), 3, r#"{"id": "ord_1"}"#);
    let started = Instant::now();
    let output = s
        .against(&url)
        .args(["--timeout", "1", "orders", "get", "--order-id", "ord_1"])
        .output()
        .expect("geopera runs");
    fails_saying(
        &output,
        1,
        "3 attempts of up to 1 s each (--timeout)",
        "--timeout 1",
    );
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_timeout_of_no_time_or_beyond_a_day_is_a_usage_error_and_nothing_is_sent() {
    let s = setup();
    // `1e-10` is above zero as a number but no time at all as a duration; `1e30` and `inf`
    // are no durations.
    for timeout in ["1e-10", "0", "-1", "86400.5", "1e30", "inf", "NaN"] {
        let output = s
            .cli()
            .arg(format!("--timeout={timeout}"))
            .args(SEARCH_ONE)
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, "--timeout", timeout);
    }
    assert_eq!(s.emulator.executed("catalog.search"), 0);
    // The smallest and the largest accepted.
    let output = s
        .cli()
        .args(["--timeout", "86400"])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    one_feature(&output);
    let output = s
        .cli()
        .args(["--timeout", "1e-9", "--dry-run"])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn no_home_in_the_environment_is_no_failure_when_a_token_is_given() {
    let s = setup();
    let output = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GEOPERA_API_URL", s.emulator.base_url())
        .env("GEOPERA_API_TOKEN", s.emulator.api_key())
        .args(SEARCH_ONE)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("geopera runs");
    one_feature(&output);
}

/// A server whose every answer is a 200 whose JSON body never ends (`[0,0,0,...`), 64 KiB at a
/// time and paced, so a client that keeps reading grows by a few MB a second rather than
/// taking the machine; at most `connections` connections, each fed for at most 30 s.
fn endless_server(connections: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                if let Ok(reading) = stream.try_clone() {
                    let mut reader = BufReader::new(reading);
                    for _ in 0..100 {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(_) if line != "\r\n" && !line.is_empty() => {}
                            _ => break,
                        }
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n[",
                );
                let chunk = "0,".repeat(32 * 1024);
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(30) {
                    if stream.write_all(chunk.as_bytes()).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
    });
    url
}

#[test]
fn sign_in_answers_are_read_up_to_64_kib_and_refused_past_it() {
    let s = setup();
    let url = endless_server(8);
    for args in SIGN_IN_COMMANDS {
        let started = Instant::now();
        let output = with_token_at(&s, &url, "10", args);
        fails_saying(
            &output,
            1,
            "userinfo failed: the answer is larger than 64 KiB",
            args,
        );
        assert!(started.elapsed() < Duration::from_secs(8), "{args:?}");
    }
    assert!(!s.credentials_path().exists(), "no key was stored");

    // A stored session due for a refresh, whose token endpoint answers without end.
    s.store_credentials(&format!(
        r#"{{"default": {{"api_url": "{url}", "auth": {{"type": "oauth", "access_token": "at", "refresh_token": "rt", "expires_at": 1000, "scope": "openid", "issuer": "{url}"}}}}}}"#
    ));
    let output = s
        .bare()
        .args(["--timeout", "10", "catalog", "search", "--host-name", "x"])
        .output()
        .expect("geopera runs");
    fails_saying(
        &output,
        1,
        "token refresh failed: the answer is larger than 64 KiB",
        "a refresh",
    );
}

/// `output` is a usage error (exit 2) naming the variable `name` as not UTF-8.
fn usage_error_naming(output: &std::process::Output, name: &str) {
    assert_eq!(
        output.status.code(),
        Some(2),
        "{name}: {}",
        text(&output.stdout)
    );
    assert!(
        text(&output.stderr).contains(&format!("{name} is not valid UTF-8")),
        "{name}: {}",
        text(&output.stderr)
    );
}

#[test]
fn geopera_variables_that_are_not_utf8_are_usage_errors_naming_them() {
    use std::os::unix::ffi::OsStrExt as _;
    let bad = |text: &[u8]| std::ffi::OsStr::from_bytes(text).to_owned();
    let s = setup();
    login_with_the_demo_key(&s);

    // Read as unset, the URL would fall back to the public API and the token go there.
    let output = s
        .bare()
        .env("GEOPERA_API_URL", bad(b"http://127.0.0.1:1/\xff"))
        .env("GEOPERA_API_TOKEN", "gpra_meant_for_a_local_server")
        .args(["catalog", "search", "--host-name", "x", "--dry-run"])
        .output()
        .expect("geopera runs");
    usage_error_naming(&output, "GEOPERA_API_URL");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));

    // Read as unset, the token would give way to the stored login; the profile to `default`.
    for (name, value) in [
        ("GEOPERA_API_TOKEN", bad(b"gpra_other\xff")),
        ("GEOPERA_PROFILE", bad(b"work\xff")),
    ] {
        let output = s
            .bare()
            .env(name, value)
            .arg("whoami")
            .output()
            .expect("geopera runs");
        usage_error_naming(&output, name);
    }
    for (name, extra) in [
        ("GEOPERA_RATE_BUDGET_REDIS", &[][..]),
        (
            "GEOPERA_RATE_BUDGET_ORG",
            &["--rate-budget-redis", "redis://127.0.0.1:1/"][..],
        ),
    ] {
        let output = s
            .cli()
            .env(name, bad(b"\xff"))
            .args(extra)
            .args(["catalog", "search", "--host-name", "x", "--dry-run"])
            .output()
            .expect("geopera runs");
        usage_error_naming(&output, name);
    }

    // A variable the command line overrides is not read.
    let output = s
        .bare()
        .env("GEOPERA_PROFILE", bad(b"work\xff"))
        .args(["--profile", "default", "whoami"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// A device login whose token answer gives no lifetime stores `expires_at: null`, as a
/// refresh stores it and the official CLI writes it, not the lifetime the SDK assumes; one
/// that gives a lifetime stores it.
/// An identity provider of the test's own for one device sign-in: the start of the flow, one
/// poll answered with `tokens`, then userinfo.
fn device_sign_in_server(tokens: String) -> String {
    test_server(3, move |body| {
        let body = String::from_utf8_lossy(body);
        if body.contains("device_code=") {
            (200, tokens.clone())
        } else if body.contains("client_id=") {
            (
                200,
                r#"{"device_code":"d-1","user_code":"ABCD-EFGH","verification_uri":"http://127.0.0.1/device","expires_in":600,"interval":1}"#
                    .to_owned(),
            )
        } else {
            (200, r#"{"sub":"u1"}"#.to_owned())
        }
    })
}

#[test]
fn a_device_login_without_a_lifetime_stores_no_expiry() {
    let s = setup();
    for (tokens, stated) in [
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new"}"#,
            false,
        ),
        (
            r#"{"access_token":"at_new","refresh_token":"rt_new","expires_in":300}"#,
            true,
        ),
    ] {
        let url = device_sign_in_server(tokens.to_owned());
        let output = s
            .bare()
            .args(["--api-url", &url, "login", "--no-browser"])
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{tokens}: {}",
            text(&output.stderr)
        );
        let auth = s.credentials()["default"]["auth"].clone();
        assert_eq!(auth["access_token"], "at_new", "{tokens}");
        assert_eq!(auth["expires_at"].is_f64(), stated, "{tokens}: {auth}");
        assert_eq!(auth["expires_at"].is_null(), !stated, "{tokens}: {auth}");
    }
}

#[test]
fn timeout_bounds_the_device_sign_in_too() {
    let s = setup();
    // `login --timeout 1` against a provider whose first `answered` connections get the start
    // of a device flow and the rest nothing: it fails within a bound, saying `expected`.
    let login_fails = |answered: usize, expected: &[&str]| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        std::thread::spawn(move || {
            use std::io::{Read as _, Write as _};
            let mut held = Vec::new();
            for (index, stream) in listener.incoming().take(4).enumerate() {
                let Ok(mut stream) = stream else { continue };
                if index < answered {
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                    let _ = stream.read(&mut [0_u8; 4096]);
                    let body = r#"{"device_code":"d-1","user_code":"ABCD-EFGH","verification_uri":"http://127.0.0.1/device","expires_in":600,"interval":1}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                } else {
                    held.push(stream);
                }
            }
            std::thread::sleep(Duration::from_secs(60));
        });
        let started = Instant::now();
        let output = s
            .bare()
            .args(["--api-url", &url, "--timeout", "1"])
            .args(["login", "--no-browser"])
            .output()
            .expect("geopera runs");
        let took = started.elapsed();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        for words in expected {
            assert!(stderr.contains(words), "{stderr}");
        }
        assert!(took < Duration::from_secs(15), "took {took:?}");
    };
    // A provider that never answers: the start of the flow is bounded.
    login_fails(0, &["device sign-in could not start", "timed out"]);
    // One that starts the flow, then never answers a poll: each poll is bounded too.
    login_fails(1, &["device sign-in failed"]);
}

#[test]
fn a_password_in_an_api_url_that_does_not_parse_is_never_printed() {
    let s = setup();
    let url = "http://user:APIPASS@[127.0.0.1:1";
    for args in [
        &["whoami"][..],
        &["login", "--api-key", "gpra_whatever"][..],
        &["catalog", "search", "--host-name", "x", "--dry-run"][..],
        &["op", "catalog.search", "--dry-run"][..],
    ] {
        let output = s
            .cli()
            .args(["--api-url", url])
            .args(args)
            .output()
            .expect("geopera runs");
        let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {all}");
        assert!(!all.contains("APIPASS"), "{args:?}: {all}");
        assert!(
            all.contains("http://[redacted]@[127.0.0.1:1"),
            "{args:?}: {all}"
        );
    }

    // A password in a profile's stored URL stays out of the message refusing another server.
    s.store_credentials(
        r#"{"default": {"api_url": "http://user:STOREDPASS@127.0.0.1:1", "auth": {"type": "api_key", "api_key": "gpra_whatever"}}}"#,
    );
    let output = s
        .bare()
        .args(["--api-url", &s.emulator.base_url()])
        .args(["catalog", "search", "--host-name", "x"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(
        &output,
        1,
        "are for http://[redacted]@127.0.0.1:1",
        "another server",
    );
    assert!(!stderr.contains("STOREDPASS"), "{stderr}");
}

/// The write end of a pipe whose reader has already gone.
fn closed_pipe() -> Stdio {
    let mut reader = std::process::Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("`true` starts");
    let write_end = reader.stdin.take().expect("piped");
    reader.wait().expect("`true` ends");
    Stdio::from(write_end)
}

#[test]
fn a_closed_stderr_never_panics_and_keeps_the_exit_code() {
    let s = setup();
    let pages = tempfile::tempdir().expect("temp dir");
    let pages = pages.path().to_str().expect("a UTF-8 path").to_owned();
    let search_verbose = [&SEARCH_ONE[..], &["-v"]].concat();
    for (args, code) in [
        (&["op", "nope.nope"][..], 2),
        (&["catalog", "search"][..], 2),
        (&["op", "--list"][..], 0),
        (&["man", "--out-dir", pages.as_str()][..], 0),
        (&search_verbose[..], 0),
    ] {
        let output = s
            .process()
            .args(args)
            .stderr(closed_pipe())
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(code), "{args:?}");
    }
}

/// Runs `command` with `total` bytes of `fill` on its stdin, written 1 MiB at a time by a
/// thread that stops as soon as the process stops reading; the process must end within 60 s.
fn fed(mut command: std::process::Command, fill: u8, total: usize) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let chunk = vec![fill; 1 << 20];
        let mut sent = 0;
        while sent < total && stdin.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("geopera kept running on endless input");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    child.wait_with_output().expect("geopera ended")
}

#[test]
fn inputs_from_files_and_stdin_are_read_up_to_a_cap() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    // Sparse files of zeros, one byte past each cap.
    let sized = |name: &str, length: u64| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .and_then(|file| file.set_len(length))
            .expect("test step");
        path.to_str().expect("a UTF-8 path").to_owned()
    };
    let body = sized("body.json", (16 << 20) + 1);
    for (args, said) in [
        (
            vec!["catalog", "search", "--json", &format!("@{body}")],
            format!("cannot read --json @{body}: it is larger than 16 MiB"),
        ),
        (
            vec!["op", "catalog.search", "-f", &body],
            format!("cannot read --file {body}: it is larger than 16 MiB"),
        ),
    ] {
        let output = s
            .cli()
            .args(&args)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        fails_saying(&output, 1, &said, args);
    }
    for (args, said) in [
        (
            &["catalog", "search", "--json", "-", "--dry-run"][..],
            "cannot read --json from stdin: it is larger than 16 MiB",
        ),
        (
            &["op", "catalog.search", "-", "--dry-run"][..],
            "cannot read the body from stdin: it is larger than 16 MiB",
        ),
    ] {
        let mut command = s.process();
        command.args(args);
        let output = fed(command, b'y', 80 << 20);
        fails_saying(&output, 1, said, args);
    }
    let mut command = s.process();
    command.args(["login", "--api-key", "-"]);
    let output = fed(command, b'k', 1 << 20);
    fails_saying(&output, 2, "longer than 16 KiB", "login --api-key -");

    let headers = dir.path().join("headers.txt");
    std::fs::write(&headers, "X-Geopera-Signature: sha256=00\n").expect("test step");
    let headers = headers.to_str().expect("a UTF-8 path").to_owned();
    let small = dir.path().join("small.json");
    std::fs::write(&small, "{}").expect("test step");
    let small = small.to_str().expect("a UTF-8 path").to_owned();
    let big_headers = sized("big-headers.txt", (64 << 10) + 1);
    let big_body = sized("big-body.json", (1 << 20) + 1);
    for (files, said) in [
        (
            [big_headers.as_str(), small.as_str()],
            format!("cannot read --headers {big_headers}: it is larger than 64 KiB"),
        ),
        (
            [headers.as_str(), big_body.as_str()],
            format!("cannot read --body {big_body}: it is larger than 1 MiB"),
        ),
    ] {
        let output = s
            .bare()
            .args(["webhooks", "verify", "--secret", "whsec_x"])
            .args(["--headers", files[0], "--body", files[1]])
            .output()
            .expect("geopera runs");
        fails_saying(&output, 1, &said, files);
    }

    // Endless files, under a memory limit a read without a cap would hit at once.
    if !Path::new("/dev/zero").exists() {
        return;
    }
    for args in [
        &["catalog", "search", "--json", "@/dev/zero", "--dry-run"][..],
        &["op", "catalog.search", "-f", "/dev/zero", "--dry-run"][..],
        &[
            "webhooks",
            "verify",
            "--secret",
            "whsec_x",
            "--headers",
            "/dev/zero",
            "--body",
            "/dev/zero",
        ][..],
        &[
            "webhooks",
            "verify",
            "--secret",
            "whsec_x",
            "--headers",
            headers.as_str(),
            "--body",
            "/dev/zero",
        ][..],
    ] {
        let output = Command::new("sh")
            .env_clear()
            .env("HOME", s.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GEOPERA_API_URL", s.emulator.base_url())
            .env("GEOPERA_API_TOKEN", s.emulator.api_key())
            .args([
                "-c",
                "ulimit -v 1048576 || exit 99; exec \"$0\" \"$@\"",
                BIN,
            ])
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("sh runs");
        if output.status.code() == Some(99) {
            eprintln!("no `ulimit -v` here: endless files are not tried");
            return;
        }
        fails_saying(&output, 1, "/dev/zero: it is larger than", args);
    }
}

/// Whether the process `pid` has a handler of its own for SIGINT: from then on Ctrl-C is its
/// to hear, rather than the default that ends it at once (`SigCgt` in `/proc/<pid>/status`).
fn catches_sigint(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let mask = status
                .lines()
                .find_map(|line| line.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_while_input_is_read_from_stdin_or_a_named_pipe_exits_130_promptly() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    // Nobody ever writes to it: opening it to read waits for a writer.
    let fifo = dir.path().join("body.json");
    mkfifo(&fifo);
    let fifo = fifo.to_str().expect("a UTF-8 path").to_owned();
    let headers = dir.path().join("headers.txt");
    std::fs::write(&headers, "X-Geopera-Signature: sha256=00\n").expect("test step");
    let headers = headers.to_str().expect("a UTF-8 path").to_owned();
    let at_fifo = format!("@{fifo}");
    let runs: [&[&str]; 6] = [
        &["catalog", "search", "--json", "-"],
        &["catalog", "search", "--json", &at_fifo],
        &["op", "catalog.search", "-"],
        &["op", "catalog.search", "-f", &fifo],
        &["login", "--api-key", "-"],
        &[
            "webhooks",
            "verify",
            "--secret",
            "whsec_x",
            "--headers",
            &headers,
            "--body",
            "-",
        ],
    ];
    for args in runs {
        let mut child = s
            .process()
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("geopera starts");
        // Held open and never written to: stdin a terminal nobody types into.
        let stdin = child.stdin.take();
        let started = Instant::now();
        while !catches_sigint(child.id()) {
            if started.elapsed() > Duration::from_secs(10)
                || child.try_wait().ok().flatten().is_some()
            {
                let _ = child.kill();
                panic!("{args:?}: never listened for Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Let it reach the read; heard before it, Ctrl-C must end the command all the same.
        std::thread::sleep(Duration::from_millis(200));
        let (status, stderr) = interrupted(&mut child);
        drop(stdin);
        assert_eq!(status.code(), Some(130), "{args:?}: {stderr}");
        assert!(stderr.contains("Error: interrupted"), "{args:?}: {stderr}");
    }
}

/// The arguments of `geopera cog tile render` for one PNG tile from the emulator.
const COG_TILE: [&str; 13] = [
    "cog",
    "tile",
    "render",
    "--url",
    "https://example.com/a.tif",
    "--z",
    "1",
    "--x",
    "0",
    "--y",
    "0",
    "--format",
    "png",
];

/// `geopera cog tile render` of one PNG tile from the emulator, before `--out`.
fn cog_tile(s: &Setup) -> Command {
    let mut command = s.cli();
    command.args(COG_TILE);
    command
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[cfg(unix)]
#[test]
fn out_writes_into_a_fifo_or_a_link_to_one_or_to_stdout_and_never_replaces_them() {
    use std::os::unix::fs::FileTypeExt as _;

    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("no mkfifo: --out into a FIFO is not tested here");
        return;
    }
    let link = dir.path().join("link-to-fifo");
    std::os::unix::fs::symlink(&fifo, &link).expect("a link");
    for target in [&fifo, &link] {
        // The reader waits for a writer and ends when it closes.
        let mut reader = std::process::Command::new("cat")
            .arg(&fifo)
            .stdout(Stdio::piped())
            .spawn()
            .expect("cat starts");
        let output = cog_tile(&s)
            .arg("--out")
            .arg(target)
            .output()
            .expect("geopera runs");
        // A FIFO replaced by a file leaves its reader waiting: it is stopped.
        let deadline = Instant::now() + Duration::from_secs(5);
        while reader.try_wait().expect("waits").is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = reader.kill();
        let read = reader.wait_with_output().expect("cat ends").stdout;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{target:?}: {}",
            text(&output.stderr)
        );
        assert!(
            read.starts_with(PNG_SIGNATURE),
            "{target:?}: {} bytes came through the FIFO",
            read.len()
        );
        let fifo_type = std::fs::symlink_metadata(&fifo).expect("stat").file_type();
        assert!(fifo_type.is_fifo(), "{target:?}: the FIFO is still one");
        let link_type = std::fs::symlink_metadata(&link).expect("stat").file_type();
        assert!(link_type.is_symlink(), "{target:?}: the link is still one");
    }
    let entries = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(entries, 2, "no temporary file left");

    // Like `/dev/stdout`: a link to the pipe behind stdout, where the bytes go.
    if Path::new("/proc/self/fd/1").exists() {
        let stdout = dir.path().join("stdout");
        std::os::unix::fs::symlink("/proc/self/fd/1", &stdout).expect("a link");
        let output = cog_tile(&s)
            .arg("--out")
            .arg(&stdout)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(
            output.stdout.starts_with(PNG_SIGNATURE),
            "the PNG on stdout"
        );
        let stdout_type = std::fs::symlink_metadata(&stdout)
            .expect("stat")
            .file_type();
        assert!(stdout_type.is_symlink(), "the link is still one");
    }
}

/// `--out /dev/stdout` with stdout a file the shell opened writes into that file as the
/// shell opened it: appended to with `>>`. The file was replaced by name, what it held lost.
#[cfg(target_os = "linux")]
#[test]
fn out_to_dev_stdout_appends_where_the_shell_appends() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("log.bin");
    std::fs::write(&log, b"old").expect("a file");
    let appending = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("opened to append");
    let output = s
        .process()
        .args(COG_TILE)
        .args(["--out", "/dev/stdout"])
        .stdout(appending)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let kept = std::fs::read(&log).expect("the file");
    assert!(kept.starts_with(b"old"), "what the file held was lost");
    assert!(kept[3..].starts_with(PNG_SIGNATURE), "the PNG after it");

    // And stderr the same way (`2>> log`).
    std::fs::write(&log, b"old").expect("a file");
    let appending = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("opened to append");
    let output = s
        .process()
        .args(COG_TILE)
        .args(["--out", "/dev/stderr"])
        .stderr(appending)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0));
    let kept = std::fs::read(&log).expect("the file");
    assert!(kept.starts_with(b"old"), "what the file held was lost");
    assert!(kept[3..].starts_with(PNG_SIGNATURE), "the PNG after it");
}

/// The analytics operations answer a picture when `--output-format png` asks for one, which
/// `--out` writes as it came (and stdout takes when it is a pipe); their statistics are JSON,
/// printed as any answer. `--out` was refused ("answers JSON"), and the picture failed the
/// command as an answer that is not JSON.
#[test]
fn an_analytics_picture_is_written_where_out_says() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("index.png");
    let index = [
        "analytics",
        "calculate-index",
        "--cog-url",
        "https://example.com/a.tif",
        "--index-name",
        "ndvi",
        "--sensor",
        "sentinel-2",
        "--json",
        r#"{"bbox": {}}"#,
    ];
    let output = s
        .cli()
        .args(index)
        .args(["--output-format", "png", "--out"])
        .arg(&path)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let written = std::fs::read(&path).expect("the picture");
    assert!(written.starts_with(PNG_SIGNATURE));
    // To a pipe without --out.
    let output = s
        .cli()
        .args(index)
        .args(["--output-format", "png"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stdout.starts_with(PNG_SIGNATURE));
    // The statistics are JSON, printed, also with `--out -` (stdout, where JSON goes), and
    // written as they came with `--out FILE`.
    for out in [None, Some("-")] {
        let output = s
            .cli()
            .args(index)
            .args(out.map(|out| ["--out", out]).into_iter().flatten())
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert!(stdout_json(&output).is_object(), "{out:?}");
    }
    let stats = dir.path().join("stats.json");
    let output = s
        .cli()
        .args(index)
        .arg("--out")
        .arg(&stats)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let written: Value =
        serde_json::from_slice(&std::fs::read(&stats).expect("a file")).expect("JSON");
    assert!(written.is_object());
}

#[cfg(unix)]
#[test]
fn out_never_follows_a_link_planted_where_its_temporary_file_goes() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").expect("victim");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("a shared folder");
    let target = shared.join("tile.png");
    // The temporary name was `.tile.png.<pid>.part`: bash plants a link under it, then
    // becomes geopera with the same pid.
    let run = std::process::Command::new("bash")
        .args([
            "-c",
            r#"ln -s "$VICTIM" "$SHARED/.tile.png.$$.part" && exec "$@""#,
            "bash",
            BIN,
        ])
        .args(COG_TILE)
        .arg("--out")
        .arg(&target)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", s.home.path())
        .env("GEOPERA_API_URL", s.emulator.base_url())
        .env("GEOPERA_API_TOKEN", s.emulator.api_key())
        .env("VICTIM", &victim)
        .env("SHARED", &shared)
        .output();
    let Ok(output) = run else {
        eprintln!("no bash: a planted link is not tested here");
        return;
    };
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
    let written_type = std::fs::symlink_metadata(&target)
        .expect("stat")
        .file_type();
    assert!(written_type.is_file(), "{written_type:?}");
    assert!(std::fs::read(&target)
        .expect("the tile")
        .starts_with(PNG_SIGNATURE));
    // The planted link stays, the temporary file went.
    assert_eq!(std::fs::read_dir(&shared).expect("list").count(), 2);
}

/// `geopera catalog search --host-name x` against the server at `url`, before any further
/// arguments.
fn search_at(s: &Setup, url: &str) -> Command {
    let mut command = s.cli();
    command
        .env("GEOPERA_API_URL", url)
        .args(["catalog", "search", "--host-name", "x"]);
    command
}

/// A run of `catalog search` against `url` with `args`, which must succeed.
fn printed_with(s: &Setup, url: &str, args: &[&str]) -> std::process::Output {
    let output = search_at(s, url).args(args).output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    output
}

/// `n` arrays, one inside the other.
fn nested_arrays(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn an_answer_nested_too_deep_is_an_error_in_every_output_mode_without_quadratic_work() {
    let s = setup();
    let url = canned_server(200, nested_arrays(3_000), 4);
    let deeper = canned_server(200, nested_arrays(100_000), 1);
    for (url, args) in [
        (&url, ["-o", "json"]),
        (&url, ["-o", "ndjson"]),
        (&url, ["-o", "table"]),
        (&url, ["-o", "yaml"]),
        // jq's parser recursed once per level: a stack overflow.
        (&deeper, ["--jq", "length"]),
    ] {
        let started = Instant::now();
        let output = search_at(&s, url)
            .args(args)
            .output()
            .expect("geopera runs");
        fails_saying(
            &output,
            1,
            "the answer to catalog.search nests arrays and objects 128 levels",
            args,
        );
        assert!(output.stdout.is_empty(), "{args:?}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{args:?} took {took:?}");
    }
    // As deep as serde_json reads is printed, as before.
    let url = canned_server(200, nested_arrays(127), 1);
    let output = search_at(&s, &url).output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        stdout_json(&output),
        serde_json::from_str::<Value>(&nested_arrays(127)).expect("JSON")
    );
}

#[test]
fn a_success_answer_of_a_json_operation_that_is_not_json_is_an_error_with_an_excerpt() {
    let s = setup();
    let page = format!(
        "<html><body>Please sign in to the proxy{}</body></html>",
        " and wait".repeat(200)
    );
    let proxy = typed_test_server("text/html", 1, move |_| (200, page.clone()));
    let cut = canned_server(
        200,
        r#"{"type":"FeatureCollection","features":[{"id":"a"},{"id":"b""#.to_owned(),
        2,
    );
    for (url, args, excerpt) in [
        (
            &proxy,
            &["--jq", ".features[].id"][..],
            "text/html, starting '<html><body>Please sign in to the proxy and wait",
        ),
        (
            &cut,
            &["-o", "table"][..],
            r#"application/json, starting '{"type":"FeatureCollection","features":[{"id":"a"},{"id":"b"'"#,
        ),
        (&cut, &[][..], "EOF while parsing"),
    ] {
        let output = search_at(&s, url)
            .args(args)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 1, "the answer to catalog.search is not JSON", args);
        assert!(stderr.contains(excerpt), "{args:?}: {stderr}");
        assert!(stderr.len() < 400, "a short excerpt: {stderr}");
        assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    }
}

#[test]
fn dry_run_on_a_closed_or_full_stdout_ends_like_any_answer() {
    let s = setup();
    let dry_run_into = |stdout: Stdio| {
        s.process()
            .args(["catalog", "search", "--host-name", "x", "--dry-run"])
            .stdout(stdout)
            .output()
            .expect("geopera runs")
    };
    let output = dry_run_into(closed_pipe());
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");

    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("no /dev/full: a full disk is not tested here");
        return;
    };
    let output = dry_run_into(Stdio::from(full));
    let stderr = fails_saying(&output, 1, "cannot write the answer", "/dev/full");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `command` with stdout a file opened for reading only, so that every write to it is
/// refused (`EBADF`); the process must end within 60 s.
#[cfg(unix)]
fn with_read_only_stdout(mut command: std::process::Command) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("stdout");
    std::fs::write(&path, b"").expect("test step");
    let read_only = std::fs::File::open(&path).expect("test step");
    let mut child = command
        .stdout(Stdio::from(read_only))
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("geopera kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("geopera ended");
    assert_eq!(
        std::fs::read(&path).expect("test step"),
        b"",
        "nothing written"
    );
    output
}

#[cfg(unix)]
#[test]
fn a_stdout_that_refuses_writes_is_an_error_not_an_answer_lost_with_exit_0() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let pages = dir.path().to_str().expect("a UTF-8 path").to_owned();
    let dry_run = [&SEARCH_ONE[..], &["--dry-run"]].concat();
    let jq = [&SEARCH_ONE[..], &["--jq", ".features[0].id"]].concat();
    let all = [&SEARCH_ONE[..], &["--all"]].concat();
    for args in [
        &SEARCH_ONE[..],
        &dry_run[..],
        &jq[..],
        &all[..],
        &COG_TILE[..],
        &["op", "--list"][..],
        &["completions", "bash"][..],
        &["orders"][..],
        &["--help"][..],
        &["--version"][..],
    ] {
        let mut command = s.process();
        command.args(args);
        let output = with_read_only_stdout(command);
        let stderr = fails_saying(&output, 1, "Error: cannot ", args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Where pages go to files, stdout is not written and nothing fails.
    let mut command = s.process();
    command.args(["man", "--out-dir", pages.as_str()]);
    let output = with_read_only_stdout(command);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn op_with_out_on_a_json_operation_is_a_usage_error_and_sends_nothing() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("answer.json");
    let body = r#"{"host_name":"earthsearch-aws","limit":1}"#;
    let output = s
        .cli()
        .args(["op", "catalog.search", body, "--out"])
        .arg(&target)
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 2, "--out", "op --out");
    assert!(stderr.contains("catalog.search answers JSON"), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    assert!(!target.exists());
    assert_eq!(s.emulator.executed("catalog.search"), 0, "nothing was sent");

    // `--out -` is stdout, where JSON goes anyway; a binary answer still goes to the file.
    let output = s
        .cli()
        .args(["op", "catalog.search", body, "--out", "-"])
        .output()
        .expect("geopera runs");
    one_feature(&output);
    let tile = dir.path().join("tile.png");
    let output = s
        .cli()
        .args([
            "op",
            "cog.tile.render",
            r#"{"url":"https://example.com/a.tif","z":1,"x":0,"y":0,"format":"png"}"#,
            "--out",
        ])
        .arg(&tile)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(std::fs::read(&tile)
        .expect("the tile")
        .starts_with(PNG_SIGNATURE));
}

#[test]
fn a_credential_the_server_quotes_back_is_never_printed() {
    let s = setup();
    for token in [
        "gpra_5ec7e75ec7e75ec7e75ec7e75ec7e75e",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.quoted-bearer",
    ] {
        let answers: [(&'static str, u16, String); 5] = [
            (
                "application/problem+json",
                401,
                format!(r#"{{"title":"Unauthorized","status":401,"detail":"bad key {token}"}}"#),
            ),
            (
                "text/html",
                200,
                // Across the end of the excerpt an error quotes: its start must not show.
                format!("<html>{}{token}</html>", "x".repeat(60)),
            ),
            (
                "application/problem+json",
                403,
                // JSON-escaped in the answer, so only the decoded message holds it.
                format!(
                    r#"{{"title":"Forbidden","status":403,"detail":"key {} lacks a scope"}}"#,
                    token.replace('_', "\\u005f")
                ),
            ),
            (
                "application/json",
                422,
                format!(
                    r#"{{"detail":[{{"loc":["body","{token}"],"msg":"bad {token}","type":"x"}}]}}"#
                ),
            ),
            (
                "text/html",
                200,
                format!("<html>your key is {token}</html>"),
            ),
        ];
        for (content_type, status, body) in answers {
            let url = typed_test_server(content_type, 1, move |_| (status, body.clone()));
            let output = s
                .against(&url)
                .env("GEOPERA_API_TOKEN", token)
                .args(["orders", "list"])
                .output()
                .expect("geopera runs");
            let stderr = text(&output.stderr);
            assert_ne!(output.status.code(), Some(0), "{status}: {stderr}");
            assert!(!stderr.contains(&token[..12]), "{status}: {stderr}");
            // A session token refused is a credentials failure naming the variable, which
            // quotes nothing of the answer.
            let session_refused = status == 401 && !token.starts_with("gpra_");
            if session_refused {
                assert!(stderr.contains("GEOPERA_API_TOKEN was refused"), "{stderr}");
            } else {
                assert!(stderr.contains("[redacted]"), "{status}: {stderr}");
            }
        }
    }
}

#[test]
fn a_retry_after_that_is_not_seconds_is_quoted_as_it_came() {
    let s = setup();
    let body = r#"{"title":"Too Many Requests","status":429,"detail":"slow down"}"#;
    let answer = format!(
        "HTTP/1.1 429 X\r\ncontent-type: application/problem+json\r\n\
         retry-after: Wed, 21 Oct 2015 07:28:00 GMT\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    // Every attempt of the call (the first and its retries) is answered alike.
    let url = raw_server(answer.into_bytes(), 5);
    let output = s
        .against(&url)
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("slow down (Retry-After: Wed, 21 Oct 2015 07:28:00 GMT)"),
        "{stderr}"
    );
}

#[test]
fn a_huge_answer_is_not_read_into_memory_many_times_over() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: the memory of an answer is not measured here");
        return;
    }
    // 16 MiB of tiny objects: read into JSON trees, about 3 GB.
    let pieces = vec![r#"{"a":0}"#; (16 << 20) / 8].join(",");
    let cases = [
        (
            "application/problem+json",
            404,
            format!(r#"{{"title":"Not Found","status":404,"detail":"gone","ext":[{pieces}]}}"#),
            Some(2),
        ),
        (
            "application/json",
            200,
            format!(r#"{{"content":[{pieces}],"totalElements":1}}"#),
            Some(0),
        ),
    ];
    for (content_type, status, body, exit) in cases {
        let url = typed_test_server(content_type, 1, move |_| (status, body.clone()));
        let s = setup();
        let mut child = std::process::Command::new(BIN)
            .env_clear()
            .env("HOME", s.home.path())
            .env("GEOPERA_API_URL", &url)
            .env("GEOPERA_API_TOKEN", "gpra_test")
            .args(["orders", "list"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("geopera starts");
        let peak = peak_until_exit(&mut child, Duration::from_millis(5));
        let output = child.wait_with_output().expect("finished");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), exit, "{status}: {stderr}");
        if status == 404 {
            assert!(
                stderr.contains("[404]") && stderr.contains("not shown"),
                "{stderr}"
            );
        }
        let peak_mib = peak / 1024;
        eprintln!("{status}: peak RSS {peak_mib} MiB");
        assert!(
            peak_mib < 200,
            "{status}: peak RSS {peak_mib} MiB for a 16 MiB answer"
        );
    }
}

#[test]
fn an_answer_over_the_size_cap_is_named_with_the_cap_and_no_sdk_setting() {
    let s = setup();
    // Just past the 64 MiB an answer may be.
    let body = format!(r#"{{"content":"{}"}}"#, "x".repeat(64 << 20));
    let url = canned_server(200, body, 3);
    let output = s
        .against(&url)
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "larger than 64 MiB", "orders list");
    assert!(stderr.contains("no option raises"), "{stderr}");
    assert!(!stderr.contains("ClientBuilder"), "{stderr}");
    assert!(!stderr.contains("max_response_bytes"), "{stderr}");
}

#[test]
fn a_long_validation_list_prints_its_first_failures_and_a_count() {
    let s = setup();
    let items: Vec<String> = (0..120)
        .map(|i| format!(r#"{{"loc":["body","f{i}"],"msg":"bad","type":"x"}}"#))
        .collect();
    let body = format!(r#"{{"detail":[{}]}}"#, items.join(","));
    let url = canned_server(422, body, 1);
    let output = s
        .against(&url)
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 51, "{stderr}");
    assert!(stderr.contains("body.f49: bad") && !stderr.contains("body.f50"));
    assert!(stderr
        .lines()
        .last()
        .unwrap_or_default()
        .ends_with("... and 70 more"));
}

/// A server that answers each of `connections` requests with the bytes of `answer`, head
/// included, as written.
fn raw_server(answer: Vec<u8>, connections: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = stream.write_all(&answer);
        }
    });
    url
}

#[test]
fn an_answer_that_is_not_utf8_is_refused_not_printed_with_replacements() {
    let s = setup();
    let mut answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\nconnection: close\r\n\r\n".to_vec();
    answer.extend_from_slice(b"{\"orders\": \"\xff\xfe\"}");
    let url = raw_server(answer, 1);
    let output = s
        .against(&url)
        .args(["orders", "list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("not UTF-8") && stderr.contains("byte 12"),
        "{stderr}"
    );
}

/// A raw 200 answer of `content_type` whose body is `body`.
fn raw_answer(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

/// The pages of `--all` and the lines of an NDJSON answer are held to UTF-8 as a whole answer
/// is: printed with replacement characters, a changed id would read as the real one.
#[test]
fn a_page_or_an_ndjson_line_that_is_not_utf8_is_refused_not_printed_with_replacements() {
    let s = setup();
    let page = raw_answer(
        "application/json",
        b"{\"orders\": [{\"orderId\": \"ord_\xff\xfe\"}]}",
    );
    let output = s
        .against(&raw_server(page, 1))
        .args(["orders", "list", "--all"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("a page of orders.list is not UTF-8") && stderr.contains("byte 29"),
        "{stderr}"
    );

    let lines = raw_answer(
        "application/x-ndjson",
        b"{\"id\": \"S2A_1\"}\n{\"id\": \"S2A_\xff\xfe\"}\n",
    );
    let output = s
        .against(&raw_server(lines, 1))
        .args([
            "catalog",
            "search-stream",
            "--json",
            r#"{"host_name":"earthsearch-aws"}"#,
        ])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "{\"id\":\"S2A_1\"}\n",
        "the line before it"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("line 2 of the answer is not UTF-8"),
        "{stderr}"
    );
}

/// A stored session for `url` whose refresh token the server does not know.
fn stored_session(url: &str) -> String {
    serde_json::json!({"default": {"api_url": url, "auth": {
        "type": "oauth", "access_token": "at", "refresh_token": "rt", "expires_at": null,
    }}})
    .to_string()
}

#[test]
fn logout_refuses_an_api_url_and_keeps_the_credential() {
    let s = setup();
    // Nothing listens here: a revocation sent anywhere would fail, and none is meant to be.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let stored = stored_session(&closed);
    s.store_credentials(&stored);
    let other = s.emulator.base_url();
    let before = s.emulator.requests().len();
    for run in [
        &["--api-url", other.as_str(), "logout"][..],
        &["logout", "--api-url", other.as_str()][..],
    ] {
        let output = s.bare().args(run).output().expect("geopera runs");
        let stderr = fails_saying(&output, 2, "--api-url", run);
        assert!(
            stderr.contains("where the profile logged in"),
            "{run:?}: {stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "{run:?}: {}",
            text(&output.stdout)
        );
        assert_eq!(
            s.credentials(),
            serde_json::from_str::<Value>(&stored).expect("JSON"),
            "{run:?}: the credential stays"
        );
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
}

/// `op --list` lists this program's operations and asks no server, so an `--api-url` given
/// with it is refused rather than taken as listing that server's operations; the variable
/// (set for every command of a shell) is not.
#[test]
fn op_list_refuses_an_api_url_it_would_not_ask() {
    let s = setup();
    for run in [
        &["--api-url", "https://staging.example", "op", "--list"][..],
        &["op", "--list", "--api-url", "https://staging.example"][..],
    ] {
        let output = s.bare().args(run).output().expect("geopera runs");
        let stderr = fails_saying(&output, 2, "--api-url", run);
        assert!(stderr.contains("asks no server"), "{run:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{run:?}");
    }
    let output = s
        .bare()
        .env("GEOPERA_API_URL", "https://staging.example")
        .args(["op", "--list"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout)
        .lines()
        .any(|id| id == "catalog.search"));
}

#[test]
fn logout_warns_when_the_session_could_not_be_revoked_and_still_forgets_it() {
    let s = setup();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let failing = canned_server(500, r#"{"error": "server_error"}"#.to_owned(), 1);
    let garbage = raw_server(b"not an HTTP answer\r\n\r\n".to_vec(), 1);
    for (url, reason) in [
        (closed.as_str(), "unreachable"),
        (failing.as_str(), "HTTP 500"),
        (garbage.as_str(), "unreachable"),
    ] {
        s.store_credentials(&stored_session(url));
        let output = s.bare().arg("logout").output().expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{url}: {stderr}");
        assert!(
            stderr.starts_with("Warning: the session could not be revoked on the server")
                && stderr.contains(reason)
                && stderr.contains("until it expires"),
            "{url}: {stderr}"
        );
        assert!(text(&output.stdout).starts_with("Logged out"), "{url}");
        assert_eq!(
            s.credentials(),
            serde_json::json!({"default": {"api_url": url}}),
            "the credential is forgotten all the same"
        );
    }

    // A session the server no longer knows (`invalid_grant`) has ended: nothing to warn about.
    s.store_credentials(&stored_session(&s.emulator.base_url()));
    let output = s.bare().arg("logout").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

/// A profile whose `api_url` names no server (a number, no http(s) URL) still logs out: the
/// credential is removed, and a session is said to be left unrevoked. Logout read the URL
/// first and failed, leaving the key on disk with advice to log in again.
#[test]
fn logout_removes_a_credential_whose_api_url_names_no_server() {
    let s = setup();
    for api_url in [
        serde_json::json!(5),
        serde_json::json!("htps://api.example"),
        serde_json::json!("https://api.example/\u{1b}[2J"),
    ] {
        for (auth, session) in [
            (
                serde_json::json!({"type": "api_key", "api_key": "gpra_kept_on_disk_1234"}),
                false,
            ),
            (
                serde_json::json!({"type": "oauth", "access_token": "at", "refresh_token": "rt",
                    "expires_at": null}),
                true,
            ),
        ] {
            s.store_credentials(
                &serde_json::json!({
                    "default": {"api_url": api_url, "auth": auth},
                    "other": {"auth": {"type": "api_key", "api_key": "gpra_other_profile_99"}},
                })
                .to_string(),
            );
            let before = s.emulator.requests().len();
            let output = s.bare().arg("logout").output().expect("geopera runs");
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(0), "{api_url}: {stderr}");
            assert!(
                text(&output.stdout).starts_with("Logged out (profile 'default')"),
                "{api_url}: {}",
                text(&output.stdout)
            );
            assert_eq!(
                stderr.contains("could not be revoked"),
                session,
                "{api_url}: {stderr}"
            );
            assert!(!stderr.contains('\u{1b}'), "{api_url}: {stderr}");
            let kept = s.credentials();
            assert_eq!(kept["default"].get("auth"), None, "{api_url}");
            assert_eq!(kept["default"]["api_url"], api_url, "{api_url}");
            assert_eq!(
                kept["other"]["auth"]["api_key"], "gpra_other_profile_99",
                "{api_url}"
            );
            assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
        }
    }
    // Without a credential, nothing to remove: none left, or `null`.
    let output = s.bare().arg("logout").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).starts_with("No stored credentials"));
    s.store_credentials(r#"{"default": {"api_url": 5, "auth": null}}"#);
    let output = s.bare().arg("logout").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text(&output.stdout).starts_with("No stored credentials"),
        "{}",
        text(&output.stdout)
    );
}

/// Makes a named pipe at `path`.
#[cfg(unix)]
fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("test step")).expect("test step");
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn a_named_pipe_for_the_credentials_file_or_its_lock_is_an_error_not_a_hang() {
    let s = setup();
    mkfifo(&s.credentials_path());
    let url = s.emulator.base_url();
    let key = s.emulator.api_key();
    let runs: [&[&str]; 4] = [
        &["orders", "list"],
        &["whoami"],
        &["logout"],
        &["login", "--api-url", &url, "--api-key", key],
    ];
    for args in runs {
        let output = s
            .bare()
            .timeout(Duration::from_secs(10))
            .args(args)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 1, "is not a regular file", args);
        assert!(
            stderr.contains(&s.credentials_path().display().to_string())
                && stderr.contains("a named pipe"),
            "{stderr}"
        );
    }

    // The lock, beside it, would hang a login the same way.
    std::fs::remove_file(s.credentials_path()).expect("test step");
    let lock = s.credentials_path().with_file_name("credentials.lock");
    let _ = std::fs::remove_file(&lock);
    mkfifo(&lock);
    let output = s
        .bare()
        .timeout(Duration::from_secs(10))
        .args(["login", "--api-url", &url, "--api-key", key])
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "is not a regular file", "login");
    assert!(stderr.contains("credentials.lock"), "{stderr}");
    assert!(!s.credentials_path().exists());
}

/// Regression: the credentials file was checked by its path and then opened, so a named pipe
/// put in its place between the two blocked the open for ever. The command is held between
/// them here: the file is open to other users, so a warning is written to stderr first, and
/// stderr is a pipe the test has filled. While it waits, the file (a link) is pointed at a
/// named pipe; then stderr is drained, and the command must end.
#[cfg(unix)]
#[test]
fn a_named_pipe_swapped_in_for_the_credentials_file_never_blocks_the_read() {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;

    let s = setup();
    let path = s.credentials_path();
    let dir = path.parent().expect("test step").to_path_buf();
    std::fs::create_dir_all(&dir).expect("test step");
    let regular = dir.join("regular.json");
    std::fs::write(&regular, "{}").expect("test step");
    std::fs::set_permissions(&regular, std::fs::Permissions::from_mode(0o644)).expect("test step");
    std::os::unix::fs::symlink("regular.json", &path).expect("test step");
    mkfifo(&dir.join("pipe"));

    // Stderr: a pipe full to its usual size (64 KiB) before the command starts; were the
    // pipe smaller, the filling thread waits, and the pipe is full all the same.
    let stderr_pipe = s.home.path().join("stderr");
    mkfifo(&stderr_pipe);
    let mut both_ends = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&stderr_pipe)
        .expect("test step");
    const FILL: usize = 64 * 1024;
    let (filled, full) = std::sync::mpsc::channel();
    let mut filler = both_ends.try_clone().expect("test step");
    std::thread::spawn(move || {
        let _ = filler.write_all(&[b'.'; FILL]);
        let _ = filled.send(());
    });
    let _ = full.recv_timeout(Duration::from_secs(1));
    let stderr = std::fs::OpenOptions::new()
        .write(true)
        .open(&stderr_pipe)
        .expect("test step");
    let mut child = s
        .process()
        .env_remove("GEOPERA_API_TOKEN")
        .arg("whoami")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("geopera starts");

    // Long enough for the command to start and reach its warning.
    std::thread::sleep(Duration::from_secs(1));
    let next = dir.join("next");
    std::os::unix::fs::symlink("pipe", &next).expect("test step");
    std::fs::rename(&next, &path).expect("test step");
    let mut drained = vec![0; FILL];
    both_ends.read_exact(&mut drained).expect("test step");

    ended_within(
        &mut child,
        Duration::from_secs(10),
        "the named pipe was put in place of the credentials file",
    );
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_the_old_temporary_name_is_not_written_through() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = setup();
    let folder = s.credentials_path().parent().expect("test step").to_owned();
    std::fs::create_dir_all(&folder).expect("test step");
    let victim = s.home.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("test step");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("test step");
    let planted = folder.join("credentials.json.tmp");
    std::os::unix::fs::symlink(&victim, &planted).expect("test step");

    login_with_the_demo_key(&s);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("test step"),
        "precious\n"
    );
    assert_eq!(mode(&victim), 0o644);
    assert_eq!(s.credentials()["default"]["auth"]["type"], "api_key");
    assert_eq!(mode(&s.credentials_path()), 0o600);
    let mut left: Vec<String> = std::fs::read_dir(&folder)
        .expect("test step")
        .map(|entry| {
            entry
                .expect("test step")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "credentials.json",
            "credentials.json.tmp",
            "credentials.lock"
        ],
        "no temporary file is left behind"
    );
}

#[cfg(unix)]
#[test]
fn a_linked_credentials_file_stays_a_link_and_its_target_is_written() {
    let s = setup();
    let url = s.emulator.base_url();
    let link = s.credentials_path();
    std::fs::create_dir_all(link.parent().expect("test step")).expect("test step");
    let dotfiles = s.home.path().join("dotfiles");
    std::fs::create_dir_all(&dotfiles).expect("test step");
    let target = dotfiles.join("geopera-credentials.json");
    // Relative, as dotfile managers make them, and dangling until the first login.
    std::os::unix::fs::symlink("../../dotfiles/geopera-credentials.json", &link)
        .expect("test step");

    login_with_the_demo_key(&s);
    let output = s
        .bare()
        .args([
            "login",
            "--profile",
            "other",
            "--api-url",
            &url,
            "--api-key",
            "-",
        ])
        .write_stdin(format!("{}\n", s.emulator.api_key()))
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    assert!(
        std::fs::symlink_metadata(&link)
            .expect("test step")
            .file_type()
            .is_symlink(),
        "still a link"
    );
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&target).expect("test step"))
        .expect("test step");
    assert_eq!(stored["default"]["auth"]["type"], "api_key");
    assert_eq!(stored["other"]["api_url"], url.as_str());
    assert_eq!(mode(&target), 0o600);
    let left: Vec<_> = std::fs::read_dir(&dotfiles)
        .expect("test step")
        .map(|entry| entry.expect("test step").file_name())
        .collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind: {left:?}");

    // A loop of links is an error, not an endless walk.
    std::fs::remove_file(&link).expect("test step");
    std::os::unix::fs::symlink("credentials.json", &link).expect("test step");
    let output = s
        .bare()
        .timeout(Duration::from_secs(10))
        .args(["login", "--api-url", &url, "--api-key", "-"])
        .write_stdin(format!("{}\n", s.emulator.api_key()))
        .output()
        .expect("geopera runs");
    fails_saying(&output, 1, "credentials.json", "a loop of links");
}

#[cfg(unix)]
#[test]
fn a_credentials_file_open_to_other_users_is_used_with_one_warning() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = setup();
    login_with_the_demo_key(&s);
    let path = s.credentials_path();
    for loose in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).expect("test step");
        let output = s.bare().arg("whoami").output().expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one warning: {stderr}");
        assert!(
            stderr.starts_with("Warning: ")
                && stderr.contains(&path.display().to_string())
                && stderr.contains(&format!("mode {loose:o}"))
                && stderr.contains("chmod 600"),
            "{stderr}"
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("test step");
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));

    // In a home with a space, the advised command, pasted into a shell, mends the file.
    let home = s.home.path().join("Jane Doe");
    let spaced = home.join(".config/geopera/credentials.json");
    std::fs::create_dir_all(spaced.parent().expect("a folder")).expect("test step");
    std::fs::copy(&path, &spaced).expect("test step");
    std::fs::set_permissions(&spaced, std::fs::Permissions::from_mode(0o644)).expect("test step");
    let output = s
        .bare()
        .env("HOME", &home)
        .arg("whoami")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let advised = stderr
        .trim_end()
        .split_once("; run: ")
        .expect("a command to run")
        .1;
    let ran = std::process::Command::new("sh")
        .args(["-c", advised])
        .status()
        .expect("sh runs");
    assert!(ran.success(), "{advised}");
    let mode = std::fs::metadata(&spaced)
        .expect("test step")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{advised}");
}

#[test]
fn a_profile_name_cannot_steer_the_terminal_in_success_messages() {
    let s = setup();
    let url = s.emulator.base_url();
    let profile = "evil\u{1b}]0;pwned\u{7}\r\u{202e}";
    let escaped = "evil\\u{1b}]0;pwned\\u{7}\\u{d}\\u{202e}";
    let output = s
        .bare()
        .args([
            "login",
            "--profile",
            profile,
            "--api-url",
            &url,
            "--api-key",
            "-",
        ])
        .write_stdin(format!("{}\n", s.emulator.api_key()))
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let mut said = vec![text(&output.stdout)];
    for _ in 0..2 {
        // Logged out, then no stored credentials.
        let output = s
            .bare()
            .args(["logout", "--profile", profile])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        said.push(text(&output.stdout));
    }
    // A credential that does not read is removed with a message of its own.
    let stored = serde_json::json!({profile: {"api_url": url, "auth": {"type": "api_key"}}});
    s.store_credentials(&stored.to_string());
    let output = s
        .bare()
        .args(["logout", "--profile", profile])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    said.push(text(&output.stdout));
    for out in said {
        assert!(out.contains(escaped), "{out:?}");
        assert!(
            !out.contains(['\u{1b}', '\u{7}', '\r', '\u{202e}']),
            "{out:?}"
        );
    }
}

/// A word of the command line that clap quotes back in a usage error, and in the tip under
/// it (`to pass '...' as a value, use '-- ...'`), is shown escaped in both, with colours on
/// or off: the tip quoted it raw, so an escape sequence there cleared the screen or retitled
/// the terminal, and a carriage return forged a line.
#[test]
fn a_usage_error_s_tip_quotes_the_command_line_inert() {
    let s = setup();
    let word = "--x\u{1b}]0;pwned\u{7}\u{1b}[2J\r\u{202e}Error: forged";
    let escaped = r"--x\u{1b}]0;pwned\u{7}\u{1b}[2J\u{d}\u{202e}Error: forged";
    for colour in ["0", "1"] {
        let output = s
            .bare()
            .env("CLICOLOR_FORCE", colour)
            .args(["orders", "wait", word])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(2));
        let stderr = text(&output.stderr);
        let tip = stderr
            .lines()
            .find(|line| line.contains("tip:"))
            .unwrap_or_else(|| panic!("a tip: {stderr:?}"));
        assert!(tip.contains(&format!("use '-- {escaped}'")), "{tip:?}");
        assert!(!stderr.contains(['\r', '\u{7}', '\u{202e}']), "{stderr:?}");
        assert!(!stderr.contains("\u{1b}]0;"), "{stderr:?}");
        assert!(!stderr.contains("\n\rError"), "{stderr:?}");
    }
    // A word whose escapes stripped leave clap's own `--`: only the quoted word is replaced,
    // not the separator the tip recommends.
    let output = s
        .bare()
        .args(["orders", "wait", "--\u{1b}[1m"])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert!(stderr.contains(r"use '-- --\u{1b}[1m'"), "{stderr:?}");
}

/// A profile written by hand with `api_url` misspelled is used with the public API, as the
/// official CLI uses it; the members neither CLI reads are named in a warning, since the
/// credential then goes somewhere its owner did not mean.
#[test]
fn a_profile_with_a_misspelled_api_url_is_named_in_a_warning() {
    let s = setup();
    s.store_credentials(
        r#"{"default": {"apiUrl": "http://staging.example", "auth": {"type": "api_key", "api_key": "gpra_0123456789abcdef"}}}"#,
    );
    let output = s
        .bare()
        .args(["--dry-run"])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("has no api_url, but members neither CLI reads (apiUrl)")
            && stderr.contains("https://api.geopera.com"),
        "{stderr}"
    );
    assert!(text(&output.stdout).contains("https://api.geopera.com/v1/op/catalog.search"));
    // The usual layout is said nothing of.
    s.store_credentials(
        r#"{"default": {"auth": {"type": "api_key", "api_key": "gpra_0123456789abcdef"}}}"#,
    );
    let output = s
        .bare()
        .args(["--dry-run"])
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

#[test]
fn a_credentials_file_over_16_mib_is_refused_unread() {
    let s = setup();
    s.store_credentials("");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(s.credentials_path())
        .expect("test step");
    // Sparse: no disk is spent on it.
    file.set_len(16 * 1024 * 1024 + 1).expect("test step");
    drop(file);
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    let stderr = fails_saying(&output, 1, "is larger than 16 MiB", "whoami");
    assert!(
        stderr.contains(&s.credentials_path().display().to_string()),
        "{stderr}"
    );

    // At the cap, it is read (and here found not to be JSON).
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(s.credentials_path())
        .expect("test step");
    file.set_len(16 * 1024 * 1024).expect("test step");
    drop(file);
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    fails_saying(&output, 1, "not valid JSON", "whoami");
}

#[test]
fn a_profile_named_twice_in_the_credentials_file_is_refused_and_kept() {
    let s = setup();
    let url = s.emulator.base_url();
    // The same name, once spelled with an escape.
    let twice = format!(
        r#"{{"work": {{"api_url": "{url}"}}, "default": {{"api_url": "{url}"}}, "\u0077ork": {{"api_url": "{url}/other"}}}}"#
    );
    s.store_credentials(&twice);
    let output = s.bare().arg("whoami").output().expect("geopera runs");
    let stderr = fails_saying(&output, 1, r#"repeats the key "work" at /"#, "whoami");
    assert!(
        stderr.contains(&s.credentials_path().display().to_string()),
        "{stderr}"
    );
    let output = s
        .bare()
        .args(["login", "--api-url", &url, "--api-key", "-"])
        .write_stdin(format!("{}\n", s.emulator.api_key()))
        .output()
        .expect("geopera runs");
    fails_saying(&output, 1, r#"repeats the key "work" at /"#, "login");
    assert_eq!(
        std::fs::read_to_string(s.credentials_path()).expect("test step"),
        twice,
        "left as it was"
    );
}

/// The refresh token of a token answer or a stored session, which the tests compare before
/// and after a renewal.
fn refresh_token_in(session: &Value) -> String {
    session["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

/// A session for the emulator's `admin` user, from its `password` grant, as the JSON token
/// answer.
fn password_session(s: &Setup) -> Value {
    use std::io::Read as _;
    let form = "grant_type=password&client_id=geopera-cli&username=admin&password=admin-password";
    let mut stream = std::net::TcpStream::connect(s.emulator.addr()).expect("test step");
    write!(
        stream,
        "POST /realms/public/protocol/openid-connect/token HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{form}",
        s.emulator.addr(),
        form.len()
    )
    .expect("test step");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("test step");
    let body = answer.split_once("\r\n\r\n").expect("test step").1;
    serde_json::from_str(body).expect("a token answer")
}

/// Three `orders list` commands started at once with the stored credentials, stderr piped:
/// commands that may refresh one session at the same moment.
fn three_listing_at_once(s: &Setup) -> Vec<std::process::Child> {
    (0..3)
        .map(|_| {
            std::process::Command::new(BIN)
                .env_clear()
                .env("HOME", s.home.path())
                .args(["orders", "list", "--size", "1"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("geopera starts")
        })
        .collect()
}

/// A folder the credentials file cannot be written in (here the one its link leads into) is
/// found before a due session is refreshed: the refresh token is not spent, and once the
/// folder can be written the next command refreshes and goes on. Refreshing first spent the
/// token and lost its successor, and the next command was refused as replaying it.
#[cfg(unix)]
#[test]
fn a_credentials_folder_that_cannot_be_written_spends_no_refresh() {
    use std::os::unix::fs::{chown, symlink, MetadataExt as _, PermissionsExt as _};
    use std::os::unix::process::CommandExt as _;
    let s = setup();
    let tokens = password_session(&s);
    store_session(&s, &tokens, serde_json::json!(1.0));
    let home = s.home.path();
    let folder = home.join("dotfiles");
    std::fs::create_dir(&folder).expect("test step");
    let kept = folder.join("credentials.json");
    std::fs::rename(s.credentials_path(), &kept).expect("test step");
    symlink(&kept, s.credentials_path()).expect("test step");
    // Permissions bind no superuser: run as one, the command runs as `nobody`, with the home
    // its own but for the folder.
    let as_root = std::fs::metadata(home).expect("test step").uid() == 0;
    const NOBODY: u32 = 65_534;
    let owner = |path: &Path, uid: u32| {
        if as_root {
            chown(path, Some(uid), Some(uid)).expect("test step");
        }
    };
    for path in [
        home.to_path_buf(),
        home.join(".config"),
        home.join(".config/geopera"),
        kept.clone(),
    ] {
        owner(&path, NOBODY);
    }
    owner(&folder, 0);
    let mode = |mode: u32| {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode))
            .expect("test step");
    };
    /// Gives the folder back its write permission however the test ends, so that the
    /// temporary home can be removed.
    struct Writable(PathBuf);
    impl Drop for Writable {
        fn drop(&mut self) {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
    let _writable = Writable(folder.clone());
    mode(0o555);
    let list = || {
        let mut command = std::process::Command::new(BIN);
        command
            .env_clear()
            .env("HOME", home)
            .args(["orders", "list", "--size", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if as_root {
            command.uid(NOBODY).gid(NOBODY);
        }
        let mut child = command.spawn().expect("geopera runs");
        let started = Instant::now();
        while child.try_wait().expect("a status").is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("geopera did not end within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("its output")
    };
    let refused = list();
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert!(stderr.contains("the session was not refreshed"), "{stderr}");
    assert_eq!(s.emulator.oidc_counters().refresh_grants, 0);
    mode(0o755);
    owner(&folder, NOBODY);
    let listed = list();
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let counters = s.emulator.oidc_counters();
    assert_eq!(counters.refresh_grants, 1);
    assert_eq!(counters.refresh_reuse_detected, 0);
    assert!(
        std::fs::symlink_metadata(s.credentials_path())
            .expect("test step")
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
}

/// A session whose tokens live 20 s (under the 30 s lead a renewal takes) is renewed once as
/// the command starts, not before each of its calls: renewed by a lead of half its life, as
/// the SDK's sessions renew. Every page of `--all` made a token request, and rotated the
/// refresh token.
#[test]
fn a_short_lived_session_is_not_renewed_before_every_call() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let s = setup();
    let refreshes = Arc::new(AtomicUsize::new(0));
    let pages = Arc::new(AtomicUsize::new(0));
    let (refreshed, paged) = (refreshes.clone(), pages.clone());
    let url = test_server(40, move |body| {
        if body.starts_with(b"grant_type=") {
            let n = refreshed.fetch_add(1, Ordering::SeqCst) + 1;
            return (
                200,
                format!(
                    r#"{{"access_token": "at_{n}", "token_type": "Bearer", "expires_in": 20,
                        "refresh_token": "rt_{n}"}}"#
                ),
            );
        }
        paged.fetch_add(1, Ordering::SeqCst);
        one_order_of(body, 5)
    });
    store_session_expiring_in(&s, &url, 10.0);
    let output = s
        .bare()
        .args(["orders", "list", "--size", "1", "--all"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).lines().count(),
        5,
        "{}",
        text(&output.stdout)
    );
    assert_eq!(pages.load(Ordering::SeqCst), 5);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1, "renewed once");
    assert_eq!(s.credentials()["default"]["auth"]["refresh_token"], "rt_1");
}

/// A renewal that fails in the middle of a command (the provider answers 503) while the
/// access token is still valid does not end the command: it warns, goes on with the token, and
/// the stored session stays as it was. The walk ended at the failed renewal, pages in.
#[test]
fn a_failed_renewal_in_the_middle_of_a_command_goes_on_with_the_valid_token() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let s = setup();
    let refreshes = Arc::new(AtomicUsize::new(0));
    let pages = Arc::new(AtomicUsize::new(0));
    let (refreshed, paged) = (refreshes.clone(), pages.clone());
    let url = test_server(40, move |body| {
        if body.starts_with(b"grant_type=") {
            // A start slower than the four seconds the token has before it is due renews it
            // there: given the same tokens, the walk meets the failing renewal all the same.
            if paged.load(Ordering::SeqCst) == 0 {
                return (
                    200,
                    r#"{"access_token": "at_0", "token_type": "Bearer", "expires_in": 34,
                        "refresh_token": "rt_0"}"#
                        .to_owned(),
                );
            }
            refreshed.fetch_add(1, Ordering::SeqCst);
            return (503, r#"{"error": "temporarily_unavailable"}"#.to_owned());
        }
        // Slow pages, so that the token falls due while the walk goes on.
        if paged.fetch_add(1, Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        one_order_of(body, 8)
    });
    // Due 30 s before it expires: not at the start, but after four of the seven seconds the
    // pages take.
    store_session_expiring_in(&s, &url, 34.0);
    let output = s
        .bare()
        .args(["orders", "list", "--size", "1", "--all"])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(text(&output.stdout).lines().count(), 8, "{stderr}");
    assert!(
        refreshes.load(Ordering::SeqCst) >= 1,
        "a renewal failed in the walk"
    );
    assert!(stderr.contains("Warning:"), "{stderr}");
    assert!(stderr.contains("still valid"), "{stderr}");
    let auth = &s.credentials()["default"]["auth"];
    assert_eq!(auth["access_token"], "at_0", "{auth}");
    assert_eq!(auth["refresh_token"], "rt_0", "{auth}");
}

/// The `orders.list` page a request `body` asks for, of `total` pages of one order each.
fn one_order_of(body: &[u8], total: u64) -> (u16, String) {
    let page = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|body| body["page"].as_u64())
        .unwrap_or(0);
    (
        200,
        serde_json::json!({"content": [{"orderId": format!("ord_{page}")}],
            "totalPages": total, "totalElements": total, "number": page, "size": 1})
        .to_string(),
    )
}

/// Stores the session `at_0` / `rt_0` with the server at `url` as the default profile's,
/// expiring `seconds` from now.
fn store_session_expiring_in(s: &Setup, url: &str, seconds: f64) {
    let expires_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        + seconds;
    s.store_credentials(
        &serde_json::json!({"default": {"api_url": url, "auth": {
            "type": "oauth", "access_token": "at_0", "refresh_token": "rt_0",
            "expires_at": expires_at,
        }}})
        .to_string(),
    );
}

/// Stores the token answer `tokens` as the default profile's session with the emulator,
/// expiring at `expires_at` (seconds since 1970, or `null` for no stated expiry).
fn store_session(s: &Setup, tokens: &Value, expires_at: Value) {
    let url = s.emulator.base_url();
    s.store_credentials(
        &serde_json::json!({"default": {"api_url": url, "auth": {
            "type": "oauth",
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_at": expires_at,
            "scope": "openid profile",
            "issuer": url,
        }}})
        .to_string(),
    );
}

/// Starts a clip job and waits for it with the stored session, as a user would, with stdout
/// and stderr piped.
fn clip_and_wait(s: &Setup) -> std::process::Child {
    std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .args([
            "clip",
            "create-from-item",
            "--json",
            r#"{"item_id": "S2A_1"}"#,
        ])
        .args(["--wait", "--wait-timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts")
}

/// A session renewed in the middle of `--wait` is stored as it rotates, not only after the
/// call that started the wait: the refresh token the file kept would be spent, and the next
/// command's refresh would end the session for reuse.
#[test]
fn tokens_rotated_during_a_wait_are_stored() {
    let (s, clock) = Setup::on_manual_clock();
    let tokens = password_session(&s);
    let first_refresh = refresh_token_in(&tokens);
    // No expiry stored: the session is refreshed only after a 401.
    store_session(&s, &tokens, Value::Null);
    let child = clip_and_wait(&s);
    // Once the wait polls, the clock moves past the job's run time and the access token's
    // life: the next poll is a 401, and the session is refreshed (rotating the refresh
    // token) in the middle of the wait.
    let started = Instant::now();
    while s.emulator.executed("clip.job.get") == 0 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    clock.advance(Duration::from_secs(400));
    let output = child.wait_with_output().expect("geopera ends");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        s.emulator.oidc_counters().refresh_grants,
        1,
        "refreshed during the wait"
    );
    let stored = s.credentials()["default"]["auth"]["refresh_token"].clone();
    // The next command, once the stored access token has expired, must still be signed in.
    clock.advance(Duration::from_secs(60));
    let whoami = s.bare().arg("whoami").output().expect("geopera runs");
    assert_ne!(
        stored.as_str(),
        Some(first_refresh.as_str()),
        "the refresh token rotated during the wait was not stored; the next command: {}",
        text(&whoami.stderr)
    );
    assert_eq!(whoami.status.code(), Some(0), "{}", text(&whoami.stderr));
}

/// A stored session that cannot be renewed for a reason of the program's own (no refresh
/// token kept) ends the command with those words, not with an SDK error standing in for
/// them.
#[test]
fn a_session_rejected_with_no_refresh_token_stored_says_to_log_in() {
    let (s, clock) = Setup::on_manual_clock();
    let tokens = password_session(&s);
    let access_only = serde_json::json!({"access_token": tokens["access_token"]});
    // No expiry stored: the session is renewed only after a 401.
    store_session(&s, &access_only, Value::Null);
    clock.advance(Duration::from_secs(3_600));
    let output = s
        .bare()
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "Error: the session expired and no refresh token is stored; run 'geopera login'"
    );
    assert_eq!(s.emulator.oidc_counters().refresh_grants, 0);
}

/// Commands answered 401 at once renew the session one at a time under the credentials lock,
/// each using what the one before stored, so no refresh token is sent twice.
#[test]
fn two_commands_refreshing_after_a_401_at_once_keep_a_valid_session() {
    let (s, clock) = Setup::on_manual_clock();
    let tokens = password_session(&s);
    // No expiry stored (as a token answer without `expires_in` leaves it): the session is
    // refreshed only after a 401.
    store_session(&s, &tokens, Value::Null);
    // The access token's life ends on the server: every command's first call is a 401.
    clock.advance(Duration::from_secs(400));
    let racers = three_listing_at_once(&s);
    let mut failures = Vec::new();
    for racer in racers {
        let output = racer.wait_with_output().expect("geopera ends");
        if output.status.code() != Some(0) {
            failures.push(text(&output.stderr));
        }
    }
    let after = s
        .bare()
        .args(["orders", "list", "--size", "1"])
        .output()
        .expect("geopera runs");
    assert_eq!(
        s.emulator.oidc_counters().refresh_reuse_detected,
        0,
        "a rotated refresh token was sent again; failed racers: {failures:?}; the next \
         command: {}",
        text(&after.stderr)
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stderr));
}

/// A command waiting for the credentials lock, while another command refreshes the session,
/// still hears Ctrl-C: the wait does not hold up the command's one thread.
#[test]
fn ctrl_c_while_waiting_for_another_commands_refresh_exits_130_promptly() {
    let s = setup();
    s.store_credentials(&a_session_for(
        &s.emulator.base_url(),
        "at_old",
        "rt_kept",
        1.0,
    ));
    // The lock another command holds while it refreshes.
    let lock = std::fs::File::create(s.home.path().join(".config/geopera/credentials.lock"))
        .expect("test step");
    fs4::FileExt::lock(&lock).expect("test step");
    let mut child = std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .args(["orders", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    // Time to reach the lock: the session is due, so it is refreshed before the call.
    std::thread::sleep(Duration::from_secs(1));
    let status = interrupt(&mut child);
    drop(lock);
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        s.credentials()["default"]["auth"]["refresh_token"],
        "rt_kept"
    );
}

/// A session whose stored expiry comes due during `--wait` is renewed ahead of the next poll
/// (30 s before it expires, as before a command's first call) and stored at once, while the
/// wait goes on.
#[test]
fn a_session_due_during_a_wait_is_renewed_ahead_of_expiry_and_stored_at_once() {
    let (s, clock) = Setup::on_manual_clock();
    let tokens = password_session(&s);
    let first_refresh = refresh_token_in(&tokens);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    // Due 4 s from now: after the call that starts the job, during the wait.
    store_session(&s, &tokens, serde_json::json!(now + 34.0));
    let mut child = clip_and_wait(&s);
    // The emulator's clock stands still, so the job runs on and the access token stays valid:
    // a refresh now is one ahead of the stored expiry, not one after a 401.
    let stored = || s.credentials()["default"]["auth"]["refresh_token"].clone();
    let started = Instant::now();
    while stored().as_str() == Some(first_refresh.as_str())
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let rotated = stored().as_str() != Some(first_refresh.as_str());
    let refreshed = s.emulator.oidc_counters().refresh_grants;
    let still_waiting = child.try_wait().expect("child status").is_none();
    clock.advance(Duration::from_secs(400));
    let output = child.wait_with_output().expect("geopera ends");
    assert!(
        rotated,
        "the rotated refresh token was not stored while the wait went on ({refreshed} \
         refreshes): {}",
        text(&output.stderr)
    );
    assert_eq!(refreshed, 1, "renewed once ahead of expiry during the wait");
    assert!(
        still_waiting,
        "the wait ended early: {}",
        text(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// Waits (at most 20 s) until the process `pid` has `credentials.lock` open: it opens the
/// lock file just before it tries to take the lock, so from then on it is waiting for the
/// lock the test holds.
#[cfg(target_os = "linux")]
fn waiting_for_the_lock(pid: u32) {
    let started = Instant::now();
    loop {
        let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| target.ends_with(".config/geopera/credentials.lock"))
            });
        if open {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "geopera never opened the credentials lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The credentials lock, taken by the test as another command holding it would take it.
#[cfg(target_os = "linux")]
fn hold_the_lock(s: &Setup) -> std::fs::File {
    let lock = std::fs::File::create(s.home.path().join(".config/geopera/credentials.lock"))
        .expect("test step");
    fs4::FileExt::lock(&lock).expect("test step");
    lock
}

/// The credentials file of one profile, `default`, signed in to `api_url` with a session of
/// these tokens, expiring at `expires_at` (seconds since the epoch; `1.0` is long past).
fn a_session_for(api_url: &str, access: &str, refresh: &str, expires_at: f64) -> String {
    serde_json::json!({"default": {"api_url": api_url, "auth": {
        "type": "oauth", "access_token": access, "refresh_token": refresh,
        "expires_at": expires_at,
    }}})
    .to_string()
}

/// Runs `geopera args` (in `s`'s home, with no other environment) while the test holds the
/// credentials lock: once the command waits for it, `meanwhile` runs (another login storing
/// credentials, say), then the lock is let go and the command's output returned.
#[cfg(target_os = "linux")]
fn while_the_lock_is_held(
    s: &Setup,
    args: &[&str],
    meanwhile: impl FnOnce(),
) -> std::process::Output {
    let lock = hold_the_lock(s);
    let child = std::process::Command::new(BIN)
        .env_clear()
        .env("HOME", s.home.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("geopera starts");
    waiting_for_the_lock(child.id());
    meanwhile();
    drop(lock);
    child.wait_with_output().expect("geopera ends")
}

/// A command waiting for the credentials lock says so, naming the lock, once the wait is
/// noticeable: a command holding it may be stopped or waiting on a silent provider, and
/// this one looked hung.
#[cfg(target_os = "linux")]
#[test]
fn a_command_waiting_for_the_credentials_lock_says_so() {
    let s = setup();
    s.store_credentials(&a_session_for(
        &s.emulator.base_url(),
        "at_due",
        "rt_due",
        1.0,
    ));
    let output = while_the_lock_is_held(&s, &["logout"], || {
        std::thread::sleep(Duration::from_millis(1500));
    });
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr
            .matches("waiting for another geopera command")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("credentials.lock (Ctrl-C to stop)"),
        "{stderr}"
    );
}

/// A session renewed under the lock is read again from the file, which another login may
/// have pointed at another server meanwhile: that login's credential stays with its server,
/// and is not sent to the one this command talks to.
#[cfg(target_os = "linux")]
#[test]
fn a_credential_another_login_stored_for_another_server_meanwhile_is_not_sent() {
    let s = setup();
    let (here, heads) = silent_server();
    s.store_credentials(&a_session_for(&here, "at_for_this_server", "rt_here", 1.0));
    // The session is due, so the command waits for the lock to renew it; meanwhile another
    // login stores a session for another server in the same profile.
    let output = while_the_lock_is_held(&s, &["--timeout", "2", "whoami"], || {
        s.store_credentials(&a_session_for(
            &s.emulator.base_url(),
            "at_for_another_server",
            "rt_there",
            4000000000.0,
        ));
    });
    let stderr = text(&output.stderr);
    let sent: Vec<Vec<String>> = heads.try_iter().collect();
    assert!(
        !sent
            .iter()
            .flatten()
            .any(|line| line.contains("at_for_another_server")),
        "another server's session went here: {sent:?}; {stderr}"
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("are for {}", s.emulator.base_url())),
        "{stderr}"
    );
    assert_eq!(
        s.credentials()["default"]["auth"]["access_token"],
        "at_for_another_server",
        "the other login is kept"
    );
}

/// A session another process stored while this command waited to renew its own is taken
/// up and kept out of every message, as the one the command started with is, when a server
/// quotes the credential it was sent (a gateway's error naming the token it refused).
#[cfg(target_os = "linux")]
#[test]
fn a_session_stored_meanwhile_by_another_process_is_kept_out_of_messages() {
    taken_over_and_kept_out_of_messages("at_due_now", 1.0);
}

/// As above, when the command's own token, not yet due, was refused mid-call (a 401) and the
/// session stored meanwhile is taken over then.
#[cfg(target_os = "linux")]
#[test]
fn a_session_taken_over_after_a_401_is_kept_out_of_messages() {
    taken_over_and_kept_out_of_messages("at_old", 4_000_000_000.0);
}

/// Searches on a stored session of access token `first`, expiring at `expires_at`, against a
/// server that answers 401 to `first` and 400 quoting any other token, while another process
/// stores a session meanwhile: that session's token is sent and stays out of what is printed.
#[cfg(target_os = "linux")]
fn taken_over_and_kept_out_of_messages(first: &'static str, expires_at: f64) {
    let s = setup();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let (head, _) = read_request(&stream);
            // The token alone, as a server naming the credential it refused would quote it.
            let sent = head
                .iter()
                .find_map(|line| line.split_once("Bearer "))
                .map(|(_, token)| token.trim().to_owned())
                .unwrap_or_default();
            let (status, body) = if sent == first {
                (401, serde_json::json!({ "detail": "expired" }))
            } else {
                (
                    400,
                    serde_json::json!({ "detail": format!("refused {sent}") }),
                )
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    s.store_credentials(&a_session_for(&url, first, "rt_first", expires_at));
    let output = while_the_lock_is_held(&s, &SEARCH_ONE, || {
        s.store_credentials(&a_session_for(
            &url,
            "at_stored_meanwhile",
            "rt_meanwhile",
            4000000000.0,
        ));
    });
    let stderr = text(&output.stderr);
    assert!(stderr.contains("[400]"), "{first}: {stderr}");
    assert!(stderr.contains("refused"), "{first}: {stderr}");
    assert!(!stderr.contains("at_stored_meanwhile"), "{first}: {stderr}");
}

/// A server of the test's own that answers its first four requests `204` and hands over each
/// request's body: its URL, and where the bodies come.
#[cfg(target_os = "linux")]
fn a_server_keeping_bodies() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (bodies, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let (_, body) = read_request(&stream);
            let _ = bodies.send(text(&body));
            let _ = write!(
                stream,
                "HTTP/1.1 204 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, heard)
}

/// `logout` waiting for the credentials lock while a login elsewhere signs the profile in
/// to another server revokes that session where it was issued: the refresh token went to the
/// server the profile named before, which never issued it.
#[cfg(target_os = "linux")]
#[test]
fn logout_sends_a_session_stored_meanwhile_for_another_server_to_that_server_only() {
    let s = setup();
    let (first, heard) = a_server_keeping_bodies();
    s.store_credentials(&a_session_for(
        &first,
        "at_first",
        "rt_first",
        4_000_000_000.0,
    ));
    let output = while_the_lock_is_held(&s, &["--timeout", "5", "logout"], || {
        s.store_credentials(&a_session_for(
            &s.emulator.base_url(),
            "at_there",
            "rt_there",
            4000000000.0,
        ));
    });
    let stderr = text(&output.stderr);
    let sent: Vec<String> = heard.try_iter().collect();
    assert!(
        !sent.iter().any(|body| body.contains("rt_there")),
        "another server's refresh token went to the first: {sent:?}; {stderr}"
    );
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(s.credentials()["default"].get("auth").is_none(), "{stderr}");
    assert_eq!(s.credentials()["default"]["api_url"], s.emulator.base_url());
}

/// `logout` of a profile whose `api_url` names no server, waiting for the lock while a login
/// elsewhere signs it in to a server, revokes that new session there: it found the server
/// gone only before the lock, and removed the session unrevoked saying none was named.
#[cfg(target_os = "linux")]
#[test]
fn logout_revokes_a_session_stored_meanwhile_for_a_profile_that_named_no_server() {
    let s = setup();
    let (server, heard) = a_server_keeping_bodies();
    s.store_credentials(&a_session_for(
        "ftp://x",
        "at_old",
        "rt_old",
        4_000_000_000.0,
    ));
    let output = while_the_lock_is_held(&s, &["--timeout", "5", "logout"], || {
        s.store_credentials(&a_session_for(&server, "at_new", "rt_new", 4_000_000_000.0));
    });
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let sent: Vec<String> = heard.try_iter().collect();
    assert!(
        sent.iter().any(|body| body.contains("rt_new")),
        "the new session was not revoked where it was issued: {sent:?}; {stderr}"
    );
    assert!(
        !text(&output.stdout).contains("names no server"),
        "{}",
        text(&output.stdout)
    );
    assert!(s.credentials()["default"].get("auth").is_none(), "{stderr}");
}

/// `logout` and `login`, waiting for the credentials lock while another command holds it
/// (renewing a session against a slow provider, say), still hear Ctrl-C, and leave the file
/// as it was.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_while_logout_or_login_waits_for_the_lock_exits_130_promptly() {
    let s = setup();
    let url = s.emulator.base_url();
    let stored = serde_json::json!({"default": {"api_url": url, "auth": {
        "type": "api_key", "api_key": "gpra_stored_before",
    }}})
    .to_string();
    for args in [
        &["logout"][..],
        &["login", "--api-key", s.emulator.api_key()][..],
    ] {
        s.store_credentials(&stored);
        let lock = hold_the_lock(&s);
        let mut child = std::process::Command::new(BIN)
            .env_clear()
            .env("HOME", s.home.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("geopera starts");
        waiting_for_the_lock(child.id());
        // A moment for the runtime to listen for Ctrl-C once the wait has begun.
        std::thread::sleep(Duration::from_millis(500));
        let status = interrupt(&mut child);
        drop(lock);
        assert_eq!(status.code(), Some(130), "{args:?} did not end on Ctrl-C");
        assert_eq!(
            std::fs::read_to_string(s.credentials_path()).expect("test step"),
            stored,
            "{args:?}"
        );
    }
}

#[test]
fn a_dry_run_refuses_a_body_the_real_run_refuses_before_sending() {
    let s = setup();
    let args = [
        "catalog",
        "search",
        "--host-name",
        "x",
        "--json",
        r#"{"limit": 9999}"#,
    ];
    let real = s.cli().args(args).output().expect("geopera runs");
    let stderr = fails_saying(&real, 2, "body.limit", "real run");
    let dry = s
        .cli()
        .args(args)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(dry.status.code(), Some(2), "{}", text(&dry.stderr));
    assert_eq!(
        text(&dry.stderr),
        stderr,
        "the dry run fails as the run does"
    );
    assert!(dry.stdout.is_empty(), "{}", text(&dry.stdout));
    assert!(s.emulator.requests().is_empty(), "nothing was sent");
    // `op` sends any body as given, so its dry run shows it.
    let op = s
        .cli()
        .args([
            "op",
            "catalog.search",
            r#"{"host_name": "x", "limit": 9999}"#,
        ])
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(op.status.code(), Some(0), "{}", text(&op.stderr));
    assert_eq!(dry_run(&op).1["limit"], 9999);
}

#[test]
fn a_number_flag_that_would_not_be_sent_as_written_is_refused_as_in_json() {
    let s = setup();
    let rule = [
        "alerts",
        "create-rule",
        "--name",
        "n",
        "--expression",
        "e",
        "--comparison",
        "gt",
    ];
    for value in ["1e-400", "5e-999999", "99999999999999999999"] {
        for dry_run in [true, false] {
            let output = s
                .cli()
                .args(rule)
                .args(["--threshold", value])
                .args(dry_run.then_some("--dry-run"))
                .output()
                .expect("geopera runs");
            fails_saying(&output, 2, "--threshold", value);
            assert!(
                output.stdout.is_empty(),
                "{value}: {}",
                text(&output.stdout)
            );
        }
    }
    assert!(s.emulator.requests().is_empty(), "nothing was sent");
    // Zero written as zero, a number a float holds, and a tiny one that is not zero are sent.
    for (value, sent) in [("0e-999", "0.0"), ("-0", "-0.0"), ("2.5e-320", "2.5e-320")] {
        let output = s
            .cli()
            .args(rule)
            .args(["--threshold", value, "--dry-run"])
            .output()
            .expect("geopera runs");
        assert_eq!(
            output.status.code(),
            Some(0),
            "{value}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stdout).contains(&format!("\"threshold\": {sent}")),
            "{value}: {}",
            text(&output.stdout)
        );
    }
}

#[test]
fn an_empty_or_blank_profile_option_is_a_usage_error_and_nothing_is_sent_or_stored() {
    let s = setup();
    an_empty_flag_is_refused(&s, "--profile", false);
    login_with_the_demo_key(&s);
    let stored = std::fs::read_to_string(s.credentials_path()).expect("test step");
    for profile in ["", " "] {
        let output = s
            .bare()
            .args(["--profile", profile, "--api-url", &s.emulator.base_url()])
            .args(["login", "--api-key", "gpra_another"])
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, "--profile", profile);
        let output = s
            .bare()
            .args(["--profile", profile, "logout"])
            .output()
            .expect("geopera runs");
        fails_saying(&output, 2, "--profile", profile);
    }
    assert_eq!(
        std::fs::read_to_string(s.credentials_path()).expect("test step"),
        stored,
        "the default profile is untouched"
    );
    // A blank variable is no profile, as for the API URL: the default is used.
    let output = s
        .bare()
        .env("GEOPERA_PROFILE", " ")
        .args(["whoami"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

/// A dry run shows the `Idempotency-Key` a call with side effects goes with: the one given, or
/// a line saying a new one is made for each run, since one shown here would not be the one
/// sent. A read-only call has none.
#[test]
fn a_dry_run_says_which_idempotency_key_a_call_with_side_effects_is_sent_with() {
    let s = setup();
    let cancel = ["orders", "cancel", "--order-id", "o", "--dry-run"];
    let head = |output: &std::process::Output| {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let out = text(&output.stdout);
        out.split_once("\n\n")
            .map(|(head, _)| head.to_owned())
            .unwrap_or(out)
    };
    let made = head(&s.cli().args(cancel).output().expect("geopera runs"));
    assert!(
        made.lines()
            .any(|line| line.starts_with("# Idempotency-Key: a new one for each run")),
        "{made}"
    );
    let given = head(
        &s.cli()
            .args(cancel)
            .args(["--idempotency-key", "k-1"])
            .output()
            .expect("geopera runs"),
    );
    assert!(
        given.lines().any(|line| line == "Idempotency-Key: k-1"),
        "{given}"
    );
    let read = head(
        &s.cli()
            .args(["orders", "get", "--order-id", "o", "--dry-run"])
            .output()
            .expect("geopera runs"),
    );
    assert!(!read.contains("Idempotency-Key"), "{read}");
    assert!(s.emulator.requests().is_empty(), "nothing was sent");
}

/// A dry run shows the credentials a body carries (a share link's password, a subscription's
/// delivery headers) redacted, as it shows the `Authorization` header, and says so: dry runs
/// are pasted into tickets. The real run sends them as typed, and everything else is shown as
/// it is sent.
#[test]
fn a_dry_run_hides_the_credentials_in_the_body_and_the_real_run_sends_them() {
    let s = Setup::on(Emulator::builder().record_bodies(true));
    let password = "correct-horse-battery-staple";
    let body = serde_json::json!({
        "target_type": "item",
        "target_id": "S2B_T33UUP_20240601",
        "permission": "view",
        "password": password,
        "expires_at": "2030-01-01T00:00:00Z",
    });
    let args = ["op", "share.link.create", &body.to_string()];
    let output = s
        .cli()
        .args(args)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    assert!(!out.contains(password), "{out}");
    assert!(
        out.lines().any(
            |line| line == format!("# password: sent as given, shown as {}", geopera::REDACTED)
        ),
        "{out}"
    );
    let (_, shown) = dry_run(&output);
    let mut expected = body.clone();
    expected["password"] = Value::from(geopera::REDACTED);
    assert_eq!(shown, expected);
    assert!(s.emulator.requests().is_empty(), "nothing was sent");

    s.cli().args(args).output().expect("geopera runs");
    let recorded = s.emulator.requests();
    let call = recorded
        .iter()
        .find(|r| r.operation_id.as_deref() == Some("share.link.create"))
        .expect("the call was recorded");
    let sent: Value = serde_json::from_slice(&call.body).expect("JSON");
    assert_eq!(sent, body, "the real run sends the password as typed");

    // Every string of an object of delivery headers is hidden, and an empty one is no secret.
    let subscription = serde_json::json!({
        "event_type": "order.completed",
        "endpoint_url": "https://hooks.example.com/geopera",
        "headers": { "X-Hook-Token": "tok-9f8e7d6c5b4a", "X-Empty": "" },
    });
    let output = s
        .cli()
        .args([
            "op",
            "event_subscriptions.create",
            &subscription.to_string(),
        ])
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!text(&output.stdout).contains("tok-9f8e7d6c5b4a"));
    let (_, shown) = dry_run(&output);
    assert_eq!(shown["headers"]["X-Hook-Token"], geopera::REDACTED);
    assert_eq!(shown["headers"]["X-Empty"], "");
    assert_eq!(shown["endpoint_url"], subscription["endpoint_url"]);
}

/// `op --file -` reads the body from stdin, as `-` does for `--json` and `op`'s body argument,
/// within the same cap and with the same messages; `./-` still names a file called `-`.
#[test]
fn op_file_dash_reads_the_body_from_stdin() {
    let s = setup();
    for flag in ["-f", "--file"] {
        let output = s
            .cli()
            .args(["op", "orders.list", flag, "-", "--dry-run"])
            .write_stdin(r#"{"size": 2}"#)
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        assert_eq!(dry_run(&output).1, serde_json::json!({"size": 2}), "{flag}");
    }
    let output = s
        .cli()
        .args(["op", "orders.list", "-f", "-"])
        .write_stdin(r#"{"size": 1}"#)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(s.emulator.executed("orders.list"), 1);

    let output = s
        .cli()
        .args(["op", "orders.list", "-f", "-", "--dry-run"])
        .write_stdin(&b"{\"a\": \"\xff\"}"[..])
        .output()
        .expect("geopera runs");
    fails_saying(
        &output,
        1,
        "cannot read --file from stdin: stream did not contain valid UTF-8",
        "not UTF-8",
    );
    let mut command = s.process();
    command.args(["op", "catalog.search", "-f", "-", "--dry-run"]);
    let output = fed(command, b'y', 80 << 20);
    fails_saying(
        &output,
        1,
        "cannot read --file from stdin: it is larger than 16 MiB",
        "endless stdin",
    );
    a_file_named_dash_is_read_as_dot_slash_dash(&s, &["op", "orders.list", "-f", "./-"]);
}

/// `op` took a JSON body and `--file` together and sent the file, dropping the JSON without
/// a word; `op --list` took an id, a body, `--file` or `--out` and printed the list to stdout
/// all the same, exit 0, `--out`'s file never written.
#[test]
fn op_refuses_input_it_would_ignore_and_sends_or_writes_nothing() {
    let s = setup();
    let folder = tempfile::tempdir().expect("temp dir");
    let body = folder.path().join("body.json");
    std::fs::write(&body, r#"{"size": 1}"#).expect("test step");
    let body = body.to_str().expect("a UTF-8 path");
    let out = folder.path().join("ids.txt");
    let out = out.to_str().expect("a UTF-8 path");
    let runs: [(&[&str], &str, &str); 6] = [
        (
            &["orders.list", r#"{"size": 2}"#, "--file", body],
            "--file",
            "[JSON]",
        ),
        (&["orders.list", "-", "-f", body], "--file", "[JSON]"),
        (&["--list", "orders.list"], "--list", "[OPERATION_ID]"),
        (&["--list", "--file", body], "--list", "--file"),
        (&["--list", "--out", out], "--list", "--out"),
        (
            &["orders.list", r#"{"size": 2}"#, "--list"],
            "--list",
            "[OPERATION_ID]",
        ),
    ];
    for (args, one, other) in runs {
        let output = s
            .cli()
            .arg("op")
            .args(args)
            .write_stdin(r#"{"size": 3}"#)
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, "cannot be used with", args);
        assert!(
            stderr.contains(one) && stderr.contains(other),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?}: {output:?}");
    }
    assert_eq!(s.emulator.executed("orders.list"), 0, "nothing was sent");
    assert!(!Path::new(out).exists(), "nothing was written");
}

/// Asserts that `args` (naming `./-`), in a dry run from a folder holding a file named `-`,
/// send that file's body: a dash alone means stdin, and `./-` is how the file is named.
fn a_file_named_dash_is_read_as_dot_slash_dash(s: &Setup, args: &[&str]) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("-"), r#"{"size": 3}"#).expect("test step");
    let output = s
        .cli()
        .current_dir(dir.path())
        .args(args)
        .arg("--dry-run")
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        dry_run(&output).1,
        serde_json::json!({"size": 3}),
        "{args:?}"
    );
}

/// `--json @-` is stdin, as `@-` is for curl and gh, and as `--json -` is; `@./-` is the file.
#[test]
fn json_at_dash_reads_the_body_from_stdin() {
    let s = setup();
    let output = s
        .cli()
        .args(["orders", "list", "--json", "@-", "--dry-run"])
        .write_stdin(r#"{"size": 2}"#)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(dry_run(&output).1, serde_json::json!({"size": 2}));
    a_file_named_dash_is_read_as_dot_slash_dash(&s, &["orders", "list", "--json", "@./-"]);
}

/// An empty or blank `--project` (`--project "$UNSET"`), or target of the upload, is refused
/// naming the flag, as an empty `--profile` is, rather than sent.
#[test]
fn an_empty_or_blank_project_or_upload_target_is_a_usage_error_before_any_request() {
    let s = setup();
    let project = a_project(&s, "targets");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scene.tif");
    std::fs::write(&path, b"bytes").expect("a file");
    let before = s.emulator.requests().len();
    for option in ["--project", "--collection", "--item", "--asset-key"] {
        for value in ["", "  "] {
            for dry in [false, true] {
                let mut run = s.cli();
                run.arg("upload").arg(&path);
                if option != "--project" {
                    run.args(["--project", &project]);
                }
                run.args([option, value]);
                if dry {
                    run.arg("--dry-run");
                }
                let output = run.output().expect("geopera runs");
                let stderr = fails_saying(&output, 2, option, (option, value, dry));
                assert!(stderr.contains("an unset variable?"), "{stderr}");
                assert!(output.stdout.is_empty(), "{option} {value:?} {dry}");
            }
        }
    }
    assert_eq!(s.emulator.requests().len(), before, "nothing was sent");
    assert_eq!(
        s.emulator.executed("uploads.initiate"),
        0,
        "nothing reserved"
    );
}

/// An empty or blank order id for `orders wait` (`orders wait "$UNSET"`) is a usage error
/// before anything is sent, where it was polled and answered 404.
#[test]
fn an_empty_order_id_to_wait_for_is_a_usage_error_before_any_request() {
    let s = setup();
    for id in ["", " "] {
        let output = s
            .cli()
            .args(["orders", "wait", id])
            .output()
            .expect("geopera runs");
        let stderr = fails_saying(&output, 2, "an unset variable?", id);
        assert!(stderr.contains("ORDER_ID"), "{stderr}");
    }
    assert!(s.emulator.requests().is_empty(), "nothing was sent");
}

/// `man --out-dir` writes its pages as `--out` writes a file: a page whose name is taken by a
/// read-only file is refused and the file left as it was, where it was written over (as
/// root) or failed with the system's words; links and FIFOs another user planted in a shared
/// folder are refused the same way (`files::refuse_planted`).
#[cfg(unix)]
#[test]
fn man_out_dir_writes_pages_as_out_writes_a_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let kept = dir.path().join("geopera.1");
    std::fs::write(&kept, b"the user's own page").expect("a file");
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o444)).expect("read-only");
    let output = s
        .bare()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--out-dir") && stderr.contains("geopera.1 is read-only"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&kept).expect("still there"),
        b"the user's own page"
    );
}

/// `man --out-dir` naming a file says it is no folder, where it said "File exists".
#[test]
fn man_pages_into_a_file_say_it_is_no_folder() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "kept").expect("a file");
    let output = s
        .bare()
        .args(["man", "--out-dir"])
        .arg(&file)
        .output()
        .expect("geopera runs");
    let stderr = fails_saying(&output, 1, "is not a folder", "a file");
    assert!(!stderr.contains("File exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), "kept");
}

/// A part of a path that would clear the screen and start a line of its own, `Error: forged`.
const STEERING: &str = "in\u{1b}[2J\nError: forged";
/// [`STEERING`] as output shows it.
const STEERING_SHOWN: &str = r"in\u{1b}[2J\u{a}Error: forged";

/// Asserts that `stderr` shows [`STEERING`] escaped, on no line of its own and without the
/// escape sequence, and that it has `lines` lines.
fn shows_steering_escaped(stderr: &str, lines: usize, run: impl std::fmt::Debug) {
    assert!(stderr.contains(STEERING_SHOWN), "{run:?}: {stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{run:?}: {stderr:?}");
    assert!(
        !stderr
            .lines()
            .any(|line| line.starts_with("Error: Error: forged")),
        "{run:?}: {stderr:?}"
    );
    assert_eq!(stderr.lines().count(), lines, "{run:?}: {stderr:?}");
}

/// clap's usage errors quote the words of the command line they refuse; a value a script
/// passed on holding a line break or an escape sequence was printed as it was, and could
/// forge an `Error:` line of its own or steer the terminal.
#[test]
fn a_word_a_usage_error_quotes_cannot_forge_a_line_or_steer_the_terminal() {
    let s = setup();
    let runs: [&[&str]; 5] = [
        &["catalog", "search", "--host-name", "h", "--limit", STEERING],
        &["catalog", "search", "--host-name", "h", "--bbox", STEERING],
        &["catalog", "search", "--host-name", "h", STEERING],
        &[STEERING, "search"],
        &["catalog", "search", "--host-name", "h", "-o", STEERING],
    ];
    for args in runs {
        let output = s.cli().args(args).output().expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(STEERING_SHOWN), "{args:?}: {stderr:?}");
        assert!(!stderr.contains('\u{1b}'), "{args:?}: {stderr:?}");
        assert!(
            !stderr.lines().any(|line| line.starts_with("Error: forged")),
            "{args:?}: {stderr:?}"
        );
    }
    assert_eq!(s.emulator.executed("catalog.search"), 0, "nothing was sent");
}

/// An API key typed where another argument belongs is not printed back by the usage error
/// that refuses it, though this process never took it up as a credential: the error goes to a
/// terminal's scroll-back or a CI job's log.
#[test]
fn a_usage_error_does_not_print_back_an_api_key_typed_in_the_wrong_place() {
    let s = setup();
    let key = "gpra_0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let runs: [&[&str]; 3] = [
        &["login", key],
        &["catalog", "search", "--host-name", "h", "--limit", key],
        &["--profile", "p", key, "search"],
    ];
    for args in runs {
        let output = s.cli().args(args).output().expect("geopera runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains(key), "{args:?}: {stderr}");
        assert!(!stderr.contains("0f1e2d3c4b5a"), "{args:?}: {stderr}");
        assert!(stderr.contains("'[redacted]'"), "{args:?}: {stderr}");
    }
    assert_eq!(s.emulator.executed("catalog.search"), 0, "nothing was sent");
}

/// The path `upload` names in its failures is shown as the dry run shows it: a folder whose
/// name holds a line break or an escape sequence can neither forge a line nor steer the
/// terminal.
#[test]
fn an_upload_that_fails_shows_a_path_that_steers_the_terminal_escaped() {
    let s = Setup::on(
        Emulator::builder().faults(
            "latency=2s;op=uploads.signed_url"
                .parse()
                .expect("a fault plan"),
        ),
    );
    let project = a_project(&s, "steering paths");
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join(STEERING);
    let missing = folder.join("missing.tif");
    let upload = |path: &Path| {
        let output = s
            .cli()
            .arg("upload")
            .arg(path)
            .args(["--project", &project])
            .output()
            .expect("geopera runs");
        assert_eq!(output.status.code(), Some(1), "{path:?}");
        shows_steering_escaped(&text(&output.stderr), 1, path);
    };
    upload(&missing);
    std::fs::create_dir(&folder).expect("a folder");
    upload(&folder);
    // A failure of the upload itself: the file is emptied while it is signed.
    let path = folder.join("data.bin");
    std::fs::write(&path, vec![7u8; 300_000]).expect("a file");
    let child = s
        .process()
        .arg("upload")
        .arg(&path)
        .args(["--project", &project])
        .spawn()
        .expect("geopera starts");
    executed_soon(&s, "uploads.initiate", Duration::from_secs(20));
    std::fs::write(&path, b"").expect("the file emptied");
    let output = child.wait_with_output().expect("geopera ends");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("changed while it was read"), "{stderr}");
    shows_steering_escaped(&stderr, 2, "changed");
}

/// Paths the user gave and ids the server chose reach the terminal escaped wherever the CLI
/// quotes them: in errors, whose lines are split at line breaks, and in its own lines on
/// stderr.
#[test]
fn paths_and_server_ids_in_messages_cannot_forge_a_line_or_steer_the_terminal() {
    let s = setup();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(STEERING).join("body.json");
    let shown = path.to_str().expect("a UTF-8 path").to_owned();
    for args in [
        vec!["catalog", "search", "--json", &format!("@{shown}")],
        vec!["op", "orders.list", "-f", &shown],
        vec!["op", "orders.list", "{}", "--out", &shown],
        vec![
            "webhooks",
            "verify",
            "--secret",
            "whsec_x",
            "--headers",
            &shown,
            "--body",
            &shown,
        ],
    ] {
        let output = s.cli().args(&args).output().expect("geopera runs");
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        shows_steering_escaped(&text(&output.stderr), 1, &args);
    }
    let pages = dir.path().join(STEERING);
    let output = s
        .bare()
        .arg("man")
        .arg("--out-dir")
        .arg(&pages)
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    shows_steering_escaped(&text(&output.stderr), 1, "man");

    // An order id chosen by the server, named before the wait and in its failure.
    let url = test_server(4, |body| {
        if text(body).contains("captures") {
            let placed = serde_json::json!({"orderId": STEERING, "status": "received"});
            (202, placed.to_string())
        } else {
            let missing = r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"Order not found"}"#;
            (404, missing.to_owned())
        }
    });
    let body = r#"{"captures":[{"id":"S2A_1","geometry":{"type":"Point","coordinates":[0,0]}}]}"#;
    let output = s
        .against(&url)
        .args(["orders", "archive", "place", "--wait", "--json", body])
        .args(["--wait-timeout", "30"])
        .output()
        .expect("geopera runs");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    shows_steering_escaped(&text(&output.stderr), 2, "wait");
}

/// A server of the test's own that answers each of `connections` requests with `200 {}` and
/// sends the lines of its head (request line first) on the channel it returns.
fn recording_server(connections: usize) -> (String, std::sync::mpsc::Receiver<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (heads, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let (head, _) = read_request(&stream);
            let _ = heads.send(head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            );
        }
    });
    (url, heard)
}

/// A dry run shows every header the real run sends, each with the value it is sent with: the
/// credential redacted, and a `#` line for the ones made anew for each run (`Idempotency-Key`
/// unless given, `X-Request-Id`). `Host` and `Content-Length` are the URL's and the body's.
#[test]
fn a_dry_run_shows_every_header_the_real_run_sends() {
    let s = setup();
    let runs: [(&str, &[&str]); 4] = [
        ("gpra_test", &["orders", "list", "--size", "1"]),
        ("gpra_test", &["orders", "cancel", "--order-id", "o"]),
        (
            "gpra_test",
            &[
                "orders",
                "cancel",
                "--order-id",
                "o",
                "--idempotency-key",
                "k-1",
            ],
        ),
        (
            "a-session-token",
            &["op", "orders.get", r#"{"order_id":"o"}"#],
        ),
    ];
    let (url, heard) = recording_server(runs.len());
    let header = |line: &str| {
        line.split_once(':')
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
    };
    for (token, args) in runs {
        let real = s
            .bare()
            .env("GEOPERA_API_URL", &url)
            .env("GEOPERA_API_TOKEN", token)
            .args(args)
            .output()
            .expect("geopera runs");
        assert_eq!(real.status.code(), Some(0), "{}", text(&real.stderr));
        let sent: std::collections::BTreeMap<String, String> = heard
            .recv_timeout(Duration::from_secs(10))
            .expect("the request was heard")
            .iter()
            .skip(1)
            .filter_map(|line| header(line))
            .filter(|(name, _)| name != "host" && name != "content-length")
            .collect();

        let dry = s
            .bare()
            .env("GEOPERA_API_URL", &url)
            .env("GEOPERA_API_TOKEN", token)
            .args(args)
            .arg("--dry-run")
            .output()
            .expect("geopera runs");
        assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
        let out = text(&dry.stdout);
        let (head, _) = out.split_once("\n\n").expect("headers, blank line, body");
        let mut shown = std::collections::BTreeMap::new();
        for line in head.lines().skip(1) {
            match line.strip_prefix("# ") {
                // Made anew for each run: only its name can be compared.
                Some(made) => {
                    let (name, _) = header(made).expect("a header's name");
                    assert!(sent.contains_key(&name), "{args:?}: {line}");
                    shown.insert(name.clone(), sent[&name].clone());
                }
                None => {
                    let (name, value) = header(line).expect("a header");
                    shown.insert(name, value);
                }
            }
        }
        for credential in ["x-api-key", "authorization"] {
            if let Some(value) = shown.get_mut(credential) {
                assert!(value.ends_with("[redacted]"), "{args:?}: {value}");
                *value = sent.get(credential).cloned().unwrap_or_default();
                assert!(!value.is_empty(), "{args:?}: {credential} is sent");
            }
        }
        assert_eq!(shown, sent, "{args:?}: the dry run against the real run");
    }
}

/// A device login stores the new session in one write: a login cut off while it stores it
/// (here by a file size limit that the profile with its tokens exceeds, which ends the
/// process) leaves the profile as it was, never with its old credential gone and no new one.
#[cfg(unix)]
#[test]
fn a_device_login_cut_off_while_storing_its_session_leaves_the_profile_whole() {
    let s = setup();
    // Tokens far longer than the 4 KiB the login may write, and a profile well under it.
    let tokens = serde_json::json!({
        "access_token": format!("at_{}", "a".repeat(8192)),
        "refresh_token": "rt_new",
        "expires_in": 300,
    })
    .to_string();
    let url = device_sign_in_server(tokens);
    let before = serde_json::json!({
        "default": {"api_url": url, "auth": {"type": "api_key", "api_key": "gpra_old"}}
    });
    s.store_credentials(&before.to_string());
    let output = Command::new("sh")
        .env_clear()
        .env("HOME", s.home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["-c", "ulimit -f 8 || exit 99; exec \"$0\" \"$@\"", BIN])
        .args(["--api-url", &url, "login", "--no-browser"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("sh runs");
    if output.status.code() == Some(99) {
        eprintln!("no `ulimit -f` here: a login cut off is not tried");
        return;
    }
    assert!(
        !output.status.success(),
        "the write was to be cut off: {}",
        text(&output.stderr)
    );
    assert_eq!(s.credentials(), before, "the profile is as it was");
}

/// A temporary credentials file a killed login left behind (each holds a secret, and nothing
/// will ever rename it into place) is removed by the next write of the credentials once it is
/// an hour old; a younger one, which may be another process's write under way, and any other
/// file are left alone.
#[test]
fn a_login_removes_the_temporary_credentials_files_a_killed_one_left() {
    let s = setup();
    let folder = s.credentials_path().parent().expect("a folder").to_owned();
    std::fs::create_dir_all(&folder).expect("the credentials folder");
    let aged = |name: &str, age: Duration| {
        let path = folder.join(name);
        let file = std::fs::File::create(&path).expect("a file");
        let at = std::time::SystemTime::now() - age;
        file.set_modified(at).expect("its time set");
        path
    };
    let hours = Duration::from_secs(2 * 3600);
    let left = aged(".credentials.json.Ab12Cd.tmp", hours);
    let writing = aged(".credentials.json.Ef34Gh.tmp", Duration::from_secs(5));
    let others = [
        aged(".credentials.json.tmp", hours),
        aged("notes.tmp", hours),
        aged(".credentials.json.Ij56Kl.tmp.keep", hours),
    ];
    login_with_the_demo_key(&s);
    assert!(!left.exists(), "the file a killed login left is removed");
    assert!(
        writing.exists(),
        "a write that may be under way is left alone"
    );
    for other in others {
        assert!(other.exists(), "{} is not ours to remove", other.display());
    }
    assert_eq!(s.credentials()["default"]["auth"]["type"], "api_key");
}

/// A new pseudo-terminal: its controlling side, and the path of the terminal a command is
/// given.
#[cfg(target_os = "linux")]
fn pseudo_terminal() -> (std::fs::File, PathBuf) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let controller = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
    grantpt(&controller).expect("pseudo-terminal granted");
    unlockpt(&controller).expect("pseudo-terminal unlocked");
    let name = ptsname(&controller, Vec::new()).expect("pseudo-terminal name");
    let path = PathBuf::from(name.to_string_lossy().into_owned());
    (std::fs::File::from(controller), path)
}

/// Opens the terminal at `path` without making it this process's controlling terminal.
#[cfg(target_os = "linux")]
fn open_terminal(path: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .expect("pseudo-terminal opens")
}

/// Runs `command` with stderr on a new pseudo-terminal and answers its output and what it
/// wrote there (the terminal's line ends are `\r\n`).
#[cfg(target_os = "linux")]
fn with_stderr_on_a_terminal(mut command: std::process::Command) -> (std::process::Output, String) {
    use std::io::Read as _;
    let (mut controller, path) = pseudo_terminal();
    command.stdin(Stdio::null()).stderr(open_terminal(&path));
    let child = command.spawn().expect("geopera runs");
    // The command keeps the terminal's other end open until it goes: dropped, the child holds
    // the only one, and the read below ends (`EIO`) when the child does. The terminal is read
    // while the child runs, so that a child writing more than its buffer holds never blocks.
    drop(command);
    let reader = std::thread::spawn(move || {
        let mut written = Vec::new();
        let _ = controller.read_to_end(&mut written);
        written
    });
    let output = child.wait_with_output().expect("geopera ends");
    let written = reader.join().expect("the terminal is read");
    (output, String::from_utf8_lossy(&written).into_owned())
}

/// A call held back by a 429's `Retry-After` says so on a terminal, where it looked hung for
/// as long as the wait; stderr that is not a terminal gets no such line.
#[cfg(target_os = "linux")]
#[test]
fn a_wait_before_a_retry_is_said_on_a_terminal_and_nowhere_else() {
    let limited_once = || {
        let plan =
            geopera_emulator::FaultPlan::parse("429;retry-after=1;times=1").expect("a fault plan");
        Setup::on(Emulator::builder().faults(plan))
    };
    let s = limited_once();
    let mut command = s.process();
    command.args(SEARCH_ONE);
    let (output, terminal) = with_stderr_on_a_terminal(command);
    assert!(output.status.success(), "{terminal}");
    assert_eq!(
        stdout_json(&output)["features"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        terminal, "Retrying catalog.search in 1 s (HTTP 429); Ctrl-C stops\r\n",
        "{terminal:?}"
    );

    let s = limited_once();
    let output = s.cli().args(SEARCH_ONE).output().expect("geopera runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
    // `-v` tells of the retry itself, in its own words.
    let s = limited_once();
    let output = s
        .cli()
        .args(SEARCH_ONE)
        .arg("-v")
        .output()
        .expect("geopera runs");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("retrying") && stderr.contains("outcome=HTTP 429"),
        "{stderr}"
    );
    assert!(!stderr.contains("Ctrl-C stops"), "{stderr}");
}

/// A call held back by a shared rate budget that the rest of the fleet has spent (here, a 429
/// another process told the budget of) says so on a terminal, where it looked hung for up to
/// a minute, and then goes; stderr that is not a terminal gets no such line.
#[cfg(target_os = "linux")]
#[test]
fn a_wait_for_the_shared_rate_budget_is_said_on_a_terminal() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let s = setup();
    let url = redis.url();
    let budget = ["--rate-budget-redis", &url, "--rate-budget-org", "org_held"];

    // Held for 4 s from now: however long the command takes to start on a busy machine (up
    // to 3 s), it finds a wait of a second or more left, and says it.
    redis.hold("org_held", "default", 4_000);
    let mut command = s.process();
    command.args(budget).args(SEARCH_ONE);
    let started = Instant::now();
    let (output, terminal) = with_stderr_on_a_terminal(command);
    assert!(output.status.success(), "{terminal}");
    assert!(
        started.elapsed() >= Duration::from_millis(3_500),
        "the call waited for the budget: {:?}",
        started.elapsed()
    );
    assert_eq!(
        stdout_json(&output)["features"].as_array().map(Vec::len),
        Some(1)
    );
    let said = terminal.strip_prefix("Waiting ").and_then(|rest| {
        rest.split_once(" s for the shared rate budget before catalog.search; Ctrl-C stops\r\n")
    });
    assert!(
        matches!(said, Some(("1" | "2" | "3" | "4", ""))),
        "one line, with the wait in whole seconds: {terminal:?}"
    );

    redis.hold("org_held", "default", 1_500);
    let output = s
        .cli()
        .args(budget)
        .args(SEARCH_ONE)
        .output()
        .expect("geopera runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", text(&output.stderr));
}

/// What has been written to the terminal whose controlling side is `controller` (made
/// non-blocking), added to `seen`, waiting up to 10 s for `until` to appear when given.
#[cfg(target_os = "linux")]
fn read_terminal(controller: &mut std::fs::File, seen: &mut String, until: Option<&str>) {
    use std::io::Read as _;
    let started = Instant::now();
    loop {
        let mut chunk = [0u8; 4096];
        match controller.read(&mut chunk) {
            Ok(n) if n > 0 => {
                seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
                continue;
            }
            _ => {}
        }
        match until {
            Some(text) if !seen.contains(text) => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no {text:?} on the terminal in 10 s: {seen:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => return,
        }
    }
}

/// Whether the terminal at `terminal` echoes what is typed.
#[cfg(target_os = "linux")]
fn echoes(terminal: &std::fs::File) -> bool {
    use rustix::termios::{tcgetattr, LocalModes};
    tcgetattr(terminal)
        .expect("terminal settings")
        .local_modes
        .contains(LocalModes::ECHO)
}

/// `login --api-key -` at a terminal asks for the key and does not show it as it is typed,
/// as `ssh` and `sudo` do not show a password; the echo is back once the key is read, and
/// after Ctrl-C at the prompt, where the error starts a line of its own.
#[cfg(target_os = "linux")]
#[test]
fn an_api_key_typed_at_a_terminal_is_asked_for_and_not_shown() {
    use std::io::Write as _;
    let s = setup();
    let key = s.emulator.api_key().to_owned();
    let (mut controller, path) = pseudo_terminal();
    rustix::fs::fcntl_setfl(&controller, rustix::fs::OFlags::NONBLOCK).expect("non-blocking");
    // Held by the test as well, so that the terminal outlives each command and its settings
    // can be read after it ended.
    let terminal = open_terminal(&path);
    assert!(echoes(&terminal));
    let spawn = || {
        let mut command = s.process();
        command
            .env_remove("GEOPERA_API_TOKEN")
            .args(["login", "--api-key", "-"])
            .stdin(open_terminal(&path))
            .stderr(open_terminal(&path));
        command.spawn().expect("geopera runs")
    };

    let child = spawn();
    let mut seen = String::new();
    read_terminal(&mut controller, &mut seen, Some("API key: "));
    assert!(!echoes(&terminal), "the echo is off while the key is typed");
    controller
        .write_all(format!("{key}\n").as_bytes())
        .expect("typing the key");
    let output = child.wait_with_output().expect("geopera ends");
    read_terminal(&mut controller, &mut seen, None);
    assert!(output.status.success(), "{seen:?}");
    assert!(
        text(&output.stdout).starts_with("Logged in as "),
        "{output:?}"
    );
    assert!(!seen.contains(&key), "the key was shown: {seen:?}");
    assert_eq!(
        seen, "API key: \r\n",
        "only the prompt and the echoed Enter"
    );
    assert!(echoes(&terminal), "the echo is back after the key");
    assert_eq!(s.credentials()["default"]["auth"]["api_key"], key.as_str());

    let mut child = spawn();
    let mut seen = String::new();
    read_terminal(&mut controller, &mut seen, Some("API key: "));
    assert!(!echoes(&terminal));
    let status = interrupt(&mut child);
    read_terminal(&mut controller, &mut seen, None);
    assert_eq!(status.code(), Some(130), "{seen:?}");
    assert!(echoes(&terminal), "the echo is back after Ctrl-C");
    assert!(seen.starts_with("API key: \r\n"), "{seen:?}");
    assert!(seen.contains("interrupted"), "{seen:?}");
}
