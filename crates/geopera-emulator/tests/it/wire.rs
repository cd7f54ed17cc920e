//! Routing, authentication, scopes, validation and the error shapes.

use geopera_emulator::{Emulator, RateLimits};
use geopera_types::validate::validate;
use serde_json::json;

use crate::common::{client, Api};

#[test]
fn unknown_operation_is_404_problem() {
    let api = Api::start();
    let resp = api.call("no.such.op", json!({}));
    assert_eq!(resp.status, 404);
    assert_eq!(resp.content_type(), "application/problem+json");
    let body = resp.json();
    assert_eq!(body["status"], 404);
    assert_eq!(body["type"], "about:blank");
    assert!(body["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("no.such.op"));
}

#[test]
fn other_methods_are_405_with_allow() {
    let api = Api::start();
    let resp = api
        .http
        .get(api.url("catalog.search"))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
}

#[test]
fn missing_or_unknown_credentials_are_401_unauthenticated() {
    let api = Api::start();
    let body = json!({"host_name": "earthsearch-aws"});
    for headers in [
        vec![],
        vec![("authorization", "Bearer gpra_not_a_key")],
        vec![("x-api-key", "gpra_not_a_key")],
    ] {
        let resp = api.call_with("catalog.search", &body, &headers);
        assert_eq!(resp.status, 401, "{headers:?}");
        assert_eq!(resp.content_type(), "application/problem+json");
        assert_eq!(resp.json()["title"], "Unauthenticated");
    }
}

#[test]
fn bearer_wins_over_x_api_key() {
    let api = Api::start();
    let key = api.emu.api_key().to_owned();
    let body = json!({"host_name": "earthsearch-aws", "limit": 1});
    let good_bearer = format!("Bearer {key}");
    let resp = api.call_with(
        "catalog.search",
        &body,
        &[("authorization", &good_bearer), ("x-api-key", "gpra_wrong")],
    );
    assert_eq!(resp.status, 200);
    let resp = api.call_with(
        "catalog.search",
        &body,
        &[("authorization", "Bearer gpra_wrong"), ("x-api-key", &key)],
    );
    assert_eq!(resp.status, 401);
    let resp = api.call_with("catalog.search", &body, &[("x-api-key", &key)]);
    assert_eq!(resp.status, 200);
    let session = api.emu.session_token().to_owned();
    assert_eq!(api.call_as(&session, "catalog.search", body).status, 200);
}

#[test]
fn scopes_match_exactly_by_resource_by_action_or_all() {
    let api = Api::start();
    let order_list = json!({});
    let cases: &[(&[&str], &str, u16)] = &[
        (&["catalog:read"], "catalog.search", 200),
        (&["catalog:read"], "orders.list", 403),
        (&["orders:*"], "orders.list", 200),
        (&["orders:*"], "catalog.search", 403),
        (&["*:read"], "orders.list", 200),
        (&["*:read"], "catalog.search", 200),
        (&["*:read"], "billing.topup", 403),
        (&["*"], "billing.credits.balance", 200),
        (&[], "billing.credits.balance", 403),
    ];
    for (scopes, op, expected) in cases {
        let key = api.emu.create_key(scopes);
        let body = if *op == "catalog.search" {
            json!({"host_name": "earthsearch-aws", "limit": 1})
        } else if *op == "billing.topup" {
            json!({"amount_aud": 10})
        } else {
            order_list.clone()
        };
        let resp = api.call_as(&key, op, body);
        assert_eq!(
            resp.status, *expected,
            "{scopes:?} calling {op}: {:?}",
            resp.body
        );
        if *expected == 403 {
            let scope = geopera_types::operations::find(op).expect("known").scope;
            assert_eq!(
                resp.json()["detail"],
                format!("missing scope '{scope}' for '{op}'")
            );
        }
    }
}

#[test]
fn pipeline_order_is_auth_then_limit_then_scope_then_validation() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits::uniform(1)));
    let invalid = json!({"limit": "many"});
    // 401 before 422.
    assert_eq!(api.call_with("catalog.search", &invalid, &[]).status, 401);
    // 403 before 422.
    let key = api.emu.create_key(&["orders:read"]);
    assert_eq!(
        api.call_as(&key, "catalog.search", invalid.clone()).status,
        403
    );
    // The window's single call is spent: now 429 comes before 403.
    assert_eq!(api.call_as(&key, "catalog.search", invalid).status, 429);
}

