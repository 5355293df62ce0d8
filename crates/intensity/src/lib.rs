//! voxflow-intensity: clipping, normalisation and intensity augmentations of images.
//!
//! Every op here takes an image (`Port::IMAGE`: a label map wired to one is rejected when the
//! graph is validated), works frame by frame on `[x, y, z]` frames, keeps the affine, and
//! outputs an f32 image whose `stored_dtype` is `float32` (an intensity op's output is no longer
//! the integer type the input was stored in).
//!
//! | op | what | counterpart |
//! |---|---|---|
//! | [`clip`](clip::Clip) | clip to `[min, max]` | `numpy.clip` |
//! | [`percentile_clip`](percentile_clip::PercentileClip) | clip to two percentiles | `numpy.clip(x, *numpy.percentile(x, [lo, hi]))` |
//! | [`ct_window`](ct_window::CtWindow) | clip to a CT window (level/width in HU), optionally to `[0, 1]` | radiology presets |
//! | [`normalize`](normalize::Normalize) | z-score or min-max over all / non-zero / masked voxels | numpy, nnU-Net |
//! | [`gamma`](gamma::Gamma), `random_gamma` | `sign(x)·|x|^γ` (optionally on `[0, 1]`, keeping mean and std) | TorchIO `RandomGamma`, batchgenerators `augment_gamma` |
//! | [`noise`](noise::Noise), `random_noise` | additive Gaussian noise | TorchIO `RandomNoise` |
//! | [`blur`](blur::Blur), `random_blur` | Gaussian blur, sigma in mm | `scipy.ndimage.gaussian_filter` |
//! | [`bias_field`](bias_field::BiasField), `random_bias_field` | multiply by `exp(polynomial)` | TorchIO `RandomBiasField` |
//! | [`brightness_contrast`](brightness_contrast::BrightnessContrast), `random_brightness_contrast` | `x·multiplier + shift` | batchgenerators |
//! | [`contrast`](contrast::Contrast), `random_contrast` | `(x - mean)·factor + mean`, clipped to the original range | batchgenerators `augment_contrast` |
//! | [`sharpen`](sharpen::Sharpen), `random_sharpen` | `b + α·(b - blur(b, σ2))`, `b = blur(x, σ1)`, sigma in mm | MONAI `GaussianSharpen`, `RandGaussianSharpen` |
//! | [`rician_noise`](rician_noise::RicianNoise), `random_rician_noise` | `sqrt((x + n1)² + n2²)` | MONAI `RandRicianNoise`, batchgenerators `augment_rician_noise` |
//! | [`dropout`](dropout::Dropout), `random_dropout` | boxes set to a fill value (cut-out) | MONAI `RandCoarseDropout` |
//! | [`low_resolution`](low_resolution::LowResolution), `random_low_resolution` | resample down by `zoom` and back up (geometry's core), same grid | nnU-Net `SimulateLowResolutionTransform`, MONAI `RandSimulateLowResolution` |
//!
//! Ops that compute statistics take an optional `mask` input (a label map: voxels whose label
//! is non-zero, or one of a given list of labels). Random ops take no input; they output the
//! deterministic op with the drawn values (a draw that the probability `p` skips is the same op
//! with its neutral value, e.g. `gamma: 1`, which returns the input untouched; for
//! `random_rician_noise`, whose `std: 0` still gives `|x|`, it is an empty `chain`).
//!
//! Without a graph, every op is one call: its parameter struct's `Default` is the graph's
//! defaults (with the identity for a required value where there is one) and `apply` runs it on
//! a [`Volume`](voxflow_core::Volume); a random op's `sample(rng)` draws the op to apply.
//!
//! ```
//! use rand::SeedableRng;
//! use voxflow_intensity::gamma::{Gamma, RandomGamma};
//! # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
//! let darker = Gamma { gamma: 1.5, ..Default::default() }.apply(&volume)?;
//! let drawn = RandomGamma::default().sample(&mut voxflow_core::seed::Rng::seed_from_u64(7));
//! let augmented = drawn.apply(&darker)?;
//! # let _ = augmented;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Plain functions (used by the conformance runner and usable without a graph):
//! [`clip()`](clip::clip), [`percentile_clip()`](percentile_clip::percentile_clip),
//! [`percentiles`], [`normalize()`](normalize::normalize),
//! [`gaussian_filter`], [`gamma()`](gamma::gamma),
//! [`add_noise`](noise::add_noise), [`bias_field()`](bias_field::bias_field),
//! [`brightness_contrast()`](brightness_contrast::brightness_contrast),
//! [`simulate_low_resolution`](low_resolution::simulate_low_resolution),
//! [`retain_stats`](gamma::retain_stats), [`contrast()`](contrast::contrast),
//! [`sharpen()`](sharpen::sharpen), [`add_rician_noise`](rician_noise::add_rician_noise),
//! [`dropout()`](dropout::dropout).

pub mod bias_field;
pub mod blur;
pub mod brightness_contrast;
pub mod clip;
pub mod contrast;
pub mod ct_window;
pub mod dropout;
mod error;
mod frame;
pub mod gamma;
pub mod low_resolution;
mod moments;
mod node;
pub mod noise;
pub mod normalize;
pub mod percentile_clip;
mod region;
pub mod rician_noise;
pub mod sharpen;

pub use blur::gaussian_filter;
pub use clip::clip;
pub use error::IntensityError;
pub use normalize::normalize;
pub use percentile_clip::{percentile_clip, percentiles};
pub use region::{Over, Region};

/// Links this crate's ops into a binary (typetag registers them at link time).
///
/// ```
/// voxflow_intensity::register();
/// assert!(voxflow_core::op_docs().any(|doc| doc.name == "random_gamma"));
/// ```
pub fn register() {}
