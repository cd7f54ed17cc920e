//! Unit tests of `validate.rs`.
use super::*;

fn is_full_date(text: &str) -> bool {
    full_date_refused(text).is_none()
}

fn is_date_time(text: &str) -> bool {
    date_time_refused(text).is_none()
}

static EXPIRY: Shape = Shape::Object(ObjectRule {
    fields: &[
        Field {
            name: "expires_at",
            required: true,
            shape: Shape::String(StringRule {
                min_length: None,
                max_length: None,
                pattern: None,
                format: Some("date-time"),
            }),
        },
        Field {
            name: "until",
            required: false,
            shape: Shape::AnyOf(&[
                Shape::String(StringRule {
                    min_length: None,
                    max_length: None,
                    pattern: None,
                    format: Some("date"),
                }),
                Shape::Null,
            ]),
        },
    ],
    open: false,
});

#[test]
fn badly_formatted_dates_are_named_member_by_member() {
    assert!(validate(
        &EXPIRY,
        &json!({"expires_at": "2024-06-01T00:00:00Z", "until": null})
    )
    .is_empty());
    let errors = validate(&EXPIRY, &json!({"expires_at": "", "until": "tomorrow"}));
    let found: Vec<(String, &str)> = errors
        .iter()
        .map(|error| (format!("{error}"), error.r#type.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].0.starts_with("body.expires_at: "));
    assert_eq!(found[0].1, "datetime_parsing");
    assert!(found[1].0.starts_with("body.until: "));
    assert_eq!(found[1].1, "date_parsing");
    assert_eq!(errors[0].extra["input"], "");
}

#[test]
fn rfc3339_date_times_pass_and_others_fail() {
    for good in [
        "2024-06-01T12:00:00Z",
        "2024-02-29t23:59:59.123456z",
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59-23:59",
        "2024-06-01T12:00:00.1234567890123+23:59",
    ] {
        assert!(is_date_time(good), "{good}");
    }
    for bad in [
        "",
        "2024-01-01T12:99:00Z",
        "2023-02-29T00:00:00Z",
        "2024-06-01T24:00:00Z",
        "2024-06-01T12:00:00.Z",
        "2024-06-01T12:00:00+24:00",
        "2024-06-01T12:30:60Z",
        "２０２４-06-01T12:00:00Z",
    ] {
        assert!(!is_date_time(bad), "{bad}");
    }
    assert!(is_full_date("2000-02-29"));
    assert!(!is_full_date("1900-02-29"));
    assert!(!is_full_date("2024-13-01"));
}

/// The API's date-time parser reads more than RFC 3339; a body it takes must not be refused
/// before it is sent. Measured against pydantic 2.14.4 (lax, as FastAPI validates a body): each
/// of `accepted` passes, each of `refused` is a 422.
#[test]
fn date_times_the_api_reads_beyond_rfc3339_pass() {
    let accepted = [
        "2024-06-01",
        "2024-02-29",
        "2024-06-01T12:00:00",
        "2024-06-01t12:00:00",
        "2024-06-01 12:00:00Z",
        "2024-06-01_12:00:00",
        "2024-06-01T12:00",
        "2024-06-01 12:00",
        "2024-06-01T12:00Z",
        "2024-06-01T12:00+01:00",
        "2024-06-01T12:00:00+0100",
        "2024-06-01T12:00:00-2359",
        "2024-06-01T12:00:00,5Z",
        "2024-06-01T12:00:00.1234567",
    ];
    for text in accepted {
        assert!(is_date_time(text), "{text}");
        assert!(
            validate(&EXPIRY, &json!({ "expires_at": text })).is_empty(),
            "{text}"
        );
    }
    let refused = [
        "2024-06-01T12",
        "2024-06-01T1200",
        "2024-06-01x12:00:00",
        "2024-06-01T12:00:00 +01:00",
        "2024-06-01T12:00:00+2400",
        "2024-06-01T12:00:00+1",
        "2024-06-01T12:00:00UTC",
        "2024-06-01T12:00:00.",
        "2024-06-01T12:00:00Z ",
        "2024-06-01 ",
        "2024-06-01T",
        " 2024-06-01",
        "2024-02-30",
        "2023-02-29 00:00",
        "2024-06-01T24:00",
        "2024-06-01T12:60",
        "2024-06-01T23:59:60",
        "0000-01-01",
        "0000-01-01T00:00:00",
        "2024-06-01T12:00:00:00",
        "2024-06-01T12:00:00.5.5",
        // A fraction only after seconds.
        "2024-06-01T12:00.5Z",
        "2024-06-01 12:00.25+05:30",
        "2024-06-01T12:00,5z",
        "2024-06-01T12:00.5",
        "2024-06-01T12:00é",
        "2024-06-é1",
    ];
    for text in refused {
        assert!(!is_date_time(text), "{text}");
        let errors = validate(&EXPIRY, &json!({ "expires_at": text }));
        assert_eq!(errors.len(), 1, "{text}");
        assert_eq!(
            errors[0].loc,
            [LocItem::from("body"), LocItem::from("expires_at")]
        );
        assert_eq!(errors[0].extra["input"], text);
    }
}

/// A date or date-time field given no string names the date it expected, as the API answers
/// (measured against pydantic 2.14.4): `datetime_type` / `date_type`, not `string_type`.
#[test]
fn a_date_field_given_no_string_expects_a_date() {
    for value in [
        json!(true),
        json!([]),
        json!({}),
        json!(["2024-06-01T00:00:00Z"]),
    ] {
        let body = json!({ "expires_at": value.clone(), "until": value.clone() });
        let errors = validate(&EXPIRY, &body);
        let found: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "body.expires_at: Input should be a valid datetime",
                "body.until: Input should be a valid date",
            ],
            "{value}"
        );
        assert_eq!(errors[0].r#type, "datetime_type");
        assert_eq!(errors[1].r#type, "date_type");
        assert_eq!(errors[0].extra["input"], value);
        assert!(!errors[0].extra.contains_key("ctx"));
    }
    let errors = validate(&EXPIRY, &json!({ "expires_at": null }));
    assert_eq!(
        kinds(&errors),
        vec![pair("body.expires_at", "datetime_type")]
    );
}

use crate::shape::{Field, Schema};
use serde_json::json;

const NO_BOUNDS: Bounds = Bounds {
    minimum: None,
    maximum: None,
    exclusive_minimum: None,
    exclusive_maximum: None,
};
const PLAIN: StringRule = StringRule {
    min_length: None,
    max_length: None,
    pattern: None,
    format: None,
};

static CLOUD: Schema = Schema {
    name: "CloudQuery",
    rust_name: "CloudQuery",
    shape: Shape::Object(ObjectRule {
        fields: &[Field {
            name: "LT",
            required: false,
            shape: Shape::AnyOf(&[Shape::Number(NO_BOUNDS), Shape::Null]),
        }],
        open: false,
    }),
};

static SEARCH: Shape = Shape::Object(ObjectRule {
    fields: &[
        Field {
            name: "host_name",
            required: true,
            shape: Shape::String(PLAIN),
        },
        Field {
            name: "limit",
            required: false,
            shape: Shape::Integer(Bounds {
                minimum: Some(1.0),
                maximum: Some(500.0),
                exclusive_minimum: None,
                exclusive_maximum: None,
            }),
        },
        Field {
            name: "collections",
            required: false,
            shape: Shape::AnyOf(&[
                Shape::Array(ArrayRule {
                    items: &Shape::String(PLAIN),
                    min_items: None,
                    max_items: Some(3),
                }),
                Shape::Null,
            ]),
        },
        Field {
            name: "query",
            required: false,
            shape: Shape::AnyOf(&[Shape::Map(&Shape::Ref(&CLOUD)), Shape::Null]),
        },
        Field {
            name: "name",
            required: false,
            shape: Shape::String(StringRule {
                min_length: Some(1),
                max_length: Some(5),
                pattern: Some("^(cst|pm)_[A-Za-z0-9_]+$"),
                format: None,
            }),
        },
        Field {
            name: "direction",
            required: false,
            shape: Shape::Enum(&["up", "down", "both"]),
        },
        Field {
            name: "flag",
            required: false,
            shape: Shape::Boolean,
        },
    ],
    open: false,
});

fn kinds(errors: &[ValidationError]) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|error| {
            let loc: Vec<String> = error.loc.iter().map(ToString::to_string).collect();
            (loc.join("."), error.r#type.clone())
        })
        .collect()
}

fn pair(loc: &str, kind: &str) -> (String, String) {
    (loc.to_owned(), kind.to_owned())
}

#[test]
fn valid_body_has_no_errors() {
    let body = json!({
        "host_name": "earthsearch-aws",
        "limit": 10,
        "collections": ["sentinel-2-l2a"],
        "query": {"eo:cloud_cover": {"LT": 20}},
        "name": "pm_a",
        "direction": "up",
        "flag": true,
        "unknown": "ignored",
    });
    assert!(validate(&SEARCH, &body).is_empty());
    assert!(validate(&SEARCH, &json!({"host_name": "x", "collections": null})).is_empty());
    assert!(validate(&SEARCH, &json!({"host_name": "x", "limit": 2.0})).is_empty());
}

#[test]
fn every_failure_is_listed() {
    let body = json!({
        "limit": 0,
        "collections": ["a", 5, "c", "d"],
        "query": {"eo:cloud_cover": {"LT": "low"}},
        "name": "nope_too_long",
        "direction": "sideways",
        "flag": 1,
    });
    let found = kinds(&validate(&SEARCH, &body));
    assert_eq!(
        found,
        vec![
            pair("body.host_name", "missing"),
            pair("body.limit", "greater_than_equal"),
            pair("body.collections.1", "string_type"),
            pair("body.collections", "too_long"),
            pair("body.query.eo:cloud_cover.LT", "float_type"),
            pair("body.name", "string_too_long"),
            pair("body.direction", "enum"),
            pair("body.flag", "bool_type"),
        ]
    );
}

#[test]
fn a_number_written_by_name_is_not_a_finite_number() {
    for name in crate::finite::NON_FINITE {
        let body = json!({"host_name": "h", "query": {"eo:cloud_cover": {"LT": name}}});
        let errors = validate(&SEARCH, &body);
        assert_eq!(
            kinds(&errors),
            vec![pair("body.query.eo:cloud_cover.LT", "finite_number")],
            "{name}"
        );
        assert_eq!(errors[0].msg, "Input should be a finite number");
    }
}

#[test]
fn members_the_contract_does_not_declare_are_listed_where_they_are() {
    let body = json!({
        "host_name": "h",
        "limt": 5,
        "query": {"eo:cloud_cover": {"LT": 10, "lte": 5}},
        "flag": true,
    });
    assert!(
        validate(&SEARCH, &body).is_empty(),
        "valid, as the API finds it"
    );
    assert_eq!(
        undeclared(&SEARCH, &body),
        ["body.limt", "body.query.eo:cloud_cover.lte"]
    );
    assert!(undeclared(&SEARCH, &json!({"host_name": "h", "limit": 5})).is_empty());
    // A map's keys are its own to choose; so are an open object's members.
    assert!(undeclared(
        &SEARCH,
        &json!({"host_name": "h", "query": {"any:key": {}}})
    )
    .is_empty());
    static OPEN: Shape = Shape::Object(ObjectRule {
        fields: &[],
        open: true,
    });
    assert!(undeclared(&OPEN, &json!({"anything": 1})).is_empty());
}

#[test]
fn at_most_a_few_undeclared_members_are_listed() {
    let body: serde_json::Map<String, Value> = (0..100)
        .map(|index| (format!("extra{index:03}"), json!(index)))
        .collect();
    let found = undeclared(&SEARCH, &Value::Object(body));
    assert_eq!(found.len(), MAX_UNDECLARED);
    assert_eq!(found[0], "body.extra000");
}

#[test]
fn messages_follow_pydantic() {
    let errors = validate(&SEARCH, &json!({"host_name": 7, "limit": 1.5}));
    assert_eq!(errors[0].msg, "Input should be a valid string");
    assert_eq!(errors[1].r#type, "int_from_float");
    let errors = validate(&SEARCH, &json!({"host_name": "x", "direction": "no"}));
    assert_eq!(errors[0].msg, "Input should be 'up', 'down' or 'both'");
    let errors = validate(&SEARCH, &json!({"host_name": "x", "limit": 900}));
    assert_eq!(errors[0].msg, "Input should be less than or equal to 500");
    assert_eq!(errors[0].extra["ctx"]["le"], 500.0);
}

#[test]
fn non_object_body_is_rejected_at_the_root() {
    let errors = validate(&SEARCH, &json!([1, 2]));
    assert_eq!(kinds(&errors), vec![pair("body", "model_attributes_type")]);
    let errors = validate(&SEARCH, &json!("text"));
    assert_eq!(errors.len(), 1);
}

#[test]
fn strings_are_not_numbers() {
    let errors = validate(&SEARCH, &json!({"host_name": "x", "limit": "10"}));
    assert_eq!(kinds(&errors), vec![pair("body.limit", "int_type")]);
}

#[test]
fn helpers_build_root_errors() {
    assert_eq!(missing_body().r#type, "missing");
    let invalid = json_invalid(3, "expected value");
    assert_eq!(invalid.loc, vec![LocItem::from("body"), LocItem::Index(3)]);
    assert_eq!(invalid.r#type, "json_invalid");
}

#[test]
fn a_body_with_very_many_failures_lists_only_the_first_ones() {
    static NUMBERS: Shape = Shape::Array(ArrayRule {
        items: &Shape::Integer(NO_BOUNDS),
        min_items: None,
        max_items: None,
    });
    let body = Value::Array(vec![json!("x"); 100_000]);
    let errors = validate(&NUMBERS, &body);
    assert_eq!(errors.len(), MAX_FAILURES);
    assert_eq!(
        errors[0].to_string(),
        "body.0: Input should be a valid integer"
    );
    assert_eq!(
        errors[MAX_FAILURES - 1].loc,
        [LocItem::from("body"), LocItem::from(MAX_FAILURES - 1)]
    );
}

#[test]
fn year_zero_is_no_date_the_api_can_read() {
    assert!(!is_date_time("0000-01-01T00:00:00Z"));
    assert!(!is_date_time("0000-12-31T23:00:00-01:00"));
    assert!(!is_full_date("0000-01-01"));
    assert!(is_date_time("0001-01-01T00:00:00+01:00"));
    assert!(is_full_date("0001-01-01"));
    let errors = validate(&EXPIRY, &json!({"expires_at": "0000-06-01T00:00:00Z"}));
    assert_eq!(
        kinds(&errors),
        vec![pair("body.expires_at", "datetime_parsing")]
    );
}

#[test]
fn a_leap_second_is_refused_as_the_api_refuses_it_naming_why() {
    for leap in [
        "2016-12-31T23:59:60Z",
        "2016-12-31t23:59:60.5z",
        "9999-12-31T23:59:60-23:59",
    ] {
        assert!(!is_date_time(leap), "{leap}");
        let errors = validate(&EXPIRY, &json!({ "expires_at": leap }));
        assert_eq!(
            kinds(&errors),
            vec![pair("body.expires_at", "datetime_parsing")],
            "{leap}"
        );
        assert_eq!(
            errors[0].msg,
            "Input should be a valid datetime, second value is outside expected range \
             (a leap second is refused)"
        );
        assert_eq!(errors[0].extra["input"], leap);
    }
    assert!(is_date_time("2016-12-31T23:59:59.999999Z"));
}

#[test]
fn year_zero_is_named_in_the_message() {
    let errors = validate(
        &EXPIRY,
        &json!({"expires_at": "0000-06-01T00:00:00Z", "until": "0000-06-01"}),
    );
    let msgs: Vec<&str> = errors.iter().map(|error| error.msg.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Input should be a valid datetime, year 0 is out of range",
            "Input should be a valid date in the format YYYY-MM-DD, year 0 is out of range",
        ]
    );
    assert_eq!(errors[0].extra["ctx"]["error"], "year 0 is out of range");
    let malformed = validate(&EXPIRY, &json!({"expires_at": "soon"}));
    assert_eq!(
        malformed[0].msg,
        "Input should be a valid datetime, an RFC 3339 date-time such as 2024-06-01T12:00:00Z"
    );
    assert!(!malformed[0].extra.contains_key("ctx"));
}

static PERCENTILES: Shape = Shape::Object(ObjectRule {
    fields: &[Field {
        name: "percentiles",
        required: false,
        shape: Shape::Tuple(&[Shape::Number(NO_BOUNDS), Shape::Number(NO_BOUNDS)]),
    }],
    open: false,
});

#[test]
fn a_tuple_is_checked_as_pydantic_checks_one() {
    let check = |percentiles: Value| validate(&PERCENTILES, &json!({ "percentiles": percentiles }));
    assert!(check(json!([2, 98.5])).is_empty());

    // Too short: each position it lacks is missing, quoting the list.
    let errors = check(json!([2]));
    assert_eq!(kinds(&errors), vec![pair("body.percentiles.1", "missing")]);
    assert_eq!(errors[0].to_string(), "body.percentiles.1: Field required");
    assert_eq!(errors[0].extra["input"], json!([2]));
    let errors = check(json!(["low"]));
    assert_eq!(
        kinds(&errors),
        vec![
            pair("body.percentiles.0", "float_type"),
            pair("body.percentiles.1", "missing"),
        ]
    );
    assert_eq!(kinds(&check(json!([]))).len(), 2);

    // Too long: refused as a whole, its items unread.
    let errors = check(json!([1, "a", 3]));
    assert_eq!(kinds(&errors), vec![pair("body.percentiles", "too_long")]);
    assert_eq!(
        errors[0].msg,
        "Tuple should have at most 2 items after validation, not 3"
    );

    // Not a list at all.
    for wrong in [json!("2,98"), json!({"0": 2, "1": 98}), json!(null)] {
        let errors = check(wrong.clone());
        assert_eq!(
            kinds(&errors),
            vec![pair("body.percentiles", "tuple_type")],
            "{wrong}"
        );
        assert_eq!(errors[0].msg, "Input should be a valid tuple");
    }
}

#[test]
fn an_integer_fields_limits_are_integers_in_ctx_as_pydantic_writes_them() {
    let errors = validate(&SEARCH, &json!({"host_name": "x", "limit": 0}));
    assert_eq!(errors[0].extra["ctx"], json!({"ge": 1}));
    assert!(errors[0].extra["ctx"]["ge"].is_i64());
    let errors = validate(&SEARCH, &json!({"host_name": "x", "limit": 501.0}));
    assert_eq!(errors[0].extra["ctx"], json!({"le": 500}));
    // A number field's stay floats, as pydantic's do.
    static CAP: Shape = Shape::Object(ObjectRule {
        fields: &[Field {
            name: "cap",
            required: true,
            shape: Shape::Number(Bounds {
                minimum: None,
                maximum: None,
                exclusive_minimum: Some(0.0),
                exclusive_maximum: Some(2.5),
            }),
        }],
        open: false,
    });
    let errors = validate(&CAP, &json!({"cap": 0}));
    assert_eq!(
        errors[0].to_string(),
        "body.cap: Input should be greater than 0"
    );
    assert!(errors[0].extra["ctx"]["gt"].is_f64());
    let errors = validate(&CAP, &json!({"cap": 3}));
    assert_eq!(errors[0].extra["ctx"], json!({"lt": 2.5}));
}

#[test]
fn a_string_reports_only_the_first_constraint_it_fails_as_the_api_does() {
    let check = |name: &str| kinds(&validate(&SEARCH, &json!({"host_name": "x", "name": name})));
    // `name`: 1 to 5 characters matching `^(cst|pm)_[A-Za-z0-9_]+$`.
    assert_eq!(check(""), vec![pair("body.name", "string_too_short")]);
    assert_eq!(
        check("xx_abcdef"),
        vec![pair("body.name", "string_too_long")]
    );
    assert_eq!(
        check("xx_ab"),
        vec![pair("body.name", "string_pattern_mismatch")]
    );
    assert!(check("pm_ab").is_empty());
}

/// `n: int`, `count: int = Field(ge=0)` and `maybe: Optional[int]`, as pydantic models them.
static WHOLE: Shape = Shape::Object(ObjectRule {
    fields: &[
        Field {
            name: "n",
            required: false,
            shape: Shape::Integer(Bounds {
                minimum: None,
                maximum: None,
                exclusive_minimum: None,
                exclusive_maximum: None,
            }),
        },
        Field {
            name: "count",
            required: false,
            shape: Shape::Integer(Bounds {
                minimum: Some(0.0),
                maximum: None,
                exclusive_minimum: None,
                exclusive_maximum: None,
            }),
        },
        Field {
            name: "maybe",
            required: false,
            shape: Shape::AnyOf(&[
                Shape::Integer(Bounds {
                    minimum: None,
                    maximum: None,
                    exclusive_minimum: None,
                    exclusive_maximum: None,
                }),
                Shape::Null,
            ]),
        },
    ],
    open: false,
});

/// pydantic reads a float as an integer through an `i64`, strictly between -2^63 and 2^63
/// (so -2^63 itself is refused), and answers one beyond with `int_parsing_size`, no `ctx`,
/// before any bound is looked at: `{"n": 1e20}` is a 422 though `{"n": 100000000000000000000}`
/// is not. Measured with pydantic 2.14 (pydantic-core 2.50) `model_validate_json`.
#[test]
fn an_integral_float_beyond_64_bits_is_int_parsing_size_as_pydantic_answers() {
    let two_to_63 = 9_223_372_036_854_775_808.0_f64;
    for field in ["n", "count", "maybe", "limit"] {
        for far in [
            1e20,
            -1e20,
            9.3e18,
            -9.3e18,
            two_to_63,
            -two_to_63,
            1.8446744073709552e19,
            1e300,
            -1e300,
        ] {
            let body = json!({ "host_name": "x", field: far });
            let shape = if field == "limit" { &SEARCH } else { &WHOLE };
            let errors = validate(shape, &body);
            assert_eq!(
                kinds(&errors),
                vec![pair(&format!("body.{field}"), "int_parsing_size")],
                "{body}"
            );
            assert_eq!(
                errors[0].msg,
                "Unable to parse input string as an integer, exceeded maximum size"
            );
            assert_eq!(errors[0].extra["input"], json!(far));
            assert!(!errors[0].extra.contains_key("ctx"), "{body}");
        }
    }
    // The integral floats nearest the bound, 2^63 - 1024 and its negative, are integers.
    let nearest = 9_223_372_036_854_774_784.0_f64;
    for fits in [json!(nearest), json!(-nearest), json!(1e18), json!(-0.0)] {
        assert!(validate(&WHOLE, &json!({ "n": fits, "maybe": fits })).is_empty());
    }
    assert_eq!(
        kinds(&validate(&WHOLE, &json!({ "count": -nearest }))),
        vec![pair("body.count", "greater_than_equal")]
    );
    // An integer written out in full is a Python integer of any size: no bound but the
    // field's own.
    for fits in [json!(i64::MAX), json!(i64::MIN), json!(u64::MAX)] {
        assert!(validate(&WHOLE, &json!({ "n": fits, "maybe": fits })).is_empty());
    }
    assert!(validate(&WHOLE, &json!({ "count": u64::MAX })).is_empty());
    assert_eq!(
        kinds(&validate(&WHOLE, &json!({ "count": i64::MIN }))),
        vec![pair("body.count", "greater_than_equal")]
    );
    let errors = validate(&SEARCH, &json!({"host_name": "x", "limit": u64::MAX}));
    assert_eq!(kinds(&errors), vec![pair("body.limit", "less_than_equal")]);
    assert_eq!(errors[0].extra["ctx"], json!({"le": 500}));
}

/// A model the contract declares without members (`"properties": {}`) is a model, not a
/// free-form object: members sent to it are named as ones the API drops, and a body that is no
/// object is refused as pydantic refuses one for a model. A free-form object stays a
/// dictionary.
#[test]
fn a_model_without_members_is_closed_and_read_as_a_model() {
    let templates = crate::operations::find("orders.tasking.templates.list").expect("an op");
    assert_eq!(
        undeclared(templates.input, &json!({"limit": 5})),
        ["body.limit"]
    );
    assert!(undeclared(templates.input, &json!({})).is_empty());
    let refused = validate(templates.input, &json!([1]));
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].r#type, "model_attributes_type");

    let free = Shape::Object(crate::shape::ObjectRule {
        fields: &[],
        open: true,
    });
    assert!(undeclared(&free, &json!({"any": 1})).is_empty());
    assert_eq!(validate(&free, &json!([1]))[0].r#type, "dict_type");
}
