//! The resources users create and manage (projects, collections, items, band formulas, alert
//! rules, jobs, uploads, …), kept as one kind of record.
//!
//! Why one store rather than a struct per family: every family has the same life — minted
//! with an id, owned by one organization, sometimes nested under a parent, read, listed in
//! creation order, changed and deleted — and differs only in its fields, which the contract
//! already types on the way in. One store gives every family the same ownership rule (another
//! organization's id is "not found", never "forbidden"), the same bound per organization, the
//! same paging and one table in the state file, so a new family is a handful of functions in
//! `ops` and no change here or in `store`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::changes::Changes;
use crate::error::ApiError;
use crate::rng::Rng;
use geopera_types::rfc3339::format_date_time;

/// How many records of one family an organization may hold; creating more is refused, so a
/// load test that forgets to delete cannot grow the emulator without bound.
pub const MAX_PER_ORG: usize = 10_000;

/// The kinds of resource the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Project,
    Collection,
    Item,
    BandFormula,
    AlertRule,
    AlertEvent,
    ProcessingJob,
    ClipJob,
    Upload,
    VisualizationProfile,
    TaskingTemplate,
    ShareLink,
    PaymentMethod,
    Approval,
    AutoTopup,
    EulaAcceptance,
    Organization,
    Transaction,
    NotificationMark,
}

impl Family {
    /// The prefix of the ids it mints, as the API's ids read.
    pub const fn prefix(self) -> &'static str {
        match self {
            Family::Project => "prj",
            Family::Collection => "col",
            Family::Item => "itm",
            Family::BandFormula => "bf",
            Family::AlertRule => "alr",
            Family::AlertEvent => "ale",
            Family::ProcessingJob => "pjob",
            Family::ClipJob => "job",
            Family::Upload => "u",
            Family::VisualizationProfile => "vp",
            Family::TaskingTemplate => "tpl",
            Family::ShareLink => "shr",
            Family::PaymentMethod => "pmr",
            Family::Approval => "apr",
            Family::AutoTopup => "atp",
            Family::EulaAcceptance => "eac",
            Family::Organization => "org",
            Family::Transaction => "txn",
            Family::NotificationMark => "ntm",
        }
    }

    /// What "not found" answers call it.
    pub const fn noun(self) -> &'static str {
        match self {
            Family::Project => "project",
            Family::Collection => "collection",
            Family::Item => "item",
            Family::BandFormula => "band formula",
            Family::AlertRule => "alert rule",
            Family::AlertEvent => "alert event",
            Family::ProcessingJob => "processing job",
            Family::ClipJob => "clip job",
            Family::Upload => "upload",
            Family::VisualizationProfile => "visualization profile",
            Family::TaskingTemplate => "tasking template",
            Family::ShareLink => "share link",
            Family::PaymentMethod => "payment method",
            Family::Approval => "approval",
            Family::AutoTopup => "auto top-up setting",
            Family::EulaAcceptance => "licence acceptance",
            Family::Organization => "organization",
            Family::Transaction => "transaction",
            Family::NotificationMark => "notification mark",
        }
    }
}

/// One record: who owns it, where it sits and its fields as answered.
///
/// `family`, `id`, `org` and `seq` are set when the record is stored and never change: the
/// store's index of each organization's records ([`Resources::list`]) is keyed by them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Resource {
    pub family: Family,
    pub id: String,
    pub org: String,
    /// The record it belongs to (a collection's project, a profile's item), which every
    /// lookup names and checks.
    pub parent: Option<String>,
    /// Creation order, which lists follow.
    pub seq: u64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The family's own fields, answered as they are.
    pub fields: Map<String, Value>,
}

impl Resource {
    /// The record as answered: its fields with `id`, `created_at` and `updated_at` set.
    pub fn to_json(&self) -> Value {
        let mut out = self.fields.clone();
        out.insert("id".to_owned(), Value::from(self.id.as_str()));
        out.insert(
            "created_at".to_owned(),
            Value::from(format_date_time(self.created_at)),
        );
        out.insert(
            "updated_at".to_owned(),
            Value::from(format_date_time(self.updated_at)),
        );
        Value::Object(out)
    }

