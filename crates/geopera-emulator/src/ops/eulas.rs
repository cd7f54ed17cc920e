//! `eulas.*`: the licences data is delivered under, and which of their documents the caller's
//! organization has accepted.
//!
//! The licences themselves are a small fixed list (the same for everyone, so nothing to
//! keep); acceptances are kept per organization, and a document answers whether the
//! caller's organization accepted it, as a licence answers for its current document.

use geopera_types::models::{
    EulaAcceptInput, EulaDocumentGetInput, EulaDocumentsListInput, EulaGetInput, EulasListInput,
};
use geopera_types::rfc3339::format_date_time;
use serde_json::{json, Map, Value};

use super::{numbered_page, spring_sorted, Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::Family;
use crate::state::Inner;

/// A licence: id, name, provider, and its documents as (id, version, published Unix time).
struct Eula {
    id: &'static str,
    name: &'static str,
    provider: &'static str,
    documents: &'static [(&'static str, &'static str, i64)],
}

const EULAS: [Eula; 3] = [
    Eula {
        id: "eula_open_data",
        name: "Open data terms",
        provider: "geopera",
        documents: &[
            ("doc_open_2024", "2024.1", 1_704_067_200),
            ("doc_open_2025", "2025.1", 1_748_736_000),
        ],
    },
    Eula {
        id: "eula_commercial_archive",
        name: "Commercial archive licence",
        provider: "geopera-vhr-archive",
        documents: &[("doc_archive_2024", "2024.2", 1_717_200_000)],
    },
    Eula {
        id: "eula_tasking",
        name: "Tasking licence",
        provider: "geopera-tasking",
        documents: &[("doc_tasking_2025", "2025.1", 1_740_787_200)],
    },
];

/// The fields `eulas.list` sorts by, as its answers name them.
const SORTABLE: [&str; 6] = [
    "createdAt",
    "updatedAt",
    "name",
    "provider",
    "id",
    "document_count",
];

/// The licences whose name or provider holds `term`, each with the organization's answer to
/// its current document, sorted by `sort` (by `createdAt` for a field it cannot sort by).
pub(crate) fn list(ctx: &Ctx<'_>, input: EulasListInput) -> Outcome {
    let term = input.term.as_deref().map(str::to_lowercase);
    let inner = ctx.shared.lock();
    let found: Vec<Value> = EULAS
        .iter()
        .filter(|e| {
            term.as_deref()
                .is_none_or(|t| e.name.to_lowercase().contains(t) || e.provider.contains(t))
        })
        .map(|eula| eula_json(&inner, ctx.org, eula))
        .collect();
    let sorted = spring_sorted(found, &input.sort, &SORTABLE);
    Ok(ctx.ok(&numbered_page(sorted, input.page, input.size)))
}

pub(crate) fn get(ctx: &Ctx<'_>, input: EulaGetInput) -> Outcome {
    let eula = eula(&input.eula_id)?;
    let inner = ctx.shared.lock();
    Ok(ctx.ok(&eula_json(&inner, ctx.org, eula)))
}

pub(crate) fn documents(ctx: &Ctx<'_>, input: EulaDocumentsListInput) -> Outcome {
    let eula = eula(&input.eula_id)?;
    let inner = ctx.shared.lock();
    let mut docs: Vec<Value> = eula
        .documents
        .iter()
        .map(|doc| document_json(&inner, ctx.org, eula, doc))
        .collect();
    // Every document sorts by when it took effect, whatever field `sort` names; its
    // direction is read as Spring reads it (any case, spaces around it, ascending unless
    // it says `desc`), as `eulas.list`'s is.
    let direction = input
        .sort
        .split_once(',')
        .map_or("asc", |(_, direction)| direction);
    if direction.trim().eq_ignore_ascii_case("desc") {
        docs.reverse();
    }
    Ok(ctx.ok(&numbered_page(docs, input.page, input.size)))
}

pub(crate) fn document(ctx: &Ctx<'_>, input: EulaDocumentGetInput) -> Outcome {
    let (eula, doc) = document_of(&input.eula_id, &input.document_id)?;
    let inner = ctx.shared.lock();
    Ok(ctx.ok(&document_json(&inner, ctx.org, eula, doc)))
}

/// Records the organization's answer; a later answer replaces an earlier one.
pub(crate) fn accept(ctx: &Ctx<'_>, input: EulaAcceptInput) -> Outcome {
    let (eula, doc) = document_of(&input.eula_id, &input.document_id)?;
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let inner = &mut *inner;
    let earlier: Vec<String> = inner
        .resources
        .list(Family::EulaAcceptance, ctx.org, Some(doc.0))
        .iter()
        .map(|r| r.id.clone())
        .collect();
    for id in earlier {
        let _ = inner
            .resources
            .remove(Family::EulaAcceptance, ctx.org, Some(doc.0), &id);
    }
    let mut fields = Map::new();
    fields.insert("eula_id".to_owned(), Value::from(eula.id));
    fields.insert("document_id".to_owned(), Value::from(doc.0));
    fields.insert("is_accepted".to_owned(), Value::Bool(input.is_accepted));
    inner.resources.create(
        &mut inner.rng,
        Family::EulaAcceptance,
        ctx.org,
        Some(doc.0),
        now,
        fields,
    )?;
    Ok(ctx.ok(&document_json(inner, ctx.org, eula, doc)))
}

fn eula(id: &str) -> Result<&'static Eula, ApiError> {
    EULAS
        .iter()
        .find(|e| e.id == id)
        .ok_or_else(|| ApiError::not_found(format!("licence '{id}' not found")))
}

