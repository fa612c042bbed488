//! Criterion view of the native figures (for humans; `report` writes BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use portcullis::{Host, PolicyCache};
use portcullis_bench::inputs;
use serde_json::Value;
use std::hint::black_box;

/// Native hosts keep compiled policies, as the wasm modules do.
static CACHE: PolicyCache = PolicyCache::new();

fn native(c: &mut Criterion) {
    let mut all = inputs::requests();
    all.push(inputs::bundle(1000));
    let mut group = c.benchmark_group("native");
    for input in &all {
        group.throughput(Throughput::Bytes(input.json.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("parse", input.name),
            &input.json,
            |b, j| b.iter(|| serde_json::from_slice::<Value>(black_box(j)).ok()),
        );
        let parsed: Value = serde_json::from_slice(&input.json).unwrap_or_default();
        group.bench_with_input(BenchmarkId::new("evaluate", input.name), &parsed, |b, v| {
            b.iter(|| CACHE.evaluate(black_box(v), Host::default()).ok())
        });
        group.bench_with_input(
            BenchmarkId::new("end_to_end", input.name),
            &input.json,
            |b, j| b.iter(|| serde_json::to_vec(&CACHE.evaluate_bytes(black_box(j)))),
        );
    }
    group.finish();
}

/// An exemption glob of many stars against a name it almost matches: a
/// backtracking matcher took seconds here, the linear one microseconds.
fn exemption_glob(c: &mut Criterion) {
    let pattern = format!("{}b", "a*".repeat(11));
    let object = serde_json::json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "namespace": "a".repeat(32)}, "spec": {"type": "NodePort"}});
    let input = serde_json::json!({"objects": [object],
        "settings": {"exemptions": [{"namespaces": [pattern], "reason": "bench"}]}});
    c.bench_function("exemption_glob/11_stars_32_chars", |b| {
        b.iter(|| portcullis::evaluate(black_box(&input), Host::default()).ok())
    });
}

criterion_group!(benches, native, exemption_glob);
criterion_main!(benches);
