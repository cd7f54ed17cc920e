//! The decisions a tasking order waits for: a feasibility study (choose one of its capture
//! options) and then a quotation (accept, or reject and end the order with a full refund).
//!
//! Why derived from the orders rather than kept apart: every tasking order the organization
//! placed has exactly one study and, once the study is decided, one quotation, so their ids
//! follow from the order's (`fs_…` and `qt_…` with the order's suffix) and the decisions live
//! in the order's own record, which the state file already keeps. Orders from before the
//! organization was first seen are history and have neither.

use geopera_types::models::{
    DecisionsPendingInput, FeasibilityCheckInput, FeasibilityDecideInput, QuotationDecideInput,
    StudiesListInput, TaskingSensorsInput,
};
use geopera_types::rfc3339::format_date_time;
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::ledger::Reason;
use super::orders::cancel_order;
use super::{aud, numbered_page, Ctx, Outcome};
use crate::error::ApiError;
use crate::records::{Order, OrderKind, FEASIBILITY, QUOTATION, SURCHARGE};
use crate::state::Inner;

const PENDING: &str = "PENDING";
const ACCEPTED: &str = "ACCEPTED";
const REJECTED: &str = "REJECTED";

/// The capture options every study offers: id, days to capture, price as a share of the
/// order's total.
const OPTIONS: [(&str, i64, f64); 2] = [("opt_standard", 30, 1.0), ("opt_priority", 7, 1.5)];

pub(crate) fn studies(ctx: &Ctx<'_>, input: StudiesListInput) -> Outcome {
    listed(ctx, &input, Kind::Study)
}

pub(crate) fn quotations(ctx: &Ctx<'_>, input: StudiesListInput) -> Outcome {
    listed(ctx, &input, Kind::Quotation)
}

fn listed(ctx: &Ctx<'_>, input: &StudiesListInput, kind: Kind) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let all: Vec<Value> = placed_tasking(&mut inner, ctx, now)
        .filter(|order| input.order_id.as_deref().is_none_or(|id| order.id == id))
        .filter(|order| workspace_matches(order, input.workspace_id.as_deref()))
        .filter_map(|order| kind.of(order, now))
        .filter(|found| input.id.as_deref().is_none_or(|id| found["id"] == id))
        .filter(|found| {
            input.decision.as_deref().is_none_or(|d| {
                found["decision"]
                    .as_str()
                    .is_some_and(|x| x.eq_ignore_ascii_case(d))
            })
        })
        .collect();
    Ok(ctx.ok(&numbered_page(all, input.page, input.size)))
}

