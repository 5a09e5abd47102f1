use super::*;
use axum::Router;
use axum::body::Body;
use axum::http::StatusCode as AxumStatus;
use axum::routing::get;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn location(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, value.parse().unwrap());
    headers
}

#[test]
fn redirects_are_recognised_and_their_location_resolved() {
    let from = url("https://crm.example.com/api/meetings");
    for status in [301, 302, 303, 307, 308] {
        let status = StatusCode::from_u16(status).unwrap();
        let found = redirect(&from, status, &location("/api/meetings/")).unwrap();
        assert_eq!(
            found.location.as_deref(),
            Some("https://crm.example.com/api/meetings/")
        );
        assert!(
            found
                .to_string()
                .contains("redirecting to https://crm.example.com/api/meetings/")
        );
    }
    for status in [200, 201, 300, 304, 400, 503] {
        let status = StatusCode::from_u16(status).unwrap();
        assert_eq!(redirect(&from, status, &location("/x")), None, "{status}");
    }
    let elsewhere = redirect(
        &from,
        StatusCode::TEMPORARY_REDIRECT,
        &location("https://user:pa55@evil.example.net/collect"),
    )
    .unwrap();
    let shown = elsewhere.location.unwrap();
    assert!(
        shown.starts_with("https://user:***@evil.example.net/collect"),
        "{shown}"
    );
    assert!(!shown.contains("pa55"));
    let bare = redirect(&from, StatusCode::FOUND, &HeaderMap::new()).unwrap();
    assert_eq!(bare.location, None);
    assert!(bare.to_string().contains("without a Location"));
}

#[test]
fn redirected_writes_are_permanent_and_reads_retried() {
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        assert_eq!(redirect_retry(&method), Retry::Permanent, "{method}");
    }
    assert_eq!(redirect_retry(&Method::GET), Retry::After(None));
}

/// A server whose `/` answers `status` with `total` bytes streamed in 64 KiB chunks generated on
/// the fly (no `Content-Length`); counts the chunks it produced.
async fn streaming_server(status: u16, total: usize, produced: Arc<AtomicUsize>) -> String {
    let router = Router::new().route(
        "/",
        get(move || {
            let produced = produced.clone();
            async move {
                let chunks = total.div_ceil(64 * 1024);
                let stream = futures::stream::iter(0..chunks).map(move |_| {
                    produced.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))
                });
                (
                    AxumStatus::from_u16(status).unwrap(),
                    Body::from_stream(stream),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/")
}

#[tokio::test]
async fn an_oversize_success_is_refused_without_reading_it_all() {
    let produced = Arc::new(AtomicUsize::new(0));
    let url = streaming_server(200, 64 * 1024 * 1024, produced.clone()).await;
    let response = client().unwrap().get(&url).send().await.unwrap();
    match read_capped(response, 256 * 1024).await {
        Err(BodyError::Oversize(oversize)) => {
            assert_eq!(oversize.limit, 256 * 1024);
            assert!(oversize.to_string().contains("262144 bytes"), "{oversize}");
        }
        other => panic!("expected an oversize error, got {other:?}"),
    }
    // Far fewer than the 1,024 chunks on offer were produced (socket buffers hold a few).
    assert!(produced.load(Ordering::SeqCst) < 256, "{produced:?}");
}

#[tokio::test]
async fn a_small_success_is_read_whole() {
    let produced = Arc::new(AtomicUsize::new(0));
    let url = streaming_server(201, 3 * 64 * 1024, produced).await;
    let response = client().unwrap().get(&url).send().await.unwrap();
    let body = read_body(response).await.unwrap();
    assert_eq!(body.len(), 3 * 64 * 1024);
}

#[tokio::test]
async fn an_error_body_is_cut_to_its_start() {
    let produced = Arc::new(AtomicUsize::new(0));
    let url = streaming_server(503, 64 * 1024 * 1024, produced.clone()).await;
    let response = client().unwrap().get(&url).send().await.unwrap();
    let body = read_body(response).await.unwrap();
    assert_eq!(body.len(), MAX_ERROR_BODY_BYTES);
    assert!(produced.load(Ordering::SeqCst) < 256, "{produced:?}");
}

#[tokio::test]
async fn an_announced_oversize_is_refused_before_reading() {
    // A raw server: a framework would correct the length, so answer by hand.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&[b'x'; 1024]).await.unwrap();
        // Hold the connection open without sending the rest.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    });
    let response = client()
        .unwrap()
        .get(format!("http://{address}/"))
        .send()
        .await
        .unwrap();
    match read_body(response).await {
        Err(BodyError::Oversize(oversize)) => {
            assert_eq!(oversize.announced, Some(1_073_741_824));
            assert!(
                oversize.to_string().contains("1073741824 bytes"),
                "{oversize}"
            );
        }
        other => panic!("expected an oversize error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_shared_client_follows_no_redirect() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = Router::new()
        .route(
            "/from",
            get(|| async { (AxumStatus::MOVED_PERMANENTLY, [("location", "/to")], "") }),
        )
        .route(
            "/to",
            get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { "followed" }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let response = client()
        .unwrap()
        .get(format!("http://{address}/from"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}
