//! The demo retailer: stores in five regions and a catalogue of SKUs whose
//! popularity follows a Zipf law, so a few SKUs sell most units and a long
//! tail are slow movers.

use anyhow::anyhow;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal, Zipf};

use super::Rng;

pub const REGIONS: [&str; 5] = ["north", "south", "east", "west", "central"];

/// (store id, region index, relative size): bigger stores are home to more customers.
const STORES: [(&str, usize, f64); 12] = [
    ("store-01", 0, 1.6),
    ("store-02", 0, 1.0),
    ("store-03", 0, 0.6),
    ("store-04", 1, 1.4),
    ("store-05", 1, 0.8),
    ("store-06", 2, 1.2),
    ("store-07", 2, 1.0),
    ("store-08", 2, 0.5),
    ("store-09", 3, 1.5),
    ("store-10", 3, 0.7),
    ("store-11", 4, 1.0),
    ("store-12", 4, 0.6),
];

/// The pseudo-store of web and app orders, and of marketplace orders.
pub const ONLINE_STORE: &str = "online";
pub const MARKETPLACE_STORE: &str = "marketplace";

/// (category, median unit price in cents).
const CATEGORIES: [(&str, i64); 10] = [
    ("apparel", 3500),
    ("footwear", 6500),
    ("accessories", 2200),
    ("home", 4200),
    ("beauty", 1800),
    ("electronics", 11000),
    ("grocery", 700),
    ("toys", 2600),
    ("sports", 4800),
    ("books", 1500),
];
const SKUS_PER_CATEGORY: usize = 40;
/// Zipf exponent of SKU popularity.
const POPULARITY_EXPONENT: f64 = 1.1;

#[derive(Debug, Clone)]
pub struct Store {
    pub id: &'static str,
    pub region: &'static str,
    pub size: f64,
}

#[derive(Debug, Clone)]
pub struct Sku {
    pub id: String,
    pub category: &'static str,
    pub unit_price_minor: i64,
    pub unit_cost_minor: i64,
}

#[derive(Debug)]
pub struct Catalog {
    pub stores: Vec<Store>,
    pub skus: Vec<Sku>,
    /// Indices of `skus`, most popular first.
    by_popularity: Vec<usize>,
    /// Per category, its SKUs' indices, most popular first.
    by_category: Vec<Vec<usize>>,
    overall: Zipf<f64>,
    within_category: Zipf<f64>,
}

impl Catalog {
    pub fn generate(rng: &mut Rng) -> anyhow::Result<Self> {
        let stores = STORES.iter().map(|&(id, region, size)| Store { id, region: REGIONS[region], size }).collect();
        let mut skus = Vec::with_capacity(CATEGORIES.len() * SKUS_PER_CATEGORY);
        for (category, median_price) in CATEGORIES {
            for number in 1..=SKUS_PER_CATEGORY {
                // Log-normal around the median, priced at .99.
                let spread: f64 = rng.sample::<f64, _>(StandardNormal) * 0.45;
                let price = (median_price as f64 * spread.exp() / 100.0).round().max(1.0) as i64 * 100 - 1;
                let margin: f64 = rng.random_range(0.3..0.65);
                let cost = (price as f64 * (1.0 - margin)).round() as i64;
                let id = format!("{}-{number:03}", &category[..3].to_uppercase());
                skus.push(Sku { id, category, unit_price_minor: price, unit_cost_minor: cost });
            }
        }
        // Popularity is independent of price and category: shuffle the ranks.
        let mut by_popularity: Vec<usize> = (0..skus.len()).collect();
        for index in (1..by_popularity.len()).rev() {
            by_popularity.swap(index, rng.random_range(0..=index));
        }
        let by_category = CATEGORIES
            .iter()
            .map(|(category, _)| by_popularity.iter().copied().filter(|&sku| skus[sku].category == *category).collect())
            .collect();
        let zipf = |count: usize| Zipf::new(count as f64, POPULARITY_EXPONENT).map_err(|error| anyhow!("{error}"));
        Ok(Self {
            overall: zipf(skus.len())?,
            within_category: zipf(SKUS_PER_CATEGORY)?,
            stores,
            skus,
            by_popularity,
            by_category,
        })
    }

    pub fn category_count(&self) -> usize {
        self.by_category.len()
    }

    /// A SKU by overall popularity.
    pub fn popular_sku(&self, rng: &mut Rng) -> usize {
        pick_ranked(&self.by_popularity, &self.overall, rng)
    }

    /// A SKU of one category, by popularity within it.
    pub fn sku_in_category(&self, category: usize, rng: &mut Rng) -> usize {
        match self.by_category.get(category) {
            Some(skus) => pick_ranked(skus, &self.within_category, rng),
            None => self.popular_sku(rng),
        }
    }

    /// A store, weighted by size.
    pub fn store(&self, rng: &mut Rng) -> usize {
        let weights: Vec<f64> = self.stores.iter().map(|store| store.size).collect();
        super::weighted_index(&weights, rng)
    }
}

fn pick_ranked(ranked: &[usize], zipf: &Zipf<f64>, rng: &mut Rng) -> usize {
    // Zipf draws ranks 1..=n as floats.
    let rank = zipf.sample(rng) as usize;
    ranked[rank.clamp(1, ranked.len()) - 1]
}