    /// Sets `name` to `value`, or leaves it when `value` is `None` (the field was not sent).
    pub fn set(&mut self, name: &str, value: Option<impl Into<Value>>) {
        if let Some(value) = value {
            self.fields.insert(name.to_owned(), value.into());
        }
    }

    /// A string field, when it is one.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }
}

/// The largest sequence number a record or delivery read back from a state file may have:
/// more than any run numbers, with as many again left to number new ones before the state
/// file's signed 64-bit column would overflow.
pub(crate) const MAX_SEQ: u64 = 1 << 62;

/// Every record, by id.
#[derive(Debug, Default)]
pub struct Resources {
    records: HashMap<String, Resource>,
    /// The ids of each organization's records of each family, in creation order: what lists
    /// and bounds read, so they cost what the organization holds of the family rather than
    /// everything the store holds (every order placed adds a ledger transaction).
    by_owner: HashMap<Family, HashMap<String, BTreeMap<u64, String>>>,
    next_seq: u64,
    /// The ids of records created, handed out to be changed, or removed since the state file
    /// last wrote them: it writes those rows only, so a write costs what the request changed
    /// rather than everything the store holds.
    pub(crate) changes: Changes<String>,
}

impl Resources {
    /// The store as a state file held it.
    pub fn restored(records: Vec<Resource>) -> Self {
        // The state file refuses larger numbers (`MAX_SEQ`); saturating keeps a bad one from
        // panicking here all the same.
        let next_seq = records
            .iter()
            .map(|r| r.seq.saturating_add(1))
            .max()
            .unwrap_or(0);
        let mut store = Resources {
            records: HashMap::with_capacity(records.len()),
            by_owner: HashMap::new(),
            next_seq,
            changes: Changes::tracked(),
        };
        for record in records {
            store.index(&record);
            store.records.insert(record.id.clone(), record);
        }
        store
    }

    /// Notes `record` in [`by_owner`](Self::by_owner).
    fn index(&mut self, record: &Resource) {
        self.by_owner
            .entry(record.family)
            .or_default()
            .entry(record.org.clone())
            .or_default()
            .insert(record.seq, record.id.clone());
    }

    /// Forgets `record` in [`by_owner`](Self::by_owner).
    fn unindex(&mut self, record: &Resource) {
        if let Some(owned) = self
            .by_owner
            .get_mut(&record.family)
            .and_then(|orgs| orgs.get_mut(&record.org))
        {
            owned.remove(&record.seq);
        }
    }

    /// The ids of the organization's records of `family`, by creation order.
    fn owned_ids(&self, family: Family, org: &str) -> Option<&BTreeMap<u64, String>> {
        self.by_owner.get(&family)?.get(org)
    }

