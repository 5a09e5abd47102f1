//! The load generator: a fixed number of keep-alive HTTP/1.1 connections, each sending its share
//! of pre-built requests one after another (the next only once the previous was answered, as
//! Nylas does per connection), timing each from the first byte written to the last byte of the
//! answer read. Requests are dealt round-robin to the connections, and connections round-robin to
//! the target's addresses (two replicas get half the connections each).
//!
//! The client is a few lines over `TcpStream` rather than an HTTP library, so it costs as little
//! CPU as possible on a machine it shares with the servers: it writes prepared bytes and parses
//! only the status line and `content-length` of each answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What one run measured.
#[derive(Debug)]
pub struct Measured {
    pub requests: usize,
    /// Answers other than 200.
    pub failures: usize,
    pub elapsed: Duration,
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at `percent` (nearest rank).
    pub fn percentile(&self, percent: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((percent / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// Sends every request over `connections` connections spread over `targets`.
pub async fn run(
    targets: &[SocketAddr],
    connections: usize,
    requests: Vec<Vec<u8>>,
) -> anyhow::Result<Measured> {
    let total = requests.len();
    let requests = Arc::new(requests);
    let mut streams = Vec::with_capacity(connections);
    for connection in 0..connections {
        let target = targets[connection % targets.len()];
        let stream = TcpStream::connect(target)
            .await
            .with_context(|| format!("connecting to {target}"))?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (connection, stream) in streams.into_iter().enumerate() {
        let requests = requests.clone();
        tasks.spawn(async move {
            let share = (connection..requests.len()).step_by(connections);
            send_share(stream, share.map(|index| &requests[index][..])).await
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failures = 0;
    while let Some(done) = tasks.join_next().await {
        let (mut times, failed) = done??;
        latencies.append(&mut times);
        failures += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(Measured {
        requests: total,
        failures,
        elapsed,
        latencies,
    })
}

/// Sends requests one after another on one connection; their latencies and the non-200 count.
async fn send_share<'a>(
    mut stream: TcpStream,
    requests: impl Iterator<Item = &'a [u8]>,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut latencies = Vec::new();
    let mut failures = 0;
    for request in requests {
        let sent = Instant::now();
        stream.write_all(request).await?;
        let status = read_answer(&mut stream, &mut buffer).await?;
        latencies.push(sent.elapsed());
        if status != 200 {
            failures += 1;
        }
    }
    Ok((latencies, failures))
}

/// Reads one answer (head and `content-length` body); returns its status code.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<u16> {
    buffer.clear();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        if stream.read_buf(buffer).await? == 0 {
            bail!("the server closed the connection");
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).context("answer head")?;
    let status: u16 = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .context("status line")?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        if stream.read_buf(buffer).await? == 0 {
            bail!("the server closed the connection mid-answer");
        }
    }
    Ok(status)
}
