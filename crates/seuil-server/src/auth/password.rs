//! Argon2id password hashing, off the async threads and bounded in concurrency so a burst of
//! sign-ins cannot starve the server.

use crate::problem::Problem;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::Semaphore;

pub struct Hasher {
    argon: Argon2<'static>,
    permits: Semaphore,
    /// A hash of a random password, verified against when the account does not exist, so
    /// that "no such account" and "wrong password" take the same time.
    dummy: String,
}

impl Hasher {
    pub fn new(fast_for_tests: bool) -> Self {
        let params = if fast_for_tests {
            Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or_default()
        } else {
            Params::default()
        };
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut random = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let dummy = hash_with(&argon, &hex::encode(random)).unwrap_or_default();
        Self {
            argon,
            permits: Semaphore::new(4),
            dummy,
        }
    }

    pub async fn hash(&self, password: &str) -> Result<String, Problem> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Problem::unavailable("shutting down"))?;
        let argon = self.argon.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_with(&argon, &password))
            .await
            .map_err(|_| Problem::internal("password hashing failed"))?
            .map_err(|e| Problem::internal(format!("password hashing failed: {e}")))
    }

    /// Whether `password` matches the PHC string `phc` (or the dummy hash when `None`).
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let exists = phc.is_some();
        let phc = phc.unwrap_or(&self.dummy).to_owned();
        let argon = self.argon.clone();
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc)
                .is_ok_and(|h| argon.verify_password(password.as_bytes(), &h).is_ok())
        })
        .await
        .unwrap_or(false);
        ok && exists
    }
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(argon.hash_password(password.as_bytes(), &salt)?.to_string())
}
