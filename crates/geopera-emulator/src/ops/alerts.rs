//! `alerts.*`: an organization's alert rules and the events they raised, kept in
//! [`crate::resources`] (an event's parent is its rule, so deleting a rule deletes its events).
//!
//! The emulator holds no pixels, so `alerts.test_rule` computes the rule's expression from
//! the item's own numbers when the expression names one (`cloud_cover`, `gsd` or a numeric
//! entry of its `properties`) and otherwise from a stand-in value in −1..1 derived from the
//! item and expression, the same on every call. A test that triggers records an alert event
//! (outside a running cooldown, and only for an active rule), so `alerts.events.list` and `alerts.acknowledge_event` have
//! something to answer; the contract's description says the real test persists nothing, but
//! nothing else in the emulator evaluates rules.
//!
//! Those events are a side effect of a read (the operation's scope is `alerts:read`), so a
//! full list must never refuse one: the newest [`MAX_ALERT_EVENTS`] of an organization are
//! kept, the oldest giving way.
//!
//! The contract types `comparison` as a free string; the emulator accepts [`COMPARISONS`],
//! where `between` also needs `threshold_upper` above `threshold`.

use geopera_types::models::{
    AcknowledgeEventInput, AlertEventsListInput, AlertRuleGetInput, AlertRulesListInput,
    CreateAlertRuleInput, DeleteAlertRuleInput, TestAlertRuleInput, UpdateAlertRuleInput,
};
use serde_json::{json, Map, Value};

use super::{trimmed_name, Ctx, Outcome, MAX_PAGE_SIZE};
use crate::error::ApiError;
use crate::resources::{page, Family, Resource};
use crate::rng::fnv;
use geopera_types::rfc3339::format_date_time;

/// The alert events kept per organization; a test that records one more drops the oldest.
pub const MAX_ALERT_EVENTS: usize = crate::resources::MAX_PER_ORG;

/// The comparisons a rule may make of its computed value with its threshold.
pub const COMPARISONS: [&str; 6] = ["gt", "gte", "lt", "lte", "eq", "between"];
/// The longest expression accepted.
const MAX_EXPRESSION_CHARS: usize = 2000;
/// The longest cooldown accepted: 30 days.
const MAX_COOLDOWN_MINUTES: i64 = 43_200;
/// How close `eq` needs the computed value to be.
const EQ_TOLERANCE: f64 = 1e-9;

pub(crate) fn create_rule(ctx: &Ctx<'_>, input: CreateAlertRuleInput) -> Outcome {
    let name = trimmed_name(&input.name, "name")?;
    let expression = checked_expression(&input.expression)?;
    checked_comparison(&input.comparison, input.threshold, input.threshold_upper)?;
    checked_cooldown(input.cooldown_minutes)?;
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    if let Some(collection) = &input.collection_id {
        inner
            .resources
            .get(Family::Collection, ctx.org, None, collection)?;
    }
    let mut fields = Map::new();
    fields.insert("organization_id".to_owned(), Value::from(ctx.org));
    fields.insert("name".to_owned(), Value::from(name));
    fields.insert("description".to_owned(), json!(input.description));
    fields.insert("collection_id".to_owned(), json!(input.collection_id));
    fields.insert(
        "event_types".to_owned(),
        json!(input.event_types.unwrap_or_default()),
    );
    fields.insert("expression".to_owned(), Value::from(expression));
    fields.insert("comparison".to_owned(), Value::from(input.comparison));
    fields.insert("threshold".to_owned(), json!(input.threshold));
    fields.insert("threshold_upper".to_owned(), json!(input.threshold_upper));
    fields.insert("asset_key".to_owned(), Value::from(input.asset_key));
    fields.insert(
        "band_mapping".to_owned(),
        json!(input.band_mapping.unwrap_or_default()),
    );
    fields.insert(
        "notification_channels".to_owned(),
        json!(input.notification_channels.unwrap_or_default()),
    );
    fields.insert(
        "cooldown_minutes".to_owned(),
        Value::from(input.cooldown_minutes),
    );
    fields.insert("active".to_owned(), Value::Bool(true));
    fields.insert("last_triggered_at".to_owned(), Value::Null);
    let rule = inner.resources.create(
        &mut inner.rng,
        Family::AlertRule,
        ctx.org,
        None,
        now,
        fields,
    )?;
    Ok(ctx.ok(&json!({"alert_rule": rule.to_json()})))
}

