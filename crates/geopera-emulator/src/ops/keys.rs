//! `api_keys.*`: minting, listing and revoking keys of the caller's organization.

use geopera_types::models::{ApiKeyCreateInput, ApiKeyListInput, ApiKeyRevokeInput};
use geopera_types::{LocItem, ValidationError};
use http::StatusCode;
use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::error::{too_large, with_ctx, ApiError};
use crate::records::{adds_window, NewKey};
use crate::scopes::{covers, KNOWN_GRANTS};
use geopera_types::rfc3339::format_date_time;

/// The most permissions one `api_keys.create` may ask for.
pub const MAX_KEY_PERMISSIONS: usize = 64;
/// The longest permission string `api_keys.create` accepts, in characters.
pub const MAX_SCOPE_CHARS: usize = 64;
/// The longest lifetime `api_keys.create` accepts in `expires_in_days` (about ten years).
pub const MAX_KEY_LIFETIME_DAYS: i64 = 3650;
/// The highest per-minute `rate_limit` `api_keys.create` accepts: far above any documented
/// budget, and small enough for the window counters.
pub const MAX_KEY_RATE_LIMIT: u32 = 1_000_000;
/// The most rate windows one key's calls count against: its own and those of the limited
/// keys it was minted under, each limit lower than the one before. Bounds the work and memory
/// of every call of a key at the end of a long chain; a key whose limit would add one more is
/// refused, while one sharing the tightest limit already held adds none and is minted.
pub const MAX_KEY_RATE_WINDOWS: usize = 16;

pub(crate) fn create(ctx: &Ctx<'_>, input: ApiKeyCreateInput) -> Outcome {
    let (secret, key) = ctx.shared.create_key(checked(ctx, &input)?)?;
    Ok(ctx.ok(&json!({
        "id": key.id,
        "key": secret,
        "prefix": key.prefix,
        "name": key.name,
        "permissions": key.grants,
        "expires_at": key.expires_at.map(format_date_time),
        "created_at": format_date_time(key.created_at),
        "rate_limit": key.rate_limit,
    })))
}

pub(crate) fn list(ctx: &Ctx<'_>, _input: ApiKeyListInput) -> Outcome {
    let inner = ctx.shared.lock();
    let mut keys: Vec<_> = inner
        .credentials
        .values()
        .filter(|key| key.org == ctx.org && !key.session)
        .collect();
    keys.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let keys: Vec<Value> = keys
        .into_iter()
        .map(|key| {
            json!({
                "id": key.id,
                "prefix": key.prefix,
                "name": key.name,
                "permissions": key.grants,
                "expires_at": key.expires_at.map(format_date_time),
                "created_at": format_date_time(key.created_at),
                "revoked": key.revoked,
                "rate_limit": key.rate_limit,
            })
        })
        .collect();
    Ok(ctx.ok(&json!({"total": keys.len(), "keys": keys})))
}

pub(crate) fn revoke(ctx: &Ctx<'_>, input: ApiKeyRevokeInput) -> Outcome {
    let id = input.key_id;
    let mut inner = ctx.shared.lock();
    let found = inner
        .credentials
        .iter()
        .find(|(_, key)| key.id == id && key.org == ctx.org && !key.session)
        .map(|(digest, _)| *digest);
    let Some(key) = found.and_then(|digest| inner.credentials.get_mut(&digest)) else {
        return Err(ApiError::not_found(format!("API key '{id}' not found")));
    };
    // The rule minting follows, kept when revoking: a credential cannot reach past its own
    // grants, so one holding only `api_keys:write` cannot lock out the keys that hold more.
    let beyond = beyond(ctx.grants, &key.grants);
    if !beyond.is_empty() {
        return Err(ApiError::problem(
            StatusCode::FORBIDDEN,
            format!(
                "cannot revoke API key '{id}': it holds {}, which the calling credential does \
                 not",
                beyond.join(", ")
            ),
        ));
    }
    key.revoked = true;
    inner.oidc.end_sessions_of_key(&id, ctx.org);
    Ok(ctx.ok(&json!({"ok": true, "id": id})))
}

