//! Unit tests of `body_deadline.rs`.
use super::*;

fn bounded(inner: Body) -> Body {
    Body::new(Bounded {
        inner,
        deadline: Box::pin(tokio::time::sleep(BODY_DEADLINE)),
        held: Held {
            budget: BodyBudget::for_limit(usize::MAX),
            bytes: 0,
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
