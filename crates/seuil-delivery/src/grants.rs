//! When a courier gets a grant, and what it says.
//!
//! A grant is issued only when all of these hold at once: the customer approved this order (or
//! gave a standing approval they have not withdrawn, and did not decline this order), the
//! delivery window is open, the courier asking is the one assigned, and the camera is live
//! (its newest verified segment ended less than [`CAMERA_LIVE_MS`] ago). Each refusal says
//! which condition failed.
//!
//! A grant opens the lock for [`Rules::grant_ttl_ms`] from its issue (never past the window),
//! not for the whole window: a grant that leaks, or that a withdrawn order leaves behind on an
//! offline lock, dies on its own soon after.

use ed25519_dalek::SigningKey;
use seuil_proto::{Grant, GrantBody, Permissions, key_hash};

/// A camera is live while its newest verified footage is younger than this.
pub const CAMERA_LIVE_MS: i64 = 3_000;

/// The lock's tolerance of clock skew at both ends of a grant's window (the lock's default):
/// a grant still opens the door this long after its `not_after` by the issuer's clock.
pub const LOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// The deployment's limits on deliveries and grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// How long a grant opens the lock from its issue (never past the delivery window).
    pub grant_ttl_ms: i64,
    /// The longest delivery window an operator may book.
    pub max_window_ms: i64,
    /// After a grant, the lock must report the unlock within this, or the customer is alarmed.
    pub lock_report_within_ms: i64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            grant_ttl_ms: 10 * 60 * 1000,
            max_window_ms: 12 * 3_600 * 1000,
            lock_report_within_ms: 60 * 1000,
        }
    }
}

/// What the customer said about letting couriers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Nothing said yet.
    None,
    /// This order only.
    ThisOrder,
    /// Every order until withdrawn.
    Standing,
    /// Not this order, whatever the standing approval says.
    Declined,
}

/// Everything the decision needs about one delivery. Times are Unix milliseconds.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub approval: Approval,
    pub window: (i64, i64),
    pub assigned_courier: Option<&'a str>,
    pub courier: &'a str,
    /// When the camera's newest verified segment ended, if it sent any.
    pub camera_newest_end: Option<i64>,
    pub now: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the customer has not approved in-home delivery for this order")]
    NotApproved,
    #[error("the customer declined in-home delivery for this order")]
    Declined,
    #[error("the delivery window has not opened yet")]
    TooEarly,
    #[error("the delivery window has closed")]
    TooLate,
    #[error("this courier is not the one assigned to the delivery")]
    NotAssigned,
    #[error("the camera is not live: no verified footage in the last 3 seconds")]
    CameraNotLive,
}

/// Decides whether a grant may be issued now.
pub fn may_issue(r: &Request<'_>) -> Result<(), Refused> {
    match r.approval {
        Approval::None => return Err(Refused::NotApproved),
        Approval::Declined => return Err(Refused::Declined),
        Approval::ThisOrder | Approval::Standing => {}
    }
    if r.now < r.window.0 {
        return Err(Refused::TooEarly);
    }
    if r.now > r.window.1 {
        return Err(Refused::TooLate);
    }
    if r.assigned_courier != Some(r.courier) {
        return Err(Refused::NotAssigned);
    }
    match r.camera_newest_end {
        Some(end) if r.now - end < CAMERA_LIVE_MS => Ok(()),
        _ => Err(Refused::CameraNotLive),
    }
}

/// The server's grant signer: one key, and the sequence numbers it has used.
pub struct Issuer {
    pub key: SigningKey,
    pub key_id: [u8; 8],
    /// The next sequence number; persist it before handing out the grant it numbers.
    pub next_sequence: u64,
}

/// What one grant is for.
#[derive(Clone, Copy, Debug)]
pub struct GrantFor {
    pub lock_id: [u8; 16],
    pub grant_id: [u8; 16],
    /// The courier app's key for this delivery only.
    pub courier_key: [u8; 32],
    /// When the grant opens the lock: from its issue, for the grant's lifetime, within the
    /// delivery window.
    pub valid: (i64, i64),
    pub epoch: u32,
    pub places: Permissions,
    pub camera_key: [u8; 32],
}

impl Issuer {
    /// Signs a grant: relock required, and the paired camera's attestation required.
    pub fn issue(&mut self, g: &GrantFor) -> Grant {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        GrantBody {
            lock_id: g.lock_id,
            grant_id: g.grant_id,
            courier_key: g.courier_key,
            not_before: g.valid.0,
            not_after: g.valid.1,
            epoch: g.epoch,
            sequence,
            permissions: g.places
                | Permissions::RELOCK_REQUIRED
                | Permissions::CAMERA_PROOF_REQUIRED,
            camera_key_hash: key_hash(&g.camera_key),
            issuer_key_id: self.key_id,
        }
        .sign(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request<'static> {
        Request {
            approval: Approval::ThisOrder,
            window: (1_000, 100_000),
            assigned_courier: Some("courier-1"),
            courier: "courier-1",
            camera_newest_end: Some(49_000),
            now: 50_000,
        }
    }

    #[test]
    fn a_grant_needs_every_condition() {
        assert_eq!(may_issue(&request()), Ok(()));
        let cases: [(Request<'static>, Refused); 7] = [
            (
                Request {
                    approval: Approval::None,
                    ..request()
                },
                Refused::NotApproved,
            ),
            (
                Request {
                    approval: Approval::Declined,
                    ..request()
                },
                Refused::Declined,
            ),
            (
                Request {
                    now: 999,
                    ..request()
                },
                Refused::TooEarly,
            ),
            (
                Request {
                    now: 100_001,
                    ..request()
                },
                Refused::TooLate,
            ),
            (
                Request {
                    courier: "courier-2",
                    ..request()
                },
                Refused::NotAssigned,
            ),
            (
                Request {
                    assigned_courier: None,
                    ..request()
                },
                Refused::NotAssigned,
            ),
            (
                Request {
                    camera_newest_end: Some(47_000),
                    ..request()
                },
                Refused::CameraNotLive,
            ),
        ];
        for (r, why) in cases {
            assert_eq!(may_issue(&r), Err(why), "{r:?}");
        }
        let never = Request {
            camera_newest_end: None,
            approval: Approval::Standing,
            ..request()
        };
        assert_eq!(may_issue(&never), Err(Refused::CameraNotLive));
    }

    #[test]
    fn issued_grants_are_numbered_and_verify() {
        let mut issuer = Issuer {
            key: SigningKey::from_bytes(&[1; 32]),
            key_id: *b"issuer-1",
            next_sequence: 7,
        };
        let g = GrantFor {
            lock_id: [2; 16],
            grant_id: [3; 16],
            courier_key: [4; 32],
            valid: (10, 20),
            epoch: 1,
            places: Permissions::DOOR,
            camera_key: [5; 32],
        };
        let a = issuer.issue(&g);
        let b = issuer.issue(&g);
        assert_eq!((a.body.sequence, b.body.sequence), (7, 8));
        a.verify(&issuer.key.verifying_key()).unwrap();
        assert!(
            a.body
                .permissions
                .contains(Permissions::CAMERA_PROOF_REQUIRED)
        );
        assert!(a.body.permissions.contains(Permissions::RELOCK_REQUIRED));
    }
}
