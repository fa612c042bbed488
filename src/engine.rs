//! Runs every configured rule over a review and builds the report.

use crate::object::Object;
use crate::report::{Action, Exempted, Finding, Report, Summary, Truncated};
use crate::review::{Context, Operation, Review};
use crate::rule::Hit;
use crate::settings::{annotation_exemption, ClusterContext, Mode, Policy};
use crate::versions::NEWEST_KNOWN;
use std::collections::BTreeMap;

/// What the rules see beside each object of `review`.
pub(crate) fn context<'r>(review: &'r Review<'r>, policy: &Policy) -> Context<'r> {
    Context::new(
        &review.objects,
        &review.inventory,
        policy.kubernetes_version.unwrap_or(NEWEST_KNOWN),
        review.operation.is_some(),
        &review.listed,
    )
}

/// Evaluates a detected review under a compiled policy.
pub fn run(review: &Review<'_>, policy: &Policy) -> Report {
    let cx = context(review, policy);
    let mut violations = Vec::new();
    let mut warnings = Vec::new();
    let mut exempted = Vec::new();
    let mut truncated = Vec::new();
    let mut hits = Vec::new();
    let mut old_hits = Vec::new();
    for (i, obj) in review.objects.iter().enumerate() {
        let old = match review.operation {
            Some(Operation::Update) => review.old.get(i).and_then(Option::as_ref),
            _ => None,
        };
        for configured in &policy.rules {
            if configured.action == Action::Off {
                continue;
            }
            let meta = configured.rule.meta();
            if let Some(finding) = unchecked(review, policy, configured.action, meta, obj) {
                match finding.action {
                    Action::Deny => violations.push(finding),
                    _ => warnings.push(finding),
                }
                continue;
            }
            hits.clear();
            configured.check.check(obj, &cx, &mut hits);
            if hits.is_empty() {
                continue;
            }
            // exemptions name objects and rules, so one answer serves every hit
            if let Some(reason) = exemption(policy, meta.id, obj) {
                for hit in hits.drain(..) {
                    exempted.push(Exempted {
                        rule: meta.id,
                        object: obj.reference(),
                        path: hit.path,
                        reason: reason.clone(),
                    });
                }
                continue;
            }
            // the identities of the old object's findings, each matched once:
            // two new findings of one kind where the old had one is one new.
            // Counted in a map: a rule can find thousands of things in one
            // object, and a list searched per finding would cost n².
            let mut old_identities: Option<BTreeMap<String, usize>> = None;
            let mut listed = Listed::default();
            let problem = annotation_problem(policy, obj);
            for hit in hits.drain(..) {
                let mut action = configured.action;
                let mut existed = false;
                if let (Some(old), Action::Deny) = (old, action) {
                    // ratchet: an UPDATE does not fail on what the object
                    // already had, that is a finding of this rule with the
                    // same evidence (an edit elsewhere leaves it as it was)
                    let identities = old_identities.get_or_insert_with(|| {
                        old_hits.clear();
                        configured.check.check(old, &cx, &mut old_hits);
                        let mut counts = BTreeMap::new();
                        for h in &old_hits {
                            *counts.entry(h.identity(old)).or_insert(0) += 1;
                        }
                        counts
                    });
                    if let Some(left) = identities.get_mut(&hit.identity(obj)) {
                        if *left > 0 {
                            *left -= 1;
                            existed = true;
                        }
                    }
                }
                let Hit {
                    path,
                    mut message,
                    fix,
                    ..
                } = hit;
                if existed {
                    action = Action::Warn;
                    message.push_str(" (already present before this update, so it is a warning: fix it to clear it)");
                }
                if let Some(problem) = &problem {
                    message.push_str(" (");
                    message.push_str(problem);
                    message.push(')');
                }
                let finding = Finding {
                    rule: meta.id,
                    severity: meta.severity,
                    action,
                    message,
                    object: obj.reference(),
                    path,
                    fix,
                    index: obj.index,
                };
                // denials and warnings are capped apart, so a denial is
                // always listed when there is one
                let (list, count) = match action {
                    Action::Deny => (&mut violations, &mut listed.deny),
                    _ => (&mut warnings, &mut listed.warn),
                };
                if count.0 < FINDINGS_PER_RULE {
                    list.push(finding);
                    count.0 += 1;
                } else {
                    count.1 += 1;
                }
            }
            for (action, (shown, unlisted)) in
                [(Action::Deny, listed.deny), (Action::Warn, listed.warn)]
            {
                if unlisted == 0 {
                    continue;
                }
                let list = if action == Action::Deny {
                    &mut violations
                } else {
                    &mut warnings
                };
                // hosts that show only messages (kubectl, OPA's denial
                // string) still learn that there is more
                if let Some(last) = list.last_mut() {
                    last.message.push_str(&format!(
                        " (and {unlisted} more {} findings of this rule on this object, not listed)",
                        action.as_str()
                    ));
                }
                truncated.push(Truncated {
                    rule: meta.id,
                    object: obj.reference(),
                    action,
                    listed: shown,
                    unlisted,
                });
            }
        }
    }
    let unlisted = |a: Action| -> usize {
        truncated
            .iter()
            .filter(|t| t.action == a)
            .map(|t| t.unlisted)
            .sum()
    };
    // the counts are of every finding, listed or not
    let summary = Summary {
        objects: review.objects.len(),
        denied: violations.len() + unlisted(Action::Deny),
        warned: warnings.len() + unlisted(Action::Warn),
        exempted: exempted.len(),
    };
    Report {
        allowed: violations.is_empty() || policy.mode == Mode::Audit,
        violations,
        warnings,
        exempted,
        truncated,
        summary,
        violation_actions: policy.violation_actions,
    }
}