pub(crate) fn get_rule(ctx: &Ctx<'_>, input: AlertRuleGetInput) -> Outcome {
    let inner = ctx.lock_org();
    let rule = inner
        .resources
        .get(Family::AlertRule, ctx.org, None, &input.rule_id)?;
    Ok(ctx.ok(&json!({"alert_rule": rule.to_json()})))
}

/// The contract gives this list no paging fields, so it answers every matching rule (at most
/// [`crate::resources::MAX_PER_ORG`]), oldest first.
pub(crate) fn list_rules(ctx: &Ctx<'_>, input: AlertRulesListInput) -> Outcome {
    let inner = ctx.lock_org();
    let rules: Vec<Value> = inner
        .resources
        .list(Family::AlertRule, ctx.org, None)
        .into_iter()
        .filter(|r| {
            input
                .active
                .is_none_or(|a| r.fields.get("active") == Some(&Value::Bool(a)))
        })
        .filter(|r| {
            input
                .collection_id
                .as_deref()
                .is_none_or(|c| r.str("collection_id") == Some(c))
        })
        .map(Resource::to_json)
        .collect();
    Ok(ctx.ok(&json!({"total": rules.len(), "alert_rules": rules})))
}

pub(crate) fn update_rule(ctx: &Ctx<'_>, input: UpdateAlertRuleInput) -> Outcome {
    let name = input.name.map(|n| trimmed_name(&n, "name")).transpose()?;
    let expression = input
        .expression
        .map(|e| checked_expression(&e))
        .transpose()?;
    if let Some(cooldown) = input.cooldown_minutes {
        checked_cooldown(cooldown)?;
    }
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    if let Some(collection) = &input.collection_id {
        inner
            .resources
            .get(Family::Collection, ctx.org, None, collection)?;
    }
    let rule = inner
        .resources
        .get_mut(Family::AlertRule, ctx.org, None, &input.rule_id)?;
    // The comparison is checked as it will stand, mixing the sent fields with the kept ones.
    let comparison = input
        .comparison
        .clone()
        .or_else(|| rule.str("comparison").map(str::to_owned))
        .unwrap_or_default();
    let threshold = input
        .threshold
        .or_else(|| number(rule, "threshold"))
        .unwrap_or_default();
    let upper = input
        .threshold_upper
        .or_else(|| number(rule, "threshold_upper"));
    checked_comparison(&comparison, threshold, upper)?;
    rule.set("name", name);
    rule.set("description", input.description);
    rule.set("collection_id", input.collection_id);
    rule.set("event_types", input.event_types);
    rule.set("expression", expression);
    rule.set("comparison", input.comparison);
    rule.set("threshold", input.threshold);
    rule.set("threshold_upper", input.threshold_upper);
    rule.set("asset_key", input.asset_key);
    rule.set("band_mapping", input.band_mapping.map(|m| json!(m)));
    rule.set("notification_channels", input.notification_channels);
    rule.set("active", input.active);
    rule.set("cooldown_minutes", input.cooldown_minutes);
    rule.updated_at = now;
    Ok(ctx.ok(&json!({"alert_rule": rule.to_json()})))
}

/// Deletes the rule and the events it raised.
pub(crate) fn delete_rule(ctx: &Ctx<'_>, input: DeleteAlertRuleInput) -> Outcome {
    let mut inner = ctx.lock_org();
    let removed = inner
        .resources
        .remove(Family::AlertRule, ctx.org, None, &input.rule_id)?;
    inner
        .resources
        .remove_children(Family::AlertEvent, ctx.org, &removed.id);
    Ok(ctx.ok(&json!({"deleted": true})))
}

