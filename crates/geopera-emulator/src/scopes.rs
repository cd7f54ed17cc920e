//! Scopes and grants: who may call what, and which keys a caller may mint.

use std::collections::HashSet;
use std::sync::LazyLock;

use geopera_types::{LocItem, ValidationError};
use http::StatusCode;
use serde_json::{json, Value};

use crate::error::ApiError;

/// The most permissions one `api_keys.create` may ask for.
pub const MAX_KEY_PERMISSIONS: usize = 64;
/// The longest permission string `api_keys.create` accepts, in characters.
pub const MAX_SCOPE_CHARS: usize = 64;
/// The longest lifetime `api_keys.create` accepts in `expires_in_days` (about ten years).
pub const MAX_KEY_LIFETIME_DAYS: i64 = 3650;

/// Every grant a key can hold: each operation's scope, its `resource:*` and `*:action`
/// forms, and `*`.
static KNOWN_GRANTS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let mut known = HashSet::from(["*".to_owned()]);
    for op in geopera_types::operations::ALL {
        known.insert(op.scope.to_owned());
        if let Some((resource, action)) = op.scope.split_once(':') {
            known.insert(format!("{resource}:*"));
            known.insert(format!("*:{action}"));
        }
    }
    known
});

/// Whether one grant covers a `resource:action` scope.
pub(crate) fn grants(grant: &str, scope: &str) -> bool {
    if grant == "*" || grant == scope {
        return true;
    }
    let (Some((grant_resource, grant_action)), Some((resource, action))) =
        (grant.split_once(':'), scope.split_once(':'))
    else {
        return false;
    };
    (grant_resource == "*" || grant_resource == resource)
        && (grant_action == "*" || grant_action == action)
}

/// Whether `held` covers every scope `wanted` could ever cover, read as patterns rather
/// than over today's list of operations: `orders:*` covers `orders:read` and `orders:*`
/// but not `*:read`, even if orders were the only resource with a `read` action.
pub(crate) fn covers(held: &str, wanted: &str) -> bool {
    let pattern = |grant: &str| -> Option<(String, String)> {
        match grant {
            "*" => Some(("*".to_owned(), "*".to_owned())),
            _ => grant
                .split_once(':')
                .map(|(resource, action)| (resource.to_owned(), action.to_owned())),
        }
    };
    let (Some((held_resource, held_action)), Some((resource, action))) =
        (pattern(held), pattern(wanted))
    else {
        return held == wanted;
    };
    (held_resource == "*" || held_resource == resource)
        && (held_action == "*" || held_action == action)
}

/// What `api_keys.create` may store, once its body passed [`check_new_key`].
#[derive(Debug)]
pub(crate) struct NewKey {
    pub grants: Vec<String>,
    pub lifetime_days: Option<i64>,
}

