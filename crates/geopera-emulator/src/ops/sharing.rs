//! `share.link.*` and `share.tilejson`: password-protected links to an item or collection,
//! which anyone with the token and the password may open until the link expires or is
//! revoked.
//!
//! The token is drawn from the OS generator (a link is a capability, so it must not follow
//! from the seed), and only a SHA-256 digest of the password is kept, compared in constant
//! time. A wrong password, and a revoked or expired link, are answered alike with 404, so a
//! guesser learns nothing about which tokens exist. Such a link stays until room is needed for
//! a new one.

use geopera_types::models::{
    ShareLinkCreate, ShareLinkRevokeInput, ShareLinkValidateInput, ShareTilejsonInput,
};
use geopera_types::rfc3339::{format_date_time, parse_api_date_time, parse_date_time};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;

use super::projects::{require_role_if_kept, Role};
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resource, Resources};
use crate::uploads::sha256_hex;

/// The longest a link may live, in days.
const MAX_LINK_DAYS: i64 = 365;

/// Where a link's tiles are served: `/assets/share/{key}/{z}/{x}/{y}.png`, the URL
/// `share.tilejson` hands out, `key` being the link's [`tiles_key`].
pub(crate) const SHARE_TILES_KIND: &str = "share";

pub(crate) fn create(ctx: &Ctx<'_>, input: ShareLinkCreate) -> Outcome {
    let now = ctx.now();
    let expires_at = parse_api_date_time(&input.expires_at)
        .filter(|at| *at > now && *at <= now + MAX_LINK_DAYS * 86_400)
        .ok_or_else(|| {
            ApiError::invalid(
                &["expires_at"],
                format!("expires_at must be in the future and at most {MAX_LINK_DAYS} days away"),
            )
        })?;
    let target_type = serde_json::to_value(&input.target_type).unwrap_or(Value::Null);
    let family = match target_type.as_str() {
        Some("collection") => Family::Collection,
        _ => Family::Item,
    };
    let token = format!("shr_{}", super::random_hex(24)?);
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    let target = inner
        .resources
        .get(family, ctx.org, None, &input.target_id)?;
    let project = target
        .str("project_id")
        .or(target.parent.as_deref())
        .unwrap_or_default()
        .to_owned();
    // Sharing what a project holds is an editor's, as revoking the link is.
    require_role_if_kept(ctx, &inner.resources, &project, Role::Editor)?;
    let password_sha256 = sha256_hex(input.password.expose().as_bytes());
    let mut fields = Map::new();
    fields.insert(
        TOKEN_DIGEST.to_owned(),
        Value::from(sha256_hex(token.as_bytes())),
    );
    fields.insert(
        TILES_DIGEST.to_owned(),
        Value::from(sha256_hex(tiles_key(&token, &password_sha256).as_bytes())),
    );
    fields.insert("target_type".to_owned(), target_type);
    fields.insert("target_id".to_owned(), Value::from(input.target_id));
    fields.insert("permission".to_owned(), json!(input.permission));
    fields.insert("organization_id".to_owned(), Value::from(ctx.org));
    fields.insert("project_id".to_owned(), Value::from(project));
    fields.insert(
        "expires_at".to_owned(),
        Value::from(format_date_time(expires_at)),
    );
    fields.insert("revoked_at".to_owned(), Value::Null);
    fields.insert("access_count".to_owned(), Value::from(0));
    fields.insert("last_accessed_at".to_owned(), Value::Null);
    fields.insert("created_by".to_owned(), Value::Null);
    fields.insert("password_sha256".to_owned(), Value::from(password_sha256));
    // A revoked or expired link, or one whose target is gone, opens nothing again, and no
    // operation deletes it: the oldest such goes when the organization holds the most links
    // it may, or ten thousand over its lifetime would refuse every new one for ever.
    inner
        .resources
        .retire_oldest_settled(Family::ShareLink, ctx.org, |resources, link| {
            !live(link, now) || self::target(resources, link).is_none()
        });
    let link = inner.resources.create(
        &mut inner.rng,
        Family::ShareLink,
        ctx.org,
        None,
        now,
        fields,
    )?;
    // The token is answered once, here: the record keeps only its digest.
    let mut answer = link_json(link);
    if let Some(map) = answer.as_object_mut() {
        map.insert("token".to_owned(), Value::from(token));
    }
    Ok(ctx.ok(&answer))
}

pub(crate) fn revoke(ctx: &Ctx<'_>, input: ShareLinkRevokeInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let project = inner
        .resources
        .get(Family::ShareLink, ctx.org, None, &input.link_id)?
        .str("project_id")
        .unwrap_or_default()
        .to_owned();
    // A link whose project is gone is anyone's of the organization to revoke.
    require_role_if_kept(ctx, &inner.resources, &project, Role::Editor)?;
    let link = inner
        .resources
        .get_mut(Family::ShareLink, ctx.org, None, &input.link_id)?;
    if link.fields.get("revoked_at").is_none_or(Value::is_null) {
        link.set("revoked_at", Some(format_date_time(now)));
        link.updated_at = now;
    }
    Ok(ctx.ok(&json!({"ok": true, "id": link.id})))
}

pub(crate) fn validate(ctx: &Ctx<'_>, input: ShareLinkValidateInput) -> Outcome {
    let (link, target) = open(ctx, input.token.expose(), input.password.expose())?;
    Ok(ctx.ok(&json!({
        "permission": link.fields.get("permission"),
        "target_type": link.fields.get("target_type"),
        "target": target,
    })))
}