/// At most this many denials, and as many warnings, of one rule on one
/// object are listed; the rest are counted in `truncated`. A finding per host
/// of an Ingress with thousands of hosts helps nobody read the answer, and
/// writing them all costs the admission request more than checking them
/// (Gatekeeper's audit caps violations per constraint for the same reason).
pub const FINDINGS_PER_RULE: usize = 20;

/// (listed, unlisted) per action for one rule on one object.
#[derive(Default)]
struct Listed {
    deny: (usize, usize),
    warn: (usize, usize),
}

/// The "not checked" finding of a rule the host could not give the cluster
/// objects it needs for `obj`: a warning, or with `clusterContext:
/// fail-closed` a denial when the rule itself is set to deny. The rule does
/// not run on what little it has, which could deny what the cluster allows.
fn unchecked(
    review: &Review<'_>,
    policy: &Policy,
    action: Action,
    meta: &crate::rule::RuleMeta,
    obj: &Object<'_>,
) -> Option<Finding> {
    let mut reasons = review
        .unchecked
        .iter()
        .filter(|u| u.object == obj.index && u.rule == meta.id)
        .map(|u| u.reason.as_str())
        .peekable();
    reasons.peek()?;
    let reasons: Vec<&str> = reasons.collect();
    let closed = policy.cluster_context == ClusterContext::FailClosed;
    let (action, consequence) = if closed && action == Action::Deny {
        (
            Action::Deny,
            "clusterContext is fail-closed, so the request is denied until the policy can read them",
        )
    } else {
        (
            Action::Warn,
            "this request is not denied for it (clusterContext: fail-closed would deny it instead)",
        )
    };
    Some(Finding {
        rule: meta.id,
        severity: meta.severity,
        action,
        message: format!(
            "{} was not checked: {}. The rule needs these objects of the cluster to decide; {consequence}.",
            obj.display_name(),
            reasons.join("; ")
        ),
        object: obj.reference(),
        path: String::new(),
        fix: None,
        index: obj.index,
    })
}

pub(crate) fn exemption(policy: &Policy, rule: &str, obj: &Object<'_>) -> Option<String> {
    if let Some(e) = policy.exemptions.iter().find(|e| e.matches(rule, obj)) {
        return Some(e.reason.clone());
    }
    if policy.exemption_annotations {
        if let Ok(Some(reason)) = annotation_exemption(obj, rule) {
            return Some(format!("annotation: {reason}"));
        }
    }
    None
}

