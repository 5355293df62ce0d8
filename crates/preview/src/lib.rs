//! Pictures of volumes, the way researchers check an augmentation by eye.
//!
//! [`render`] draws the three middle slices (sagittal, coronal, axial) side by side, in world
//! orientation read from the affine: the volume is brought to the closest canonical (RAS)
//! orientation (voxflow-core's `io_orientation`, nibabel 5.4.2) by axis permutation and flips
//! only (no interpolation, like nibabel's `as_closest_canonical`), then displayed in the
//! radiological convention: superior up, anterior up in the axial view, and the patient's right
//! on the viewer's left in the coronal and axial views. Every panel has its two axes' letters
//! (R/L, A/P, S/I) in a margin around it, never over the image. Each panel respects the voxel
//! spacing, so an anisotropic volume is not squashed. Intensities are windowed by percentiles
//! or by an absolute width and level; a label map is overlaid in translucent colours (or as
//! outlines), with a legend of the labels present (their names when given). A 4D volume shows
//! one frame, named in the title. [`stack`] puts several previews (one per output of a case)
//! one under the other.

mod draw;
mod legend;
mod orient;
pub mod report;
mod words;

pub use legend::{LabelNames, LabelNamesError, colour};
pub use orient::{Canonical, closest_canonical};

use image::{Rgb, RgbImage};
use ndarray::{ArrayView3, Axis};
use thiserror::Error;
use voxflow_core::{LabelType, Volume, Voxels, with_labels};

/// How intensities become grey levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IntensityWindow {
    /// Percentiles of the frame's finite voxels: below `low` black, above `high` white.
    Percentiles { low: f64, high: f64 },
    /// An absolute window centred on `level`, `width` wide (CT soft tissue: 400 / 40).
    Absolute { width: f64, level: f64 },
}

impl std::fmt::Display for IntensityWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntensityWindow::Percentiles { low, high } => write!(f, "percentiles {low} to {high}"),
            IntensityWindow::Absolute { width, level } => write!(f, "width {width} at level {level}"),
        }
    }
}

/// How a preview is drawn.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    /// The intensity window (default: percentiles 0.5 to 99.5).
    pub window: IntensityWindow,
    /// Opacity of the filled label overlay, 0 to 1 (default 0.3: the anatomy stays readable).
    pub label_opacity: f32,
    /// Draw each label's outline (opaque, one pixel) instead of filling it.
    pub outline: bool,
    /// Height in pixels of the tallest panel (the others keep the same mm-per-pixel scale;
    /// no panel is wider than four times this). 16 to 4096.
    pub panel_height: u32,
    /// Which frame of a 4D volume to show (from 0); the title says which of how many.
    pub frame: usize,
    /// Names of label values for the legend; a present label without a name shows its value.
    pub label_names: LabelNames,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions {
            window: IntensityWindow::Percentiles { low: 0.5, high: 99.5 },
            label_opacity: 0.3,
            outline: false,
            panel_height: 256,
            frame: 0,
            label_names: LabelNames::default(),
        }
    }
}

/// A preview could not be drawn.
#[derive(Debug, Error)]
pub enum PreviewError {
    #[error("the label map's grid {label:?} differs from the image's {image:?}")]
    GridMismatch { image: [usize; 3], label: [usize; 3] },
    #[error("frame {frame} requested, but the volume has {frames} frame(s), numbered 0 to {last}", last = frames - 1)]
    NoSuchFrame { frame: usize, frames: usize },
    #[error(
        "the intensity window ({0}) is not usable: percentiles need 0 <= low < high <= 100, an \
         absolute window a finite width > 0 and a finite level"
    )]
    BadWindow(IntensityWindow),
    #[error("the label opacity must be between 0 and 1, got {0}")]
    BadOpacity(f32),
    #[error("the panel height must be 16 to 4096 pixels, got {0}")]
    BadPanelHeight(u32),
    #[error("the volume has no voxels")]
    Empty,
    #[error("no orientation can be read from the image's affine")]
    Orientation(#[source] voxflow_core::OrientationError),
}

