//! Fault injection: the failures a client meets between it and a real API.
//!
//! See the crate documentation for the syntax; [`FaultPlan`] is its parsed form. Which rules
//! strike a given request is decided in `select`; what a struck rule sends, in `deliver`.

pub(crate) mod deliver;
pub(crate) mod select;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use geopera_types::TRANSIENT_STATUSES;

/// The longest a request is held by latency faults, one rule or all that strike it together.
pub(crate) const MAX_LATENCY: Duration = Duration::from_secs(600);

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Waits this long before handling the request.
    Latency(Duration),
    /// Answers a problem+json server error, one of the transient statuses
    /// ([`geopera_types::TRANSIENT_STATUSES`]).
    ServerError(u16),
    /// Answers 429 with `Retry-After`; `burst` requests in a row (this one included).
    RateLimited {
        /// How many consecutive requests get the 429.
        burst: u32,
    },
    /// Answers this status with a plain-text body, e.g. an undocumented 418.
    Status(u16),
    /// Closes the connection with a TCP reset instead of answering.
    Reset,
    /// Sends the headers and half the body, then drops the connection.
    Truncate,
    /// Sends a complete `200`-style answer whose JSON body is cut in half.
    Malformed,
    /// Sends the real body in small pieces spread over this long.
    SlowBody(Duration),
}

/// When a fault strikes relative to the operation's execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    /// Before the operation runs (and, for plan faults, before authentication), so it never
    /// runs.
    #[default]
    Before,
    /// After the operation ran and committed its effects: only the answer is lost.
    After,
}

/// One rule of a [`FaultPlan`].
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRule {
    /// What happens.
    pub kind: FaultKind,
    /// When it happens (meaningful for server errors, statuses and resets).
    pub phase: Phase,
    /// The `Retry-After` seconds to send with a 429 or server error, if any.
    pub retry_after: Option<u64>,
    /// The share of matching requests it strikes, in percent; `None` means every one.
    pub rate_percent: Option<f64>,
    /// Only requests to this operation id match; `None` matches all.
    pub operation: Option<String>,
    /// Strike at most this many times; `None` means no limit.
    pub times: Option<u64>,
}

/// A parsed fault specification: comma-separated rules.
///
/// ```
/// use geopera_emulator::FaultPlan;
///
/// let plan: FaultPlan = "503;retry-after=2@10%,reset;after;op=billing.topup".parse()?;
/// assert_eq!(plan.rules().len(), 2);
/// # Ok::<(), geopera_emulator::FaultSpecError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
}

/// A fault specification that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec {spec:?}: {reason}")]
pub struct FaultSpecError {
    spec: String,
    reason: String,
}

impl FaultPlan {
    /// A plan with no rules: nothing is injected.
    pub fn none() -> Self {
        FaultPlan::default()
    }

    /// Parses a specification such as `503@10%,latency=200ms`. A request waits at most
    /// 600 s however many latency rules strike it.
    ///
    /// # Errors
    /// Returns [`FaultSpecError`] naming the first rule that is not understood.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut rules = Vec::new();
        for text in spec
            .split(',')
            .map(str::trim)
            .filter(|text| !text.is_empty())
        {
            rules.push(parse_rule(text).map_err(|reason| FaultSpecError {
                spec: text.to_owned(),
                reason,
            })?);
        }
        Ok(FaultPlan { rules })
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Whether there is nothing to inject.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl FromStr for FaultPlan {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        FaultPlan::parse(spec)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Before => "before",
            Phase::After => "after",
        })
    }
}

