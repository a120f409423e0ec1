//! The fixed list of reasons data may be used for, and what each one needs.

use crate::{Result, VaultError};
use serde::Serialize;
use std::collections::BTreeMap;

/// The legal ground a purpose rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Only with the subject's consent, which they can withdraw at any time.
    Consent,
    /// Needed to provide the service the subject signed up for.
    Contract,
    /// Required by law (retention, fraud records).
    LegalObligation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Purpose {
    pub name: String,
    pub basis: Basis,
    pub description: String,
    /// The version of the notice shown when consent is asked.
    pub notice_version: String,
}

impl Purpose {
    pub fn needs_consent(&self) -> bool {
        self.basis == Basis::Consent
    }
}

/// The purpose registry. Domains register their purposes at start-up.
#[derive(Clone, Debug, Default)]
pub struct Purposes(BTreeMap<String, Purpose>);

impl Purposes {
    /// The purposes every Seuil installation knows.
    pub fn builtin() -> Self {
        use Basis::*;
        let mut p = Self::default();
        for (name, basis, description) in [
            ("account", Contract, "Signing in and keeping your account"),
            (
                "notify",
                Contract,
                "Sending you the notifications you subscribed to",
            ),
            (
                "retention",
                LegalObligation,
                "Removing data when its retention period ends",
            ),
            (
                "delivery.access",
                Contract,
                "Letting a courier into your home for an order you approved",
            ),
            (
                "delivery.video",
                Consent,
                "Recording and showing in-home delivery footage",
            ),
            (
                "delivery.dispute",
                Contract,
                "Reviewing a visit's footage in a dispute you opened",
            ),
            (
                "palm.identify",
                Consent,
                "Identifying you by your palm at a gate or till",
            ),
            (
                "walkout.cart",
                Contract,
                "Building your cart in a walk-out store",
            ),
            (
                "panel.receipts",
                Consent,
                "Collecting receipts you share for the shopper panel",
            ),
            (
                "panel.insights",
                Consent,
                "Using your receipts in differentially private statistics",
            ),
            ("marketing.email", Consent, "Sending you offers by email"),
        ] {
            p.register(Purpose {
                name: name.into(),
                basis,
                description: description.into(),
                notice_version: "2026-11".into(),
            });
        }
        p
    }

    pub fn register(&mut self, purpose: Purpose) {
        self.0.insert(purpose.name.clone(), purpose);
    }

    pub fn get(&self, name: &str) -> Result<&Purpose> {
        self.0
            .get(name)
            .ok_or_else(|| VaultError::UnknownPurpose(name.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Purpose> {
        self.0.values()
    }
}
