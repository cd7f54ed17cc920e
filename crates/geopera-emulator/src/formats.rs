//! String formats of request bodies (`date-time`, `date`), which the shape validator leaves
//! unchecked: the API parses such fields into dates, so a string that is not one is a 422.

use geopera_types::{LocItem, Shape, ValidationError};
use serde_json::Value;

/// How deep the walk follows nested shapes (as the shape validator does).
const MAX_DEPTH: usize = 64;

/// Every string in `value` (a whole, otherwise valid body) whose declared format it does not
/// satisfy. Locations start with `"body"`.
pub(crate) fn format_errors(shape: &Shape, value: &Value) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut loc = vec![LocItem::from("body")];
    walk(shape, value, &mut loc, &mut errors, 0);
    errors
}

fn walk(
    shape: &Shape,
    value: &Value,
    loc: &mut Vec<LocItem>,
    errors: &mut Vec<ValidationError>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match shape.resolve() {
        Shape::String(rule) => {
            if let (Some(format), Some(text)) = (rule.format, value.as_str()) {
                if let Some(error) = check(format, text, loc) {
                    errors.push(error);
                }
            }
        }
        Shape::Object(rule) => {
            for field in rule.fields {
                if let Some(member) = value.get(field.name) {
                    loc.push(LocItem::from(field.name));
                    walk(&field.shape, member, loc, errors, depth + 1);
                    loc.pop();
                }
            }
        }
        Shape::Map(inner) => {
            for (key, member) in value.as_object().into_iter().flatten() {
                loc.push(LocItem::from(key.as_str()));
                walk(inner, member, loc, errors, depth + 1);
                loc.pop();
            }
        }
        Shape::Array(rule) => {
            for (index, item) in value.as_array().into_iter().flatten().enumerate() {
                loc.push(LocItem::from(index));
                walk(rule.items, item, loc, errors, depth + 1);
                loc.pop();
            }
        }
        Shape::Tuple(shapes) => {
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            for (index, (shape, item)) in shapes.iter().zip(items).enumerate() {
                loc.push(LocItem::from(index));
                walk(shape, item, loc, errors, depth + 1);
                loc.pop();
            }
        }
        Shape::AnyOf(options) => {
            // The value already matches one alternative by type; check the formats of the
            // alternatives of its kind, and accept it when any of them is satisfied.
            let mut first_failure = None;
            for option in options.iter().filter(|option| same_kind(option, value)) {
                let mut found = Vec::new();
                walk(option, value, loc, &mut found, depth + 1);
                if found.is_empty() {
                    return;
                }
                first_failure.get_or_insert(found);
            }
            errors.extend(first_failure.into_iter().flatten());
        }
        _ => {}
    }
}

/// Whether a value could be an instance of `shape` by its JSON kind alone.
fn same_kind(shape: &Shape, value: &Value) -> bool {
    match shape.resolve() {
        Shape::Any | Shape::AnyOf(_) => true,
        Shape::Null => value.is_null(),
        Shape::Boolean => value.is_boolean(),
        Shape::Integer(_) | Shape::Number(_) => value.is_number(),
        Shape::String(_) | Shape::Enum(_) => value.is_string(),
        Shape::Array(_) | Shape::Tuple(_) => value.is_array(),
        Shape::Object(_) | Shape::Map(_) => value.is_object(),
        Shape::Ref(_) => false,
    }
}

fn check(format: &str, text: &str, loc: &[LocItem]) -> Option<ValidationError> {
    let (valid, kind, msg) = match format {
        "date-time" => (
            is_date_time(text),
            "datetime_parsing",
            "Input should be a valid datetime, an RFC 3339 date-time such as 2024-06-01T12:00:00Z",
        ),
        "date" => (
            is_full_date(text),
            "date_parsing",
            "Input should be a valid date in the format YYYY-MM-DD",
        ),
        _ => return None,
    };
    if valid {
        return None;
    }
    let mut error = ValidationError::new(loc.to_vec(), msg, kind);
    error
        .extra
        .insert("input".to_owned(), Value::String(text.to_owned()));
    Some(error)
}

/// Reads exactly `width` ASCII digits at the start of `text`.
fn digits(text: &[u8], width: usize) -> Option<u32> {
    let part = text.get(..width)?;
    part.iter().try_fold(0u32, |number, &byte| {
        byte.is_ascii_digit()
            .then(|| number * 10 + u32::from(byte - b'0'))
    })
}

/// RFC 3339 `full-date`: `YYYY-MM-DD` with a day that exists in that month.
fn is_full_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10 && full_date(bytes)
}

fn full_date(bytes: &[u8]) -> bool {
    let (Some(year), Some(month), Some(day)) = (
        digits(bytes, 4),
        bytes.get(5..).and_then(|rest| digits(rest, 2)),
        bytes.get(8..).and_then(|rest| digits(rest, 2)),
    ) else {
        return false;
    };
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// RFC 3339 `date-time`: `full-date "T" partial-time time-offset`, `T` and `Z` in either case.
fn is_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !full_date(&bytes[..10]) || !matches!(bytes[10], b'T' | b't') {
        return false;
    }
    let time = &bytes[11..];
    let (Some(hour), Some(minute), Some(second)) = (
        digits(time, 2),
        time.get(3..).and_then(|rest| digits(rest, 2)),
        time.get(6..).and_then(|rest| digits(rest, 2)),
    ) else {
        return false;
    };
    // A leap second is only ever the last second of a minute.
    let second_ok = second < 60 || (second == 60 && minute == 59);
    if time[2] != b':' || time[5] != b':' || hour > 23 || minute > 59 || !second_ok {
        return false;
    }
    let mut rest = &time[8..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let count = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return false;
        }
        rest = &fraction[count..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', offset @ ..] if offset.len() == 5 => {
            matches!((digits(offset, 2), offset[2], digits(&offset[3..], 2)),
                (Some(hours), b':', Some(minutes)) if hours <= 23 && minutes <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geopera_types::shape::{Field, ObjectRule, StringRule};
    use serde_json::json;

    static DATE_TIME: Shape = Shape::String(StringRule {
        min_length: None,
        max_length: None,
        pattern: None,
        format: Some("date-time"),
    });
    static BODY: Shape = Shape::Object(ObjectRule {
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
    fn rfc3339_date_times_pass_and_others_fail() {
        for good in [
            "2024-06-01T12:00:00Z",
            "2024-02-29t23:59:59.123456z",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:60-23:59",
        ] {
            assert!(is_date_time(good), "{good}");
        }
        for bad in [
            "",
            "2024-06-01",
            "2024-06-01 12:00:00Z",
            "2024-01-01T12:99:00Z",
            "2023-02-29T00:00:00Z",
            "2024-06-01T24:00:00Z",
            "2024-06-01T12:00:00",
            "2024-06-01T12:00:00.Z",
            "2024-06-01T12:00:00+0100",
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

    #[test]
    fn errors_name_each_badly_formatted_member() {
        assert!(format_errors(&BODY, &json!({"expires_at": "2024-06-01T00:00:00Z"})).is_empty());
        assert!(format_errors(
            &BODY,
            &json!({"expires_at": "2024-06-01T00:00:00Z", "until": null})
        )
        .is_empty());
        let errors = format_errors(&BODY, &json!({"expires_at": "", "until": "tomorrow"}));
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
        assert_eq!(format_errors(&DATE_TIME, &json!("soon")).len(), 1);
    }
}
