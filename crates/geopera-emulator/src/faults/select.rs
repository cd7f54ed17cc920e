//! Which faults strike a request: the plan's rules (for every caller, before authentication)
//! and the rules of an authenticated caller's own `x-emulator-fault` header.

use std::collections::HashMap;
use std::time::Duration;

use http::StatusCode;

use super::{strikes, FaultKind, FaultPlan, FaultRule, Phase};
use crate::error::ApiError;

/// The faults that apply to one request, one slot per moment they act in.
#[derive(Debug, Default)]
pub(crate) struct Injected {
    /// Waited before anything else.
    pub latency: Duration,
    /// Answered instead of running the operation.
    pub before: Option<FaultRule>,
    /// Answered after the operation ran, instead of its answer.
    pub after: Option<FaultRule>,
    /// Applied to the body of whatever is answered.
    pub body: Option<FaultKind>,
    /// The plan's rules in `after` and `body` whose strikes were counted as they were drawn,
    /// to be given back if the caller's own rules answer before they can act.
    counted: Counted,
}

/// Which plan rules a draw counted as striking though they act only later.
#[derive(Debug, Default)]
struct Counted {
    /// The plan the indices are of ([`FaultState::generation`]).
    generation: u64,
    after: Option<usize>,
    body: Option<usize>,
}

impl Injected {
    /// The latency of a caller's own rules still left to wait after the plan's `waited`: the
    /// two together keep to [`super::MAX_LATENCY`], the bound any number of latency rules
    /// keeps to, so a request's header cannot double it.
    pub(crate) fn latency_after(&self, waited: Duration) -> Duration {
        self.latency.min(super::MAX_LATENCY.saturating_sub(waited))
    }

    /// Holds the waits these faults make (latency, a slow body) to `most` each: for a caller
    /// without credentials, whose header could otherwise keep a connection for the full
    /// [`super::MAX_LATENCY`] per request, past every timeout the server keeps.
    pub(crate) fn hold_waits_to(&mut self, most: Duration) {
        self.latency = self.latency.min(most);
        if let Some(FaultKind::SlowBody(over)) = &mut self.body {
            *over = (*over).min(most);
        }
    }

    /// Adds a rule that struck; the first of each slot wins, and a rule that finds its slot
    /// taken is not applied ([`Added::Passed`]). A 429 returns its burst so the caller can
    /// remember the rest of it where it belongs.
    fn add(&mut self, rule: FaultRule) -> Added {
        match &rule.kind {
            FaultKind::Latency(by) => {
                self.latency = self.latency.saturating_add(*by).min(super::MAX_LATENCY);
            }
            FaultKind::Truncate | FaultKind::Malformed | FaultKind::SlowBody(_) => {
                if self.body.is_some() {
                    return Added::Passed;
                }
                self.body = Some(rule.kind.clone());
            }
            FaultKind::RateLimited { burst } => {
                if self.before.is_some() {
                    return Added::Passed;
                }
                let rest = Burst {
                    left: burst.saturating_sub(1),
                    retry_after: rule.retry_after,
                    operation: rule.operation.clone(),
                };
                self.before = Some(rule);
                return Added::Burst(rest);
            }
            FaultKind::ServerError(_) | FaultKind::Status(_) | FaultKind::Reset => {
                let slot = match rule.phase {
                    Phase::Before => &mut self.before,
                    Phase::After => &mut self.after,
                };
                if slot.is_some() {
                    return Added::Passed;
                }
                *slot = Some(rule);
            }
        }
        Added::Applied
    }

    /// A 429 that continues a burst.
    fn continue_burst(&mut self, retry_after: Option<u64>) {
        self.before = Some(FaultRule {
            kind: FaultKind::RateLimited { burst: 1 },
            phase: Phase::Before,
            retry_after,
            rate_percent: None,
            operation: None,
            times: None,
        });
    }
}

/// What became of a rule [`Injected::add`] was given.
enum Added {
    /// It applies to the request.
    Applied,
    /// A 429 that applies, with what is left of its burst.
    Burst(Burst),
    /// Its slot was taken by a rule before it: it does nothing to the request, and a `times=`
    /// limit does not count it.
    Passed,
}

/// When a drawn rule acts on a request, for what answers instead of the request to pre-empt.
#[derive(Clone, Copy)]
enum Acts {
    /// Before the operation (latency, an answer instead of it, a burst).
    Before,
    /// After the operation, instead of its answer.
    AfterTheOperation,
    /// On the body of the answer sent.
    OnTheBody,
}

