//! Runs every measurement and writes BENCHMARKS.md from the figures it took.
//!
//! Usage: report [--out FILE] [--cli PATH] [--generic WASM] [--quick] [--only SECTION]
//! (run from the repository root; --generic measures another build of the generic module)

use anyhow::{bail, Context as _, Result};
use portcullis::{Host, PolicyCache};
use portcullis_bench::cli;
use portcullis_bench::inputs::{self, Input};
use portcullis_bench::kubewarden::{Cluster, Kubewarden};
use portcullis_bench::measure::{cell, compare, fmt_ns, ratio_cell, time, Budget};
use portcullis_bench::rego::{self, Twin};
use portcullis_bench::wasm::{Generic, Opa};
use portcullis_bench::worst::{self, WORST};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

const CLI: &str = "target/release/portcullis";
const GENERIC: &str = "dist/portcullis.wasm";
const OPA: &str = "dist/portcullis-opa.wasm";
const KUBEWARDEN: &str = "dist/portcullis-kubewarden.wasm";
/// What `--only` can pick; `native` is measured whenever `wasmtime` or
/// `regorus` is, since they are reported against it.
const SECTIONS: [&str; 7] = [
    "native", "wasmtime", "regorus", "settings", "sizes", "cli", "worst",
];
const CLI_OBJECTS: usize = 10_000;
/// The CLI's peak RSS against the bytes of YAML it reads (issue goal).
const CLI_RSS_RATIO: f64 = 8.0;
/// Objects in the 8× large single document (about 3 MiB of YAML).
const LARGE_DOC_OBJECTS: usize = 1_072;
/// A large-document run still going after this is cut off.
const LARGE_DOC_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
const WASM_LIMIT: u64 = 350 * 1024;

const NOTES: &str = "\
How to read these figures:

- The machine is shared with other builds. Each ratio comes from alternating samples of \
its two sides, so load falls on both alike; absolute times vary more between runs than ratios do.
- The Rego comparison end to end includes each engine's own parse of the same JSON. For \
inputs few rules apply to (a Deployment, a ClusterRole) that parse is most of both sides' \
cost, which bounds the end-to-end ratio far below 50× whatever the rules cost; the \
*engines only* column, with both inputs parsed beforehand, compares rule evaluation alone.
- `portcullis.wasm` is built for size (opt-level `z`, LTO, `wasm-opt -Oz`) to meet the size \
target, which costs speed against the opt-level 3 native build. An instance per call pays for \
a fresh linear memory each time (most of it the 1 MiB shadow stack); hosts that keep or pool \
instances avoid it.
- The CLI check is one process: reading and parsing the YAML with positions, one bundle \
evaluation (cross-object rules see every object) and the JSON report; its peak RSS holds \
the whole tree.";

/// One target of the issue, judged from a ratio or a figure of this run.
struct Target {
    what: &'static str,
    goal: String,
    measured: String,
    met: Option<bool>,
}

struct Out {
    md: String,
    targets: Vec<Target>,
}

impl Out {
    fn line(&mut self, s: impl AsRef<str>) {
        self.md.push_str(s.as_ref());
        self.md.push('\n');
    }
}

fn progress(s: &str) {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "report: {s}");
}

fn main() -> Result<()> {
    let mut out_file = PathBuf::from("BENCHMARKS.md");
    let mut cli_path = PathBuf::from(CLI);
    let mut generic_path = PathBuf::from(GENERIC);
    let mut budget = Budget::QUICK;
    let mut long = Budget::LONG;
    let mut only: Option<String> = None;
    let mut out_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => {
                out_file = args.next().context("--out needs a file")?.into();
                out_given = true;
            }
            "--cli" => cli_path = args.next().context("--cli needs a path")?.into(),
            "--generic" => generic_path = args.next().context("--generic needs a path")?.into(),
            "--only" => {
                let section = args.next().context("--only needs a section")?;
                anyhow::ensure!(
                    SECTIONS.contains(&section.as_str()),
                    "unknown section {section}; sections: {}",
                    SECTIONS.join(", ")
                );
                only = Some(section);
            }
            "--quick" => {
                budget = Budget {
                    samples: 11,
                    measure: budget.measure / 4,
                    warm_up: budget.warm_up / 2,
                };
                long = budget;
            }
            other => anyhow::bail!(
                "unknown argument {other}; usage: report [--out FILE] [--cli PATH] [--generic WASM] [--quick] [--only SECTION]"
            ),
        }
    }
    if let Some(section) = only.as_deref().filter(|_| !out_given) {
        // a partial report never overwrites the whole one unless asked to
        out_file = PathBuf::from(format!("target/bench-{section}.md"));
    }
    let started = Instant::now();
    let mut out = Out {
        md: String::new(),
        targets: Vec::new(),
    };
    let requests = inputs::requests();
    let bundle = inputs::bundle(1000);
    let all: Vec<&Input> = requests.iter().chain([&bundle]).collect();
    let pick = |i: &Input| if i.objects > 1 { long } else { budget };

    let mut body = Out {
        md: String::new(),
        targets: Vec::new(),
    };
    let run = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let native = if run("native") || run("wasmtime") || run("regorus") {
        progress("native");
        Some(native(&mut body, &all, pick)?)
    } else {
        None
    };
    if let Some(native) = native.as_ref().filter(|_| run("wasmtime")) {
        progress("wasmtime");
        wasm(&mut body, &all, native, pick, &generic_path)?;
    }
    if run("settings") {
        progress("settings");
        settings_cost(&mut body, budget, &generic_path)?;
    }
    if let Some(native) = native.as_ref().filter(|_| run("regorus")) {
        progress("regorus");
        rego_twin(&mut body, &all, native, pick)?;
    }
    if run("sizes") {
        progress("sizes");
        sizes(&mut body)?;
    }
    if run("cli") {
        progress("cli");
        cli_throughput(&mut body, &cli_path)?;
    }
    if run("worst") {
        progress("worst cases");
        worst_cases(&mut body, &generic_path)?;
    }
    out.targets = std::mem::take(&mut body.targets);

    header(&mut out, started)?;
    out.line("## Targets");
    out.line("");
    out.line("| target | goal | measured | verdict |");
    out.line("|---|---|---|---|");
    let rows: Vec<String> = out
        .targets
        .iter()
        .map(|t| {
            let verdict = match t.met {
                Some(true) => "**met**",
                Some(false) => "**not met**",
                None => "not measured",
            };
            format!("| {} | {} | {} | {verdict} |", t.what, t.goal, t.measured)
        })
        .collect();
    for r in rows {
        out.line(r);
    }
    out.line("");
    out.line(NOTES);
    out.line("");
    out.md.push_str(&body.md);
    let _ = writeln!(
        out.md,
        "\n_Written by `make bench` (benches/src/bin/report.rs) in {:.0} s._",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(&out_file, &out.md)
        .with_context(|| format!("writing {}", out_file.display()))?;
    progress(&format!("wrote {}", out_file.display()));
    for t in &out.targets {
        progress(&format!(
            "{}: {} ({})",
            t.what,
            t.measured,
            match t.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "not measured",
            }
        ));
    }
    Ok(())
}

