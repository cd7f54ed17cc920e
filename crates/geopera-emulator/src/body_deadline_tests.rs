//! Unit tests of `body_deadline.rs`.
use super::*;

fn bounded(inner: Body) -> Body {
    Body::new(Bounded {
        inner,
        deadline: None,
        held: Held {
            budget: BodyBudget::for_limit(usize::MAX),
            bytes: 0,
            share: BodyShare::default(),
        },
    })
}

#[tokio::test(start_paused = true)]
async fn a_body_that_stops_arriving_fails_at_the_deadline() {
    let stalled = futures::stream::pending::<Result<Bytes, std::io::Error>>();
    let started = tokio::time::Instant::now();
    let error = axum::body::to_bytes(bounded(Body::from_stream(stalled)), usize::MAX)
        .await
        .expect_err("the deadline passes");
    assert!(is_deadline(&error), "{error:?}");
    assert_eq!(started.elapsed(), BODY_DEADLINE);
}

#[tokio::test(start_paused = true)]
async fn a_trickle_is_cut_at_the_deadline_however_often_it_sends() {
    use futures::StreamExt as _;
    let trickle = futures::stream::iter(0..u32::MAX).then(|_| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, std::io::Error>(Bytes::from_static(b"x"))
    });
    let error = axum::body::to_bytes(bounded(Body::from_stream(trickle)), usize::MAX)
        .await
        .expect_err("the deadline passes");
    assert!(is_deadline(&error), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_body_in_time_is_read_whole() {
    let body = axum::body::to_bytes(bounded(Body::from("{}")), usize::MAX)
        .await
        .expect("read");
    assert_eq!(&body[..], b"{}");
    let other = std::io::Error::other("reset");
    assert!(!is_deadline(&other));
}

/// A body thrown away as it arrives holds no memory: once its share is released it gives
/// back what it counted and takes nothing more, so another body finds the whole budget.
#[tokio::test(start_paused = true)]
async fn a_released_body_gives_back_its_bytes_and_counts_no_more() {
    use futures::StreamExt as _;
    let budget = BodyBudget::for_limit(4);
    let cap = 4 * BODIES_HELD_AT_ONCE;
    let share = BodyShare::default();
    let chunks = futures::stream::iter([cap - 1, cap, cap])
        .map(|size| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; size])));
    let body = Body::new(Bounded {
        inner: Body::from_stream(chunks),
        deadline: None,
        held: Held {
            budget: budget.clone(),
            bytes: 0,
            share: share.clone(),
        },
    });
    let mut stream = body.into_data_stream();
    let first = stream
        .next()
        .await
        .expect("a chunk")
        .expect("within the budget");
    assert_eq!(first.len(), cap - 1);
    assert!(!budget.take(2), "the first chunk is held");
    share.release();
    for _ in 0..2 {
        let next = stream.next().await.expect("a chunk").expect("not counted");
        assert_eq!(next.len(), cap);
        assert!(budget.take(cap), "nothing is held");
        budget.give_back(cap);
    }
}

/// The deadline runs from the first read, not from when the body was made: an operation's
/// injected latency comes before its body is read, and is the emulator's wait.
#[tokio::test(start_paused = true)]
async fn the_deadline_starts_at_the_first_read() {
    // A body whose bytes come a second after it is first asked for.
    let late = futures::stream::once(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, std::io::Error>(Bytes::from_static(b"{}"))
    });
    let body = bounded(Body::from_stream(late));
    tokio::time::sleep(BODY_DEADLINE * 2).await;
    let read = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("read in time");
    assert_eq!(&read[..], b"{}");
}