/// Every decision still waited for, studies before quotations; `kinds` is a comma-separated
/// list of `feasibility` and `quotation` (both when absent).
pub(crate) fn pending(ctx: &Ctx<'_>, input: DecisionsPendingInput) -> Outcome {
    let kinds: Vec<String> = input
        .kinds
        .as_deref()
        .map(|k| {
            k.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(unknown) = kinds
        .iter()
        .find(|k| k.as_str() != "feasibility" && k.as_str() != "quotation")
    {
        return Err(ApiError::invalid(
            &["kinds"],
            format!("unknown kind '{unknown}': use feasibility, quotation or both"),
        ));
    }
    let wants = |kind: &str| kinds.is_empty() || kinds.iter().any(|k| k == kind);
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    // A cancelled or fulfilled order waits for nothing any more.
    let orders: Vec<&Order> = placed_tasking(&mut inner, ctx, now)
        .filter(|order| workspace_matches(order, input.workspace_id.as_deref()))
        .filter(|order| !order.status(now).is_final())
        .collect();
    let mut all = Vec::new();
    for (name, kind) in [("feasibility", Kind::Study), ("quotation", Kind::Quotation)] {
        if !wants(name) {
            continue;
        }
        all.extend(
            orders
                .iter()
                .filter_map(|order| kind.of(order, now))
                .filter(|found| found["decision"] == PENDING)
                .map(|mut found| {
                    found["kind"] = Value::from(name);
                    found
                }),
        );
    }
    Ok(ctx.ok(&numbered_page(all, input.page, input.size)))
}

pub(crate) fn decide_feasibility(ctx: &Ctx<'_>, input: FeasibilityDecideInput) -> Outcome {
    if !OPTIONS.iter().any(|o| o.0 == input.accepted_option_id) {
        return Err(ApiError::invalid(
            &["acceptedOptionId"],
            format!(
                "unknown option '{}': the study offers {}",
                input.accepted_option_id,
                OPTIONS.map(|o| o.0).join(", ")
            ),
        ));
    }
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let order = decided_order(&mut inner, ctx, &input.study_id, "fs_", now)?;
    if Kind::Study
        .of(order, now)
        .is_some_and(|s| s["decision"] != PENDING)
    {
        return Err(ApiError::conflict(format!(
            "study '{}' is already decided",
            input.study_id
        )));
    }
    refuse_ended(order, now, &input.study_id)?;
    set_detail(
        order,
        FEASIBILITY,
        json!({"decision": ACCEPTED, "accepted_option_id": input.accepted_option_id, "decided_at": now}),
    );
    let reply = Kind::Study.of(order, now).unwrap_or(Value::Null);
    Ok(ctx.ok(&reply))
}

/// Accepting records the decision; rejecting also cancels the order with a full refund.
pub(crate) fn decide_quotation(ctx: &Ctx<'_>, input: QuotationDecideInput) -> Outcome {
    let decision = input.decision.as_str();
    if decision != ACCEPTED && decision != REJECTED {
        return Err(ApiError::invalid(
            &["decision"],
            "decision must be ACCEPTED or REJECTED",
        ));
    }
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let order = decided_order(&mut inner, ctx, &input.quotation_id, "qt_", now)?;
    match Kind::Quotation.of(order, now) {
        None => {
            return Err(ApiError::not_found(format!(
                "quotation '{}' not found",
                input.quotation_id
            )))
        }
        Some(quote) if quote["decision"] != PENDING => {
            return Err(ApiError::conflict(format!(
                "quotation '{}' is already decided",
                input.quotation_id
            )))
        }
        Some(_) => {}
    }
    refuse_ended(order, now, &input.quotation_id)?;
    // Accepting a dearer capture option than the price paid at placement charges the
    // difference now; a cancellation refunds it with the rest (`Order::charged_credits`).
    let surcharge = if decision == ACCEPTED {
        quoted_credits(order)
            .saturating_sub(order.total_credits)
            .max(0)
    } else {
        0
    };
    let order_id = order.id.clone();
    if surcharge > 0 {
        let balance = inner.org(ctx.org, ctx.shared.seed, now).balance_credits;
        if surcharge > balance {
            // As placing an order the balance cannot pay for is: the API's 402, which the
            // contract leaves out of every operation's statuses.
            return Err(ApiError::problem(
                StatusCode::PAYMENT_REQUIRED,
                format!(
                    "insufficient credits: the accepted option costs {surcharge} credits more \
                     than was paid, the balance is {balance}"
                ),
            ));
        }
        inner.move_credits(
            ctx.org,
            ctx.shared.seed,
            now,
            -surcharge,
            Reason::Surcharge,
            &order_id,
        );
    }
    let Some(order) = inner.orders.get_mut(&order_id) else {
        return Err(ApiError::not_found(format!("order '{order_id}' not found")));
    };
    if surcharge > 0 {
        set_detail(order, SURCHARGE, json!(surcharge));
    }
    set_detail(
        order,
        QUOTATION,
        json!({"decision": decision, "decided_at": now}),
    );
    let mut reply = Kind::Quotation.of(order, now).unwrap_or(Value::Null);
    if decision == REJECTED {
        let cancelled = cancel_order(ctx, &mut inner, &order_id)?;
        reply["order"] = cancelled;
    }
    Ok(ctx.ok(&reply))
}

/// What the quotation of `order` asks: its price times the share of the capture option its
/// study accepted (the price itself before a decision).
fn quoted_credits(order: &Order) -> i64 {
    let share = order
        .detail
        .get(FEASIBILITY)
        .and_then(|f| f.get("accepted_option_id"))
        .and_then(Value::as_str)
        .and_then(|id| OPTIONS.iter().find(|o| o.0 == id))
        .map_or(1.0, |o| o.2);
    (order.total_credits as f64 * share).round() as i64
}

/// A decision on an order that has ended is refused: a state conflict, 409 as the API answers
/// them, though the contract lists only 422 for these operations.
fn refuse_ended(order: &Order, now: i64, id: &str) -> Result<(), ApiError> {
    let status = order.status(now);
    if status.is_final() {
        return Err(ApiError::conflict(format!(
            "the order of '{id}' is {status}"
        )));
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    Study,
    Quotation,
}

impl Kind {
    /// The study or quotation of `order` as answered, if it has one.
    fn of(self, order: &Order, now: i64) -> Option<Value> {
        let suffix = order.id.strip_prefix("ord_").unwrap_or(&order.id);
        let feasibility = order.detail.get(FEASIBILITY);
        let study_decision = feasibility
            .and_then(|f| f.get("decision"))
            .and_then(Value::as_str)
            .unwrap_or(PENDING);
        match self {
            Kind::Study => {
                let options: Vec<Value> = OPTIONS
                    .iter()
                    .map(|(id, days, share)| {
                        json!({
                            "id": id,
                            "capture_window_days": days,
                            "capture_by": format_date_time(order.created_at + days * 86_400),
                            "total_aud": aud((order.total_credits as f64 * share).round() as i64),
                        })
                    })
                    .collect();
                Some(json!({
                    "id": format!("fs_{suffix}"),
                    "orderId": order.id,
                    "decision": study_decision,
                    "acceptedOptionId": feasibility.and_then(|f| f.get("accepted_option_id")),
                    "options": options,
                    "orderStatus": order.status(now),
                }))
            }
            Kind::Quotation if study_decision != ACCEPTED => None,
            Kind::Quotation => {
                let decision = order
                    .detail
                    .get(QUOTATION)
                    .and_then(|q| q.get("decision"))
                    .and_then(Value::as_str)
                    .unwrap_or(PENDING);
                Some(json!({
                    "id": format!("qt_{suffix}"),
                    "orderId": order.id,
                    "decision": decision,
                    "total_aud": aud(quoted_credits(order)),
                    "orderStatus": order.status(now),
                }))
            }
        }
    }
}

/// The caller's tasking orders placed since the organization was first seen, oldest first.
fn placed_tasking<'a>(
    inner: &'a mut Inner,
    ctx: &Ctx<'_>,
    now: i64,
) -> impl Iterator<Item = &'a Order> + 'a {
    let ids = inner.org(ctx.org, ctx.shared.seed, now).orders.clone();
    let orders = &inner.orders;
    ids.into_iter()
        .filter_map(move |id| orders.get(&id))
        .filter(|order| order.kind == OrderKind::Tasking && !order.is_history())
}

/// The caller's placed tasking order whose study or quotation is `id` (`prefix` + suffix).
fn decided_order<'a>(
    inner: &'a mut Inner,
    ctx: &Ctx<'_>,
    id: &str,
    prefix: &str,
    now: i64,
) -> Result<&'a mut Order, ApiError> {
    let missing = || ApiError::not_found(format!("'{id}' not found"));
    let suffix = id.strip_prefix(prefix).ok_or_else(missing)?;
    inner.org(ctx.org, ctx.shared.seed, now);
    inner
        .orders
        .get_mut(&format!("ord_{suffix}"))
        .filter(|order| {
            order.org == ctx.org && order.kind == OrderKind::Tasking && !order.is_history()
        })
        .ok_or_else(missing)
}