fn header(out: &mut Out, started: Instant) -> Result<()> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or("unknown".into(), |k| {
            format!("{:.1} GiB", k / 1024.0 / 1024.0)
        });
    let kernel = command("uname", &["-sr"]);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let rustc = command("rustc", &["-V"]);
    let commit = command("git", &["rev-parse", "--short", "HEAD"]);
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let date = command("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    out.line("# Benchmarks");
    out.line("");
    out.line(
        "Measured by `make bench`: every figure below comes from one run of \
         `benches/src/bin/report.rs`, and every ratio compares two figures of that same run. \
         Times are the median per operation over the samples, with the interquartile range \
         (IQR) and ± half the IQR relative to the median as the spread.",
    );
    out.line("");
    out.line("## Machine and versions");
    out.line("");
    out.line("| | |");
    out.line("|---|---|");
    out.line(format!("| date | {date} |"));
    out.line(format!("| CPU | {cpu}, {cores} cores |"));
    out.line(format!("| memory | {mem} |"));
    out.line(format!("| kernel | {kernel} |"));
    out.line(format!(
        "| load average at the end | {load} (the machine is shared: other builds ran beside this one) |"
    ));
    out.line(format!("| rustc | {rustc} |"));
    out.line(format!(
        "| portcullis | {} at {commit}, {} rules in the catalogue |",
        env!("CARGO_PKG_VERSION"),
        portcullis::rules::RULES.len()
    ));
    for krate in ["wasmtime", "regorus", "serde_json", "criterion"] {
        out.line(format!(
            "| {krate} | {} |",
            locked_version(&lock, krate).unwrap_or_else(|| "?".into())
        ));
    }
    out.line(format!(
        "| native build | profile `bench` (opt-level 3), report run took {:.0} s |",
        started.elapsed().as_secs_f64()
    ));
    out.line("");
    Ok(())
}

