//! The lock side of Seuil's in-home delivery: what a lock maker embeds.
//!
//! A lock decides offline, from what the courier's phone hands it, whether to open:
//!
//! 1. [`Lock::challenge`] gives a fresh, unpredictable challenge;
//! 2. [`Lock::try_unlock`] takes the grant, the courier's proof over that challenge and, when
//!    the grant asks for one, the camera's attestation over it too, and answers
//!    [`Outcome::Unlocked`] or [`Outcome::Refused`] with a [`Refusal`] that says why;
//! 3. [`Lock::relock`] closes the visit once the door is locked again.
//!
//! A grant opens once: the issuer numbers its grants, and the lock keeps the highest number
//! used and a 64-bit window below it ([`replay`]). Grants of an epoch below the lock's floor
//! are revoked. Time comes from the lock's clock, corrected by signed syncs
//! ([`Lock::sync`]) that only move it forward, and never goes below the highest time seen,
//! so rolling the clock back revives nothing. ±5 minutes of skew are tolerated.
//!
//! Everything the lock must remember is a [`LockState`] of [`STATE_LEN`] bytes, to be written
//! to flash after each call that changes it and before the motor turns; a lock that loses
//! power mid-visit comes back with the grant still used up.
//!
//! `no_std`, and no heap allocation.

#![cfg_attr(not(test), no_std)]

mod config;
mod lock;
pub mod replay;
mod state;

pub use config::{
    ConfigError, DEFAULT_CHALLENGE_TTL_MS, DEFAULT_SKEW_MS, Issuer, LockConfig, MAX_ISSUERS,
};
pub use lock::{Lock, Outcome, Refusal, Relocked};
pub use state::{LockState, ReplaySlot, STATE_LEN, StateError, Visit};
