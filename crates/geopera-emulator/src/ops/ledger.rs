//! The credit ledger: every change to an organization's balance is one transaction, so
//! `billing.credits.transactions` can show where credits went and invoices follow from what
//! was bought.
//!
//! Why the ledger drops its oldest entries instead of refusing, unlike other families: a
//! transaction is a side effect of spending, and a full ledger must never stop an order. It
//! keeps the newest [`MAX_TRANSACTIONS`] per organization, and adds each entry it drops to
//! the organization's [`Folded`] sums, which usage and the auto top-up's daily cap read.

use geopera_types::models::{InvoicesInput, OrgStatusInput, TransactionsInput};
use geopera_types::rfc3339::format_date_time;
use serde_json::{json, Map, Value};

use super::card::has_default_card;
use super::usage;
use super::{aud, Ctx, Outcome, MAX_PAGE_SIZE};
use crate::records::{Folded, MonthTotals};
use crate::resources::{page, Family, Resource, MAX_PER_ORG};
use crate::state::Inner;

/// The transactions kept per organization.
pub const MAX_TRANSACTIONS: usize = MAX_PER_ORG;

/// Why a balance moved.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reason {
    /// An order was placed (credits out).
    Order,
    /// A tasking order's accepted option cost more than was paid for it (credits out): spent,
    /// and no order of its own.
    Surcharge,
    /// An order was cancelled and refunded (credits in).
    Refund,
    /// Credits were bought (in).
    Topup,
    /// A credit approval was granted (in).
    Approval,
    /// The organization's auto top-up bought credits after a charge left the balance below
    /// its threshold (in).
    AutoTopup,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Order => "order",
            Reason::Surcharge => "surcharge",
            Reason::Refund => "refund",
            Reason::Topup => "topup",
            Reason::Approval => "approval",
            Reason::AutoTopup => "auto_topup",
        }
    }

    /// Whether credits were bought, and so invoiced.
    fn invoiced(name: &str) -> bool {
        [Reason::Topup, Reason::Approval, Reason::AutoTopup]
            .iter()
            .any(|reason| reason.name() == name)
    }
}

impl Inner {
    /// Moves `credits` (negative to spend) on `org`'s balance and records why; returns the new
    /// balance.
    pub(crate) fn move_credits(
        &mut self,
        org: &str,
        seed: u64,
        now: i64,
        credits: i64,
        reason: Reason,
        reference: &str,
    ) -> i64 {
        let account = self.org_mut(org, seed, now);
        account.balance_credits = account.balance_credits.saturating_add(credits);
        let balance = account.balance_credits;
        if self.resources.count(Family::Transaction, org) >= MAX_TRANSACTIONS {
            let oldest = self
                .resources
                .owned(Family::Transaction, org)
                .next()
                .map(|r| r.id.clone())
                .unwrap_or_default();
            if let Ok(dropped) = self
                .resources
                .remove(Family::Transaction, org, None, &oldest)
            {
                fold(&mut self.org_mut(org, seed, now).folded, &dropped);
            }
        }
        let mut fields = Map::new();
        fields.insert("reason".to_owned(), Value::from(reason.name()));
        fields.insert("credits".to_owned(), Value::from(credits));
        fields.insert("amount_aud".to_owned(), Value::from(aud(credits)));
        fields.insert("balance_after_credits".to_owned(), Value::from(balance));
        fields.insert("reference".to_owned(), Value::from(reference));
        let _ = self
            .resources
            .create(&mut self.rng, Family::Transaction, org, None, now, fields);
        if credits < 0 {
            return self.auto_topup(org, seed, now, balance).unwrap_or(balance);
        }
        balance
    }

    /// Buys the organization's auto top-up amount when its `balance` is below the threshold
    /// of its setting (`billing.set_auto_topup`), unless that would take the day's auto
    /// top-ups (UTC) past the setting's daily cap, or there is no default card to charge
    /// (detached after auto top-up was turned on). Returns the new balance when it bought.
    fn auto_topup(&mut self, org: &str, seed: u64, now: i64, balance: i64) -> Option<i64> {
        if !has_default_card(&self.resources, org) {
            return None;
        }
        let setting = self.resources.owned(Family::AutoTopup, org).next()?;
        let number = |name: &str| setting.fields.get(name).and_then(Value::as_i64);
        let enabled = setting.fields.get("enabled").and_then(Value::as_bool) == Some(true);
        let threshold = number("threshold_credits")?;
        let amount = number("topup_amount_credits").filter(|amount| *amount > 0)?;
        let cap_aud = setting
            .fields
            .get("daily_charge_cap_aud")
            .and_then(Value::as_f64);
        if !enabled || balance >= threshold {
            return None;
        }
        if let Some(cap_aud) = cap_aud {
            let day_began = now - now.rem_euclid(86_400);
            let folded = &self.org(org, seed, now).folded;
            let dropped_today = if folded.topup_day == Some(now.div_euclid(86_400)) {
                folded.topup_credits
            } else {
                0
            };
            let bought_today: i64 = self
                .resources
                .owned(Family::Transaction, org)
                .filter(|t| {
                    t.created_at >= day_began && t.str("reason") == Some(Reason::AutoTopup.name())
                })
                .filter_map(|t| t.fields.get("credits").and_then(Value::as_i64))
                .fold(dropped_today, i64::saturating_add);
            if aud(bought_today.saturating_add(amount)) > cap_aud {
                return None;
            }
        }
        let reference = format!("top_{}", self.rng.hex(8));
        Some(self.move_credits(org, seed, now, amount, Reason::AutoTopup, &reference))
    }
}