fn command(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn locked_version(lock: &str, krate: &str) -> Option<String> {
    let needle = format!("name = \"{krate}\"\nversion = \"");
    let at = lock.find(&needle)? + needle.len();
    let rest = lock.get(at..)?;
    Some(rest.split('"').next()?.to_string())
}

/// A native host keeps its compiled policies, as the generic and Kubewarden
/// modules do.
static CACHE: PolicyCache = PolicyCache::new();

/// What the native host does per request: bytes in, JSON answer bytes out.
fn native_answer(json: &[u8]) -> Vec<u8> {
    CACHE.evaluate_to_json(json)
}

struct Native {
    answers: Vec<Value>,
}

fn native(out: &mut Out, all: &[&Input], pick: impl Fn(&Input) -> Budget) -> Result<Native> {
    out.line("## 1. Native evaluation against the cost of parsing");
    out.line("");
    out.line(
        "*parse* is `serde_json::from_slice::<Value>` of the input, the floor any JSON host pays. \
         *evaluate* is `portcullis::evaluate` on the already parsed value under the baseline \
         profile. *end to end* is what a native host does per request: \
         `evaluate_to_json` (parse, detect, every rule, the report serialised to JSON bytes). \
         The inputs are AdmissionReviews as the API server sends them, managed fields included. \
         Parse and end to end are measured in alternating samples; the ratio is the median of \
         the per-sample ratios.",
    );
    out.line("");
    out.line("| input | bytes | findings | parse | evaluate (parsed) | end to end | end to end / parse |");
    out.line("|---|---|---|---|---|---|---|");
    let mut end_to_end = Vec::new();
    let mut answers = Vec::new();
    let mut worst_single: Option<(f64, &str)> = None;
    for input in all {
        let b = pick(input);
        let parsed: Value = serde_json::from_slice(&input.json)?;
        let answer = portcullis::evaluate_bytes(&input.json);
        let direct: Value = serde_json::from_slice(&native_answer(&input.json))?;
        anyhow::ensure!(
            direct == answer,
            "{}: evaluate_to_json and evaluate_bytes disagree",
            input.name
        );
        let findings = count_findings(&answer);
        let eval = time(b, || CACHE.evaluate(&parsed, Host::default()).ok());
        let pair = compare(
            b,
            || serde_json::from_slice::<Value>(&input.json).ok(),
            || native_answer(&input.json),
        );
        let (parse, e2e) = (pair.a, pair.b);
        let ratio = pair.ratio.median;
        if input.objects == 1 && worst_single.is_none_or(|(r, _)| ratio > r) {
            worst_single = Some((ratio, input.name));
        }
        out.line(format!(
            "| {} | {} | {findings} | {} | {} | {} | **{}** |",
            input.name,
            input.json.len(),
            cell(&parse),
            cell(&eval),
            cell(&e2e),
            ratio_cell(&pair.ratio),
        ));
        end_to_end.push(e2e);
        answers.push(answer);
    }
    if let (Some(bundle), Some(b)) = (end_to_end.last(), all.last()) {
        out.line("");
        out.line(format!(
            "The bundle: {} per object end to end, {:.0} objects/s on one core.",
            fmt_ns(bundle.median / b.objects as f64),
            b.objects as f64 / (bundle.median / 1e9)
        ));
    }
    out.line("");
    if let Some((ratio, name)) = worst_single {
        out.targets.push(Target {
            what: "single admission request, native",
            goal: "≤ 2× the cost of parsing its JSON".into(),
            measured: format!("worst {ratio:.2}× ({name}), end to end"),
            met: Some(ratio <= 2.0),
        });
    }
    Ok(Native { answers })
}

fn count_findings(answer: &Value) -> usize {
    ["violations", "warnings"]
        .iter()
        .filter_map(|k| answer.get(*k).and_then(Value::as_array))
        .map(Vec::len)
        .sum()
}

fn wasm(
    out: &mut Out,
    all: &[&Input],
    native: &Native,
    pick: impl Fn(&Input) -> Budget,
    path: &Path,
) -> Result<()> {
    out.line("## 2. Through WebAssembly under wasmtime");
    out.line("");
    if !path.exists() {
        out.line(format!(
            "`{}` is missing (run `make wasm-generic`): not measured.",
            path.display()
        ));
        out.line("");
        return Ok(());
    }
    let bytes = std::fs::read(path)?;
    let engine = wasmtime::Engine::default();
    let compile = time(Budget::QUICK, || {
        wasmtime::Module::new(&engine, &bytes).ok()
    });
    let serialized = engine.precompile_module(&bytes)?;
    // SAFETY: the bytes were produced just above by `precompile_module` of this same engine.
    let deserialize = time(Budget::QUICK, || unsafe {
        wasmtime::Module::deserialize(&engine, &serialized).ok()
    });
    let generic = Generic::load(path)?;
    let instantiate = time(Budget::QUICK, || generic.instance().ok());
    out.line(format!("Module: `{}`.", path.display()));
    out.line("");
    out.line(
        "`portcullis.wasm` (generic JSON ABI), default wasmtime `Config` (Cranelift). \
         *reused* keeps one instance and calls `alloc`, `evaluate`, `dealloc` per request, \
         copying the answer out; *per call* creates a `Store` and instance from the \
         precompiled `InstancePre` for every request. *memory* is the instance's linear memory \
         after evaluating that input repeatedly (wasm memory never shrinks, so this is its peak).",
    );
    out.line("");
    out.line(format!(
        "- compile (Cranelift, once per process): {}",
        cell(&compile)
    ));
    out.line(format!(
        "- load precompiled module (`Module::deserialize`, {} bytes): {}",
        serialized.len(),
        cell(&deserialize)
    ));
    out.line(format!(
        "- instantiate (new `Store` + instance): {}",
        cell(&instantiate)
    ));
    out.line("");
    out.line("| input | native end to end | wasm, instance reused | reused / native | wasm, instance per call | per call / native | memory |");
    out.line("|---|---|---|---|---|---|---|");
    let mut worst: Option<(f64, &str)> = None;
    let mut mismatches = Vec::new();
    for (i, input) in all.iter().enumerate() {
        let b = pick(input);
        let mut guest = generic.instance()?;
        let answer: Value = serde_json::from_slice(&guest.evaluate(&input.json)?)?;
        if native.answers.get(i) != Some(&answer) {
            mismatches.push(input.name);
        }
        let reused_pair = compare(
            b,
            || native_answer(&input.json),
            || guest.evaluate(&input.json).ok(),
        );
        let memory = guest.memory_bytes();
        let per_call_pair = compare(
            b,
            || native_answer(&input.json),
            || {
                generic
                    .instance()
                    .and_then(|mut g| g.evaluate(&input.json))
                    .ok()
            },
        );
        let (nat, reused, per_call) = (reused_pair.a, reused_pair.b, per_call_pair.b);
        let r = reused_pair.ratio.median;
        if input.objects == 1 && worst.is_none_or(|(w, _)| r > w) {
            worst = Some((r, input.name));
        }
        out.line(format!(
            "| {} | {} | {} | **{}** | {} | {} | {} |",
            input.name,
            fmt_ns(nat.median),
            cell(&reused),
            ratio_cell(&reused_pair.ratio),
            cell(&per_call),
            ratio_cell(&per_call_pair.ratio),
            kib(memory as u64)
        ));
    }
    out.line("");
    if mismatches.is_empty() {
        out.line("Every wasm answer equals the native answer, byte for byte after parsing.");
    } else {
        out.line(format!(
            "**The wasm answer differs from the native one for: {}** (an older dist/ build?).",
            mismatches.join(", ")
        ));
    }
    out.line("");
    if let Some((r, name)) = worst {
        out.targets.push(Target {
            what: "wasmtime vs native",
            goal: "within 2× of native".into(),
            measured: format!("worst {r:.2}× ({name}), instance reused"),
            met: Some(r <= 2.0),
        });
    }
    opa(out, all, &pick)?;
    kubewarden(out, &pick)?;
    Ok(())
}

/// A cluster of `n` mixed objects as `mixed` makes them, with what the
/// cross-object rules read beside them: each Ingress's TLS Secret, a
/// ServiceAccount per Deployment (half of them turning automount off), a
/// default-deny NetworkPolicy in every other namespace, one Certificate.
fn kubewarden_cluster(n: usize) -> Vec<Value> {
    let mut objects: Vec<Value> = (0..n).map(inputs::mixed).collect();
    let mut extra = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("x");
        let ns = o
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        match o.get("kind").and_then(Value::as_str) {
            Some("Ingress") => extra.push(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "type": "kubernetes.io/tls", "metadata": {"name": format!("{name}-tls"), "namespace": ns},
                "data": {"tls.crt": "LS0tLS1CRUdJTg==", "tls.key": "LS0tLS1CRUdJTg=="}})),
            Some("Deployment") => extra.push(serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": ns}, "automountServiceAccountToken": i % 2 == 0})),
            _ => {}
        }
    }
    for t in (0..17).step_by(2) {
        extra.push(
            serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": format!("team-{t}")},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        );
    }
    extra.push(
        serde_json::json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "other", "namespace": "team-3"}, "spec": {"secretName": "other-tls"}}),
    );
    objects.extend(extra);
    objects
}

/// `{request, settings}` for a CREATE of `object`.
fn kubewarden_payload(object: &Value, settings: &Value) -> Vec<u8> {
    let review = inputs::admission_review(object);
    serde_json::to_vec(&serde_json::json!({"request": review.get("request"), "settings": settings}))
        .unwrap_or_default()
}

