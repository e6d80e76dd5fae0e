//! A database-backed gRPC service, assembled the same way for every Patron
//! backend: bind the ports, open the (lazy) pool, then serve the service's
//! routes with health following the store and migrations applied on first
//! contact.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tonic::service::Routes;

use crate::config::{DatabaseConfig, ServerConfig};
use crate::server::{GrpcServer, ProbeError};
use crate::storage::{self, StoreProbe};

pub struct DatabaseService<M> {
    db: DatabaseConnection,
    server: GrpcServer,
    database: DatabaseConfig,
    migrator: PhantomData<fn() -> M>,
}

impl<M: MigratorTrait + 'static> DatabaseService<M> {
    /// `grpc_services` are the fully qualified names the service serves.
    pub async fn build(
        name: &'static str,
        grpc_services: Vec<&'static str>,
        server: &ServerConfig,
        database: &DatabaseConfig,
    ) -> anyhow::Result<Self> {
        let db = storage::connect(database).await?;
        let server = GrpcServer::bind(name, grpc_services, server.clone()).await?;
        Ok(Self { db, server, database: database.clone(), migrator: PhantomData })
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.metrics_addr()
    }

    pub fn max_message_bytes(&self) -> usize {
        self.server.config().max_message_bytes
    }

    /// Serves `routes` until `shutdown` resolves, then drains.
    pub async fn run(self, routes: Routes, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let probe = StoreProbe::<M>::new(self.db);
        self.server.serve(routes, probe, self.database.health_interval_ms, shutdown).await
    }
}

/// How long `--migrate-only` waits for the database to answer.
pub const MIGRATION_DATABASE_WAIT: Duration = Duration::from_secs(60);

/// Applies the service's pending migrations and returns without serving:
/// `patron-<service> --migrate-only`, run by a migration Job before a rollout.
/// Waits up to [`MIGRATION_DATABASE_WAIT`] for the database to answer (the Job
/// may start before PostgreSQL does), but fails at once on a schema newer than
/// this build.
pub async fn migrate_only<M: MigratorTrait>(name: &str, database: &DatabaseConfig) -> anyhow::Result<()> {
    let db = storage::connect(database).await?;
    let deadline = Instant::now() + MIGRATION_DATABASE_WAIT;
    loop {
        match storage::migrate::<M>(&db).await {
            Ok(()) => {
                tracing::info!(service = name, "migrations applied");
                return Ok(());
            }
            Err(ProbeError::NotReady(reason)) if Instant::now() < deadline => {
                tracing::warn!(service = name, %reason, "database not ready for migrations; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => anyhow::bail!("{name}: migrations failed: {error}"),
        }
    }
}
