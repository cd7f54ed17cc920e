//! `Idempotency-Key`: a key is claimed per (organization, operation, key) before the work
//! runs; a retry with the same body from the same principal replays the stored answer, a
//! different body or another principal of the organization is 409.

use std::collections::HashMap;

use std::borrow::Cow;

use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::changes::Changes;
use crate::error::{ApiError, Reply};
use crate::records::{Claim, ClaimSlot};

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_RETENTION_MS: i64 = 24 * 3600 * 1000;

/// The header set on answers replayed from an idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Why a claimed request's answer is replayed as [`not_kept`] rather than as it was sent.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NotKept {
    /// Larger than a small body while the organization stores more than its budget.
    TooLarge,
    /// It holds a credential (a new key's secret, an upload's or a share's token), which the
    /// state file keeps only as a digest.
    HoldsCredential,
}

/// What a retry under an idempotency key is replayed when the answer of the request that ran
/// is not kept: 410, as for a thing that is gone, saying the request ran, so that a client
/// neither runs it again (a second key, a second charge) nor takes it for a failure.
pub(crate) fn not_kept(why: NotKept) -> Reply {
    let reason = match why {
        NotKept::TooLarge => format!(
            "it was larger than {} bytes and the organization stores more than the emulator \
             keeps for one ({} bytes)",
            crate::storage::SMALL_BODY_BYTES,
            crate::storage::MAX_STORED_BYTES_PER_ORG
        ),
        NotKept::HoldsCredential => "it held a credential, which the emulator's state file \
                                     does not keep, and the emulator restarted since"
            .to_owned(),
    };
    ApiError::problem(
        StatusCode::GONE,
        format!(
            "the request with this Idempotency-Key ran, but its answer is not kept for replays: \
             {reason}; read the resource to see the outcome"
        ),
    )
    .into_reply()
}

/// The answer of a claim on `operation` as the state file keeps it. A success answer that
/// holds a credential is kept as [`not_kept`] in its place: the file keeps secrets only as
/// digests, so that a copy of it lets no one call as a key, upload to a slot or open a share.
/// Until a restart the claim in memory still replays the answer whole.
pub(crate) fn as_filed<'a>(operation: &str, reply: &'a Reply) -> Cow<'a, Reply> {
    if holds_credential(operation, reply) {
        Cow::Owned(not_kept(NotKept::HoldsCredential))
    } else {
        Cow::Borrowed(reply)
    }
}

/// Whether `reply`, an answer of `operation`, is a success of an operation whose answers
/// hold a credential: one the state file keeps as [`not_kept`] ([`as_filed`]).
fn holds_credential(operation: &str, reply: &Reply) -> bool {
    reply.status.is_success()
        && geopera_types::operations::find(operation)
            .is_some_and(|info| info.answer_holds_credentials)
}

/// What a request carrying a key does next.
#[derive(Debug)]
pub(crate) enum Begin {
    /// The key is now claimed for this request: run the operation, then [`Claims::settle`].
    Run,
    /// An earlier request with this key and body was answered: send this again.
    Replay(Reply),
}

/// The claims of every organization, within the retention period.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    by_slot: HashMap<ClaimSlot, Claim>,
    /// The slots whose claim was answered or dropped since the state file last wrote them:
    /// it writes those rows only.
    pub(crate) changes: Changes<ClaimSlot>,
    /// Whether a claim read back held a credential in its answer (a file an older emulator
    /// wrote), for [`rewrites_due`](Self::rewrites_due).
    scrubbed: bool,
    /// When [`begin`](Self::begin) last looked through every claim for expired ones.
    swept_at_ms: i64,
}

/// How often, on the emulator's clock, [`Claims::begin`] looks through every claim for those
/// past their day. Looked through on every keyed request, a million claims (a day of keyed
/// creates without rate limits) cost each request milliseconds under the emulator's lock;
/// in between, an expired claim is found expired where it is asked for.
const SWEEP_EVERY_MS: i64 = 60_000;

impl Claims {
    /// Claims read back from the state file, less those that have expired since (whose rows
    /// the next write deletes), and with an answer holding a credential (kept whole by a file
    /// an older emulator wrote) in place of [`as_filed`]'s: their rows are marked, for
    /// [`rewrites_due`](Self::rewrites_due).
    pub(crate) fn restored(mut by_slot: HashMap<ClaimSlot, Claim>, now_ms: i64) -> Self {
        let mut changes = Changes::tracked();
        let mut scrubbed = false;
        for (slot, claim) in &mut by_slot {
            let Some(reply) = &mut claim.reply else {
                continue;
            };
            if let Cow::Owned(filed) = as_filed(slot.1, reply) {
                *reply = filed;
                changes.mark(slot);
                scrubbed = true;
            }
        }
        let mut claims = Claims {
            by_slot,
            changes,
            scrubbed,
            swept_at_ms: now_ms,
        };
        claims.drop_expired(now_ms);
        claims
    }

