//! Bounds on a share estimated from counts, for judging from few known
//! kills: the learners and the host's safety check both use them, so a
//! proposal and the check on it read the evidence alike.

/// How many standard deviations the one-sided bounds lie from the share
/// (1.645: a 95% one-sided bound).
pub const Z_ONE_SIDED_95: f64 = 1.645;

/// The Wilson score interval's upper end for `hits` among `n` (1 when there
/// are none: nothing known rules nothing out).
pub fn wilson_upper(hits: u64, n: u64) -> f64 {
    wilson(hits, n).1
}

/// The Wilson score interval's lower end for `hits` among `n` (0 when there
/// are none).
pub fn wilson_lower(hits: u64, n: u64) -> f64 {
    wilson(hits, n).0
}

fn wilson(hits: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = (hits as f64 / n).clamp(0.0, 1.0);
    let z2 = Z_ONE_SIDED_95 * Z_ONE_SIDED_95;
    let centre = p + z2 / (2.0 * n);
    let spread = Z_ONE_SIDED_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let denom = 1.0 + z2 / n;
    (
        ((centre - spread) / denom).max(0.0),
        ((centre + spread) / denom).min(1.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_clean_bound_the_share_under_a_tenth_and_one_in_thirty_does_not() {
        assert!(wilson_upper(0, 30) < 0.1);
        assert!(wilson_upper(1, 30) > 0.1);
        assert!(wilson_upper(3, 100) < 0.1);
        assert_eq!(wilson_upper(0, 0), 1.0);
        assert_eq!(wilson_lower(0, 0), 0.0);
        assert!(wilson_lower(30, 100) > 0.2 && wilson_upper(30, 100) < 0.4);
    }
}