fn kubewarden(out: &mut Out, pick: impl Fn(&Input) -> Budget) -> Result<()> {
    out.line("### portcullis-kubewarden.wasm: admission with and without cluster context");
    out.line("");
    let path = Path::new(KUBEWARDEN);
    if !path.exists() {
        out.line(format!(
            "`{KUBEWARDEN}` is not in dist/ (`make kubewarden` did not build it in this tree): not measured."
        ));
        out.line("");
        return Ok(());
    }
    let kw = Kubewarden::load(path)?;
    let cluster = std::sync::Arc::new(Cluster::new(kubewarden_cluster(1000)));
    let ingresses = (0..1000).filter(|i| i % 10 == 3).count();
    out.line(format!(
        "The waPC module under a bare wasmtime waPC host, one instance per side reused, `validate` of a CREATE as Kubewarden sends it. *context off* sets `clusterContext: off` (what a namespaced AdmissionPolicy runs); *with context* reads what the rules need through the host calls, from a cluster of {} objects ({ingresses} Ingresses over 17 namespaces, their Secrets, ServiceAccounts, default-deny NetworkPolicies in half the namespaces). The host answers each distinct call from memory after the first, as policy-server's caches do, so the figures are the policy's own work: reading the answers and running the rules.",
        cluster.len()
    ));
    out.line("");
    out.line("| request | host calls | context off | with context | with / off | memory |");
    out.line("|---|---|---|---|---|---|");
    let mut pending = inputs::ingress("pending", "team-3", 2);
    if let Some(m) = pending
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        m.remove("cert-manager.io/cluster-issuer");
    }
    let requests: Vec<(&str, Value)> = vec![
        ("Service (LoadBalancer)", inputs::service("web", "team-0")),
        (
            "Ingress (5 hosts, Secret present)",
            inputs::ingress("app-3", "team-3", 5),
        ),
        ("Ingress (Secret absent: its producers listed)", pending),
        ("Deployment", inputs::deployment("app-4", "team-4", false)),
        ("ClusterRole", inputs::cluster_role("shop-operator")),
    ];
    let off = serde_json::json!({"clusterContext": "off"});
    let on = serde_json::json!({});
    let b = pick(&Input {
        name: "",
        json: Vec::new(),
        objects: 1,
    });
    for (name, object) in &requests {
        let (p_off, p_on) = (
            kubewarden_payload(object, &off),
            kubewarden_payload(object, &on),
        );
        let mut g_off = kw.instance(cluster.clone())?;
        let mut g_on = kw.instance(cluster.clone())?;
        g_off.validate(&p_off)?;
        g_on.validate(&p_on)?;
        let calls = g_on.calls();
        let pair = compare(
            b,
            || g_off.validate(&p_off).ok(),
            || g_on.validate(&p_on).ok(),
        );
        out.line(format!(
            "| {name} | {calls} | {} | {} | {} | {} |",
            cell(&pair.a),
            cell(&pair.b),
            ratio_cell(&pair.ratio),
            kib(g_on.memory_bytes() as u64)
        ));
    }
    out.line("");
    out.line(
        "An Ingress lists every Ingress of the cluster (host conflicts span namespaces), so its cost grows with them; the same Ingress against clusters of growing size:",
    );
    out.line("");
    out.line("| Ingresses in the cluster | host calls | with context | memory |");
    out.line("|---|---|---|---|");
    let ingress = inputs::ingress("app-3", "team-3", 5);
    for n in [100, 1000, 10_000] {
        let cluster = std::sync::Arc::new(Cluster::new(kubewarden_cluster(n)));
        let payload = kubewarden_payload(&ingress, &on);
        let mut g = kw.instance(cluster)?;
        g.validate(&payload)?;
        let calls = g.calls();
        let t = time(b, || g.validate(&payload).ok());
        out.line(format!(
            "| {} | {calls} | {} | {} |",
            (0..n).filter(|i| i % 10 == 3).count(),
            cell(&t),
            kib(g.memory_bytes() as u64)
        ));
    }
    out.line("");
    Ok(())
}

fn opa(out: &mut Out, all: &[&Input], pick: impl Fn(&Input) -> Budget) -> Result<()> {
    out.line("### portcullis-opa.wasm through the OPA call sequence");
    out.line("");
    let path = Path::new(OPA);
    if !path.exists() {
        out.line(format!(
            "`{OPA}` is not in dist/ yet (`make opa` does not build it in this tree): not measured."
        ));
        out.line("");
        return Ok(());
    }
    let opa = match Opa::load(path) {
        Ok(o) => o,
        Err(e) => {
            out.line(format!("`{OPA}` did not load: {e:#}. Not measured."));
            out.line("");
            return Ok(());
        }
    };
    let instantiate = time(Budget::QUICK, || opa.instance().ok());
    out.line(
        "The npm / Rust `opa-wasm` fast path: instantiate with a 5-page imported memory, \
         `builtins`, `opa_malloc` + `opa_json_parse` of `{}` as data, `entrypoints`; then per \
         request the input is written at the data heap pointer and `opa_eval` returns the \
         JSON result set, read up to its NUL.",
    );
    out.line("");
    out.line(format!(
        "- instantiate and load (the SDK's sequence): {}",
        cell(&instantiate)
    ));
    out.line("");
    out.line("| input | native end to end | OPA ABI, instance reused | / native | memory |");
    out.line("|---|---|---|---|---|");
    for input in all {
        let b = pick(input);
        let mut guest = match opa.instance() {
            Ok(g) => g,
            Err(e) => {
                out.line(format!("| {} | instance failed: {e:#} | | | |", input.name));
                continue;
            }
        };
        if let Err(e) = guest.evaluate(&input.json) {
            out.line(format!(
                "| {} | evaluation failed: {e:#} | | | |",
                input.name
            ));
            continue;
        }
        let pair = compare(
            b,
            || native_answer(&input.json),
            || guest.evaluate(&input.json).ok(),
        );
        // a failure inside the timed loop would look like a fast answer
        if let Err(e) = guest.evaluate(&input.json) {
            out.line(format!(
                "| {} | failed after repeated evaluations: {e:#} | | | |",
                input.name
            ));
            continue;
        }
        out.line(format!(
            "| {} | {} | {} | {} | {} |",
            input.name,
            fmt_ns(pair.a.median),
            cell(&pair.b),
            ratio_cell(&pair.ratio),
            kib(guest.memory_bytes() as u64)
        ));
    }
    out.line("");
    Ok(())
}

