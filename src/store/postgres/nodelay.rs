//! Turning Nagle's algorithm off on the store's PostgreSQL connections.
//!
//! sqlx-postgres 0.9.0 opens its TCP sockets without `TCP_NODELAY` (sqlx issue #4335; earlier
//! versions set it, and the fix is merged upstream but not released). With Nagle's algorithm on,
//! a query message that leaves the client in more than one segment (an ingest batch's
//! multi-row insert of ~1 KB bodies is tens of kilobytes) holds its last segment until the
//! server acknowledges the previous one, and PostgreSQL delays that acknowledgement (40 ms on
//! Linux): the server sits `idle in transaction` (`ClientRead`) waiting for the rest of the
//! statement, for every large statement of every batch.
//!
//! sqlx gives no access to its socket, so once a connection is up its own server says which
//! local port it uses (`inet_client_port()`), and [`disable_nagle`] finds this process's socket
//! with that local port and the server's port as peer, through a duplicate of the descriptor
//! (`pidfd_getfd` on the process itself: no unsafe code), and sets `TCP_NODELAY` on it (an
//! option of the socket, shared by every descriptor of it).
//!
//! Invariants: best effort — a connection over a Unix socket, a kernel without `pidfd_getfd`
//! (Linux < 5.6) or any error leaves the connection as sqlx made it (slower, still correct);
//! only a TCP socket whose local and peer ports both match is touched.

use std::net::SocketAddr;

use rustix::net::{getpeername, getsockname, sockopt};
use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};
use sqlx::postgres::PgConnection;

/// Turns Nagle's algorithm off on `conn`'s socket, which connected to `server_port` (best
/// effort: see the module docs; what happened is logged at debug level).
pub(super) async fn apply(conn: &mut PgConnection, server_port: u16) {
    let client_port: Result<Option<i32>, sqlx::Error> =
        sqlx::query_scalar("SELECT inet_client_port()")
            .fetch_one(conn)
            .await;
    let Some(local_port) = client_port
        .ok()
        .flatten()
        .and_then(|port| u16::try_from(port).ok())
    else {
        tracing::debug!("Left Nagle's algorithm on: not a TCP connection to PostgreSQL.");
        return;
    };
    match disable_nagle(local_port, server_port) {
        Ok(true) => {}
        Ok(false) => tracing::debug!(
            local_port,
            "Left Nagle's algorithm on: the connection's socket was not found."
        ),
        Err(error) => tracing::debug!(
            local_port,
            error = %error,
            "Left Nagle's algorithm on: the connection's socket could not be changed."
        ),
    }
}

/// Sets `TCP_NODELAY` on this process's TCP socket from `local_port` to `server_port`; false
/// when there is none.
fn disable_nagle(local_port: u16, server_port: u16) -> std::io::Result<bool> {
    let process = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(number) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        // A descriptor closed meanwhile, or not a socket, is simply skipped.
        let Ok(descriptor) = pidfd_getfd(&process, number, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let local = getsockname(&descriptor)
            .ok()
            .and_then(|address| SocketAddr::try_from(address).ok());
        let peer = getpeername(&descriptor)
            .ok()
            .flatten()
            .and_then(|address| SocketAddr::try_from(address).ok());
        if let (Some(local), Some(peer)) = (local, peer)
            && local.port() == local_port
            && peer.port() == server_port
        {
            sockopt::set_tcp_nodelay(&descriptor, true)?;
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_changes_only_the_socket_with_both_ports() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server_port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", server_port)).unwrap();
        let local_port = client.local_addr().unwrap().port();
        assert!(!client.nodelay().unwrap());

        assert!(!disable_nagle(local_port, server_port.wrapping_add(1)).unwrap());
        assert!(!client.nodelay().unwrap());
        assert!(disable_nagle(local_port, server_port).unwrap());
        assert!(client.nodelay().unwrap());
    }
}
