//! Scopes and grants: which grant covers which scope.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Every grant a key can hold: each operation's scope, its `resource:*` and `*:action`
/// forms, and `*`.
pub(crate) static KNOWN_GRANTS: LazyLock<HashSet<String>> = LazyLock::new(|| {
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

#[cfg(test)]
#[path = "scopes_tests.rs"]
mod tests;
