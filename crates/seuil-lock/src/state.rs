//! What a lock must remember across power loss, as fixed-size bytes with a checksum.
//!
//! Firmware writes [`LockState::encode`] to flash after every call that changed it and
//! before it drives the motor, and hands [`LockState::decode`] of those bytes to
//! [`crate::Lock::new`] at boot. A grant used before the power went out stays used.
//!
//! Layout (big-endian): version, kind `L`, challenge counter (8), time floor (8), clock offset
//! (8), last sync time (8), epoch floor (4), slots reset at (8), then [`MAX_ISSUERS`] replay slots of issuer key
//! id (8), flags (1), highest sequence (8), seen bits (8); then the open visit: present (1),
//! grant id (16), unlocked at (8), relock required (1); then the first 8 bytes of SHA-256 of
//! everything before. Version 1 had no "slots reset at"; it still decodes, as never reset.

use crate::config::MAX_ISSUERS;
use crate::replay::ReplayWindow;
use sha2::{Digest, Sha256};

const VERSION: u8 = 2;
const KIND: u8 = b'L';
const HEAD_LEN: usize = 2 + 8 + 8 + 8 + 8 + 4 + 8;
const SLOT_LEN: usize = 8 + 1 + 8 + 8;
const VISIT_LEN: usize = 1 + 16 + 8 + 1;
const BODY_LEN: usize = HEAD_LEN + MAX_ISSUERS * SLOT_LEN + VISIT_LEN;
/// Bytes of a serialized state.
pub const STATE_LEN: usize = BODY_LEN + 8;
/// Bytes of a version 1 state, which had no "slots reset at".
const V1_LEN: usize = STATE_LEN - 8;

/// Anti-replay state of one issuer, by its key id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplaySlot {
    pub key_id: [u8; 8],
    pub in_use: bool,
    pub window: ReplayWindow,
}

/// A visit that is open: the door was unlocked and has not been confirmed relocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    pub grant_id: [u8; 16],
    /// Trusted time of the unlock, Unix milliseconds.
    pub unlocked_at: i64,
    pub relock_required: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockState {
    /// Challenges issued so far; each is derived from the next value, so none repeats.
    pub challenges: u64,
    /// The lock's time never goes below this (Unix milliseconds): the highest trusted time
    /// it has seen, so a rolled-back clock cannot revive an expired grant.
    pub time_floor: i64,
    /// Added to the lock's own clock, from the last signed sync.
    pub clock_offset: i64,
    /// Time of the newest sync accepted; older syncs are replays.
    pub last_sync: i64,
    /// Grants of an epoch below this are revoked.
    pub epoch_floor: u32,
    /// Trusted time at which a replay slot last passed from one issuer to another
    /// (`i64::MIN`: never). The issuer that lost it may be trusted again later, and its used
    /// grants are no longer remembered; so an issuer that takes a slot afterwards has its
    /// grants refused as too old when they start before this time plus the skew.
    pub slots_reset_at: i64,
    pub replay: [ReplaySlot; MAX_ISSUERS],
    pub visit: Option<Visit>,
}

/// Stored bytes that are not a lock state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    Length { got: usize },
    Version { got: u8 },
    Checksum,
}

impl core::fmt::Display for StateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StateError::Length { got } => {
                write!(f, "lock state is {got} bytes, expected {STATE_LEN}")
            }
            StateError::Version { got } => write!(f, "lock state has unknown version {got}"),
            StateError::Checksum => f.write_str("lock state is corrupt (checksum mismatch)"),
        }
    }
}

impl core::error::Error for StateError {}

impl Default for LockState {
    fn default() -> Self {
        LockState {
            challenges: 0,
            time_floor: 0,
            clock_offset: 0,
            last_sync: 0,
            epoch_floor: 0,
            slots_reset_at: i64::MIN,
            replay: [ReplaySlot::default(); MAX_ISSUERS],
            visit: None,
        }
    }
}

