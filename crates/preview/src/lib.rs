//! Pictures of volumes, the way researchers check an augmentation by eye.
//!
//! [`render`] draws the three middle slices (sagittal, coronal, axial) side by side, in world
//! orientation read from the affine: the volume is brought to the closest canonical (RAS)
//! orientation (voxflow-core's `io_orientation`, nibabel 5.4.2) by axis permutation and flips only (no interpolation, like nibabel's
//! `as_closest_canonical`), then displayed in the radiological convention: superior up,
//! anterior up in the axial view, and the patient's right on the viewer's left in the coronal and
//! axial views (marked with R/L letters). Each panel respects the voxel spacing, so an
//! anisotropic volume is not squashed. Intensities are windowed by percentiles; a label map is
//! overlaid in distinct translucent colours.

mod draw;
mod orient;
pub mod report;

pub use orient::{Canonical, closest_canonical};

use image::{Rgb, RgbImage};
use ndarray::{ArrayView3, Axis};
use thiserror::Error;
use voxflow_core::{LabelType, Volume, Voxels, with_labels};

/// How a preview is drawn.
#[derive(Debug, Clone)]
pub struct PreviewOptions {
    /// Intensity window as percentiles of the volume's voxels: below the first is black, above
    /// the second white.
    pub window_percentiles: (f64, f64),
    /// Opacity of the label overlay, 0 to 1.
    pub label_opacity: f32,
    /// Height in pixels of the tallest panel (the others keep the same mm-per-pixel scale).
    pub panel_height: u32,
    /// Which frame of a 4D volume to show.
    pub frame: usize,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        PreviewOptions { window_percentiles: (0.5, 99.5), label_opacity: 0.45, panel_height: 256, frame: 0 }
    }
}

