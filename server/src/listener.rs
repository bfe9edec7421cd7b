//! The listening socket: how many connections one address may hold, and how
//! long a connection may take to say what it wants.
//!
//! A client that sends its request headers a byte at a time, or opens a
//! connection and says nothing, holds a file descriptor and a task for as
//! long as it likes unless something times it out; a few thousand such
//! connections from one address take every descriptor the process has.
//! So:
//! - each client address (an IPv6 /64) may hold at most
//!   `limits.connections_per_address` connections at once; more are closed
//!   as soon as they are accepted. Trusted proxies are not counted (every
//!   patient behind them shares their address; the proxy limits them).
//! - a request's headers must arrive within [`HEADER_TIMEOUT`] of the
//!   connection opening or of the previous response (hyper's header read
//!   timeout also runs while a keep-alive connection waits idle), and a
//!   new connection must complete its first request within
//!   [`FIRST_REQUEST_TIMEOUT`]; a TLS handshake has [`TLS_HANDSHAKE_TIMEOUT`].
//!
//! A WebSocket, once upgraded, is outside these limits: the protocol's own
//! session limits (and [`crate::transport`]'s first-frame wait) govern it.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::client_addr::{limit_key, TrustedProxies};

/// Time for a request's headers to arrive.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a new connection to complete its first request.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Time for a TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time in-flight requests get to finish when the server stops.
const GRACE: Duration = Duration::from_secs(5);

/// Open connections per address key.
#[derive(Clone)]
pub struct ConnectionCap {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    per_address: usize,
    exempt: TrustedProxies,
}

impl ConnectionCap {
    /// At most `per_address` connections per address, proxies in `exempt`
    /// excepted.
    #[must_use]
    pub fn new(per_address: usize, exempt: TrustedProxies) -> Self {
        Self {
            open: Arc::new(Mutex::new(HashMap::new())),
            per_address,
            exempt,
        }
    }

    /// Counts a connection from `peer`; `None` when its address is full.
    fn admit(&self, peer: IpAddr) -> Option<Counted> {
        if self.exempt.contains(peer) {
            return Some(Counted { cap: None });
        }
        let key = limit_key(peer);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(Counted {
            cap: Some((self.clone(), key)),
        })
    }

    /// Connections open from `peer`'s address key.
    #[must_use]
    pub fn open_from(&self, peer: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&limit_key(peer)).copied().unwrap_or(0)
    }
}

/// One admitted connection's place in the count, given back on drop.
struct Counted {
    cap: Option<(ConnectionCap, IpAddr)>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some((cap, key)) = self.cap.take() {
            let mut open = cap.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = open.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

/// A TCP stream that holds its place in the count while it lives.
pub struct CountedStream {
    inner: TcpStream,
    _counted: Counted,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S> Accept<TcpStream, S> for ConnectionCap {
    type Stream = CountedStream;
    type Service = S;
    type Future = std::future::Ready<io::Result<(CountedStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let admitted = stream
            .peer_addr()
            .ok()
            .and_then(|peer| self.admit(peer.ip()));
        std::future::ready(match admitted {
            Some(counted) => {
                let _ = stream.set_nodelay(true);
                Ok((
                    CountedStream {
                        inner: stream,
                        _counted: counted,
                    },
                    service,
                ))
            }
            // Dropping the stream closes it at once.
            None => Err(io::Error::other("connections per address reached")),
        })
    }
}

/// TLS certificate and key files.
pub struct Tls<'a> {
    /// PEM certificate chain.
    pub cert: &'a std::path::Path,
    /// PEM private key.
    pub key: &'a std::path::Path,
}

/// Serves `app` on `listener`, plain or TLS, under the limits above, until
/// `shutdown` completes (then in-flight requests get a few seconds).
///
/// # Errors
/// When the TLS files cannot be loaded or the socket fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    cap: ConnectionCap,
    tls: Option<Tls<'_>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(GRACE));
    });
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .handle(handle)
        .first_request_timeout(FIRST_REQUEST_TIMEOUT)
        .accept_error_handler(|peer, error| {
            tracing::debug!(?peer, %error, "connection refused");
        });
    server
        .http_builder()
        .http1()
        .header_read_timeout(HEADER_TIMEOUT);
    match tls {
        None => server
            .acceptor(cap)
            .serve(app)
            .await
            .context("server failed"),
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(tls.cert, tls.key)
                .await
                .with_context(|| {
                    format!(
                        "cannot load TLS certificate {} and key {}",
                        tls.cert.display(),
                        tls.key.display()
                    )
                })?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .handshake_timeout(TLS_HANDSHAKE_TIMEOUT)
                .acceptor(cap);
            server
                .acceptor(acceptor)
                .serve(app)
                .await
                .context("server failed")
        }
    }
}
