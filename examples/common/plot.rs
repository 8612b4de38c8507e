//! Pictures for the examples: line charts and decision boundaries drawn with
//! `plotters`, written as PNG files into `docs/images/`.
//!
//! Nothing here depends on the machine: the text is drawn with a font
//! compiled into the example (`docs/fonts/DejaVuSans-subset.ttf`, through
//! `plotters`' `ab_glyph` renderer, which never looks for system fonts), the
//! picture is drawn into a buffer in memory by `plotters`' bitmap backend,
//! and [`encode_png`] turns the buffer into a PNG file with `miniz_oxide`'s
//! deflate. That is all `plotters`' own PNG writer (its `bitmap_encoder`
//! feature, through the `image` crate) would do for us, and it halves the
//! cold build of the plotting dependencies (9 s instead of 20 s on two
//! cores), which every `cargo test` pays.
//!
//! Set `BACKPROP_PLOTS` to write the pictures somewhere else than
//! `docs/images/`. A picture that cannot be written (a read-only checkout,
//! say) is reported on standard error and skipped: the example goes on.

use std::error::Error;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The font every picture's text is drawn with.
static FONT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fonts/DejaVuSans-subset.ttf"));

/// A drawing area of a picture in memory.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// What drawing returns: plotters' errors, boxed.
pub type Drawn = Result<(), Box<dyn Error>>;

/// The colours of the series and classes, in order: the Okabe–Ito palette,
/// which stays distinguishable with the common forms of colour blindness.
pub const COLORS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermilion
    RGBColor(0, 0, 0),       // black
];

pub use plotters::style::RGBColor;

/// A light grey, for what stays in the background.
pub const GREY: RGBColor = RGBColor(190, 190, 190);

/// Where pictures go: `$BACKPROP_PLOTS`, or `docs/images/` in the crate.
pub fn output_dir() -> PathBuf {
    match std::env::var_os("BACKPROP_PLOTS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join("images"),
    }
}

/// Draws a picture of `width × height` pixels with `draw` and writes it to
/// `{output_dir}/{name}.png`. Returns the path written, or `None` if the
/// file could not be written (which is reported, not an error).
pub fn save(
    name: &str,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area) -> Drawn,
) -> Result<Option<PathBuf>, Box<dyn Error>> {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic] {
            // The font is valid: it is committed next to its licence.
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });

    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let png = encode_png(width, height, &pixels);

    let dir = output_dir();
    let path = dir.join(format!("{name}.png"));
    let shown = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&path).display().to_string();
    match fs::create_dir_all(&dir).and_then(|()| fs::write(&path, &png)) {
        Ok(()) => {
            println!("wrote {shown}");
            Ok(Some(path))
        }
        Err(error) => {
            eprintln!("could not write {shown} ({error}); going on without it");
            Ok(None)
        }
    }
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A solid line through the points.
    Line,
    /// A dashed line through the points.
    Dashed,
    /// A dot at every point.
    Points,
}

/// One named series of `(x, y)` points.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend's text.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// How it is drawn.
    pub style: Style,
    /// The points, in order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A solid line.
    pub fn line(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self { label: label.into(), color, style: Style::Line, points }
    }

    /// A dashed line.
    pub fn dashed(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self { label: label.into(), color, style: Style::Dashed, points }
    }

    /// Dots.
    pub fn points(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Self { label: label.into(), color, style: Style::Points, points }
    }

    /// `values[k]` at `x = k + 1` (epochs are counted from 1).
    pub fn per_epoch(values: &[f64]) -> Vec<(f64, f64)> {
        values.iter().enumerate().map(|(k, &v)| ((k + 1) as f64, v)).collect()
    }
}

/// Where the legend goes.
pub use plotters::chart::SeriesLabelPosition as Legend;