    /// Whether the file read back holds a credential in a claim's answer: written again at
    /// start, rather than at the next change, so that it stops holding it at once.
    pub(crate) fn rewrites_due(&self) -> bool {
        self.scrubbed
    }

    /// Takes out the answered claims whose answer the state file keeps only as [`not_kept`]
    /// (it held a credential), for [`keep_withheld`](Self::keep_withheld) once memory is read
    /// back from the file.
    pub(crate) fn withheld(&mut self) -> Vec<(ClaimSlot, Claim)> {
        self.take_out(|slot, claim| {
            claim
                .reply
                .as_ref()
                .is_some_and(|reply| holds_credential(slot.1, reply))
        })
    }

    /// Puts back the answers [`withheld`](Self::withheld) took out, where the file read back
    /// still holds the same claim: a retry replays a new key's secret whole until the
    /// emulator restarts, not only until a failed write of another request reads memory back.
    /// A claim the file no longer holds went with its undone write, and stays gone.
    pub(crate) fn keep_withheld(&mut self, withheld: Vec<(ClaimSlot, Claim)>) {
        for (slot, claim) in withheld {
            if let Some(filed) = self.by_slot.get_mut(&slot) {
                if filed.fingerprint == claim.fingerprint && filed.at_ms == claim.at_ms {
                    *filed = claim;
                }
            }
        }
    }

    /// Forgets the claims that have expired at `now_ms`.
    fn drop_expired(&mut self, now_ms: i64) {
        let changes = &mut self.changes;
        self.by_slot.retain(|slot, claim| {
            let live = unexpired(claim, now_ms);
            if !live {
                changes.mark(slot);
            }
            live
        });
    }

    /// The bytes of the answers kept for `org`'s keys (bodies and headers).
    pub(crate) fn stored_bytes(&self, org: &str) -> usize {
        self.by_slot
            .iter()
            .filter(|((owner, _, _), _)| owner == org)
            .filter_map(|((_, _, key), claim)| Some(key.len() + claim.reply.as_ref()?.weight()))
            .sum()
    }

    /// The claim at `slot` if it belongs in the state file: answered and not yet expired.
    pub(crate) fn durable(&self, slot: &ClaimSlot, now_ms: i64) -> Option<&Claim> {
        self.by_slot
            .get(slot)
            .filter(|claim| claim.reply.is_some() && unexpired(claim, now_ms))
    }

    /// Claims `slot` for a request of `principal` whose body has `print`, or says why it
    /// must not run.
    ///
    /// # Errors
    /// 409 when the key was used by another principal or with another body, or its first
    /// request is still running.
    pub(crate) fn begin(
        &mut self,
        slot: &ClaimSlot,
        principal: &str,
        print: [u8; 32],
        now_ms: i64,
    ) -> Result<Begin, ApiError> {
        let since = now_ms.checked_sub(self.swept_at_ms);
        if !since.is_some_and(|since| (0..SWEEP_EVERY_MS).contains(&since)) {
            self.drop_expired(now_ms);
            self.swept_at_ms = now_ms;
        }
        // One past its day that no sweep has reached yet is gone all the same.
        if self
            .by_slot
            .get(slot)
            .is_some_and(|claim| !unexpired(claim, now_ms))
        {
            self.by_slot.remove(slot);
            self.changes.mark(slot);
        }
        if let Some(claim) = self.by_slot.get(slot) {
            // Checked before the body, so a stranger learns nothing about the body either.
            if claim.principal.is_empty() || claim.principal != principal {
                return Err(ApiError::conflict(
                    "this Idempotency-Key was already used by another credential of the \
                     organization; use a key of your own",
                ));
            }
            if claim.fingerprint != print {
                return Err(ApiError::conflict(
                    "this Idempotency-Key was already used with a different request body",
                ));
            }
            return match &claim.reply {
                Some(reply) => {
                    let mut reply = reply.clone();
                    reply.headers.push((
                        HeaderName::from_static(REPLAYED_HEADER),
                        HeaderValue::from_static("true"),
                    ));
                    Ok(Begin::Replay(reply))
                }
                None => Err(ApiError::conflict(
                    "a request with this Idempotency-Key is still being processed",
                )),
            };
        }
        self.by_slot.insert(
            slot.clone(),
            Claim {
                fingerprint: print,
                principal: principal.to_owned(),
                at_ms: now_ms,
                reply: None,
            },
        );
        Ok(Begin::Run)
    }

