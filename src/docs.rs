//! User docs generated from each rule's own declaration; CI checks them for drift.

use crate::rule::RuleMeta;
use crate::rules::RULES;
use crate::settings::{profile_rules, PROFILES};
use serde_json::Value;
use std::fmt::Write;

/// Where a rule's doc lives, relative to the repository root.
pub fn doc_path(id: &str) -> String {
    format!("policies/{id}/README.md")
}

/// A rule's action in a profile: `deny`, `warn` or `off`.
pub fn default_action(profile: &str, id: &str) -> String {
    match profile_rules(profile).ok().and_then(|r| r.get(id).cloned()) {
        Some(Value::String(s)) => s,
        Some(Value::Object(o)) => o
            .get("action")
            .and_then(Value::as_str)
            .unwrap_or("deny")
            .to_string(),
        _ => "off".to_string(),
    }
}

/// The Markdown doc of one rule.
pub fn rule_markdown(meta: &RuleMeta) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!-- generated from src/rules by `make docs`; do not edit -->"
    );
    let _ = writeln!(s, "# `{}`: {}\n", meta.id, meta.title);
    let defaults: Vec<String> = PROFILES
        .iter()
        .map(|(p, _)| format!("{p}: **{}**", default_action(p, meta.id)))
        .collect();
    let _ = writeln!(
        s,
        "Severity: **{}** · Category: {} · Kinds: {} · Scope: {} · Since: {}  \nDefault action: {}\n",
        meta.severity.as_str(),
        meta.category.title(),
        meta.kinds.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
        match meta.scope {
            crate::rule::Scope::Object => "one object",
            crate::rule::Scope::Bundle => "the object and the rest of the bundle or inventory",
        },
        meta.since,
        defaults.join(", ")
    );
    let _ = writeln!(s, "## What it checks\n\n{}\n", meta.what);
    let _ = writeln!(s, "## Why it matters\n\n{}\n", meta.why);
    if !meta.params.is_empty() {
        let _ = writeln!(
            s,
            "## Parameters\n\n| name | type | default | meaning |\n|---|---|---|---|"
        );
        for p in meta.params {
            let _ = writeln!(
                s,
                "| `{}` | {} | `{}` | {} |",
                p.name, p.kind, p.default, p.help
            );
        }
        let _ = writeln!(s);
    }
    let params_example = if meta.params.is_empty() {
        format!("rules:\n  {}: deny   # deny | warn | off", meta.id)
    } else {
        let mut e = format!("rules:\n  {}:\n    action: deny", meta.id);
        for p in meta.params {
            let _ = write!(e, "\n    {}: {}", p.name, p.default);
        }
        e
    };
    let _ = writeln!(s, "## Settings\n\n```yaml\n{params_example}\n```\n");
    let _ = writeln!(s, "## Denied example\n\n```yaml\n{}```\n", meta.denied);
    let _ = writeln!(s, "## Allowed example\n\n```yaml\n{}```\n", meta.allowed);
    let _ = writeln!(s, "## References\n");
    for r in meta.references {
        let _ = writeln!(s, "- <{r}>");
    }
    s
}

/// The rule table of the README.
pub fn rule_table() -> String {
    let mut s = String::from(
        "| rule | category | severity | baseline | strict | what |\n|---|---|---|---|---|---|\n",
    );
    for r in RULES {
        let m = r.meta();
        let _ = writeln!(
            s,
            "| [`{}`]({}) | {} | {} | {} | {} | {} |",
            m.id,
            doc_path(m.id),
            m.category.title(),
            m.severity.as_str(),
            default_action("baseline", m.id),
            default_action("strict", m.id),
            m.title
        );
    }
    s
}

pub const TABLE_BEGIN: &str = "<!-- rules:begin -->";
pub const TABLE_END: &str = "<!-- rules:end -->";

/// The README with its rule table replaced by the generated one.
pub fn readme_with_table(readme: &str) -> Option<String> {
    let start = readme.find(TABLE_BEGIN)? + TABLE_BEGIN.len();
    let end = readme.find(TABLE_END)?;
    let head = readme.get(..start)?;
    let tail = readme.get(end..)?;
    Some(format!("{head}\n{}{tail}", rule_table()))
}
