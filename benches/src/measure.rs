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
    summarise(per, iters)
}

/// Two measurements taken in alternating samples, so that load from other
/// processes falls on both alike, and their ratio `b / a` per sample pair.
pub struct Pair {
    pub a: Stats,
    pub b: Stats,
    /// Median and IQR of the per-sample ratios b / a.
    pub ratio: Stats,
}

pub fn compare<T, U>(budget: Budget, mut a: impl FnMut() -> T, mut b: impl FnMut() -> U) -> Pair {
    let start = Instant::now();
    let (mut ta, mut tb, mut runs) = (0.0f64, 0.0f64, 0u64);
    while runs < 2 || start.elapsed() < budget.warm_up {
        let t = Instant::now();
        std::hint::black_box(a());
        ta += t.elapsed().as_secs_f64();
        let t = Instant::now();
        std::hint::black_box(b());
        tb += t.elapsed().as_secs_f64();
        runs += 1;
    }
    let samples = budget.samples.max(3);
    let sample_time = budget.measure.as_secs_f64() / (2 * samples) as f64;
    let iters = |total: f64| ((sample_time / (total / runs as f64).max(1e-9)) as u64).max(1);
    let (ia, ib) = (iters(ta), iters(tb));
    let (mut pa, mut pb, mut pr) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..samples {
        let t = Instant::now();
        for _ in 0..ia {
            std::hint::black_box(a());
        }
        let xa = t.elapsed().as_nanos() as f64 / ia as f64;
        let t = Instant::now();
        for _ in 0..ib {
            std::hint::black_box(b());
        }
        let xb = t.elapsed().as_nanos() as f64 / ib as f64;
        pa.push(xa);
        pb.push(xb);
        pr.push(if xa > 0.0 { xb / xa } else { 0.0 });
    }
    Pair {
        a: summarise(pa, ia),
        b: summarise(pb, ib),
        ratio: summarise(pr, 1),
    }
}

fn summarise(mut v: Vec<f64>, iters_per_sample: u64) -> Stats {
    v.sort_by(f64::total_cmp);
    Stats {
        median: quantile(&v, 0.5),
        q1: quantile(&v, 0.25),
        q3: quantile(&v, 0.75),
        samples: v.len(),
        iters_per_sample,
    }
}

/// `1.23× (IQR 1.20–1.27)` for a ratio's stats.
pub fn ratio_cell(r: &Stats) -> String {
    format!("{:.2}× (IQR {:.2}–{:.2})", r.median, r.q1, r.q3)
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
