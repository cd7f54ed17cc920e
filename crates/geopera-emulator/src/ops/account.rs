//! What an organization keeps about how it buys: tasking order templates, payment methods
//! (the emulator's stand-ins for the payment provider's objects), credit purchase approvals
//! and the automatic top-up setting.
//!
//! Approving a credit approval charges the organization's default payment method and adds
//! its credits to the balance, as a top-up does, so a workflow that needs an approval before
//! spending can be exercised end to end.

use geopera_types::models::{
    ApprovalGetInput, ApprovalRefInput, ApprovalsListInput, AttachInput, DetachInput, Empty,
    OrganizationCreateInput, RejectApprovalInput, RequestApprovalInput, SetAutoTopupInput,
    SetDefaultInput, SetupIntentInput, TemplateDeleteInput, TemplateListInput, TemplateSaveInput,
};
use http::StatusCode;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::CodePointMapData;
use serde_json::{json, Map, Value};

use super::card::{has_default_card, no_default_card};
use super::ledger::Reason;
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resource};

/// The largest credit approval that may be requested (A$10,000,000, the top-up bound).
const MAX_APPROVAL_CREDITS: i64 = 1_000_000_000;
/// How long an approval waits for a decision unless the request says otherwise, in hours.
const DEFAULT_APPROVAL_HOURS: i64 = 72;
/// The longest an approval may wait, in hours.
const MAX_APPROVAL_HOURS: i64 = 24 * 30;

pub(crate) fn save_template(ctx: &Ctx<'_>, input: TemplateSaveInput) -> Outcome {
    let now = ctx.now();
    let fields = match serde_json::to_value(&input) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    let template = inner.resources.create(
        &mut inner.rng,
        Family::TaskingTemplate,
        ctx.org,
        None,
        now,
        fields,
    )?;
    Ok(ctx.ok(&json!({"id": template.id, "name": input.name})))
}

pub(crate) fn list_templates(ctx: &Ctx<'_>, _input: TemplateListInput) -> Outcome {
    let inner = ctx.shared.lock();
    let templates: Vec<Value> = inner
        .resources
        .list(Family::TaskingTemplate, ctx.org, None)
        .into_iter()
        .map(Resource::to_json)
        .collect();
    Ok(ctx.ok(&json!({"templates": templates})))
}

pub(crate) fn delete_template(ctx: &Ctx<'_>, input: TemplateDeleteInput) -> Outcome {
    let mut inner = ctx.shared.lock();
    let removed =
        inner
            .resources
            .remove(Family::TaskingTemplate, ctx.org, None, &input.template_id)?;
    Ok(ctx.ok(&json!({"template_id": removed.id, "deleted": true})))
}

/// A setup intent keeps nothing until a method is attached, as with the payment provider.
pub(crate) fn create_setup_intent(ctx: &Ctx<'_>, _input: SetupIntentInput) -> Outcome {
    let secret_part = super::random_hex(12)?;
    let mut inner = ctx.shared.lock();
    let intent = format!("seti_{}", inner.rng.hex(12));
    // The client secret confirms the intent with the payment provider, so it must not
    // follow from the seed as the intent's id does.
    let secret = format!("{intent}_secret_{secret_part}");
    Ok(ctx.ok(&json!({
        "client_secret": secret,
        "setup_intent_id": intent,
        "customer_id": format!("cus_{}", crate::rng::fnv(ctx.org) & 0xffff_ffff),
        "env": "emulator",
    })))
}

/// Attaches a method; the organization's first becomes its default.
pub(crate) fn attach_payment_method(ctx: &Ctx<'_>, input: AttachInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    let existing = inner.resources.list(Family::PaymentMethod, ctx.org, None);
    if existing
        .iter()
        .any(|m| m.str("payment_method_id") == Some(input.payment_method_id.as_str()))
    {
        return Err(ApiError::conflict(format!(
            "payment method '{}' is already attached",
            input.payment_method_id
        )));
    }
    let first = existing.is_empty();
    let mut fields = Map::new();
    fields.insert(
        "payment_method_id".to_owned(),
        Value::from(input.payment_method_id),
    );
    fields.insert("isDefault".to_owned(), Value::Bool(first));
    fields.insert("brand".to_owned(), Value::from("visa"));
    fields.insert("last4".to_owned(), Value::from("4242"));
    let method = inner.resources.create(
        &mut inner.rng,
        Family::PaymentMethod,
        ctx.org,
        None,
        now,
        fields,
    )?;
    Ok(ctx.ok(&method.to_json()))
}

