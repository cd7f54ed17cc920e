//! The generator against a small contract of our own: its output is pinned file by file, it is
//! deterministic, and the types it writes compile (see `snapshot_compiles.rs`).
//!
//! After an intended change of the generated code, refresh the snapshots with
//! `UPDATE_SNAPSHOTS=1 cargo test -p geopera-codegen --test golden`.

use std::path::{Path, PathBuf};

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mini.json"),
    )
    .expect("the fixture is committed");
    serde_json::from_str(&text).expect("the fixture is valid JSON")
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/mini")
}

#[test]
fn output_matches_the_snapshots() {
    let output = geopera_codegen::generate(&fixture()).expect("the fixture generates");
    // Only `1`: a `0` or an empty value left in an environment must not turn the check off.
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|value| value == "1");
    let mut mismatched = Vec::new();
    for (part, files) in [("types", &output.types), ("sdk", &output.sdk)] {
        for (rel, text) in files {
            let path = snapshot_dir().join(part).join(rel);
            if update {
                std::fs::create_dir_all(path.parent().expect("has a parent")).expect("writable");
                std::fs::write(&path, text).expect("writable");
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                mismatched.push(path);
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "snapshots differ (UPDATE_SNAPSHOTS=1 to refresh): {mismatched:#?}"
    );
}

#[test]
fn output_is_deterministic() {
    let a = geopera_codegen::generate(&fixture()).expect("generates");
    let b = geopera_codegen::generate(&fixture()).expect("generates");
    assert_eq!(a.types, b.types);
    assert_eq!(a.sdk, b.sdk);
}

#[test]
fn the_fixture_exercises_the_naming_rules() {
    let output = geopera_codegen::generate(&fixture()).expect("generates");
    let start = &output.types["models/start_input.rs"];
    assert!(
        start.contains("pub r#type: String"),
        "reserved word escaped"
    );
    assert!(start.contains("pub r#match: Option<bool>"));
    assert!(
        start.contains("#[serde(rename = \"retryCount\""),
        "wire name kept"
    );
    assert!(
        start.contains("pub window: Option<String>"),
        "required but nullable"
    );
    assert!(
        output.types.contains_key("models/fleet_list_input.rs"),
        "qualified name shortened"
    );
    assert!(
        output.types["models/start_input_mode.rs"].contains("SafeMode"),
        "inline enum lifted"
    );
    assert!(
        output
            .sdk
            .contains_key("operations/fleet_tasks_runs_start.rs"),
        "4-segment id"
    );
    assert!(output.sdk["fluent.rs"].contains("pub fn runs(self) -> FleetTasksRunsApi<'a>"));
    let ops = &output.types["operations.rs"];
    assert!(ops.contains("declares_idempotency_key: true"));
    assert!(ops.contains("paging: Paging::Offset"));
    assert_eq!(output.counts, (4, 8));
}

#[test]
fn the_real_contract_has_227_operations_and_258_schemas() {
    let spec =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/geopera-openapi.json");
    let Ok(text) = std::fs::read_to_string(&spec) else {
        eprintln!(
            "no contract at {}; the committed tables are checked instead",
            spec.display()
        );
        assert_eq!(geopera_types::operations::ALL.len(), 227);
        assert_eq!(geopera_types::schemas::ALL.len(), 258);
        return;
    };
    let spec: serde_json::Value = serde_json::from_str(&text).expect("the contract is JSON");
    let paths = spec["paths"].as_object().expect("paths").len();
    let schemas = spec["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .len();
    assert_eq!((paths, schemas), (227, 258));
    assert_eq!(geopera_types::operations::ALL.len(), paths);
    assert_eq!(geopera_types::schemas::ALL.len(), schemas);
}

/// `find` searches the committed table by halves: sorted and without repeats, or some ids are
/// never found. Checked with or without the contract beside the project.
#[test]
fn the_operations_table_is_sorted_and_every_id_is_found() {
    let all = geopera_types::operations::ALL;
    assert!(
        all.windows(2).all(|pair| pair[0].id < pair[1].id),
        "ids are unique and sorted"
    );
    for info in all {
        let found = geopera_types::operations::find(info.id).expect("every id is found");
        assert!(std::ptr::eq(found, *info), "{}", info.id);
    }
}

#[test]
fn needs_credentials_follows_the_security_requirements() {
    let output = geopera_codegen::generate(&fixture()).expect("generates");
    let ops = &output.types["operations.rs"];
    let credentials_of = |stat: &str| {
        let start = ops.find(&format!("pub static {stat}:")).expect("declared");
        let rest = &ops[start..];
        rest[..rest.find("};").expect("ends")].contains("needs_credentials: true")
    };
    // `fleet.drop` says `security: []`; the others inherit the contract's bearer requirement.
    assert!(!credentials_of("FLEET_DROP"));
    assert!(credentials_of("FLEET_LIST"));
    assert!(credentials_of("FLEET_TASKS_RUNS_START"));
}

#[test]
fn only_an_ndjson_operation_is_marked_for_the_fluent_stream() {
    let output = geopera_codegen::generate(&fixture()).expect("generates");
    let marker = "impl crate::NdjsonOperation for geopera_types::operations::";
    let seal = "impl crate::ndjson::Sealed for geopera_types::operations::";
    for (module, ndjson) in [
        ("fleet_tail", true),
        ("fleet_drop", false),
        ("fleet_list", false),
        ("fleet_tasks_runs_start", false),
    ] {
        let text = &output.sdk[&format!("operations/{module}.rs")];
        assert_eq!(text.contains(marker), ndjson, "{module}");
        assert_eq!(text.contains(seal), ndjson, "{module}");
        assert_eq!(text.contains("pub fn stream("), ndjson, "{module}");
    }
    let ops = &output.types["operations.rs"];
    let start = ops.find("pub static FLEET_TAIL:").expect("declared");
    let rest = &ops[start..];
    assert!(rest[..rest.find("};").expect("ends")].contains("answers_ndjson: true"));
}

#[test]
fn a_contract_without_security_requirements_is_refused() {
    let mut spec = fixture();
    spec.as_object_mut().expect("object").remove("security");
    let error = geopera_codegen::generate(&spec).expect_err("no requirements to read");
    assert!(
        format!("{error:#}").contains("no security requirements"),
        "{error:#}"
    );
}

#[test]
fn in_the_committed_table_only_webhooks_drain_needs_no_credentials() {
    let anonymous: Vec<&str> = geopera_types::operations::ALL
        .iter()
        .filter(|info| !info.needs_credentials)
        .map(|info| info.id)
        .collect();
    assert_eq!(anonymous, ["webhooks.drain"]);
}
