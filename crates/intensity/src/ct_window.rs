//! `ct_window`: clips a CT image (in Hounsfield units) to a window given by its level
//! (centre) and width, optionally rescaling the window to `[0, 1]`.
//!
//! ```json
//! {"name": "brain", "op": "ct_window", "params": {"preset": "brain"}, "inputs": {"volume": "ct"}}
//! {"name": "custom", "op": "ct_window", "params": {"level": 60, "width": 400, "rescale": true}, "inputs": {"volume": "ct"}}
//! ```
//!
//! The window is `[level - width/2, level + width/2]`. Presets (level / width, HU), the usual
//! radiology values (Radiopaedia's "windowing (CT)"; subdural as in the RSNA intracranial
//! haemorrhage challenge):
//!
//! | preset | level | width |
//! |---|---|---|
//! | `brain` | 40 | 80 |
//! | `subdural` | 80 | 200 |
//! | `stroke` | 40 | 40 |
//! | `temporal_bone` | 600 | 2800 |
//! | `lung` | -600 | 1500 |
//! | `mediastinum` | 50 | 350 |
//! | `soft_tissue` | 50 | 350 |
//! | `abdomen` | 40 | 400 |
//! | `liver` | 30 | 150 |
//! | `bone` | 400 | 1800 |

use crate::IntensityError;
use crate::clip::clip_one;
use crate::node::{IMAGE_PORTS, map_image_voxels, take_image};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Inputs, Op, OpError, Port, RunContext, Value, Volume};

/// A named CT window.
///
/// ```
/// use voxflow_intensity::ct_window::{CtPreset, CtWindow};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let lung = CtWindow { preset: Some(CtPreset::Lung), rescale: true, ..Default::default() };
/// assert!(lung.apply(&volume)?.image()?.iter().all(|&v| (0.0..=1.0).contains(&v)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CtPreset {
    Brain,
    Subdural,
    Stroke,
    TemporalBone,
    Lung,
    Mediastinum,
    SoftTissue,
    Abdomen,
    Liver,
    Bone,
}

impl CtPreset {
    /// `(level, width)` in HU.
    #[must_use]
    pub(crate) fn level_width(self) -> (f64, f64) {
        match self {
            CtPreset::Brain => (40.0, 80.0),
            CtPreset::Subdural => (80.0, 200.0),
            CtPreset::Stroke => (40.0, 40.0),
            CtPreset::TemporalBone => (600.0, 2800.0),
            CtPreset::Lung => (-600.0, 1500.0),
            CtPreset::Mediastinum | CtPreset::SoftTissue => (50.0, 350.0),
            CtPreset::Abdomen => (40.0, 400.0),
            CtPreset::Liver => (30.0, 150.0),
            CtPreset::Bone => (400.0, 1800.0),
        }
    }
}

/// Parameters of `ct_window`: a `preset`, or `level` and `width`. `CtWindow::default()`, the
/// graph's defaults, names no window yet: set one of them.
///
/// ```
/// use voxflow_intensity::ct_window::CtWindow;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let window = CtWindow { level: Some(10.0), width: Some(8.0), ..Default::default() };
/// let image = window.apply(&volume)?;
/// assert!(image.image()?.iter().all(|&v| (6.0..=14.0).contains(&v)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CtWindow {
    /// A named window (see the table above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<CtPreset>,
    /// Window centre in HU (with `width`, instead of a preset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// Window width in HU, > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// Map the window to `[0, 1]` after clipping. Default false (values stay in HU).
    #[serde(default)]
    pub rescale: bool,
}

impl CtWindow {
    /// The window `[low, high]` in HU.
    pub(crate) fn bounds(&self) -> Result<(f64, f64), IntensityError> {
        let (level, width) = match (self.preset, self.level, self.width) {
            (Some(p), None, None) => p.level_width(),
            (None, Some(l), Some(w)) => (l, w),
            (Some(_), _, _) => {
                return Err(IntensityError::param(
                    "preset",
                    "give either a preset or level and width, not both",
                ));
            }
            (None, None, _) => {
                return Err(IntensityError::param("level", "missing: give a preset or level and width"));
            }
            (None, Some(_), None) => {
                return Err(IntensityError::param("width", "missing: give it with level"));
            }
        };
        if !level.is_finite() {
            return Err(IntensityError::param("level", format!("must be finite, got {level}")));
        }
        if !(width.is_finite() && width > 0.0) {
            return Err(IntensityError::param("width", format!("must be finite and > 0, got {width}")));
        }
        Ok((level - width / 2.0, level + width / 2.0))
    }

    /// Clips an image to the window (rescaled to `[0, 1]` with `rescale`): the `ct_window`
    /// node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::ct_window::{CtPreset, CtWindow};
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let brain = CtWindow { preset: Some(CtPreset::Brain), rescale: true, ..Default::default() };
    /// let image = brain.apply(&volume)?; // level 40, width 80: the window is [0, 80] HU
    /// assert!((image.image()?[[7, 7, 7, 0]] - 21.0 / 80.0).abs() < 1e-6);
    /// assert!(CtWindow::default().apply(&volume).is_err()); // no window given
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Clips a voxel to `[low, high]` and, with `rescale`, maps that interval to `[0, 1]`.
fn window_fn(low: f64, high: f64, rescale: bool) -> impl Fn(f32) -> f32 + Sync {
    let (lo, hi) = (low as f32, high as f32);
    let scale = 1.0 / (high - low);
    move |v| {
        let c = clip_one(v, lo, hi);
        if rescale { ((f64::from(c) - low) * scale) as f32 } else { c }
    }
}

voxflow_core::op_doc!(
    "ct_window",
    CtWindow,
    "Clips a CT image to a window (a named `preset` or `level` and `width` in HU), optionally rescaled to [0, 1]; intensity only.",
    r#"{"preset": "brain"}"#
);

#[typetag::serde(name = "ct_window")]
impl Op for CtWindow {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        self.bounds()?;
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        let (low, high) = self.bounds()?;
        let volume = take_image(&mut inputs)?;
        map_image_voxels(volume, |_, _| Ok(window_fn(low, high, self.rescale)))
    }
}
