//! The crypto ceiling: how many handshakes per second the server's key work
//! would allow on this machine if it did nothing else.
//!
//! One handshake's server-side work is: the strict check of the client's
//! point, a fresh ephemeral key and its public point, ECDH, an ECDSA P-256
//! signature over the transcript hash, and the two HKDF-SHA256
//! derivations: [`protocol::handshake::server_accept_using`], run here with
//! the server's own key work ([`RingKeyWork`], assembly P-256, the fastest
//! here) and with the portable RustCrypto code the widget uses. Each
//! ceiling runs on every core at once for a fixed time.

use std::time::{Duration, Instant};

use anyhow::Result;
use carechat::transport::key_work::RingKeyWork;
use protocol::handshake::server_accept_using;
use protocol::{ClientHandshake, IdentityKey, SessionId};
use serde::Serialize;

/// Handshakes per second on all cores, per implementation.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ceilings {
    /// With RustCrypto's `p256` (the widget's, portable to wasm32).
    pub rustcrypto: f64,
    /// With the server's key work, `ring` (assembly P-256, hedged ECDSA
    /// nonces): the server's ceiling.
    pub ring: f64,
    /// Threads used (the cores available).
    pub threads: usize,
}

impl Ceilings {
    /// The fastest of the two.
    pub fn fastest(&self) -> f64 {
        self.rustcrypto.max(self.ring)
    }
}

/// Measures both ceilings, each for `span` on every core.
pub fn measure(span: Duration) -> Result<Ceilings> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let identity = IdentityKey::generate(&mut rand_core::OsRng);
    let hello = ClientHandshake::start(&mut rand_core::OsRng).hello();
    let rustcrypto = on_every_core(threads, span, || {
        protocol::handshake::server_accept(&identity, &hello, &mut rand_core::OsRng).is_ok()
    });
    let server = RingKeyWork::new(&identity)
        .map_err(|e| anyhow::anyhow!("ring refused the identity key: {e}"))?;
    let ring = on_every_core(threads, span, || {
        server_accept_using(&server, &hello, sid(), nonce()).is_ok()
    });
    Ok(Ceilings {
        rustcrypto,
        ring,
        threads,
    })
}

fn sid() -> SessionId {
    SessionId::random(&mut rand_core::OsRng)
}

fn nonce() -> [u8; 32] {
    let mut nonce = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    nonce
}

/// Runs `work` in a loop on `threads` threads for `span`; returns calls per
/// second that succeeded, over all threads.
fn on_every_core(threads: usize, span: Duration, work: impl Fn() -> bool + Sync) -> f64 {
    let started = Instant::now();
    let done: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < span {
                        n += u64::from(work());
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    done as f64 / started.elapsed().as_secs_f64()
}