/// A preview could not be drawn.
#[derive(Debug, Error)]
pub enum PreviewError {
    #[error("the label map's grid {label:?} differs from the image's {image:?}")]
    GridMismatch { image: [usize; 3], label: [usize; 3] },
    #[error("frame {frame} requested, but the volume has {frames}")]
    NoSuchFrame { frame: usize, frames: usize },
    #[error("the window percentiles must satisfy 0 <= low < high <= 100, got {0:?}")]
    BadWindow((f64, f64)),
    #[error("the volume has no voxels")]
    Empty,
    #[error("no orientation can be read from the image's affine")]
    Orientation(#[source] voxflow_core::OrientationError),
}

/// The colours of labels 1, 2, 3, ... (label 0 is background and not drawn). Matplotlib's
/// `tab10`, distinct for the common few tissue classes.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

const TITLE_HEIGHT: u32 = 26;
const GAP: u32 = 8;
const BACKGROUND: Rgb<u8> = Rgb([0, 0, 0]);

/// Draws the three middle slices of `image` (with `label` overlaid, if given) under `title`.
pub fn render(
    image: &Volume,
    label: Option<&Volume>,
    title: &str,
    options: &PreviewOptions,
) -> Result<RgbImage, PreviewError> {
    let (low, high) = options.window_percentiles;
    if !((0.0..100.0).contains(&low) && low < high && high <= 100.0) {
        return Err(PreviewError::BadWindow(options.window_percentiles));
    }
    let frames = image.shape4()[3];
    if options.frame >= frames {
        return Err(PreviewError::NoSuchFrame { frame: options.frame, frames });
    }
    let intensities = intensity_frame(image, options.frame);
    if intensities.is_empty() {
        return Err(PreviewError::Empty);
    }
    let canonical = closest_canonical(&image.affine).map_err(PreviewError::Orientation)?;
    let grey = canonical.view(intensities.view());
    let window = percentile_window(&intensities, low, high);

    let labels = match label {
        Some(l) => {
            if l.shape3() != image.shape3() {
                return Err(PreviewError::GridMismatch { image: image.shape3(), label: l.shape3() });
            }
            Some(label_frame(l, options.frame.min(l.shape4()[3] - 1)))
        }
        None => None,
    };
    let labels_view = labels.as_ref().map(|l| canonical.view(l.view()));

    let spacing = canonical.spacing(&image.affine);
    let panels = Panel::all(grey.shape(), spacing);
    let tallest_mm = panels.iter().map(|p| p.extent_mm().1).fold(0.0, f64::max);
    let px_per_mm = f64::from(options.panel_height) / tallest_mm;

    let sizes: Vec<(u32, u32)> = panels
        .iter()
        .map(|p| {
            let (w, h) = p.extent_mm();
            (((w * px_per_mm).round() as u32).max(1), ((h * px_per_mm).round() as u32).max(1))
        })
        .collect();
    let width = sizes.iter().map(|s| s.0).sum::<u32>() + GAP * (sizes.len() as u32 + 1);
    let height = TITLE_HEIGHT + sizes.iter().map(|s| s.1).max().unwrap_or(1) + GAP;
    let mut canvas = RgbImage::from_pixel(width.max(320), height, BACKGROUND);

    draw::text(&mut canvas, title, 6, 4, 16.0, Rgb([235, 235, 235]));
    let mut left = GAP;
    for (panel, &(w, h)) in panels.iter().zip(&sizes) {
        let top = TITLE_HEIGHT;
        for py in 0..h {
            for px in 0..w {
                let (i, j, k) = panel.voxel_at(px, py, w, h, grey.shape());
                let v = grey[[i, j, k]];
                let g = window.grey(v);
                let mut rgb = [g, g, g];
                if let Some(lv) = &labels_view {
                    let l = lv[[i, j, k]];
                    if l != 0 {
                        let c = PALETTE[((l - 1).rem_euclid(PALETTE.len() as i128)) as usize];
                        for (channel, colour) in rgb.iter_mut().zip(c) {
                            let mixed = f32::from(*channel) * (1.0 - options.label_opacity)
                                + f32::from(colour) * options.label_opacity;
                            *channel = mixed.round().clamp(0.0, 255.0) as u8;
                        }
                    }
                }
                canvas.put_pixel(left + px, top + py, Rgb(rgb));
            }
        }
        let (start, end) = panel.side_letters();
        let letter = Rgb([255, 220, 0]);
        draw::text(&mut canvas, start, left + 3, top + h / 2 - 7, 14.0, letter);
        draw::text(&mut canvas, end, left + w.saturating_sub(12), top + h / 2 - 7, 14.0, letter);
        left += w + GAP;
    }
    Ok(canvas)
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

    fn side_letters(self) -> (&'static str, &'static str) {
        match self.fixed {
            0 => ("P", "A"),
            _ => ("R", "L"),
        }
    }
}

/// The grey-level mapping of a percentile window.
struct Window {
    low: f32,
    high: f32,
}

impl Window {
    fn grey(&self, v: f32) -> u8 {
        if !v.is_finite() {
            return 0;
        }
        if self.high <= self.low {
            return if v >= self.high { 255 } else { 0 };
        }
        (((v - self.low) / (self.high - self.low)).clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// numpy's default (linear) percentiles of the finite voxels, by selection.
fn percentile_window(values: &ndarray::Array3<f32>, low: f64, high: f64) -> Window {
    let mut finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return Window { low: 0.0, high: 1.0 };
    }
    let mut at = |q: f64| -> f32 {
        let position = q / 100.0 * (finite.len() - 1) as f64;
        let below = position.floor() as usize;
        let fraction = (position - below as f64) as f32;
        let (_, &mut a, rest) = finite.select_nth_unstable_by(below, f32::total_cmp);
        let b = if fraction > 0.0 { rest.iter().copied().fold(f32::INFINITY, f32::min) } else { a };
        a + (b - a) * fraction
    };
    Window { low: at(low), high: at(high) }
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