/// Orders record no workspace unless their body named one, so a filter by workspace keeps
/// only those that did.
fn workspace_matches(order: &Order, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| order.detail.get("workspaceId").and_then(Value::as_str) == Some(w))
}

fn set_detail(order: &mut Order, key: &str, value: Value) {
    if let Some(detail) = order.detail.as_object_mut() {
        detail.insert(key.to_owned(), value);
    } else {
        let mut detail = Map::new();
        detail.insert(key.to_owned(), value);
        order.detail = Value::Object(detail);
    }
}

/// The sensors tasking can order: id, kind, resolution in metres, revisit in days.
const SENSORS: [(&str, &str, f64, i64); 3] = [
    ("vhr-optical-30cm", "optical", 0.3, 2),
    ("hr-optical-50cm", "optical", 0.5, 1),
    ("sar-x-band-1m", "sar", 1.0, 1),
];
/// The largest area one tasking request may cover, in km².
pub const MAX_TASKING_AREA_KM2: f64 = 10_000.0;
/// How many days ahead capture opportunities are listed.
const OPPORTUNITY_DAYS: i64 = 14;

pub(crate) fn sensors(ctx: &Ctx<'_>, _input: TaskingSensorsInput) -> Outcome {
    let sensors: Vec<Value> = SENSORS
        .iter()
        .map(|(id, kind, resolution, revisit)| {
            json!({"id": id, "type": kind, "resolution_m": resolution, "revisit_days": revisit})
        })
        .collect();
    Ok(ctx.ok(&json!({"sensors": sensors})))
}

