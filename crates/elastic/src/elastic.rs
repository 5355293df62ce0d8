//! The graph nodes: `elastic` (a concrete deformation: model parameters and a seed) and
//! `random_elastic` (draws one).
//!
//! ```json
//! {"name": "warp", "op": "random_elastic", "params": {"p": 0.5, "model": {"type": "simard", "alpha": [0, 900], "sigma": [9, 13]}}},
//! {"name": "image_warped", "op": "apply", "inputs": {"volume": "image", "draw": "warp"}},
//! {"name": "label_warped", "op": "apply", "inputs": {"volume": "label", "draw": "warp"}}
//! ```
//!
//! The drawn op holds only the model parameters and a seed; the dense field is generated the
//! first time a branch needs it and cached inside the op (keyed by grid shape and spacing), so
//! image and label share one field, computed once. Elastic never resamples by itself: on a
//! volume it returns a [`Deferred`] with the identity matrix and the field; on a deferred
//! value (the output of rotate, scale, ...) it adds its field to the pending resample, so the
//! affine and the deformation cost one resample together (as batchgenerators does). Label maps
//! are resampled with nearest or label interpolation, so they never gain values.

use crate::control_grid::{ControlGridParams, control_grid_separable};
use crate::error::ElasticError;
use crate::simard::{SimardParams, SimardRange, simard_separable};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};
use voxflow_core::random::RandomOp;
use voxflow_core::{
    Deferred, DisplacementField, Inputs, Kind, Op, OpError, ResampleSpec, RunContext, Value, Volume,
};
use voxflow_geometry::spatial::Resampling;

/// Which field model, with its parameters. In parameters, an object tagged by `type`.
///
/// ```
/// use voxflow_elastic::{Model, SimardParams};
/// let model: Model = serde_json::from_str(r#"{"type": "simard", "alpha": 4, "sigma": 35}"#)?;
/// assert_eq!(model, Model::Simard(SimardParams { alpha: 4.0, sigma: 35.0 }));
/// assert_eq!(Model::default(), Model::Identity);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Model {
    /// No deformation (what `random_elastic` draws when its probability says skip).
    #[default]
    Identity,
    /// The tutorial's smoothed-noise model ([`crate::simard`]).
    Simard(SimardParams),
    /// TorchIO's B-spline control grid ([`crate::control_grid`]).
    ControlGrid(ControlGridParams),
}

impl Model {
    fn validate(&self) -> Result<(), ElasticError> {
        match self {
            Model::Identity => Ok(()),
            Model::Simard(p) => p.validate(),
            Model::ControlGrid(p) => p.validate(),
        }
    }

    /// True when the field is zero everywhere (the op passes volumes through untouched).
    #[must_use]
    pub(crate) fn is_identity(&self) -> bool {
        match self {
            Model::Identity => true,
            Model::Simard(p) => p.alpha == 0.0,
            Model::ControlGrid(p) => p.is_identity(),
        }
    }
}

type CacheKey = ([usize; 3], [u64; 3]);

/// The generated field, kept inside a drawn op so every branch that applies it shares it.
#[derive(Default)]
struct FieldCache(Mutex<Option<(CacheKey, Arc<dyn DisplacementField>)>>);

impl std::fmt::Debug for FieldCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FieldCache")
    }
}

/// A concrete elastic deformation: a model, its parameters and the seed of its noise.
///
/// ```json
/// {"name": "warp", "op": "elastic", "params": {"model": {"type": "simard", "alpha": 4, "sigma": 35}, "seed": 7, "fill": 0.1}}
/// ```
///
/// The resampling settings ([`Resampling`]: `interpolation` (images, default `linear`),
/// `label_interpolation` (default `nearest`), `mode`, `fill`, `label_fill`) sit beside the
/// model, as in every spatial op. `Default` is the identity (`model` `Identity`, seed 0,
/// default resampling); build other deformations with [`Elastic::new`] (the field cache is
/// private, so struct update syntax does not reach it).
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_elastic::Elastic;
/// let mask = ndarray::Array3::<u8>::from_shape_fn((8, 8, 8), |(i, _, _)| u8::from(i > 3));
/// let label = Volume::label3(mask, Affine::identity());
/// assert_eq!(Elastic::default().apply(&label)?, label);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Elastic {
    /// The field model and its parameters.
    pub model: Model,
    /// Seed of the field's random numbers. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Interpolation settings.
    #[serde(flatten)]
    pub resampling: Resampling,
    #[serde(skip)]
    cache: FieldCache,
}

