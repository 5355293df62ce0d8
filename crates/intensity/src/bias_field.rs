//! `bias_field` / `random_bias_field`: multiplies the image by a smooth MRI bias field,
//! `exp(Σ c_abc · X^a · Y^b · Z^c)`, `a + b + c <= order` (TorchIO's `RandomBiasField`, from
//! NiftyNet / Van Leemput et al. 1999).
//!
//! ```json
//! {"name": "bias", "op": "random_bias_field", "params": {"coefficients": [-0.5, 0.5], "order": 3}},
//! {"name": "image_b", "op": "apply", "inputs": {"volume": "image", "draw": "bias"}}
//! ```
//!
//! `X`, `Y`, `Z` are voxel coordinates normalised to `[-1, 1]` across the volume (voxel
//! centres; `(2i - (n - 1)) / (n - 1)`, 0 for an axis of length 1), as TorchIO's
//! `np.arange(-n/2, n/2) + 0.5` divided by its maximum. Coefficients are listed in TorchIO's
//! order: `a` (x) outermost, then `b`, then `c` innermost; order 3 has 20. The field is
//! computed in f64, rounded to f32 and multiplied in f32, as TorchIO.

use crate::frame::{fortran_slice, from_fortran, shape3};
use crate::node::{IMAGE_PORTS, map_image, take_image};
use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// The highest polynomial order accepted.
pub(crate) const MAX_ORDER: u8 = 8;

/// Parameters of `bias_field` (also what `random_bias_field` draws).
///
/// ```
/// use voxflow_intensity::bias_field::BiasField;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let mut coefficients = vec![0.0; 20];
/// coefficients[0] = 2f64.ln(); // the constant term: a field of 2 everywhere
/// let doubled = BiasField { coefficients, ..Default::default() }.apply(&volume)?;
/// assert!((doubled.image()?[[7, 7, 7, 0]] - 42.0).abs() < 1e-4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BiasField {
    /// Polynomial coefficients, `(order+1)(order+2)(order+3)/6` of them, in TorchIO's order.
    pub coefficients: Vec<f64>,
    /// Polynomial order; default 3.
    #[serde(default = "default_order")]
    pub order: u8,
}

/// Order 3 with all 20 coefficients 0 (a field of 1, the identity): set `coefficients`.
impl Default for BiasField {
    fn default() -> Self {
        BiasField { coefficients: vec![0.0; coefficient_count(default_order())], order: default_order() }
    }
}