/// Hosts that send settings with every request (Gatekeeper parameters,
/// Kubewarden settings, the generic envelope): a NodePort review under the
/// default settings and under settings that switch every other rule off.
fn settings_cost(out: &mut Out, b: Budget, generic_path: &Path) -> Result<()> {
    let off: serde_json::Map<String, Value> = portcullis::rules::RULES
        .iter()
        .map(|r| r.meta().id)
        .filter(|id| *id != "service-type-nodeport")
        .map(|id| (id.to_string(), Value::String("off".into())))
        .collect();
    let n_off = off.len();
    let review = inputs::admission_review(&inputs::plain_service("web", "shop", true));
    let request = review.get("request").cloned().unwrap_or(Value::Null);
    let custom = serde_json::json!({ "rules": off });
    let pair_of = |key: &str, member: &str, settings: &Value| -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(
            &serde_json::json!({ key: request, member: settings }),
        )?)
    };
    let empty = serde_json::json!({});
    let kubewarden = (
        pair_of("request", "settings", &empty)?,
        pair_of("request", "settings", &custom)?,
    );
    let gatekeeper = (
        pair_of("review", "parameters", &empty)?,
        pair_of("review", "parameters", &custom)?,
    );
    out.line("## 2b. Settings sent with every request");
    out.line("");
    out.line(format!(
        "A NodePort Service's admission request, once with empty settings and once with \
         settings that switch the {n_off} other rules off, as Kubewarden (`{{request, settings}}`) \
         and Gatekeeper-style hosts (`{{review, parameters}}`) send them with every request. \
         The two are measured in alternating samples; the ratio is custom / default. Native and \
         `portcullis.wasm` keep compiled policies by their settings (a `PolicyCache`); the \
         OPA module cannot (its hosts reset its heap before every evaluation), so it compiles \
         the settings every time, and *native, no cache* shows what the cache saves."
    ));
    out.line("");
    out.line("| host | shape | default settings | custom settings | custom / default |");
    out.line("|---|---|---|---|---|");
    let mut worst: Option<f64> = None;
    let mut row = |out: &mut Out,
                   host: &str,
                   shape: &str,
                   pair: &portcullis_bench::measure::Pair,
                   cached: bool| {
        if cached {
            worst = Some(worst.map_or(pair.ratio.median, |w: f64| w.max(pair.ratio.median)));
        }
        out.line(format!(
            "| {host} | {shape} | {} | {} | **{}** |",
            cell(&pair.a),
            cell(&pair.b),
            ratio_cell(&pair.ratio)
        ));
    };
    for (shape, (default, custom)) in [
        ("`{request, settings}`", &kubewarden),
        ("`{review, parameters}`", &gatekeeper),
    ] {
        let pair = compare(b, || native_answer(default), || native_answer(custom));
        row(out, "native", shape, &pair, true);
        let pair = compare(
            b,
            || portcullis::evaluate_to_json(default),
            || portcullis::evaluate_to_json(custom),
        );
        row(out, "native, no cache", shape, &pair, false);
        if generic_path.exists() {
            let generic = Generic::load(generic_path)?;
            let mut guest = generic.instance()?;
            let mut other = generic.instance()?;
            let pair = compare(
                b,
                || guest.evaluate(default).ok(),
                || other.evaluate(custom).ok(),
            );
            row(
                out,
                "`portcullis.wasm`, instance reused",
                shape,
                &pair,
                true,
            );
        }
    }
    if let Ok(opa) = Opa::load(Path::new(OPA)) {
        let mut guest = opa.instance()?;
        let mut other = opa.instance()?;
        let (default, custom) = &gatekeeper;
        let pair = compare(
            b,
            || guest.evaluate(default).ok(),
            || other.evaluate(custom).ok(),
        );
        row(
            out,
            "`portcullis-opa.wasm` (no cache by design)",
            "`{review, parameters}`",
            &pair,
            false,
        );
    }
    out.line("");
    if let Some(w) = worst {
        out.targets.push(Target {
            what: "settings sent with every request",
            goal: "custom settings within 1.2× of the default settings' time".into(),
            measured: format!("worst {w:.2}× (native and `portcullis.wasm`, both request shapes)"),
            met: Some(w <= 1.2),
        });
    }
    Ok(())
}