/// A chart of lines and dots.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// The caption above the chart.
    pub title: String,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// A logarithmic y axis.
    pub log_y: bool,
    /// The y range; the data's own range (with a margin) if `None`.
    pub y_range: Option<Range<f64>>,
    /// Where the legend goes.
    pub legend: Legend,
    /// The series, drawn in order.
    pub series: Vec<Series>,
}

impl LineChart {
    /// An empty chart with a linear y axis and the legend at the upper right.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: false,
            y_range: None,
            legend: Legend::UpperRight,
            series: Vec::new(),
        }
    }

    /// Draws the chart onto `area`.
    pub fn draw(&self, area: &Area) -> Drawn {
        let finite =
            || self.series.iter().flat_map(|s| &s.points).filter(|(x, y)| x.is_finite() && y.is_finite());
        let (x_min, x_max) =
            finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(x, _)| (a.min(x), b.max(x)));
        let y_range = match &self.y_range {
            Some(range) => range.clone(),
            None => {
                let positive = |y: f64| !self.log_y || y > 0.0;
                let (lo, hi) = finite()
                    .filter(|&&(_, y)| positive(y))
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(_, y)| (a.min(y), b.max(y)));
                if self.log_y {
                    lo / 1.5..hi * 1.5
                } else {
                    let margin = 0.05 * (hi - lo).max(1e-9);
                    lo - margin..hi + margin
                }
            }
        };
        let x_range = x_min..x_max.max(x_min + 1e-9);

        let mut builder = ChartBuilder::on(area);
        builder
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64);
        if self.log_y {
            let mut chart = builder.build_cartesian_2d(x_range, y_range.log_scale())?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|x| format_tick(*x))
                .y_label_formatter(&|y| format_tick(*y))
                .y_labels(5)
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 16))
                .bold_line_style(RGBColor(225, 225, 225))
                .light_line_style(RGBColor(246, 246, 246))
                .draw()?;
            self.draw_series(&mut chart)
        } else {
            let mut chart = builder.build_cartesian_2d(x_range, y_range)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|x| format_tick(*x))
                .y_label_formatter(&|y| format_tick(*y))
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 16))
                .bold_line_style(RGBColor(225, 225, 225))
                .light_line_style(RGBColor(246, 246, 246))
                .draw()?;
            self.draw_series(&mut chart)
        }
    }

    fn draw_series<'a, Y>(
        &self,
        chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    ) -> Drawn
    where
        Y: Ranged<ValueType = f64>,
    {
        let y_range = chart.y_range();
        let (lo, hi) = (y_range.start.min(y_range.end), y_range.start.max(y_range.end));
        for series in &self.series {
            // Points off the chart (a diverging loss) are clamped to its edge.
            let points = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && !y.is_nan())
                .map(|&(x, y)| (x, y.clamp(lo, hi)));
            let color = series.color;
            let drawn = match series.style {
                Style::Line => chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?,
                Style::Dashed => {
                    chart.draw_series(DashedLineSeries::new(points, 8, 5, color.stroke_width(2)))?
                }
                Style::Points => {
                    chart.draw_series(points.map(|p| Circle::new(p, 3, color.mix(0.7).filled())))?
                }
            };
            if !series.label.is_empty() {
                // A dot for dots, a short line for lines.
                let (dot, line) = if series.style == Style::Points { (1.0, 0.0) } else { (0.0, 1.0) };
                drawn.label(&series.label).legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + Circle::new((10, 0), 4, color.mix(dot).filled())
                        + PathElement::new(vec![(0, 0), (20, 0)], color.mix(line).stroke_width(3))
                });
            }
        }
        chart
            .configure_series_labels()
            .position(self.legend.clone())
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 15))
            .draw()?;
        Ok(())
    }
}