const TITLE_HEIGHT: u32 = 26;
const GAP: u32 = 8;
/// The margin on each side of a panel, where its orientation letters go.
const MARGIN: u32 = 18;
const LETTER_SIZE: f32 = 14.0;
/// A panel's block is at least this big, so the letters around a thin slab have room.
const MIN_BLOCK: u32 = 14;
const SWATCH: u32 = 12;
const LEGEND_TEXT: f32 = 13.0;
const LEGEND_ROW: u32 = 18;
/// More labels than this are summed up as "+N more".
const MAX_LEGEND_ENTRIES: usize = 48;
const MIN_WIDTH: u32 = 320;
const BACKGROUND: Rgb<u8> = Rgb([0, 0, 0]);
const LETTER: Rgb<u8> = Rgb([255, 220, 0]);
const TEXT: Rgb<u8> = Rgb([235, 235, 235]);

/// Draws the three middle slices of `image` (with `label` overlaid, if given) under `title`.
pub fn render(
    image: &Volume,
    label: Option<&Volume>,
    title: &str,
    options: &PreviewOptions,
) -> Result<RgbImage, PreviewError> {
    options.check()?;
    let [.., frames] = image.shape4();
    if image.shape4().contains(&0) {
        return Err(PreviewError::Empty);
    }
    if options.frame >= frames {
        return Err(PreviewError::NoSuchFrame { frame: options.frame, frames });
    }
    let intensities = intensity_frame(image, options.frame);
    let canonical = closest_canonical(&image.affine).map_err(PreviewError::Orientation)?;
    let grey = canonical.view(intensities.view());
    let grey_map = GreyMap::new(&intensities, options.window);

    let labels = match label {
        Some(l) => {
            if l.shape3() != image.shape3() {
                return Err(PreviewError::GridMismatch { image: image.shape3(), label: l.shape3() });
            }
            let [.., label_frames] = l.shape4();
            if label_frames == 0 {
                return Err(PreviewError::Empty);
            }
            // A 3D label map goes with every frame; a 4D one with the same frame.
            Some(label_frame(l, options.frame.min(label_frames - 1)))
        }
        None => None,
    };
    let labels_view = labels.as_ref().map(|l| canonical.view(l.view()));
    let legend_entries = labels
        .as_ref()
        .map(|l| legend::entries(&legend::present(l.iter()), &options.label_names))
        .unwrap_or_default();

    let panels = Panel::all(grey.shape(), canonical.spacing(&image.affine));
    let sizes = panel_sizes(&panels, options.panel_height);
    let blocks: Vec<(u32, u32)> = sizes.iter().map(|&(w, h)| (w.max(MIN_BLOCK), h.max(MIN_BLOCK))).collect();
    let tallest_block = blocks.iter().map(|b| b.1).max().unwrap_or(MIN_BLOCK);
    let panels_width = GAP + blocks.iter().map(|b| b.0 + 2 * MARGIN + GAP).sum::<u32>();
    let width = panels_width.max(MIN_WIDTH);
    let legend_top = TITLE_HEIGHT + 2 * MARGIN + tallest_block;
    let legend = LegendLayout::new(&legend_entries, width);
    let height = legend_top + legend.height + GAP;
    let mut canvas = RgbImage::from_pixel(width, height, BACKGROUND);

    let title = if frames > 1 {
        format!("{title}  frame {} of {frames} (from 0)", options.frame)
    } else {
        title.to_owned()
    };
    draw::text(&mut canvas, &title, 6, 4, 16.0, TEXT);
    let mut block_left = GAP;
    for ((panel, &(w, h)), &(block_w, block_h)) in panels.iter().zip(&sizes).zip(&blocks) {
        let left = block_left + MARGIN + (block_w - w) / 2;
        let top = TITLE_HEIGHT + MARGIN + (block_h - h) / 2;
        let pixel_labels: Option<Vec<i128>> = labels_view.as_ref().map(|lv| {
            (0..h)
                .flat_map(|py| (0..w).map(move |px| (px, py)))
                .map(|(px, py)| {
                    let (i, j, k) = panel.voxel_at(px, py, w, h, grey.shape());
                    lv[[i, j, k]]
                })
                .collect()
        });
        for py in 0..h {
            for px in 0..w {
                let (i, j, k) = panel.voxel_at(px, py, w, h, grey.shape());
                let g = grey_map.grey(grey[[i, j, k]]);
                let mut rgb = [g, g, g];
                if let Some(pl) = &pixel_labels {
                    overlay(&mut rgb, pl, (px, py), (w, h), options);
                }
                canvas.put_pixel(left + px, top + py, Rgb(rgb));
            }
        }
        // Letters in the margins: the horizontal axis's left and right, the vertical axis's
        // top and bottom, each centred in its margin.
        let (west, east, north, south) = panel.letters();
        let block_top = TITLE_HEIGHT + MARGIN;
        let mid_y = i64::from(block_top + block_h / 2);
        let mid_x = i64::from(block_left + MARGIN + block_w / 2);
        let half = i64::from(MARGIN / 2);
        draw::text_centred(&mut canvas, west, i64::from(block_left) + half, mid_y, LETTER_SIZE, LETTER);
        draw::text_centred(
            &mut canvas,
            east,
            i64::from(block_left + MARGIN + block_w) + half,
            mid_y,
            LETTER_SIZE,
            LETTER,
        );
        draw::text_centred(&mut canvas, north, mid_x, i64::from(TITLE_HEIGHT) + half, LETTER_SIZE, LETTER);
        draw::text_centred(
            &mut canvas,
            south,
            mid_x,
            i64::from(block_top + block_h) + half,
            LETTER_SIZE,
            LETTER,
        );
        block_left += block_w + 2 * MARGIN + GAP;
    }
    legend.draw(&mut canvas, legend_top);
    Ok(canvas)
}

