//! The charts `--plot` draws: each a plain struct of the numbers it shows,
//! filled by the command from the service's answer.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{Chart, drawing};

type Plane<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A titled chart with axis label areas, or bare when there is no font.
fn plane<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    text: bool,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> anyhow::Result<Plane<'a, DB>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(16);
    if text {
        builder.caption(title, ("sans-serif", 22)).x_label_area_size(44).y_label_area_size(64);
    }
    builder.build_cartesian_2d(x, y).map_err(drawing)
}

/// The mesh with axis names, or only grid lines without a font.
fn mesh<DB: DrawingBackend>(
    chart: &mut Plane<'_, DB>,
    text: bool,
    x_desc: &str,
    y_desc: &str,
    x_format: Option<&dyn Fn(&f64) -> String>,
) -> anyhow::Result<()> {
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE.mix(0.0));
    if text {
        mesh.x_desc(x_desc).y_desc(y_desc);
        if let Some(format) = x_format {
            mesh.x_label_formatter(format);
        }
    }
    mesh.draw().map_err(drawing)
}

fn legend<'a, DB: DrawingBackend + 'a>(chart: &mut Plane<'a, DB>, text: bool) -> anyhow::Result<()> {
    if !text {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(drawing)
}

fn upper_bound(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|value| value.is_finite()).fold(0.0_f64, f64::max);
    if max > 0.0 { max * 1.1 } else { 1.0 }
}

/// One forecast period: its start (Unix seconds), point forecast and
/// interval bounds by level.
#[derive(Debug, Clone)]
pub struct ForecastPeriod {
    pub start: i64,
    pub value: f64,
    /// (level in percent, lower, upper).
    pub bands: Vec<(f64, f64, f64)>,
}

/// A forecast after its history, with shaded prediction intervals.
#[derive(Debug, Clone)]
pub struct ForecastChart {
    pub title: String,
    pub unit: String,
    /// (period start in Unix seconds, value).
    pub history: Vec<(i64, f64)>,
    pub forecast: Vec<ForecastPeriod>,
}

const DAY: f64 = 86_400.0;

impl Chart for ForecastChart {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, text: bool) -> anyhow::Result<()> {
        let origin = self.history.first().map(|(start, _)| *start).or(self.forecast.first().map(|period| period.start));
        let origin = origin.unwrap_or(0);
        let day = |start: i64| (start - origin) as f64 / DAY;
        let last = self.forecast.last().map(|period| period.start).or(self.history.last().map(|(start, _)| *start));
        let x_end = day(last.unwrap_or(origin)).max(1.0);
        let highest = upper_bound(
            self.history
                .iter()
                .map(|(_, value)| *value)
                .chain(self.forecast.iter().flat_map(|period| period.bands.iter().map(|band| band.2)))
                .chain(self.forecast.iter().map(|period| period.value)),
        );
        let mut chart = plane(area, &self.title, text, 0.0..x_end, 0.0..highest)?;
        let date = move |x: &f64| {
            let seconds = origin + (x * DAY).round() as i64;
            chrono::DateTime::from_timestamp(seconds, 0)
                .map(|time| time.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        mesh(&mut chart, text, "period", &self.unit, Some(&date))?;

        // Widest band first, so the narrower one is drawn on top of it.
        let mut levels: Vec<f64> =
            self.forecast.first().map(|period| period.bands.iter().map(|band| band.0).collect()).unwrap_or_default();
        levels.sort_by(|left, right| right.total_cmp(left));
        for (index, level) in levels.iter().enumerate() {
            let band = |period: &ForecastPeriod| period.bands.iter().find(|band| band.0 == *level).copied();
            let upper = self.forecast.iter().filter_map(|period| band(period).map(|band| (day(period.start), band.2)));
            let lower =
                self.forecast.iter().rev().filter_map(|period| band(period).map(|band| (day(period.start), band.1)));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            let shade = BLUE.mix(0.15 + 0.15 * index as f64);
            chart
                .draw_series(std::iter::once(Polygon::new(outline, shade.filled())))
                .map_err(drawing)?
                .label(format!("{level}% interval"))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], shade.filled()));
        }
        let history = self.history.iter().map(|(start, value)| (day(*start), *value));
        chart
            .draw_series(LineSeries::new(history, BLACK.stroke_width(2)))
            .map_err(drawing)?
            .label("history")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        // The forecast line starts at the last observed period so the two join.
        let joint = self.history.last().map(|(start, value)| (day(*start), *value));
        let forecast = joint.into_iter().chain(self.forecast.iter().map(|period| (day(period.start), period.value)));
        chart
            .draw_series(LineSeries::new(forecast, BLUE.stroke_width(2)))
            .map_err(drawing)?
            .label("forecast")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        legend(&mut chart, text)
    }
}

