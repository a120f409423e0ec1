//! What can be wrong with a message.

use core::fmt;

/// A message that cannot be read. Each variant says what was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Truncated {
        what: &'static str,
        need: usize,
        got: usize,
    },
    TrailingBytes {
        what: &'static str,
        len: usize,
        got: usize,
    },
    UnknownVersion {
        what: &'static str,
        got: u8,
    },
    WrongKind {
        what: &'static str,
        expected: u8,
        got: u8,
    },
    /// Permission bits this version does not define, or no place to open.
    Permissions {
        bits: u8,
    },
    /// A field holds a value this version does not define.
    Field {
        what: &'static str,
        field: &'static str,
    },
    /// `not_after` is not after `not_before`.
    EmptyWindow {
        not_before: i64,
        not_after: i64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Truncated { what, need, got } => {
                write!(f, "{what} is truncated: {got} bytes, need {need}")
            }
            DecodeError::TrailingBytes { what, len, got } => {
                write!(f, "{what} is {got} bytes long, expected exactly {len}")
            }
            DecodeError::UnknownVersion { what, got } => write!(
                f,
                "{what} has format version {got}, this build reads version {}",
                crate::VERSION
            ),
            DecodeError::WrongKind {
                what,
                expected,
                got,
            } => write!(
                f,
                "{what} must start with kind byte {expected:#04x}, found {got:#04x}"
            ),
            DecodeError::Permissions { bits } => write!(
                f,
                "grant permissions {bits:#010b} are invalid: unknown bits, or none of door, garage, fridge"
            ),
            DecodeError::Field { what, field } => {
                write!(f, "{what} has an invalid {field}")
            }
            DecodeError::EmptyWindow {
                not_before,
                not_after,
            } => write!(
                f,
                "grant window is empty: not_after {not_after} is not after not_before {not_before}"
            ),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A well-formed message that must not be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature does not verify under the expected key (or the key is not a valid point).
    BadSignature { what: &'static str },
    /// The proof names another grant.
    OtherGrant,
    /// The proof answers another challenge (a replayed response).
    OtherChallenge,
    /// The attestation's camera is not the one the grant names.
    OtherCamera,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::BadSignature { what } => {
                write!(f, "the signature of the {what} does not verify")
            }
            VerifyError::OtherGrant => f.write_str("the courier proof is for another grant"),
            VerifyError::OtherChallenge => {
                f.write_str("the proof answers another challenge than the lock's current one")
            }
            VerifyError::OtherCamera => {
                f.write_str("the attestation is from another camera than the grant names")
            }
        }
    }
}

impl core::error::Error for VerifyError {}
