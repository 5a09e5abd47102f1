//! Bounded connections: a head or a body that does not arrive within `server.request_timeout`
//! is cut off; over `server.max_connections` new connections wait while the open ones are
//! served; on SIGTERM the process exits 0 within `server.shutdown_timeout` + 2 s whatever the
//! clients do (half-sent requests, hundreds of idle connections).

use std::time::{Duration, Instant};

use crate::support::binary::Daemon;
use crate::support::fake_crm::FakeCrm;
use crate::support::fake_nylas::FakeNylas;
use crate::support::raw_http::{RawConnection, Read};

/// The bound on the exit after SIGTERM: the tests' `server.shutdown_timeout` (2 s) + 2 s.
const EXIT_BOUND: Duration = Duration::from_secs(4);
const LIMIT: Duration = Duration::from_secs(30);

async fn daemon(dir: &std::path::Path, extra: &[(&str, &str)]) -> Daemon {
    let nylas = FakeNylas::start().await;
    let crm = FakeCrm::start().await;
    let mut env = vec![("CALSYNC__SERVER__SHUTDOWN_TIMEOUT", "2s")];
    env.extend_from_slice(extra);
    Daemon::start(dir, &nylas, &crm, &env).await
}

/// SIGTERM; asserts exit 0 within [`EXIT_BOUND`].
async fn assert_prompt_clean_exit(daemon: &mut Daemon) {
    let signalled = Instant::now();
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(daemon.wait_exit(EXIT_BOUND).await, Some(0));
    assert!(signalled.elapsed() <= EXIT_BOUND + Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_does_not_hold_the_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let patient = [("CALSYNC__SERVER__REQUEST_TIMEOUT", "10m")];
    let mut daemon = daemon(dir.path(), &patient).await;
    // Half a request line as the first bytes of a connection (today's main waits for the rest
    // for ever), and the same after a request served on a kept-alive connection.
    let mut stalled = RawConnection::open(&daemon.base).await;
    stalled.send(b"POST /webhooks/nyl").await;
    let mut kept = RawConnection::open(&daemon.base).await;
    assert_eq!(kept.get("/healthz").await, 200);
    kept.send(b"POST /webhooks/nyl").await;
    // And one in the middle of a body: its request is in progress, so only the deadline ends it.
    let mut trickling = RawConnection::open(&daemon.base).await;
    trickling
        .send(b"POST /webhooks/nylas HTTP/1.1\r\nHost: calsync\r\nContent-Length: 100\r\n\r\n{")
        .await;
    assert!(matches!(
        trickling.read(Duration::from_millis(200)).await,
        Read::Nothing
    ));

    assert_prompt_clean_exit(&mut daemon).await;
    for connection in [&mut stalled, &mut kept, &mut trickling] {
        assert!(matches!(connection.read(LIMIT).await, Read::Closed));
    }
    let log = daemon.log_lines().join("\n");
    assert!(
        log.contains("Closing the HTTP connections still open at server.shutdown_timeout."),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_idle_and_half_open_connections_do_not_hold_the_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let patient = [("CALSYNC__SERVER__REQUEST_TIMEOUT", "10m")];
    let mut daemon = daemon(dir.path(), &patient).await;
    let mut idle = Vec::new();
    for index in 0..500 {
        let mut connection = RawConnection::open(&daemon.base).await;
        match index % 3 {
            // Kept alive after one request.
            0 => assert_eq!(connection.get("/healthz").await, 200),
            // Half-open: a request head that never ends.
            1 => connection.send(b"GET /healthz HTTP/1.1\r\nHost: cal").await,
            // Connected, nothing sent.
            _ => {}
        }
        idle.push(connection);
    }
    assert_prompt_clean_exit(&mut daemon).await;
    for connection in &mut idle {
        assert!(matches!(connection.read(LIMIT).await, Read::Closed));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_connections_a_new_one_waits_while_open_ones_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = daemon(dir.path(), &[("CALSYNC__SERVER__MAX_CONNECTIONS", "2")]).await;
    // The readiness polls' keep-alive connection would take one of the two places.
    daemon.close_client_connections();
    let mut first = RawConnection::open(&daemon.base).await;
    let mut second = RawConnection::open(&daemon.base).await;
    assert_eq!(first.get("/healthz").await, 200);
    assert_eq!(second.get("/healthz").await, 200);

    let mut third = RawConnection::open(&daemon.base).await;
    third
        .send(b"GET /healthz HTTP/1.1\r\nHost: calsync\r\n\r\n")
        .await;
    // The open connections are still served; the third waits in the backlog.
    assert_eq!(first.get("/healthz").await, 200);
    assert_eq!(second.get("/readyz").await, 200);
    assert!(matches!(
        third.read(Duration::from_millis(500)).await,
        Read::Nothing
    ));
    drop(first);
    match third.read(LIMIT).await {
        Read::Response(response) => assert_eq!(response.status, 200),
        other => panic!("the waiting connection was not served once one closed: {other:?}"),
    }
    let log = daemon.log_lines().join("\n");
    assert!(
        log.contains("Serving server.max_connections connections"),
        "{log}"
    );
    assert_prompt_clean_exit(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_and_bodies_that_do_not_arrive_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let quick = [
        ("CALSYNC__SERVER__REQUEST_TIMEOUT", "1s"),
        // Large enough that a 1 GiB announcement is not refused for its size.
        ("CALSYNC__SERVER__MAX_BODY_BYTES", "2147483648"),
    ];
    let mut daemon = daemon(dir.path(), &quick).await;

    // `Content-Length: 1073741824` and no body: 408 after the request timeout, then closed.
    let mut announced = RawConnection::open(&daemon.base).await;
    announced
        .send(b"POST /webhooks/nylas HTTP/1.1\r\nHost: calsync\r\nContent-Length: 1073741824\r\n\r\n{\"id\":")
        .await;
    match announced.read(LIMIT).await {
        Read::Response(response) => {
            assert_eq!(response.status, 408);
            assert_eq!(response.header("connection"), Some("close"));
        }
        other => panic!("no 408 for a body that never came: {other:?}"),
    }
    assert!(matches!(announced.read(LIMIT).await, Read::Closed));

    // Half a head: the connection is closed after the request timeout.
    let mut half = RawConnection::open(&daemon.base).await;
    half.send(b"GET /healthz HTTP/1.1\r\nHost: cal").await;
    assert!(matches!(half.read(LIMIT).await, Read::Closed));

    // An idle keep-alive connection too.
    let mut idle = RawConnection::open(&daemon.base).await;
    assert_eq!(idle.get("/healthz").await, 200);
    assert!(matches!(idle.read(LIMIT).await, Read::Closed));

    let log = daemon.log_lines().join("\n");
    assert!(log.contains("\"http.status\":408"), "{log}");
    assert_prompt_clean_exit(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_body_over_the_limit_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = daemon(dir.path(), &[("CALSYNC__SERVER__REQUEST_TIMEOUT", "10m")]).await;
    let mut announced = RawConnection::open(&daemon.base).await;
    announced
        .send(
            b"POST /webhooks/nylas HTTP/1.1\r\nHost: calsync\r\nContent-Length: 1073741824\r\n\r\n",
        )
        .await;
    match announced.read(LIMIT).await {
        Read::Response(response) => assert_eq!(response.status, 413),
        other => panic!("no 413 for an oversized announcement: {other:?}"),
    }
    assert_prompt_clean_exit(&mut daemon).await;
}