/// Segment sizes beside their revenue shares.
#[derive(Debug, Clone)]
pub struct SegmentSizesChart {
    pub title: String,
    /// (name, share of customers, share of revenue), both in [0, 1].
    pub segments: Vec<(String, f64, f64)>,
}

impl Chart for SegmentSizesChart {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, text: bool) -> anyhow::Result<()> {
        let count = self.segments.len().max(1) as f64;
        let highest = upper_bound(self.segments.iter().flat_map(|(_, customers, revenue)| [*customers, *revenue]))
            .min(1.0)
            * 100.0;
        let mut chart = plane(area, &self.title, text, -0.5..count - 0.5, 0.0..highest)?;
        let names: Vec<String> = self.segments.iter().map(|(name, _, _)| name.clone()).collect();
        let name_at = move |x: &f64| {
            let index = x.round();
            if (x - index).abs() < 0.01 && index >= 0.0 {
                names.get(index as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        {
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(WHITE.mix(0.0)).x_labels(self.segments.len() * 2 + 1).disable_x_mesh();
            if text {
                mesh.x_desc("segment").y_desc("% of all").x_label_formatter(&name_at);
            }
            mesh.draw().map_err(drawing)?;
        }
        let customer_color = BLUE.mix(0.7);
        let revenue_color = RGBColor(230, 120, 20).mix(0.8);
        let bars = |offset: f64, share: fn(&(String, f64, f64)) -> f64| {
            self.segments
                .iter()
                .enumerate()
                .map(move |(index, segment)| (index as f64 + offset, share(segment) * 100.0))
                .collect::<Vec<_>>()
        };
        chart
            .draw_series(
                bars(-0.38, |segment| segment.1)
                    .into_iter()
                    .map(|(x, y)| Rectangle::new([(x, 0.0), (x + 0.36, y)], customer_color.filled())),
            )
            .map_err(drawing)?
            .label("customers")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], customer_color.filled()));
        chart
            .draw_series(
                bars(0.02, |segment| segment.2)
                    .into_iter()
                    .map(|(x, y)| Rectangle::new([(x, 0.0), (x + 0.36, y)], revenue_color.filled())),
            )
            .map_err(drawing)?
            .label("revenue")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], revenue_color.filled()));
        legend(&mut chart, text)
    }
}

/// Segments placed by two features of their centroids, sized by members.
#[derive(Debug, Clone)]
pub struct SegmentScatterChart {
    pub title: String,
    pub x_feature: String,
    pub y_feature: String,
    /// (name, x, y, customers).
    pub segments: Vec<(String, f64, f64, i64)>,
}

impl Chart for SegmentScatterChart {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, text: bool) -> anyhow::Result<()> {
        let (xs, ys): (Vec<f64>, Vec<f64>) = self.segments.iter().map(|(_, x, y, _)| (*x, *y)).unzip();
        let range = |values: &[f64]| {
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !low.is_finite() || !high.is_finite() {
                return 0.0..1.0;
            }
            let pad = ((high - low) * 0.15).max(high.abs() * 0.05).max(1e-6);
            low - pad..high + pad
        };
        let mut chart = plane(area, &self.title, text, range(&xs), range(&ys))?;
        mesh(&mut chart, text, &self.x_feature, &self.y_feature, None)?;
        let largest = self.segments.iter().map(|segment| segment.3).max().unwrap_or(1).max(1) as f64;
        for (index, (name, x, y, size)) in self.segments.iter().enumerate() {
            let color = Palette99::pick(index).mix(0.6);
            let radius = (8.0 + 40.0 * (*size as f64 / largest).sqrt()) as i32;
            chart.draw_series(std::iter::once(Circle::new((*x, *y), radius, color.filled()))).map_err(drawing)?;
            if text {
                let label = format!("{name} ({size})");
                chart
                    .draw_series(std::iter::once(Text::new(label, (*x, *y), ("sans-serif", 15).into_font())))
                    .map_err(drawing)?;
            }
        }
        Ok(())
    }
}