impl Clone for Elastic {
    fn clone(&self) -> Self {
        Elastic::new(self.model, self.seed, self.resampling)
    }
}

impl PartialEq for Elastic {
    fn eq(&self, other: &Self) -> bool {
        self.model == other.model && self.seed == other.seed && self.resampling == other.resampling
    }
}

impl Elastic {
    /// An op of this model, seed and resampling settings (what a graph's `elastic` params
    /// give, and what `random_elastic` draws).
    ///
    /// ```
    /// use voxflow_elastic::{ControlGridParams, Elastic, Model};
    /// let grid = Elastic::new(Model::ControlGrid(ControlGridParams::default()), 11, Default::default());
    /// let json = serde_json::json!({"model": {"type": "control_grid"}, "seed": 11});
    /// assert_eq!(serde_json::from_value::<Elastic>(json)?, grid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn new(model: Model, seed: u64, resampling: Resampling) -> Self {
        Elastic { model, seed, resampling, cache: FieldCache::default() }
    }

    /// The dense displacement on a grid of `shape` with voxel `spacing` (mm): `[x, y, z, 3]`
    /// in voxels, or `None` when the model does not deform. Computed once per grid and cached.
    ///
    /// ```
    /// use voxflow_elastic::{Elastic, Model, SimardParams};
    /// let op = |alpha| {
    ///     Elastic::new(Model::Simard(SimardParams { alpha, sigma: 5.0 }), 1, Default::default())
    /// };
    /// assert!(op(0.0).field([8, 8, 8], [1.0; 3])?.is_none()); // zero magnitude: the identity
    /// let field = op(50.0).field([8, 8, 8], [1.0; 3])?.expect("a deformation");
    /// assert_eq!(field.shape(), [8, 8, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn field(
        &self,
        shape: [usize; 3],
        spacing: [f64; 3],
    ) -> Result<Option<Arc<dyn DisplacementField>>, ElasticError> {
        self.model.validate()?;
        if self.model.is_identity() {
            return Ok(None);
        }
        let key = (shape, spacing.map(f64::to_bits));
        // Held while generating, so a second branch waits for the first one's field.
        let mut cache = self.cache.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((k, field)) = cache.as_ref()
            && *k == key
        {
            return Ok(Some(Arc::clone(field)));
        }
        let field: Arc<dyn DisplacementField> = Arc::new(match &self.model {
            Model::Simard(p) => simard_separable(shape, p, self.seed)?,
            Model::ControlGrid(p) => control_grid_separable(shape, spacing, p, self.seed)?,
            Model::Identity => return Ok(None),
        });
        *cache = Some((key, Arc::clone(&field)));
        Ok(Some(field))
    }

    /// Deforms a volume now (outside a graph): one resample through the geometry crate's core.
    /// A label map is resampled with `label_interpolation` (nearest by default), so it gains
    /// no value.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_elastic::{Elastic, Model, SimardParams};
    /// let mask = ndarray::Array3::<u8>::from_shape_fn((16, 16, 16), |(x, y, _)| u8::from(x > 5 && y > 5));
    /// let mask = Volume::label3(mask, Affine::identity());
    /// let model = Model::Simard(SimardParams { alpha: 400.0, sigma: 4.0 });
    /// let op = Elastic::new(model, 3, Default::default());
    /// let warped = op.apply_to(&mask)?;
    /// let voxflow_core::LabelArray::U8(values) = warped.labels()? else { panic!("uint8 kept") };
    /// assert!(values.iter().all(|&v| v <= 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_to(&self, volume: &Volume) -> Result<Volume, ElasticError> {
        self.resampling.validate()?;
        let (interpolation, fill) = self.resampling.for_kind(volume.kind());
        let mut spec = ResampleSpec::identity(volume, interpolation, self.resampling.mode, fill);
        match self.field(spec.shape, voxflow_core::volume::spacing(&spec.affine))? {
            None => Ok(volume.clone()),
            Some(field) => {
                spec.field = Some(field);
                Ok(voxflow_geometry::resample::resample_volume(volume, &spec)?)
            }
        }
    }

    /// [`apply_to`](Self::apply_to) with the error as an [`OpError`], as the other op crates'
    /// `apply`: deforms a volume in one call.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_elastic::{Elastic, Model, SimardParams};
    /// let ramp = ndarray::Array3::from_shape_fn((12, 12, 12), |(x, _, _)| x as f32);
    /// let image = Volume::image3(ramp, Affine::identity());
    /// let model = Model::Simard(SimardParams { alpha: 300.0, sigma: 4.0 });
    /// let op = Elastic::new(model, 5, Default::default());
    /// assert_eq!(op.apply(&image)?, op.apply_to(&image)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        Ok(self.apply_to(volume)?)
    }

    /// Adds this deformation to a volume: the identity resample with the field, not yet done.
    /// `None` when the model does not deform.
    pub(crate) fn defer_volume(&self, volume: Arc<Volume>) -> Result<Value, ElasticError> {
        let (interpolation, fill) = self.resampling.for_kind(volume.kind());
        let mut spec = ResampleSpec::identity(&volume, interpolation, self.resampling.mode, fill);
        match self.field(spec.shape, voxflow_core::volume::spacing(&spec.affine))? {
            None => Ok(Value::Volume(volume)),
            Some(field) => {
                spec.field = Some(field);
                Ok(Value::Deferred(Deferred { source: volume, spec }))
            }
        }
    }

    /// Adds this deformation to a pending resample that has no field yet; the field lives on
    /// the pending output grid, so the matrix and the field make one resample.
    /// As the geometry crate's `defer`, the chain keeps the finest interpolation asked along it,
    /// and this op's mode and fill.
    pub(crate) fn defer_pending(&self, mut pending: Deferred) -> Result<Deferred, ElasticError> {
        debug_assert!(pending.spec.field.is_none());
        let (interpolation, fill) = self.resampling.for_kind(pending.source.kind());
        pending.spec.interpolation =
            voxflow_geometry::spatial::finest(pending.spec.interpolation, interpolation);
        pending.spec.mode = self.resampling.mode;
        pending.spec.fill = fill;
        let spacing = voxflow_core::volume::spacing(&pending.spec.affine);
        pending.spec.field = self.field(pending.spec.shape, spacing)?;
        Ok(pending)
    }
}

