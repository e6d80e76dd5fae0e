//! `--plot FILE.png|svg`: draws a chart with plotters into an SVG document or
//! an in-memory RGB bitmap that is then encoded as PNG (plotters' own image
//! encoder would bring the whole `image` crate).
//!
//! Text needs a TrueType font: `PATRON_PLOT_FONT`, else a common system sans
//! serif (DejaVu, Liberation, Arial). Without one the chart is drawn without
//! titles and axis labels, and a warning says so.

pub mod charts;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::failure::Failure;

/// A chart that draws itself on any plotters backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    /// `text` is false when no font is available: draw no text at all.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, text: bool) -> anyhow::Result<()>;
}

/// Turns a plotters error into ours; they are generic over the backend.
pub fn drawing<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("drawing the chart: {error}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageFormat {
    Png,
    Svg,
}

fn format_of(path: &Path) -> anyhow::Result<ImageFormat> {
    let extension = path.extension().and_then(|extension| extension.to_str()).unwrap_or_default().to_lowercase();
    match extension.as_str() {
        "png" => Ok(ImageFormat::Png),
        "svg" => Ok(ImageFormat::Svg),
        _ => Err(Failure::usage(format!("--plot {}: the file must end in .png or .svg", path.display()))),
    }
}

/// Refuses a bad --plot name before any call is made.
pub fn check_target(path: Option<&Path>) -> anyhow::Result<()> {
    path.map(format_of).transpose().map(|_| ())
}

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
];

/// Registers a sans-serif font once per process; false when none was found.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let configured = std::env::var("PATRON_PLOT_FONT").ok().filter(|path| !path.is_empty());
        let candidates = configured.iter().map(String::as_str).chain(FONT_PATHS.iter().copied());
        for path in candidates {
            let Ok(bytes) = std::fs::read(path) else { continue };
            // plotters keeps fonts for the process's life.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
        eprintln!("patron: no TrueType font found (set PATRON_PLOT_FONT); the plot has no text");
        false
    })
}

/// Draws `chart` into `path`, written whole or not at all.
pub fn save(chart: &impl Chart, path: &Path) -> anyhow::Result<()> {
    let format = format_of(path)?;
    let text = font_ready();
    let (width, height) = chart.size();
    let bytes = match format {
        ImageFormat::Svg => {
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                area.fill(&WHITE).map_err(drawing)?;
                chart.draw(&area, text)?;
                area.present().map_err(drawing)?;
            }
            svg.into_bytes()
        }
        ImageFormat::Png => {
            let mut pixels = vec![0_u8; width as usize * height as usize * 3];
            {
                let area = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
                area.fill(&WHITE).map_err(drawing)?;
                chart.draw(&area, text)?;
                area.present().map_err(drawing)?;
            }
            encode_png(&pixels, width, height)?
        }
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", path.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("Wrote {}", path.display());
    Ok(())
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("encoding the PNG")?;
    writer.write_image_data(rgb).context("encoding the PNG")?;
    writer.finish().context("encoding the PNG")?;
    Ok(bytes)
}
