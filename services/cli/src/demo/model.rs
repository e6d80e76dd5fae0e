//! The demo's customers and what they do, simulated day by day.
//!
//! Each customer follows the BG/NBD story, made retail-shaped:
//! - a personal purchase rate λ ~ Gamma(r, 1/α) per day, multiplied each day
//!   by the calendar (weekday, month, promotion days) and, for the treatment
//!   half of the A/B campaign (an email to recent buyers), by a lift for two
//!   weeks;
//! - after every order the customer leaves for good with a personal
//!   probability p ~ Beta(a, b), raised by each complaint so far and by low
//!   satisfaction (the same latent satisfaction that yields poor NPS and
//!   CSAT answers), so unhappy customers drop out faster;
//! - order value ~ Gamma around the customer's own mean, which is itself
//!   Gamma-distributed across customers (the Gamma-Gamma spend model); the
//!   basket is filled with SKUs of the customer's favourite category or by
//!   overall Zipf popularity until it reaches that value.
//!
//! Orders bring support contacts (complaints among them) and survey answers;
//! web and app orders come from converted carts, and online-leaning
//! customers abandon many more carts than they convert. Some sign-ups never
//! buy. Everything happens in [start, end) of the configured window, in UTC.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use patron_proto::profile::v1::{CartEventType, ContactChannel, OrderStatus, SalesChannel, feedback::Score};
use rand::{RngExt, SeedableRng};
use rand_distr::{Beta, Distribution, Exp1, Gamma, StandardNormal};

use super::calendar::{self, Promotion};
use super::catalog::{Catalog, MARKETPLACE_STORE, ONLINE_STORE};
use super::people;
use super::records::{Answer, Cart, CartStep, Contact, Customer, Dataset, DemoConfig, Exposure, Line, Order, Truth};
use super::{Rng, weighted_index};

/// Purchase rate λ ~ Gamma(shape r, scale 1/α), per day: a mean of 0.012
/// (about 4.4 orders a year) with a long tail of frequent shoppers.
const PURCHASE_RATE_SHAPE: f64 = 0.8;
const PURCHASE_RATE_SCALE: f64 = 0.015;
/// Dropout probability after each order p ~ Beta(a, b), mean 0.17.
const DROPOUT_A: f64 = 1.2;
const DROPOUT_B: f64 = 6.0;
/// Each complaint so far multiplies p (counted up to three times).
const COMPLAINT_DROPOUT_FACTOR: f64 = 2.5;
/// p is multiplied by exp(-this × satisfaction), satisfaction ~ N(0, 1).
const SATISFACTION_DROPOUT_WEIGHT: f64 = 0.35;
const MAX_DROPOUT: f64 = 0.95;
/// A customer's mean order value in cents ~ Gamma(shape, scale): mean $50.
const MEAN_SPEND_SHAPE: f64 = 2.5;
const MEAN_SPEND_SCALE: f64 = 2000.0;
/// Each order's value ~ Gamma(shape, mean / shape) around the customer's mean.
const ORDER_SPEND_SHAPE: f64 = 4.0;
const MAX_LINES: usize = 8;
/// Sign-ups who never buy.
const NON_BUYER_SHARE: f64 = 0.1;
/// Abandoned carts per purchase opportunity of a fully online customer.
const ABANDONED_CART_RATE: f64 = 1.5;
/// The A/B campaign emails a share of the customers with email consent who
/// bought recently; the treatment multiplies the purchase rate for a while.
const EXPOSED_SHARE: f64 = 0.8;
const RECENT_BUYER_DAYS: i64 = 180;
const TREATMENT_LIFT: f64 = 2.0;
const CAMPAIGN_DAYS: usize = 14;
const CONTROL: &str = "control";
const TREATMENT: &str = "treatment";

const CHANNELS: [SalesChannel; 4] =
    [SalesChannel::Store, SalesChannel::Web, SalesChannel::App, SalesChannel::Marketplace];
const CHANNEL_WEIGHTS: [f64; 4] = [0.5, 0.3, 0.15, 0.05];
/// Order hours (UTC) in stores (9:00-20:59) and online (any time, evenings busiest).
const STORE_HOUR_WEIGHTS: [f64; 12] = [3.0, 5.0, 7.0, 9.0, 9.0, 8.0, 7.0, 7.0, 8.0, 9.0, 7.0, 4.0];
const ONLINE_HOUR_WEIGHTS: [f64; 24] = [
    2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0, 6.0, 6.0, 6.0, 6.0, 7.0, 8.0, 10.0, 11.0, 10.0,
    7.0, 4.0,
];

/// Generates the whole data set; the same config always gives the same data.
pub fn generate(config: &DemoConfig) -> anyhow::Result<Dataset> {
    let mut rng = Rng::seed_from_u64(config.seed);
    let catalog = Catalog::generate(&mut rng)?;
    let mut simulation = Simulation::new(config, catalog, rng)?;
    for (index, created_at) in simulation.sign_up_times(config.customers).into_iter().enumerate() {
        simulation.customer(index, created_at);
    }
    Ok(simulation.finish())
}

