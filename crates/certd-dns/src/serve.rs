//! The listeners: UDP (a few tasks sharing one socket) and TCP (RFC 7766 length-prefixed
//! messages, an idle timeout, a bound on open connections), until shutdown. Binding the
//! sockets is the caller's job; what to answer is the handler's.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::handler::{Dropped, Transport, handle};
use crate::zone::ZoneState;

/// How the listeners behave.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Tasks receiving on the UDP socket (at least 1).
    pub udp_workers: usize,
    /// Open TCP connections at most; further ones are closed at once.
    pub tcp_max_connections: usize,
    /// A TCP connection is closed after this long without a complete query, and a query or
    /// answer that takes longer than this to move is abandoned.
    pub tcp_idle_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            udp_workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            tcp_max_connections: 256,
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// Answers DNS on `udp` and `tcp` from `zone` until `shutdown` completes, then stops every
/// listener and open connection.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    zone: Arc<ZoneState>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let udp = Arc::new(udp);
    let mut tasks = JoinSet::new();
    for _ in 0..opts.udp_workers.max(1) {
        tasks.spawn(udp_worker(udp.clone(), zone.clone()));
    }
    tasks.spawn(tcp_accept(tcp, zone, opts));
    shutdown.await;
    tracing::info!("DNS listeners shutting down");
    // Aborting the accept task drops its JoinSet, which aborts the open connections.
    tasks.shutdown().await;
}

async fn udp_worker(socket: Arc<UdpSocket>, zone: Arc<ZoneState>) {
    // The largest UDP datagram: a longer query would be cut and then refused as malformed.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors from earlier sends and the like: nothing to do but go on.
                tracing::debug!(error = %e, "UDP receive failed");
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        match handle(&zone, &buf[..len], Transport::Udp) {
            Ok(response) => {
                if let Err(e) = socket.send_to(&response, peer).await {
                    tracing::debug!(client = %peer, error = %e, "UDP send failed");
                }
            }
            Err(reason) => log_dropped(peer, reason),
        }
    }
}

fn log_dropped(peer: SocketAddr, reason: Dropped) {
    match reason {
        Dropped::Encode => tracing::warn!(client = %peer, "could not encode a response"),
        Dropped::Malformed | Dropped::Response => {
            tracing::debug!(client = %peer, ?reason, "request dropped");
        }
    }
}

async fn tcp_accept(listener: TcpListener, zone: Arc<ZoneState>, opts: ServeOptions) {
    let permits = Arc::new(Semaphore::new(opts.tcp_max_connections));
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(client = %peer, "too many TCP connections; closing this one");
            continue;
        };
        let zone = zone.clone();
        let idle = opts.tcp_idle_timeout;
        connections.spawn(async move {
            let _permit = permit;
            tcp_connection(stream, peer, &zone, idle).await;
        });
    }
}

async fn tcp_connection(mut stream: TcpStream, peer: SocketAddr, zone: &ZoneState, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let mut request = Vec::new();
    loop {
        let len = match timeout(idle, stream.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            _ => return, // closed, failed or idle
        };
        request.resize(len, 0);
        if !matches!(
            timeout(idle, stream.read_exact(&mut request)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let response = match handle(zone, &request, Transport::Tcp) {
            Ok(response) => response,
            Err(reason) => {
                log_dropped(peer, reason);
                return; // a malformed message ends the connection
            }
        };
        let Ok(len) = u16::try_from(response.len()) else {
            return; // cannot happen: the handler bounds TCP answers to 65,535 bytes
        };
        let mut framed = Vec::with_capacity(2 + response.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&response);
        if !matches!(timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
    }
}