/// Evaluates the rule against the item; a trigger outside the rule's cooldown is recorded
/// as an alert event, whose id the answer adds as `alert_event_id` (`null` otherwise).
pub(crate) fn test_rule(ctx: &Ctx<'_>, input: TestAlertRuleInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    let rule = inner
        .resources
        .get(Family::AlertRule, ctx.org, None, &input.rule_id)?
        .clone();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    let expression = rule.str("expression").unwrap_or_default().to_owned();
    let comparison = rule.str("comparison").unwrap_or_default().to_owned();
    let threshold = number(&rule, "threshold").unwrap_or_default();
    let upper = number(&rule, "threshold_upper");
    let value = computed_value(item, &expression);
    let item_collection = item.str("collection_id").map(str::to_owned);
    let triggers = compare(&comparison, value, threshold, upper);
    let cooldown = rule
        .fields
        .get("cooldown_minutes")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // From the rule's own record of its last event, which outlives the event itself when
    // the organization's oldest events give way (`MAX_ALERT_EVENTS`).
    let cooling = rule
        .str("last_triggered_at")
        .and_then(geopera_types::rfc3339::parse_date_time)
        .is_some_and(|at| now < at.saturating_add(cooldown.saturating_mul(60)));
    // A rule turned off records nothing: the test still says whether it would trigger.
    let active = rule.fields.get("active").and_then(Value::as_bool) != Some(false);
    let mut event_id = Value::Null;
    if triggers && !cooling && active {
        let mut fields = Map::new();
        fields.insert("organization_id".to_owned(), Value::from(ctx.org));
        fields.insert("rule_id".to_owned(), Value::from(rule.id.as_str()));
        fields.insert("item_id".to_owned(), Value::from(input.item_id.as_str()));
        fields.insert("collection_id".to_owned(), json!(item_collection));
        fields.insert("expression".to_owned(), Value::from(expression.as_str()));
        fields.insert("computed_value".to_owned(), json!(value));
        fields.insert("comparison".to_owned(), Value::from(comparison.as_str()));
        fields.insert("threshold".to_owned(), json!(threshold));
        fields.insert("threshold_upper".to_owned(), json!(upper));
        fields.insert(
            "triggered_at".to_owned(),
            Value::from(format_date_time(now)),
        );
        fields.insert("acknowledged".to_owned(), Value::Bool(false));
        fields.insert("acknowledged_at".to_owned(), Value::Null);
        if inner.resources.count(Family::AlertEvent, ctx.org) >= MAX_ALERT_EVENTS {
            let oldest = inner
                .resources
                .owned(Family::AlertEvent, ctx.org)
                .next()
                .map(|event| event.id.clone());
            if let Some(oldest) = oldest {
                let _ = inner
                    .resources
                    .remove(Family::AlertEvent, ctx.org, None, &oldest);
            }
        }
        let event = inner.resources.create(
            &mut inner.rng,
            Family::AlertEvent,
            ctx.org,
            Some(&rule.id),
            now,
            fields,
        )?;
        event_id = Value::from(event.id.as_str());
        let at = Some(format_date_time(now));
        if let Ok(rule) = inner
            .resources
            .get_mut(Family::AlertRule, ctx.org, None, &rule.id)
        {
            rule.set("last_triggered_at", at);
        }
    }
    Ok(ctx.ok(&json!({
        "computed_value": value,
        "threshold": threshold,
        "comparison": comparison,
        "would_trigger": triggers,
        "expression": expression,
        "item_id": input.item_id,
        "alert_event_id": event_id,
    })))
}

