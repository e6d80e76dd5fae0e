//! Set-based writes of imported customer rows: the batch's stored customers
//! are read in a few queries, the rows are folded over them in memory (a
//! customer repeated in the batch sees its earlier row), and only what
//! differs is written, a handful of multi-row statements per batch.
//!
//! Import semantics: fields replace stored ones, tags are added (an import
//! never removes a tag), attributes and consents are set per key.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use patron_common::ServiceError;
use sea_orm::{ConnectionTrait, Value};

use super::customers;
use super::events::WriteOutcome;
use super::sql::{self, int, text, values_list};
use crate::domain::customer::{AttributeValue, Consent, ConsentChannel, Customer};
use crate::domain::time::Micros;

/// Rows per statement, well under SQLite's and PostgreSQL's bound-parameter limits.
const ROWS_PER_STATEMENT: usize = 500;

/// What the batch changes for one customer.
struct Planned {
    /// Row id; None until a new customer is inserted.
    id: Option<i64>,
    /// The customer as it will be after the batch.
    state: Customer,
    fields_changed: bool,
    tags_added: BTreeSet<String>,
    attributes_set: BTreeMap<String, AttributeValue>,
    consents_set: BTreeMap<ConsentChannel, Consent>,
}

/// Writes the rows (all valid) in the caller's transaction; one outcome per row, in order.
pub async fn write(db: &impl ConnectionTrait, rows: &[Customer]) -> Result<Vec<WriteOutcome>, ServiceError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let external_ids: Vec<String> =
        rows.iter().map(|row| row.customer_id.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut plans: HashMap<String, Planned> = customers::load_many(db, &external_ids)
        .await?
        .into_iter()
        .map(|(external_id, (id, state))| (external_id, Planned::stored(id, state)))
        .collect();
    let now = Micros::now();
    let outcomes = rows
        .iter()
        .map(|incoming| match plans.get_mut(&incoming.customer_id) {
            Some(plan) => plan.apply(incoming),
            None => {
                plans.insert(incoming.customer_id.clone(), Planned::new(incoming, now));
                WriteOutcome::Created
            }
        })
        .collect();

    let mut plans: Vec<Planned> = plans.into_values().filter(Planned::writes_anything).collect();
    plans.sort_by(|left, right| left.state.customer_id.cmp(&right.state.customer_id));
    insert_new(db, &mut plans, now).await?;
    update_fields(db, &plans, now).await?;
    insert_tags(db, &plans).await?;
    replace_attributes(db, &plans).await?;
    replace_consents(db, &plans).await?;
    Ok(outcomes)
}

impl Planned {
    fn stored(id: i64, state: Customer) -> Self {
        Self {
            id: Some(id),
            state,
            fields_changed: false,
            tags_added: BTreeSet::new(),
            attributes_set: BTreeMap::new(),
            consents_set: BTreeMap::new(),
        }
    }

    fn new(incoming: &Customer, now: Micros) -> Self {
        let mut state = incoming.clone();
        if state.create_time.0 == 0 {
            state.create_time = now;
        }
        Self {
            id: None,
            fields_changed: true,
            tags_added: incoming.tags.clone(),
            attributes_set: incoming.attributes.clone(),
            consents_set: incoming.consents.clone(),
            state,
        }
    }

    fn writes_anything(&self) -> bool {
        self.id.is_none()
            || self.fields_changed
            || !self.tags_added.is_empty()
            || !self.attributes_set.is_empty()
            || !self.consents_set.is_empty()
    }

    /// Folds one more row for this customer into the plan.
    fn apply(&mut self, incoming: &Customer) -> WriteOutcome {
        let state = &mut self.state;
        let mut changed = false;
        let same_fields = state.name == incoming.name
            && state.email == incoming.email
            && state.phone == incoming.phone
            && state.home_store_id == incoming.home_store_id
            && state.region == incoming.region;
        if !same_fields {
            state.name.clone_from(&incoming.name);
            state.email.clone_from(&incoming.email);
            state.phone.clone_from(&incoming.phone);
            state.home_store_id.clone_from(&incoming.home_store_id);
            state.region.clone_from(&incoming.region);
            self.fields_changed = true;
            changed = true;
        }
        for tag in incoming.tags.difference(&state.tags).cloned().collect::<Vec<_>>() {
            state.tags.insert(tag.clone());
            self.tags_added.insert(tag);
            changed = true;
        }
        for (name, value) in &incoming.attributes {
            if state.attributes.get(name) != Some(value) {
                state.attributes.insert(name.clone(), value.clone());
                self.attributes_set.insert(name.clone(), value.clone());
                changed = true;
            }
        }
        for (channel, consent) in &incoming.consents {
            if state.consents.get(channel).is_none_or(|current| current.state != consent.state) {
                state.consents.insert(*channel, *consent);
                self.consents_set.insert(*channel, *consent);
                changed = true;
            }
        }
        if changed { WriteOutcome::Updated } else { WriteOutcome::Unchanged }
    }

    fn id(&self) -> Result<i64, ServiceError> {
        self.id.ok_or_else(|| ServiceError::internal(format!("customer {} has no row id", self.state.customer_id)))
    }
}

