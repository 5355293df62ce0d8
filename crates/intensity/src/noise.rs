//! `noise` / `random_noise`: additive Gaussian noise, `y = x + N(mean, std²)` per voxel
//! (TorchIO's `RandomNoise`: std ~ U(std range), default `[0, 0.25]`; mean ~ U(mean range),
//! default 0).
//!
//! ```json
//! {"name": "n", "op": "random_noise", "params": {"std": [0, 0.1], "p": 0.3}},
//! {"name": "image_n", "op": "apply", "inputs": {"volume": "image", "draw": "n"}}
//! ```
//!
//! The drawn op stores only a seed, so a manifest line stays small and replays exactly. The
//! noise is generated per chunk of [`NOISE_CHUNK`] voxels (in Fortran order, x fastest) from a
//! ChaCha8 generator seeded with `seed` on stream `frame << 40 | chunk`, with the Marsaglia
//! polar method in f64: the same bits for any number of threads.

use crate::frame::{fortran_slice, from_fortran, shape3};
use crate::node::{IMAGE_PORTS, map_image, take_image};
use ndarray::{Array3, ArrayView3};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_nonnegative_range, check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::seed::Rng;
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Voxels per independently seeded noise chunk.
pub const NOISE_CHUNK: usize = 1 << 14;

/// Parameters of `noise` (also what `random_noise` draws).
///
/// ```
/// use voxflow_intensity::noise::Noise;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let noisy = Noise { std: 0.1, seed: 7, ..Default::default() }.apply(&volume)?;
/// assert_ne!(noisy.image()?, volume.image()?);
/// assert_eq!(noisy, Noise { std: 0.1, seed: 7, ..Default::default() }.apply(&volume)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Noise {
    /// Standard deviation of the noise, >= 0 (in the image's units).
    pub std: f64,
    /// Mean of the noise; default 0.
    #[serde(default)]
    pub mean: f64,
    /// Seed of the noise generator.
    #[serde(default)]
    pub seed: u64,
}

/// No noise (std 0, mean 0, seed 0): set `std`.
impl Default for Noise {
    fn default() -> Self {
        Noise { std: 0.0, mean: 0.0, seed: 0 }
    }
}

impl Noise {
    /// Adds Gaussian noise to an image: the `noise` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::noise::Noise;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(Noise::default().apply(&volume)?.image()?, volume.image()?);
    /// let shifted = Noise { mean: 1.0, ..Default::default() }.apply(&volume)?;
    /// assert_eq!(shifted.image()?, &(volume.image()? + 1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_noise`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::noise::RandomNoise;
/// let drawn = RandomNoise::default().sample(&mut voxflow_core::seed::Rng::seed_from_u64(7));
/// assert!((0.0..=0.25).contains(&drawn.std) && drawn.mean == 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomNoise {
    /// Range of the standard deviation; default `[0, 0.25]` (TorchIO).
    #[serde(default = "default_std")]
    pub std: [f64; 2],
    /// Range of the mean; default `[0, 0]`.
    #[serde(default)]
    pub mean: [f64; 2],
    /// Probability of applying it; otherwise std = mean = 0. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults: std in `[0, 0.25]` (TorchIO), mean 0, always applied.
impl Default for RandomNoise {
    fn default() -> Self {
        RandomNoise { std: default_std(), mean: [0.0; 2], p: default_p() }
    }
}

fn default_std() -> [f64; 2] {
    [0.0, 0.25]
}

/// The standard normal values of one noise chunk: a ChaCha8 generator seeded with `seed` on
/// stream `frame << 40 | chunk`, through Marsaglia's polar method in f64 (the second value of
/// each pair is kept for the next call). `noise` and `rician_noise` draw from it.
pub(crate) struct Normals {
    rng: Rng,
    spare: Option<f64>,
}

impl Normals {
    fn new(seed: u64, frame: u64, chunk: usize) -> Self {
        let mut rng = Rng::seed_from_u64(seed);
        rng.set_stream((frame << 40) | chunk as u64);
        Normals { rng, spare: None }
    }

    /// The next standard normal value.
    pub(crate) fn next(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.rng.random::<f64>() - 1.0;
            let v = 2.0 * self.rng.random::<f64>() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }
}

/// `f(voxel, normals)` for every voxel of frame `frame`, the normals of each chunk of
/// [`NOISE_CHUNK`] voxels (Fortran order) drawn from [`Normals`] in voxel order: the same bits
/// for any number of threads.
pub(crate) fn map_with_normals(
    input: ArrayView3<'_, f32>,
    seed: u64,
    frame: u64,
    f: impl Fn(f32, &mut Normals) -> f32 + Sync,
) -> Array3<f32> {
    let shape = shape3(&input);
    let data = fortran_slice(input);
    let mut out = vec![0f32; data.len()];
    out.par_chunks_mut(NOISE_CHUNK).zip(data.par_chunks(NOISE_CHUNK)).enumerate().for_each(|(c, (o, i))| {
        let mut normals = Normals::new(seed, frame, c);
        for (o, &v) in o.iter_mut().zip(i) {
            *o = f(v, &mut normals);
        }
    });
    from_fortran(shape, out)
}

/// `input + N(mean, std²)`, the noise of frame `frame` drawn from `seed` as the module says.
///
/// ```
/// let zeros = ndarray::Array3::<f32>::zeros((16, 16, 16));
/// let noise = voxflow_intensity::noise::add_noise(zeros.view(), 5.0, 2.0, 7, 0);
/// assert!((noise.mean().unwrap() - 5.0).abs() < 0.2);
/// assert!((noise.std(0.0) - 2.0).abs() < 0.2);
/// assert_eq!(noise, voxflow_intensity::noise::add_noise(zeros.view(), 5.0, 2.0, 7, 0));
/// ```
#[must_use]
pub fn add_noise(input: ArrayView3<'_, f32>, mean: f64, std: f64, seed: u64, frame: u64) -> Array3<f32> {
    map_with_normals(input, seed, frame, |v, normals| (f64::from(v) + mean + std * normals.next()) as f32)
}

voxflow_core::op_doc!(
    "noise",
    Noise,
    "Adds Gaussian noise of standard deviation `std` and mean `mean` (seeded by `seed`) to an image; intensity only, the affine is kept.",
    r#"{"std": 0.1}"#
);

#[typetag::serde(name = "noise")]
impl Op for Noise {
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
        if self.std == 0.0 && self.mean == 0.0 {
            return Ok(Value::Volume(volume));
        }
        map_image(&volume, |t, frame| Ok(add_noise(frame, self.mean, self.std, self.seed, t as u64)))
    }
}

impl RandomNoise {
    /// Draws the concrete op (with a fresh seed); apply it with [`Noise::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::noise::RandomNoise;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomNoise { std: [0.1, 0.2], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// assert_eq!(drawn.apply(&volume)?, drawn.apply(&volume)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng) -> Noise {
        if happens(rng, self.p) {
            let std = uniform(rng, self.std);
            let mean = uniform(rng, self.mean);
            Noise { std, mean, seed: rng.random() }
        } else {
            Noise { std: 0.0, mean: 0.0, seed: 0 }
        }
    }
}

voxflow_core::op_doc!(
    "random_noise",
    RandomNoise,
    "Draws a `noise` with std and mean uniform in their ranges and a fresh seed, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomNoise {
    type Drawn = Noise;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_nonnegative_range("std", self.std)?;
        check_range("mean", self.mean)
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<Noise, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_noise")]
impl Op for RandomNoise {
    voxflow_core::random_op_node!(RandomNoise);
}