/// Makes one method the default and every other method of the organization not.
pub(crate) fn set_default_payment_method(ctx: &Ctx<'_>, input: SetDefaultInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let id = input.payment_method_row_id;
    inner
        .resources
        .get(Family::PaymentMethod, ctx.org, None, &id)?;
    let others: Vec<String> = inner
        .resources
        .list(Family::PaymentMethod, ctx.org, None)
        .iter()
        .map(|m| m.id.clone())
        .collect();
    for other in others {
        if let Ok(method) = inner
            .resources
            .get_mut(Family::PaymentMethod, ctx.org, None, &other)
        {
            method.set("isDefault", Some(other == id));
            method.updated_at = now;
        }
    }
    let method = inner
        .resources
        .get(Family::PaymentMethod, ctx.org, None, &id)?;
    Ok(ctx.ok(&method.to_json()))
}

/// Detaches a method, the default one too, even while auto top-up is on: a card is its
/// owner's to take away, as with the payment provider. Auto top-up then stays on but buys
/// nothing until the organization has a default card again, and turning it on is 402 until
/// then (see [`set_auto_topup`]).
pub(crate) fn detach_payment_method(ctx: &Ctx<'_>, input: DetachInput) -> Outcome {
    let mut inner = ctx.lock_org();
    inner.resources.remove(
        Family::PaymentMethod,
        ctx.org,
        None,
        &input.payment_method_row_id,
    )?;
    Ok(ctx.ok(&json!({"ok": true})))
}

pub(crate) fn list_payment_methods(ctx: &Ctx<'_>, _input: Empty) -> Outcome {
    let inner = ctx.lock_org();
    let methods: Vec<Value> = inner
        .resources
        .list(Family::PaymentMethod, ctx.org, None)
        .into_iter()
        .map(Resource::to_json)
        .collect();
    Ok(ctx.ok(&json!({"payment_methods": methods})))
}

pub(crate) fn request_approval(ctx: &Ctx<'_>, input: RequestApprovalInput) -> Outcome {
    if !(1..=MAX_APPROVAL_CREDITS).contains(&input.credits) {
        return Err(ApiError::invalid(
            &["credits"],
            format!("credits must be 1 to {MAX_APPROVAL_CREDITS}"),
        ));
    }
    let hours = input.expiry_hours.unwrap_or(DEFAULT_APPROVAL_HOURS);
    if !(1..=MAX_APPROVAL_HOURS).contains(&hours) {
        return Err(ApiError::invalid(
            &["expiry_hours"],
            format!("expiry_hours must be 1 to {MAX_APPROVAL_HOURS}"),
        ));
    }
    let now = ctx.now();
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), Value::from(ctx.org));
    fields.insert("credits".to_owned(), Value::from(input.credits));
    fields.insert("status".to_owned(), Value::from("pending"));
    fields.insert(
        "expires_at_unix".to_owned(),
        Value::from(now + hours * 3600),
    );
    fields.insert("reason".to_owned(), Value::Null);
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    inner
        .resources
        .retire_oldest_settled(Family::Approval, ctx.org, |_, a| {
            approval_status(a, now) != "pending"
        });
    let approval =
        inner
            .resources
            .create(&mut inner.rng, Family::Approval, ctx.org, None, now, fields)?;
    Ok(ctx.ok(&approval_json(approval, now)))
}

/// Approves a credit purchase, which only a person may: a key is automation, and one that
/// could approve would let a script request credits and approve them itself. Approving
/// charges the organization's default card off-session, so one with none is refused.
///
/// # Errors
/// 403 for an API key or a session started with one; otherwise as [`decide`].
pub(crate) fn approve(ctx: &Ctx<'_>, input: ApprovalRefInput) -> Outcome {
    if !ctx.person {
        return Err(ApiError::problem(
            StatusCode::FORBIDDEN,
            "a credit purchase is approved by a person signed in, not by an API key",
        ));
    }
    decide(ctx, &input.approval_id, "approved", None)
}

pub(crate) fn reject(ctx: &Ctx<'_>, input: RejectApprovalInput) -> Outcome {
    decide(ctx, &input.approval_id, "rejected", input.reason)
}

