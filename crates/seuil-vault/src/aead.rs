//! Sealing with XChaCha20-Poly1305: record bodies, and subjects' data keys under the KEK.
//!
//! A sealed value is `version (1) || nonce (24 random bytes) || ciphertext || tag (16)`. The
//! associated data binds it to where it belongs ([`record_aad`], [`blob_aad`], the subject for
//! a wrapped key), so a body copied to another record, subject or version fails to open.
//! Keys and opened plaintext are zeroized when dropped.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

/// The format version written first in every sealed value.
pub const VERSION: u8 = 1;
/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// XChaCha20 nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length in bytes.
pub const TAG_LEN: usize = 16;
/// How many bytes sealing adds to a plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Why a sealed value could not be opened (or, rarely, sealed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    /// The bytes are not a sealed value at all (truncated, or not produced by [`seal`]).
    #[error("sealed data is malformed: {0}")]
    Malformed(&'static str),
    /// Sealed by a newer (or unknown) format.
    #[error(
        "sealed data has unknown format version {0}; it was not written by this version of Seuil"
    )]
    UnknownVersion(u8),
    /// Well-formed but not authentic here: wrong key, sealed for another record, subject or
    /// version, or tampered with.
    #[error(
        "sealed data failed its integrity check: wrong key, sealed for another record or subject, or tampered with"
    )]
    Integrity,
    /// Plaintext beyond what one XChaCha20-Poly1305 message can hold (256 GiB).
    #[error("plaintext too long to seal in one piece; seal it as a stream")]
    TooLong,
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Zeroizing<[u8; KEY_LEN]>);

        impl $name {
            /// A fresh random key.
            pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
                let mut key = Zeroizing::new([0u8; KEY_LEN]);
                rng.fill_bytes(key.as_mut());
                Self(key)
            }

            /// A key from its raw bytes. Zeroize the caller's copy when it is no longer needed.
            pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(Zeroizing::new(bytes))
            }

            /// The raw key bytes, for derivations such as fingerprints.
            pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
                &self.0
            }

            pub(crate) fn cipher(&self) -> XChaCha20Poly1305 {
                XChaCha20Poly1305::new(self.0.as_ref().into())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

key_type!(
    /// A subject's data key: seals that subject's records and blobs. Destroying every wrapped
    /// copy shreds the subject.
    DataKey
);

key_type!(
    /// A key-encryption key: wraps data keys.
    Kek
);

/// Length-prefixed fields, so no two different field lists encode to the same bytes.
fn encode_fields(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| 8 + f.len()).sum());
    for field in fields {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// The associated data of a record body: binds it to `(kind, id, subject, version)`.
pub fn record_aad(kind: &str, id: &str, subject: &str, version: u64) -> Vec<u8> {
    encode_fields(&[
        b"seuil.record.v1",
        kind.as_bytes(),
        id.as_bytes(),
        subject.as_bytes(),
        &version.to_be_bytes(),
    ])
}

/// The associated data of a blob (sealed as a stream): binds it to `(kind, id, subject)`.
pub fn blob_aad(kind: &str, id: &str, subject: &str) -> Vec<u8> {
    encode_fields(&[
        b"seuil.blob.v1",
        kind.as_bytes(),
        id.as_bytes(),
        subject.as_bytes(),
    ])
}

fn wrap_aad(subject: &str) -> Vec<u8> {
    encode_fields(&[b"seuil.data-key.v1", subject.as_bytes()])
}

fn seal_with(
    cipher: &XChaCha20Poly1305,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Vec<u8>, AeadError> {
    let mut nonce = XNonce::default();
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    match cipher.encrypt_in_place_detached(&nonce, aad, &mut out[1 + NONCE_LEN..]) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(out)
        }
        Err(_) => {
            out.zeroize();
            Err(AeadError::TooLong)
        }
    }
}