/// The checks `api_keys.create` makes beyond the input shape: bounded permissions of known
/// scopes (422, every failure listed), a bounded lifetime (422), and no grant the caller
/// does not hold itself (403), so a key can never mint a stronger one.
///
/// Without `permissions` the new key gets the caller's own grants.
pub(crate) fn check_new_key(caller_grants: &[String], body: &Value) -> Result<NewKey, ApiError> {
    let mut errors = Vec::new();
    let requested: Option<Vec<String>> = match body.get("permissions").and_then(Value::as_array) {
        Some(list) if list.len() > MAX_KEY_PERMISSIONS => {
            errors.push(with_ctx(
                ValidationError::new(
                    vec!["body".into(), "permissions".into()],
                    format!(
                        "List should have at most {MAX_KEY_PERMISSIONS} items after validation, \
                         not {}",
                        list.len()
                    ),
                    "too_long",
                ),
                json!({"field_type": "List", "max_length": MAX_KEY_PERMISSIONS,
                       "actual_length": list.len()}),
            ));
            None
        }
        Some(list) => {
            let mut grants = Vec::with_capacity(list.len());
            for (index, item) in list.iter().enumerate() {
                let Some(scope) = item.as_str() else { continue };
                let loc = vec![
                    LocItem::from("body"),
                    LocItem::from("permissions"),
                    LocItem::from(index),
                ];
                if scope.chars().count() > MAX_SCOPE_CHARS {
                    errors.push(with_ctx(
                        ValidationError::new(
                            loc,
                            format!("String should have at most {MAX_SCOPE_CHARS} characters"),
                            "string_too_long",
                        ),
                        json!({"max_length": MAX_SCOPE_CHARS}),
                    ));
                } else if !KNOWN_GRANTS.contains(scope) {
                    errors.push(ValidationError::new(
                        loc,
                        format!(
                            "Value error, unknown scope '{scope}': scopes are \
                             'resource:action', 'resource:*', '*:action' or '*'"
                        ),
                        "value_error",
                    ));
                } else if !grants.iter().any(|kept| kept == scope) {
                    grants.push(scope.to_owned());
                }
            }
            Some(grants)
        }
        None => None,
    };
    let lifetime_days = body.get("expires_in_days").and_then(Value::as_i64);
    if lifetime_days.is_some_and(|days| days > MAX_KEY_LIFETIME_DAYS) {
        errors.push(with_ctx(
            ValidationError::new(
                vec!["body".into(), "expires_in_days".into()],
                format!("Input should be less than or equal to {MAX_KEY_LIFETIME_DAYS}"),
                "less_than_equal",
            ),
            json!({"le": MAX_KEY_LIFETIME_DAYS}),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let grants = requested.unwrap_or_else(|| caller_grants.to_vec());
    let beyond: Vec<String> = grants
        .iter()
        .filter(|wanted| !caller_grants.iter().any(|held| covers(held, wanted)))
        .map(|wanted| format!("'{wanted}'"))
        .collect();
    if !beyond.is_empty() {
        return Err(ApiError::problem(
            StatusCode::FORBIDDEN,
            format!(
                "cannot grant {}: a new key may only hold grants the calling credential holds",
                beyond.join(", ")
            ),
        ));
    }
    Ok(NewKey {
        grants,
        lifetime_days,
    })
}

fn with_ctx(mut error: ValidationError, ctx: Value) -> ValidationError {
    error.extra.insert("ctx".to_owned(), ctx);
    error
}

#[cfg(test)]
mod tests {
    use super::{covers, grants, KNOWN_GRANTS};

    #[test]
    fn grants_match_exactly_or_by_wildcard() {
        assert!(grants("orders:write", "orders:write"));
        assert!(grants("orders:*", "orders:write"));
        assert!(grants("*:write", "orders:write"));
        assert!(grants("*", "orders:write"));
        assert!(grants("*:*", "orders:write"));
        assert!(!grants("orders:read", "orders:write"));
        assert!(!grants("catalog:*", "orders:write"));
        assert!(!grants("*:read", "orders:write"));
        assert!(!grants("orders", "orders:write"));
    }

    #[test]
    fn a_grant_covers_only_patterns_no_wider_than_itself() {
        let cases = [
            ("*", "*", true),
            ("*", "*:read", true),
            ("*", "orders:*", true),
            ("orders:*", "orders:read", true),
            ("orders:*", "orders:*", true),
            ("orders:*", "*", false),
            ("orders:*", "*:read", false),
            ("orders:*", "catalog:read", false),
            ("*:read", "orders:read", true),
            ("*:read", "*:read", true),
            ("*:read", "orders:*", false),
            ("*:read", "*", false),
            ("orders:read", "orders:read", true),
            ("orders:read", "orders:write", false),
            ("orders:read", "orders:*", false),
            ("*:*", "*", true),
        ];
        for (held, wanted, expected) in cases {
            assert_eq!(covers(held, wanted), expected, "{held} covers {wanted}");
        }
    }

    #[test]
    fn known_grants_are_the_operation_scopes_and_their_wildcards() {
        assert!(KNOWN_GRANTS.contains("*"));
        assert!(KNOWN_GRANTS.contains("orders:write"));
        assert!(KNOWN_GRANTS.contains("orders:*"));
        assert!(KNOWN_GRANTS.contains("*:read"));
        assert!(!KNOWN_GRANTS.contains("orders:fly"));
        assert!(!KNOWN_GRANTS.contains("*:*"));
        assert!(KNOWN_GRANTS
            .iter()
            .all(|grant| grant.chars().count() <= super::MAX_SCOPE_CHARS));
    }
}
