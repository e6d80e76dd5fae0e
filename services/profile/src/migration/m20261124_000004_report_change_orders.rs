//! The report change log says which orders changed, so the report rollup
//! (`store/order_facts.rs`) applies just those instead of reloading every
//! order after any write. Every write to `orders` or `order_lines`, by any
//! path, still logs a change (the counter semantics of `report_changes`).
//!
//! - PostgreSQL: `report_changes` rows gain `order_ids` (the orders a
//!   statement touched, from its transition tables; NULL = unknown, e.g. a
//!   TRUNCATE, which forces a full reload) and `xid`, the writing transaction.
//!   Ids from a sequence commit out of order, so a reader remembers the
//!   snapshot it read in and takes as new exactly the rows whose transaction
//!   that snapshot does not see. `report_change_folds.before_xid` records
//!   how far a compaction deleted the log: a reader whose snapshot is older
//!   cannot tell what changed and reloads in full.
//! - SQLite serialises writers and numbers new rows max + 1, so committed
//!   `report_change_log.seq` values are dense and in commit order: a reader
//!   remembers the last one it read. Compaction keeps the newest row, so
//!   numbers are never reused and a gap below a reader's next number means
//!   rows were folded away.
//!
//! A writer that knows what it changed (a batch import) may insert the row
//! itself: `INSERT INTO report_changes (order_ids) VALUES (...)` on
//! PostgreSQL, one `report_change_log (order_id)` row per order on SQLite.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The watched tables and the column naming the order each row belongs to.
const WATCHED: [(&str, &str); 2] = [("orders", "id"), ("order_lines", "order_id")];

fn postgres_statements() -> Vec<String> {
    let mut statements = vec![
        "ALTER TABLE report_changes ADD COLUMN IF NOT EXISTS order_ids BIGINT[]".to_owned(),
        "ALTER TABLE report_changes ADD COLUMN IF NOT EXISTS xid xid8 NOT NULL DEFAULT pg_current_xact_id()".to_owned(),
        "CREATE INDEX IF NOT EXISTS ix_report_changes_xid ON report_changes (xid)".to_owned(),
        "CREATE TABLE IF NOT EXISTS report_change_folds (id INTEGER PRIMARY KEY, before_xid xid8 NOT NULL)".to_owned(),
        "INSERT INTO report_change_folds (id, before_xid) VALUES (1, '0') ON CONFLICT (id) DO NOTHING".to_owned(),
    ];
    for (table, column) in WATCHED {
        // Replaced by the per-event triggers below (migration report_changes kept TRUNCATE in the same trigger).
        statements.push(format!("DROP TRIGGER IF EXISTS {table}_report_change ON {table}"));
        statements.push(format!(
            "CREATE TRIGGER {table}_report_change AFTER TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION patron_note_report_change()"
        ));
        // A transition table may serve one event only, so one function and trigger per event.
        for (event, source) in [
            ("INSERT", format!("SELECT {column} FROM written")),
            ("UPDATE", format!("SELECT {column} FROM replaced UNION SELECT {column} FROM written")),
            ("DELETE", format!("SELECT {column} FROM replaced")),
        ] {
            let name = format!("patron_{table}_report_{}", event.to_lowercase());
            let referencing = match event {
                "INSERT" => "NEW TABLE AS written",
                "UPDATE" => "OLD TABLE AS replaced NEW TABLE AS written",
                _ => "OLD TABLE AS replaced",
            };
            statements.push(format!(
                "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   INSERT INTO report_changes (order_ids) \
                     SELECT array_agg(DISTINCT {column}) FROM ({source}) AS touched HAVING count(*) > 0; \
                   RETURN NULL; \
                 END $$"
            ));
            statements.push(format!("DROP TRIGGER IF EXISTS {name} ON {table}"));
            statements.push(format!(
                "CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} \
                 FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            ));
        }
    }
    statements
}

fn sqlite_statements() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE IF NOT EXISTS report_change_log (seq INTEGER PRIMARY KEY, order_id INTEGER)".to_owned(),
        // The floor of the numbering: compaction always keeps the newest row.
        "INSERT OR IGNORE INTO report_change_log (seq, order_id) VALUES (0, NULL)".to_owned(),
    ];
    for (table, column) in WATCHED {
        for event in ["INSERT", "UPDATE", "DELETE"] {
            let lower = event.to_lowercase();
            statements.push(format!("DROP TRIGGER IF EXISTS {table}_report_change_{lower}"));
            let touched = match event {
                "INSERT" => format!("VALUES (NEW.{column})"),
                "UPDATE" => format!("SELECT OLD.{column} UNION SELECT NEW.{column}"),
                _ => format!("VALUES (OLD.{column})"),
            };
            statements.push(format!(
                "CREATE TRIGGER {table}_report_log_{lower} AFTER {event} ON {table} \
                 BEGIN INSERT INTO report_change_log (order_id) {touched}; END"
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