/// Settles a pending approval; approving charges the organization's default card for its
/// credits and adds them to the balance.
///
/// # Errors
/// 404 for another organization's or an unknown approval; 409 once it is settled, 410 once
/// it has expired; 402 when approving and the organization has no default card to charge.
fn decide(ctx: &Ctx<'_>, id: &str, status: &str, reason: Option<String>) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let approval = inner.resources.get(Family::Approval, ctx.org, None, id)?;
    let current = approval_status(approval, now);
    // An approval that ran out of time is gone (410, as the API answers what expired); one
    // already decided is a state conflict (409).
    if current == "expired" {
        return Err(ApiError::problem(
            StatusCode::GONE,
            format!("approval '{id}' expired and can no longer be decided"),
        ));
    }
    if current != "pending" {
        return Err(ApiError::conflict(format!(
            "approval '{id}' is {current} and can no longer be decided"
        )));
    }
    // The purchase is charged to the card off-session charges use (payment_methods.set_default),
    // as a payment the API cannot take: 402, and the approval stays pending.
    if status == "approved" && !has_default_card(&inner.resources, ctx.org) {
        return Err(no_default_card("approving a credit purchase"));
    }
    let approval = inner
        .resources
        .get_mut(Family::Approval, ctx.org, None, id)?;
    approval.set("status", Some(status));
    approval.set("reason", reason);
    approval.updated_at = now;
    let reply = approval_json(approval, now);
    let credits = approval
        .fields
        .get("credits")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if status == "approved" {
        inner.move_credits(ctx.org, ctx.shared.seed, now, credits, Reason::Approval, id);
    }
    Ok(ctx.ok(&reply))
}

pub(crate) fn get_approval(ctx: &Ctx<'_>, input: ApprovalGetInput) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let approval = inner
        .resources
        .get(Family::Approval, ctx.org, None, &input.approval_id)?;
    Ok(ctx.ok(&approval_json(approval, now)))
}

/// The contract gives this list no paging fields; an organization holds at most
/// [`crate::resources::MAX_PER_ORG`] approvals.
pub(crate) fn list_approvals(ctx: &Ctx<'_>, input: ApprovalsListInput) -> Outcome {
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let approvals: Vec<Value> = inner
        .resources
        .list(Family::Approval, ctx.org, None)
        .into_iter()
        .filter(|a| {
            input
                .status
                .as_deref()
                .is_none_or(|wanted| approval_status(a, now) == wanted)
        })
        .map(|a| approval_json(a, now))
        .collect();
    Ok(ctx.ok(&json!({"total": approvals.len(), "approvals": approvals})))
}

/// `pending` turns `expired` on the emulator's clock once its deadline passes.
fn approval_status(approval: &Resource, now: i64) -> &str {
    let status = approval.str("status").unwrap_or("pending");
    let deadline = approval
        .fields
        .get("expires_at_unix")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    if status == "pending" && now >= deadline {
        "expired"
    } else {
        status
    }
}

fn approval_json(approval: &Resource, now: i64) -> Value {
    let mut out = approval.to_json();
    if let Some(map) = out.as_object_mut() {
        let deadline = map.remove("expires_at_unix").and_then(|v| v.as_i64());
        map.insert(
            "expires_at".to_owned(),
            json!(deadline.map(geopera_types::rfc3339::format_date_time)),
        );
        map.insert(
            "status".to_owned(),
            Value::from(approval_status(approval, now)),
        );
    }
    out
}

/// Replaces the organization's auto top-up setting. Every automatic top-up charges the
/// default card off-session, so turning it on without one is 402 and keeps the old setting;
/// turning it off needs no card.
///
/// # Errors
/// 422 for a negative threshold or cap, or an amount outside the top-up bounds; 402 when
/// `enabled` and the organization has no default card.
pub(crate) fn set_auto_topup(ctx: &Ctx<'_>, input: SetAutoTopupInput) -> Outcome {
    if input.threshold_credits < 0 {
        return Err(ApiError::invalid(
            &["threshold_credits"],
            "threshold_credits must not be negative",
        ));
    }
    if !(1..=MAX_APPROVAL_CREDITS).contains(&input.topup_amount_credits) {
        return Err(ApiError::invalid(
            &["topup_amount_credits"],
            format!("topup_amount_credits must be 1 to {MAX_APPROVAL_CREDITS}"),
        ));
    }
    if input
        .daily_charge_cap_aud
        .is_some_and(|cap| !cap.is_finite() || cap < 0.0)
    {
        return Err(ApiError::invalid(
            &["daily_charge_cap_aud"],
            "daily_charge_cap_aud must be a non-negative amount",
        ));
    }
    let now = ctx.now();
    let mut fields = Map::new();
    fields.insert("enabled".to_owned(), Value::Bool(input.enabled));
    fields.insert(
        "threshold_credits".to_owned(),
        Value::from(input.threshold_credits),
    );
    fields.insert(
        "topup_amount_credits".to_owned(),
        Value::from(input.topup_amount_credits),
    );
    fields.insert(
        "daily_charge_cap_aud".to_owned(),
        json!(input.daily_charge_cap_aud),
    );
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    if input.enabled && !has_default_card(&inner.resources, ctx.org) {
        return Err(no_default_card("each automatic top-up"));
    }
    // One setting per organization: the newest replaces the old.
    let old: Vec<String> = inner
        .resources
        .list(Family::AutoTopup, ctx.org, None)
        .iter()
        .map(|r| r.id.clone())
        .collect();
    for id in old {
        let _ = inner
            .resources
            .remove(Family::AutoTopup, ctx.org, None, &id);
    }
    let setting = inner.resources.create(
        &mut inner.rng,
        Family::AutoTopup,
        ctx.org,
        None,
        now,
        fields,
    )?;
    Ok(ctx.ok(&auto_topup_json(Some(setting))))
}

