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

/// Strict verification: no malleable signatures, no small-order keys.
pub(crate) fn verify(
    key: &VerifyingKey,
    context: &[u8],
    body: &[u8],
    signature: &Signature,
    what: &'static str,
) -> Result<(), VerifyError> {
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    with_message(context, body, |m| key.verify_strict(m, &signature))
        .map_err(|_| VerifyError::BadSignature { what })
}

/// [`verify`] with the raw public key a message carries; one that is not a valid point fails
/// like a bad signature. Decompressing the key costs about as much as a third of a
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