/// Several previews one under the other (a case's outputs side by side, one row each), on a
/// canvas as wide as the widest.
#[must_use]
pub fn stack(rows: &[RgbImage]) -> RgbImage {
    let width = rows.iter().map(RgbImage::width).max().unwrap_or(1).max(1);
    let height = rows.iter().map(RgbImage::height).sum::<u32>().max(1);
    let mut canvas = RgbImage::from_pixel(width, height, BACKGROUND);
    let mut top = 0;
    for row in rows {
        image::imageops::replace(&mut canvas, row, 0, i64::from(top));
        top += row.height();
    }
    canvas
}

impl PreviewOptions {
    /// Whether the options can draw a preview: a usable window, an opacity from 0 to 1, a panel
    /// height from 16 to 4096 pixels. [`render`] checks this first.
    pub fn check(&self) -> Result<(), PreviewError> {
        let window_ok = match self.window {
            IntensityWindow::Percentiles { low, high } => {
                (0.0..100.0).contains(&low) && low < high && high <= 100.0
            }
            IntensityWindow::Absolute { width, level } => {
                width.is_finite() && width > 0.0 && level.is_finite()
            }
        };
        if !window_ok {
            return Err(PreviewError::BadWindow(self.window));
        }
        if !(0.0..=1.0).contains(&self.label_opacity) {
            return Err(PreviewError::BadOpacity(self.label_opacity));
        }
        if !(16..=4096).contains(&self.panel_height) {
            return Err(PreviewError::BadPanelHeight(self.panel_height));
        }
        Ok(())
    }
}

/// Each panel's size in pixels: one mm-per-pixel scale, the tallest panel `panel_height` high,
/// none wider than four times that.
fn panel_sizes(panels: &[Panel; 3], panel_height: u32) -> Vec<(u32, u32)> {
    let tallest_mm = panels.iter().map(|p| p.extent_mm().1).fold(0.0, f64::max);
    let widest_mm = panels.iter().map(|p| p.extent_mm().0).fold(0.0, f64::max);
    let max_width = 4.0 * f64::from(panel_height);
    let px_per_mm = (f64::from(panel_height) / tallest_mm).min(max_width / widest_mm);
    let pixels = |mm: f64, limit: f64| ((mm * px_per_mm).round().clamp(1.0, limit) as u32).max(1);
    panels
        .iter()
        .map(|p| {
            let (w, h) = p.extent_mm();
            (pixels(w, max_width), pixels(h, f64::from(panel_height)))
        })
        .collect()
}

/// Colours one pixel of a panel by its label: blended when filled, opaque on the outline (a
/// pixel whose 4-neighbour, or the panel's edge, has another label) and untouched inside.
fn overlay(
    rgb: &mut [u8; 3],
    labels: &[i128],
    (px, py): (u32, u32),
    (w, h): (u32, u32),
    options: &PreviewOptions,
) {
    let at = |x: u32, y: u32| labels[(y * w + x) as usize];
    let l = at(px, py);
    if l == 0 {
        return;
    }
    let c = colour(l);
    if options.outline {
        let edge = px == 0 || py == 0 || px + 1 == w || py + 1 == h;
        let boundary =
            edge || at(px - 1, py) != l || at(px + 1, py) != l || at(px, py - 1) != l || at(px, py + 1) != l;
        if boundary {
            *rgb = c;
        }
        return;
    }
    let a = options.label_opacity;
    for (channel, colour) in rgb.iter_mut().zip(c) {
        let mixed = f32::from(*channel) * (1.0 - a) + f32::from(colour) * a;
        *channel = mixed.round().clamp(0.0, 255.0) as u8;
    }
}