/// The checks `api_keys.create` makes beyond the input shape: bounded permissions of known
/// scopes, a bounded lifetime and rate limit (422, every failure listed), and nothing beyond
/// the calling key itself (403): no grant it does not hold, no more calls a minute than its
/// own limit, no expiry after its own, no limit that would make its calls count against more
/// than [`MAX_KEY_RATE_WINDOWS`] windows.
///
/// The new key inherits every window the calling key's calls count against, so its calls
/// count against them too: a limit cannot be shed by minting a child, nor multiplied by
/// minting many, as all the keys minted under a key limited to N (and their own children)
/// share its N calls a minute with it. Revoking a key leaves the keys minted under it
/// counting against its window.
///
/// Without `permissions` the new key gets the caller's own grants; without `rate_limit` or
/// `expires_in_days`, the calling key's own limit and expiry, when it has them.
fn checked(ctx: &Ctx<'_>, input: &ApiKeyCreateInput) -> Result<NewKey, ApiError> {
    let mut errors = Vec::new();
    let requested = input
        .permissions
        .as_deref()
        .and_then(|list| known_grants(list, &mut errors));
    if input
        .expires_in_days
        .is_some_and(|days| days > MAX_KEY_LIFETIME_DAYS)
    {
        errors.push(too_large(at("expires_in_days"), MAX_KEY_LIFETIME_DAYS));
    }
    // The contract bounds it below (> 0), the emulator above.
    let rate_limit = input
        .rate_limit
        .map(|per_minute| u32::try_from(per_minute).unwrap_or(u32::MAX));
    if rate_limit.is_some_and(|per_minute| per_minute > MAX_KEY_RATE_LIMIT) {
        errors.push(too_large(at("rate_limit"), MAX_KEY_RATE_LIMIT.into()));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let grants = requested.unwrap_or_else(|| ctx.grants.to_vec());
    let expires_at = input
        .expires_in_days
        .map(|days| ctx.now().saturating_add(days.saturating_mul(86_400)));
    let bounds = ctx.key_bounds;
    let mut refused = Vec::new();
    let beyond = beyond(ctx.grants, &grants);
    if !beyond.is_empty() {
        refused.push(format!(
            "cannot grant {}: a new key may only hold grants the calling credential holds",
            beyond.join(", ")
        ));
    }
    if let (Some(asked), Some(own)) = (rate_limit, bounds.rate_limit) {
        if asked > own {
            refused.push(format!(
                "cannot allow {asked} calls a minute: the calling key is limited to {own}"
            ));
        }
    }
    if let (Some(asked), Some(own)) = (expires_at, bounds.expires_at) {
        if asked > own {
            refused.push(format!(
                "cannot last until {}: the calling key expires at {}",
                format_date_time(asked),
                format_date_time(own)
            ));
        }
    }
    let rate_limit = rate_limit.or(bounds.rate_limit);
    let inherited = &bounds.rate_windows;
    if let Some(cap) = rate_limit.filter(|cap| adds_window(inherited, *cap)) {
        if let Some(tightest) = inherited
            .iter()
            .map(|(_, cap)| *cap)
            .min()
            .filter(|_| inherited.len() >= MAX_KEY_RATE_WINDOWS)
        {
            refused.push(format!(
                "cannot allow {cap} calls a minute: the calling key's calls already count \
                 against {} nested limits, the most a key's may; a limit of {tightest} \
                 shares the tightest of them",
                inherited.len()
            ));
        }
    }
    if !refused.is_empty() {
        return Err(ApiError::problem(StatusCode::FORBIDDEN, refused.join("; ")));
    }
    let mut key = NewKey::new(ctx.org, &input.name, grants);
    key.expires_at = expires_at.or(bounds.expires_at);
    key.rate_limit = rate_limit;
    key.inherited_limits = inherited.clone();
    Ok(key)
}

/// The requested permissions without repeats, or `None` after recording why not.
fn known_grants(list: &[String], errors: &mut Vec<ValidationError>) -> Option<Vec<String>> {
    if list.len() > MAX_KEY_PERMISSIONS {
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
        return None;
    }
    let mut grants = Vec::with_capacity(list.len());
    for (index, scope) in list.iter().enumerate() {
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
        } else if !grants.contains(scope) {
            grants.push(scope.clone());
        }
    }
    Some(grants)
}

/// The location of a top-level body field.
fn at(field: &str) -> Vec<LocItem> {
    vec![LocItem::from("body"), LocItem::from(field)]
}

/// The grants of `grants` that none of `held` covers, quoted for a message: what a credential
/// holding `held` may neither mint nor revoke.
fn beyond(held: &[String], grants: &[String]) -> Vec<String> {
    grants
        .iter()
        .filter(|grant| !held.iter().any(|own| covers(own, grant)))
        .map(|grant| format!("'{grant}'"))
        .collect()
}
