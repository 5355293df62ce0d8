//! `rician_noise` / `random_rician_noise`: Rician noise, the magnitude of a complex signal
//! with Gaussian noise on both channels, `y = sqrt((x + n1)² + n2²)`, `n1, n2 ~ N(mean, std²)`
//! independent per voxel.
//!
//! ```json
//! {"name": "r", "op": "random_rician_noise", "params": {"std": [0, 0.1], "p": 0.1}},
//! {"name": "image_r", "op": "apply", "inputs": {"volume": "image", "draw": "r"}}
//! ```
//!
//! The definition is MONAI's `RandRicianNoise(prob, mean=0.0, std=1.0, sample_std=True)`
//! (`monai/transforms/intensity/array.py`: `np.sqrt((img + noise1) ** 2 + noise2 ** 2)`, both
//! noises `R.normal(mean, std)`) and batchgenerators' `augment_rician_noise`
//! (`batchgenerators/augmentations/noise_augmentations.py`, which multiplies the result by
//! `np.sign(x)`: `signed: true`). Computed in f64, rounded to f32.
//!
//! The drawn op stores only a seed, and the noise is generated as `noise` generates it
//! ([`crate::noise`]: per chunk of [`NOISE_CHUNK`](crate::noise::NOISE_CHUNK) voxels, a
//! ChaCha8 stream `frame << 40 | chunk`, Marsaglia's polar method), `n1` then `n2` for each
//! voxel in turn: the same bits for any number of threads. The draw can not be numpy's.
//!
//! `random_rician_noise` draws `std` uniform in `std` (default `[0, 1]`: MONAI's
//! `sample_std=True` draws `uniform(0, std)` with `std=1.0`) and `mean` uniform in `mean`
//! (default `[0, 0]`); a draw that `p` skips is an empty `chain`, the identity. MONAI's `relative` (std times the image's std) and `channel_wise` are
//! not offered.

use crate::node::{IMAGE_PORTS, map_image, take_image};
use crate::noise::map_with_normals;
use ndarray::{Array3, ArrayView3};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::compose::Chain;
use voxflow_core::params::{check_nonnegative_range, check_p, check_range, default_p};
use voxflow_core::random::{OneOf, happens, uniform};
use voxflow_core::seed::Rng;
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `rician_noise` (also what `random_rician_noise` draws).
///
/// ```
/// use voxflow_intensity::rician_noise::RicianNoise;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let noisy = RicianNoise { std: 0.5, seed: 7, ..Default::default() }.apply(&volume)?;
/// assert!(noisy.image()?.iter().all(|&v| v >= 0.0)); // a magnitude
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RicianNoise {
    /// Standard deviation of both Gaussian noises, >= 0 (in the image's units). Required.
    pub std: f64,
    /// Mean of both Gaussian noises; default 0.
    #[serde(default)]
    pub mean: f64,
    /// Seed of the noise generator; default 0.
    #[serde(default)]
    pub seed: u64,
    /// Multiply the result by the sign of the input (batchgenerators' `augment_rician_noise`;
    /// 0 where the input is 0). Default false (MONAI).
    #[serde(default)]
    pub signed: bool,
}

/// No noise (std 0, mean 0, seed 0), which gives `|x|` (not the identity on negative
/// voxels): set `std`.
impl Default for RicianNoise {
    fn default() -> Self {
        RicianNoise { std: 0.0, mean: 0.0, seed: 0, signed: false }
    }
}

