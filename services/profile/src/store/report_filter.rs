//! What a report covers: the filter as the request states it, as SQL
//! conditions on the event tables, and as a predicate on the order facts.

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, DbBackend, Value};

use super::order_facts::{ANONYMOUS, OrderFact, OrderFacts};
use super::sql::{self, int};

/// Restricts a report. Store, channel and region select orders (region: the
/// order's); tag and customers select customers, and so also feedback,
/// contacts and carts.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub store_id: Option<String>,
    pub channel: Option<crate::domain::order::SalesChannel>,
    pub region: Option<String>,
    pub tag: Option<String>,
    pub customer_ids: Option<Vec<String>>,
    pub currency_code: String,
}

impl ReportFilter {
    /// SQL conditions selecting rows whose `column` (an internal customer id)
    /// passes the customer filters. The customer ids are bound as one
    /// parameter, so a filter may list any number of them.
    pub fn customer_conditions(&self, backend: DbBackend, column: &str) -> (Vec<String>, Vec<Value>) {
        let mut conditions = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(tag) = &self.tag {
            conditions.push(format!("{column} IN (SELECT customer_id FROM customer_tags WHERE tag = ?)"));
            values.push(tag.clone().into());
        }
        if let Some(ids) = &self.customer_ids {
            conditions.push(format!(
                "{column} IN (SELECT id FROM customers WHERE external_id IN ({}))",
                sql::text_set(backend)
            ));
            values.push(sql::text_list(ids));
        }
        (conditions, values)
    }

    /// SQL conditions on feedback, contacts and carts: the customer filters,
    /// and the region as the customer's.
    pub fn event_conditions(&self, backend: DbBackend, column: &str) -> (String, Vec<Value>) {
        let (mut conditions, mut values) = self.customer_conditions(backend, column);
        if let Some(region) = &self.region {
            conditions.push(format!("{column} IN (SELECT id FROM customers WHERE region = ?)"));
            values.push(region.clone().into());
        }
        if conditions.is_empty() {
            conditions.push("1 = 1".to_owned());
        }
        (conditions.join(" AND "), values)
    }
}

/// A [`ReportFilter`] resolved against one set of order facts: `None` in a
/// field means "any"; a value no order carries selects nothing.
#[derive(Debug)]
pub struct OrderSelection {
    currency: Option<u32>,
    store: Option<Option<u32>>,
    channel: Option<i16>,
    region: Option<Option<u32>>,
    /// Per customer index: whether the customer passes the tag and id filters.
    customers: Option<Vec<bool>>,
}

impl OrderSelection {
    pub async fn resolve(
        db: &impl ConnectionTrait,
        facts: &OrderFacts,
        filter: &ReportFilter,
    ) -> Result<Self, ServiceError> {
        let (conditions, values) = filter.customer_conditions(db.get_database_backend(), "c.id");
        let customers = if conditions.is_empty() {
            None
        } else {
            let mut selected = vec![false; facts.customer_ids.len()];
            let rows =
                sql::query(db, &format!("SELECT c.id FROM customers c WHERE {}", conditions.join(" AND ")), values)
                    .await?;
            for row in &rows {
                let slot = facts.customer_index(int(row, "id")?).and_then(|index| selected.get_mut(index as usize));
                if let Some(slot) = slot {
                    *slot = true;
                }
            }
            Some(selected)
        };
        Ok(Self {
            currency: facts.currencies.find(&filter.currency_code),
            store: filter.store_id.as_deref().map(|store| facts.stores.find(store)),
            channel: filter.channel.map(|channel| channel as i16),
            region: filter.region.as_deref().map(|region| facts.regions.find(region)),
            customers,
        })
    }

    pub fn selects(&self, order: &OrderFact) -> bool {
        let customer_passes = match &self.customers {
            None => true,
            Some(selected) => order.customer != ANONYMOUS && selected.get(order.customer as usize) == Some(&true),
        };
        self.currency == Some(order.currency)
            && self.store.is_none_or(|store| store == Some(order.store))
            && self.channel.is_none_or(|channel| channel == order.channel)
            && self.region.is_none_or(|region| region == Some(order.region))
            && customer_passes
    }
}
