//! A change counter the report rollup compares on read: every write to
//! `orders` or `order_lines`, by any path (record, import, erasure, a manual
//! fix), moves it, so the in-memory order facts are reloaded exactly when they
//! may be stale, without each write path having to remember a hook.
//!
//! - PostgreSQL appends one row to `report_changes` per statement; the
//!   counter is `(COUNT(*), MAX(id))`. Appends never wait on one another, so
//!   concurrent writers are not serialised by the counter, and a transaction
//!   that commits late still raises the count.
//! - SQLite has only row triggers but serialises writers anyway, so it keeps
//!   a single row whose `changes` each written row increments.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const WATCHED_TABLES: [&str; 2] = ["orders", "order_lines"];

fn postgres_statements() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE IF NOT EXISTS report_changes (id BIGSERIAL PRIMARY KEY)".to_owned(),
        "CREATE OR REPLACE FUNCTION patron_note_report_change() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN INSERT INTO report_changes DEFAULT VALUES; RETURN NULL; END $$"
            .to_owned(),
    ];
    for table in WATCHED_TABLES {
        statements.push(format!(
            "CREATE TRIGGER {table}_report_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION patron_note_report_change()"
        ));
    }
    statements
}

fn sqlite_statements() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE IF NOT EXISTS report_changes (id INTEGER PRIMARY KEY, changes INTEGER NOT NULL)".to_owned(),
        "INSERT INTO report_changes (id, changes) VALUES (1, 0)".to_owned(),
    ];
    for table in WATCHED_TABLES {
        for event in ["INSERT", "UPDATE", "DELETE"] {
            statements.push(format!(
                "CREATE TRIGGER {table}_report_change_{} AFTER {event} ON {table} \
                 BEGIN UPDATE report_changes SET changes = changes + 1 WHERE id = 1; END",
                event.to_lowercase()
            ));
        }
    }
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DbBackend::Postgres => postgres_statements(),
            DbBackend::Sqlite => sqlite_statements(),
            other => return Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        };
        let connection = manager.get_connection();
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }
}
