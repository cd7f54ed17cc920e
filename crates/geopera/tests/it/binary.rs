//! Operations that answer images or XML: every verb returns a typed `Binary`, error statuses
//! stay typed errors, the body can be streamed, and the response-size cap still holds.

use std::time::{Duration, Instant};

use futures::TryStreamExt as _;
use geopera::models::{CatalogTileInput, CogTileInput, ItemWmtsCapabilitiesInput};
use geopera::operations::{catalog_tile_render, cog_tile_render, items_tile_wmts_capabilities};
use geopera::{Binary, Client, Error, ErrorKind, Geopera, Parsed, StatusCode};
use geopera_emulator::EmulatorHandle;
use serde_json::json;

use crate::hostile::{endless, Hostile};
use crate::support::{client, emulator, seen, HOST};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn assert_png(binary: &Binary) {
    assert_eq!(binary.content_type, "image/png");
    assert!(
        binary.bytes.starts_with(PNG_SIGNATURE),
        "not a PNG: {binary:?}"
    );
}

/// A scene the emulator's catalog knows, as the first search result.
fn a_scene(emu: &EmulatorHandle) -> String {
    let page = geopera::operations::catalog_search::send_blocking(
        &client(emu),
        geopera::models::CatalogSearchInput::new(HOST).limit(1),
    )
    .expect("a page");
    page.features.into_iter().next().expect("a feature").id
}

