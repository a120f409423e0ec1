//! Where the key-encryption key (KEK) comes from. The KEK wraps every subject's data key and
//! never touches the store.

use crate::aead::Kek;
use crate::{Result, VaultError};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A source of the key-encryption key.
pub trait KekProvider: Send + Sync {
    /// Where the key comes from, for messages (never the key itself).
    fn describe(&self) -> String;
    /// Loads the key, creating it first if this provider may do so.
    fn load(&self) -> Result<Kek>;
}

/// A short public fingerprint of a KEK, stored beside each wrapped key.
pub fn kek_id(kek: &Kek) -> String {
    let digest = Sha256::new_with_prefix(b"seuil kek id v1")
        .chain_update(kek.as_bytes())
        .finalize();
    hex::encode(&digest[..8])
}

/// The default: a local file holding the key as 64 hex digits, created with mode 0600 on first
/// start.
pub struct FileKek {
    path: PathBuf,
}

impl FileKek {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a new random key to `path`, refusing to overwrite one.
    pub fn create(path: &Path) -> Result<Kek> {
        use rand::RngCore;
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        let text = Zeroizing::new(hex::encode(bytes.as_ref()));
        write_new_secret(path, text.as_bytes())
            .map_err(|e| VaultError::Kek(format!("cannot create {}: {e}", path.display())))?;
        Ok(Kek::from_bytes(*bytes))
    }
}

impl KekProvider for FileKek {
    fn describe(&self) -> String {
        format!("key file {}", self.path.display())
    }

    fn load(&self) -> Result<Kek> {
        match read_secret(&self.path) {
            Ok(text) => parse_hex_key(text.trim_ascii(), &self.describe()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    path = %self.path.display(),
                    "no key-encryption key found: created a new one. Back this file up and keep \
                     it apart from the data: without it, nothing sealed can be read"
                );
                Self::create(&self.path)
            }
            Err(e) => Err(VaultError::Kek(format!(
                "cannot read {}: {e}",
                self.describe()
            ))),
        }
    }
}

/// The key as 64 hex digits in an environment variable (`SEUIL_KEK` by default). Never created.
pub struct EnvKek {
    var: String,
}

impl EnvKek {
    pub fn new(var: impl Into<String>) -> Self {
        Self { var: var.into() }
    }
}

impl KekProvider for EnvKek {
    fn describe(&self) -> String {
        format!("environment variable {}", self.var)
    }

    fn load(&self) -> Result<Kek> {
        let value = Zeroizing::new(
            std::env::var(&self.var)
                .map_err(|_| VaultError::Kek(format!("{} is not set", self.describe())))?,
        );
        parse_hex_key(value.trim().as_bytes(), &self.describe())
    }
}

/// Reads a small secret file into a buffer that is wiped when dropped, sized up front so no
/// copy of it is left behind by a reallocation.
fn read_secret(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > 4096 {
        return Err(std::io::Error::other(format!(
            "{len} bytes is too long for a key file"
        )));
    }
    let mut text = Zeroizing::new(Vec::with_capacity(len as usize + 1));
    file.take(len + 1).read_to_end(&mut text)?;
    Ok(text)
}

fn parse_hex_key(text: &[u8], source: &str) -> Result<Kek> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, bytes.as_mut()).map_err(|_| {
        VaultError::Kek(format!("{source} must hold exactly 64 hexadecimal digits"))
    })?;
    Ok(Kek::from_bytes(*bytes))
}

/// Creates a file readable only by its owner (mode 0600), writes `content` and forces it to
/// disk; fails if the file exists, so a secret is never written over another. Missing parent
/// folders are created.
pub fn write_new_secret(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content)?;
    file.sync_all()
}
