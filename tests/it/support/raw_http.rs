//! A raw HTTP/1.1 client over one TCP connection: for tests that misbehave on purpose (half-sent
//! requests, announced bodies that never come, idle keep-alive connections), which `reqwest`
//! cannot do.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One client connection.
pub struct RawConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// A response read from a [`RawConnection`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines, lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What a read found.
#[derive(Debug)]
pub enum Read {
    Response(RawResponse),
    /// The server closed the connection (or reset it).
    Closed,
    /// Nothing came within the limit.
    Nothing,
}

impl RawConnection {
    /// Connects to `base` (`http://host:port`).
    pub async fn open(base: &str) -> RawConnection {
        let address = base.trim_start_matches("http://");
        let stream = TcpStream::connect(address).await.expect("connect");
        RawConnection {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Writes raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends `GET path` (keep-alive) and reads the answer's status (panics without one in 30 s).
    pub async fn get(&mut self, path: &str) -> u16 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: calsync\r\n\r\n");
        self.send(request.as_bytes()).await;
        match self.read(Duration::from_secs(30)).await {
            Read::Response(response) => response.status,
            other => panic!("no answer to GET {path}: {other:?}"),
        }
    }

    /// Reads one response, or notices the connection closed, within `limit`.
    pub async fn read(&mut self, limit: Duration) -> Read {
        match tokio::time::timeout(limit, self.read_response()).await {
            Ok(Some(response)) => Read::Response(response),
            Ok(None) => Read::Closed,
            Err(_) => Read::Nothing,
        }
    }

    async fn read_response(&mut self) -> Option<RawResponse> {
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(key, _)| key == "content-length")
            .and_then(|(_, value)| value.parse().ok())
            .unwrap_or(0);
        while self.buffer.len() < head_end + 4 + length {
            self.fill().await?;
        }
        let body = self.buffer[head_end + 4..head_end + 4 + length].to_vec();
        self.buffer.drain(..head_end + 4 + length);
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Reads more bytes; `None` when the connection is closed or reset.
    async fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => None,
            Ok(read) => {
                self.buffer.extend_from_slice(&chunk[..read]);
                Some(())
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