async fn insert_new(db: &impl ConnectionTrait, plans: &mut [Planned], now: Micros) -> Result<(), ServiceError> {
    let mut new: Vec<&mut Planned> = plans.iter_mut().filter(|plan| plan.id.is_none()).collect();
    for chunk in new.chunks_mut(ROWS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(chunk.len() * 8);
        for plan in chunk.iter() {
            let state = &plan.state;
            values.extend([
                Value::from(state.customer_id.clone()),
                Value::from(state.name.clone()),
                Value::from(state.email.clone()),
                Value::from(state.phone.clone()),
                Value::from(state.home_store_id.clone()),
                Value::from(state.region.clone()),
                Value::from(state.create_time.0),
                Value::from(now.0),
            ]);
        }
        let statement = format!(
            "INSERT INTO customers (external_id, name, email, phone, home_store_id, region, create_time_us, \
             update_time_us) VALUES {} RETURNING id, external_id",
            values_list(chunk.len(), 8)
        );
        let mut ids = HashMap::with_capacity(chunk.len());
        for row in sql::query(db, &statement, values).await? {
            ids.insert(text(&row, "external_id")?, int(&row, "id")?);
        }
        for plan in chunk.iter_mut() {
            plan.id = ids.get(&plan.state.customer_id).copied();
            plan.fields_changed = false;
        }
    }
    Ok(())
}

async fn update_fields(db: &impl ConnectionTrait, plans: &[Planned], now: Micros) -> Result<(), ServiceError> {
    let changed: Vec<&Planned> = plans.iter().filter(|plan| plan.fields_changed).collect();
    for chunk in changed.chunks(ROWS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(chunk.len() * 6);
        for plan in chunk {
            let state = &plan.state;
            values.extend([
                Value::from(plan.id()?),
                Value::from(state.name.clone()),
                Value::from(state.email.clone()),
                Value::from(state.phone.clone()),
                Value::from(state.home_store_id.clone()),
                Value::from(state.region.clone()),
            ]);
        }
        values.push(Value::from(now.0));
        let statement = format!(
            "WITH v(id, name, email, phone, home_store_id, region) AS (VALUES {}) \
             UPDATE customers SET name = v.name, email = v.email, phone = v.phone, \
             home_store_id = v.home_store_id, region = v.region, update_time_us = ? \
             FROM v WHERE customers.id = v.id",
            values_list(chunk.len(), 6)
        );
        sql::execute(db, &statement, values).await?;
    }
    Ok(())
}

async fn insert_tags(db: &impl ConnectionTrait, plans: &[Planned]) -> Result<(), ServiceError> {
    let mut tags = Vec::new();
    for plan in plans {
        let id = plan.id()?;
        tags.extend(plan.tags_added.iter().map(|tag| (id, tag)));
    }
    for chunk in tags.chunks(ROWS_PER_STATEMENT) {
        let values = chunk.iter().flat_map(|(id, tag)| [Value::from(*id), Value::from((*tag).clone())]).collect();
        let statement = format!(
            "INSERT INTO customer_tags (customer_id, tag) VALUES {} ON CONFLICT DO NOTHING",
            values_list(chunk.len(), 2)
        );
        sql::execute(db, &statement, values).await?;
    }
    Ok(())
}

async fn replace_attributes(db: &impl ConnectionTrait, plans: &[Planned]) -> Result<(), ServiceError> {
    let mut attributes = Vec::new();
    for plan in plans {
        let id = plan.id()?;
        attributes.extend(plan.attributes_set.iter().map(|(name, value)| (id, name, value.to_stored())));
    }
    for chunk in attributes.chunks(ROWS_PER_STATEMENT) {
        let keys = chunk.iter().flat_map(|(id, name, _)| [Value::from(*id), Value::from((*name).clone())]).collect();
        let delete = format!(
            "DELETE FROM customer_attributes WHERE (customer_id, name) IN (VALUES {})",
            values_list(chunk.len(), 2)
        );
        sql::execute(db, &delete, keys).await?;
        let values = chunk
            .iter()
            .flat_map(|(id, name, (kind, value))| {
                [Value::from(*id), Value::from((*name).clone()), Value::from(*kind), Value::from(value.clone())]
            })
            .collect();
        let insert = format!(
            "INSERT INTO customer_attributes (customer_id, name, kind, value) VALUES {}",
            values_list(chunk.len(), 4)
        );
        sql::execute(db, &insert, values).await?;
    }
    Ok(())
}

async fn replace_consents(db: &impl ConnectionTrait, plans: &[Planned]) -> Result<(), ServiceError> {
    let mut consents = Vec::new();
    for plan in plans {
        let id = plan.id()?;
        consents.extend(plan.consents_set.iter().map(|(channel, consent)| (id, *channel as i16, *consent)));
    }
    for chunk in consents.chunks(ROWS_PER_STATEMENT) {
        let keys = chunk.iter().flat_map(|(id, channel, _)| [Value::from(*id), Value::from(*channel)]).collect();
        let delete = format!(
            "DELETE FROM customer_consents WHERE (customer_id, channel) IN (VALUES {})",
            values_list(chunk.len(), 2)
        );
        sql::execute(db, &delete, keys).await?;
        let values = chunk
            .iter()
            .flat_map(|(id, channel, consent)| {
                [
                    Value::from(*id),
                    Value::from(*channel),
                    Value::from(consent.state as i16),
                    Value::from(consent.update_time.0),
                ]
            })
            .collect();
        let insert = format!(
            "INSERT INTO customer_consents (customer_id, channel, state, update_time_us) VALUES {}",
            values_list(chunk.len(), 4)
        );
        sql::execute(db, &insert, values).await?;
    }
    Ok(())
}
