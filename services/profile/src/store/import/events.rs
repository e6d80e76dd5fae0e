//! Set-based writes of imported support contacts, feedback, cart events and
//! campaign exposures: per batch, the customers they name are resolved at once
//! (bare records created for new ones), then the records are upserted by
//! external id in multi-row statements whose update fires only where a value
//! differs. What the upsert returns is what the batch wrote.
//!
//! A record repeated within one batch is written once, as its last row says;
//! its earlier rows share that row's outcome.

use std::collections::{HashMap, HashSet};

use patron_common::ServiceError;
use sea_orm::ConnectionTrait;

use super::keys::{customer_pk, ensure_customers, first_seen};
use super::{Counts, any_differs};
use crate::domain::events::{CampaignExposure, CartEvent, Feedback, Score, SupportContact};
use crate::domain::time::Micros;
use crate::store::row_source::{Column, NULL_INT, RowSource};
use crate::store::sql::{self, text};

/// One record kind's table and how its rows are keyed and linked to customers.
struct Table {
    name: &'static str,
    /// Columns that may be NULL, sent as [`NULL_INT`].
    nullable: &'static [&'static str],
}

pub async fn write_contacts(db: &impl ConnectionTrait, rows: &[SupportContact]) -> Result<Counts, ServiceError> {
    let kept = last_per_id(rows, |row| &row.contact_id);
    let customers = customer_ids(db, kept.iter().map(|row| (row.customer_id.as_deref(), row.open_time))).await?;
    let columns = vec![
        ("customer_id", customers),
        ("channel", Column::SmallInt(kept.iter().map(|row| row.channel as i16).collect())),
        ("reason", Column::Text(kept.iter().map(|row| row.reason.clone()).collect())),
        ("complaint", Column::Bool(kept.iter().map(|row| row.complaint).collect())),
        ("open_time_us", Column::BigInt(kept.iter().map(|row| row.open_time.0).collect())),
        (
            "resolve_time_us",
            Column::BigInt(kept.iter().map(|row| row.resolve_time.map_or(NULL_INT, |at| at.0)).collect()),
        ),
    ];
    let table = Table { name: "support_contacts", nullable: &["customer_id", "resolve_time_us"] };
    let changed = upsert(db, &table, kept.iter().map(|row| row.contact_id.clone()).collect(), columns).await?;
    Ok(count(rows, |row| &row.contact_id, &changed))
}

pub async fn write_feedback(db: &impl ConnectionTrait, rows: &[Feedback]) -> Result<Counts, ServiceError> {
    let kept = last_per_id(rows, |row| &row.feedback_id);
    let customers = customer_ids(db, kept.iter().map(|row| (row.customer_id.as_deref(), row.submit_time))).await?;
    let score = |row: &&Feedback, nps: bool| match (row.score, nps) {
        (Score::Nps(score), true) | (Score::Csat(score), false) => i64::from(score),
        _ => NULL_INT,
    };
    let columns = vec![
        ("customer_id", customers),
        ("nps", Column::BigInt(kept.iter().map(|row| score(row, true)).collect())),
        ("csat", Column::BigInt(kept.iter().map(|row| score(row, false)).collect())),
        ("comment", Column::Text(kept.iter().map(|row| row.comment.clone()).collect())),
        ("touchpoint", Column::Text(kept.iter().map(|row| row.touchpoint.clone()).collect())),
        ("submit_time_us", Column::BigInt(kept.iter().map(|row| row.submit_time.0).collect())),
    ];
    let table = Table { name: "feedback", nullable: &["customer_id", "nps", "csat"] };
    let changed = upsert(db, &table, kept.iter().map(|row| row.feedback_id.clone()).collect(), columns).await?;
    Ok(count(rows, |row| &row.feedback_id, &changed))
}

pub async fn write_cart_events(db: &impl ConnectionTrait, rows: &[CartEvent]) -> Result<Counts, ServiceError> {
    let kept = last_per_id(rows, |row| &row.event_id);
    let customers = customer_ids(db, kept.iter().map(|row| (row.customer_id.as_deref(), row.event_time))).await?;
    let columns = vec![
        ("customer_id", customers),
        ("cart_id", Column::Text(kept.iter().map(|row| row.cart_id.clone()).collect())),
        ("event_type", Column::SmallInt(kept.iter().map(|row| row.kind as i16).collect())),
        ("event_time_us", Column::BigInt(kept.iter().map(|row| row.event_time.0).collect())),
        ("value_minor", Column::BigInt(kept.iter().map(|row| row.value_minor).collect())),
        ("currency_code", Column::Text(kept.iter().map(|row| row.currency_code.clone()).collect())),
        ("order_external_id", Column::Text(kept.iter().map(|row| row.order_id.clone()).collect())),
    ];
    let table = Table { name: "cart_events", nullable: &["customer_id"] };
    let changed = upsert(db, &table, kept.iter().map(|row| row.event_id.clone()).collect(), columns).await?;
    Ok(count(rows, |row| &row.event_id, &changed))
}

