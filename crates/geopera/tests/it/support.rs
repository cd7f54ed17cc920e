//! Shared set-up: one emulator per test, so recorded requests and counters are the test's own.

use geopera::{AuthenticatedClient, Client};
use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};

pub const HOST: &str = "earthsearch-aws";

pub fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .seed(11)
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts on 127.0.0.1")
}

pub fn client(emulator: &EmulatorHandle) -> AuthenticatedClient {
    AuthenticatedClient::new(emulator.base_url(), emulator.api_key()).expect("valid configuration")
}

pub fn anonymous(emulator: &EmulatorHandle) -> Client {
    Client::new(emulator.base_url()).expect("valid configuration")
}

/// The requests the emulator saw for one operation.
pub fn seen(
    emulator: &EmulatorHandle,
    operation_id: &str,
) -> Vec<geopera_emulator::RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some(operation_id))
        .collect()
}
