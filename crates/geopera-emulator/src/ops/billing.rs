//! `billing.*`: the organization's credit balance.

use geopera_types::models::Empty;
use geopera_types::JsonObject;
use serde_json::{json, Value};

use super::card::{has_default_card, no_default_card};
use super::ledger::Reason;
use super::{aud, to_credits, Ctx, Outcome};
use crate::error::ApiError;
use geopera_types::rfc3339::format_date_time;

pub(crate) fn balance(ctx: &Ctx<'_>, _input: Empty) -> Outcome {
    let now = ctx.now();
    let balance = ctx
        .shared
        .lock()
        .org(ctx.org, ctx.shared.seed, now)
        .balance_credits;
    Ok(ctx.ok(&json!({
        "organization_id": ctx.org,
        "credits": balance,
        "balance_credits": balance,
        "balance_aud": aud(balance),
        "currency": "AUD",
    })))
}

/// The contract leaves the body free-form: `credits`, or an amount in A$ under any of the
/// names clients use. The purchase is charged to the organization's default card.
///
/// # Errors
/// 422 for no amount, two amounts or one out of bounds; 402 when the organization has no
/// default card, in which case nothing is charged or recorded.
pub(crate) fn topup(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let amounts: Vec<(&str, &Value)> = ["credits", "amount_aud", "amountAud", "amount"]
        .iter()
        .filter_map(|name| Some((*name, body.get(*name).filter(|v| !v.is_null())?)))
        .collect();
    // One amount, said once: a second one would be dropped without a word.
    let (field, value) = match amounts.as_slice() {
        [] => {
            return Err(ApiError::invalid(
                &["amount_aud"],
                "give amount_aud (A$) or credits",
            ))
        }
        [one] => *one,
        [(first, _), (second, _), ..] => {
            return Err(ApiError::invalid(
                &[second],
                format!("give one amount: {first} or {second}, not both"),
            ))
        }
    };
    // A whole number written as a float (`1000.0`, as Python's `json.dumps` writes one) is
    // that number, as the typed members of other bodies take it; the idempotency fingerprint
    // reads the two alike, so a refusal of one would be replayed to the other.
    let whole = value
        .as_f64()
        .filter(|credits| credits.fract() == 0.0 && credits.abs() < 9.0e15)
        .map(|credits| credits as i64);
    let credits = match (field, value.as_i64().or(whole), value.as_f64()) {
        ("credits", Some(credits), _) => credits,
        ("credits", None, _) => {
            return Err(ApiError::invalid(
                &["credits"],
                "credits is a whole number of credits",
            ))
        }
        (_, _, Some(amount)) => to_credits(amount),
        (_, _, None) => {
            return Err(ApiError::invalid(
                &[field],
                format!("{field} is an amount in A$"),
            ))
        }
    };
    if !(1..=1_000_000_000).contains(&credits) {
        return Err(ApiError::invalid(
            &[field],
            "the amount must be positive and at most A$10,000,000",
        ));
    }
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    if !has_default_card(&inner.resources, ctx.org) {
        return Err(no_default_card("a top-up"));
    }
    let topup_id = format!("top_{}", inner.rng.hex(8));
    let balance = inner.move_credits(
        ctx.org,
        ctx.shared.seed,
        now,
        credits,
        Reason::Topup,
        &topup_id,
    );
    Ok(ctx.ok(&json!({
        "id": topup_id,
        "credits_added": credits,
        "amount_aud": aud(credits),
        "balance_credits": balance,
        "balance_aud": aud(balance),
        "currency": "AUD",
        "created_at": format_date_time(now),
    })))
}