/// Where the legend's entries go: a swatch and its text each, flowing in rows under the panels.
struct LegendLayout {
    /// (left, row, colour, text); no colour for the "+N more" note.
    items: Vec<(u32, u32, Option<[u8; 3]>, String)>,
    height: u32,
}

impl LegendLayout {
    fn new(entries: &[(i128, String)], width: u32) -> Self {
        let mut items = Vec::new();
        let (mut x, mut row) = (GAP, 0);
        let shown = if entries.len() > MAX_LEGEND_ENTRIES { MAX_LEGEND_ENTRIES - 1 } else { entries.len() };
        let mut place = |swatch: Option<[u8; 3]>, text: String| {
            let w = SWATCH + 5 + draw::width(&text, LEGEND_TEXT) + 14;
            if x > GAP && x + w > width {
                x = GAP;
                row += 1;
            }
            items.push((x, row, swatch, text));
            x += w;
        };
        for (value, text) in &entries[..shown] {
            place(Some(colour(*value)), text.clone());
        }
        if shown < entries.len() {
            place(None, format!("+{} more labels", entries.len() - shown));
        }
        let height = items.last().map_or(0, |item| (item.1 + 1) * LEGEND_ROW);
        LegendLayout { items, height }
    }

    fn draw(&self, canvas: &mut RgbImage, top: u32) {
        for (x, row, swatch, text) in &self.items {
            let y = top + row * LEGEND_ROW;
            if let Some(c) = swatch {
                for sy in 0..SWATCH {
                    for sx in 0..SWATCH {
                        if x + sx < canvas.width() && y + 3 + sy < canvas.height() {
                            canvas.put_pixel(x + sx, y + 3 + sy, Rgb(*c));
                        }
                    }
                }
            }
            let text_x = if swatch.is_some() { x + SWATCH + 5 } else { *x };
            draw::text(canvas, text, text_x, y + 1, LEGEND_TEXT, TEXT);
        }
    }
}

/// The title researchers expect under a preview: file name, shape, spacing and dtype.
#[must_use]
pub fn describe(name: &str, volume: &Volume) -> String {
    let s = volume.shape4();
    let shape = if s[3] == 1 {
        format!("{}x{}x{}", s[0], s[1], s[2])
    } else {
        format!("{}x{}x{}x{}", s[0], s[1], s[2], s[3])
    };
    let [a, b, c] = volume.spacing();
    format!("{name}  {shape}  {a:.2}x{b:.2}x{c:.2} mm  {}", volume.stored_dtype)
}

/// One of the three orthogonal slices through the centre, on canonical (RAS) axes.
#[derive(Debug, Clone, Copy)]
struct Panel {
    /// The canonical axis held fixed at its middle (0 sagittal, 1 coronal, 2 axial).
    fixed: usize,
    spacing: [f64; 3],
    shape: [usize; 3],
}

impl Panel {
    fn all(shape: &[usize], spacing: [f64; 3]) -> [Panel; 3] {
        let shape = [shape[0], shape[1], shape[2]];
        [0, 1, 2].map(|fixed| Panel { fixed, spacing, shape })
    }

    /// (horizontal, vertical) canonical axes of the panel.
    fn axes(self) -> (usize, usize) {
        match self.fixed {
            0 => (1, 2), // sagittal: posterior → anterior, inferior → superior
            1 => (0, 2), // coronal: patient right on the viewer's left, superior up
            _ => (0, 1), // axial: patient right on the viewer's left, anterior up
        }
    }

    fn extent_mm(self) -> (f64, f64) {
        let (h, v) = self.axes();
        (self.shape[h] as f64 * self.spacing[h], self.shape[v] as f64 * self.spacing[v])
    }

    /// The canonical voxel shown at pixel (px, py) of a `w` x `h` panel (nearest voxel centre).
    fn voxel_at(self, px: u32, py: u32, w: u32, h: u32, shape: &[usize]) -> (usize, usize, usize) {
        let (ha, va) = self.axes();
        let along = |pixel: u32, pixels: u32, n: usize| -> usize {
            (((f64::from(pixel) + 0.5) / f64::from(pixels) * n as f64) as usize).min(n - 1)
        };
        let mut index = [shape[0] / 2, shape[1] / 2, shape[2] / 2];
        let hi = along(px, w, shape[ha]);
        // Radiological convention: canonical +x is the patient's right, shown on the left.
        index[ha] = if ha == 0 { shape[0] - 1 - hi } else { hi };
        // Image rows run downwards; superior (or anterior) is up.
        index[va] = shape[va] - 1 - along(py, h, shape[va]);
        (index[0], index[1], index[2])
    }

