//! The CLI as users run it: exit codes, formats, lines, errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = bin();
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        // a usage error may exit before reading its input
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

const NODEPORT: &str = "# a comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  type: NodePort\n  ports:\n    - port: 80\n---\n---\n";

#[test]
fn exit_codes_follow_the_verdict() {
    assert_eq!(
        run(&["check", "examples/fixed"], None).status.code(),
        Some(0)
    );
    assert_eq!(
        run(&["check", "examples/unsafe"], None).status.code(),
        Some(1)
    );
    assert_eq!(run(&["check", "no/such/dir"], None).status.code(), Some(2));
    assert_eq!(run(&["check"], None).status.code(), Some(2));
    assert_eq!(
        run(&["check", "-", "--format", "xml"], Some(NODEPORT))
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["frobnicate"], None).status.code(), Some(2));
}

#[test]
fn stdin_yaml_gives_rule_and_line() {
    let o = run(&["check", "-", "--format", "json"], Some(NODEPORT));
    assert_eq!(o.status.code(), Some(1));
    let v = json_out(&o);
    let f = &v["violations"][0];
    assert_eq!(f["rule"], "service-type-nodeport");
    assert_eq!(f["path"], "/spec/type");
    assert_eq!(f["location"]["line"], 9);
    assert_eq!(f["location"]["column"], 3);
    assert_eq!(f["location"]["file"], "<stdin>");
    assert_eq!(v["summary"]["objects"], 1);
}

#[test]
fn warn_only_is_exit_zero_and_settings_apply() {
    let dir = tempdir();
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, "rules:\n  service-type-nodeport: warn\n").unwrap();
    let o = run(
        &[
            "check",
            "-",
            "--settings",
            settings.to_str().unwrap(),
            "--format",
            "json",
        ],
        Some(NODEPORT),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v = json_out(&o);
    assert_eq!(v["warnings"][0]["rule"], "service-type-nodeport");
    assert_eq!(v["violations"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_settings_name_the_key() {
    let dir = tempdir();
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, "rules:\n  service-type-nodeprot: warn\n").unwrap();
    let o = run(
        &["check", "-", "--settings", settings.to_str().unwrap()],
        Some(NODEPORT),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rules.service-type-nodeprot"), "{err}");
    assert!(
        err.contains("did you mean `service-type-nodeport`"),
        "{err}"
    );
}

/// A checked file cannot choose its own policy: settings inside a document
/// are an input error at their line, whatever the flags say, until the
/// operator's --settings allow them.
#[test]
fn settings_inside_a_checked_document_are_an_error() {
    let text = "objects:\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: lb}\n    spec: {type: LoadBalancer}\nsettings:\n  mode: audit\n";
    for extra in [&["--profile", "strict"][..], &[]] {
        let mut args = vec!["check", "-", "--format", "json"];
        args.extend_from_slice(extra);
        let o = run(&args, Some(text));
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        let v = json_out(&o);
        let e = &v["errors"][0];
        assert_eq!(e["line"], 6, "{v}");
        assert!(
            e["message"].as_str().unwrap().contains("at /settings"),
            "{v}"
        );
        assert_eq!(v["allowed"], false, "{v}");
    }
    // Gatekeeper's parameters inside a file are content too
    let review = "review:\n  uid: u\n  operation: CREATE\n  kind: {group: '', version: v1, kind: Service}\n  object: {apiVersion: v1, kind: Service, metadata: {name: np}, spec: {type: NodePort}}\nparameters:\n  rules: {service-type-nodeport: 'off'}\n";
    let o = run(&["check", "-", "--format", "json"], Some(review));
    assert_eq!(o.status.code(), Some(2));
    assert!(json_out(&o)["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at /parameters"));
    // the operator may allow them: they then apply over the operator's
    let dir = tempdir();
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, "allowInputSettings: true\nprofile: strict\n").unwrap();
    let o = run(
        &[
            "check",
            "-",
            "--settings",
            settings.to_str().unwrap(),
            "--format",
            "json",
        ],
        Some(text),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn broken_document_is_located_and_others_still_checked() {
    let text = format!(
        "{NODEPORT}kind: [unclosed\n---\n{}",
        NODEPORT.replace("name: api", "name: web")
    );
    let o = run(&["check", "-", "--format", "json"], Some(&text));
    assert_eq!(o.status.code(), Some(2));
    let v = json_out(&o);
    assert_eq!(v["violations"].as_array().unwrap().len(), 2, "{v}");
    let e = &v["errors"][0];
    assert_eq!(e["line"], 15, "{v}");
    assert!(e["message"].as_str().unwrap().contains("YAML"));
}

#[test]
fn wrongly_typed_object_is_an_error_at_its_field() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n    - port: eighty\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {type: NodePort}\n";
    let o = run(&["check", "-", "--format", "json"], Some(text));
    assert_eq!(o.status.code(), Some(2));
    let v = json_out(&o);
    assert_eq!(v["errors"][0]["line"], 6, "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/spec/ports/0/port"),
        "{v}"
    );
    assert_eq!(v["violations"][0]["object"]["name"], "b");
}

#[test]
fn lists_and_admission_reviews_in_files() {
    let dir = tempdir();
    std::fs::write(
        dir.join("list.json"),
        r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"type": "ClusterIP"}},
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "y"}, "spec": {"type": "NodePort"}}
]}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("review.yaml"),
        "apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\nrequest:\n  uid: u1\n  kind: {group: '', version: v1, kind: Service}\n  operation: CREATE\n  object:\n    apiVersion: v1\n    kind: Service\n    metadata: {name: z}\n    spec:\n      type: LoadBalancer\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a manifest").unwrap();
    let o = run(&["check", dir.to_str().unwrap(), "--format", "json"], None);
    let v = json_out(&o);
    let rules: Vec<(&str, &str, i64)> = v["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["object"]["name"].as_str().unwrap(),
                f["location"]["line"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        rules.contains(&("service-type-nodeport", "y", 3)),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("service-type-loadbalancer", "z", 12)),
        "{rules:?}"
    );
    assert_eq!(v["summary"]["files"], 2);
}

