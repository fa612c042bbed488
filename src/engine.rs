//! Runs every configured rule over a review and builds the report.

use crate::object::Object;
use crate::report::{Action, Exempted, Finding, Report, Summary};
use crate::review::{Context, Operation, Review};
use crate::rule::Hit;
use crate::settings::{annotation_exemption, ClusterContext, Mode, Policy};
use crate::versions::NEWEST_KNOWN;

/// What the rules see beside each object of `review`.
pub(crate) fn context<'r>(review: &'r Review<'r>, policy: &Policy) -> Context<'r> {
    Context {
        objects: &review.objects,
        inventory: &review.inventory,
        kubernetes_version: policy.kubernetes_version.unwrap_or(NEWEST_KNOWN),
        admission: review.operation.is_some(),
        listed: &review.listed,
    }
}

/// Evaluates a detected review under a compiled policy.
pub fn run(review: &Review<'_>, policy: &Policy) -> Report {
    let cx = context(review, policy);
    let mut violations = Vec::new();
    let mut warnings = Vec::new();
    let mut exempted = Vec::new();
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
            // two new findings of one kind where the old had one is one new
            let mut old_identities: Option<Vec<String>> = None;
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
                        old_hits.iter().map(|h| h.identity(old)).collect()
                    });
                    let identity = hit.identity(obj);
                    if let Some(i) = identities.iter().position(|k| *k == identity) {
                        identities.swap_remove(i);
                        existed = true;
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
                match action {
                    Action::Deny => violations.push(finding),
                    _ => warnings.push(finding),
                }
            }
        }
    }
    let summary = Summary {
        objects: review.objects.len(),
        denied: violations.len(),
        warned: warnings.len(),
        exempted: exempted.len(),
    };
    Report {
        allowed: violations.is_empty() || policy.mode == Mode::Audit,
        violations,
        warnings,
        exempted,
        summary,
        violation_actions: policy.violation_actions,
    }
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
