//! `usage.*`: what the organization has spent and stored, read from the credit ledger and
//! the upload records, by calendar month (UTC) on the emulator's clock.

use geopera_types::models::{RecalculateInput, UsageCurrentInput, UsageHistoryInput};
use geopera_types::rfc3339::civil_from_days;
use serde_json::{json, Value};

use super::{aud, Ctx, Outcome};
use crate::resources::Family;
use crate::state::Inner;
use crate::uploads::{expire_idle, Storage, STORAGE_QUOTA_BYTES};

/// The most months `usage.history` answers.
pub(crate) const MAX_MONTHS: usize = 36;

pub(crate) fn current(ctx: &Ctx<'_>, input: UsageCurrentInput) -> Outcome {
    ctx.own_org(&input.organization_id)?;
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    expire_idle(&mut inner, Some(ctx.org), ctx.shared.clock.now_millis());
    let month = month_of(now);
    let mut usage = month_usage(&inner, ctx.org, month);
    if let Some(object) = usage.as_object_mut() {
        object.insert("organization_id".to_owned(), Value::from(ctx.org));
        object.insert(
            "storage".to_owned(),
            storage_json(Storage::of(&inner.resources, ctx.org)),
        );
    }
    Ok(ctx.ok(&usage))
}

/// The last `months` months, this one first.
pub(crate) fn history(ctx: &Ctx<'_>, input: UsageHistoryInput) -> Outcome {
    ctx.own_org(&input.organization_id)?;
    let months = input
        .months
        .clamp(1, i64::try_from(MAX_MONTHS).unwrap_or(i64::MAX));
    let now = ctx.now();
    let inner = ctx.shared.lock();
    let (year, month) = month_of(now);
    let history: Vec<Value> = (0..months)
        .map(|back| {
            let index = year * 12 + (month - 1) - back;
            month_usage(
                &inner,
                ctx.org,
                (index.div_euclid(12), index.rem_euclid(12) + 1),
            )
        })
        .collect();
    Ok(ctx.ok(&json!({"organization_id": ctx.org, "months": history})))
}

/// Storage is always counted from the upload records, so recalculating finds what a read
/// finds; the answer says so by giving the same numbers.
pub(crate) fn recalculate_storage(ctx: &Ctx<'_>, input: RecalculateInput) -> Outcome {
    ctx.own_org(&input.organization_id)?;
    let mut inner = ctx.shared.lock();
    expire_idle(&mut inner, Some(ctx.org), ctx.shared.clock.now_millis());
    let storage = Storage::of(&inner.resources, ctx.org);
    Ok(ctx.ok(&json!({
        "organization_id": ctx.org,
        "storage": storage_json(storage),
        "corrected": false,
    })))
}

/// Credits spent and refunded, and orders placed, in one month: the ledger's entries of that
/// month, and those it dropped ([`Folded`](crate::records::Folded)).
fn month_usage(inner: &Inner, org: &str, month: (i64, i64)) -> Value {
    let period = period(month);
    let mut totals = inner
        .orgs
        .get(org)
        .and_then(|org| org.folded.months.get(&period))
        .copied()
        .unwrap_or_default();
    for transaction in inner.resources.list(Family::Transaction, org, None) {
        if month_of(transaction.created_at) != month {
            continue;
        }
        let credits = transaction
            .fields
            .get("credits")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        totals.count(transaction.str("reason"), credits);
    }
    let net = totals.spent.saturating_sub(totals.refunded);
    json!({
        "period": period,
        "orders_placed": totals.orders,
        "credits_spent": totals.spent,
        "credits_refunded": totals.refunded,
        "net_credits": net,
        "net_aud": aud(net),
    })
}

/// How answers name a month: `"YYYY-MM"`.
pub(crate) fn period((year, month): (i64, i64)) -> String {
    format!("{year:04}-{month:02}")
}

fn storage_json(storage: Storage) -> Value {
    json!({
        "quota_bytes": STORAGE_QUOTA_BYTES,
        "used_bytes": storage.used,
        "reserved_bytes": storage.reserved,
        "free_bytes": storage.free(),
    })
}

/// The UTC calendar month `(year, month)` of a Unix time.
pub(crate) fn month_of(unix_secs: i64) -> (i64, i64) {
    let (year, month, _) = civil_from_days(unix_secs.div_euclid(86_400));
    (year, month)
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
