//! Shared set-up: one emulator per test, so recorded requests and counters are the test's own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use geopera::{AuthenticatedClient, Client, Clock};
use geopera_emulator::{Emulator, EmulatorHandle, ManualClock, RateLimits};

pub const HOST: &str = "earthsearch-aws";

pub fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .seed(11)
        .rate_limits(RateLimits::off())
        .record_bodies(true)
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

/// A capture id and footprint from the emulator's catalog, for placing archive orders.
pub fn capture(emulator: &EmulatorHandle) -> serde_json::Value {
    let page = geopera::operations::catalog_search::send_blocking(
        &client(emulator),
        geopera::models::CatalogSearchInput::new(HOST).limit(1),
    )
    .expect("a page");
    let feature = page
        .features
        .into_iter()
        .next()
        .expect("at least one feature");
    // A footprint of about 1 km², so that many orders stay within the starting credits.
    let corner = feature.bbox.unwrap_or_default();
    let (x, y) = (
        corner.first().copied().unwrap_or(0.0),
        corner.get(1).copied().unwrap_or(0.0),
    );
    let ring = serde_json::json!([
        [x, y],
        [x + 0.01, y],
        [x + 0.01, y + 0.01],
        [x, y + 0.01],
        [x, y]
    ]);
    serde_json::json!({"id": feature.id, "geometry": {"type": "Polygon", "coordinates": [ring]}})
}

/// An `orders.archive.place` body for one capture, named so the order can be found again.
pub fn archive_order(capture: &serde_json::Value, name: &str) -> geopera::JsonObject {
    serde_json::json!({"captures": [capture], "displayName": name})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// The display names of every order of the demo organization, walked page by page.
pub fn order_names(emulator: &EmulatorHandle) -> Vec<String> {
    geopera::operations::orders_list::items_blocking(
        &client(emulator),
        geopera::models::OrdersListInput::new().size(100),
    )
    .map(|order| {
        order.expect("a listed order")["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
    .collect()
}

/// The SDK's clock wired to the emulator's: when the SDK waits, emulator time jumps ahead
/// instead of the test sleeping, so minute-long windows and token lifetimes pass in an instant.
#[derive(Debug)]
pub struct SharedTime {
    emulator: ManualClock,
    origin_ms: i64,
    advancing: Mutex<()>,
}

impl SharedTime {
    /// A clock reading `emulator`'s time, from its present moment.
    pub fn new(emulator: &ManualClock) -> Arc<Self> {
        Arc::new(SharedTime {
            origin_ms: emulator.now_millis(),
            emulator: emulator.clone(),
            advancing: Mutex::new(()),
        })
    }

    fn advance_to(&self, at: Duration) {
        // Whoever arrives first moves time to `at`; later sleepers for the same moment find
        // it has come.
        let _guard = self
            .advancing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now();
        if at > now {
            self.emulator.advance(at - now);
        }
    }
}

impl Clock for SharedTime {
    fn now(&self) -> Duration {
        Duration::from_millis(
            u64::try_from(self.emulator.now_millis() - self.origin_ms).unwrap_or(0),
        )
    }

    fn sleep_until(&self, at: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.advance_to(at);
        Box::pin(tokio::task::yield_now())
    }
}

/// Runs `work` to its end on `runtime`, a runtime of the calling thread, under a subscriber of
/// its own, and returns what it logged: the test's own events, apart from every other test's.
pub fn logged<T>(runtime: &tokio::runtime::Runtime, work: impl Future<Output = T>) -> (T, String) {
    let log = crate::captured::Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(log.clone())
        .with_ansi(false)
        .finish();
    // The subscriber is this thread's, and the work runs on it.
    let done = tracing::subscriber::with_default(subscriber, || runtime.block_on(work));
    (done, log.text())
}

/// A runtime of the calling thread, for [`logged`].
pub fn this_threads_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The first moment something happened on a server of the test's own, shared between the
/// server's thread and the test: for waits measured from one answer to the next request.
#[derive(Clone, Default)]
pub struct Moment(Arc<Mutex<Option<std::time::Instant>>>);

impl Moment {
    /// Notes now, unless a moment is noted already.
    pub fn mark(&self) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(std::time::Instant::now);
    }

    /// Whether a moment is noted.
    pub fn is_marked(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// The time from `earlier`'s moment to this one; both must be noted.
    pub fn since(&self, earlier: &Moment) -> Duration {
        let at = |moment: &Moment| {
            moment
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .expect("a moment noted")
        };
        at(self).saturating_duration_since(at(earlier))
    }
}