/// Where a sealed value's parts are: its nonce, the range of its ciphertext, and its tag.
fn parts(sealed: &[u8]) -> Result<(XNonce, std::ops::Range<usize>, Tag), AeadError> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(AeadError::Malformed("empty"));
    };
    if version != VERSION {
        return Err(AeadError::UnknownVersion(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(AeadError::Malformed("too short to hold a nonce and a tag"));
    }
    let start = 1 + NONCE_LEN;
    let end = sealed.len() - TAG_LEN;
    Ok((
        *XNonce::from_slice(&sealed[1..start]),
        start..end,
        *Tag::from_slice(&sealed[end..]),
    ))
}

/// Opens `sealed` in its own buffer, which the plaintext then occupies.
fn open_in_place(
    cipher: &XChaCha20Poly1305,
    aad: &[u8],
    sealed: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    let (nonce, ciphertext, tag) = parts(&sealed)?;
    // Wrapped before decrypting, so that plaintext never sits in an unwiped buffer.
    let mut buf = Zeroizing::new(sealed);
    cipher
        .decrypt_in_place_detached(&nonce, aad, &mut buf[ciphertext.clone()], &tag)
        .map_err(|_| AeadError::Integrity)?;
    buf.truncate(ciphertext.end);
    buf.drain(..ciphertext.start);
    Ok(buf)
}

/// Seals `plaintext` under `key`, bound to `aad`, with a random nonce from `rng`.
pub fn seal(
    key: &DataKey,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Vec<u8>, AeadError> {
    seal_with(&key.cipher(), aad, plaintext, rng)
}

/// Opens what [`seal`] produced with the same key and associated data.
pub fn open(key: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    open_in_place(&key.cipher(), aad, sealed.to_vec())
}

/// [`open`], decrypting in the buffer that holds the sealed value: an audited read opens its
/// body without copying it first.
pub fn open_owned(
    key: &DataKey,
    aad: &[u8],
    sealed: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    open_in_place(&key.cipher(), aad, sealed)
}

/// Wraps `subject`'s data key under the KEK; the subject is bound as associated data.
pub fn wrap(
    kek: &Kek,
    subject: &str,
    dk: &DataKey,
    rng: &mut (impl RngCore + CryptoRng),
) -> Vec<u8> {
    match seal_with(&kek.cipher(), &wrap_aad(subject), dk.0.as_ref(), rng) {
        Ok(wrapped) => wrapped,
        // Not an input path: sealing fails only past 256 GiB and a key is 32 bytes.
        Err(_) => unreachable!("sealing 32 bytes cannot exceed the XChaCha20-Poly1305 limit"),
    }
}

/// Unwraps a data key wrapped by [`wrap`] for this `subject`.
pub fn unwrap(kek: &Kek, subject: &str, wrapped: &[u8]) -> Result<DataKey, AeadError> {
    let plain = open_in_place(&kek.cipher(), &wrap_aad(subject), wrapped.to_vec())?;
    let bytes: &[u8; KEY_LEN] = plain
        .as_slice()
        .try_into()
        .map_err(|_| AeadError::Malformed("a wrapped data key must hold 32 bytes"))?;
    Ok(DataKey(Zeroizing::new(*bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    #[test]
    fn layout_and_errors() {
        let mut r = rng(1);
        let key = DataKey::generate(&mut r);
        let sealed = seal(&key, b"aad", b"hello", &mut r).expect("small");
        assert_eq!(sealed.len(), 5 + OVERHEAD);
        assert_eq!(sealed[0], VERSION);
        assert_eq!(
            open(&key, b"aad", &sealed).expect("opens").as_slice(),
            b"hello"
        );

        assert_eq!(open(&key, b"aad", &[]), Err(AeadError::Malformed("empty")));
        assert!(matches!(
            open(&key, b"aad", &sealed[..OVERHEAD - 1]),
            Err(AeadError::Malformed(_))
        ));
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert_eq!(open(&key, b"aad", &v2), Err(AeadError::UnknownVersion(2)));
        // An empty plaintext is fine, and so is its minimal sealed form.
        let empty = seal(&key, b"", b"", &mut r).expect("small");
        assert_eq!(empty.len(), OVERHEAD);
        assert!(open(&key, b"", &empty).expect("opens").is_empty());
        // Two seals of the same plaintext differ (random nonce).
        assert_ne!(seal(&key, b"aad", b"hello", &mut r), Ok(sealed));
        assert_eq!(format!("{key:?}"), "DataKey(..)");
    }

    #[test]
    fn aad_is_unambiguous() {
        assert_ne!(record_aad("ab", "c", "s", 1), record_aad("a", "bc", "s", 1));
        assert_ne!(record_aad("a", "", "s", 1), record_aad("", "a", "s", 1));
        assert_ne!(blob_aad("k", "i", "s"), record_aad("k", "i", "s", 0));
        assert_ne!(wrap_aad("s"), blob_aad("", "", "s"));
    }

    #[test]
    fn wrap_roundtrip_and_subject_binding() {
        let mut r = rng(2);
        let kek = Kek::generate(&mut r);
        let dk = DataKey::generate(&mut r);
        let wrapped = wrap(&kek, "alice", &dk, &mut r);
        assert_eq!(wrapped.len(), KEY_LEN + OVERHEAD);
        let back = unwrap(&kek, "alice", &wrapped).expect("unwraps");
        assert_eq!(*back.0, *dk.0);
        assert_eq!(
            unwrap(&kek, "bob", &wrapped).err(),
            Some(AeadError::Integrity)
        );
        let other = Kek::generate(&mut r);
        assert_eq!(
            unwrap(&other, "alice", &wrapped).err(),
            Some(AeadError::Integrity)
        );
        // A value sealed under the KEK that is not 32 bytes is malformed, not a key.
        let odd = seal_with(&kek.cipher(), &wrap_aad("alice"), &[7; 31], &mut r).expect("small");
        assert!(matches!(
            unwrap(&kek, "alice", &odd),
            Err(AeadError::Malformed(_))
        ));
    }

    #[derive(Debug, Clone)]
    struct Binding {
        kind: String,
        id: String,
        subject: String,
        version: u64,
    }

    fn binding() -> impl Strategy<Value = Binding> {
        (
            "[a-z.]{0,8}",
            "[a-z0-9-]{0,8}",
            "[a-z0-9]{0,8}",
            any::<u64>(),
        )
            .prop_map(|(kind, id, subject, version)| Binding {
                kind,
                id,
                subject,
                version,
            })
    }

    fn aad_of(b: &Binding) -> Vec<u8> {
        record_aad(&b.kind, &b.id, &b.subject, b.version)
    }

    proptest! {
        #[test]
        fn roundtrip_and_tamper(
            seed in any::<u64>(),
            plain in proptest::collection::vec(any::<u8>(), 0..300),
            b in binding(),
            other in binding(),
            bit in any::<usize>(),
            cut in any::<usize>(),
        ) {
            let mut r = rng(seed);
            let key = DataKey::generate(&mut r);
            let sealed = seal(&key, &aad_of(&b), &plain, &mut r).expect("small");
            let opened = open(&key, &aad_of(&b), &sealed).expect("opens");
            prop_assert_eq!(opened.as_slice(), &plain[..]);

            // Moved to another record, subject or version: fails.
            if aad_of(&other) != aad_of(&b) {
                prop_assert_eq!(open(&key, &aad_of(&other), &sealed), Err(AeadError::Integrity));
            }
            for changed in [
                Binding { kind: format!("{}x", b.kind), ..b.clone() },
                Binding { id: format!("{}x", b.id), ..b.clone() },
                Binding { subject: format!("{}x", b.subject), ..b.clone() },
                Binding { version: b.version.wrapping_add(1), ..b.clone() },
            ] {
                prop_assert_eq!(open(&key, &aad_of(&changed), &sealed), Err(AeadError::Integrity));
            }
            // Any flipped bit fails.
            let mut flipped = sealed.clone();
            let bit = bit % (flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(open(&key, &aad_of(&b), &flipped).is_err());
            // Any truncation or extension fails.
            let cut = cut % sealed.len();
            prop_assert!(open(&key, &aad_of(&b), &sealed[..cut]).is_err());
            let mut longer = sealed.clone();
            longer.push(0);
            prop_assert!(open(&key, &aad_of(&b), &longer).is_err());
            // Another key fails.
            let other_key = DataKey::generate(&mut r);
            prop_assert_eq!(open(&other_key, &aad_of(&b), &sealed), Err(AeadError::Integrity));
            // Opening in place gives what opening a copy gives, on every input above.
            for input in [sealed.clone(), flipped, sealed[..cut].to_vec(), longer] {
                prop_assert_eq!(open_owned(&key, &aad_of(&b), input.clone()), open(&key, &aad_of(&b), &input));
            }
            prop_assert_eq!(open_owned(&other_key, &aad_of(&b), sealed), Err(AeadError::Integrity));
        }

        #[test]
        fn unwrap_is_bound_to_subject(seed in any::<u64>(), subject in "[a-z0-9]{0,12}", other in "[a-z0-9]{0,12}", bit in any::<usize>()) {
            let mut r = rng(seed);
            let kek = Kek::generate(&mut r);
            let dk = DataKey::generate(&mut r);
            let wrapped = wrap(&kek, &subject, &dk, &mut r);
            prop_assert_eq!(*unwrap(&kek, &subject, &wrapped).expect("unwraps").0, *dk.0);
            if other != subject {
                prop_assert!(unwrap(&kek, &other, &wrapped).is_err());
            }
            let mut flipped = wrapped.clone();
            let bit = bit % (flipped.len() * 8);
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(unwrap(&kek, &subject, &flipped).is_err());
        }
    }
}
