//! Files that hold a secret: created new (never over an existing one), readable by the owner
//! only, and on disk before the command says it is done.

use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// Creates `path` with mode 0600 and writes `text` to it; fails if it exists.
pub fn create(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