/// The churn model's calibration curve and lift chart, side by side.
#[derive(Debug, Clone)]
pub struct ChurnChart {
    pub title: String,
    /// (mean predicted, observed rate, customers) per bin.
    pub calibration: Vec<(f64, f64, i64)>,
    /// (decile, lift, cumulative lift), decile 1 = highest risk.
    pub deciles: Vec<(i32, f64, f64)>,
}

impl Chart for ChurnChart {
    fn size(&self) -> (u32, u32) {
        (1200, 540)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, text: bool) -> anyhow::Result<()> {
        let (left, right) = area.split_horizontally(area.dim_in_pixel().0 / 2);
        let mut calibration = plane(&left, &format!("{}: calibration", self.title), text, 0.0..1.0, 0.0..1.0)?;
        mesh(&mut calibration, text, "mean predicted churn probability", "observed churn rate", None)?;
        calibration
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))
            .map_err(drawing)?
            .label("perfectly calibrated")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
        let curve: Vec<(f64, f64)> =
            self.calibration.iter().map(|(predicted, observed, _)| (*predicted, *observed)).collect();
        calibration
            .draw_series(LineSeries::new(curve.clone(), RED.stroke_width(2)))
            .map_err(drawing)?
            .label("model")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        calibration.draw_series(curve.iter().map(|point| Circle::new(*point, 4, RED.filled()))).map_err(drawing)?;
        legend(&mut calibration, text)?;

        let highest = upper_bound(self.deciles.iter().flat_map(|(_, lift, cumulative)| [*lift, *cumulative]));
        let mut lift = plane(&right, &format!("{}: lift by decile", self.title), text, 0.5..10.5, 0.0..highest)?;
        mesh(&mut lift, text, "decile (1 = highest predicted risk)", "lift", None)?;
        let bar = BLUE.mix(0.6);
        lift.draw_series(self.deciles.iter().map(|(decile, value, _)| {
            let x = f64::from(*decile);
            Rectangle::new([(x - 0.35, 0.0), (x + 0.35, *value)], bar.filled())
        }))
        .map_err(drawing)?
        .label("lift")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], bar.filled()));
        lift.draw_series(LineSeries::new(
            self.deciles.iter().map(|(decile, _, cumulative)| (f64::from(*decile), *cumulative)),
            RED.stroke_width(2),
        ))
        .map_err(drawing)?
        .label("cumulative lift")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        lift.draw_series(LineSeries::new([(0.5, 1.0), (10.5, 1.0)], BLACK.mix(0.4)))
            .map_err(drawing)?
            .label("no model")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
        legend(&mut lift, text)
    }
}

/// The Pareto (Lorenz-style) curve: share of revenue from the top share of customers.
#[derive(Debug, Clone)]
pub struct ParetoChart {
    pub title: String,
    /// (customer share, revenue share), both in [0, 1], ascending.
    pub curve: Vec<(f64, f64)>,
    /// The requested shares, marked on the curve.
    pub marks: Vec<(f64, f64)>,
}

impl Chart for ParetoChart {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, text: bool) -> anyhow::Result<()> {
        let mut chart = plane(area, &self.title, text, 0.0..100.0, 0.0..100.0)?;
        mesh(&mut chart, text, "% of customers (highest revenue first)", "% of revenue", None)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (100.0, 100.0)], BLACK.mix(0.4)))
            .map_err(drawing)?
            .label("equal revenue per customer")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
        let percent = |(customers, revenue): &(f64, f64)| (customers * 100.0, revenue * 100.0);
        let curve = std::iter::once((0.0, 0.0)).chain(self.curve.iter().map(percent));
        chart
            .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))
            .map_err(drawing)?
            .label("revenue concentration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        for mark in &self.marks {
            let (x, y) = percent(mark);
            chart.draw_series(std::iter::once(Circle::new((x, y), 5, RED.filled()))).map_err(drawing)?;
            if text {
                let label = format!("{x:.0}% -> {y:.1}%");
                chart
                    .draw_series(std::iter::once(Text::new(label, (x + 1.5, y - 3.0), ("sans-serif", 15).into_font())))
                    .map_err(drawing)?;
            }
        }
        legend(&mut chart, text)
    }
}