pub async fn write_exposures(db: &impl ConnectionTrait, rows: &[CampaignExposure]) -> Result<Counts, ServiceError> {
    let kept = last_per_id(rows, |row| &row.exposure_id);
    let customers = customer_ids(db, kept.iter().map(|row| (Some(row.customer_id.as_str()), row.expose_time))).await?;
    let columns = vec![
        ("customer_id", customers),
        ("campaign_id", Column::Text(kept.iter().map(|row| row.campaign_id.clone()).collect())),
        ("variant", Column::Text(kept.iter().map(|row| row.variant.clone()).collect())),
        ("expose_time_us", Column::BigInt(kept.iter().map(|row| row.expose_time.0).collect())),
    ];
    let table = Table { name: "campaign_exposures", nullable: &[] };
    let changed = upsert(db, &table, kept.iter().map(|row| row.exposure_id.clone()).collect(), columns).await?;
    Ok(count(rows, |row| &row.exposure_id, &changed))
}

/// The last row per external id, in batch order.
fn last_per_id<T>(rows: &[T], id: impl Fn(&T) -> &String) -> Vec<&T> {
    let last: HashMap<&String, usize> = rows.iter().enumerate().map(|(index, row)| (id(row), index)).collect();
    rows.iter().enumerate().filter(|(index, row)| last.get(id(row)) == Some(index)).map(|(_, row)| row).collect()
}

/// The rows' customer row ids (creating bare customers as needed), [`NULL_INT`] where a row names none.
async fn customer_ids<'a>(
    db: &impl ConnectionTrait,
    sightings: impl Iterator<Item = (Option<&'a str>, Micros)> + Clone,
) -> Result<Column, ServiceError> {
    let ids = ensure_customers(db, first_seen(sightings.clone().filter_map(|(id, at)| Some((id?, at))))).await?;
    let pks = sightings.map(|(id, _)| id.map_or(Ok(NULL_INT), |id| customer_pk(&ids, id))).collect::<Result<_, _>>()?;
    Ok(Column::BigInt(pks))
}

/// Upserts one row per external id; returns the external ids inserted or changed.
async fn upsert(
    db: &impl ConnectionTrait,
    table: &Table,
    external_ids: Vec<String>,
    columns: Vec<(&'static str, Column)>,
) -> Result<HashSet<String>, ServiceError> {
    let backend = db.get_database_backend();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let selected: Vec<String> =
        names
            .iter()
            .map(|name| {
                if table.nullable.contains(name) {
                    format!("NULLIF(v.{name}, {NULL_INT})")
                } else {
                    format!("v.{name}")
                }
            })
            .collect();
    let set: Vec<String> = names.iter().map(|name| format!("{name} = excluded.{name}")).collect();
    let mut source_columns = vec![("external_id", Column::Text(external_ids))];
    source_columns.extend(columns);
    let mut changed = HashSet::new();
    for chunk in RowSource::new(source_columns).chunks(backend) {
        let statement = format!(
            "WITH {cte} INSERT INTO {table} (external_id, {names}) SELECT v.external_id, {selected} FROM v WHERE 1 = 1 \
             ON CONFLICT (external_id) DO UPDATE SET {set} WHERE {differs} RETURNING external_id",
            cte = chunk.cte,
            table = table.name,
            names = names.join(", "),
            selected = selected.join(", "),
            set = set.join(", "),
            differs = any_differs(backend, table.name, &names),
        );
        for row in sql::query(db, &statement, chunk.values).await? {
            changed.insert(text(&row, "external_id")?);
        }
    }
    Ok(changed)
}

fn count<T>(rows: &[T], id: impl Fn(&T) -> &String, changed: &HashSet<String>) -> Counts {
    let mut counts = Counts::default();
    for row in rows {
        counts.add(changed.contains(id(row)));
    }
    counts
}
