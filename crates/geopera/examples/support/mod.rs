//! Where the examples send their calls: `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` when set,
//! otherwise an emulator started in-process, so every example runs offline.

#![allow(dead_code, reason = "each example uses a different part")]

use geopera_emulator::{Emulator, EmulatorHandle};

/// The API to talk to. Keep it alive for as long as the example runs: dropping it stops the
/// embedded emulator.
pub struct Target {
    pub base_url: String,
    pub token: String,
    _emulator: Option<EmulatorHandle>,
}

impl Target {
    /// Whether the calls go to the emulator started in-process, for what only it can show
    /// (a job it fails on purpose, one of its own catalog items).
    pub fn is_embedded(&self) -> bool {
        self._emulator.is_some()
    }
}

/// Reads the environment, or starts the emulator when `GEOPERA_API_URL` is unset.
pub fn target() -> Result<Target, Box<dyn std::error::Error>> {
    if let Ok(base_url) = std::env::var("GEOPERA_API_URL") {
        let token = std::env::var("GEOPERA_API_TOKEN")
            .map_err(|_| "GEOPERA_API_URL is set, so GEOPERA_API_TOKEN must be too")?;
        return Ok(Target {
            base_url,
            token,
            _emulator: None,
        });
    }
    let emulator = Emulator::builder().start()?;
    eprintln!(
        "(no GEOPERA_API_URL: using an embedded emulator at {})",
        emulator.base_url()
    );
    Ok(Target {
        base_url: emulator.base_url().to_string(),
        token: emulator.api_key().to_owned(),
        _emulator: Some(emulator),
    })
}

/// The number of features in a catalog page.
pub fn feature_count(page: &geopera::models::CatalogSearchOutput) -> usize {
    page.features.len()
}

/// Time for examples that run longer than anyone wants to wait: against the embedded
/// emulator it is the emulator's own clock, moved forward by [`Time::pass`]; against a real
/// API it is real time, and `pass` sleeps.
#[derive(Clone, Debug)]
pub struct Time {
    emulated: Option<geopera_emulator::ManualClock>,
}

impl Time {
    /// The clock the SDK should read: the emulator's when there is one.
    pub fn sdk_clock(&self) -> std::sync::Arc<dyn geopera::Clock> {
        match &self.emulated {
            Some(clock) => sdk_clock_of(clock),
            None => std::sync::Arc::new(geopera::SystemClock::default()),
        }
    }

    /// Lets `duration` pass.
    pub async fn pass(&self, duration: std::time::Duration) {
        match &self.emulated {
            Some(clock) => clock.advance(duration),
            None => tokio::time::sleep(duration).await,
        }
    }
}

/// The SDK's view of `clock`, from its present moment: when the SDK waits, the emulator's time
/// jumps ahead instead.
pub fn sdk_clock_of(clock: &geopera_emulator::ManualClock) -> std::sync::Arc<dyn geopera::Clock> {
    std::sync::Arc::new(EmulatedClock {
        origin_ms: clock.now_millis(),
        clock: clock.clone(),
    })
}

/// The SDK's view of an emulator's manual clock.
#[derive(Debug)]
struct EmulatedClock {
    clock: geopera_emulator::ManualClock,
    origin_ms: i64,
}

impl geopera::Clock for EmulatedClock {
    fn now(&self) -> std::time::Duration {
        let elapsed = self.clock.now_millis().saturating_sub(self.origin_ms);
        std::time::Duration::from_millis(u64::try_from(elapsed).unwrap_or(0))
    }

    fn sleep_until(
        &self,
        at: std::time::Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let now = self.now();
        if at > now {
            self.clock.advance(at - now);
        }
        Box::pin(std::future::ready(()))
    }
}

/// Like [`target`], but an embedded emulator runs on a clock the example moves.
pub fn target_with_time() -> Result<(Target, Time), Box<dyn std::error::Error>> {
    if std::env::var("GEOPERA_API_URL").is_ok() {
        return Ok((target()?, Time { emulated: None }));
    }
    let clock = geopera_emulator::ManualClock::new();
    let emulator = Emulator::builder().clock(clock.clone()).start()?;
    eprintln!(
        "(no GEOPERA_API_URL: using an embedded emulator at {}, on a clock this example moves)",
        emulator.base_url()
    );
    let target = Target {
        base_url: emulator.base_url().to_string(),
        token: emulator.api_key().to_owned(),
        _emulator: Some(emulator),
    };
    Ok((
        target,
        Time {
            emulated: Some(clock),
        },
    ))
}
