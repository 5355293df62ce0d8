//! Parameter vocabulary shared by many ops: checks with one wording everywhere, the default
//! probability, and values given once for all three axes or per axis.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// One value for all three axes, or one per axis `[x, y, z]` (`7` or `[7, 7, 5]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OneOrThree_{T}")]
pub enum OneOrThree<T> {
    /// The same value for every axis.
    Isotropic(T),
    /// One value per axis `[x, y, z]`.
    PerAxis([T; 3]),
}

impl<T: Copy> OneOrThree<T> {
    /// The value of each axis.
    #[must_use]
    pub fn per_axis(self) -> [T; 3] {
        match self {
            OneOrThree::Isotropic(v) => [v; 3],
            OneOrThree::PerAxis(v) => v,
        }
    }
}

/// Reads an `[T; 3]` field from one value or three
/// (`#[serde(deserialize_with = "voxflow_core::params::one_or_three")]`, with
/// `#[schemars(with = "voxflow_core::params::OneOrThree<T>")]`).
pub fn one_or_three<'de, D: Deserializer<'de>, T: Deserialize<'de> + Copy>(d: D) -> Result<[T; 3], D::Error> {
    OneOrThree::<T>::deserialize(d).map(OneOrThree::per_axis)
}

/// The default probability of a random op (`#[serde(default = "voxflow_core::params::default_p")]`):
/// always.
#[must_use]
pub fn default_p() -> f64 {
    1.0
}

/// Why `p` is not a probability (`None`: it is one).
#[must_use]
pub fn probability_problem(p: f64) -> Option<String> {
    (!(0.0..=1.0).contains(&p)).then(|| format!("a probability must be in [0, 1], got {p}"))
}

/// Why `range` is not a `[low, high]` range: finite and ordered (`None`: it is one).
#[must_use]
pub fn range_problem(range: [f64; 2]) -> Option<String> {
    if !range.iter().all(|v| v.is_finite()) {
        Some(format!("the range must be finite, got {range:?}"))
    } else if range[0] > range[1] {
        Some(format!("low {} > high {}", range[0], range[1]))
    } else {
        None
    }
}

/// [`probability_problem`] as an op error naming `p`.
pub fn check_p(p: f64) -> Result<(), crate::OpError> {
    check_probability("p", p)
}

/// [`probability_problem`] as an op error naming `param` (a probability not called `p`).
pub fn check_probability(param: &'static str, p: f64) -> Result<(), crate::OpError> {
    probability_problem(p).map_or(Ok(()), |m| Err(crate::OpError::param(param, m)))
}

/// [`range_problem`] as an op error naming `param`.
pub fn check_range(param: &'static str, range: [f64; 2]) -> Result<(), crate::OpError> {
    range_problem(range).map_or(Ok(()), |m| Err(crate::OpError::param(param, m)))
}

/// [`check_range`] for a range of values that cannot be negative (standard deviations).
pub fn check_nonnegative_range(param: &'static str, range: [f64; 2]) -> Result<(), crate::OpError> {
    check_range(param, range)?;
    if range[0] < 0.0 {
        return Err(crate::OpError::param(param, format!("must be >= 0, got {range:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_and_ranges() {
        assert!(check_p(0.0).is_ok() && check_p(1.0).is_ok());
        assert!(check_p(1.5).is_err() && check_p(f64::NAN).is_err());
        assert!(check_range("std", [0.0, 1.0]).is_ok());
        assert!(check_range("std", [2.0, 1.0]).is_err() && check_range("std", [0.0, f64::INFINITY]).is_err());
    }
}
