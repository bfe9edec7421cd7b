//! The handshake's key work on `ring`'s assembly P-256: a fresh ephemeral
//! key, ECDH, and the identity signature, about four times the handshakes
//! per core of the portable RustCrypto code (`scripts/bench` prints both
//! ceilings). The wire format, the strict check of the client's point, the
//! transcript and the key schedule stay in `protocol`
//! ([`protocol::handshake::server_accept_using`]); the widget, which must
//! build for wasm32, keeps RustCrypto, and verifies these signatures like
//! any others.
//!
//! Signatures are hedged (ring mixes fresh randomness with the key and the
//! message into each nonce), as the protocol's 2026-12 clarification
//! allows, and normalised to low-S as it asks.

use p256::ecdsa::Signature;
use protocol::handshake::{HandshakeError, ServerKeyWork};
use protocol::IdentityKey;
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use zeroize::Zeroizing;

/// The identity key as `ring` holds it, made once at start-up.
pub struct RingKeyWork {
    signer: EcdsaKeyPair,
    key_id: String,
    rng: SystemRandom,
}

impl RingKeyWork {
    /// `ring`'s copy of `identity`.
    ///
    /// # Errors
    /// When `ring` refuses the key (it cannot for a valid P-256 key).
    pub fn new(identity: &IdentityKey) -> Result<Self, ring::error::KeyRejected> {
        let rng = SystemRandom::new();
        let public = identity.public();
        let signer = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            identity.to_scalar_bytes().as_ref(),
            public.sec1(),
            &rng,
        )?;
        Ok(Self {
            signer,
            key_id: public.key_id(),
            rng,
        })
    }
}

impl ServerKeyWork for RingKeyWork {
    type Ephemeral = EphemeralPrivateKey;

    fn ephemeral(&self) -> Result<(EphemeralPrivateKey, [u8; 65]), HandshakeError> {
        let secret = EphemeralPrivateKey::generate(&agreement::ECDH_P256, &self.rng)
            .map_err(|_| HandshakeError::KeyWork)?;
        let public = secret
            .compute_public_key()
            .map_err(|_| HandshakeError::KeyWork)?;
        let point: [u8; 65] = public
            .as_ref()
            .try_into()
            .map_err(|_| HandshakeError::KeyWork)?;
        Ok((secret, point))
    }

    fn agree(
        &self,
        ephemeral: EphemeralPrivateKey,
        client_pub: &[u8; 65],
    ) -> Result<Zeroizing<[u8; 32]>, HandshakeError> {
        let peer = UnparsedPublicKey::new(&agreement::ECDH_P256, client_pub);
        agreement::agree_ephemeral(ephemeral, &peer, |x| {
            let mut z = Zeroizing::new([0u8; 32]);
            z.copy_from_slice(x);
            z
        })
        .map_err(|_| HandshakeError::InvalidKey(protocol::KeyError::NotOnCurve))
    }

    fn sign(&self, transcript: &[u8; 32]) -> Result<[u8; 64], HandshakeError> {
        let signed = self
            .signer
            .sign(&self.rng, transcript)
            .map_err(|_| HandshakeError::KeyWork)?;
        let signature =
            Signature::from_slice(signed.as_ref()).map_err(|_| HandshakeError::KeyWork)?;
        let low_s = signature.normalize_s().unwrap_or(signature);
        Ok(low_s.to_bytes().into())
    }

    fn key_id(&self) -> String {
        self.key_id.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use protocol::handshake::server_accept_using;
    use protocol::{ClientHandshake, SessionId};

    /// Both ways round: a widget's RustCrypto handshake verifies ring's
    /// signature and derives the same keys (each side opens what the other
    /// sealed), and ring signs low-S every time.
    #[test]
    fn a_rustcrypto_client_and_a_ring_server_agree() {
        let identity = IdentityKey::generate(&mut rand_core::OsRng);
        let work = RingKeyWork::new(&identity).unwrap();
        for _ in 0..64 {
            let client = ClientHandshake::start(&mut rand_core::OsRng);
            let sid = SessionId::random(&mut rand_core::OsRng);
            let (reply, mut server) =
                server_accept_using(&work, &client.hello(), sid, [7; 32]).unwrap();
            let sig = protocol::encoding::b64u_decode(&reply.sig).unwrap();
            let parsed = Signature::from_slice(&sig).unwrap();
            assert!(
                parsed.normalize_s().is_none(),
                "a high-S signature was sent"
            );
            let mut patient = client.finish(&reply, &identity.public()).unwrap();
            let up = patient.seal(b"hello").unwrap();
            assert_eq!(server.open(&up).unwrap(), b"hello");
            let down = server.seal(b"welcome").unwrap();
            assert_eq!(patient.open(&down).unwrap(), b"welcome");
        }
    }

    /// The client really checks what ring signed: one flipped bit fails.
    #[test]
    fn a_changed_signature_from_ring_is_refused() {
        let identity = IdentityKey::generate(&mut rand_core::OsRng);
        let work = RingKeyWork::new(&identity).unwrap();
        let client = ClientHandshake::start(&mut rand_core::OsRng);
        let sid = SessionId::random(&mut rand_core::OsRng);
        let (mut reply, _) = server_accept_using(&work, &client.hello(), sid, [7; 32]).unwrap();
        let mut sig = protocol::encoding::b64u_decode(&reply.sig).unwrap();
        sig[40] ^= 1;
        reply.sig = protocol::encoding::b64u_encode(&sig);
        assert_eq!(
            client.finish(&reply, &identity.public()).err(),
            Some(HandshakeError::BadSignature)
        );
    }
}