    /// Stores the answer of a claimed request for replays, and says whether it was stored.
    /// A server error releases the key instead, so a retry runs again.
    pub(crate) fn settle(&mut self, slot: &ClaimSlot, reply: &Reply) -> bool {
        if reply.status.is_server_error() {
            self.by_slot.remove(slot);
            return false;
        }
        match self.by_slot.get_mut(slot) {
            Some(claim) => {
                claim.reply = Some(reply.clone());
                self.changes.mark(slot);
                true
            }
            None => false,
        }
    }

    /// Takes out the claims whose request is still running, for [`resume`](Self::resume).
    pub(crate) fn running(&mut self) -> Vec<(ClaimSlot, Claim)> {
        self.take_out(|_, claim| claim.reply.is_none())
    }

    /// Takes out the claims `wanted` picks, unmarked: memory is about to be read back from
    /// the file, and the caller puts them back after.
    fn take_out(&mut self, wanted: impl Fn(&ClaimSlot, &Claim) -> bool) -> Vec<(ClaimSlot, Claim)> {
        let slots: Vec<ClaimSlot> = self
            .by_slot
            .iter()
            .filter(|(slot, claim)| wanted(slot, claim))
            .map(|(slot, _)| slot.clone())
            .collect();
        slots
            .into_iter()
            .filter_map(|slot| self.by_slot.remove_entry(&slot))
            .collect()
    }

    /// Puts back the claims of requests still running after the claims were read back from
    /// the state file, which keeps answered claims only.
    pub(crate) fn resume(&mut self, running: Vec<(ClaimSlot, Claim)>) {
        for (slot, claim) in running {
            self.by_slot.entry(slot).or_insert(claim);
        }
    }

    /// Forgets the claim at `slot`, answered or not, so a retry with its key runs again: for
    /// an answer that could not be kept in the state file.
    pub(crate) fn release(&mut self, slot: &ClaimSlot) {
        if self.by_slot.remove(slot).is_some() {
            self.changes.mark(slot);
        }
    }
}

/// Whether `claim` is still remembered at `now_ms`.
fn unexpired(claim: &Claim, now_ms: i64) -> bool {
    // A difference that overflows is no claim of the last day: a clock set to an extreme.
    now_ms
        .checked_sub(claim.at_ms)
        .is_some_and(|age| age < IDEMPOTENCY_RETENTION_MS)
}

/// SHA-256 of a canonical form of a JSON body: object members sorted by name and numbers
/// by their value ([`canonical_number`]), so a retry that spells the same body with other
/// whitespace, member order or number notation is the same request. A hash rather than the
/// body keeps claims small in memory and in the state file.
pub(crate) fn fingerprint(value: &Value) -> [u8; 32] {
    fn feed(hasher: &mut Sha256, value: &Value) {
        let text = |hasher: &mut Sha256, text: &str| {
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        match value {
            Value::Null => hasher.update(b"n"),
            Value::Bool(flag) => hasher.update(if *flag { b"t" } else { b"f" }),
            Value::Number(number) => {
                hasher.update(b"#");
                text(hasher, &canonical_number(number));
            }
            Value::String(string) => {
                hasher.update(b"s");
                text(hasher, string);
            }
            Value::Array(items) => {
                hasher.update(b"[");
                hasher.update((items.len() as u64).to_le_bytes());
                for item in items {
                    feed(hasher, item);
                }
            }
            Value::Object(members) => {
                hasher.update(b"{");
                hasher.update((members.len() as u64).to_le_bytes());
                let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                for (name, member) in sorted {
                    text(hasher, name);
                    feed(hasher, member);
                }
            }
        }
    }
    let mut hasher = Sha256::new();
    feed(&mut hasher, value);
    hasher.finalize().into()
}

/// 2^64 and 2^63, the ends of `u64` and `i64`, both exact as `f64`.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// A number written by its value: a whole float that an integer type holds is written as
/// that integer, so `10`, `10.0` and `1e1` are one number, as validation takes them (an
/// integer field accepts `10.0`), and a client that re-serializes a body for a retry sends
/// the same request. Integers are never made floats, which would round those beyond 2^53:
/// 9007199254740993 and 9007199254740992 stay two numbers.
fn canonical_number(number: &serde_json::Number) -> String {
    if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
        if float.fract() == 0.0 {
            // Whole and within range, so the conversions are exact; -0.0 is 0.
            if (0.0..TWO_POW_64).contains(&float) {
                return (float as u64).to_string();
            }
            if (-TWO_POW_63..0.0).contains(&float) {
                return (float as i64).to_string();
            }
        }
    }
    number.to_string()
}

#[cfg(test)]
#[path = "idempotency_tests.rs"]
mod tests;