/// Whether the area can be tasked: it must have a polygon of at most
/// [`MAX_TASKING_AREA_KM2`]; the answer names the sensors that fit the product.
pub(crate) fn feasibility_check(ctx: &Ctx<'_>, input: FeasibilityCheckInput) -> Outcome {
    let area = tasking_area(&input)?;
    let feasible = area <= MAX_TASKING_AREA_KM2;
    Ok(ctx.ok(&json!({
        "dataProduct": input.data_product,
        "feasible": feasible,
        "areaKm2": (area * 100.0).round() / 100.0,
        "reason": (!feasible).then(|| format!("the area exceeds {MAX_TASKING_AREA_KM2} km²")),
        "sensors": sensors_for(&input.data_product),
    })))
}

/// The passes over the area in the next [`OPPORTUNITY_DAYS`] days, on the emulator's clock:
/// one per sensor revisit, at times that follow from the area, so the same request lists the
/// same passes.
pub(crate) fn opportunities(ctx: &Ctx<'_>, input: FeasibilityCheckInput) -> Outcome {
    let area = tasking_area(&input)?;
    let now = ctx.now();
    let geometry = serde_json::to_string(&input.feature_collection).unwrap_or_default();
    let offset = (crate::rng::fnv(&geometry) % 86_400) as i64;
    let mut opportunities = Vec::new();
    for (id, _, _, revisit) in SENSORS
        .iter()
        .filter(|s| sensors_for(&input.data_product).contains(&s.0))
    {
        let mut day = 1;
        while day <= OPPORTUNITY_DAYS {
            let at = now - now.rem_euclid(86_400) + day * 86_400 + offset;
            opportunities.push(json!({
                "sensor": id,
                "start": format_date_time(at),
                "end": format_date_time(at + 600),
                "off_nadir_deg": ((offset + day * 7) % 30) as f64,
            }));
            day += revisit;
        }
    }
    Ok(ctx.ok(&json!({
        "dataProduct": input.data_product,
        "areaKm2": (area * 100.0).round() / 100.0,
        "total": opportunities.len(),
        "opportunities": opportunities,
    })))
}

/// The area of the request's features.
///
/// # Errors
/// 422 at `featureCollection` when it is not polygons on the globe (see
/// [`read_area`](crate::catalog::read_area)) enclosing some area.
fn tasking_area(input: &FeasibilityCheckInput) -> Result<f64, ApiError> {
    let refuse = |why: String| {
        ApiError::invalid(
            &["featureCollection"],
            format!("featureCollection must hold a polygon to task: {why}"),
        )
    };
    crate::catalog::enclosed_area_km2(&Value::Object(input.feature_collection.clone()))
        .map_err(refuse)
}

/// The sensors that deliver `product`: SAR products on SAR, 30 cm on the finest optical
/// sensor, any other product on both optical sensors.
fn sensors_for(product: &str) -> Vec<&'static str> {
    let product = product.to_ascii_lowercase();
    SENSORS
        .iter()
        .filter(|(id, kind, ..)| {
            if product.contains("sar") {
                *kind == "sar"
            } else if product.contains("30cm") {
                id.contains("30cm")
            } else {
                *kind == "optical"
            }
        })
        .map(|s| s.0)
        .collect()
}
