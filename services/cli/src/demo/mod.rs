//! `patron demo-data`: writes a realistic retail data set as CSV files —
//! customers, orders (one row per line), support contacts and feedback in the
//! layout `patron import` reads, plus cart events, A/B campaign exposures and
//! the simulation's ground truth. The same flags write the same files: every
//! draw comes from one ChaCha8 stream seeded by `--seed` (the crate versions
//! are pinned by Cargo.lock), and the window ends on a fixed date, not today.
//! See [`model`] for how customers behave.

mod calendar;
mod catalog;
mod model;
mod people;
mod records;
mod write;

use std::path::PathBuf;

use chrono::NaiveDate;
use rand::RngExt;

use self::records::DemoConfig;
use self::write::Table;

/// The random stream: a portable generator whose output is fixed by its
/// specification, unlike `StdRng`, which may change between rand releases.
type Rng = rand::rngs::ChaCha8Rng;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Customers to sign up over the window.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=2_000_000))]
    customers: u32,
    /// Days of history: the window is the DAYS days before --end-date.
    #[arg(long, default_value_t = 730, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// Seed of every random draw; the same seed and flags give the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for the CSV files; created if missing, files replaced.
    #[arg(long, default_value = "demo-data")]
    out: PathBuf,
    /// The first day after the data (UTC), YYYY-MM-DD; the server refuses events in the future.
    #[arg(long, default_value = "2026-11-01", value_parser = end_date)]
    end_date: NaiveDate,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let config =
        DemoConfig { customers: args.customers as usize, days: args.days, seed: args.seed, end: args.end_date };
    let dataset = model::generate(&config)?;
    let written = write::write_all(&dataset, &args.out)?;
    println!(
        "Wrote {} customers over {} days up to {} (seed {}) to {}/:",
        config.customers,
        config.days,
        config.end,
        config.seed,
        args.out.display()
    );
    for (table, rows) in written {
        let note = match table {
            Table::Orders => format!(" ({} orders)", dataset.orders.len()),
            Table::Carts => format!(" ({} carts)", dataset.carts.len()),
            Table::Exposures => format!(" (campaign {})", dataset.campaign_id),
            _ => String::new(),
        };
        println!("  {:<14} {rows:>9} rows{note}", table.file_name());
    }
    println!(
        "Import with: patron import {}/customers.csv --kind customers (then orders, contacts, feedback)",
        args.out.display()
    );
    Ok(())
}

fn end_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("{text:?} is not a date as YYYY-MM-DD"))
}

/// An index drawn with probability proportional to its weight (weights are
/// small fixed tables, so a linear scan is the simplest right thing).
fn weighted_index(weights: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut remaining = rng.random::<f64>() * total;
    for (index, weight) in weights.iter().enumerate() {
        if remaining < *weight {
            return index;
        }
        remaining -= weight;
    }
    weights.len().saturating_sub(1)
}