/// Per-customer traits drawn once.
struct Traits {
    buyer: bool,
    purchase_rate: f64,
    dropout_probability: f64,
    satisfaction: f64,
    mean_spend: f64,
    channel: SalesChannel,
    online_affinity: f64,
    favourite_category: usize,
    home_store: usize,
    region: &'static str,
    email_consent: bool,
}

/// What changes as a customer lives.
struct Life {
    created_at: DateTime<Utc>,
    alive: bool,
    last_order_at: Option<DateTime<Utc>>,
}

struct Distributions {
    purchase_rate: Gamma<f64>,
    dropout: Beta<f64>,
    mean_spend: Gamma<f64>,
    /// Mean 1: scaled by the customer's mean spend.
    order_spend: Gamma<f64>,
}

struct Simulation {
    rng: Rng,
    catalog: Catalog,
    distributions: Distributions,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Per day of the window: its date and purchase-rate multiplier.
    days: Vec<(NaiveDate, f64)>,
    campaign_day: usize,
    campaign_id: String,
    customers: Vec<Customer>,
    orders: Vec<Order>,
    contacts: Vec<Contact>,
    answers: Vec<Answer>,
    carts: Vec<Cart>,
    exposures: Vec<Exposure>,
}

fn distribution_error(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("demo model parameters: {error}")
}

impl Simulation {
    fn new(config: &DemoConfig, catalog: Catalog, rng: Rng) -> anyhow::Result<Self> {
        let days = u64::from(config.days);
        let first_day = config
            .end
            .checked_sub_days(Days::new(days))
            .ok_or_else(|| anyhow::anyhow!("--days reaches too far back"))?;
        let days: Vec<(NaiveDate, f64)> = first_day
            .iter_days()
            .take_while(|date| *date < config.end)
            .map(|date| (date, calendar::seasonality(date)))
            .collect();
        // Late in the window, so its effect is visible but complete.
        let campaign_day = days.len().saturating_sub((days.len() / 4).clamp(1, 45));
        let campaign_date = days.get(campaign_day).map_or(first_day, |(date, _)| *date);
        let distributions = Distributions {
            purchase_rate: Gamma::new(PURCHASE_RATE_SHAPE, PURCHASE_RATE_SCALE).map_err(distribution_error)?,
            dropout: Beta::new(DROPOUT_A, DROPOUT_B).map_err(distribution_error)?,
            mean_spend: Gamma::new(MEAN_SPEND_SHAPE, MEAN_SPEND_SCALE).map_err(distribution_error)?,
            order_spend: Gamma::new(ORDER_SPEND_SHAPE, 1.0 / ORDER_SPEND_SHAPE).map_err(distribution_error)?,
        };
        Ok(Self {
            rng,
            catalog,
            distributions,
            start: first_day.and_time(chrono::NaiveTime::MIN).and_utc(),
            end: config.end.and_time(chrono::NaiveTime::MIN).and_utc(),
            days,
            campaign_day,
            campaign_id: format!("email-{}", campaign_date.format("%Y-%m-%d")),
            customers: Vec::with_capacity(config.customers),
            orders: Vec::new(),
            contacts: Vec::new(),
            answers: Vec::new(),
            carts: Vec::new(),
            exposures: Vec::new(),
        })
    }

    /// Sign-ups over the window, following the same calendar as purchases
    /// (people join when they shop), earliest first so that customer numbers
    /// grow with sign-up time.
    fn sign_up_times(&mut self, count: usize) -> Vec<DateTime<Utc>> {
        let cumulative: Vec<f64> = self
            .days
            .iter()
            .scan(0.0, |total, (_, seasonality)| {
                *total += seasonality;
                Some(*total)
            })
            .collect();
        let total = cumulative.last().copied().unwrap_or(0.0);
        let mut times: Vec<DateTime<Utc>> = (0..count)
            .map(|_| {
                let point = self.rng.random::<f64>() * total;
                let day = cumulative.partition_point(|&until| until <= point).min(self.days.len().saturating_sub(1));
                let (date, _) = self.days.get(day).copied().unwrap_or((self.start.date_naive(), 1.0));
                self.time_on(date, SalesChannel::Web)
            })
            .collect();
        times.sort();
        times
    }

    fn draw_traits(&mut self) -> Traits {
        let rng = &mut self.rng;
        let channel = CHANNELS[weighted_index(&CHANNEL_WEIGHTS, rng)];
        let home_store = self.catalog.store(rng);
        Traits {
            buyer: !rng.random_bool(NON_BUYER_SHARE),
            purchase_rate: self.distributions.purchase_rate.sample(rng),
            dropout_probability: self.distributions.dropout.sample(rng),
            satisfaction: rng.sample(StandardNormal),
            mean_spend: self.distributions.mean_spend.sample(rng),
            channel,
            online_affinity: match channel {
                SalesChannel::Web | SalesChannel::App => 1.0,
                SalesChannel::Marketplace => 0.3,
                _ => 0.25,
            },
            favourite_category: rng.random_range(0..self.catalog.category_count()),
            home_store,
            region: self.catalog.stores[home_store].region,
            email_consent: rng.random_bool(0.65),
        }
    }

