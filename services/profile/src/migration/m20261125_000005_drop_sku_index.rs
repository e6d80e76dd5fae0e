//! Drops the index on `order_lines.sku`: no query read through it (sales
//! series scan the window's orders and their lines), and it was the costliest
//! index to keep. SKUs arrive in no order, so every imported line inserted
//! into a random leaf page. Measured in psql, 1,000,000 lines inserted in
//! file order on PostgreSQL, triggers disabled: 5.8 and 8.8 s with the
//! index, 3.0 and 4.7 s without; the bench's import (`patron-bench --only
//! import`, 1,000,000 lines, three runs each) took 29.6-33.9 s with it and
//! 24.8-28.8 s without on PostgreSQL, 34.9-40.5 s and 19.7-23.4 s on SQLite.
//! A one-SKU series now filters by SKU but still scans the window (139 ms
//! p50 over 1,000,000 orders, `patron-bench --only reports`); if that must
//! be faster, bring back an index shaped for it (SKU with the order).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Index::drop().name("ix_order_lines_sku").table(Alias::new("order_lines")).if_exists().to_owned();
        manager.drop_index(drop).await
    }
}