impl LockState {
    pub fn encode(&self) -> [u8; STATE_LEN] {
        let mut out = [0u8; STATE_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&[VERSION, KIND]);
        put(&self.challenges.to_be_bytes());
        put(&self.time_floor.to_be_bytes());
        put(&self.clock_offset.to_be_bytes());
        put(&self.last_sync.to_be_bytes());
        put(&self.epoch_floor.to_be_bytes());
        put(&self.slots_reset_at.to_be_bytes());
        for slot in &self.replay {
            let flags = u8::from(slot.in_use) | (u8::from(slot.window.highest.is_some()) << 1);
            put(&slot.key_id);
            put(&[flags]);
            put(&slot.window.highest.unwrap_or(0).to_be_bytes());
            put(&slot.window.seen.to_be_bytes());
        }
        match &self.visit {
            Some(v) => {
                put(&[1]);
                put(&v.grant_id);
                put(&v.unlocked_at.to_be_bytes());
                put(&[u8::from(v.relock_required)]);
            }
            None => put(&[0; VISIT_LEN]),
        }
        let sum = checksum(&out[..BODY_LEN]);
        out[BODY_LEN..].copy_from_slice(&sum);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<LockState, StateError> {
        let version = match bytes.len() {
            STATE_LEN => VERSION,
            V1_LEN => 1,
            got => return Err(StateError::Length { got }),
        };
        if bytes[0] != version || bytes[1] != KIND {
            return Err(StateError::Version { got: bytes[0] });
        }
        let body = bytes.len() - 8;
        if checksum(&bytes[..body]) != bytes[body..] {
            return Err(StateError::Checksum);
        }
        let mut r = Fields { bytes, at: 2 };
        let mut state = LockState {
            challenges: r.u64(),
            time_floor: r.i64(),
            clock_offset: r.i64(),
            last_sync: r.i64(),
            epoch_floor: r.u32(),
            ..LockState::default()
        };
        if version >= 2 {
            state.slots_reset_at = r.i64();
        }
        for slot in &mut state.replay {
            slot.key_id = r.array();
            let flags = r.array::<1>()[0];
            let highest = r.u64();
            slot.in_use = flags & 1 != 0;
            slot.window = ReplayWindow {
                highest: (flags & 2 != 0).then_some(highest),
                seen: r.u64(),
            };
        }
        let present = r.array::<1>()[0] != 0;
        let grant_id = r.array();
        let unlocked_at = r.i64();
        let relock_required = r.array::<1>()[0] != 0;
        state.visit = present.then_some(Visit {
            grant_id,
            unlocked_at,
            relock_required,
        });
        Ok(state)
    }

    /// The slot that remembers issuer `key_id`'s used grants: its own, else a free one, else
    /// one of an issuer the lock no longer trusts (`trusted` says which it does). A retired
    /// issuer's slot is kept until the room is needed, so an issuer configured again finds its
    /// window still there. `None` when every slot belongs to another trusted issuer.
    pub(crate) fn slot_for(
        &self,
        key_id: &[u8; 8],
        trusted: impl Fn(&[u8; 8]) -> bool,
    ) -> Option<usize> {
        self.replay
            .iter()
            .position(|s| s.in_use && &s.key_id == key_id)
            .or_else(|| self.replay.iter().position(|s| !s.in_use))
            .or_else(|| self.replay.iter().position(|s| !trusted(&s.key_id)))
    }

    /// Whether the slot at `index` is not yet `key_id`'s: taking it starts a new window.
    pub(crate) fn slot_is_new(&self, index: usize, key_id: &[u8; 8]) -> bool {
        let slot = &self.replay[index];
        !slot.in_use || &slot.key_id != key_id
    }

    /// The window of slot `index` for `key_id`, starting it afresh if it held another issuer
    /// (and then noting, at trusted time `now`, that an issuer's memory was dropped).
    pub(crate) fn take_slot(
        &mut self,
        index: usize,
        key_id: &[u8; 8],
        now: i64,
    ) -> &mut ReplayWindow {
        if self.replay[index].in_use && &self.replay[index].key_id != key_id {
            self.slots_reset_at = self.slots_reset_at.max(now);
        }
        let slot = &mut self.replay[index];
        if !slot.in_use || &slot.key_id != key_id {
            *slot = ReplaySlot {
                key_id: *key_id,
                in_use: true,
                window: ReplayWindow::default(),
            };
        }
        &mut slot.window
    }

    pub(crate) fn window(&self, key_id: &[u8; 8]) -> ReplayWindow {
        self.replay
            .iter()
            .find(|s| s.in_use && &s.key_id == key_id)
            .map(|s| s.window)
            .unwrap_or_default()
    }
}

fn checksum(body: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(body);
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Reads the fixed layout; the length was checked before.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Fields<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        out
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.array())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
}

const _: () = assert!(STATE_LEN == 180, "the README states the size; change both");
