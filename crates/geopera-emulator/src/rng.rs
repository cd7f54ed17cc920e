//! A tiny deterministic generator (SplitMix64) for synthetic data and ids.

/// Deterministic pseudo-random numbers from a seed.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The position in the sequence: `Rng::new(rng.state())` continues where `rng` is.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// The next 64 random bits.
    #[allow(
        clippy::should_implement_trait,
        reason = "not an iterator: it never ends"
    )]
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }

    /// `n` random bytes as lowercase hex.
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 2);
        while out.len() < n * 2 {
            out.push_str(&format!("{:016x}", self.next()));
        }
        out.truncate(n * 2);
        out
    }
}

/// Lowercase hex of `bytes`: the one encoder behind signatures, digests and random tokens.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `n` bytes from the operating system's generator, as lowercase hex: for secrets and
/// tokens, which must never follow from the seed.
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn os_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(to_hex(&bytes))
}

/// A stable 64-bit hash of a string (FNV-1a), for deriving per-name seeds.
pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