/// What is left of a 429 burst.
#[derive(Debug)]
struct Burst {
    left: u32,
    retry_after: Option<u64>,
    /// The operation its rule was limited to (`op=`): the burst goes on for that one only.
    operation: Option<String>,
}

impl Burst {
    /// Whether the burst goes on for a request of `op_id`.
    fn covers(&self, op_id: &str) -> bool {
        self.operation.as_deref().is_none_or(|only| only == op_id)
    }
}

/// The 429 bursts running for one set of callers (everyone, for the plan's; an
/// organization, for its headers'): one per operation a rule named, and one for rules that
/// named none, so that a burst of one operation neither ends nor takes the place of
/// another's. At most one per operation, so bounded by their number.
#[derive(Debug, Default)]
struct Bursts(Vec<Burst>);

impl Bursts {
    /// Goes on with the burst that covers `op_id`, if one runs: the `Retry-After` of its next
    /// 429.
    fn continue_for(&mut self, op_id: &str) -> Option<Option<u64>> {
        let at = self.0.iter().position(|burst| burst.covers(op_id))?;
        let burst = self.0.get_mut(at)?;
        burst.left = burst.left.saturating_sub(1);
        let retry_after = burst.retry_after;
        if burst.left == 0 {
            self.0.remove(at);
        }
        Some(retry_after)
    }

