//! Command-line arguments every service binary accepts.

use std::path::PathBuf;

#[derive(Debug, clap::Parser)]
#[command(version, about = "A Patron service. Configuration: defaults, then --config FILE, then PATRON_* variables.")]
pub struct ServiceArgs {
    /// YAML configuration file (also PATRON_CONFIG).
    #[arg(long, env = "PATRON_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The arguments of a service that owns a database.
#[derive(Debug, clap::Parser)]
#[command(version, about = "A Patron service. Configuration: defaults, then --config FILE, then PATRON_* variables.")]
pub struct DatabaseServiceArgs {
    /// YAML configuration file (also PATRON_CONFIG).
    #[arg(long, env = "PATRON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Apply pending database migrations, then exit without serving (for a
    /// migration Job that runs before a rollout).
    #[arg(long)]
    pub migrate_only: bool,
}