/// A tick label without trailing noise: `0.001`, `0.25`, `10`, `1e-5`.
pub fn format_tick(y: f64) -> String {
    if y == 0.0 {
        return "0".into();
    }
    let magnitude = y.abs();
    if !(1e-3..1e5).contains(&magnitude) {
        return format!("{y:.0e}");
    }
    let text = format!("{y:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// A two-class decision boundary: the plane coloured by the net's
/// probability of class 1, the line where it crosses ½, and the data points.
pub struct Boundary<'a> {
    /// The caption.
    pub title: String,
    /// The x range shown.
    pub x: Range<f64>,
    /// The y range shown.
    pub y: Range<f64>,
    /// The net's probability of class 1 at a point.
    pub probability: &'a dyn Fn(f64, f64) -> f64,
    /// The data: `(x, y, class)`, class 0 or 1.
    pub points: &'a [(f64, f64, usize)],
    /// The axes' labels.
    pub axes: [&'a str; 2],
    /// The legend's names of class 0 and class 1.
    pub classes: [&'a str; 2],
}

impl Boundary<'_> {
    /// Draws the boundary onto `area`.
    pub fn draw(&self, area: &Area) -> Drawn {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(self.x.clone(), self.y.clone())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(7)
            .y_labels(7)
            .x_desc(self.axes[0])
            .y_desc(self.axes[1])
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()?;

        // Every pixel of the plotting area, coloured by the probability.
        let plot = chart.plotting_area();
        let (xs, ys) = plot.get_pixel_range();
        let (w, h) = ((xs.end - xs.start) as usize, (ys.end - ys.start) as usize);
        let to_x = |px: usize| self.x.start + (px as f64 + 0.5) / w as f64 * (self.x.end - self.x.start);
        let to_y = |py: usize| self.y.end - (py as f64 + 0.5) / h as f64 * (self.y.end - self.y.start);
        let p: Vec<f64> = (0..h)
            .flat_map(|py| (0..w).map(move |px| (px, py)))
            .map(|(px, py)| (self.probability)(to_x(px), to_y(py)))
            .collect();
        let pixels = plot.strip_coord_spec();
        let light = |c: RGBColor| {
            (
                255.0 - 0.3 * (255.0 - f64::from(c.0)),
                255.0 - 0.3 * (255.0 - f64::from(c.1)),
                255.0 - 0.3 * (255.0 - f64::from(c.2)),
            )
        };
        let (c0, c1) = (light(COLORS[0]), light(COLORS[1]));
        for py in 0..h {
            for px in 0..w {
                let q = p[py * w + px];
                let side = q > 0.5;
                let edge = (px + 1 < w && (p[py * w + px + 1] > 0.5) != side)
                    || (py + 1 < h && (p[(py + 1) * w + px] > 0.5) != side);
                let color = if edge {
                    RGBColor(60, 60, 60)
                } else {
                    // Saturated far from the boundary, pale near it.
                    let t = q.clamp(0.0, 1.0);
                    let mix = |a: f64, b: f64| (a * (1.0 - t) + b * t) as u8;
                    RGBColor(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2))
                };
                pixels.draw_pixel((px as i32, py as i32), &color)?;
            }
        }

        // Few points are drawn large, many small.
        let radius = if self.points.len() <= 16 { 7 } else { 4 };
        for (class, (&color, name)) in COLORS.iter().zip(self.classes).enumerate() {
            let points = self.points.iter().filter(|p| p.2 == class).map(|&(x, y, _)| (x, y));
            chart
                .draw_series(points.map(|p| {
                    EmptyElement::at(p)
                        + Circle::new((0, 0), radius, color.filled())
                        + Circle::new((0, 0), radius, BLACK.stroke_width(1))
                }))?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        }
        chart
            .configure_series_labels()
            .position(Legend::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 15))
            .draw()?;
        Ok(())
    }
}