/// The organization's alert events, newest first, optionally of one rule or only those
/// (not) acknowledged.
pub(crate) fn list_events(ctx: &Ctx<'_>, input: AlertEventsListInput) -> Outcome {
    let inner = ctx.lock_org();
    let mut all = inner
        .resources
        .list(Family::AlertEvent, ctx.org, input.rule_id.as_deref());
    all.retain(|e| {
        input
            .acknowledged
            .is_none_or(|a| e.fields.get("acknowledged") == Some(&Value::Bool(a)))
    });
    all.reverse();
    let (events, limit, offset, total) = page(all, input.limit, input.offset, MAX_PAGE_SIZE);
    let events: Vec<Value> = events.into_iter().map(Resource::to_json).collect();
    Ok(ctx.ok(&json!({
        "alert_events": events,
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

/// Marks the event acknowledged; acknowledging it again changes nothing.
pub(crate) fn acknowledge_event(ctx: &Ctx<'_>, input: AcknowledgeEventInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let event = inner
        .resources
        .get_mut(Family::AlertEvent, ctx.org, None, &input.event_id)?;
    if event.fields.get("acknowledged") != Some(&Value::Bool(true)) {
        event.set("acknowledged", Some(true));
        event.set("acknowledged_at", Some(format_date_time(now)));
        event.updated_at = now;
    }
    Ok(ctx.ok(&json!({"alert_event": event.to_json()})))
}

/// The expression's value for the item: one of the item's numbers when the expression names
/// it, otherwise a stand-in in −1..1 fixed by the item and the expression.
fn computed_value(item: &Resource, expression: &str) -> f64 {
    let named = expression.trim();
    let own = match named {
        "cloud_cover" | "eo:cloud_cover" => number(item, "cloud_cover"),
        "gsd" => number(item, "gsd"),
        _ => item
            .fields
            .get("properties")
            .and_then(|p| p.get(named))
            .and_then(Value::as_f64),
    };
    own.unwrap_or_else(|| {
        let hash = fnv(&format!("{}\u{0}{named}", item.id));
        // 2001 steps of 0.001 from −1 to 1.
        ((hash % 2001) as f64 - 1000.0) / 1000.0
    })
}

fn compare(comparison: &str, value: f64, threshold: f64, upper: Option<f64>) -> bool {
    match comparison {
        "gt" => value > threshold,
        "gte" => value >= threshold,
        "lt" => value < threshold,
        "lte" => value <= threshold,
        "eq" => (value - threshold).abs() <= EQ_TOLERANCE,
        "between" => upper.is_some_and(|upper| threshold <= value && value <= upper),
        _ => false,
    }
}

fn number(record: &Resource, name: &str) -> Option<f64> {
    record.fields.get(name).and_then(Value::as_f64)
}

fn checked_expression(expression: &str) -> Result<String, ApiError> {
    let trimmed = expression.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(ApiError::invalid(
            &["expression"],
            format!("expression must be 1 to {MAX_EXPRESSION_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// # Errors
/// 422 for a comparison outside [`COMPARISONS`], a non-finite threshold, or `between`
/// without a `threshold_upper` above `threshold`.
fn checked_comparison(
    comparison: &str,
    threshold: f64,
    upper: Option<f64>,
) -> Result<(), ApiError> {
    if !COMPARISONS.contains(&comparison) {
        return Err(ApiError::invalid(
            &["comparison"],
            format!("comparison must be one of {}", COMPARISONS.join(", ")),
        ));
    }
    if !threshold.is_finite() {
        return Err(ApiError::invalid(
            &["threshold"],
            "threshold must be finite",
        ));
    }
    if comparison == "between" && !upper.is_some_and(|u| u.is_finite() && u > threshold) {
        return Err(ApiError::invalid(
            &["threshold_upper"],
            "between needs a finite threshold_upper above threshold",
        ));
    }
    Ok(())
}

fn checked_cooldown(minutes: i64) -> Result<(), ApiError> {
    if !(0..=MAX_COOLDOWN_MINUTES).contains(&minutes) {
        return Err(ApiError::invalid(
            &["cooldown_minutes"],
            format!("cooldown_minutes must be 0 to {MAX_COOLDOWN_MINUTES}"),
        ));
    }
    Ok(())
}
