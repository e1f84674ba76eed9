//! The accept loop: plain TCP or TLS, HTTP/1.1 with keep-alive, header and handshake
//! timeouts, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// How the accept loop behaves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// TLS configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time allowed for a request's headers to arrive (also closes idle keep-alives).
    pub header_timeout: Duration,
    /// Time given to open connections to finish after shutdown is asked for.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            tls: None,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections
/// finish for at most `drain_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = opts.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        let opts = opts.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            // The peer is handed to handlers as axum's `ConnectInfo` (certd's limits use it).
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                app.clone().oneshot(req)
            });
            let builder = {
                let mut b = hyper::server::conn::http1::Builder::new();
                b.timer(TokioTimer::new())
                    .header_read_timeout(opts.header_timeout);
                b
            };
            match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
                    }
                }
                Some(acceptor) => {
                    let Some(tls) =
                        handshake(&acceptor, stream, peer, opts.handshake_timeout).await
                    else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for open connections");
    if tokio::time::timeout(opts.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}

async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    limit: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::info!(client = %peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(client = %peer, "TLS handshake timed out");
            None
        }
    }
}

/// Serves `app` on `listener` with `threads` single-threaded runtimes, each accepting from
/// the same socket and keeping its connections (thread per core, like nginx's workers: no
/// task migrates, no wake-up crosses threads). Blocks until `shutdown` completes on the
/// calling thread and every worker has drained.
pub fn serve_threads(
    listener: std::net::TcpListener,
    app: Router,
    opts: ServeOptions,
    threads: std::num::NonZeroUsize,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::with_capacity(threads.get());
    for i in 0..threads.get() {
        let listener = listener.try_clone()?;
        let (app, opts, mut stop) = (app.clone(), opts.clone(), stop_rx.clone());
        let worker = std::thread::Builder::new()
            .name(format!("ecs-worker-{i}"))
            .spawn(move || -> std::io::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener)?;
                    let stopped = async move {
                        let _ = stop.wait_for(|s| *s).await;
                    };
                    serve(listener, app, opts, stopped).await;
                    Ok(())
                })
            })?;
        workers.push(worker);
    }
    drop(listener);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(shutdown);
    let _ = stop_tx.send(true);
    for worker in workers {
        match worker.join() {
            Ok(result) => result?,
            Err(_) => {
                return Err(std::io::Error::other(
                    "an ECS server worker thread panicked",
                ));
            }
        }
    }
    Ok(())
}