voxflow_core::op_doc!(
    "elastic",
    Elastic,
    "Elastic deformation with a fixed field model (`simard` or `control_grid`) and seed; an augmentation: voxels move, the affine is kept.",
    r#"{"model": {"type": "simard", "alpha": 4.0, "sigma": 35.0}}"#
);

#[typetag::serde(name = "elastic")]
impl Op for Elastic {
    fn validate(&self) -> Result<(), OpError> {
        self.model.validate()?;
        Ok(self.resampling.validate()?)
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        let input = inputs.take("volume")?;
        if self.model.is_identity() {
            return Ok(input);
        }
        match input {
            Value::Volume(volume) => Ok(self.defer_volume(volume)?),
            Value::Deferred(pending) if pending.spec.field.is_none() => {
                Ok(Value::Deferred(self.defer_pending(pending)?))
            }
            // Two deformations in a row: the first is resampled, then this one is added.
            Value::Deferred(pending) => Ok(self.defer_volume(Arc::new((ctx.materialize)(&pending)?))?),
            Value::Draw(_) => {
                Err(OpError::Input { port: "volume".into(), message: "expected a volume, got a draw".into() })
            }
        }
    }
}

/// The ranges a random draw takes its model parameters from.
///
/// ```
/// use voxflow_elastic::{RandomModel, SimardRange};
/// assert_eq!(RandomModel::default(), RandomModel::Simard(SimardRange::default()));
/// let grid: RandomModel = serde_json::from_str(r#"{"type": "control_grid", "max_displacement": 10}"#)?;
/// let RandomModel::ControlGrid(params) = grid else { panic!("a control grid") };
/// assert_eq!(params.max_displacement, [10.0; 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RandomModel {
    /// Simard: alpha and sigma uniform in their ranges.
    Simard(SimardRange),
    /// Control grid: each control point's displacement uniform in
    /// `[-max_displacement, max_displacement]` (these parameters are the distribution).
    ControlGrid(ControlGridParams),
}