impl RicianNoise {
    /// Adds Rician noise to an image: the `rician_noise` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::rician_noise::RicianNoise;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// // Without noise, the magnitude of a non-negative image is the image.
    /// assert_eq!(RicianNoise::default().apply(&volume)?.image()?, volume.image()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_rician_noise`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::rician_noise::RandomRicianNoise;
/// let mut rng = voxflow_core::seed::Rng::seed_from_u64(7);
/// let drawn = RandomRicianNoise::default().sample(&mut rng).expect("p is 1");
/// assert!((0.0..=1.0).contains(&drawn.std));
/// assert_eq!(RandomRicianNoise { p: 0.0, ..Default::default() }.sample(&mut rng), None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomRicianNoise {
    /// Range of the standard deviation, >= 0; default `[0, 1]` (MONAI's `std=1.0`,
    /// `sample_std=True`).
    #[serde(default = "default_std")]
    pub std: [f64; 2],
    /// Range of the mean; default `[0, 0]`.
    #[serde(default)]
    pub mean: [f64; 2],
    /// See [`RicianNoise::signed`]. Default false.
    #[serde(default)]
    pub signed: bool,
    /// Probability of applying it; otherwise the draw leaves the image unchanged. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults: std in `[0, 1]` (MONAI), mean 0, unsigned, always applied.
impl Default for RandomRicianNoise {
    fn default() -> Self {
        RandomRicianNoise { std: default_std(), mean: [0.0; 2], signed: false, p: default_p() }
    }
}

fn default_std() -> [f64; 2] {
    [0.0, 1.0]
}

/// `sqrt((x + n1)² + n2²)` (times `sign(x)` when `signed`), `n1, n2 ~ N(mean, std²)`, the
/// noise of frame `frame` drawn from `seed` as the module says.
///
/// ```
/// use voxflow_intensity::rician_noise::add_rician_noise;
/// let frame = ndarray::Array3::from_elem((8, 8, 8), -2.0f32);
/// assert!(add_rician_noise(frame.view(), 0.0, 0.0, false, 7, 0).iter().all(|&v| v == 2.0));
/// let signed = add_rician_noise(frame.view(), 0.0, 0.3, true, 7, 0);
/// assert!(signed.iter().all(|&v| v < 0.0));
/// ```
#[must_use]
pub fn add_rician_noise(
    input: ArrayView3<'_, f32>,
    mean: f64,
    std: f64,
    signed: bool,
    seed: u64,
    frame: u64,
) -> Array3<f32> {
    map_with_normals(input, seed, frame, |v, normals| {
        let x = f64::from(v);
        let n1 = mean + std * normals.next();
        let n2 = mean + std * normals.next();
        let magnitude = (x + n1).hypot(n2);
        let sign = if !signed || x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        };
        (magnitude * sign) as f32
    })
}

voxflow_core::op_doc!(
    "rician_noise",
    RicianNoise,
    "Adds Rician noise, sqrt((x + n1)^2 + n2^2) with n1, n2 ~ N(`mean`, `std`^2) seeded by `seed` (MONAI's RandRicianNoise); intensity only.",
    r#"{"std": 0.1, "seed": 7}"#
);

#[typetag::serde(name = "rician_noise")]
impl Op for RicianNoise {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if !(self.std.is_finite() && self.std >= 0.0) {
            return Err(OpError::param("std", format!("must be finite and >= 0, got {}", self.std)));
        }
        if !self.mean.is_finite() {
            return Err(OpError::param("mean", format!("must be finite, got {}", self.mean)));
        }
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        map_image(&volume, |t, frame| {
            Ok(add_rician_noise(frame, self.mean, self.std, self.signed, self.seed, t as u64))
        })
    }
}

impl RandomRicianNoise {
    /// Draws the concrete op, or `None` when `p` skips it; apply it with
    /// [`RicianNoise::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::rician_noise::RandomRicianNoise;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomRicianNoise { std: [0.1, 0.2], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3)).expect("p is 1");
    /// assert_eq!(Some(&drawn), random.sample(&mut Rng::seed_from_u64(3)).as_ref());
    /// assert_eq!(drawn.apply(&volume)?.shape3(), [8, 8, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng) -> Option<RicianNoise> {
        happens(rng, self.p).then(|| {
            let std = uniform(rng, self.std);
            let mean = uniform(rng, self.mean);
            RicianNoise { std, mean, seed: rng.random(), signed: self.signed }
        })
    }
}

voxflow_core::op_doc!(
    "random_rician_noise",
    RandomRicianNoise,
    "Draws a `rician_noise` with std and mean uniform in their ranges and a fresh seed, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomRicianNoise {
    /// A skipped draw is an empty `chain` (the identity): `rician_noise` with `std: 0` is not
    /// one, it gives `|x|`.
    type Drawn = OneOf<RicianNoise, Chain>;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_nonnegative_range("std", self.std)?;
        check_range("mean", self.mean)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<Self::Drawn, OpError> {
        Ok(match self.sample(rng) {
            Some(op) => OneOf::First(op),
            None => OneOf::Second(Chain { ops: Vec::new() }),
        })
    }
}

#[typetag::serde(name = "random_rician_noise")]
impl Op for RandomRicianNoise {
    voxflow_core::random_op_node!(RandomRicianNoise);
}