#[test]
fn sarif_is_2_1_0_with_rules_and_regions() {
    let o = run(&["check", "examples/unsafe", "--format", "sarif"], None);
    let v = json_out(&o);
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), portcullis::rules::RULES.len());
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("examples/unsafe/"));
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(matches!(r["level"].as_str().unwrap(), "error" | "warning"));
    }
}

#[test]
fn text_output_groups_by_file_and_object() {
    let o = run(&["check", "examples/unsafe", "--no-color"], None);
    let text = String::from_utf8_lossy(&o.stdout);
    let file = text
        .find("examples/unsafe/orders.yaml\n")
        .expect("file heading");
    let object = text
        .find("\n  Service shop/orders\n")
        .expect("object heading");
    let next_file = text[file + 1..]
        .find("examples/unsafe/")
        .map_or(text.len(), |i| i + file + 1);
    assert!(file < object && object < next_file, "{text}");
    assert!(text.contains("FAIL: "), "{text}");
    assert!(!text.contains('\x1b'));
}

#[test]
fn rules_and_explain() {
    let o = run(&["rules"], None);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    for r in portcullis::rules::RULES {
        assert!(text.contains(r.meta().id));
    }
    let o = run(&["rules", "--format", "json"], None);
    assert_eq!(
        json_out(&o)["rules"].as_array().unwrap().len(),
        portcullis::rules::RULES.len()
    );
    let o = run(&["explain", "service-type-nodeport"], None);
    assert!(String::from_utf8_lossy(&o.stdout).contains("## Why it matters"));
    let o = run(&["explain", "service-type-nodepor"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean"));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portcullis-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Manifest strings reach the terminal: escape sequences in them (colours,
/// cursor moves, OSC-8 links that disguise where they point) are shown, not
/// run, with `--no-color` too.
#[test]
fn text_output_escapes_control_characters() {
    let evil = "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"web\\e[2J\"\n  namespace: shop\nspec:\n  type: ExternalName\n  externalName: \"\\e]8;;https://evil.example\\aclick\\e]8;;\\a\\x9b31m\\u202egnp.exe\"\n";
    for color in [&["--no-color"][..], &[][..]] {
        let mut args = vec!["check", "-"];
        args.extend_from_slice(color);
        let o = run(&args, Some(evil));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.contains("service-external-name"), "{out}");
        // a pipe gets no colour codes of ours either
        for c in out.chars() {
            assert!(
                c == '\n' || !c.is_control(),
                "{c:?} reached the terminal: {out:?}"
            );
            assert!(
                !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
                "{out:?}"
            );
        }
        assert!(
            out.contains(r"\x1b]8;;https://evil.example\x07click"),
            "{out}"
        );
        assert!(out.contains(r"web\x1b[2J"), "{out}");
        assert!(out.contains(r"\u{9b}31m\u{202e}gnp.exe"), "{out}");
    }
}

/// In audit mode nothing is denied: the text, the JSON and the exit code
/// say so alike, and still show what would have been.
#[test]
fn audit_mode_is_one_verdict_everywhere() {
    let dir = tempdir();
    let settings = dir.join("settings.yaml");
    std::fs::write(&settings, "mode: audit\n").unwrap();
    let s = settings.to_str().unwrap();
    let text = run(
        &["check", "-", "--settings", s, "--no-color"],
        Some(NODEPORT),
    );
    assert_eq!(text.status.code(), Some(0));
    let out = String::from_utf8_lossy(&text.stdout);
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("PASS"), "{out}");
    assert!(
        last.contains("1 denied in audit mode, not enforced"),
        "{last}"
    );
    assert!(out.contains("deny service-type-nodeport"), "{out}");
    let json = run(
        &["check", "-", "--settings", s, "--format", "json"],
        Some(NODEPORT),
    );
    assert_eq!(json.status.code(), Some(0));
    let v = json_out(&json);
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(v["violations"][0]["rule"], "service-type-nodeport");
    // enforced, the same input fails everywhere
    let text = run(&["check", "-", "--no-color"], Some(NODEPORT));
    assert_eq!(text.status.code(), Some(1));
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.lines().last().unwrap().starts_with("FAIL"), "{out}");
}