#[test]
fn validation_lists_every_error_as_422_json() {
    let api = Api::start();
    let resp = api.call(
        "catalog.search",
        json!({"limit": 0, "bbox": "x", "ids": [1]}),
    );
    assert_eq!(resp.status, 422);
    assert_eq!(resp.content_type(), "application/json");
    let detail = resp.json()["detail"].clone();
    let found: Vec<(String, String)> = detail
        .as_array()
        .expect("list")
        .iter()
        .map(|error| {
            (
                error["loc"].to_string(),
                error["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        (r#"["body","limit"]"#, "greater_than_equal"),
        (r#"["body","bbox"]"#, "list_type"),
        (r#"["body","ids",0]"#, "string_type"),
        (r#"["body","host_name"]"#, "missing"),
    ] {
        assert!(
            found
                .iter()
                .any(|(loc, kind)| loc == expected.0 && kind == expected.1),
            "{expected:?} not in {found:?}"
        );
    }
}

#[test]
fn date_time_fields_must_be_rfc3339() {
    let api = Api::start();
    let project = api.call("projects.create", json!({"name": "dates"})).json()["id"].clone();
    let collection = api
        .call(
            "collections.create",
            json!({"project_id": project, "name": "dates"}),
        )
        .json()["id"]
        .clone();
    let link = |expires_at: &str| {
        json!({"target_type": "collection", "target_id": collection, "password": "correct horse",
               "expires_at": expires_at})
    };
    let resp = api.call("share.link.create", link(""));
    assert_eq!(resp.status, 422);
    let detail = resp.json()["detail"].clone();
    assert_eq!(detail[0]["loc"], json!(["body", "expires_at"]));
    assert_eq!(detail[0]["type"], "datetime_parsing");
    assert_eq!(
        api.call("share.link.create", link("2024-01-01T12:99:00Z"))
            .status,
        422
    );
    assert_eq!(
        api.call("share.link.create", link("2025-06-01T12:00:00.5+10:00"))
            .status,
        200
    );
}

/// A date-time field sent no string is answered as the API's pydantic (2.14.4) answers it:
/// a datetime was expected, not a string.
#[test]
fn a_date_time_field_given_no_string_is_datetime_type() {
    let api = Api::start();
    for expires_at in [json!(null), json!(true), json!({})] {
        let resp = api.call(
            "share.link.create",
            json!({"target_type": "collection", "target_id": "c", "password": "correct horse",
                   "expires_at": expires_at}),
        );
        assert_eq!(resp.status, 422, "{expires_at}");
        let detail = resp.json()["detail"].clone();
        assert_eq!(detail.as_array().map(Vec::len), Some(1), "{detail}");
        assert_eq!(detail[0]["loc"], json!(["body", "expires_at"]));
        assert_eq!(detail[0]["type"], "datetime_type");
        assert_eq!(detail[0]["msg"], "Input should be a valid datetime");
        assert_eq!(detail[0]["input"], expires_at);
    }
}

#[test]
fn large_integral_floats_are_read_exactly() {
    let api = Api::start();
    // The nearest double to this text is integral; a parser off by one unit in the last
    // place reads 4435267417386801.5 and refuses it as a fractional integer. A page number
    // takes it (past every order, the page is empty) and is answered back.
    let resp = api
        .http
        .post(api.url("orders.list"))
        .bearer_auth(api.emu.api_key())
        .header("content-type", "application/json")
        .body(r#"{"page": 4435267417386802.0}"#)
        .send()
        .expect("request completes");
    let resp = crate::common::Resp::read(resp).expect("answer read");
    assert_eq!(
        resp.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(resp.json()["page"], 4_435_267_417_386_802_i64);
}

/// An integer the contract allows but an `i64` cannot hold is refused at its field, not
/// pinned to `i64::MAX` and answered or stored as a number the caller never sent. The API
/// takes such an integer when it is written out in full; a float beyond ±2^63 it refuses
/// itself, as pydantic answers `int_parsing_size` for it, paging number or not.
#[test]
fn integers_beyond_i64_are_422_at_their_field_and_nothing_is_stored_but_paging_numbers() {
    let api = Api::start();
    let post = |op: &str, body: String| {
        let resp = api
            .http
            .post(api.url(op))
            .bearer_auth(api.emu.api_key())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("request completes");
        crate::common::Resp::read(resp).expect("answer read")
    };
    let keys = || api.ok("api_keys.list", serde_json::json!({}))["total"].clone();
    let before = keys();
    for (days, kind) in [
        ("18446744073709551615", "less_than_equal"),
        ("1e30", "int_parsing_size"),
        ("-1e20", "int_parsing_size"),
        ("9.3e18", "int_parsing_size"),
        ("9223372036854775807.0", "int_parsing_size"),
    ] {
        let resp = post(
            "api_keys.create",
            format!(r#"{{"name": "k", "expires_in_days": {days}}}"#),
        );
        assert_eq!(resp.status, 422, "{days}: {:?}", resp.body);
        let detail = resp.json()["detail"].clone();
        assert_eq!(detail.as_array().map(Vec::len), Some(1), "{days}: {detail}");
        assert_eq!(
            detail[0]["loc"],
            serde_json::json!(["body", "expires_in_days"]),
            "{days}"
        );
        assert_eq!(detail[0]["type"], kind, "{days}");
    }
    assert_eq!(keys(), before, "no key was minted");
    // A paging number written out that large is a position past every item, read as the
    // largest that fits rather than refused; as a float it is pydantic's 422 like any other.
    let far = post(
        "orders.list",
        r#"{"page": 18446744073709551615, "size": 5}"#.to_owned(),
    );
    assert_eq!(far.status, 200, "{:?}", far.body);
    let far = post("orders.list", r#"{"page": 1e30, "size": 5}"#.to_owned());
    assert_eq!(far.status, 422, "{:?}", far.body);
    assert_eq!(far.json()["detail"][0]["type"], "int_parsing_size");
    assert_eq!(
        far.json()["detail"][0]["loc"],
        serde_json::json!(["body", "page"])
    );

    let rule = r#"{"name": "n", "expression": "cloud_cover", "comparison": "gt",
        "threshold": 1.0, "band_mapping": {"red": 3, "nir": 18446744073709551615}}"#;
    let resp = post("alerts.create_rule", rule.to_owned());
    assert_eq!(resp.status, 422, "{:?}", resp.body);
    assert_eq!(
        resp.json()["detail"][0]["loc"],
        serde_json::json!(["body", "band_mapping", "nir"])
    );
    let rules = api.ok("alerts.rules.list", serde_json::json!({}));
    assert_eq!(rules["total"], 0, "{rules}");
}

/// A 422 quotes what failed, but never a credential the body carries (a share link's token
/// and password, a subscription's delivery headers, a tile key): a failure inside one quotes
/// nothing, and a quoted body leaves them out while keeping its other members.
#[test]
fn a_422_quotes_no_credential_of_the_body() {
    let api = Api::start();
    let cases = [
        ("share.link.validate", r#"{"password": "SECRET-1"}"#),
        (
            "share.link.create",
            r#"{"password": "SECRET-2", "target_id": 7}"#,
        ),
        (
            "share.tile.render",
            r#"{"token": "SECRET-3", "password": "SECRET-4"}"#,
        ),
        ("share.tilejson", r#"{"token": "SECRET-5", "password": 5}"#),
        (
            "event_subscriptions.create",
            r#"{"endpoint_url": "https://example.com/h", "headers": {"Authorization": "Bearer SECRET-6"}}"#,
        ),
        (
            "event_subscriptions.update",
            r#"{"headers": {"Authorization": ["SECRET-7"]}}"#,
        ),
        ("items.tile.wmts_capabilities", r#"{"key": "SECRET-8"}"#),
        (
            "items.tile.wmts_capabilities",
            r#"{"key": {"SECRET-9": 100000000000000000000}}"#,
        ),
    ];
    for (op, body) in cases {
        let answer = api.call_text(op, body);
        assert_eq!(answer.status, 422, "{op}: {:?}", answer.body);
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(!text.contains("SECRET"), "{op}: {text}");
    }
    // What is not a credential is still quoted.
    let answer = api.call_text(
        "share.link.create",
        r#"{"password": "SECRET", "target_id": 7}"#,
    );
    let detail = answer.json()["detail"].clone();
    let quoted: Vec<_> = detail
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|error| error.get("input"))
        .collect();
    assert!(quoted.contains(&&json!(7)), "{detail}");
}

/// pydantic echoes an integer beyond 64 bits in a 422's `input` as the client wrote it, alone
/// or inside the object a missing member is missing from; never as the float `1e+20`.
#[test]
fn a_422_echoes_an_integer_beyond_64_bits_as_written() {
    let api = Api::start();
    let post = |body: &str| api.call_text("api_keys.create", body);
    // Past the field's own bound (`limit` is at most 500).
    let bounded = api.call_text(
        "catalog.search",
        r#"{"host_name": "earthsearch-aws", "limit": 100000000000000000000}"#,
    );
    assert_eq!(bounded.status, 422, "{:?}", bounded.body);
    let text = String::from_utf8_lossy(&bounded.body).into_owned();
    assert!(text.contains(r#""input":100000000000000000000"#), "{text}");
    // Within the field's bounds, past what the emulator holds.
    let alone = post(r#"{"name": "k", "expires_in_days": 100000000000000000000}"#);
    assert_eq!(alone.status, 422, "{:?}", alone.body);
    let text = String::from_utf8_lossy(&alone.body).into_owned();
    assert!(text.contains(r#""input":100000000000000000000"#), "{text}");
    assert!(
        !text.contains("e+20") && !text.contains("input as written"),
        "{text}"
    );
    assert_eq!(
        alone.json()["detail"][0]["loc"],
        json!(["body", "expires_in_days"])
    );

    let within = post(r#"{"expires_in_days": -100000000000000000000, "tags": ["a"]}"#);
    assert_eq!(within.status, 422, "{:?}", within.body);
    let text = String::from_utf8_lossy(&within.body).into_owned();
    assert!(
        text.contains(r#""input":{"expires_in_days":-100000000000000000000"#),
        "the object missing a member quotes it as written: {text}"
    );
    assert!(text.contains(r#""input":-100000000000000000000"#), "{text}");
}

/// serde_json reads an integer written beyond 64 bits (`100000000000000000000`) as the float
/// `1e20`, which pydantic refuses with int_parsing_size; the API reads the integer itself, of
/// any size. So such an integer is what a literal of 64 bits past a bound is: a paging
/// number read as the bound it crossed, another checked against its field's bounds and then
/// refused at its field as no `i64`, never int_parsing_size nor stored as another number.
#[test]
fn integers_written_out_beyond_64_bits_are_read_as_integers_not_floats() {
    let api = Api::start();
    let post = |op: &str, body: &str| api.call_text(op, body);
    let far = post(
        "orders.list",
        r#"{"page": 100000000000000000000, "size": -100000000000000000000}"#,
    );
    assert_eq!(far.status, 200, "{:?}", far.body);
    assert_eq!(
        (far.json()["content"].clone(), far.json()["size"].clone()),
        (json!([]), json!(1))
    );

    let keys = || api.ok("api_keys.list", json!({}))["total"].clone();
    let before = keys();
    for (days, kind) in [
        ("100000000000000000000", "less_than_equal"),
        ("-100000000000000000000", "greater_than"),
        ("-9223372036854775809", "greater_than"),
    ] {
        let resp = post(
            "api_keys.create",
            &format!(r#"{{"name": "k", "expires_in_days": {days}}}"#),
        );
        assert_eq!(resp.status, 422, "{days}: {:?}", resp.body);
        let detail = resp.json()["detail"].clone();
        assert_eq!(detail.as_array().map(Vec::len), Some(1), "{days}: {detail}");
        assert_eq!(
            detail[0]["loc"],
            json!(["body", "expires_in_days"]),
            "{days}"
        );
        assert_eq!(detail[0]["type"], kind, "{days}");
    }
    assert_eq!(keys(), before, "no key was minted");

    // -2^63 - 1 reads as the float -2^63, which an `i64` holds: refused, not stored as it.
    let rule = r#"{"name": "n", "expression": "cloud_cover", "comparison": "gt",
        "threshold": 1.0, "band_mapping": {"red": 3, "nir": -9223372036854775809}}"#;
    let resp = post("alerts.create_rule", rule);
    assert_eq!(resp.status, 422, "{:?}", resp.body);
    let detail = resp.json()["detail"][0].clone();
    assert_eq!(detail["loc"], json!(["body", "band_mapping", "nir"]));
    assert_eq!(detail["type"], "greater_than_equal");
    assert_eq!(api.ok("alerts.rules.list", json!({}))["total"], 0);
}

#[test]
fn malformed_json_and_wrong_content_type_are_422() {
    let api = Api::start();
    let key = api.emu.api_key().to_owned();
    let resp = api
        .http
        .post(api.url("catalog.search"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"host_name\": ")
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 422);
    let body: serde_json::Value = resp.json().expect("json");
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    assert_eq!(body["detail"][0]["loc"][0], "body");

    let resp = api
        .http
        .post(api.url("catalog.search"))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("{\"host_name\": \"x\"}")
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 422);

    let resp = api
        .http
        .post(api.url("catalog.search"))
        .bearer_auth(&key)
        .send()
        .expect("request");
    assert_eq!(
        resp.status().as_u16(),
        422,
        "a required body that is missing"
    );
}

#[test]
fn webhooks_drain_needs_no_credentials() {
    let api = Api::start();
    let resp = api.call_with("webhooks.drain", &json!({}), &[]);
    assert_eq!(resp.status, 200);
}

#[test]
fn every_operation_answers_with_its_documented_shape() {
    let api = Api::start();
    let mut ok = 0;
    let mut refused = Vec::new();
    for op in geopera_types::operations::ALL {
        let mut body = geopera_types::sample::sample(op.input, 1);
        // An organization named in a body is the caller's: another one is 404 everywhere.
        if let Some(org) = body.get_mut("organization_id") {
            *org = json!("org_demo");
        }
        // The places a sample operation is given keep the rules of the searches' and items',
        // which a sampled array of numbers or object does not.
        match op.id {
            "catalog.granule_points" => {
                body["bbox"] = json!([0.0, 0.0, 1.0, 1.0]);
                body["clip_polygon"] = serde_json::Value::Null;
            }
            "cog.statistics" => body["geometry"] = json!({"type": "Point", "coordinates": [1, 1]}),
            _ => {}
        }
        // Approving a credit purchase is for a person signed in, not a key.
        let resp = if op.id == "billing.approvals.approve" {
            api.call_as(api.emu.session_token(), op.id, body)
        } else {
            api.call(op.id, body)
        };
        assert!(
            resp.status < 500 && resp.status != 401 && resp.status != 403,
            "{}: {} {:?}",
            op.id,
            resp.status,
            resp.body
        );
        assert!(
            resp.status == op.success_status || matches!(resp.status, 404 | 409 | 422),
            "{}: {} {:?}",
            op.id,
            resp.status,
            resp.body
        );
        if resp.status == op.success_status {
            ok += 1;
            // NDJSON streams, images and XML have no JSON shape to check.
            let content_type = resp.content_type();
            if content_type.contains("json") && !content_type.contains("ndjson") {
                let value = resp.json();
                let errors = validate(op.output, &value);
                assert!(errors.is_empty(), "{}: output {errors:?}", op.id);
            }
        } else {
            // Sampled bodies carry made-up ids, which stateful operations do not find, and
            // values no record allows; those answers must still be one of the API's errors.
            assert!(
                matches!(resp.status, 307 | 402 | 404 | 409 | 422),
                "{}: {}",
                op.id,
                resp.status
            );
            refused.push(op.id);
        }
    }
    assert_eq!(geopera_types::operations::ALL.len(), 227);
    // Sampled bodies carry made-up ids and values no record allows, so operations on kept
    // records answer 404/409/422 and their own tests cover their successes; an operation
    // that answers a sample must succeed on any valid body (its places on the globe, as set
    // above). The kinds come from the crate
    // docs' table, which a unit test keeps equal to the handlers.
    let table = include_str!("../../docs/operations.md");
    let samples: Vec<&str> = table
        .lines()
        .filter(|line| line.contains("| sample |"))
        .filter_map(|line| line.split('`').nth(1))
        .collect();
    assert!(!samples.is_empty(), "the table lists sample operations");
    let failed: Vec<&&str> = samples.iter().filter(|id| refused.contains(id)).collect();
    assert!(
        failed.is_empty(),
        "sample operations refused a valid body: {failed:?}"
    );
    assert!(ok >= samples.len(), "{ok} successes");
}

#[test]
fn quicklook_redirects_to_a_path_the_emulator_serves() {
    let api = Api::start();
    let found = api.call(
        "catalog.search",
        json!({"host_name": "earthsearch-aws", "limit": 1}),
    );
    let id = found.json()["features"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let resp = api.call(
        "catalog.image.quicklook",
        json!({"host_name": "earthsearch-aws", "image_id": id}),
    );
    assert_eq!(resp.status, 307);
    let location = resp.header("location").expect("location").to_owned();
    assert!(location.starts_with(&api.emu.base_url()));
    let following = reqwest::blocking::Client::new()
        .post(api.url("catalog.image.thumbnail"))
        .bearer_auth(api.emu.api_key())
        .json(&json!({"host_name": "earthsearch-aws", "image_id": id}))
        .send()
        .expect("redirect followed");
    assert_eq!(following.status().as_u16(), 200);
    assert_eq!(following.headers()["content-type"], "image/png");
    assert!(following.bytes().expect("bytes").starts_with(b"\x89PNG"));
}

#[test]
fn requests_are_recorded_with_headers_and_body() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .record_bodies(true),
    );
    api.call_with(
        "catalog.search",
        &json!({"host_name": "earthsearch-aws", "limit": 2}),
        &[("x-api-key", api.emu.api_key()), ("x-trace", "abc")],
    );
    let requests = api.emu.requests();
    let last = requests.last().expect("recorded");
    assert_eq!(last.operation_id.as_deref(), Some("catalog.search"));
    assert_eq!(last.method, "POST");
    assert_eq!(last.header("x-trace"), Some("abc"));
    assert_eq!(last.json().expect("json")["limit"], 2);
    assert_eq!(last.status, Some(200));
    assert_eq!(api.emu.executed("catalog.search"), 1);
}

#[test]
fn openapi_is_served_only_when_given() {
    let with = Emulator::builder()
        .spec(r#"{"openapi":"3.1.0"}"#)
        .start()
        .expect("start");
    let resp = client()
        .get(format!("{}/openapi.json", with.base_url()))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let without = Emulator::builder().start().expect("start");
    let resp = client()
        .get(format!("{}/openapi.json", without.base_url()))
        .send()
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
}

#[tokio::test]
async fn starts_from_async_code() {
    // The emulator runs on its own thread and runtime, so starting and dropping it inside
    // another runtime is fine.
    let emu = Emulator::builder().start().expect("start");
    let url = emu.base_url();
    let status = tokio::task::spawn_blocking(move || {
        client()
            .get(format!("{url}/v1/op/catalog.search"))
            .send()
            .map(|r| r.status().as_u16())
    })
    .await
    .expect("join")
    .expect("request");
    assert_eq!(status, 405);
}

#[test]
fn credential_values_are_never_recorded() {
    let api = Api::start();
    let key = api.emu.api_key().to_owned();
    let bearer = format!("Bearer {key}");
    api.call_with(
        "billing.credits.balance",
        &json!({}),
        &[("authorization", &bearer), ("x-api-key", "gpra_second")],
    );
    let requests = api.emu.requests();
    let last = requests.last().expect("recorded");
    assert_eq!(last.header("authorization"), Some("Bearer [redacted]"));
    assert_eq!(last.header("x-api-key"), Some("[redacted]"));
    assert!(last.header_is("authorization", &bearer));
    assert!(last.header_is("x-api-key", "gpra_second"));
    assert!(!last.header_is("x-api-key", &key));
    let shown = format!("{requests:?}");
    assert!(!shown.contains(&key) && !shown.contains("gpra_second"));
}

#[test]
fn bodies_are_recorded_only_when_asked_for() {
    let api = Api::start();
    api.call("billing.credits.balance", json!({"note": "kept?"}));
    let last = api.emu.requests().pop().expect("recorded");
    assert_eq!(
        last.operation_id.as_deref(),
        Some("billing.credits.balance")
    );
    assert!(last.body.is_empty());
    assert_eq!(last.json(), None);
}

#[test]
fn the_request_log_stays_within_its_byte_budget() {
    const BUDGET: usize = 1024 * 1024;
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .record_bodies(true)
            .record_budget(BUDGET),
    );
    let padding = "x".repeat(300_000);
    for n in 0..10 {
        // Invalid, so each is read, refused, and recorded all the same.
        let resp = api.call("catalog.search", json!({"pad": padding, "n": n}));
        assert_eq!(resp.status, 422);
    }
    let requests = api.emu.requests();
    let held: usize = requests.iter().map(|r| r.body.len()).sum();
    assert!(held <= BUDGET, "{held} bytes of bodies held");
    assert!((1..10).contains(&requests.len()), "{}", requests.len());
    let last = requests.last().expect("the newest is kept").json();
    let last = last.expect("body kept");
    assert_eq!(last["n"], 9);
    assert_eq!(last["pad"].as_str().map(str::len), Some(300_000));

    // A body larger than the whole budget is dropped; the request itself is still listed.
    let huge = "y".repeat(BUDGET + 1);
    assert_eq!(api.call("catalog.search", json!({"pad": huge})).status, 422);
    let last = api.emu.requests().pop().expect("recorded");
    assert_eq!(last.status, Some(422));
    assert!(last.body.is_empty());

    // A request refused before its body is needed is recorded without it.
    let resp = api.call_with("no.such.op", &json!({"pad": "z"}), &[]);
    assert_eq!(resp.status, 404);
    let last = api.emu.requests().pop().expect("recorded");
    assert_eq!(last.operation_id.as_deref(), Some("no.such.op"));
    assert!(last.body.is_empty());
}

fn assert_problem(resp: &crate::common::Resp, status: u16) -> serde_json::Value {
    assert_eq!(resp.status, status, "{:?}", resp.body);
    assert_eq!(resp.content_type(), "application/problem+json");
    let body = resp.json();
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], "about:blank");
    body
}

fn send(request: reqwest::blocking::RequestBuilder) -> crate::common::Resp {
    let response = request.send().expect("answered");
    crate::common::Resp {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().expect("body"),
    }
}

#[test]
fn a_body_over_the_limit_is_413_problem_json() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .body_limit(1024),
    );
    let fits = json!({"note": "x".repeat(900)});
    assert_eq!(api.call("billing.credits.balance", fits).status, 200);
    let resp = api.call("billing.credits.balance", json!({"note": "x".repeat(4096)}));
    let body = assert_problem(&resp, 413);
    assert!(
        body["detail"].as_str().unwrap_or_default().contains("1024"),
        "{body}"
    );
    let recorded = api.emu.requests().pop().expect("recorded");
    assert_eq!(recorded.status, Some(413));
    assert_eq!(api.emu.executed("billing.credits.balance"), 1);
}

/// Writes `request` as it is on a connection of its own and reads until the emulator closes
/// it (5 s at most), lower-cased.
fn raw_exchange(api: &Api, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(api.emu.addr()).expect("connects");
    stream.write_all(request.as_bytes()).expect("sent");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).to_lowercase()
}

#[test]
fn broken_chunked_framing_is_400_problem_json() {
    let api = Api::start();
    let request = format!(
        "POST /v1/op/billing.credits.balance HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         authorization: Bearer {}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
        api.emu.api_key()
    );
    let answer = raw_exchange(&api, &request);
    assert!(answer.starts_with("http/1.1 400"), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("\"status\":400"), "{answer}");
    assert_eq!(api.emu.executed("billing.credits.balance"), 0);
}

#[test]
fn a_bad_path_segment_is_400_problem_json() {
    let api = Api::start();
    let base = api.emu.base_url();
    let resp = send(
        api.http
            .post(format!("{base}/v1/op/%FF"))
            .bearer_auth(api.emu.api_key())
            .json(&json!({})),
    );
    assert_problem(&resp, 400);
    let resp = send(api.http.get(format!("{base}/assets/quicklook/%FF.png")));
    assert_problem(&resp, 400);
}

#[test]
fn a_method_a_route_does_not_answer_is_405_problem_json() {
    let api = Api::start();
    let resp = send(
        api.http
            .post(format!("{}/openapi.json", api.emu.base_url())),
    );
    assert_problem(&resp, 405);
    assert_eq!(resp.header("allow"), Some("GET,HEAD"));
    let resp = send(api.http.delete(format!("{}/nowhere", api.emu.base_url())));
    assert_problem(&resp, 404);
}

/// The asset route answers GET and HEAD, and POST, which a client following the 307 of
/// `catalog.image.quicklook` repeats there; it once answered every method, so a `DELETE` of
/// an asset looked as if it had worked. The others are 405 with `Allow`, as on other routes.
#[test]
fn the_asset_route_answers_get_head_and_post_and_other_methods_405() {
    let api = Api::start();
    let url = format!("{}/assets/quicklook/scene.png", api.emu.base_url());
    for method in ["GET", "HEAD", "POST"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = send(api.http.request(method.clone(), &url));
        assert_eq!(resp.status, 200, "{method}");
        assert_eq!(resp.content_type(), "image/png", "{method}");
    }
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = send(api.http.request(method.clone(), &url));
        assert_problem(&resp, 405);
        assert_eq!(resp.header("allow"), Some("GET,HEAD,POST"), "{method}");
    }
}

/// The binary's access log names the operation from the request's path, decoded; an unknown
/// id with a line break and a terminal escape in it once wrote a forged second line and a
/// title-setting escape into the log. Each request is one line without control characters.
#[test]
fn an_unknown_operation_id_is_logged_escaped_on_one_line() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let mut emulator = Command::new(env!("CARGO_BIN_EXE_geopera-emulator"))
        .args(["--addr", "127.0.0.1:0", "--rate-limits", "off"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator binary starts");
    let mut lines = BufReader::new(emulator.stdout.take().expect("its output")).lines();
    let base_url = lines
        .by_ref()
        .map_while(Result::ok)
        .take(20)
        .take_while(|line| !line.starts_with("Press Ctrl-C"))
        .find_map(|line| {
            line.split_once("listening on ")
                .map(|(_, url)| url.trim().to_owned())
        })
        .expect("the banner names the address");
    // The log comes after the banner; a thread reads it so the wait below is bounded.
    let (sender, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });

    let http = client();
    let hostile = format!("{base_url}/v1/op/nope%0D%0AFORGED%20LINE%1B%5D0;pwned%07");
    let long = format!("{base_url}/v1/op/{}", "x".repeat(5_000));
    let known = format!("{base_url}/v1/op/catalog.search");
    for url in [&hostile, &long, &known] {
        let resp = http.post(url).json(&json!({})).send().expect("answered");
        assert_ne!(resp.status().as_u16(), 200, "{url}");
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|line: &&String| line.contains("elapsed_ms"))
        .count()
        < 3
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let _ = emulator.kill();
    let _ = emulator.wait();

    let requests: Vec<&String> = seen
        .iter()
        .filter(|line| line.contains("method="))
        .collect();
    assert_eq!(requests.len(), 3, "one line per request: {seen:?}");
    for line in &seen {
        assert!(
            !line.chars().any(char::is_control),
            "a control character in {line:?}"
        );
        assert!(!line.starts_with("FORGED"), "{seen:?}");
    }
    assert!(
        requests[0].contains(r"nope\r\nFORGED LINE\u{1b}]0;pwned\u{7}"),
        "{seen:?}"
    );
    assert!(
        requests[1].len() < 300,
        "an unknown id is cut short: {}",
        requests[1]
    );
    assert!(requests[2].contains("operation=catalog.search"), "{seen:?}");
}

/// Regression: the operations answering samples took any `bbox` or geometry, so a box off the
/// globe or a geometry that is no geometry was answered as if it were a place. They hold
/// them to the rules the searches and items keep now, with 422 at the field; an object
/// `bbox`, whose members the contract does not name, only when it names its edges.
#[test]
fn sample_operations_refuse_a_place_off_the_globe_at_its_field() {
    let api = Api::start();
    let point = |lon: f64, lat: f64| json!({"type": "Point", "coordinates": [lon, lat]});
    let square = |west: f64, east: f64| {
        json!({"type": "Polygon", "coordinates":
            [[[west, 0.0], [east, 0.0], [east, 1.0], [west, 1.0], [west, 0.0]]]})
    };
    let granule = |bbox: serde_json::Value, clip: serde_json::Value| {
        json!({"collection": "gedi-l2a", "href": "https://example.com/granule.h5",
               "bbox": bbox, "clip_polygon": clip})
    };
    let band_math = |bbox: serde_json::Value| {
        json!({"cog_url": "https://example.com/scene.tif", "formula": "(b1 - b2) / (b1 + b2)",
               "bbox": bbox, "sensor": "sentinel-2"})
    };
    let index = |bbox: serde_json::Value| {
        json!({"cog_url": "https://example.com/scene.tif", "index_name": "ndvi",
               "bbox": bbox, "sensor": "sentinel-2"})
    };
    let statistics = |geometry: serde_json::Value| json!({"url": "https://example.com/scene.tif", "geometry": geometry});
    let edges = |west: f64, south: f64, east: f64, north: f64| json!({"west": west, "south": south, "east": east, "north": north});
    let null = serde_json::Value::Null;
    let refused = [
        (
            "catalog.granule_points",
            granule(json!([0.0, 0.0, 200.0, 1.0]), null.clone()),
            "bbox",
        ),
        (
            "catalog.granule_points",
            granule(json!([0.0, 0.0, 1.0]), null.clone()),
            "bbox",
        ),
        (
            "catalog.granule_points",
            granule(json!([0.0, 10.0, 1.0, 5.0]), null.clone()),
            "bbox",
        ),
        (
            "catalog.granule_points",
            granule(json!([0.0, 0.0, 1.0, 1.0]), point(0.0, 0.0)),
            "clip_polygon",
        ),
        (
            "catalog.granule_points",
            granule(json!([0.0, 0.0, 1.0, 1.0]), square(0.0, 200.0)),
            "clip_polygon",
        ),
        (
            "analytics.band_math",
            band_math(edges(0.0, 0.0, 1.0, 95.0)),
            "bbox",
        ),
        (
            "analytics.band_math",
            band_math(json!({"west": 0.0})),
            "bbox",
        ),
        (
            "analytics.calculate_index",
            index(edges(-190.0, 0.0, 1.0, 1.0)),
            "bbox",
        ),
        (
            "analytics.calculate_index",
            index(json!({"west": "0", "south": 0, "east": 1, "north": 1})),
            "bbox",
        ),
        ("cog.statistics", statistics(point(0.0, 91.0)), "geometry"),
        ("cog.statistics", statistics(json!({})), "geometry"),
        (
            "cog.statistics",
            statistics(json!({"type": "Feature", "geometry": point(0.0, 0.0)})),
            "geometry",
        ),
    ];
    for (op, body, field) in refused {
        let answer = api.call(op, body.clone());
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        assert_eq!(answer.status, 422, "{op} {body}: {text}");
        let locs: Vec<serde_json::Value> = answer.json()["detail"]
            .as_array()
            .expect("detail")
            .iter()
            .map(|failure| failure["loc"].clone())
            .collect();
        assert_eq!(locs, vec![json!(["body", field])], "{op} {body}: {text}");
    }
    let accepted = [
        (
            "catalog.granule_points",
            granule(json!([0.0, 0.0, 1.0, 1.0]), null.clone()),
        ),
        (
            "catalog.granule_points",
            granule(json!([170.0, 0.0, -170.0, 1.0]), square(170.0, 180.0)),
        ),
        (
            "analytics.band_math",
            band_math(edges(170.0, -1.0, -170.0, 1.0)),
        ),
        ("analytics.band_math", band_math(json!({}))),
        ("analytics.band_math", band_math(json!({"minx": 500}))),
        (
            "analytics.calculate_index",
            index(edges(0.0, 0.0, 1.0, 1.0)),
        ),
        ("cog.statistics", statistics(point(1.0, 1.0))),
        ("cog.statistics", statistics(square(0.0, 1.0))),
    ];
    for (op, body) in accepted {
        let answer = api.call(op, body.clone());
        assert_eq!(
            answer.status,
            200,
            "{op} {body}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
}

/// An injected status that has no content (204, 205, 304) is answered with none and no length
/// of any: a `Content-Length` of the text other statuses carry left a client that trusts it
/// waiting for bytes that never came. Two requests on one connection show where the first
/// answer ends.
#[test]
fn an_injected_status_without_content_is_sent_without_a_body_or_its_length() {
    let api = Api::start();
    for code in [204, 205, 304] {
        let request = format!(
            "POST /v1/op/billing.credits.balance HTTP/1.1\r\nhost: 127.0.0.1\r\n\
             authorization: Bearer {}\r\ncontent-type: application/json\r\n\
             x-emulator-fault: status={code}\r\ncontent-length: 2\r\n\r\n{{}}",
            api.emu.api_key()
        );
        let second = format!(
            "POST /v1/op/billing.credits.balance HTTP/1.1\r\nhost: 127.0.0.1\r\n\
             authorization: Bearer {}\r\ncontent-type: application/json\r\n\
             connection: close\r\ncontent-length: 2\r\n\r\n{{}}",
            api.emu.api_key()
        );
        let answer = raw_exchange(&api, &format!("{request}{second}"));
        let (first, rest) = answer
            .split_once("\r\n\r\n")
            .expect("the first answer's head");
        assert!(first.starts_with(&format!("http/1.1 {code}")), "{answer}");
        let length = first
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map(str::trim);
        assert!(matches!(length, None | Some("0")), "{code}: {first}");
        if code == 204 {
            assert!(length.is_none(), "204 with a Content-Length: {first}");
        }
        assert!(
            rest.starts_with("http/1.1 200"),
            "{code}: the next answer follows at once: {answer}"
        );
    }
}