type Document = (&'static str, &'static str, i64);

fn document_of(eula_id: &str, id: &str) -> Result<(&'static Eula, &'static Document), ApiError> {
    let eula = eula(eula_id)?;
    let doc =
        eula.documents.iter().find(|d| d.0 == id).ok_or_else(|| {
            ApiError::not_found(format!("document '{id}' of '{eula_id}' not found"))
        })?;
    Ok((eula, doc))
}

fn latest(eula: &Eula) -> i64 {
    eula.documents.iter().map(|d| d.2).max().unwrap_or(0)
}

/// A licence with the organization's answer to its current (latest) document:
/// `is_accepted` (false until it accepts) and `accepted_document_id`, the newest document it
/// accepted, if any.
fn eula_json(inner: &Inner, org: &str, eula: &Eula) -> Value {
    let accepted = |doc: &Document| {
        inner
            .resources
            .list(Family::EulaAcceptance, org, Some(doc.0))
            .first()
            .and_then(|answer| answer.fields.get("is_accepted"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    let current = eula.documents.iter().max_by_key(|d| d.2);
    let newest_accepted = eula
        .documents
        .iter()
        .filter(|doc| accepted(doc))
        .max_by_key(|d| d.2)
        .map(|doc| doc.0);
    json!({
        "id": eula.id,
        "name": eula.name,
        "provider": eula.provider,
        "document_count": eula.documents.len(),
        "createdAt": format_date_time(eula.documents.iter().map(|d| d.2).min().unwrap_or(0)),
        "updatedAt": format_date_time(latest(eula)),
        "current_document_id": current.map(|doc| doc.0),
        "is_accepted": current.is_some_and(accepted),
        "accepted_document_id": newest_accepted,
    })
}

fn document_json(inner: &Inner, org: &str, eula: &Eula, doc: &Document) -> Value {
    let answer = inner
        .resources
        .list(Family::EulaAcceptance, org, Some(doc.0))
        .into_iter()
        .next();
    json!({
        "id": doc.0,
        "eula_id": eula.id,
        "version": doc.1,
        "publishedAt": format_date_time(doc.2),
        "url": format!("https://legal.geopera.invalid/{}/{}", eula.id, doc.1),
        "is_accepted": answer.and_then(|a| a.fields.get("is_accepted").cloned()).unwrap_or(Value::Bool(false)),
        "answered_at": answer.map(|a| format_date_time(a.updated_at)),
    })
}