    /// The letters at the panel's left, right, top and bottom.
    fn letters(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self.fixed {
            0 => ("P", "A", "S", "I"),
            1 => ("R", "L", "S", "I"),
            _ => ("R", "L", "A", "P"),
        }
    }
}

/// The grey-level mapping of a window.
struct GreyMap {
    low: f32,
    high: f32,
}

impl GreyMap {
    fn new(values: &ndarray::Array3<f32>, window: IntensityWindow) -> GreyMap {
        match window {
            IntensityWindow::Percentiles { low, high } => percentile_window(values, low, high),
            IntensityWindow::Absolute { width, level } => {
                GreyMap { low: (level - width / 2.0) as f32, high: (level + width / 2.0) as f32 }
            }
        }
    }

    fn grey(&self, v: f32) -> u8 {
        if !v.is_finite() {
            return 0;
        }
        if self.high <= self.low || !(self.high - self.low).is_finite() {
            return if v >= self.high { 255 } else { 0 };
        }
        (((v - self.low) / (self.high - self.low)).clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// numpy's default (linear) percentiles of the finite voxels, by selection.
fn percentile_window(values: &ndarray::Array3<f32>, low: f64, high: f64) -> GreyMap {
    let mut finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return GreyMap { low: 0.0, high: 1.0 };
    }
    let mut at = |q: f64| -> f32 {
        let position = q / 100.0 * (finite.len() - 1) as f64;
        let below = position.floor() as usize;
        let fraction = (position - below as f64) as f32;
        let (_, &mut a, rest) = finite.select_nth_unstable_by(below, f32::total_cmp);
        let b = if fraction > 0.0 { rest.iter().copied().fold(f32::INFINITY, f32::min) } else { a };
        a + (b - a) * fraction
    };
    GreyMap { low: at(low), high: at(high) }
}

fn intensity_frame(volume: &Volume, frame: usize) -> ndarray::Array3<f32> {
    match &volume.voxels {
        Voxels::Image(a) => a.index_axis(Axis(3), frame).to_owned(),
        Voxels::Label(l) => with_labels!(l, |a: T| a.index_axis(Axis(3), frame).mapv(|v| v.to_i128() as f32)),
    }
}

fn label_frame(volume: &Volume, frame: usize) -> ndarray::Array3<i128> {
    match &volume.voxels {
        // An image given as the overlay: its rounded values are the labels.
        Voxels::Image(a) => {
            a.index_axis(Axis(3), frame).mapv(|v| if v.is_finite() { v.round() as i128 } else { 0 })
        }
        Voxels::Label(l) => with_labels!(l, |a: T| a.index_axis(Axis(3), frame).mapv(LabelType::to_i128)),
    }
}

/// Views a 3D array on canonical axes.
impl Canonical {
    #[must_use]
    pub fn view<'a, T>(&self, data: ArrayView3<'a, T>) -> ArrayView3<'a, T> {
        let mut v = data.permuted_axes(self.source_axis);
        for (axis, &flip) in self.flip.iter().enumerate() {
            if flip {
                v.invert_axis(Axis(axis));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn window_matches_numpy_linear_percentiles() {
        // numpy.percentile(arange(11.), [5, 95]) == [0.5, 9.5]
        let values = Array3::from_shape_fn((11, 1, 1), |(i, _, _)| i as f32);
        let w = percentile_window(&values, 5.0, 95.0);
        assert!((w.low - 0.5).abs() < 1e-6 && (w.high - 9.5).abs() < 1e-6, "{} {}", w.low, w.high);
    }

    #[test]
    fn radiological_convention_puts_patient_right_on_the_left() {
        let panel = Panel { fixed: 2, spacing: [1.0; 3], shape: [10, 10, 10] };
        // Leftmost pixel column shows the largest x (the patient's right in RAS).
        assert_eq!(panel.voxel_at(0, 0, 10, 10, &[10, 10, 10]).0, 9);
        // Top row shows the largest y (anterior).
        assert_eq!(panel.voxel_at(0, 0, 10, 10, &[10, 10, 10]).1, 9);
    }
}
