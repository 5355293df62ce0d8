//! Checks shared by the parameters of many ops, with one wording everywhere.

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
    probability_problem(p).map_or(Ok(()), |m| Err(crate::OpError::param("p", m)))
}

/// [`range_problem`] as an op error naming `param`.
pub fn check_range(param: &'static str, range: [f64; 2]) -> Result<(), crate::OpError> {
    range_problem(range).map_or(Ok(()), |m| Err(crate::OpError::param(param, m)))
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
