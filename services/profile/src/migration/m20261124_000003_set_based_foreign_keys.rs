//! PostgreSQL checks the two foreign keys a bulk import writes most
//! (`order_lines.order_id` → `orders`, `orders.customer_id` → `customers`)
//! once per statement instead of once per row.
//!
//! A declarative foreign key runs one lookup query per inserted row (about
//! 9 µs each): for a million imported lines that alone is several times the
//! cost of `COPY`ing them. Here each key is kept by statement-level triggers
//! with the same meaning:
//! - an insert or update of the referencing table locks every referenced row
//!   `FOR KEY SHARE` in one query (as the declarative check does row by row,
//!   so a concurrent delete of the parent waits or fails) and fails with
//!   SQLSTATE 23503 if any is missing;
//! - deleting an order deletes its lines (was `ON DELETE CASCADE`); deleting a
//!   customer leaves their orders anonymous (was `ON DELETE SET NULL`);
//! - a referenced id never changes, and truncating the referenced table alone
//!   fails while referencing rows remain.
//!
//! SQLite checks foreign keys in its engine, cheaply: it keeps the
//! declarative keys and this migration changes nothing there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A foreign key kept by triggers: `child.column` references `parent.id`.
struct Reference {
    child: &'static str,
    column: &'static str,
    parent: &'static str,
    /// What deleting a parent row does to the child rows that reference it.
    on_delete: &'static str,
}

const REFERENCES: [Reference; 2] = [
    Reference {
        child: "order_lines",
        column: "order_id",
        parent: "orders",
        on_delete: "DELETE FROM order_lines WHERE order_id = ANY(gone)",
    },
    Reference {
        child: "orders",
        column: "customer_id",
        parent: "customers",
        on_delete: "UPDATE orders SET customer_id = NULL WHERE customer_id = ANY(gone)",
    },
];

/// Drops the declarative key on `child.column` whatever PostgreSQL named it.
fn drop_declarative_key(reference: &Reference) -> String {
    let Reference { child, column, parent, .. } = reference;
    format!(
        "DO $$ DECLARE key_name name; BEGIN \
           FOR key_name IN SELECT c.conname FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) \
             WHERE c.contype = 'f' AND c.conrelid = '{child}'::regclass AND c.confrelid = '{parent}'::regclass \
               AND a.attname = '{column}' \
           LOOP EXECUTE format('ALTER TABLE {child} DROP CONSTRAINT %I', key_name); END LOOP; \
         END $$"
    )
}

fn reference_statements(reference: &Reference) -> Vec<String> {
    let Reference { child, column, parent, on_delete } = reference;
    let check = format!("patron_{child}_{column}_exists");
    let cascade = format!("patron_{parent}_delete_reaches_{child}");
    let truncated = format!("patron_{parent}_truncate_keeps_{child}");
    let mut statements = vec![
        drop_declarative_key(reference),
        // The referenced ids of the statement's rows, locked in one index scan.
        format!(
            "CREATE OR REPLACE FUNCTION {check}() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE wanted bigint[]; locked bigint; \
             BEGIN \
               SELECT array_agg(DISTINCT {column}) INTO wanted FROM written WHERE {column} IS NOT NULL; \
               IF wanted IS NULL THEN RETURN NULL; END IF; \
               SELECT count(*) INTO locked FROM (SELECT 1 FROM {parent} WHERE id = ANY(wanted) FOR KEY SHARE) AS present; \
               IF locked <> cardinality(wanted) THEN \
                 RAISE EXCEPTION 'insert or update on table \"{child}\" violates foreign key {column} -> {parent}.id' \
                   USING ERRCODE = 'foreign_key_violation'; \
               END IF; \
               RETURN NULL; \
             END $$"
        ),
    ];
    // A transition table may serve one event only: one trigger per event, one function for both.
    for event in ["INSERT", "UPDATE"] {
        let trigger = format!("{check}_{}", event.to_lowercase());
        statements.push(format!("DROP TRIGGER IF EXISTS {trigger} ON {child}"));
        statements.push(format!(
            "CREATE TRIGGER {trigger} AFTER {event} ON {child} REFERENCING NEW TABLE AS written \
             FOR EACH STATEMENT EXECUTE FUNCTION {check}()"
        ));
    }
    statements.extend([
        format!(
            "CREATE OR REPLACE FUNCTION {cascade}() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE gone bigint[]; \
             BEGIN \
               SELECT array_agg(id) INTO gone FROM deleted; \
               IF gone IS NOT NULL THEN {on_delete}; END IF; \
               RETURN NULL; \
             END $$"
        ),
        format!("DROP TRIGGER IF EXISTS {cascade} ON {parent}"),
        format!(
            "CREATE TRIGGER {cascade} AFTER DELETE ON {parent} REFERENCING OLD TABLE AS deleted \
             FOR EACH STATEMENT EXECUTE FUNCTION {cascade}()"
        ),
        // Fires after every table of the TRUNCATE is emptied, so truncating both together stays allowed.
        format!(
            "CREATE OR REPLACE FUNCTION {truncated}() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF EXISTS (SELECT 1 FROM {child} WHERE {column} IS NOT NULL) THEN \
                 RAISE EXCEPTION 'cannot truncate \"{parent}\": \"{child}\" still references it' \
                   USING ERRCODE = 'foreign_key_violation'; \
               END IF; \
               RETURN NULL; \
             END $$"
        ),
        format!("DROP TRIGGER IF EXISTS {truncated} ON {parent}"),
        format!(
            "CREATE TRIGGER {truncated} AFTER TRUNCATE ON {parent} FOR EACH STATEMENT EXECUTE FUNCTION {truncated}()"
        ),
        format!("DROP TRIGGER IF EXISTS {parent}_id_is_fixed ON {parent}"),
        format!(
            "CREATE TRIGGER {parent}_id_is_fixed BEFORE UPDATE OF id ON {parent} FOR EACH ROW \
             WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION patron_refuse_id_change()"
        ),
    ]);
    statements
}

fn postgres_statements() -> Vec<String> {
    let mut statements = vec![
        "CREATE OR REPLACE FUNCTION patron_refuse_id_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           RAISE EXCEPTION '%.id is referenced by a foreign key and cannot change', TG_TABLE_NAME \
             USING ERRCODE = 'foreign_key_violation'; \
         END $$"
            .to_owned(),
    ];
    statements.extend(REFERENCES.iter().flat_map(reference_statements));
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        for statement in postgres_statements() {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }
}
