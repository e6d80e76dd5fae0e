//! A/B evaluation of a campaign. A customer belongs to the variant of their
//! first exposure; they converted if they completed an order within the
//! window after it. Variants are compared with the control by the two-
//! proportion z-test (pooled standard error, two-sided p-value) and a Wald
//! interval (unpooled) for the absolute lift.

use std::collections::{BTreeMap, HashMap, HashSet};

use patron_common::ServiceError;
use sea_orm::ConnectionTrait;
use statrs::distribution::{ContinuousCDF, Normal};

use super::sql::{self, int, text};
use crate::domain::order::OrderStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct VariantResult {
    pub variant: String,
    pub exposed: i64,
    pub converted: i64,
    pub conversion_rate: f64,
    pub lift: Option<Lift>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lift {
    pub absolute: f64,
    pub relative: Option<f64>,
    pub lower: f64,
    pub upper: f64,
    pub p_value: f64,
}

/// Per customer: variant and whether they converted, plus their tags of interest.
pub struct Outcomes {
    customers: Vec<(String, bool, HashSet<String>)>,
}

pub async fn outcomes(
    db: &impl ConnectionTrait,
    campaign_id: &str,
    window_micros: i64,
    tags: &[String],
) -> Result<Outcomes, ServiceError> {
    let mut first: HashMap<i64, (i64, String)> = HashMap::new();
    for row in sql::query(
        db,
        "SELECT customer_id, variant, expose_time_us FROM campaign_exposures WHERE campaign_id = ? ORDER BY expose_time_us, id",
        vec![campaign_id.into()],
    )
    .await?
    {
        first.entry(int(&row, "customer_id")?).or_insert((int(&row, "expose_time_us")?, text(&row, "variant")?));
    }
    if first.is_empty() {
        return Err(ServiceError::not_found("campaign", campaign_id));
    }
    let mut converted: HashSet<i64> = HashSet::new();
    for row in sql::query(
        db,
        "SELECT o.customer_id, o.place_time_us FROM orders o WHERE o.status = ? AND o.customer_id IN \
         (SELECT customer_id FROM campaign_exposures WHERE campaign_id = ?)",
        vec![(OrderStatus::Completed as i16).into(), campaign_id.into()],
    )
    .await?
    {
        let customer = int(&row, "customer_id")?;
        let placed = int(&row, "place_time_us")?;
        let in_window = first
            .get(&customer)
            .is_some_and(|(exposed_at, _)| placed >= *exposed_at && placed < exposed_at.saturating_add(window_micros));
        if in_window {
            converted.insert(customer);
        }
    }
    let mut tags_of: HashMap<i64, HashSet<String>> = HashMap::new();
    if !tags.is_empty() {
        let mut values = vec![campaign_id.into()];
        values.extend(tags.iter().map(|tag| tag.clone().into()));
        for row in sql::query(
            db,
            &format!(
                "SELECT customer_id, tag FROM customer_tags WHERE customer_id IN \
                 (SELECT customer_id FROM campaign_exposures WHERE campaign_id = ?) AND tag IN ({})",
                sql::placeholders(tags.len())
            ),
            values,
        )
        .await?
        {
            tags_of.entry(int(&row, "customer_id")?).or_default().insert(text(&row, "tag")?);
        }
    }
    Ok(Outcomes {
        customers: first
            .into_iter()
            .map(|(customer, (_, variant))| {
                (variant, converted.contains(&customer), tags_of.remove(&customer).unwrap_or_default())
            })
            .collect(),
    })
}

impl Outcomes {
    /// Results per variant for the customers carrying `tag` (all when `None`).
    pub fn compare(&self, tag: Option<&str>, control: &str, confidence: f64) -> Vec<VariantResult> {
        let mut counts: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for (variant, converted, tags) in &self.customers {
            if tag.is_some_and(|tag| !tags.contains(tag)) {
                continue;
            }
            let entry = counts.entry(variant.as_str()).or_insert((0, 0));
            entry.0 += 1;
            entry.1 += i64::from(*converted);
        }
        let baseline = counts.get(control).copied();
        counts
            .iter()
            .map(|(variant, &(exposed, converted))| VariantResult {
                variant: (*variant).to_owned(),
                exposed,
                converted,
                conversion_rate: converted as f64 / exposed as f64,
                lift: match baseline {
                    Some(baseline) if *variant != control => lift(baseline, (exposed, converted), confidence),
                    _ => None,
                },
            })
            .collect()
    }
}

/// Lift of `treatment` over `control`, each (exposed, converted).
fn lift(control: (i64, i64), treatment: (i64, i64), confidence: f64) -> Option<Lift> {
    let (n_c, x_c) = (control.0 as f64, control.1 as f64);
    let (n_t, x_t) = (treatment.0 as f64, treatment.1 as f64);
    if n_c == 0.0 || n_t == 0.0 {
        return None;
    }
    let (p_c, p_t) = (x_c / n_c, x_t / n_t);
    let normal = Normal::standard();
    let absolute = p_t - p_c;
    let unpooled = (p_t * (1.0 - p_t) / n_t + p_c * (1.0 - p_c) / n_c).sqrt();
    let z_interval = normal.inverse_cdf(0.5 + confidence / 2.0);
    let pooled_rate = (x_c + x_t) / (n_c + n_t);
    let pooled = (pooled_rate * (1.0 - pooled_rate) * (1.0 / n_c + 1.0 / n_t)).sqrt();
    let p_value = if pooled > 0.0 { 2.0 * (1.0 - normal.cdf((absolute / pooled).abs())) } else { 1.0 };
    Some(Lift {
        absolute,
        relative: (p_c > 0.0).then(|| absolute / p_c),
        lower: absolute - z_interval * unpooled,
        upper: absolute + z_interval * unpooled,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::lift;

    #[test]
    fn two_proportion_test_matches_a_textbook_example() {
        // 200/1000 vs 250/1000: z = 0.05 / sqrt(0.225 * 0.775 * 0.002) = 2.6774, two-sided p = 0.0074.
        let result = lift((1_000, 200), (1_000, 250), 0.95).expect("lift");
        assert!((result.absolute - 0.05).abs() < 1e-12);
        assert!((result.relative.unwrap() - 0.25).abs() < 1e-12);
        assert!((result.p_value - 0.00742).abs() < 1e-4, "{}", result.p_value);
        // Wald: 0.05 ± 1.95996 * sqrt(0.2*0.8/1000 + 0.25*0.75/1000) = 0.05 ± 0.03652.
        assert!((result.lower - 0.01348).abs() < 1e-4 && (result.upper - 0.08652).abs() < 1e-4, "{result:?}");
    }
}
