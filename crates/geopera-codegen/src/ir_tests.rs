//! Unit tests of `ir.rs`.
use super::*;

/// An override applies only to the field it names, and only while the contract still
/// gives that field the type the override was written for.
#[test]
fn a_field_override_fails_loudly_when_the_contract_changes_the_type() {
    let strings = || Ty::Map(Box::new(Ty::Str));
    let overridden =
        field_type_override("CreateSubscriptionInput", "headers", strings()).expect("applies");
    assert_eq!(overridden, Ty::Named("DeliveryHeaders".to_owned()));
    assert!(is_field_type("DeliveryHeaders"));

    let untouched =
        field_type_override("CreateSubscriptionInput", "description", Ty::Str).expect("kept");
    assert_eq!(untouched, Ty::Str);

    let changed = field_type_override("CreateSubscriptionInput", "headers", Ty::Object)
        .expect_err("the contract's type changed");
    assert!(changed.to_string().contains("FIELD_TYPES"), "{changed}");
}

/// Pins what [`answers_raw`] reads from the real contract, so a contract change that adds,
/// renames or rewords a binary operation shows up here.
#[test]
fn the_contract_answers_raw_content_for_exactly_these_operations() {
    let expected = [
        "catalog.tile.render",
        "cog.thumbnail",
        "cog.tile.render",
        "cog.tile.terrain",
        "items.tile.render",
        "items.tile.wmts_capabilities",
        "items.tile.wmts_get_tile",
        "share.tile.render",
    ];
    let Some(spec) = real_contract() else {
        let committed: Vec<&str> = geopera_types::operations::ALL
            .iter()
            .filter(|info| info.answers_binary() && !info.answers_ndjson)
            .map(|info| info.id)
            .collect();
        assert_eq!(committed, expected);
        return;
    };
    let api = parse(&spec).expect("the contract parses");
    let binary: Vec<&str> = api
        .operations
        .iter()
        .filter(|op| op.binary)
        .map(|op| op.id.as_str())
        .collect();
    assert_eq!(binary, expected);
    for op in &api.operations {
        let chosen = OUTPUT_OVERRIDES.iter().find(|(id, _)| *id == op.id);
        let expected = chosen
            .map(|(_, ty)| *ty)
            .or((op.binary || op.ndjson).then_some(BINARY_OUTPUT));
        assert_eq!(op.output_override, expected, "{}", op.id);
    }
    for (id, _) in OUTPUT_OVERRIDES {
        let op = api.operations.iter().find(|op| op.id == *id);
        assert!(
            op.is_some_and(|op| !op.binary),
            "{id}: no such JSON operation"
        );
    }
}

#[test]
fn raw_answers_need_an_untyped_schema_and_no_word_of_json() {
    assert!(answers_raw("Render a tile", true));
    assert!(!answers_raw("Render a tile", false));
    assert!(!answers_raw("Resolve and redirect to a thumbnail", true));
    assert!(!answers_raw("Tile rendering info", true));
    assert!(!answers_raw("Statistics JSON or a rendered PNG", true));
    assert!(answers_raw("A GetTile request", true));
}

/// The contract's own statement of which operations answer NDJSON: the 200 content types
/// of the real contract, read here without the generator's help. Every operation it
/// declares `application/x-ndjson` for is flagged, and the ones [`NDJSON`] adds are those
/// the contract types as any JSON, which nothing in it contradicts.
#[test]
fn the_operations_answering_ndjson_are_what_the_contract_and_the_list_say() {
    let Some(spec) = real_contract() else {
        // What the tables made from the contract say: the listed operations among the
        // flagged ones, each read as bytes.
        for id in NDJSON {
            let info = geopera_types::operations::find(id).expect("a listed operation");
            assert!(info.answers_ndjson && info.answers_binary(), "{id}");
        }
        return;
    };
    let mut declared = Vec::new();
    let mut untyped = Vec::new();
    for methods in spec["paths"].as_object().expect("paths").values() {
        for op in methods.as_object().expect("methods").values() {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            let responses = op["responses"].as_object().expect("responses");
            for (status, response) in responses {
                if !status.starts_with('2') {
                    continue;
                }
                let content = response["content"].as_object();
                if content.is_some_and(|c| c.contains_key("application/x-ndjson")) {
                    declared.push(id.to_owned());
                }
                let schema = &response["content"]["application/json"]["schema"];
                if schema.as_object().is_some_and(serde_json::Map::is_empty) {
                    untyped.push(id.to_owned());
                }
            }
        }
    }
    let api = parse(&spec).expect("the contract parses");
    let flagged: Vec<&str> = api
        .operations
        .iter()
        .filter(|op| op.ndjson)
        .map(|op| op.id.as_str())
        .collect();
    let mut expected: Vec<String> = NDJSON.iter().map(|id| (*id).to_owned()).collect();
    expected.extend(declared);
    expected.sort();
    expected.dedup();
    assert_eq!(flagged, expected);
    for id in NDJSON {
        assert!(
            untyped.iter().any(|op| op == id),
            "{id}: the contract types its answer"
        );
    }
    for op in api.operations.iter().filter(|op| op.ndjson) {
        assert_eq!(op.output_override, Some(BINARY_OUTPUT), "{}", op.id);
    }
}

