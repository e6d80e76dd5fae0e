//! Customers, their orders, contacts, feedback, carts and campaign exposures.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `CREATE INDEX` on `table(columns…)`, named after them.
fn index(table: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(format!("ix_{table}_{}", columns.join("_"))).table(Alias::new(table)).if_not_exists();
    for column in columns {
        statement.col(Alias::new(*column));
    }
    if unique {
        statement.unique();
    }
    statement.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("customers")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("external_id", 128))
                    .col(text("name"))
                    .col(text("email"))
                    .col(text("phone"))
                    .col(string_len("home_store_id", 128))
                    .col(string_len("region", 128))
                    .col(big_integer("create_time_us"))
                    .col(big_integer("update_time_us"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_tags")
                    .if_not_exists()
                    .col(big_integer("customer_id"))
                    .col(string_len("tag", 128))
                    .primary_key(Index::create().col("customer_id").col("tag"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("customer_tags", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("customer_tags", &["tag"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_attributes")
                    .if_not_exists()
                    .col(big_integer("customer_id"))
                    .col(string_len("name", 128))
                    // One of "string", "number", "bool", "date".
                    .col(string_len("kind", 8))
                    // Canonical text form, compared by filters.
                    .col(text("value"))
                    .primary_key(Index::create().col("customer_id").col("name"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("customer_attributes", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("customer_consents")
                    .if_not_exists()
                    .col(big_integer("customer_id"))
                    .col(small_integer("channel"))
                    .col(small_integer("state"))
                    .col(big_integer("update_time_us"))
                    .primary_key(Index::create().col("customer_id").col("channel"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("customer_consents", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("orders")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("external_id", 128))
                    // Null for anonymous and erased customers.
                    .col(big_integer_null("customer_id"))
                    .col(big_integer("place_time_us"))
                    .col(small_integer("channel"))
                    .col(string_len("store_id", 128))
                    .col(string_len("region", 128))
                    .col(string_len("currency_code", 3))
                    .col(small_integer("status"))
                    .col(big_integer("total_minor"))
                    .col(big_integer("units"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("orders", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("orders", &["customer_id", "place_time_us"], false)).await?;
        manager.create_index(index("orders", &["place_time_us"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("order_lines")
                    .if_not_exists()
                    .col(big_integer("order_id"))
                    .col(integer("line_number"))
                    .col(string_len("sku", 128))
                    .col(string_len("category", 128))
                    .col(big_integer("quantity"))
                    .col(big_integer("unit_price_minor"))
                    .col(big_integer("discount_minor"))
                    .col(big_integer_null("unit_cost_minor"))
                    .primary_key(Index::create().col("order_id").col("line_number"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("order_lines", "order_id")
                            .to("orders", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("order_lines", &["sku"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("support_contacts")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("external_id", 128))
                    .col(big_integer_null("customer_id"))
                    .col(small_integer("channel"))
                    .col(string_len("reason", 128))
                    .col(boolean("complaint"))
                    .col(big_integer("open_time_us"))
                    .col(big_integer_null("resolve_time_us"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("support_contacts", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("support_contacts", &["customer_id"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("feedback")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("external_id", 128))
                    .col(big_integer_null("customer_id"))
                    .col(small_integer_null("nps"))
                    .col(small_integer_null("csat"))
                    .col(text("comment"))
                    .col(string_len("touchpoint", 128))
                    .col(big_integer("submit_time_us"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("feedback", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("feedback", &["customer_id"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("cart_events")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("external_id", 128))
                    .col(string_len("cart_id", 128))
                    .col(big_integer_null("customer_id"))
                    .col(small_integer("event_type"))
                    .col(big_integer("event_time_us"))
                    .col(big_integer("value_minor"))
                    .col(string_len("currency_code", 3))
                    .col(string_len("order_external_id", 128))
                    .foreign_key(
                        ForeignKey::create()
                            .from("cart_events", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("cart_events", &["cart_id"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("campaign_exposures")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("external_id", 128))
                    .col(string_len("campaign_id", 128))
                    .col(string_len("variant", 128))
                    .col(big_integer("customer_id"))
                    .col(big_integer("expose_time_us"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("campaign_exposures", "customer_id")
                            .to("customers", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("campaign_exposures", &["campaign_id"], false)).await?;
        manager
            .create_table(
                Table::create()
                    .table("erasure_audit")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    // Keyed SHA-256 of the external id: proves an erasure without keeping the id.
                    .col(string_len("customer_id_hash", 64))
                    .col(string_len("erased_by", 128))
                    .col(text("reason"))
                    .col(big_integer("erase_time_us"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .if_not_exists()
                    .col(string_len("request_id", 128))
                    .col(string_len("method", 64))
                    // The resource the request created or changed; a retry returns its current state.
                    .col(string_len("resource_id", 128))
                    .col(big_integer("create_time_us"))
                    .primary_key(Index::create().col("request_id").col("method"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