    fn customer(&mut self, index: usize, created_at: DateTime<Utc>) {
        let traits = self.draw_traits();
        let record = self.customer_record(index, created_at, &traits);
        self.customers.push(record);
        let mut life = Life { created_at, alive: true, last_order_at: None };
        let mut variant = None;

        let first_day = usize::try_from((created_at - self.start).num_days()).unwrap_or(0);
        if traits.buyer {
            // The first purchase follows the sign-up within the hour.
            let placed_at = created_at + TimeDelta::minutes(self.rng.random_range(2..60));
            if placed_at < self.end {
                self.order(index, &traits, &mut life, placed_at);
            }
        }
        for day in first_day + 1..self.days.len() {
            // The retailer cannot tell who has left: a customer who dropped
            // out before the campaign may still be emailed.
            if day == self.campaign_day || (!life.alive && day < self.campaign_day) {
                variant = self.expose(index, &traits, &life);
            }
            if !life.alive {
                break;
            }
            let (date, seasonality) = self.days[day];
            let campaign = day >= self.campaign_day && day < self.campaign_day + CAMPAIGN_DAYS;
            let lift = if campaign && variant == Some(TREATMENT) { TREATMENT_LIFT } else { 1.0 };
            let rate = traits.purchase_rate * seasonality * lift;
            if traits.buyer && self.happens(rate) {
                let placed_at = self.time_on(date, traits.channel);
                self.order(index, &traits, &mut life, placed_at);
            }
            if life.alive && self.happens(rate * ABANDONED_CART_RATE * traits.online_affinity) {
                let at = self.time_on(date, SalesChannel::Web);
                self.abandoned_cart(index, at);
            }
        }
    }

    /// True with the probability of at least one event of a Poisson process
    /// with this daily rate.
    fn happens(&mut self, rate: f64) -> bool {
        self.rng.random::<f64>() < 1.0 - (-rate).exp()
    }

    fn customer_record(&mut self, index: usize, created_at: DateTime<Utc>, traits: &Traits) -> Customer {
        let rng = &mut self.rng;
        let person = people::person(index + 1, rng);
        let app_user = traits.channel == SalesChannel::App || rng.random_bool(0.2);
        let mut tags = Vec::new();
        let candidates = [
            ("loyalty", rng.random_bool(0.45)),
            // Spends over 2.2 times the average customer's mean order value.
            ("vip", traits.mean_spend > 2.2 * MEAN_SPEND_SHAPE * MEAN_SPEND_SCALE),
            ("online-first", matches!(traits.channel, SalesChannel::Web | SalesChannel::App)),
            ("app-user", app_user),
            ("student", rng.random_bool(0.08)),
            ("b2b", rng.random_bool(0.03)),
        ];
        tags.extend(candidates.iter().filter(|(_, has)| *has).map(|(tag, _)| *tag));
        let mut consents = vec![("email", if traits.email_consent { "granted" } else { "denied" })];
        consents.push(("sms", if rng.random_bool(0.3) { "granted" } else { "denied" }));
        if rng.random_bool(0.1) {
            consents.push(("phone", "granted"));
        }
        if app_user {
            consents.push(("push", if rng.random_bool(0.7) { "granted" } else { "revoked" }));
        }
        Customer {
            id: format!("cus-{:06}", index + 1),
            name: person.name,
            email: person.email,
            phone: person.phone,
            home_store: traits.home_store,
            region: traits.region,
            tags,
            consents,
            created_at,
            truth: Truth {
                purchase_rate: traits.purchase_rate,
                dropout_probability: traits.dropout_probability,
                satisfaction: traits.satisfaction,
                complaints: 0,
                first_complaint_at: None,
                dropped_out_at: None,
            },
        }
    }