/// A malformed exemption annotation is reported with the finding it failed to exempt.
fn annotation_problem(policy: &Policy, obj: &Object<'_>) -> Option<String> {
    if !policy.exemption_annotations {
        return None;
    }
    annotation_exemption(obj, "").err()
}

#[cfg(test)]
mod tests {
    use super::FINDINGS_PER_RULE;
    use crate::report::{Action, Report};
    use serde_json::{json, Value};

    const RULE: &str = "ingress-host-without-tls";

    fn ingress(hosts: std::ops::Range<usize>) -> Value {
        let rules: Vec<Value> = hosts
            .map(|i| json!({"host": format!("h{i}.example.com")}))
            .collect();
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"ingressClassName": "nginx", "rules": rules}})
    }

    fn evaluate(input: &Value) -> Report {
        match crate::evaluate(input, crate::Host::default()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    fn of_rule(list: &[crate::report::Finding]) -> Vec<&crate::report::Finding> {
        list.iter().filter(|f| f.rule == RULE).collect()
    }

    #[test]
    fn findings_beyond_the_cap_are_counted_not_listed() {
        let n = FINDINGS_PER_RULE + 13;
        let report = evaluate(&json!({"objects": [ingress(0..n)],
            "settings": {"rules": {RULE: "deny"}}}));
        let listed = of_rule(&report.violations);
        assert_eq!(listed.len(), FINDINGS_PER_RULE);
        // the first ones, in the object's order
        assert_eq!(
            listed.first().map(|f| f.path.as_str()),
            Some("/spec/rules/0/host")
        );
        let last = listed.last().map(|f| f.message.as_str()).unwrap_or("");
        assert!(last.contains("(and 13 more deny findings"), "{last}");
        let t: Vec<_> = report.truncated.iter().filter(|t| t.rule == RULE).collect();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].action, t[0].listed, t[0].unlisted),
            (Action::Deny, FINDINGS_PER_RULE, 13)
        );
        assert_eq!(t[0].object.name, "web");
        // the summary counts every finding
        let unlisted: usize = report
            .truncated
            .iter()
            .filter(|t| t.action == Action::Deny)
            .map(|t| t.unlisted)
            .sum();
        assert_eq!(report.summary.denied, report.violations.len() + unlisted);
        assert!(report.summary.denied >= n);
        let v = report.to_value();
        assert_eq!(v["truncated"][0]["unlisted"], json!(13), "{v}");
    }

    #[test]
    fn no_truncated_key_below_the_cap() {
        let report = evaluate(&json!({"objects": [ingress(0..3)]}));
        assert!(report.truncated.is_empty());
        assert!(report.to_value().get("truncated").is_none());
    }

    /// Warnings the ratchet made of old findings cannot crowd out a new
    /// denial: the two are capped apart.
    #[test]
    fn a_new_denial_is_listed_behind_many_old_findings() {
        let n = FINDINGS_PER_RULE * 2;
        let old = ingress(0..n);
        let new = ingress(0..n + 1);
        let report = evaluate(&json!({
            "request": {"uid": "1", "operation": "UPDATE",
                "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
                "object": new, "oldObject": old},
            "settings": {"rules": {RULE: "deny"}}}));
        let denied = of_rule(&report.violations);
        assert_eq!(denied.len(), 1, "{:?}", report.violations);
        assert_eq!(
            denied.first().map(|f| f.path.as_str()),
            Some(&*format!("/spec/rules/{n}/host"))
        );
        assert!(!report.allowed);
        assert_eq!(of_rule(&report.warnings).len(), FINDINGS_PER_RULE);
        let t: Vec<_> = report.truncated.iter().filter(|t| t.rule == RULE).collect();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].action, t[0].unlisted),
            (Action::Warn, n - FINDINGS_PER_RULE)
        );
    }
}
