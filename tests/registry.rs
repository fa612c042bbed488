//! Registry invariants: ids, docs, profiles and cases stay in step with the rules.
//! `make docs` (PORTCULLIS_BLESS=1) rewrites the generated docs; CI fails on drift.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests fail loudly by design

use portcullis::docs::{doc_path, readme_with_table, rule_markdown};
use portcullis::rules::RULES;
use portcullis::settings::{profile_rules, PROFILES};
use std::collections::HashSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("PORTCULLIS_BLESS").is_some()
}

#[test]
fn ids_are_unique_kebab_case_and_declarations_complete() {
    let mut seen = HashSet::new();
    for r in RULES {
        let m = r.meta();
        assert!(seen.insert(m.id), "duplicate rule id {}", m.id);
        assert!(
            !m.id.is_empty()
                && m.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !m.id.starts_with('-')
                && !m.id.ends_with('-')
                && !m.id.contains("--"),
            "{} is not kebab-case",
            m.id
        );
        for (what, text) in [
            ("title", m.title),
            ("what", m.what),
            ("why", m.why),
            ("denied", m.denied),
            ("allowed", m.allowed),
        ] {
            assert!(
                text.trim().len() > 10,
                "{}: `{what}` is missing or too short",
                m.id
            );
        }
        assert!(!m.kinds.is_empty(), "{}: no kinds", m.id);
        assert!(!m.references.is_empty(), "{}: no references", m.id);
        for p in m.params {
            assert!(
                !p.help.is_empty(),
                "{}: parameter {} has no help",
                m.id,
                p.name
            );
        }
    }
}

#[test]
fn every_rule_is_in_every_profile() {
    for (name, _) in PROFILES {
        let rules = profile_rules(name).unwrap();
        for r in RULES {
            assert!(
                rules.contains_key(r.meta().id),
                "profile {name} does not set {}",
                r.meta().id
            );
        }
        for id in rules.keys() {
            assert!(
                portcullis::rules::find(id).is_some(),
                "profile {name} names unknown rule {id}"
            );
        }
        // the profile itself must compile
        portcullis::Policy::from_settings(Some(&serde_json::json!({"profile": name}))).unwrap();
    }
}

#[test]
fn every_rule_has_allowed_and_denied_cases() {
    for r in RULES {
        let id = r.meta().id;
        let dir = root().join("policies").join(id);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(
            names.iter().any(|n| n.starts_with("allowed")),
            "{id}: no allowed case"
        );
        assert!(
            names.iter().any(|n| n.starts_with("denied")),
            "{id}: no denied case"
        );
    }
}

/// A case that states only its verdict would pass whatever path, action or
/// fix the rule gave: every case states each finding (`# expect:`).
#[test]
fn every_case_states_its_findings() {
    let cases = portcullis::cases::policy_cases(&root().join("policies")).unwrap();
    let unstated: Vec<&str> = cases
        .iter()
        .filter(|c| c.findings.is_none())
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        unstated.is_empty(),
        "these cases state no `# expect:` header; `make bless-cases` writes it from \
         today's answer, then review it:\n{}",
        unstated.join("\n")
    );
}

#[test]
fn rule_docs_are_generated_and_current() {
    let mut stale = Vec::new();
    for r in RULES {
        let m = r.meta();
        let path = root().join(doc_path(m.id));
        let want = rule_markdown(m);
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            if bless() {
                std::fs::write(&path, &want).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale rule docs (run `make docs`): {stale:?}"
    );
}

#[test]
fn readme_rule_table_is_current() {
    let path = root().join("README.md");
    let Ok(have) = std::fs::read_to_string(&path) else {
        panic!("README.md is missing")
    };
    let want = readme_with_table(&have).expect("README.md lacks the rules:begin/rules:end markers");
    if have != want {
        assert!(bless(), "README rule table is stale (run `make docs`)");
        std::fs::write(&path, want).unwrap();
    }
}

#[test]
fn settings_errors_name_the_key() {
    use serde_json::json;
    let cases = [
        (json!({"rulez": {}}), "rulez", "did you mean `rules`"),
        (
            json!({"rules": {"service-type-nodeprot": "deny"}}),
            "rules.service-type-nodeprot",
            "did you mean `service-type-nodeport`",
        ),
        (
            json!({"rules": {"service-type-nodeport": "block"}}),
            "rules.service-type-nodeport",
            "not an action",
        ),
        (
            json!({"rules": {"service-type-loadbalancer": {"allowInternal": "yes"}}}),
            "rules.service-type-loadbalancer.allowInternal",
            "true or false",
        ),
        (
            json!({"rules": {"service-type-nodeport": {"action": "deny", "ports": [1]}}}),
            "rules.service-type-nodeport.ports",
            "unknown parameter",
        ),
        (
            json!({"profile": "strictest"}),
            "profile",
            "did you mean `strict`",
        ),
        (json!({"mode": "dryrun"}), "mode", "enforce"),
        (
            json!({"kubernetesVersion": 1.30}),
            "kubernetesVersion",
            "quote",
        ),
        (
            json!({"exemptions": [{"namespaces": ["x"]}]}),
            "exemptions[0].reason",
            "reason",
        ),
        (
            json!({"exemptions": [{"rules": ["nope"], "reason": "r"}]}),
            "exemptions[0].rules[0]",
            "unknown rule",
        ),
        (
            json!({"exemptions": [{"namespace": ["x"], "reason": "r"}]}),
            "exemptions[0].namespace",
            "did you mean `namespaces`",
        ),
        (json!([1]), "(settings)", "object"),
    ];
    for (settings, key, hint) in cases {
        let err = portcullis::validate_settings(&settings).unwrap_err();
        let v = err.to_value();
        assert_eq!(v["key"], key, "{settings}: {err}");
        assert!(
            err.to_string().contains(hint),
            "{settings}: `{err}` lacks `{hint}`"
        );
    }
}