pub(crate) fn get_auto_topup(ctx: &Ctx<'_>, _input: Empty) -> Outcome {
    let inner = ctx.shared.lock();
    let setting = inner
        .resources
        .list(Family::AutoTopup, ctx.org, None)
        .into_iter()
        .next();
    Ok(ctx.ok(&auto_topup_json(setting)))
}

/// The setting as answered; an organization that never set one has it off.
fn auto_topup_json(setting: Option<&Resource>) -> Value {
    let field = |name: &str| setting.and_then(|s| s.fields.get(name).cloned());
    json!({
        "enabled": field("enabled").unwrap_or(Value::Bool(false)),
        "threshold_credits": field("threshold_credits").unwrap_or(Value::from(0)),
        "topup_amount_credits": field("topup_amount_credits").unwrap_or(Value::from(0)),
        "daily_charge_cap_aud": field("daily_charge_cap_aud").unwrap_or(Value::Null),
    })
}

/// Letters and digits of any script make the words of a slug ("日本" is a name, not
/// punctuation), and everything else separates them. The name is composed (NFC) first so that
/// `é` typed as `e` + U+0301 gives the same slug as `é` typed as one character. A combining
/// mark left after that (a Devanagari virama or vowel sign, an accent with no precomposed
/// form) belongs to the word it follows, as its reader sees it, rather than splitting it; so
/// does one zero-width joiner or non-joiner between two letters outside ASCII (Persian
/// `می‌خواهم`, Devanagari `क्‍ष`), which changes how the word is drawn, not where it ends.
/// Between ASCII letters it changes nothing a reader sees, so it is dropped rather than kept
/// as an invisible difference (`ac`, U+200D, `me` is `acme`); a run of them counts as one.
fn slug_of(name: &str) -> String {
    let category = CodePointMapData::<GeneralCategory>::new();
    let name = ComposingNormalizerBorrowed::new_nfc()
        .normalize(name)
        .to_lowercase();
    let mut slug = String::with_capacity(name.len());
    let mut in_word = false;
    // The joiner seen inside the current word, if any, and the character before it.
    let mut joiner: Option<char> = None;
    let mut before = ' ';
    for c in name.chars() {
        if in_word && matches!(c, '\u{200c}' | '\u{200d}') {
            joiner.get_or_insert(c);
            continue;
        }
        let mark = GeneralCategoryGroup::Mark.contains(category.get(c));
        let kept = c.is_alphanumeric() || (in_word && mark);
        if kept {
            if in_word {
                if let Some(joiner) = joiner.filter(|_| !before.is_ascii() && !c.is_ascii()) {
                    slug.push(joiner);
                }
            } else if !slug.is_empty() {
                slug.push('-');
            }
            slug.push(c);
            before = c;
        }
        joiner = None;
        in_word = kept;
    }
    slug
}

/// Records a new organization. The caller stays in its own: membership of the new one is the
/// sign-in service's business, which the emulator's users do not model.
pub(crate) fn create_organization(ctx: &Ctx<'_>, input: OrganizationCreateInput) -> Outcome {
    let slug = slug_of(&input.name);
    if slug.is_empty() {
        return Err(ApiError::invalid(
            &["name"],
            "name needs at least one letter or digit",
        ));
    }
    let now = ctx.now();
    let fields = match serde_json::to_value(&input) {
        Ok(Value::Object(mut map)) => {
            map.insert("slug".to_owned(), Value::from(slug));
            map.insert("created_by_organization".to_owned(), Value::from(ctx.org));
            map
        }
        _ => Map::new(),
    };
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    let organization = inner.resources.create(
        &mut inner.rng,
        Family::Organization,
        ctx.org,
        None,
        now,
        fields,
    )?;
    Ok(ctx.ok(&organization.to_json()))
}