    /// Exposes a share of the recent buyers with email consent, half to each
    /// variant.
    fn expose(&mut self, customer: usize, traits: &Traits, life: &Life) -> Option<&'static str> {
        let (date, _) = *self.days.get(self.campaign_day)?;
        let exposed_at = date.and_hms_opt(10, 0, 0)?.and_utc() + TimeDelta::seconds(self.rng.random_range(0..4 * 3600));
        let recent = life
            .last_order_at
            .is_some_and(|at| at < exposed_at && exposed_at - at < TimeDelta::days(RECENT_BUYER_DAYS));
        if !recent || !traits.email_consent || !self.rng.random_bool(EXPOSED_SHARE) {
            return None;
        }
        let variant = if self.rng.random_bool(0.5) { TREATMENT } else { CONTROL };
        self.exposures.push(Exposure { id: String::new(), customer, variant, exposed_at });
        Some(variant)
    }

    /// A time on `date` when customers of this channel shop.
    fn time_on(&mut self, date: NaiveDate, channel: SalesChannel) -> DateTime<Utc> {
        let hour = match channel {
            SalesChannel::Store => 9 + weighted_index(&STORE_HOUR_WEIGHTS, &mut self.rng),
            _ => weighted_index(&ONLINE_HOUR_WEIGHTS, &mut self.rng),
        };
        let seconds = hour as i64 * 3600 + self.rng.random_range(0..3600);
        date.and_time(chrono::NaiveTime::MIN).and_utc() + TimeDelta::seconds(seconds)
    }

    fn order(&mut self, customer: usize, traits: &Traits, life: &mut Life, placed_at: DateTime<Utc>) {
        let channel = if self.rng.random_bool(0.7) {
            traits.channel
        } else {
            CHANNELS[weighted_index(&CHANNEL_WEIGHTS, &mut self.rng)]
        };
        let (store_id, region) = match channel {
            SalesChannel::Store => {
                let store =
                    if self.rng.random_bool(0.8) { traits.home_store } else { self.catalog.store(&mut self.rng) };
                (self.catalog.stores[store].id, self.catalog.stores[store].region)
            }
            SalesChannel::Marketplace => (MARKETPLACE_STORE, traits.region),
            _ => (ONLINE_STORE, traits.region),
        };
        let lines = self.basket(traits, calendar::promotion(placed_at.date_naive()));
        let roll: f64 = self.rng.random();
        let status = match roll {
            roll if roll < 0.05 => OrderStatus::Returned,
            roll if roll < 0.07 => OrderStatus::Cancelled,
            _ => OrderStatus::Completed,
        };
        let complaint = self.contact_after(customer, traits, channel, status, placed_at);
        let truth = &mut self.customers[customer].truth;
        if complaint {
            truth.complaints += 1;
            truth.first_complaint_at.get_or_insert(placed_at);
        }
        let complaints = truth.complaints;
        if status != OrderStatus::Cancelled {
            self.survey_after(customer, traits, channel, status, complaint, placed_at);
        }
        life.last_order_at = Some(placed_at);
        let index = self.orders.len();
        let order = Order { id: String::new(), customer, placed_at, channel, store_id, region, status, lines };
        if matches!(channel, SalesChannel::Web | SalesChannel::App) {
            self.converted_cart(customer, index, order.total_minor(), life.created_at, placed_at);
        }
        self.orders.push(order);

        let dropout = traits.dropout_probability
            * COMPLAINT_DROPOUT_FACTOR.powi(complaints.min(3) as i32)
            * (-SATISFACTION_DROPOUT_WEIGHT * traits.satisfaction).exp();
        if self.rng.random_bool(dropout.clamp(0.0, MAX_DROPOUT)) {
            life.alive = false;
            self.customers[customer].truth.dropped_out_at = Some(placed_at);
        }
    }

    /// Lines until the order reaches the value this customer spends this time.
    fn basket(&mut self, traits: &Traits, promotion: Option<Promotion>) -> Vec<Line> {
        let target = traits.mean_spend * self.distributions.order_spend.sample(&mut self.rng);
        let mut lines: Vec<Line> = Vec::new();
        let mut gross = 0;
        while lines.len() < MAX_LINES && (lines.is_empty() || (gross as f64) < target) {
            let sku = if self.rng.random_bool(0.5) {
                self.catalog.sku_in_category(traits.favourite_category, &mut self.rng)
            } else {
                self.catalog.popular_sku(&mut self.rng)
            };
            let quantity = [1, 2, 3][weighted_index(&[0.78, 0.16, 0.06], &mut self.rng)];
            let item = &self.catalog.skus[sku];
            gross += item.unit_price_minor * quantity;
            match lines.iter_mut().find(|line| line.sku == sku) {
                Some(line) => line.quantity += quantity,
                None => lines.push(Line {
                    sku,
                    quantity,
                    unit_price_minor: item.unit_price_minor,
                    discount_minor: 0,
                    unit_cost_minor: item.unit_cost_minor,
                }),
            }
        }
        // Promotions take their percentage off every line; otherwise a few
        // orders use a 10% coupon.
        let percent = match promotion {
            Some(promotion) => promotion.discount_percent,
            None if self.rng.random_bool(0.08) => 10,
            None => 0,
        };
        for line in &mut lines {
            line.discount_minor = line.quantity * line.unit_price_minor * percent / 100;
        }
        lines
    }

    /// Maybe a support contact about the order; returns whether the customer
    /// complained (even when the contact falls after the window).
    fn contact_after(
        &mut self,
        customer: usize,
        traits: &Traits,
        channel: SalesChannel,
        status: OrderStatus,
        placed_at: DateTime<Utc>,
    ) -> bool {
        let in_store = channel == SalesChannel::Store;
        // (reason, weight, chance that the contact is a complaint)
        let (probability, reasons): (f64, &[(&'static str, f64, f64)]) = match status {
            OrderStatus::Returned => (0.6, &[("return_request", 0.6, 0.25), ("damaged_item", 0.4, 0.9)]),
            OrderStatus::Cancelled => (0.35, &[("cancellation", 1.0, 0.4)]),
            _ if in_store => {
                (0.04, &[("product_question", 0.45, 0.05), ("billing", 0.2, 0.5), ("loyalty_points", 0.35, 0.2)])
            }
            _ => (
                0.08,
                &[
                    ("late_delivery", 0.35, 0.75),
                    ("wrong_item", 0.15, 0.85),
                    ("product_question", 0.25, 0.05),
                    ("billing", 0.1, 0.5),
                    ("account", 0.15, 0.1),
                ],
            ),
        };
        // Unhappy customers get in touch more often.
        let probability = (probability * (-0.3 * traits.satisfaction).exp()).min(1.0);
        if !self.rng.random_bool(probability) {
            return false;
        }
        let weights: Vec<f64> = reasons.iter().map(|(_, weight, _)| *weight).collect();
        let (reason, _, complaint_chance) = reasons[weighted_index(&weights, &mut self.rng)];
        let complaint = self.rng.random_bool(complaint_chance);
        let contact_channel = if in_store {
            [
                ContactChannel::InStore,
                ContactChannel::Phone,
                ContactChannel::Email,
                ContactChannel::Chat,
                ContactChannel::Social,
            ][weighted_index(&[0.4, 0.25, 0.2, 0.1, 0.05], &mut self.rng)]
        } else {
            [ContactChannel::Email, ContactChannel::Chat, ContactChannel::Phone, ContactChannel::Social]
                [weighted_index(&[0.35, 0.3, 0.2, 0.15], &mut self.rng)]
        };
        let opened_at = placed_at + self.hours(1.0, 48.0);
        let resolution_hours = if complaint { 36.0 } else { 12.0 };
        let resolved_at = Some(opened_at + self.hours(0.2, resolution_hours)).filter(|_| self.rng.random_bool(0.9));
        if opened_at < self.end {
            let resolved_at = resolved_at.filter(|at| *at < self.end);
            self.contacts.push(Contact {
                id: String::new(),
                customer,
                channel: contact_channel,
                reason,
                complaint,
                opened_at,
                resolved_at,
            });
            if let Some(resolved_at) = resolved_at
                && self.rng.random_bool(0.35)
            {
                let csat = 4.3 + 0.5 * traits.satisfaction - if complaint { 1.4 } else { 0.0 } + self.noise(0.8);
                let submitted_at = resolved_at + self.hours(0.5, 24.0);
                self.answer(customer, Score::Csat(csat.round().clamp(1.0, 5.0) as i32), "support_survey", submitted_at);
            }
        }
        complaint
    }

    /// Maybe an NPS answer a few days after the order.
    fn survey_after(
        &mut self,
        customer: usize,
        traits: &Traits,
        channel: SalesChannel,
        status: OrderStatus,
        complaint: bool,
        placed_at: DateTime<Utc>,
    ) {
        if !self.rng.random_bool(0.12) {
            return;
        }
        let returned = if status == OrderStatus::Returned { 1.0 } else { 0.0 };
        let complained = if complaint { 3.0 } else { 0.0 };
        let nps = 8.2 + 1.3 * traits.satisfaction - complained - returned + self.noise(1.3);
        let touchpoint = if channel == SalesChannel::Store { "receipt_survey" } else { "post_purchase_email" };
        let submitted_at = placed_at + self.hours(24.0, 72.0);
        self.answer(customer, Score::Nps(nps.round().clamp(0.0, 10.0) as i32), touchpoint, submitted_at);
    }

    fn answer(&mut self, customer: usize, score: Score, touchpoint: &'static str, submitted_at: DateTime<Utc>) {
        if submitted_at >= self.end {
            return;
        }
        let comment = if self.rng.random_bool(0.4) { comment_for(score, &mut self.rng) } else { "" };
        self.answers.push(Answer { id: String::new(), customer, score, comment, touchpoint, submitted_at });
    }

    /// The cart a web or app order came from.
    fn converted_cart(
        &mut self,
        customer: usize,
        order: usize,
        total_minor: i64,
        signed_up: DateTime<Utc>,
        placed_at: DateTime<Utc>,
    ) {
        let created_at = (placed_at - TimeDelta::minutes(self.rng.random_range(5..90))).max(signed_up);
        let first_value = (total_minor as f64 * self.rng.random_range(0.4..1.0)).round() as i64;
        let mut events =
            vec![CartStep { kind: CartEventType::Created, at: created_at, value_minor: first_value, order: None }];
        if self.rng.random_bool(0.4) {
            let at = created_at + (placed_at - created_at) / 2;
            events.push(CartStep { kind: CartEventType::Updated, at, value_minor: total_minor, order: None });
        }
        events.push(CartStep {
            kind: CartEventType::Converted,
            at: placed_at,
            value_minor: total_minor,
            order: Some(order),
        });
        self.carts.push(Cart { id: String::new(), customer, events });
    }

    /// A cart left without buying: one to three items, sometimes one more added.
    fn abandoned_cart(&mut self, customer: usize, created_at: DateTime<Utc>) {
        let items = self.rng.random_range(1..=3);
        let mut value: i64 =
            (0..items).map(|_| self.catalog.skus[self.catalog.popular_sku(&mut self.rng)].unit_price_minor).sum();
        let mut events =
            vec![CartStep { kind: CartEventType::Created, at: created_at, value_minor: value, order: None }];
        let updated_at = created_at + TimeDelta::minutes(self.rng.random_range(2..40));
        if self.rng.random_bool(0.5) && updated_at < self.end {
            value += self.catalog.skus[self.catalog.popular_sku(&mut self.rng)].unit_price_minor;
            events.push(CartStep { kind: CartEventType::Updated, at: updated_at, value_minor: value, order: None });
        }
        self.carts.push(Cart { id: String::new(), customer, events });
    }

    /// A delay of at least `minimum` hours, exponential with the given mean beyond it.
    fn hours(&mut self, minimum: f64, mean: f64) -> TimeDelta {
        let extra: f64 = self.rng.sample(Exp1);
        TimeDelta::seconds(((minimum + extra * mean) * 3600.0) as i64)
    }

    fn noise(&mut self, deviation: f64) -> f64 {
        self.rng.sample::<f64, _>(StandardNormal) * deviation
    }

    /// Puts every record in time order and numbers it.
    fn finish(mut self) -> Dataset {
        // Orders by time; carts keep pointing at the same orders.
        let mut order_of: Vec<usize> = (0..self.orders.len()).collect();
        order_of.sort_by_key(|&index| (self.orders[index].placed_at, self.orders[index].customer, index));
        let mut position_of = vec![0; order_of.len()];
        for (position, &index) in order_of.iter().enumerate() {
            position_of[index] = position;
        }
        let mut slots: Vec<Option<Order>> = self.orders.into_iter().map(Some).collect();
        let mut orders: Vec<Order> = order_of.iter().filter_map(|&index| slots[index].take()).collect();
        for (position, order) in orders.iter_mut().enumerate() {
            order.id = format!("ord-{:08}", position + 1);
        }
        for step in self.carts.iter_mut().flat_map(|cart| cart.events.iter_mut()) {
            step.order = step.order.map(|index| position_of[index]);
        }
        self.contacts.sort_by_key(|contact| (contact.opened_at, contact.customer));
        for (position, contact) in self.contacts.iter_mut().enumerate() {
            contact.id = format!("con-{:07}", position + 1);
        }
        self.answers.sort_by_key(|answer| (answer.submitted_at, answer.customer));
        for (position, answer) in self.answers.iter_mut().enumerate() {
            answer.id = format!("fbk-{:07}", position + 1);
        }
        self.carts.sort_by_key(|cart| (cart.events.first().map(|step| step.at), cart.customer));
        for (position, cart) in self.carts.iter_mut().enumerate() {
            cart.id = format!("cart-{:07}", position + 1);
        }
        self.exposures.sort_by_key(|exposure| (exposure.exposed_at, exposure.customer));
        for (position, exposure) in self.exposures.iter_mut().enumerate() {
            exposure.id = format!("exp-{:06}", position + 1);
        }
        orders.shrink_to_fit();
        Dataset {
            catalog: self.catalog,
            customers: self.customers,
            orders,
            contacts: self.contacts,
            answers: self.answers,
            carts: self.carts,
            campaign_id: self.campaign_id,
            exposures: self.exposures,
        }
    }
}

/// A free-text comment in keeping with the score (some with commas and
/// quotes, as real comments have).
fn comment_for(score: Score, rng: &mut Rng) -> &'static str {
    const HAPPY: [&str; 5] = [
        "Great service, will be back!",
        "Fast delivery and great prices.",
        "Love the new collection",
        "Staff were \"super\" helpful",
        "Easy returns, no questions asked.",
    ];
    const NEUTRAL: [&str; 4] =
        ["Fine overall.", "Delivery took a while, but OK.", "Good, could be cheaper", "Website is a bit slow"];
    const UNHAPPY: [&str; 5] = [
        "Order arrived late; nobody answered my emails.",
        "Item was damaged.",
        "Too expensive for the quality.",
        "Checkout kept failing, had to retry 3 times.",
        "Support was rude, won't shop here again",
    ];
    let band: &[&'static str] = match score {
        Score::Nps(9..) | Score::Csat(5) => &HAPPY,
        Score::Nps(7..=8) | Score::Csat(4) => &NEUTRAL,
        _ => &UNHAPPY,
    };
    band[rng.random_range(0..band.len())]
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use chrono::Datelike;

    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    /// Two years of 3,000 customers, shared by the shape tests.
    fn two_years() -> &'static Dataset {
        static DATASET: OnceLock<Dataset> = OnceLock::new();
        DATASET.get_or_init(|| {
            let config = DemoConfig { customers: 3000, days: 730, seed: 7, end: date("2026-11-01") };
            generate(&config).unwrap_or_else(|error| panic!("{error:#}"))
        })
    }

    fn orders_per_customer(dataset: &Dataset) -> HashMap<usize, usize> {
        let mut counts = HashMap::new();
        for order in &dataset.orders {
            *counts.entry(order.customer).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn everything_happens_inside_the_window_and_in_order() {
        let dataset = two_years();
        let (start, end) = (date("2024-11-01").and_hms_opt(0, 0, 0), date("2026-11-01").and_hms_opt(0, 0, 0));
        let (Some(start), Some(end)) = (start.map(|at| at.and_utc()), end.map(|at| at.and_utc())) else { panic!() };
        let inside = |at: DateTime<Utc>| start <= at && at < end;
        assert!(dataset.customers.iter().all(|customer| inside(customer.created_at)));
        assert!(dataset.orders.iter().all(|order| inside(order.placed_at)));
        assert!(dataset.orders.windows(2).all(|pair| pair[0].placed_at <= pair[1].placed_at));
        assert!(dataset.orders.iter().all(|order| order.placed_at >= dataset.customers[order.customer].created_at));
        assert!(dataset.contacts.iter().all(|contact| inside(contact.opened_at)
            && contact.resolved_at.is_none_or(|at| inside(at) && at >= contact.opened_at)));
        assert!(dataset.answers.iter().all(|answer| inside(answer.submitted_at)));
        assert!(dataset.carts.iter().flat_map(|cart| &cart.events).all(|step| inside(step.at)));
        assert!(dataset.exposures.iter().all(|exposure| inside(exposure.exposed_at)));
    }

    #[test]
    fn repeat_buyers_and_heterogeneous_rates() {
        let dataset = two_years();
        let counts = orders_per_customer(dataset);
        let buyers = counts.len() as f64;
        let repeat_share = counts.values().filter(|&&orders| orders >= 2).count() as f64 / buyers;
        assert!((0.4..0.8).contains(&repeat_share), "repeat share {repeat_share}");
        let never_bought = 1.0 - buyers / dataset.customers.len() as f64;
        assert!((0.05..0.2).contains(&never_bought), "share without an order {never_bought}");
        // The busiest tenth of the buyers place a large part of the orders.
        let mut sorted: Vec<usize> = counts.values().copied().collect();
        sorted.sort_unstable_by(|left, right| right.cmp(left));
        let busiest: usize = sorted[..sorted.len() / 10].iter().sum();
        let share = busiest as f64 / dataset.orders.len() as f64;
        assert!(share > 0.3, "the busiest 10% place {share} of the orders");
    }

    #[test]
    fn sales_follow_the_calendar() {
        let dataset = two_years();
        let completed = || dataset.orders.iter().filter(|order| order.status == OrderStatus::Completed);
        let mut revenue_by_month: HashMap<(i32, u32), i64> = HashMap::new();
        for order in completed() {
            let month = (order.placed_at.year(), order.placed_at.month());
            *revenue_by_month.entry(month).or_insert(0) += order.total_minor();
        }
        let last_year: Vec<i64> = (0..12)
            .map(|offset| {
                let month0 = 10 + offset; // November 2025 to October 2026.
                revenue_by_month.get(&(2025 + month0 / 12, (month0 % 12 + 1) as u32)).copied().unwrap_or(0)
            })
            .collect();
        let average = last_year.iter().sum::<i64>() as f64 / 12.0;
        let december = last_year[1] as f64;
        assert!(december > 1.2 * average, "December {december} vs average month {average}");

        let mut by_weekday = [0usize; 7];
        for order in completed() {
            by_weekday[order.placed_at.weekday().num_days_from_monday() as usize] += 1;
        }
        assert!(by_weekday[5] as f64 > 1.2 * by_weekday[1] as f64, "Saturdays {by_weekday:?}");

        // Orders per promotion day against other days of the same months.
        let promotion_months = [3, 7, 11, 12];
        let is_promoted = |day: NaiveDate| calendar::promotion(day).is_some();
        let days = date("2024-11-01").iter_days().take_while(|day| *day < date("2026-11-01"));
        let (promotion_days, other_days) =
            days.filter(|day| promotion_months.contains(&day.month())).fold((0, 0), |(promoted, other), day| {
                if is_promoted(day) { (promoted + 1, other) } else { (promoted, other + 1) }
            });
        let in_months = || completed().filter(|order| promotion_months.contains(&order.placed_at.month()));
        let promoted = in_months().filter(|order| is_promoted(order.placed_at.date_naive())).count();
        let other = in_months().count() - promoted;
        let lift = (promoted as f64 / promotion_days as f64) / (other as f64 / other_days as f64);
        assert!(lift > 1.6, "promotion days sell {lift}x an ordinary day of their month");
    }

    #[test]
    fn a_few_skus_sell_most_units_and_many_move_slowly() {
        let dataset = two_years();
        let mut units = vec![0i64; dataset.catalog.skus.len()];
        for line in dataset.orders.iter().flat_map(|order| &order.lines) {
            units[line.sku] += line.quantity;
        }
        units.sort_unstable_by(|left, right| right.cmp(left));
        let total: i64 = units.iter().sum();
        let top_tenth: i64 = units[..units.len() / 10].iter().sum();
        assert!(top_tenth as f64 > 0.4 * total as f64, "top 10% of SKUs sell {top_tenth} of {total} units");
        let average = total as f64 / units.len() as f64;
        let slow = units.iter().filter(|&&sold| (sold as f64) < average / 5.0).count();
        assert!(slow as f64 > 0.2 * units.len() as f64, "{slow} slow movers");
        let categories: std::collections::HashSet<&str> = dataset.catalog.skus.iter().map(|sku| sku.category).collect();
        assert!(categories.len() >= 8);
    }

    #[test]
    fn complaints_and_poor_scores_come_before_dropping_out() {
        let dataset = two_years();
        // Dropout per order before and after a customer's first complaint.
        let (mut before, mut after) = ((0, 0), (0, 0));
        for order in &dataset.orders {
            let truth = dataset.customers[order.customer].truth;
            let state =
                if truth.first_complaint_at.is_some_and(|at| order.placed_at >= at) { &mut after } else { &mut before };
            state.1 += 1;
            state.0 += usize::from(truth.dropped_out_at == Some(order.placed_at));
        }
        let hazard = |(dropped, orders): (usize, usize)| dropped as f64 / orders as f64;
        assert!(hazard(after) > 1.2 * hazard(before), "dropout after a complaint {after:?}, before {before:?}");

        let mut last_nps = HashMap::new();
        for answer in &dataset.answers {
            if let Score::Nps(score) = answer.score {
                last_nps.insert(answer.customer, score);
            }
        }
        let dropped_share = |band: &dyn Fn(i32) -> bool| {
            let members: Vec<usize> =
                last_nps.iter().filter(|(_, score)| band(**score)).map(|(customer, _)| *customer).collect();
            let dropped =
                members.iter().filter(|&&customer| dataset.customers[customer].truth.dropped_out_at.is_some());
            dropped.count() as f64 / members.len() as f64
        };
        let (detractors, promoters) = (dropped_share(&|score| score <= 6), dropped_share(&|score| score >= 9));
        assert!(detractors > promoters, "detractors dropped {detractors}, promoters {promoters}");
    }

    #[test]
    fn carts_are_mostly_abandoned_and_the_treatment_converts_better() {
        let dataset = two_years();
        let converted = dataset
            .carts
            .iter()
            .filter(|cart| cart.events.iter().any(|step| step.kind == CartEventType::Converted))
            .count();
        let abandonment = 1.0 - converted as f64 / dataset.carts.len() as f64;
        assert!((0.5..0.85).contains(&abandonment), "abandonment rate {abandonment}");
        for step in dataset.carts.iter().flat_map(|cart| &cart.events).filter(|step| step.order.is_some()) {
            let order = step.order.and_then(|index| dataset.orders.get(index));
            assert_eq!(order.map(|order| order.placed_at), Some(step.at), "a cart converts into its own order");
        }

        let mut orders_by_customer: HashMap<usize, Vec<DateTime<Utc>>> = HashMap::new();
        for order in dataset.orders.iter().filter(|order| order.status == OrderStatus::Completed) {
            orders_by_customer.entry(order.customer).or_default().push(order.placed_at);
        }
        let conversion = |variant: &str| {
            let exposed: Vec<&Exposure> =
                dataset.exposures.iter().filter(|exposure| exposure.variant == variant).collect();
            let converted = exposed.iter().filter(|exposure| {
                orders_by_customer.get(&exposure.customer).is_some_and(|times| {
                    times.iter().any(|at| *at >= exposure.exposed_at && *at < exposure.exposed_at + TimeDelta::days(7))
                })
            });
            (converted.count() as f64 / exposed.len() as f64, exposed.len())
        };
        let ((treatment, treated), (control, controls)) = (conversion(TREATMENT), conversion(CONTROL));
        assert!(treated > 100 && controls > 100, "{treated} treated, {controls} controls");
        assert!(treatment > control, "treatment converts {treatment}, control {control}");
    }
}