impl BiasField {
    /// Multiplies an image by the bias field: the `bias_field` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::bias_field::BiasField;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(BiasField::default().apply(&volume)?.image()?, volume.image()?);
    /// let linear = BiasField { order: 1, coefficients: vec![0.0, 0.0, 0.0, 0.5] }.apply(&volume)?;
    /// assert!(linear.image()?[[7, 7, 7, 0]] > 21.0); // exp(0.5·X) > 1 on the far side
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_bias_field`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::bias_field::RandomBiasField;
/// let drawn = RandomBiasField::default().sample(&mut voxflow_core::seed::Rng::seed_from_u64(7));
/// assert_eq!(drawn.coefficients.len(), 20); // order 3
/// assert!(drawn.coefficients.iter().all(|c| (-0.5..=0.5).contains(c)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomBiasField {
    /// Range every coefficient is drawn from; default `[-0.5, 0.5]` (TorchIO's
    /// `coefficients=0.5`).
    #[serde(default = "default_coefficients")]
    pub coefficients: [f64; 2],
    /// Polynomial order; default 3.
    #[serde(default = "default_order")]
    pub order: u8,
    /// Probability of applying it; otherwise all coefficients are 0. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults: order 3, coefficients in `[-0.5, 0.5]` (TorchIO), always applied.
impl Default for RandomBiasField {
    fn default() -> Self {
        RandomBiasField { coefficients: default_coefficients(), order: default_order(), p: default_p() }
    }
}

fn default_order() -> u8 {
    3
}
fn default_coefficients() -> [f64; 2] {
    [-0.5, 0.5]
}

/// How many coefficients a polynomial of `order` has.
///
/// ```
/// use voxflow_intensity::bias_field::coefficient_count;
/// assert_eq!([0, 1, 2, 3].map(coefficient_count), [1, 4, 10, 20]);
/// ```
#[must_use]
pub fn coefficient_count(order: u8) -> usize {
    let o = usize::from(order);
    (o + 1) * (o + 2) * (o + 3) / 6
}

/// The exponents `(a, b, c)` in TorchIO's order.
fn exponents(order: u8) -> Vec<(i32, i32, i32)> {
    let o = i32::from(order);
    let mut e = Vec::new();
    for a in 0..=o {
        for b in 0..=o - a {
            for c in 0..=o - a - b {
                e.push((a, b, c));
            }
        }
    }
    e
}

/// Normalised coordinate of voxel `i` on an axis of `n` voxels.
fn coordinate(i: usize, n: usize) -> f64 {
    if n > 1 { (2.0 * i as f64 - (n - 1) as f64) / (n - 1) as f64 } else { 0.0 }
}

/// The input times the bias field. `coefficients` must have [`coefficient_count`]`(order)`
/// entries; missing ones count as 0, extra ones are ignored.
///
/// ```
/// let frame = ndarray::Array3::from_elem((4, 4, 4), 1.0f32);
/// // Order 1 is [1, Z, Y, X]: exp(X) runs from exp(-1) to exp(1) along x.
/// let field = voxflow_intensity::bias_field::bias_field(frame.view(), 1, &[0.0, 0.0, 0.0, 1.0]);
/// assert!((field[[0, 2, 2]] - (-1f32).exp()).abs() < 1e-6 && (field[[3, 0, 0]] - 1f32.exp()).abs() < 1e-6);
/// ```
#[must_use]
pub fn bias_field(input: ArrayView3<'_, f32>, order: u8, coefficients: &[f64]) -> Array3<f32> {
    let shape = shape3(&input);
    let [nx, ny, nz] = shape;
    let data = fortran_slice(input);
    let terms: Vec<(i32, i32, i32, f64)> = exponents(order)
        .into_iter()
        .enumerate()
        .map(|(i, (a, b, c))| (a, b, c, coefficients.get(i).copied().unwrap_or(0.0)))
        .collect();
    let cx: Vec<f64> = (0..nx).map(|i| coordinate(i, nx)).collect();
    let plane = (nx * ny).max(1);
    let mut out = vec![0f32; data.len()];
    out.par_chunks_mut(plane).zip(data.par_chunks(plane)).enumerate().for_each(|(z, (o, d))| {
        let zc = coordinate(z, nz);
        let mut p = vec![0f64; usize::from(order) + 1];
        for (y, (orow, drow)) in o.chunks_exact_mut(nx).zip(d.chunks_exact(nx)).enumerate() {
            let yc = coordinate(y, ny);
            // The polynomial in x for this row: p[a] = Σ_bc c_abc · Y^b · Z^c.
            p.fill(0.0);
            for &(a, b, c, coef) in &terms {
                p[a as usize] += coef * yc.powi(b) * zc.powi(c);
            }
            for ((o, &v), &x) in orow.iter_mut().zip(drow).zip(&cx) {
                let poly = p.iter().rev().fold(0.0, |acc, &pa| acc * x + pa);
                *o = v * (poly.exp() as f32);
            }
        }
    });
    from_fortran(shape, out)
}

voxflow_core::op_doc!(
    "bias_field",
    BiasField,
    "Multiplies the image by a smooth polynomial bias field (MRI inhomogeneity) given by its `coefficients` (TorchIO's order); intensity only.",
    r#"{"coefficients": [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]}"#
);

#[typetag::serde(name = "bias_field")]
impl Op for BiasField {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.order > MAX_ORDER {
            return Err(OpError::param("order", format!("must be <= {MAX_ORDER}, got {}", self.order)));
        }
        let want = coefficient_count(self.order);
        if self.coefficients.len() != want {
            return Err(OpError::param(
                "coefficients",
                format!("order {} needs {want} coefficients, got {}", self.order, self.coefficients.len()),
            ));
        }
        if let Some(c) = self.coefficients.iter().find(|c| !c.is_finite()) {
            return Err(OpError::param("coefficients", format!("must be finite, got {c}")));
        }
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        if self.coefficients.iter().all(|&c| c == 0.0) {
            return Ok(Value::Volume(volume));
        }
        map_image(&volume, |_, frame| Ok(bias_field(frame, self.order, &self.coefficients)))
    }
}

impl RandomBiasField {
    /// Draws the concrete op; apply it with [`BiasField::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::bias_field::RandomBiasField;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomBiasField { order: 2, ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// assert_eq!(drawn.apply(&volume)?.shape3(), volume.shape3());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> BiasField {
        let n = coefficient_count(self.order.min(MAX_ORDER));
        let coefficients = if happens(rng, self.p) {
            (0..n).map(|_| uniform(rng, self.coefficients)).collect()
        } else {
            vec![0.0; n]
        };
        BiasField { coefficients, order: self.order }
    }
}

voxflow_core::op_doc!(
    "random_bias_field",
    RandomBiasField,
    "Draws a `bias_field` with every coefficient uniform in `coefficients`, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomBiasField {
    type Drawn = BiasField;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_range("coefficients", self.coefficients)?;
        if self.order > MAX_ORDER {
            return Err(OpError::param("order", format!("must be <= {MAX_ORDER}, got {}", self.order)));
        }
        Ok(())
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<BiasField, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_bias_field")]
impl Op for RandomBiasField {
    voxflow_core::random_op_node!(RandomBiasField);
}
