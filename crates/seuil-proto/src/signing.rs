//! Ed25519 over `context ‖ body`, the one signing rule every message kind follows.

use crate::{Signature, VerifyError};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// Room for the longest context and signed body of any message kind (the segment header's
/// 23 + 151 bytes), on the stack.
const MAX_SIGNED: usize = 192;

/// Runs `f` on `context ‖ body`.
fn with_message<T>(context: &[u8], body: &[u8], f: impl FnOnce(&[u8]) -> T) -> T {
    let mut buf = [0u8; MAX_SIGNED];
    let len = context.len() + body.len();
    // The message kinds are constants of this crate: a longer one is a bug the tests catch.
    buf[..context.len()].copy_from_slice(context);
    buf[context.len()..len].copy_from_slice(body);
    f(&buf[..len])
}

pub(crate) fn sign(key: &SigningKey, context: &[u8], body: &[u8]) -> Signature {
    with_message(context, body, |m| key.sign(m).to_bytes())
}

/// Reads a public key for use with this crate's messages: a valid point of Ed25519 that is not
/// of small order (such a key would let anyone forge its signatures). Every key a message is
/// checked against enters through here once (device registration, the lock's configuration,
/// the issuer before it signs a courier's key into a grant), which is what lets [`verify`] skip
/// the per-signature small-order checks of `verify_strict`: they cost two point compressions,
/// a fifth of a verification, on every unlock attempt.
pub fn public_key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(bytes)
        .ok()
        .filter(|key| !key.is_weak())
}

/// Verification for a key read by [`public_key`]: the scalar must be canonical and `R` must be
/// the canonical encoding of `[s]B - [k]A`, so a signature cannot be altered into another
/// valid one.
pub(crate) fn verify(
    key: &VerifyingKey,
    context: &[u8],
    body: &[u8],
    signature: &Signature,
    what: &'static str,
) -> Result<(), VerifyError> {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    with_message(context, body, |m| {
        ed25519_dalek::Verifier::verify(key, m, &signature)
    })
    .map_err(|_| VerifyError::BadSignature { what })
}

/// [`verify`] with the raw public key a message carries, which a signature of the issuer
/// vouches for (the issuer checked it with [`public_key`] before signing it); one that is not
/// a valid point fails like a bad signature. Decompressing a key costs a tenth of a
/// verification, so keys known ahead are passed decompressed to [`verify`] instead.
pub(crate) fn verify_raw(
    key: &[u8; 32],
    context: &[u8],
    body: &[u8],
    signature: &Signature,
    what: &'static str,
) -> Result<(), VerifyError> {
    let key = VerifyingKey::from_bytes(key).map_err(|_| VerifyError::BadSignature { what })?;
    verify(&key, context, body, signature, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_keys_are_refused() {
        // The identity, and a point of order 8 (both valid encodings of curve points).
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        let order_8 = [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ];
        for weak in [identity, order_8] {
            assert!(VerifyingKey::from_bytes(&weak).is_ok(), "a curve point");
            assert!(public_key(&weak).is_none(), "of small order, so refused");
        }
        let good = SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert_eq!(public_key(good.as_bytes()), Some(good));
    }

    #[test]
    fn an_altered_signature_or_message_fails() {
        let signer = SigningKey::from_bytes(&[7; 32]);
        let key = public_key(signer.verifying_key().as_bytes()).unwrap();
        let sig = sign(&signer, b"ctx", b"body");
        assert!(verify(&key, b"ctx", b"body", &sig, "test").is_ok());
        assert!(verify(&key, b"ctx", b"bodY", &sig, "test").is_err());
        assert!(verify(&key, b"ctX", b"body", &sig, "test").is_err());
        for byte in [0, 31, 32, 63] {
            let mut bad = sig;
            bad[byte] ^= 1;
            assert!(
                verify(&key, b"ctx", b"body", &bad, "test").is_err(),
                "byte {byte}"
            );
        }
        // s + l, the classic malleation, is not canonical and is refused.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut malleated = sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
            malleated[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        assert!(verify(&key, b"ctx", b"body", &malleated, "test").is_err());
    }
}
