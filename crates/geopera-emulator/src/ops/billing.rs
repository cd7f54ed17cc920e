//! `billing.*`: the organization's credit balance.

use geopera_types::models::Empty;
use geopera_types::JsonObject;
use serde_json::{json, Value};

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
/// names clients use.
pub(crate) fn topup(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let credits = if let Some(credits) = body.get("credits").and_then(Value::as_i64) {
        credits
    } else if let Some(amount) = ["amount_aud", "amountAud", "amount"]
        .iter()
        .find_map(|name| body.get(*name).and_then(Value::as_f64))
    {
        to_credits(amount)
    } else {
        return Err(ApiError::invalid(
            &["amount_aud"],
            "give amount_aud (A$) or credits",
        ));
    };
    if !(1..=1_000_000_000).contains(&credits) {
        return Err(ApiError::invalid(
            &["amount_aud"],
            "the amount must be positive and at most A$10,000,000",
        ));
    }
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
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