impl MonthTotals {
    /// Counts one ledger entry of the month: an order's credits (negative, as charged) as
    /// spent, and a surcharge's, a refund's as refunded; other entries buy credits and are no
    /// usage.
    pub(crate) fn count(&mut self, reason: Option<&str>, credits: i64) {
        if reason == Some(Reason::Order.name()) {
            self.spent = self.spent.saturating_sub(credits);
            self.orders = self.orders.saturating_add(1);
        } else if reason == Some(Reason::Surcharge.name()) {
            self.spent = self.spent.saturating_sub(credits);
        } else if reason == Some(Reason::Refund.name()) {
            self.refunded = self.refunded.saturating_add(credits);
        }
    }
}

/// Adds a transaction the ledger drops to what `folded` keeps of it: its month's usage, and
/// the credits of an auto top-up of the day it keeps (the newest: entries drop oldest first).
fn fold(folded: &mut Folded, dropped: &Resource) {
    let credits = dropped
        .fields
        .get("credits")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let reason = dropped.str("reason");
    let period = usage::period(usage::month_of(dropped.created_at));
    folded
        .months
        .entry(period)
        .or_default()
        .count(reason, credits);
    while folded.months.len() > usage::MAX_MONTHS {
        folded.months.pop_first();
    }
    if reason == Some(Reason::AutoTopup.name()) {
        // Entries drop oldest first, but a clock set back can make a later entry older: one
        // of a day before the one kept is of no day the cap can still ask about.
        let day = dropped.created_at.div_euclid(86_400);
        if folded.topup_day.is_none_or(|kept| day > kept) {
            folded.topup_day = Some(day);
            folded.topup_credits = 0;
        }
        if folded.topup_day == Some(day) {
            folded.topup_credits = folded.topup_credits.saturating_add(credits);
        }
    }
}

/// Newest first, `limit`/`offset` paged, optionally one `reason`.
pub(crate) fn transactions(ctx: &Ctx<'_>, input: TransactionsInput) -> Outcome {
    let inner = ctx.shared.lock();
    let mut all: Vec<&Resource> = inner
        .resources
        .list(Family::Transaction, ctx.org, None)
        .into_iter()
        .filter(|t| {
            input
                .reason
                .as_deref()
                .is_none_or(|r| t.str("reason") == Some(r))
        })
        .collect();
    all.reverse();
    let (found, limit, offset, total) = page(all, input.limit, input.offset, MAX_PAGE_SIZE);
    let transactions: Vec<Value> = found.into_iter().map(transaction_json).collect();
    Ok(ctx.ok(&json!({
        "transactions": transactions,
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

/// The caller's own organization only; another one is 404.
pub(crate) fn status(ctx: &Ctx<'_>, input: OrgStatusInput) -> Outcome {
    ctx.own_org(&input.organization_id)?;
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let balance = inner.org(ctx.org, ctx.shared.seed, now).balance_credits;
    let setting = inner
        .resources
        .list(Family::AutoTopup, ctx.org, None)
        .into_iter()
        .next();
    let field = |name: &str| setting.and_then(|s| s.fields.get(name)).cloned();
    let threshold = field("threshold_credits")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    Ok(ctx.ok(&json!({
        "organization_id": ctx.org,
        "status": if balance > 0 { "active" } else { "suspended" },
        "balance_credits": balance,
        "balance_aud": aud(balance),
        "auto_topup_enabled": field("enabled").unwrap_or(Value::Bool(false)),
        "low_balance": balance < threshold,
    })))
}

pub(crate) fn invoices(ctx: &Ctx<'_>, input: InvoicesInput) -> Outcome {
    Ok(ctx.ok(&json!({"invoices": invoice_list(ctx, input.limit, "inv")})))
}

/// The payment provider's view of the same invoices, under its id style.
pub(crate) fn provider_invoices(ctx: &Ctx<'_>, input: InvoicesInput) -> Outcome {
    Ok(ctx.ok(&json!({"invoices": invoice_list(ctx, input.limit, "in")})))
}

/// One paid invoice per credit purchase, newest first.
fn invoice_list(ctx: &Ctx<'_>, limit: i64, prefix: &str) -> Vec<Value> {
    let limit = usize::try_from(limit.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1);
    let inner = ctx.shared.lock();
    inner
        .resources
        .list(Family::Transaction, ctx.org, None)
        .into_iter()
        .rev()
        .filter(|t| t.str("reason").is_some_and(Reason::invoiced))
        .take(limit)
        .map(|t| {
            let suffix = t.id.split_once('_').map_or(t.id.as_str(), |(_, s)| s);
            json!({
                "id": format!("{prefix}_{suffix}"),
                "status": "paid",
                "amount_aud": t.fields.get("amount_aud"),
                "currency": "AUD",
                "credits": t.fields.get("credits"),
                "created_at": format_date_time(t.created_at),
                "transaction_id": t.id,
            })
        })
        .collect()
}

fn transaction_json(transaction: &Resource) -> Value {
    let mut out = transaction.to_json();
    if let Some(map) = out.as_object_mut() {
        map.remove("updated_at");
    }
    out
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
