//! Serving the API over HTTPS: accept TCP, do each rustls handshake in the
//! connection's own task (a slow or broken client never holds up the accept
//! loop), then serve the connection with hyper. On shutdown the listener
//! closes and every connection finishes its request in flight, like
//! `axum::serve(…).with_graceful_shutdown`.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` over TLS until `stop` turns true (or its
/// sender is gone), then waits for open connections to finish.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    stop: watch::Receiver<bool>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    let mut accept_stop = stop.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping(&mut accept_stop) => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                connections.spawn(connection(
                    tcp,
                    peer,
                    acceptor.clone(),
                    builder.clone(),
                    app.clone(),
                    stop.clone(),
                ));
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "TCP accept failed");
            }
            Err(e) => {
                // Out of file descriptors and the like: back off, as axum does.
                tracing::error!(error = %e, "TCP accept failed; retrying in 1 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopping(&mut accept_stop) => break,
                }
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// One client: the handshake, then HTTP until the client leaves or the
/// server stops. Nothing here can stop the server.
async fn connection(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    builder: auto::Builder<TokioExecutor>,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = stopping(&mut stop) => return,
    };
    // The client's address, as plain HTTP's connect info gives it.
    let app = app.layer(axum::Extension(axum::extract::ConnectInfo(peer)));
    let service = TowerToHyperService::new(app);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let served = tokio::select! {
        served = conn.as_mut() => served,
        _ = stopping(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
    }
}

/// Resolves once the server is to stop (or whoever could stop it is gone);
/// the watch guard is dropped here, so callers stay `Send`.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors that concern one connection, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