    /// The organization's records of `family`, oldest first; `.rev()` for newest first.
    pub fn owned(
        &self,
        family: Family,
        org: &str,
    ) -> impl DoubleEndedIterator<Item = &Resource> + '_ {
        self.owned_ids(family, org)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter_map(|id| self.records.get(id))
    }

    /// Every record the organization holds, of every family.
    pub fn of_org<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.by_owner
            .values()
            .filter_map(move |orgs| orgs.get(org))
            .flat_map(BTreeMap::values)
            .filter_map(|id| self.records.get(id))
    }

    /// How many records of `family` the organization holds.
    pub fn count(&self, family: Family, org: &str) -> usize {
        self.owned_ids(family, org).map_or(0, BTreeMap::len)
    }

    /// Every record of `family`, of every organization: for what is looked up by something
    /// other than its id, without a walk through the other families' records.
    pub fn of_family(&self, family: Family) -> impl Iterator<Item = &Resource> + '_ {
        self.by_owner
            .get(&family)
            .into_iter()
            .flat_map(HashMap::values)
            .flat_map(BTreeMap::values)
            .filter_map(|id| self.records.get(id))
    }

    /// Every record, of every organization: for tests that restore a store from its records.
    #[cfg(test)]
    pub fn records(&self) -> impl Iterator<Item = &Resource> {
        self.records.values()
    }

    /// The record with `id` whoever owns it, for the state file.
    pub fn record(&self, id: &str) -> Option<&Resource> {
        self.records.get(id)
    }

    /// Creates a record with a fresh id from `rng`.
    ///
    /// # Errors
    /// 422 when the organization already holds [`MAX_PER_ORG`] of the family.
    pub fn create(
        &mut self,
        rng: &mut Rng,
        family: Family,
        org: &str,
        parent: Option<&str>,
        now: i64,
        fields: Map<String, Value>,
    ) -> Result<&mut Resource, ApiError> {
        if self.count(family, org) >= MAX_PER_ORG {
            // Families no operation deletes say what makes room instead: a settled record is
            // retired for a new one ([`Resources::retire_oldest_settled`]).
            let remedy = match family {
                Family::ShareLink => "revoke one first, and a revoked link makes room",
                Family::Approval => "approve or reject one first, and a decided one makes room",
                Family::Upload => {
                    "fail an open one first (uploads.fail), and it makes room; completed \
                     uploads go with their project (projects.delete)"
                }
                Family::Organization => "organizations are not deleted, so no more can be made",
                _ => "delete some first",
            };
            return Err(ApiError::invalid(
                &[],
                format!(
                    "an organization may hold at most {MAX_PER_ORG} of {}s; {remedy}",
                    family.noun()
                ),
            ));
        }
        let id = self.fresh_id(rng, family);
        Ok(self.insert(id, family, org, parent, now, fields))
    }

    /// Makes room for one more record of `family` once the organization holds
    /// [`MAX_PER_ORG`]: its oldest record that `settled` says is over (a decided or expired
    /// approval, a failed upload, a share link that can open nothing again) goes. No
    /// operation deletes those, so a full history would otherwise refuse every new one for
    /// ever. `settled` is given the records too, for a judgement that looks at others.
    pub fn retire_oldest_settled(
        &mut self,
        family: Family,
        org: &str,
        settled: impl Fn(&Resources, &Resource) -> bool,
    ) {
        let held = self.list(family, org, None);
        if held.len() < MAX_PER_ORG {
            return;
        }
        let oldest = held
            .into_iter()
            .find(|r| settled(self, r))
            .map(|r| r.id.clone());
        if let Some(id) = oldest {
            // Found a moment ago, under the same lock: it is there to remove.
            let _ = self.remove(family, org, None, &id);
        }
    }

    /// An id of `family` that no record holds yet.
    pub fn fresh_id(&self, rng: &mut Rng, family: Family) -> String {
        loop {
            let id = format!("{}_{}", family.prefix(), rng.hex(12));
            if !self.records.contains_key(&id) {
                break id;
            }
        }
    }

    /// Stores a record under `id` as [`create`](Self::create) does, without its bound: for the
    /// records every organization starts with, whose ids derive from the seed. A record
    /// already holding `id` is replaced.
    pub fn insert(
        &mut self,
        id: String,
        family: Family,
        org: &str,
        parent: Option<&str>,
        now: i64,
        fields: Map<String, Value>,
    ) -> &mut Resource {
        let record = Resource {
            family,
            id: id.clone(),
            org: org.to_owned(),
            parent: parent.map(str::to_owned),
            seq: self.next_seq,
            created_at: now,
            updated_at: now,
            fields,
        };
        self.next_seq += 1;
        self.changes.mark(&id);
        if let Some(replaced) = self.records.remove(&id) {
            self.unindex(&replaced);
        }
        self.index(&record);
        self.records.entry(id).or_insert(record)
    }

    /// The record, if `org` owns it under `parent` (when one is named).
    ///
    /// # Errors
    /// 404 otherwise, the same whether it is missing or someone else's.
    pub fn get(
        &self,
        family: Family,
        org: &str,
        parent: Option<&str>,
        id: &str,
    ) -> Result<&Resource, ApiError> {
        self.records
            .get(id)
            .filter(|r| owned(r, family, org, parent))
            .ok_or_else(|| not_found(family, id))
    }

    /// As [`get`](Self::get), to change it.
    ///
    /// # Errors
    /// 404 as for [`get`](Self::get).
    pub fn get_mut(
        &mut self,
        family: Family,
        org: &str,
        parent: Option<&str>,
        id: &str,
    ) -> Result<&mut Resource, ApiError> {
        let record = self
            .records
            .get_mut(id)
            .filter(|r| owned(r, family, org, parent))
            .ok_or_else(|| not_found(family, id))?;
        self.changes.mark(&record.id);
        Ok(record)
    }

    /// Removes and returns the record.
    ///
    /// # Errors
    /// 404 as for [`get`](Self::get).
    pub fn remove(
        &mut self,
        family: Family,
        org: &str,
        parent: Option<&str>,
        id: &str,
    ) -> Result<Resource, ApiError> {
        self.get(family, org, parent, id)?;
        let removed = self
            .records
            .remove(id)
            .ok_or_else(|| not_found(family, id))?;
        self.unindex(&removed);
        self.changes.mark(&removed.id);
        Ok(removed)
    }

    /// The organization's records of a family (under `parent`, when named), oldest first.
    pub fn list(&self, family: Family, org: &str, parent: Option<&str>) -> Vec<&Resource> {
        self.owned(family, org)
            .filter(|r| owned(r, family, org, parent))
            .collect()
    }

    /// The first record of `family`, of any organization, that `matches`, to read; see
    /// [`Resources::find_mut`].
    pub fn find(&self, family: Family, matches: impl Fn(&Resource) -> bool) -> Option<&Resource> {
        self.of_family(family).find(|r| matches(r))
    }

    /// The first record of `family`, of any organization, that `matches`: for what is
    /// looked up by something other than its id (a share link by its token).
    pub fn find_mut(
        &mut self,
        family: Family,
        matches: impl Fn(&Resource) -> bool,
    ) -> Option<&mut Resource> {
        let id = self.of_family(family).find(|r| matches(r))?.id.clone();
        let record = self.records.get_mut(&id)?;
        self.changes.mark(&record.id);
        Some(record)
    }

    /// Removes every record of `family` whose parent is `parent`, returning how many went.
    pub fn remove_children(&mut self, family: Family, org: &str, parent: &str) -> usize {
        self.remove_where(family, org, |r| r.parent.as_deref() == Some(parent))
    }

    /// Removes every record of `family` the organization holds that `matches`, in one walk
    /// of them: what goes with many parents at once (the profiles of a project's items) would
    /// otherwise take a walk per parent.
    pub fn remove_where(
        &mut self,
        family: Family,
        org: &str,
        matches: impl Fn(&Resource) -> bool,
    ) -> usize {
        let children: Vec<String> = self
            .owned(family, org)
            .filter(|r| matches(r))
            .map(|r| r.id.clone())
            .collect();
        for id in &children {
            if let Some(removed) = self.records.remove(id) {
                self.unindex(&removed);
                self.changes.mark(id);
            }
        }
        children.len()
    }
}

fn owned(record: &Resource, family: Family, org: &str, parent: Option<&str>) -> bool {
    record.family == family
        && record.org == org
        && parent.is_none_or(|parent| record.parent.as_deref() == Some(parent))
}

fn not_found(family: Family, id: &str) -> ApiError {
    ApiError::not_found(format!("{} '{id}' not found", family.noun()))
}

/// One page of an offset-paged list: `limit` clamped to `1..=max`, `offset` to `0..`, as the
/// contract bounds neither.
pub fn page<T>(all: Vec<T>, limit: i64, offset: i64, max: i64) -> (Vec<T>, i64, i64, usize) {
    let limit = limit.clamp(1, max);
    let offset = offset.max(0);
    let total = all.len();
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let items = all
        .into_iter()
        .skip(start)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    (items, limit, offset, total)
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
