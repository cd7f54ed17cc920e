//! Which operations keep state, which compute their answer from the request and the seeded
//! catalog, and which answer a sample of their output shape — the table in the crate docs.
//!
//! Why derived from the handler table rather than written by hand: a table kept beside the
//! code goes stale the first time a family gains a handler. Here "sample" means exactly "no
//! entry in `HANDLERS`", the few handled operations that keep nothing are listed once in
//! [`DERIVED`], and a test rewrites nothing silently: it fails when `docs/operations.md`
//! differs from [`table`] (`UPDATE_SNAPSHOTS=1` rewrites it).

use geopera_types::operations::ALL;

/// What an operation does with the emulator's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Reads or changes records kept per organization (and in the state file).
    Stateful,
    /// Answers from the request, the seed and the synthetic catalog; keeps nothing.
    Derived,
    /// Answers a deterministic sample of its output shape.
    Sample,
}

/// Handled operations whose answer keeps nothing and reads nothing kept.
pub(crate) const DERIVED: &[&str] = &[
    "catalog.search",
    "catalog.search_stream",
    "catalog.image.quicklook",
    "catalog.image.thumbnail",
    "orders.archive.estimate",
    "orders.tasking.estimate",
    "eulas.list",
    "eulas.get",
    "payment_methods.create_setup_intent",
    "catalog.federated_search",
    "orders.estimate",
    "orders.tasking.sensors",
    "orders.tasking.feasibility_check",
    "orders.tasking.opportunities_list",
    "catalog.tile.render",
    "cog.tile.render",
    "cog.tile.terrain",
    "cog.thumbnail",
];

/// Why the operations of a family still answer samples, by id prefix; the first match wins.
const SAMPLE_REASONS: &[(&str, &str)] = &[
    ("billing.reconciliation.", ADMIN),
    ("billing.dlq.", ADMIN),
    ("billing.free_tier.", ADMIN),
    ("billing.jobs.", ADMIN),
    ("billing.enterprise.", ADMIN),
    ("billing.deletions.", ADMIN),
    (
        "billing.run_monthly_",
        "runs of Geopera's monthly billing, not something a customer keeps",
    ),
    ("billing.cleanup_deleted_orgs", ADMIN),
    ("billing.plans.", REFERENCE),
    ("items.list_expiring", RETENTION),
    ("items.expire_batch", RETENTION),
    ("glossary.", REFERENCE),
    ("catalog.granule_points", RASTER),
    ("catalog.", REFERENCE),
    ("clip.area", REFERENCE),
    ("processing.catalog.", REFERENCE),
    ("processing.job_types.", REFERENCE),
    ("orders.get_schema", REFERENCE),
    (
        "organizations.commitments.",
        "enterprise contracts arranged by Geopera staff",
    ),
    ("analytics.index.", REFERENCE),
    ("analytics.indices.", REFERENCE),
    ("analytics.operations.", REFERENCE),
    ("analytics.sensors.", REFERENCE),
    ("analytics.", RASTER),
    ("cog.", RASTER),
    ("items.tile.statistics", RASTER),
    ("visualization.list_for", RASTER),
    ("reports.generate", "a report's contents are not documented"),
];

/// Why Geopera's own back-office operations answer samples.
const ADMIN: &str = "Geopera's own bookkeeping (`admin:` scopes); nothing a customer keeps";
/// Why fixed reference data answers samples.
const REFERENCE: &str = "reference data, the same for everyone; nothing to keep";
/// Why computations over pixels answer samples.
const RASTER: &str = "computed from raster pixels, which the emulator does not hold";
/// Why retention administration answers samples.
const RETENTION: &str =
    "retention administration (`admin:` scopes); nothing in the emulator expires";

/// The reason given when no prefix of [`SAMPLE_REASONS`] matches.
const NOT_YET: &str = "not yet kept";

/// What `id` does with the emulator's state.
pub(crate) fn kind(id: &str) -> Kind {
    if !super::HANDLERS.contains_key(id) && !super::ASYNC_HANDLED.contains(&id) {
        Kind::Sample
    } else if DERIVED.contains(&id) {
        Kind::Derived
    } else {
        Kind::Stateful
    }
}

/// The Markdown table of every operation, in the contract's id order, with the counts first.
pub(crate) fn table() -> String {
    let mut counts = [0usize; 3];
    let mut rows = String::new();
    for info in ALL {
        let (label, note) = match kind(info.id) {
            Kind::Stateful => {
                counts[0] += 1;
                ("stateful", "")
            }
            Kind::Derived => {
                counts[1] += 1;
                ("derived", "")
            }
            Kind::Sample => {
                counts[2] += 1;
                let why = SAMPLE_REASONS
                    .iter()
                    .find(|(prefix, _)| info.id.starts_with(prefix))
                    .map_or(NOT_YET, |(_, why)| why);
                ("sample", why)
            }
        };
        rows.push_str(&format!("| `{}` | {label} | {note} |\n", info.id));
    }
    format!(
        "{} operations: {} stateful, {} derived, {} sample.\n\n\
         | operation | kind | why a sample |\n|---|---|---|\n{rows}",
        ALL.len(),
        counts[0],
        counts[1],
        counts[2],
    )
}

#[cfg(test)]
#[path = "kinds_tests.rs"]
mod tests;