#[test]
fn an_answer_the_contract_declares_as_ndjson_is_flagged_and_read_as_bytes() {
    let spec = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1.0.0"},
        "paths": {"/v1/op/fleet.watch": {"post": {
            "operationId": "fleet.watch",
            "summary": "Watch the fleet",
            "x-required-scope": "fleet:read",
            "security": [{"HTTPBearer": []}],
            "responses": {"200": {
                "description": "Lines",
                "content": {"application/x-ndjson": {"schema": {}}}
            }}
        }}},
        "components": {"schemas": {}}
    });
    let api = parse(&spec).expect("the spec parses");
    let op = &api.operations[0];
    assert!(op.ndjson);
    assert_eq!(op.output_override, Some(BINARY_OUTPUT));
}

/// An NDJSON answer is read as bytes, so paging helpers generated over it (`pages`, `items`)
/// would find no items and no `next`: the generator refuses the operation, as it refuses a
/// paged binary answer.
#[test]
fn an_ndjson_answer_whose_input_pages_is_refused() {
    let spec = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1.0.0"},
        "paths": {"/v1/op/fleet.watch": {"post": {
            "operationId": "fleet.watch",
            "summary": "Watch the fleet",
            "x-required-scope": "fleet:read",
            "security": [{"HTTPBearer": []}],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/FleetWatchInput"}
            }}},
            "responses": {"200": {
                "description": "Lines",
                "content": {"application/x-ndjson": {"schema": {}}}
            }}
        }}},
        "components": {"schemas": {"FleetWatchInput": {
            "type": "object",
            "properties": {
                "limit": {"type": "integer"},
                "next": {"anyOf": [{"type": "string"}, {"type": "null"}]}
            }
        }}}
    });
    let error = parse(&spec).expect_err("a paged NDJSON answer is refused");
    let message = format!("{error:#}");
    assert!(message.contains("fleet.watch"), "{message}");
    assert!(
        message.contains("NDJSON answer cannot be paged"),
        "{message}"
    );
}

/// The real contract beside the repository, or `None` in a clone without it (its tests then
/// check the tables the generator made from it and the repository keeps, as the golden test
/// does): `cargo test` needs only the repository.
fn real_contract() -> Option<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/geopera-openapi.json"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("no contract at {path}; the committed tables are checked instead");
        return None;
    };
    Some(serde_json::from_str(&text).expect("the contract is JSON"))
}

/// A keyword no emitter reads fails the generation, naming it, rather than generate code
/// without what it says; the forms the emitters read pass.
#[test]
fn schemas_the_emitters_cannot_express_are_refused() {
    for (schema, named) in [
        (
            serde_json::json!({"type": ["string", "null"], "maxLength": 3}),
            "list of types",
        ),
        (
            serde_json::json!({"allOf": [{"$ref": "#/components/schemas/X"}]}),
            "allOf",
        ),
        (
            serde_json::json!({"type": "integer", "multipleOf": 5}),
            "multipleOf",
        ),
        (serde_json::json!({"type": "string", "const": "a"}), "const"),
        (
            serde_json::json!({"type": "array", "uniqueItems": true}),
            "uniqueItems",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}},
                "additionalProperties": false}),
            "additionalProperties",
        ),
        (
            serde_json::json!({"type": "number", "minimum": 0, "exclusiveMinimum": true}),
            "exclusiveMinimum",
        ),
        (
            serde_json::json!({"type": "string", "nullable": true}),
            "nullable",
        ),
        (
            serde_json::json!({"type": "string", "minLength": 8.0}),
            "minLength",
        ),
        (
            serde_json::json!({"type": "array", "items": {"type": "string"}, "maxItems": -1}),
            "maxItems",
        ),
        (
            serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "integer"}}),
            "additionalProperties",
        ),
    ] {
        let refused = value_type(&schema).expect_err("refused");
        assert!(refused.to_string().contains(named), "{schema}: {refused}");
        let refused = crate::emit_types::shape_in(&schema, "").expect_err("refused");
        assert!(refused.to_string().contains(named), "{schema}: {refused}");
    }
    for schema in [
        serde_json::json!({"type": "string", "maxLength": 3}),
        serde_json::json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
        serde_json::json!({"type": "number", "exclusiveMinimum": 0}),
        serde_json::json!({"type": "array", "prefixItems": [{"type": "number"}], "maxItems": 1}),
    ] {
        assert!(value_type(&schema).is_ok(), "{schema}");
        assert!(crate::emit_types::shape_in(&schema, "").is_ok(), "{schema}");
    }
}

/// What the refusals leave alone: `nullable: false` (says nothing), extra members of any type
/// (`{}`, as `true`) beside listed ones, and a map (no listed members) of typed values.
#[test]
fn schemas_near_the_refused_ones_are_taken() {
    for schema in [
        serde_json::json!({"type": "string", "nullable": false}),
        serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}},
            "additionalProperties": {}}),
        serde_json::json!({"type": "object", "properties": {},
            "additionalProperties": {"type": "string"}}),
    ] {
        assert!(refuse_unsupported(&schema).is_ok(), "{schema}");
    }
}

/// Extra members of any type (`additionalProperties: {}`) beside listed ones make the shape
/// open, as `true` does and as the struct keeps them: the input check took it for closed and
/// warned of members the contract allows.
#[test]
fn extra_members_of_any_type_open_the_shape() {
    for additional in [serde_json::json!({}), serde_json::json!(true)] {
        let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}},
            "additionalProperties": additional});
        let shape = crate::emit_types::shape_in(&schema, "").expect("a shape");
        assert!(shape.contains("open: true"), "{shape}");
    }
    let closed = serde_json::json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let shape = crate::emit_types::shape_in(&closed, "").expect("a shape");
    assert!(shape.contains("open: false"), "{shape}");
}
