//! A steady loop over one input for profilers (callgrind, perf):
//! `profile [service|ingress|deployment|clusterrole|bundle] [iterations]`,
//! `profile worst RULE-ID [iterations]` for a rule's worst input at its
//! limit (benches/src/worst.rs), or `profile tree DIR [objects]` to write
//! the CLI's manifest tree.

use portcullis::PolicyCache;
use portcullis_bench::inputs;

/// As a host would: compiled policies kept between requests.
static CACHE: PolicyCache = PolicyCache::new();

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "bundle".into());
    if which == "tree" {
        let dir = args.next().unwrap_or_else(|| "manifests".into());
        let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
        match inputs::write_tree(std::path::Path::new(&dir), n, 25) {
            Ok(bytes) => println!("{n} objects, {bytes} bytes in {dir}"),
            Err(e) => {
                eprintln!("profile: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if which == "worst" {
        let rule = args.next().unwrap_or_default();
        let Some(w) = portcullis_bench::worst::find(&rule) else {
            eprintln!("profile: no worst case for {rule:?}");
            std::process::exit(2);
        };
        let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
        let units = portcullis_bench::worst::units_at_limit(w);
        let input = portcullis_bench::worst::request(w, units);
        for _ in 0..n {
            let started = std::time::Instant::now();
            let answer = CACHE.evaluate_to_json(std::hint::black_box(&input));
            println!(
                "{rule}: {units} units, {} input bytes, {} answer bytes, {:.1} ms",
                input.len(),
                answer.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        return;
    }
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let input = match which.as_str() {
        "bundle" => inputs::bundle(1000),
        other => {
            let Some(found) = inputs::requests()
                .into_iter()
                .find(|i| i.name.to_lowercase().starts_with(other))
            else {
                eprintln!("profile: unknown input {other}");
                std::process::exit(2);
            };
            found
        }
    };
    let mut bytes = 0usize;
    for _ in 0..n {
        let answer = CACHE.evaluate_bytes(std::hint::black_box(&input.json));
        bytes += serde_json::to_vec(&answer).map_or(0, |v| v.len());
    }
    println!("{}: {n} iterations, {bytes} answer bytes", input.name);
}