fn tile(scene: &str) -> CatalogTileInput {
    CatalogTileInput::new("sentinel-2-l2a", scene, "true_color", 3, 4, 2, "png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_render_answers_png_bytes_through_every_verb() {
    let emu = emulator();
    let client = client(&emu);
    let scene = a_scene(&emu);

    let sent = catalog_tile_render::send(&client, tile(&scene))
        .await
        .expect("a tile");
    assert_png(&sent);

    let detailed = catalog_tile_render::send_detailed(&client, tile(&scene))
        .await
        .expect("an answer");
    assert_eq!(detailed.status, StatusCode::OK);
    match &detailed.parsed {
        Parsed::Success(binary) => assert_png(binary),
        other => panic!("not a success: {other:?}"),
    }
    assert_eq!(detailed.content, sent.bytes);

    let blocking = {
        let (client, scene) = (client.clone(), scene.clone());
        tokio::task::spawn_blocking(move || {
            catalog_tile_render::send_blocking(&client, tile(&scene))
        })
        .await
        .expect("joined")
        .expect("a tile")
    };
    assert_png(&blocking);

    let geopera = Geopera::from(client.clone());
    let fluent: Binary = geopera
        .catalog()
        .tile()
        .render(tile(&scene))
        .await
        .expect("a tile");
    assert_png(&fluent);

    // The emulator draws a tile from its coordinates, so every verb got the same picture.
    for other in [&detailed.content, &blocking.bytes, &fluent.bytes] {
        assert_eq!(other, &sent.bytes);
    }
}

#[test]
fn a_jpeg_request_answers_jpeg_from_the_blocking_fluent_client() {
    let emu = emulator();
    let geopera = Geopera::from(client(&emu));
    let jpeg = geopera
        .cog()
        .tile()
        .render(CogTileInput::new(
            "https://example.com/a.tif",
            0,
            0,
            0,
            "jpeg",
        ))
        .send_blocking()
        .expect("a tile");
    assert_eq!(jpeg.content_type, "image/jpeg");
    assert!(jpeg.bytes.starts_with(&[0xff, 0xd8, 0xff]), "SOI: {jpeg:?}");
}

#[tokio::test]
async fn wmts_capabilities_answer_xml_text() {
    let emu = emulator();
    let client = client(&emu);
    let project = emu.default_project(geopera_emulator::DEMO_ORG);
    let items = Geopera::from(client.clone())
        .invoke("items.list", json!({"project_id": project, "limit": 1}))
        .await
        .expect("items");
    let item = items["items"][0]["id"].as_str().expect("an item");
    let document = items_tile_wmts_capabilities::send(
        &client,
        ItemWmtsCapabilitiesInput::new(item, "https://tiles.example.com/"),
    )
    .await
    .expect("capabilities");
    assert_eq!(document.media_type(), "application/xml");
    let text = document.text().expect("UTF-8");
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(text.contains("<Capabilities"));
}

#[tokio::test]
async fn an_error_status_on_a_binary_operation_is_still_a_typed_error() {
    let emu = emulator();
    let client = client(&emu);
    let error = catalog_tile_render::send(&client, tile("no-such-scene"))
        .await
        .expect_err("unknown scene");
    assert!(matches!(error, Error::Api { .. }), "{error:?}");
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(error.kind(), ErrorKind::NotFound);

    let detailed = catalog_tile_render::send_detailed(&client, tile("no-such-scene"))
        .await
        .expect("an answer");
    assert!(
        matches!(detailed.parsed, Parsed::Problem(_)),
        "{detailed:?}"
    );

    let streamed = catalog_tile_render::stream_body(&client, tile("no-such-scene"))
        .await
        .expect_err("unknown scene");
    assert_eq!(streamed.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn the_streamed_body_is_the_body_send_returns() {
    let emu = emulator();
    let client = client(&emu);
    let scene = a_scene(&emu);
    let whole = catalog_tile_render::send(&client, tile(&scene))
        .await
        .expect("a tile");

    let stream = catalog_tile_render::stream_body(&client, tile(&scene))
        .await
        .expect("a body");
    assert_eq!(stream.content_type(), "image/png");
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.expect("every chunk");
    assert_eq!(chunks.concat(), whole.bytes);

    let fluent = Geopera::from(client.clone())
        .catalog()
        .tile()
        .render(tile(&scene))
        .stream_body()
        .await
        .expect("a body");
    let chunks: Vec<bytes::Bytes> = fluent.try_collect().await.expect("every chunk");
    assert_eq!(chunks.concat(), whole.bytes);

    let blocking = tokio::task::spawn_blocking(move || {
        let stream =
            catalog_tile_render::stream_body_blocking(&client, tile(&scene)).expect("a body");
        assert_eq!(stream.content_type(), "image/png");
        stream
            .collect::<Result<Vec<_>, _>>()
            .expect("every chunk")
            .concat()
    })
    .await
    .expect("joined");
    assert_eq!(blocking, whole.bytes);
}

#[test]
fn an_endless_binary_body_fails_at_the_cap() {
    let server = Hostile::serve("127.0.0.1", |_| endless("image/png", &[0u8; 16 * 1024]));
    let client = Client::builder()
        .base_url(server.url())
        .max_response_bytes(1024 * 1024)
        .retries(0)
        .build()
        .expect("valid");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let started = Instant::now();
    let error = runtime
        .block_on(cog_tile_render::send(
            &client,
            CogTileInput::new("https://example.com/a.tif", 0, 0, 0, "png"),
        ))
        .expect_err("too large");
    assert!(
        matches!(
            error,
            Error::TooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `invoke` hands back one JSON value, which a tile is not: the call is refused before it is
/// sent, naming the operation, and `invoke_detailed` still carries the bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_refuses_a_binary_operation_before_sending_and_detailed_keeps_the_bytes() {
    let emu = emulator();
    let geopera = Geopera::from(client(&emu));
    let scene = a_scene(&emu);
    let body = serde_json::to_value(tile(&scene)).expect("a JSON body");

    let error = geopera
        .invoke("catalog.tile.render", body.clone())
        .await
        .expect_err("bytes are no JSON answer");
    assert!(
        matches!(&error, Error::InvalidRequest { operation_id, .. } if operation_id == "catalog.tile.render"),
        "{error:?}"
    );
    assert!(error.to_string().contains("invoke_detailed"), "{error}");
    let blocking = {
        let (geopera, body) = (geopera.clone(), body.clone());
        tokio::task::spawn_blocking(move || geopera.invoke_blocking("catalog.tile.render", body))
            .await
            .expect("joined")
    };
    assert!(
        matches!(blocking, Err(Error::InvalidRequest { .. })),
        "{blocking:?}"
    );
    assert!(
        seen(&emu, "catalog.tile.render").is_empty(),
        "nothing was sent"
    );

    let detailed = geopera
        .invoke_detailed("catalog.tile.render", body)
        .await
        .expect("an answer");
    assert_eq!(detailed.status, StatusCode::OK);
    assert!(detailed.content.starts_with(PNG_SIGNATURE));
    assert_eq!(seen(&emu, "catalog.tile.render").len(), 1);
}

/// A server that answers its one connection with `content_type`, chunked, and one chunk, then
/// keeps quiet, and a client of it without a read timeout; the server reports how long after
/// the chunk the client closed the connection (`None`: not within 10 s).
fn quiet_after_one_chunk(
    content_type: &'static str,
    chunk: &'static str,
) -> (Client, std::sync::mpsc::Receiver<Option<Duration>>) {
    let (client, _asked, closed) = quiet_after(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n\
         {:x}\r\n{chunk}\r\n",
        chunk.len()
    ));
    (client, closed)
}

/// A server that reads the one request of its one connection, writes `answer` (nothing, for
/// an answer whose head never comes), then keeps quiet, and a client of it without a read
/// timeout. The server says when the request has come, and then how long after it wrote the
/// client closed the connection (`None`: not within 10 s).
fn quiet_after(
    answer: String,
) -> (
    Client,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Receiver<Option<Duration>>,
) {
    use std::io::{Read as _, Write as _};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let (asked, request_came) = std::sync::mpsc::channel();
    let (closed, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 64 * 1024];
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.read(&mut buf);
        let _ = asked.send(());
        let _ = stream.write_all(answer.as_bytes());
        // Now silent: the next read ends when the client closes, or after 10 s.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let started = Instant::now();
        let ended = loop {
            match stream.read(&mut buf) {
                Ok(0) => break Some(started.elapsed()),
                Ok(_) => {}
                Err(_) => break None,
            }
        };
        let _ = closed.send(ended);
    });
    let client = Client::builder()
        .base_url(&url)
        .read_timeout(None)
        .build()
        .expect("valid");
    (client, request_came, seen)
}

/// Asserts that the server of [`quiet_after_one_chunk`] saw its connection closed promptly.
fn closed_soon(closed: &std::sync::mpsc::Receiver<Option<Duration>>) {
    let after = closed.recv().expect("the server reports");
    assert!(
        after.is_some_and(|after| after < Duration::from_secs(3)),
        "the connection stayed open: {after:?}"
    );
}

#[test]
fn dropping_a_blocking_stream_closes_its_connection_while_the_server_is_silent() {
    let (client, closed) = quiet_after_one_chunk("image/png", "\u{89}PNG");
    let mut stream = catalog_tile_render::stream_body_blocking(&client, tile("s")).expect("a body");
    assert!(stream.next().is_some_and(|chunk| chunk.is_ok()));
    drop(stream);
    closed_soon(&closed);

    let (client, closed) = quiet_after_one_chunk("application/x-ndjson", "{\"n\":1}\n");
    let body = json!({"host_name": HOST})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut items = geopera::operations::catalog_search_stream::stream_blocking(&client, body);
    assert_eq!(items.next().and_then(Result::ok), Some(json!({"n": 1})));
    drop(items);
    closed_soon(&closed);
}

#[test]
fn dropping_a_blocking_stream_before_its_answer_starts_closes_its_connection() {
    // Nothing bounds the wait for the head but the iterator's owner, who gives up on it.
    let (client, asked, closed) = quiet_after(String::new());
    let body = json!({"host_name": HOST})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let items = geopera::operations::catalog_search_stream::stream_blocking(&client, body);
    asked
        .recv_timeout(Duration::from_secs(10))
        .expect("the request reaches the server");
    drop(items);
    closed_soon(&closed);
}

/// An analytics operation answers the picture it renders when `output_format` asks for one,
/// read by its `Content-Type` into `JsonOrBinary::Binary`, and its statistics as JSON
/// otherwise: typed as JSON alone, the picture failed the call as undecodable.
#[tokio::test]
async fn an_analytics_answer_is_json_or_the_picture_asked_for() {
    use geopera::models::CalculateIndexInput;
    use geopera::operations::analytics_calculate_index;
    use geopera::JsonOrBinary;
    let emu = emulator();
    let client = client(&emu);
    let input = || {
        CalculateIndexInput::new(
            "https://example.com/a.tif",
            "ndvi",
            serde_json::Map::new(),
            "sentinel-2",
        )
    };
    let stats = analytics_calculate_index::send(&client, input())
        .await
        .expect("statistics");
    assert!(matches!(stats, JsonOrBinary::Json(_)), "{stats:?}");
    // `invoke` takes the statistics, and refuses unsent a body asking for the picture, which
    // it could only fail to read as JSON once it was made.
    let geopera = Geopera::from(client.clone());
    let body = serde_json::to_value(input()).expect("a JSON body");
    geopera
        .invoke("analytics.calculate_index", body.clone())
        .await
        .expect("the statistics as JSON");
    let mut asked = body;
    asked["output_format"] = json!("PNG");
    let refused = geopera
        .invoke("analytics.calculate_index", asked)
        .await
        .expect_err("a picture is no JSON answer");
    assert!(
        matches!(refused, Error::InvalidRequest { .. }),
        "{refused:?}"
    );
    assert_eq!(
        seen(&emu, "analytics.calculate_index").len(),
        2,
        "the refused one unsent"
    );
    let picture = analytics_calculate_index::send(&client, input().output_format("png"))
        .await
        .expect("a picture");
    let png = picture.binary().expect("bytes");
    assert_eq!(png.media_type(), "image/png");
    assert!(png.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
}