fn rego_twin(
    out: &mut Out,
    all: &[&Input],
    native: &Native,
    pick: impl Fn(&Input) -> Budget,
) -> Result<()> {
    out.line("## 3. Against the same rules in Rego under regorus");
    out.line("");
    out.line(format!(
        "`benches/rego/` holds a Rego twin of {} exposure and ingress rules ({}), written as a \
         Gatekeeper user would. regorus parses the same JSON input into its own value and \
         evaluates `data.portcullis.violation`, through both of its APIs: the engine reused \
         across requests, and a `CompiledPolicy` (compiled once). Rego timings include \
         regorus parsing the JSON, as portcullis's include its own parse. portcullis runs its whole catalogue on the same bytes, end to end, so the \
         ratio is conservative.",
        rego::RULES.len(),
        rego::RULES.join(", ")
    ));
    out.line("");
    let mut twin = Twin::load()?;
    out.line("| input | portcullis end to end | regorus parse alone | regorus `Engine::eval_rule` | regorus `CompiledPolicy` | Rego (faster) / portcullis | engines only, input parsed: Rego / portcullis | findings: twin / portcullis (same rules) |");
    out.line("|---|---|---|---|---|---|---|---|");
    let mut worst: Option<(f64, &str)> = None;
    for (i, input) in all.iter().enumerate() {
        let b = pick(input);
        let text = std::str::from_utf8(&input.json)?;
        let twin_count = twin.evaluate(text)?;
        let engine_pair = compare(
            b,
            || native_answer(&input.json),
            || twin.evaluate(text).ok(),
        );
        let compiled_pair = compare(
            b,
            || native_answer(&input.json),
            || twin.evaluate_compiled(text).ok(),
        );
        let fastest = if compiled_pair.ratio.median < engine_pair.ratio.median {
            &compiled_pair
        } else {
            &engine_pair
        };
        let nat = &engine_pair.a;
        // the engines alone: both inputs already parsed
        let parsed: Value = serde_json::from_str(text)?;
        let rego_value = regorus::Value::from_json_str(text)?;
        let rego_parse = time(b, || regorus::Value::from_json_str(text).ok());
        let engines = compare(
            b,
            || portcullis::evaluate(&parsed, Host::default()).ok(),
            || twin.evaluate_value(rego_value.clone()).ok(),
        );
        let same_rules = native.answers.get(i).map_or(0, |a| {
            ["violations", "warnings"]
                .iter()
                .filter_map(|k| a.get(*k).and_then(Value::as_array))
                .flatten()
                .filter(|f| {
                    f.get("rule")
                        .and_then(Value::as_str)
                        .is_some_and(|r| rego::RULES.contains(&r))
                })
                .count()
        });
        let r = fastest.ratio.median;
        if worst.is_none_or(|(w, _)| r < w) {
            worst = Some((r, input.name));
        }
        out.line(format!(
            "| {} | {} | {} | {} | {} | **{}** | {} / {} = **{}** | {twin_count} / {same_rules} |",
            input.name,
            fmt_ns(nat.median),
            fmt_ns(rego_parse.median),
            cell(&engine_pair.b),
            cell(&compiled_pair.b),
            ratio_cell(&fastest.ratio),
            fmt_ns(engines.b.median),
            fmt_ns(engines.a.median),
            ratio_cell(&engines.ratio),
        ));
    }
    let present: Vec<&str> = rego::RULES
        .iter()
        .copied()
        .filter(|id| portcullis::rules::find(id).is_some())
        .collect();
    out.line("");
    out.line(format!(
        "Of the twin's rules, {} of {} are in this build's catalogue ({}); findings of the \
         others are counted for the twin only.",
        present.len(),
        rego::RULES.len(),
        if present.is_empty() {
            "none".to_string()
        } else {
            present.join(", ")
        }
    ));
    out.line("");
    if let Some((r, name)) = worst {
        out.targets.push(Target {
            what: "vs the Rego twin under regorus",
            goal: "≥ 50× faster".into(),
            measured: format!("slowest margin {r:.1}× ({name})"),
            met: Some(r >= 50.0),
        });
    }
    Ok(())
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len() as u64)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn sizes(out: &mut Out) -> Result<()> {
    out.line("## 4. Artifact sizes");
    out.line("");
    out.line("Every file in dist/, raw and gzipped (level 9). `make bench` builds only the generic module; the others are measured when an earlier `make wasm`/`make web` left them there.");
    out.line("");
    out.line("| artifact | raw | gzip -9 |");
    out.line("|---|---|---|");
    let mut files = Vec::new();
    let dist = Path::new("dist");
    if dist.is_dir() {
        files_under(dist, &mut files)?;
    }
    for f in &files {
        let bytes = std::fs::read(f)?;
        out.line(format!(
            "| `{}` | {} ({} B) | {} |",
            f.display(),
            kib(bytes.len() as u64),
            bytes.len(),
            kib(gzip_len(&bytes)?)
        ));
    }
    let expected = [
        "dist/portcullis.wasm",
        "dist/portcullis-opa.wasm",
        "dist/portcullis-kubewarden.wasm",
        "dist/portcullis-opa-bundle.tar.gz",
        "dist/web",
    ];
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    out.line("");
    if !missing.is_empty() {
        out.line(format!(
            "Not built in this tree, so not measured: {}.",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.line("");
    }
    let generic = std::fs::metadata(GENERIC).map(|m| m.len()).ok();
    out.targets.push(Target {
        what: "`portcullis.wasm` size",
        goal: "≤ 350 KiB after `wasm-opt -Oz`".into(),
        measured: generic.map_or("not built".into(), |n| {
            format!(
                "{} ({:.2}× the limit)",
                kib(n),
                n as f64 / WASM_LIMIT as f64
            )
        }),
        met: generic.map(|n| n <= WASM_LIMIT),
    });
    Ok(())
}

fn cli_throughput(out: &mut Out, cli: &Path) -> Result<()> {
    out.line("## 5. CLI throughput");
    out.line("");
    let target = |measured: String, met: Option<bool>| Target {
        what: "10,000-object CLI check",
        goal: "< 2 s on this 2-core machine".into(),
        measured,
        met,
    };
    if !cli.exists() {
        out.line(format!(
            "`{}` is missing (run `make cli`): not measured.",
            cli.display()
        ));
        out.line("");
        out.targets.push(target("CLI not built".into(), None));
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let tree = dir.join("manifests");
    std::fs::create_dir_all(&tree)?;
    let bytes = inputs::write_tree(&tree, CLI_OBJECTS, 25)?;
    let tree_s = tree.to_string_lossy().to_string();
    let args = ["check", tree_s.as_str(), "--format", "json"];
    // the first run warms the page cache; it is not counted
    let first = cli::run(cli, &args, &dir)?;
    let answer: Option<Value> = serde_json::from_slice(&first.stdout).ok();
    let objects = answer
        .as_ref()
        .and_then(|a| a.pointer("/summary/objects"))
        .and_then(Value::as_u64);
    if objects != Some(CLI_OBJECTS as u64) {
        let _ = std::fs::remove_dir_all(&dir);
        out.line(format!(
            "`portcullis check DIR --format json` did not answer with a summary of {CLI_OBJECTS} \
             objects (exit code {:?}, summary.objects {objects:?}): the CLI's `check` is not \
             usable in this build, so CLI throughput is not measured.",
            first.exit_code
        ));
        out.line("");
        out.targets.push(target("`check` not usable".into(), None));
        return Ok(());
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        runs.push(cli::run(cli, &args, &dir)?);
    }
    let mut walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    walls.sort_by(f64::total_cmp);
    let median = portcullis_bench::measure::quantile(&walls, 0.5);
    let q1 = portcullis_bench::measure::quantile(&walls, 0.25);
    let q3 = portcullis_bench::measure::quantile(&walls, 0.75);
    let rss = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
    let findings = answer.as_ref().map_or(0, count_findings);
    out.line(format!(
        "The bench writes {CLI_OBJECTS} objects of mixed kinds (Services, Ingresses, Deployments, \
         ClusterRoles, ConfigMaps) as YAML, 25 documents a file in 20 folders ({:.1} MiB), then \
         runs `portcullis check DIR --format json` (one bundle: cross-object rules see every \
         object) 5 times after one warm-up run. Peak RSS is `ru_maxrss` from `wait4`.",
        bytes as f64 / 1024.0 / 1024.0
    ));
    out.line("");
    out.line(
        "| objects | wall time (median of 5) | objects / s | peak RSS | findings | exit code |",
    );
    out.line("|---|---|---|---|---|---|");
    out.line(format!(
        "| {CLI_OBJECTS} | {} (IQR {}–{}) | {:.0} | {:.1} MiB | {findings} | {} |",
        fmt_ns(median * 1e9),
        fmt_ns(q1 * 1e9),
        fmt_ns(q3 * 1e9),
        CLI_OBJECTS as f64 / median,
        rss as f64 / 1024.0,
        first.exit_code.map_or("signal".into(), |c| c.to_string())
    ));
    out.line("");
    out.targets.push(target(
        format!("{} ({:.2}× the limit)", fmt_ns(median * 1e9), median / 2.0),
        Some(median < 2.0),
    ));
    let ratio = rss as f64 * 1024.0 / bytes as f64;
    out.targets.push(Target {
        what: "CLI peak memory",
        goal: format!("≤ {CLI_RSS_RATIO}× the YAML it reads"),
        measured: format!(
            "{ratio:.1}× ({:.1} MiB for {:.1} MiB, {CLI_OBJECTS} objects)",
            rss as f64 / 1024.0,
            bytes as f64 / 1024.0 / 1024.0
        ),
        met: Some(ratio <= CLI_RSS_RATIO),
    });
    let large = cli_large_document(out, cli, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    large
}

/// One large YAML document (a List of mixed objects, the largest a
/// repository holds: a rendered chart, an export) at 1× and 8×: the loader
/// records a position for every node, and its time must grow with the text,
/// not with the text times its nodes.
fn cli_large_document(out: &mut Out, cli: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rows = Vec::new();
    for n in [LARGE_DOC_OBJECTS / 8, LARGE_DOC_OBJECTS] {
        let file = dir.join(format!("list-{n}.yaml"));
        let bytes = inputs::write_list_document(&file, n)?;
        let file_s = file.to_string_lossy().to_string();
        let args = ["check", file_s.as_str(), "--format", "json"];
        let first = cli::run_until(cli, &args, dir, Some(LARGE_DOC_DEADLINE))?;
        if first.cut_off {
            rows.push((n, bytes, None));
            break;
        }
        let objects = serde_json::from_slice::<Value>(&first.stdout)
            .ok()
            .and_then(|a| a.pointer("/summary/objects").and_then(Value::as_u64));
        if objects != Some(n as u64) {
            bail!("`portcullis check` of a {n}-object List read {objects:?} objects");
        }
        let mut walls = Vec::new();
        for _ in 0..5 {
            walls.push(cli::run(cli, &args, dir)?.wall.as_secs_f64());
        }
        walls.sort_by(f64::total_cmp);
        rows.push((
            n,
            bytes,
            Some(portcullis_bench::measure::quantile(&walls, 0.5)),
        ));
    }
    let time = |t: Option<f64>| {
        t.map_or(
            format!("cut off after {} s", LARGE_DOC_DEADLINE.as_secs()),
            |t| fmt_ns(t * 1e9),
        )
    };
    out.line(format!(
        "One YAML document, a List of mixed objects, at 1× and 8× (`portcullis check FILE \
         --format json`, median of 5 after a warm-up; a run past {} s is cut off). The loader \
         records every node's position; *exponent* is k in time ∝ sizeᵏ, the goal ≤ {}.",
        LARGE_DOC_DEADLINE.as_secs(),
        worst::MAX_EXPONENT
    ));
    out.line("");
    out.line("| objects | size | wall time (median of 5) |");
    out.line("|---|---|---|");
    for (n, b, t) in &rows {
        out.line(format!(
            "| {n} | {:.2} MiB | {} |",
            *b as f64 / 1024.0 / 1024.0,
            time(*t)
        ));
    }
    out.line("");
    let goal = format!(
        "time ≤ n log n in its size (exponent ≤ {})",
        worst::MAX_EXPONENT
    );
    let (Some(&(n1, b1, Some(t1))), Some(&(n8, b8, Some(t8)))) = (rows.first(), rows.get(1)) else {
        out.targets.push(Target {
            what: "CLI on one large YAML document",
            goal,
            measured: rows
                .iter()
                .map(|(n, _, t)| format!("{n} objects: {}", time(*t)))
                .collect::<Vec<_>>()
                .join(", "),
            met: Some(false),
        });
        return Ok(());
    };
    let k = (t8 / t1).ln() / (b8 as f64 / b1 as f64).ln();
    out.targets.push(Target {
        what: "CLI on one large YAML document",
        goal,
        measured: format!(
            "exponent {k:.2} ({} for {n1} objects, {} for {n8}, {:.1} MiB)",
            fmt_ns(t1 * 1e9),
            fmt_ns(t8 * 1e9),
            b8 as f64 / 1024.0 / 1024.0
        ),
        met: Some(k <= worst::MAX_EXPONENT),
    });
    Ok(())
}

/// Why a single object's worst case is over the time goal, from its
/// figures: the floor (reading the request with every rule off) alone, or
/// the rule's own cost on top of it, with what that cost is where known.
fn over_reason(row: &worst::Row) -> String {
    let own = (row.ms.1 - row.floor_ms).max(0.0);
    let goal = worst::OBJECT_MS;
    let mut reason = if row.floor_ms > goal {
        format!(
            "`{}`: reading the request takes {:.0} ms of its {:.0} ms, over the goal before any \
             rule runs; its own {own:.0} ms",
            row.rule, row.floor_ms, row.ms.1
        )
    } else {
        format!(
            "`{}`: its own {own:.0} ms over a reading of {:.0} ms",
            row.rule, row.floor_ms
        )
    };
    reason.push_str(if own > goal {
        match OWN_COST.iter().find(|(rules, _)| rules.contains(&row.rule)) {
            Some((_, why)) => why,
            None => " is over the goal by itself (not broken down yet)",
        }
    } else {
        " is within it"
    });
    reason.push('.');
    reason
}

/// What the rules whose own cost is over the goal spend it on (from
/// profiles of their worst inputs), for the rules named.
const OWN_COST: &[(&[&str], &str)] = &[
    (
        &["service-external-ips"],
        " go to building a whole finding (message and fix) for each of the 223,611 \
         addresses, for the object and again for the old object (the ratchet), before the cap \
         keeps 20: mostly allocation and freeing. A finding whose message and fix are built only \
         when it will be listed would remove most of it",
    ),
    (
        &[
            "apiserver-anonymous-auth",
            "apiserver-authorization",
            "apiserver-audit-logging",
            "apiserver-tls",
            "cluster-version-unsupported",
        ],
        " are the one shared reading of 130,259 arguments into flags with their JSON Pointers \
         (the six control-plane rules read them once per object)",
    ),
];

fn worst_cases(out: &mut Out, generic_path: &Path) -> Result<()> {
    out.line("## 6. Worst cases per rule");
    out.line("");
    if !generic_path.exists() {
        out.line("`portcullis.wasm` is missing: not measured.");
        out.line("");
        return Ok(());
    }
    let generic = Generic::load_interruptible(generic_path)?;
    out.line(format!(
        "Each rule's worst input (benches/src/worst.rs) under wasmtime, one instance kept across \
         requests. 8× is the limit: the largest single object under {} MiB (the API server's \
         request limit; {} KiB of annotations where the payload is annotations), sent as an UPDATE \
         whose oldObject is the same object, so every rule also runs on the old object and every \
         finding goes through the ratchet; or a List of {} objects for the rules that read the \
         bundle. 1× is an eighth of the units. *exponent* is k in time ∝ sizeᵏ from 1× to 8×: n log n \
         shows as about 1.1; the goal is ≤ {} for every rule and ≤ {} ms at 8× for a single object. \
         *listed* counts the findings the 8× answer lists (at most {} per rule, object and action; \
         the rest are counted in `truncated`). Every rule's input runs every rule of the default \
         settings. *no rule at 8×* is the same request with every rule off: reading the request \
         and writing the answer, the floor under the rule's figure. A request still running after \
         {} s is cut off and shown as *cut off*.",
        worst::OBJECT_LIMIT / (1024 * 1024),
        worst::ANNOTATIONS_LIMIT / 1024,
        worst::BUNDLE_OBJECTS,
        worst::MAX_EXPONENT,
        worst::OBJECT_MS,
        portcullis::engine::FINDINGS_PER_RULE,
        worst::DEADLINE.as_secs(),
    ));
    out.line("");
    out.line("| rule | worst input | units at 8× | 8× size | 1× | 8× | no rule at 8× | exponent | memory at 8× | listed | answer |");
    out.line("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut slowest: Option<(f64, f64, &str)> = None;
    let mut steepest: Option<(f64, &str)> = None;
    let mut over_time = Vec::new();
    let mut over_growth = Vec::new();
    let mut reasons = Vec::new();
    for w in WORST {
        progress(&format!("worst case: {}", w.rule));
        let row = worst::measure(&generic, w)?;
        let k = row.exponent();
        if !row.bundle && slowest.is_none_or(|(t, _, _)| row.ms.1 > t) {
            slowest = Some((row.ms.1, row.floor_ms, w.rule));
        }
        if steepest.is_none_or(|(e, _)| k > e) {
            steepest = Some((k, w.rule));
        }
        if !row.within_time() {
            over_time.push(w.rule);
            reasons.push(over_reason(&row));
        }
        if !row.within_n_log_n() {
            over_growth.push(w.rule);
        }
        let flag = |ok: bool| if ok { "" } else { " **over**" };
        // rule, input, units at 8×, 8× size: the same cells in both rows
        let lead = format!(
            "| {} | {} | {} {} | {} |",
            w.rule,
            w.what,
            row.units,
            if row.bundle { "objects" } else { "units" },
            kib(row.bytes.1 as u64),
        );
        if row.cut_off {
            out.line(format!(
                "{lead} – | **cut off** after {} s | – | – | – | – | – |",
                worst::DEADLINE.as_secs(),
            ));
            continue;
        }
        out.line(format!(
            "{lead} {:.1} ms | {:.1} ms{} | {:.1} ms | {:.2}{} | {} | {} | {} |",
            row.ms.0,
            row.ms.1,
            flag(row.within_time()),
            row.floor_ms,
            k,
            flag(row.within_n_log_n()),
            kib(row.memory as u64),
            row.findings,
            kib(row.answer_bytes as u64),
        ));
    }
    out.line("");
    if !reasons.is_empty() {
        out.line(format!(
            "Why each single object over {} ms is over. *Reading* is the *no rule at 8×* \
             figure: parsing the 6 MiB UPDATE (object and oldObject) into JSON trees, detecting \
             the shape and writing the answer, which no rule can make cheaper; *its own* is the \
             rest of the 8× figure.",
            worst::OBJECT_MS
        ));
        out.line("");
        for r in &reasons {
            out.line(format!("- {r}"));
        }
        out.line("");
    }
    if let Some((t, floor, rule)) = slowest {
        out.targets.push(Target {
            what: "worst single object under wasmtime",
            goal: format!("≤ {} ms up to 3 MiB", worst::OBJECT_MS),
            measured: if over_time.is_empty() {
                format!("{t:.1} ms ({rule})")
            } else {
                format!(
                    "{t:.1} ms ({rule}; {floor:.1} ms of it with no rule on); over: {}",
                    over_time.join(", ")
                )
            },
            met: Some(over_time.is_empty()),
        });
    }
    if let Some((k, rule)) = steepest {
        out.targets.push(Target {
            what: "growth of every rule's worst case",
            goal: format!("≤ n log n (exponent ≤ {})", worst::MAX_EXPONENT),
            measured: if over_growth.is_empty() {
                format!("steepest {k:.2} ({rule})")
            } else {
                format!("steepest {k:.2} ({rule}); over: {}", over_growth.join(", "))
            },
            met: Some(over_growth.is_empty()),
        });
    }
    Ok(())
}
