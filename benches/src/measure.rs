//! A plain timing loop: warm-up, then samples of several iterations each,
//! summarised as the median and the interquartile range per iteration.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Nanoseconds per iteration.
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub samples: usize,
    pub iters_per_sample: u64,
}

impl Stats {
    /// Interquartile range relative to the median, in percent.
    pub fn spread_pct(&self) -> f64 {
        if self.median > 0.0 {
            (self.q3 - self.q1) / self.median * 100.0
        } else {
            0.0
        }
    }
}

/// How long to spend on one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub warm_up: Duration,
    pub measure: Duration,
    pub samples: usize,
}

impl Budget {
    pub const QUICK: Budget = Budget {
        warm_up: Duration::from_millis(150),
        measure: Duration::from_millis(900),
        samples: 31,
    };
    pub const LONG: Budget = Budget {
        warm_up: Duration::from_millis(300),
        measure: Duration::from_secs(3),
        samples: 21,
    };
}

/// Times `f`, whose result is kept alive so the work is not optimised away.
pub fn time<T>(budget: Budget, mut f: impl FnMut() -> T) -> Stats {
    let start = Instant::now();
    let mut runs = 0u64;
    while runs < 2 || start.elapsed() < budget.warm_up {
        std::hint::black_box(f());
        runs += 1;
    }
    let per_iter = start.elapsed().as_secs_f64() / runs as f64;
    let sample_time = budget.measure.as_secs_f64() / budget.samples.max(1) as f64;
    let iters = ((sample_time / per_iter.max(1e-9)) as u64).max(1);
    let samples = budget.samples.max(3);
    let mut per: Vec<f64> = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(f());
        }
        per.push(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    per.sort_by(f64::total_cmp);
    Stats {
        median: quantile(&per, 0.5),
        q1: quantile(&per, 0.25),
        q3: quantile(&per, 0.75),
        samples,
        iters_per_sample: iters,
    }
}

/// Linear interpolation between the closest ranks of sorted data.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (Some(a), Some(b)) = (sorted.get(lo), sorted.get(hi)) else {
        return 0.0;
    };
    a + (b - a) * (pos - lo as f64)
}

/// Human units for nanoseconds.
pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// `median (IQR q1–q3)` in one cell.
pub fn cell(s: &Stats) -> String {
    format!(
        "{} (IQR {}–{}, ±{:.1}%)",
        fmt_ns(s.median),
        fmt_ns(s.q1),
        fmt_ns(s.q3),
        s.spread_pct() / 2.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let d = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&d, 0.5), 3.0);
        assert_eq!(quantile(&d, 0.25), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
