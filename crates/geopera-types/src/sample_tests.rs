//! Unit tests of `sample.rs`.
use super::*;
use crate::shape::{ArrayRule, Field, ObjectRule, Schema};

const PLAIN: StringRule = StringRule {
    min_length: None,
    max_length: None,
    pattern: None,
    format: None,
};

static NODE: Schema = Schema {
    name: "Node",
    rust_name: "Node",
    shape: Shape::Object(ObjectRule {
        fields: &[
            Field {
                name: "name",
                required: true,
                shape: Shape::String(StringRule {
                    min_length: Some(3),
                    max_length: Some(8),
                    pattern: None,
                    format: None,
                }),
            },
            Field {
                name: "children",
                required: false,
                shape: Shape::Array(ArrayRule {
                    items: &Shape::Ref(&NODE),
                    min_items: None,
                    max_items: None,
                }),
            },
            Field {
                name: "parent",
                required: false,
                shape: Shape::AnyOf(&[Shape::Ref(&NODE), Shape::Null]),
            },
        ],
        open: false,
    }),
};

static EVERYTHING: Shape = Shape::Object(ObjectRule {
    fields: &[
        Field {
            name: "order_id",
            required: true,
            shape: Shape::String(PLAIN),
        },
        Field {
            name: "created_at",
            required: false,
            shape: Shape::String(StringRule {
                min_length: None,
                max_length: None,
                pattern: None,
                format: Some("date-time"),
            }),
        },
        Field {
            name: "kind",
            required: true,
            shape: Shape::String(StringRule {
                min_length: None,
                max_length: None,
                pattern: Some("^(cst|pm)_[A-Za-z0-9_]+$"),
                format: None,
            }),
        },
        Field {
            name: "decision",
            required: true,
            shape: Shape::String(StringRule {
                min_length: None,
                max_length: None,
                pattern: Some("^(ACCEPTED|REJECTED)$"),
                format: None,
            }),
        },
        Field {
            name: "count",
            required: true,
            shape: Shape::Integer(Bounds {
                minimum: None,
                maximum: None,
                exclusive_minimum: Some(0.0),
                exclusive_maximum: Some(3.0),
            }),
        },
        Field {
            name: "ratio",
            required: true,
            shape: Shape::Number(Bounds {
                minimum: Some(-1.0),
                maximum: Some(1.0),
                exclusive_minimum: None,
                exclusive_maximum: None,
            }),
        },
        Field {
            name: "mode",
            required: true,
            shape: Shape::Enum(&["a", "b"]),
        },
        Field {
            name: "pair",
            required: true,
            shape: Shape::Tuple(&[Shape::Boolean, Shape::Null]),
        },
        Field {
            name: "tags",
            required: true,
            shape: Shape::Map(&Shape::Array(ArrayRule {
                items: &Shape::String(PLAIN),
                min_items: Some(2),
                max_items: Some(4),
            })),
        },
        Field {
            name: "tree",
            required: true,
            shape: Shape::Ref(&NODE),
        },
        Field {
            name: "free",
            required: false,
            shape: Shape::Any,
        },
    ],
    open: true,
});

#[test]
fn samples_are_deterministic_per_seed() {
    assert_eq!(sample(&EVERYTHING, 1), sample(&EVERYTHING, 1));
    assert_ne!(sample(&EVERYTHING, 1), sample(&EVERYTHING, 2));
}

#[test]
fn every_declared_field_is_filled() {
    let value = sample(&EVERYTHING, 3);
    for field in EVERYTHING.fields() {
        assert!(value.get(field.name).is_some(), "{} missing", field.name);
    }
    assert!(value["kind"]
        .as_str()
        .is_some_and(|kind| kind.starts_with("cst_")));
    assert_eq!(value["decision"], "ACCEPTED");
}

#[test]
fn recursion_is_bounded() {
    let text = sample(&Shape::Ref(&NODE), 9).to_string();
    assert!(text.len() < 100_000);
}

#[test]
fn patterns_expand_to_a_match() {
    assert_eq!(expand_pattern("^(up|down|both)$"), "up");
    assert_eq!(expand_pattern(r"^\d{3}-[a-z]+x?$"), "000-a");
    assert_eq!(expand_pattern("^(?:ab|c)+$"), "ab");
}

#[cfg(feature = "validate")]
#[test]
fn samples_validate() {
    for seed in 0..50 {
        let value = sample(&EVERYTHING, seed);
        let errors = crate::validate::validate(&EVERYTHING, &value);
        assert!(errors.is_empty(), "seed {seed}: {errors:?} for {value}");
        let errors = crate::validate::validate(&Shape::Ref(&NODE), &sample(&NODE.shape, seed));
        assert!(errors.is_empty(), "seed {seed}: {errors:?}");
    }
}

#[cfg(feature = "validate")]
#[test]
fn every_contract_shape_samples_valid() {
    for info in crate::operations::ALL {
        for shape in [info.input, info.output] {
            let value = sample(shape, 42);
            let errors = crate::validate::validate(shape, &value);
            assert!(errors.is_empty(), "{}: {errors:?} for {value}", info.id);
        }
    }
}