/// An image of `width × height` RGB pixels (3 bytes each, row by row) as a
/// PNG file: 8-bit truecolour, each row filtered with the filter that
/// leaves the smallest sum of absolute values (the PNG specification's
/// recommended heuristic), deflated by `miniz_oxide`.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let stride = width as usize * 3;
    let mut filtered = Vec::with_capacity((stride + 1) * height as usize);
    let zero_row = vec![0u8; stride];
    let mut candidate = vec![0u8; stride];
    let mut best = vec![0u8; stride];
    for (y, row) in rgb.chunks_exact(stride).enumerate() {
        let above = if y == 0 { &zero_row[..] } else { &rgb[(y - 1) * stride..y * stride] };
        let mut best_filter = 0u8;
        let mut best_cost = u64::MAX;
        for filter in 0..5u8 {
            for i in 0..stride {
                let a = if i >= 3 { row[i - 3] } else { 0 };
                let b = above[i];
                let c = if i >= 3 { above[i - 3] } else { 0 };
                let predicted = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    _ => paeth(a, b, c),
                };
                candidate[i] = row[i].wrapping_sub(predicted);
            }
            let cost = candidate.iter().map(|&v| u64::from((v as i8).unsigned_abs())).sum();
            if cost < best_cost {
                best_cost = cost;
                best_filter = filter;
                best.copy_from_slice(&candidate);
            }
        }
        filtered.push(best_filter);
        filtered.extend_from_slice(&best);
    }

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, adaptive filters, no interlace
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &miniz_oxide::deflate::compress_to_vec_zlib(&filtered, 9));
    chunk(&mut png, b"IEND", &[]);
    png
}

/// The Paeth predictor of the PNG specification.
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Appends a PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(kind.iter().chain(data));
    png.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit.
fn crc32<'a>(bytes: impl Iterator<Item = &'a u8>) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Small images drawn cell by cell: a filter, a feature map or a digit as
/// a block of coloured squares, with captions. Everything is placed in the
/// area's pixels, top left `(0, 0)`.
pub mod cells {
    use super::{Area, Drawn, COLORS};
    use plotters::prelude::*;

    /// Black, for ink.
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);

    /// A white-to-colour ramp for values in `0..=scale` (clamped): white at 0,
    /// `color` at `scale`.
    pub fn ramp(color: RGBColor, value: f32, scale: f32) -> RGBColor {
        let t = f64::from((value / scale.max(f32::MIN_POSITIVE)).clamp(0.0, 1.0));
        let mix = |c: u8| (255.0 - t * (255.0 - f64::from(c))).round() as u8;
        RGBColor(mix(color.0), mix(color.1), mix(color.2))
    }

    /// A diverging map for values in `-scale..=scale`: blue for negative,
    /// white for 0, vermilion for positive (the Okabe–Ito colours).
    pub fn diverging(value: f32, scale: f32) -> RGBColor {
        if value < 0.0 {
            ramp(COLORS[0], -value, scale)
        } else {
            ramp(COLORS[5], value, scale)
        }
    }

    /// Draws `values` (`rows × columns`, row by row) as squares of `cell`
    /// pixels with its top left corner at `(x, y)`, each coloured by `color`,
    /// inside a thin grey frame.
    pub fn draw(
        area: &Area,
        (x, y): (i32, i32),
        cell: i32,
        columns: usize,
        values: &[f32],
        color: impl Fn(f32) -> RGBColor,
    ) -> Drawn {
        for (k, &v) in values.iter().enumerate() {
            let (r, c) = ((k / columns) as i32, (k % columns) as i32);
            let corner = (x + c * cell, y + r * cell);
            area.draw(&Rectangle::new([corner, (corner.0 + cell, corner.1 + cell)], color(v).filled()))?;
        }
        let rows = values.len().div_ceil(columns) as i32;
        let frame = [(x - 1, y - 1), (x + columns as i32 * cell, y + rows * cell)];
        area.draw(&Rectangle::new(frame, RGBColor(160, 160, 160).stroke_width(1)))?;
        Ok(())
    }

    /// Writes `text` with its top left corner at `(x, y)`, in `size` points.
    pub fn caption(area: &Area, text: &str, (x, y): (i32, i32), size: u32) -> Drawn {
        area.draw(&Text::new(text.to_string(), (x, y), ("sans-serif", size).into_font().color(&BLACK)))?;
        Ok(())
    }
}