/// A TileJSON document whose tile URL names the link's token.
pub(crate) fn tilejson(ctx: &Ctx<'_>, input: ShareTilejsonInput) -> Outcome {
    let (link, _) = open(ctx, input.token.expose(), input.password.expose())?;
    let key = tiles_key(
        input.token.expose(),
        link.str("password_sha256").unwrap_or_default(),
    );
    Ok(ctx.ok(&json!({
        "tilejson": "3.0.0",
        "name": link.fields.get("target_id"),
        "scheme": "xyz",
        "tiles": [super::tiles::tile_template(
            &ctx.shared.base_url,
            &["assets", SHARE_TILES_KIND, &key],
            &[],
        )?],
        "minzoom": 0,
        "maxzoom": 22,
        "bounds": [-180.0, -85.051_128_78, 180.0, 85.051_128_78],
    })))
}

/// The live link `token` names, if `password` is its password, counted as one access, with
/// its target as answered.
///
/// # Errors
/// 404 for an unknown, revoked or expired token and for a wrong password alike.
pub(super) fn open(
    ctx: &Ctx<'_>,
    token: &str,
    password: &str,
) -> Result<(Resource, Value), ApiError> {
    let now = ctx.now();
    let gone = || ApiError::not_found("no live share link matches this token and password");
    let offered = sha256_hex(password.as_bytes());
    // Hashed once, not once for every link looked at under the lock.
    let token = sha256_hex(token.as_bytes());
    let mut inner = ctx.shared.lock();
    let link = inner
        .resources
        .find_mut(Family::ShareLink, |link| has_token_digest(link, &token))
        .ok_or_else(gone)?;
    let password_ok = link
        .str("password_sha256")
        .is_some_and(|kept| bool::from(kept.as_bytes().ct_eq(offered.as_bytes())));
    if !live(link, now) || !password_ok {
        return Err(gone());
    }
    let count = link
        .fields
        .get("access_count")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    link.set("access_count", Some(count.saturating_add(1)));
    link.set("last_accessed_at", Some(format_date_time(now)));
    let link = link.clone();
    let target = target(&inner.resources, &link).ok_or_else(gone)?;
    // As `items.get` and `collections.get` answer it.
    let target = match target.family {
        Family::Collection => super::projects::collection_json(&inner.resources, target),
        _ => super::items::item_json(target),
    };
    Ok((link, target))
}

/// Whether the tiles of the link whose [`tiles_key`] is `key` are served at `now`: it is live
/// and its target is still there, as [`open`] judges a link, without the password (the tile
/// URL is handed out by `share.tilejson`, which checked it; map clients fetching tiles cannot
/// send one). Checked on every tile rather than signed into the URL: a map keeps a TileJSON
/// for as long as the link lives, past any short signature, and a revoked link has to stop at
/// once, which only a look at the link itself can tell. Tile fetches are not counted as
/// accesses.
pub(crate) fn share_tiles_live(resources: &Resources, key: &str, now: i64) -> bool {
    let offered = sha256_hex(key.as_bytes());
    resources
        .find(Family::ShareLink, |link| {
            link.str(TILES_DIGEST)
                .is_some_and(|kept| bool::from(kept.as_bytes().ct_eq(offered.as_bytes())))
        })
        .is_some_and(|link| live(link, now) && target(resources, link).is_some())
}

/// The member of a link's record that keeps the SHA-256 digest of its token, and the one that
/// keeps the digest of its [`tiles_key`]: the state file keeps no secret in clear, so that a
/// copy of it opens no share and serves no shared tile.
pub(crate) const TOKEN_DIGEST: &str = "token_sha256";
pub(crate) const TILES_DIGEST: &str = "tiles_sha256";

/// What names a link's tiles in their URL: a digest of its token and its password's digest,
/// never the token. The token is what a link's owner passes around, the password apart; named
/// by the token, the tiles were served to anyone who had it without the password. Made from
/// the token, which `share.tilejson`'s caller gives and the record does not keep, so that the
/// record's digests alone cannot make it.
pub(crate) fn tiles_key(token: &str, password_sha256: &str) -> String {
    format!(
        "shrt_{}",
        sha256_hex(format!("share tiles\n{token}\n{password_sha256}").as_bytes())
    )
}

/// Whether `link`'s token has the digest `offered`, compared in constant time.
fn has_token_digest(link: &Resource, offered: &str) -> bool {
    link.str(TOKEN_DIGEST)
        .is_some_and(|kept| bool::from(kept.as_bytes().ct_eq(offered.as_bytes())))
}

/// Whether `link` is neither expired nor revoked at `now`.
fn live(link: &Resource, now: i64) -> bool {
    let expired = link
        .str("expires_at")
        .and_then(parse_date_time)
        .is_none_or(|at| at <= now);
    let revoked = link
        .fields
        .get("revoked_at")
        .is_some_and(|at| !at.is_null());
    !expired && !revoked
}

/// What `link` shares, while it exists.
fn target<'a>(resources: &'a Resources, link: &Resource) -> Option<&'a Resource> {
    let family = match link.str("target_type") {
        Some("collection") => Family::Collection,
        _ => Family::Item,
    };
    resources
        .get(
            family,
            &link.org,
            None,
            link.str("target_id").unwrap_or_default(),
        )
        .ok()
}

/// The link as answered: never the password's digest.
fn link_json(link: &Resource) -> Value {
    let mut out = link.to_json();
    if let Some(map) = out.as_object_mut() {
        for kept in ["password_sha256", TOKEN_DIGEST, TILES_DIGEST, "updated_at"] {
            map.remove(kept);
        }
    }
    out
}