fn parse_rule(text: &str) -> Result<FaultRule, String> {
    let (body, rate_percent) = match text.rsplit_once('@') {
        Some((body, rate)) => {
            let number = rate.trim().trim_end_matches('%');
            let percent: f64 = number
                .parse()
                .map_err(|_| format!("rate {rate:?} is not a percentage like 10%"))?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(format!("rate {rate:?} is outside 0..100%"));
            }
            (body, Some(percent))
        }
        None => (text, None),
    };
    let mut parts = body.split([';', ':']).map(str::trim);
    let action = parts.next().unwrap_or_default();
    let kind = parse_action(action)?;
    let mut rule = FaultRule {
        kind,
        phase: Phase::Before,
        retry_after: None,
        rate_percent,
        operation: None,
        times: None,
    };
    // A repeat would otherwise override quietly, the last one winning.
    let mut given: Vec<&'static str> = Vec::new();
    for option in parts.filter(|part| !part.is_empty()) {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let name = name.trim().to_ascii_lowercase();
        if let Some(setting) = setting_of(&name) {
            if given.contains(&setting) {
                return Err(format!(
                    "option {name:?} sets {setting} a second time; give it once per rule"
                ));
            }
            given.push(setting);
        }
        match (name.as_str(), value.trim()) {
            ("before", "") => rule.phase = Phase::Before,
            ("after", "") => rule.phase = Phase::After,
            ("retry-after", secs) => rule.retry_after = Some(number(secs, "retry-after")?),
            ("burst", count) => match &mut rule.kind {
                FaultKind::RateLimited { burst } => {
                    let count = number(count, "burst")?;
                    *burst = u32::try_from(count.clamp(1, 10_000)).unwrap_or(1);
                }
                _ => return Err("burst= applies to 429 only".to_owned()),
            },
            // A name no operation has would never match, and the rule would quietly strike
            // nothing: a test aimed at a misspelt id would see no fault and pass.
            ("op", id) if geopera_types::operations::find(id).is_some() => {
                rule.operation = Some(id.to_owned());
            }
            ("op", id) => {
                return Err(format!(
                    "op={id:?} names no operation (an id such as orders.get)"
                ))
            }
            ("times", count) => rule.times = Some(number(count, "times")?),
            _ => return Err(format!("unknown option {option:?}")),
        }
    }
    if rule.phase == Phase::After
        && !matches!(
            rule.kind,
            FaultKind::ServerError(_) | FaultKind::Status(_) | FaultKind::Reset
        )
    {
        return Err("only server errors, statuses and resets can strike after".to_owned());
    }
    Ok(rule)
}

/// What an option sets, `None` for an unknown one: `before` and `after` both set the phase.
fn setting_of(name: &str) -> Option<&'static str> {
    match name {
        "before" | "after" => Some("the phase (before or after)"),
        "retry-after" => Some("retry-after"),
        "burst" => Some("burst"),
        "op" => Some("op"),
        "times" => Some("times"),
        _ => None,
    }
}

fn parse_action(action: &str) -> Result<FaultKind, String> {
    let (name, value) = action.split_once('=').unwrap_or((action, ""));
    let name = name.trim().to_ascii_lowercase();
    let value = value.trim();
    match name.as_str() {
        "latency" | "delay" => Ok(FaultKind::Latency(duration(value)?)),
        "slow" => Ok(FaultKind::SlowBody(if value.is_empty() {
            Duration::from_secs(2)
        } else {
            duration(value)?
        })),
        "reset" => Ok(FaultKind::Reset),
        "truncate" | "truncated" => Ok(FaultKind::Truncate),
        "malformed" => Ok(FaultKind::Malformed),
        "status" => {
            let code = status(value)?;
            Ok(FaultKind::Status(code))
        }
        code if code.bytes().all(|b| b.is_ascii_digit()) && !code.is_empty() => {
            match status(code)? {
                429 => Ok(FaultKind::RateLimited { burst: 1 }),
                code if TRANSIENT_STATUSES.contains(&code) => Ok(FaultKind::ServerError(code)),
                code => Ok(FaultKind::Status(code)),
            }
        }
        _ => Err(format!("unknown fault {action:?}")),
    }
}

fn status(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(code) if (200..=599).contains(&code) => Ok(code),
        _ => Err(format!(
            "{text:?} is not an HTTP status between 200 and 599"
        )),
    }
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{what}={text:?} is not a whole number"))
}

/// Reads `250ms`, `2s`, `1.5s` or a bare number of milliseconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(secs) = text.strip_suffix('s') {
        (secs, 1.0)
    } else {
        (text, 0.001)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms or 2s"))?;
    if !(0.0..=MAX_LATENCY.as_secs_f64()).contains(&(value * scale)) {
        return Err(format!("{text:?} is outside 0..{}s", MAX_LATENCY.as_secs()));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// Whether a rule with a rate strikes on its `n`th matching request, decided by the seed so
/// that a run can be repeated exactly.
pub(crate) fn strikes(seed: u64, rule: usize, n: u64, percent: f64) -> bool {
    let mut z = seed
        ^ (rule as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ n.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let threshold = (percent.clamp(0.0, 100.0) * 10_000.0) as u64;
    z % 1_000_000 < threshold
}

#[cfg(test)]
#[path = "faults_tests.rs"]
mod tests;
