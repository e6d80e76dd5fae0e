//! Lets a timing test run alone. libtest runs the suite's tests on parallel
//! threads, and every test starts processes that compete for the same few
//! cores: the overload test's latency figures would measure its neighbours.
//! Every other test holds [`shared`] while it runs; a timing test holds
//! [`alone`], which waits for the running ones to finish and keeps new ones
//! waiting until it is done.

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static MACHINE: RwLock<()> = RwLock::const_new(());

/// Held by a test that may run beside others.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}

/// Held by a test whose timings need the machine to itself.
pub async fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}
