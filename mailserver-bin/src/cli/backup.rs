//! `mailserver backup` and `mailserver restore`: what the `backup` module does, told to the
//! admin.

use std::path::Path;

use crate::AnyError;
use crate::accounts::Accounts;
use crate::backup;
use crate::config::Config;

/// `backup DEST`.
pub async fn make_command(
    config: &Config,
    config_path: Option<&Path>,
    accounts: &Accounts,
    dest: &Path,
) -> Result<(), AnyError> {
    let made = backup::make(config, config_path, accounts, dest).await?;
    println!("snapshot {}", made.path.display());
    println!(
        "  {} files: {} linked to {}, {} octets copied",
        made.stats.files,
        made.stats.linked,
        made.previous.as_deref().map_or_else(
            || "no earlier snapshot".to_owned(),
            |p| p.display().to_string()
        ),
        made.stats.copied_bytes
    );
    if config_path.is_none() {
        println!("  no configuration file given (-c): none saved");
    }
    for note in &made.notes {
        println!("  not in the snapshot: {note}");
    }
    Ok(())
}

/// `backup --verify SNAPSHOT`: fails when anything is wrong.
pub fn verify_command(snapshot: &Path) -> Result<(), AnyError> {
    let problems = backup::verify(snapshot)?;
    if problems.is_empty() {
        println!("{}: every file matches the manifest", snapshot.display());
        return Ok(());
    }
    for p in &problems {
        println!("{p}");
    }
    Err(format!("{}: {} problems", snapshot.display(), problems.len()).into())
}

/// `restore SNAPSHOT`.
pub fn restore_command(config: &Config, snapshot: &Path) -> Result<(), AnyError> {
    let restored = backup::restore(config, snapshot)?;
    println!(
        "restored {} files into {}",
        restored.stats.files,
        config.data_dir.display()
    );
    for note in &restored.notes {
        println!("  {note}");
    }
    Ok(())
}