    /// Starts `burst` in place of one of the same operation, unless nothing is left of it.
    fn start(&mut self, burst: Burst) {
        if burst.left == 0 {
            return;
        }
        self.0
            .retain(|running| running.operation != burst.operation);
        self.0.push(burst);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The plan in force and everything fault selection remembers between requests. It sits
/// behind the state's one lock, so a plan swap and a request drawing its faults never
/// interleave.
#[derive(Debug)]
pub(crate) struct FaultState {
    plan: FaultPlan,
    /// Counts the plans put in force, so that a strike given back after the plan changed is
    /// not taken from the new plan's rule of the same index.
    generation: u64,
    /// Per rule of the plan: how many requests it matched.
    seen: Vec<u64>,
    /// Per rule of the plan: how many times it struck.
    struck: Vec<u64>,
    /// How many header rules have been matched, the draw counter of header `@N%` rates.
    header_seen: u64,
    /// The rest of the 429 bursts the plan started, for every caller.
    plan_bursts: Bursts,
    /// The rest of 429 bursts that headers started, per organization.
    caller_bursts: HashMap<String, Bursts>,
}

impl FaultState {
    /// A plan whose rules have not matched anything yet.
    pub(crate) fn new(plan: FaultPlan) -> Self {
        let rules = plan.rules().len();
        FaultState {
            plan,
            generation: 0,
            seen: vec![0; rules],
            struck: vec![0; rules],
            header_seen: 0,
            plan_bursts: Bursts::default(),
            caller_bursts: HashMap::new(),
        }
    }

    /// Puts `plan` in force with fresh counters, and ends a 429 burst the old plan started.
    /// Bursts that headers started belong to their callers and go on.
    pub(crate) fn replace_plan(&mut self, plan: FaultPlan) {
        let rules = plan.rules().len();
        self.plan = plan;
        self.generation += 1;
        self.seen = vec![0; rules];
        self.struck = vec![0; rules];
        self.plan_bursts = Bursts::default();
    }

    /// The plan's faults for a request, drawn before anything else, for every caller (the
    /// plan stands for the network and the servers, which do not know who is calling).
    pub(crate) fn draw_plan(&mut self, seed: u64, op_id: &str) -> Injected {
        let mut injected = Injected::default();
        injected.counted.generation = self.generation;
        if let Some(retry_after) = self.plan_bursts.continue_for(op_id) {
            injected.continue_burst(retry_after);
        }
        let mut chosen: Vec<(usize, FaultRule)> = Vec::new();
        for (index, rule) in self.plan.rules().iter().enumerate() {
            if rule.operation.as_deref().is_some_and(|only| only != op_id) {
                continue;
            }
            let seen = self.seen.get(index).copied().unwrap_or(0);
            if let Some(slot) = self.seen.get_mut(index) {
                *slot += 1;
            }
            let struck = self.struck.get(index).copied().unwrap_or(0);
            if rule.times.is_some_and(|times| struck >= times) {
                continue;
            }
            if rule
                .rate_percent
                .is_none_or(|rate| strikes(seed, index, seen, rate))
            {
                chosen.push((index, rule.clone()));
            }
        }
        let mut applied = Vec::with_capacity(chosen.len());
        for (index, rule) in chosen {
            // An answer after the operation acts only on a request that runs, and a body fault
            // only on an answer that is sent: one a rule answers instead (before the operation,
            // or after it for a body fault) is over before them.
            let acts = match rule.kind {
                FaultKind::Truncate | FaultKind::Malformed | FaultKind::SlowBody(_) => {
                    Acts::OnTheBody
                }
                FaultKind::Latency(_) => Acts::Before,
                _ if rule.phase == Phase::After => Acts::AfterTheOperation,
                _ => Acts::Before,
            };
            match injected.add(rule) {
                Added::Applied => applied.push((index, acts)),
                Added::Burst(burst) => {
                    self.plan_bursts.start(burst);
                    applied.push((index, Acts::Before));
                }
                // Kept for a request it can reach: `503;times=1,500;times=1` answers the
                // first request 503 and the second 500.
                Added::Passed => {}
            }
        }
        for (index, acts) in applied {
            let preempted = match acts {
                Acts::Before => false,
                Acts::AfterTheOperation => injected.before.is_some(),
                Acts::OnTheBody => injected.before.is_some() || injected.after.is_some(),
            };
            if preempted {
                continue;
            }
            // Counted now, so that concurrent requests cannot all draw a `times=1` rule; one
            // that acts later is given back if the caller's own rules answer first.
            match acts {
                Acts::Before => {}
                Acts::AfterTheOperation => injected.counted.after = Some(index),
                Acts::OnTheBody => injected.counted.body = Some(index),
            }
            if let Some(slot) = self.struck.get_mut(index) {
                *slot += 1;
            }
        }
        injected
    }

    /// Gives back the strikes of the plan's rules that a caller's own rules (`own`) keep from
    /// acting: an answer of theirs instead of the operation comes before the plan's answer
    /// after it and its body fault, and an answer of theirs after the operation (which the
    /// plan's own answer after it, if any, wins over) is sent instead of the answer the
    /// plan's body fault would act on. Such a rule did nothing to the request, so, as with
    /// the plan's own rules pre-empted, its `times=` is kept for a request it reaches.
    fn give_back(&mut self, plan: &Injected, own: &Injected) {
        let counted = &plan.counted;
        if counted.generation != self.generation {
            return;
        }
        let kept_from_acting = if own.before.is_some() {
            [counted.after, counted.body]
        } else if own.after.is_some() && plan.after.is_none() {
            [None, counted.body]
        } else {
            [None, None]
        };
        for index in kept_from_acting.into_iter().flatten() {
            if let Some(slot) = self.struck.get_mut(index) {
                *slot = slot.saturating_sub(1);
            }
        }
    }

    /// The faults an authenticated request asked for in its own header, plus the rest of a
    /// 429 burst an earlier request of the same organization asked for. Drawn only after
    /// authentication, so a header can neither skip the 401 nor throttle other
    /// organizations.
    /// `plan` is what [`draw_plan`](Self::draw_plan) drew for the request; the strikes of its
    /// rules that the header's keep from acting are given back.
    ///
    /// # Errors
    /// 400 when the header is not a valid fault specification.
    pub(crate) fn draw_header(
        &mut self,
        seed: u64,
        op_id: &str,
        org: &str,
        header: Option<&str>,
        plan: &Injected,
    ) -> Result<Injected, ApiError> {
        let header_plan = match header {
            Some(spec) => FaultPlan::parse(spec)
                .map_err(|error| ApiError::problem(StatusCode::BAD_REQUEST, error.to_string()))?,
            None => FaultPlan::none(),
        };
        let mut injected = Injected::default();
        if let Some(bursts) = self.caller_bursts.get_mut(org) {
            if let Some(retry_after) = bursts.continue_for(op_id) {
                injected.continue_burst(retry_after);
            }
            if bursts.is_empty() {
                self.caller_bursts.remove(org);
            }
        }
        for rule in header_plan.rules() {
            // A header's rules live for one request: only `times=0` limits them.
            if rule.operation.as_deref().is_some_and(|only| only != op_id) || rule.times == Some(0)
            {
                continue;
            }
            let seen = self.header_seen;
            self.header_seen += 1;
            if rule
                .rate_percent
                .is_none_or(|rate| strikes(seed, usize::MAX, seen, rate))
            {
                if let Added::Burst(burst) = injected.add(rule.clone()) {
                    if burst.left > 0 {
                        self.caller_bursts
                            .entry(org.to_owned())
                            .or_default()
                            .start(burst);
                    }
                }
            }
        }
        self.give_back(plan, &injected);
        Ok(injected)
    }
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
