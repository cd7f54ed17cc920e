//! One engine, two faces: the same scenarios run through `send_detailed` on a runtime and
//! through `send_blocking_detailed` on a plain thread, and must behave the same — retries,
//! deadlines, 429 pauses and the in-flight cap.

use std::time::{Duration, Instant};

use geopera::models::{CatalogSearchInput, CatalogSearchOutput};
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, Error, Request, Response, RetryPolicy, StatusCode};
use geopera_emulator::{Emulator, EmulatorHandle, FaultPlan, RateLimits};

use crate::support::HOST;

#[derive(Clone, Copy, Debug)]
enum Face {
    Async,
    Blocking,
}

const FACES: [Face; 2] = [Face::Async, Face::Blocking];

type Searched = Result<Response<CatalogSearchOutput>, Error>;

fn search(
    face: Face,
    client: &AuthenticatedClient,
    request: Request<CatalogSearchInput>,
) -> Searched {
    match face {
        Face::Async => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(catalog_search::send_detailed(client, request)),
        Face::Blocking => catalog_search::send_blocking_detailed(client, request),
    }
}

/// `count` searches at once through `face`, each on its own task or thread.
fn many(
    face: Face,
    client: &AuthenticatedClient,
    count: usize,
    request: fn() -> Request<CatalogSearchInput>,
) -> Vec<Searched> {
    match face {
        Face::Async => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(futures::future::join_all(
                (0..count).map(|_| catalog_search::send_detailed(client, request())),
            )),
        Face::Blocking => std::thread::scope(|scope| {
            let calls: Vec<_> = (0..count)
                .map(|_| scope.spawn(|| catalog_search::send_blocking_detailed(client, request())))
                .collect();
            calls
                .into_iter()
                .map(|call| call.join().expect("no panic"))
                .collect()
        }),
    }
}

fn emulator_with(faults: &str) -> EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .faults(FaultPlan::parse(faults).expect("a valid plan"))
        .start()
        .expect("starts")
}

fn client(
    emu: &EmulatorHandle,
    build: impl FnOnce(
        geopera::ClientBuilder<AuthenticatedClient>,
    ) -> geopera::ClientBuilder<AuthenticatedClient>,
) -> AuthenticatedClient {
    build(
        AuthenticatedClient::builder(emu.api_key())
            .base_url(emu.base_url())
            .retry_policy(
                RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)),
            ),
    )
    .build()
    .expect("valid")
}

fn one() -> Request<CatalogSearchInput> {
    Request::new(CatalogSearchInput::new(HOST).limit(1))
}

#[test]
fn both_faces_retry_transient_failures_alike() {
    for face in FACES {
        let emu = emulator_with("503;op=catalog.search;times=2");
        let response = search(face, &client(&emu, |b| b), one()).expect("an answer");
        assert_eq!(response.status, StatusCode::OK, "{face:?}");
        assert_eq!(response.attempts, 3, "{face:?}");
    }
}

#[test]
fn both_faces_end_at_the_deadline_however_many_retries_are_left() {
    for face in FACES {
        let emu = emulator_with("latency=2s;op=catalog.search");
        let client = client(&emu, |b| {
            b.timeout(Duration::from_millis(300))
                .retries(10)
                .deadline(Duration::from_millis(900))
        });
        let started = Instant::now();
        let err = search(face, &client, one()).expect_err("timed out");
        let elapsed = started.elapsed();
        assert!(err.is_timeout(), "{face:?}: {err:?}");
        assert!(
            err.attempts() >= 2,
            "{face:?}: retried until the deadline: {err:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(850) && elapsed < Duration::from_millis(1_600),
            "{face:?}: {elapsed:?}"
        );
    }
}

#[test]
fn both_faces_wait_out_a_429_and_pause_their_class() {
    for face in FACES {
        let emu = emulator_with("429;retry-after=1;op=catalog.search;times=1");
        let client = client(&emu, |b| b);
        let started = Instant::now();
        let response = search(face, &client, one()).expect("an answer");
        assert_eq!(
            (response.status, response.attempts),
            (StatusCode::OK, 2),
            "{face:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(950), "{face:?}");
    }
}

#[test]
fn both_faces_keep_to_the_in_flight_cap() {
    for face in FACES {
        let emu = emulator_with("latency=200ms;op=catalog.search");
        let client = client(&emu, |b| b.max_in_flight(2));
        let started = Instant::now();
        let outcomes = many(face, &client, 6, one);
        let elapsed = started.elapsed();
        assert!(outcomes.iter().all(Result::is_ok), "{face:?}: {outcomes:?}");
        // Six calls of 200 ms, two at a time: three rounds.
        assert!(
            elapsed >= Duration::from_millis(580) && elapsed < Duration::from_secs(3),
            "{face:?}: {elapsed:?}"
        );
    }
}

/// A call whose class is paused by a 429 for longer than the call's deadline leaves fails at
/// once with the deadline's timeout, sending nothing, where it slept until the deadline and
/// failed the same way.
#[test]
fn both_faces_fail_at_once_when_a_pause_outlasts_the_deadline() {
    for face in FACES {
        let emu = emulator_with("429;retry-after=30;op=catalog.search;times=1");
        let client = client(&emu, |b| b);
        // The 429's wait outlasts this call's deadline too: it hands back the 429.
        let first = search(face, &client, one().deadline(Duration::from_secs(5)))
            .expect("the 429 as an answer");
        assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS, "{face:?}");
        let sent = emu.executed("catalog.search");
        let started = Instant::now();
        let err = search(face, &client, one().deadline(Duration::from_secs(5)))
            .expect_err("no time to wait the pause out");
        let elapsed = started.elapsed();
        assert!(err.is_timeout(), "{face:?}: {err:?}");
        assert_eq!(err.attempts(), 0, "{face:?}: nothing was sent: {err:?}");
        assert!(
            elapsed < Duration::from_secs(2),
            "{face:?}: waited {elapsed:?}"
        );
        assert_eq!(
            emu.executed("catalog.search"),
            sent,
            "{face:?}: nothing sent"
        );
    }
}

/// A call whose paced slot comes after its deadline fails at once and gives the slot back:
/// the next call goes in it, not one spacing later.
#[test]
fn both_faces_give_back_a_paced_slot_the_deadline_would_not_reach() {
    for face in FACES {
        let emu = emulator_with("");
        // One send every 600 ms.
        let client = client(&emu, |b| b.pace(geopera::RateClass::Default, 100));
        search(face, &client, one()).expect("the first slot is now");
        let started = Instant::now();
        let err = search(face, &client, one().deadline(Duration::from_millis(300)))
            .expect_err("its slot is 600 ms away");
        assert!(err.is_timeout(), "{face:?}: {err:?}");
        assert_eq!(err.attempts(), 0, "{face:?}: nothing was sent: {err:?}");
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{face:?}: waited {:?}",
            started.elapsed()
        );
        search(face, &client, one()).expect("the slot given back");
        let went = started.elapsed();
        assert!(
            went >= Duration::from_millis(400) && went < Duration::from_millis(1_000),
            "{face:?}: the third call went {went:?} after the second asked, not in its slot"
        );
    }
}