/// Simard with batchgenerators' ranges (alpha in `[0, 900]`, sigma in `[9, 13]`).
impl Default for RandomModel {
    fn default() -> Self {
        RandomModel::Simard(SimardRange::default())
    }
}

/// Draws an elastic deformation: with probability `p`, model parameters from their ranges
/// and a fresh seed; otherwise the identity. Apply the draw with `apply` to an image and its
/// label map: they get the same field.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::{Affine, Volume};
/// use voxflow_elastic::RandomElastic;
/// let ramp = ndarray::Array3::from_shape_fn((12, 12, 12), |(x, _, _)| x as f32);
/// let mask = Volume::label3(ramp.mapv(|v| u8::from(v > 5.0)), Affine::identity());
/// let image = Volume::image3(ramp, Affine::identity());
/// let draw = RandomElastic::default().sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
/// let (image, mask) = (draw.apply(&image)?, draw.apply(&mask)?); // one field for both
/// assert_eq!(image.shape3(), mask.shape3());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomElastic {
    /// Probability of deforming at all. Default 1.
    #[serde(default = "voxflow_core::params::default_p")]
    pub p: f64,
    /// Model and parameter ranges. Default Simard with batchgenerators' ranges.
    #[serde(default)]
    pub model: RandomModel,
    /// Interpolation settings, handed to the drawn op.
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// Always deforms (`p` 1), Simard with batchgenerators' ranges, the default resampling.
impl Default for RandomElastic {
    fn default() -> Self {
        RandomElastic {
            p: voxflow_core::params::default_p(),
            model: RandomModel::default(),
            resampling: Resampling::default(),
        }
    }
}

impl RandomElastic {
    /// Draws the concrete op. Always consumes the same numbers from `rng` (probability, model
    /// parameters, seed), whether or not the draw deforms.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_elastic::{Model, RandomElastic};
    /// let random = RandomElastic::default();
    /// let draw = |seed| random.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    /// assert_eq!(draw(4), draw(4)); // the same seed, the same draw
    /// assert_ne!(draw(4), draw(5));
    /// let skip = RandomElastic { p: 0.0, ..Default::default() };
    /// assert_eq!(skip.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(4)).model, Model::Identity);
    /// ```
    pub fn sample(&self, rng: &mut impl rand::Rng) -> Elastic {
        let deform = rng.random::<f64>() < self.p;
        let model = match &self.model {
            RandomModel::Simard(range) => Model::Simard(range.sample(rng)),
            RandomModel::ControlGrid(params) => Model::ControlGrid(*params),
        };
        let seed = rng.random::<u64>();
        if deform {
            Elastic::new(model, seed, self.resampling)
        } else {
            Elastic::new(Model::Identity, 0, self.resampling)
        }
    }
}

voxflow_core::op_doc!(
    "random_elastic",
    RandomElastic,
    "Draws an elastic deformation (with probability `p`, model parameters from their ranges and a fresh seed); apply the draw with `apply`. An augmentation: the affine is kept.",
    "{}"
);

impl RandomOp for RandomElastic {
    type Drawn = Elastic;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        voxflow_core::params::check_p(self.p)?;
        match &self.model {
            RandomModel::Simard(range) => range.validate()?,
            RandomModel::ControlGrid(params) => params.validate()?,
        }
        Ok(self.resampling.validate()?)
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<Elastic, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_elastic")]
impl Op for RandomElastic {
    voxflow_core::random_op_node!(RandomElastic);
}
