// Judges a JavaScript host's answer against a case's expectation, as the
// Rust harnesses do (portcullis::cases): every finding of the case's rule,
// with its action, object, path and fix, and no other. The expectation comes
// from the case export (`expectation`: {rule, audit, expect, count, findings}).
import assert from "node:assert/strict";

// JSON with sorted keys: the same finding reads the same whatever the key order.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

// One finding as the expectation states it.
function key(f) {
  return canonical({
    action: f.action,
    kind: f.object.kind,
    namespace: f.object.namespace ?? null,
    name: f.object.name,
    path: f.path,
    fix: f.fix ?? null,
  });
}

function sameFindings(name, want, got) {
  const left = want.map(key).sort();
  const found = got.map(key).sort();
  assert.deepEqual(found, left, `${name}: the findings differ from the expectation`);
}

// The verdict and count alone, for cases that state no findings (the peers' corpus).
function judgeCounts(name, x, denied, total) {
  const ok = (x.expect === "allow" ? denied === 0 : total > 0) && (x.count == null || x.count === total);
  assert.ok(ok, `${name}: expected ${x.expect}${x.count == null ? "" : ` (${x.count})`} for ${x.rule}, got ${denied} denied of ${total}`);
}

/** Every finding of a whole answer (a report's findings, checkYaml's findings). */
export function judgeFindings(name, x, findings) {
  const mine = findings.filter((f) => f.rule === x.rule);
  for (const f of mine) assert.ok(f.action === "deny" || f.action === "warn", `${name}: action ${f.action}`);
  judgeCounts(name, x, mine.filter((f) => f.action === "deny").length, mine.length);
  if (x.findings) sameFindings(name, x.findings, mine);
}

/** A report: denials in `violations`, warnings in `warnings`. */
export function judgeReport(name, x, report) {
  assert.equal(report.error, undefined, `${name}: evaluation failed: ${JSON.stringify(report.error)}`);
  for (const f of report.violations) assert.equal(f.action, "deny", `${name}: ${JSON.stringify(f)} in violations`);
  for (const f of report.warnings) assert.equal(f.action, "warn", `${name}: ${JSON.stringify(f)} in warnings`);
  judgeFindings(name, x, [...report.violations, ...report.warnings]);
}

/** Gatekeeper's `[{msg, details}]`: the rule's stated denials, none in audit mode. */
export function judgeViolationList(name, x, list) {
  assert.ok(Array.isArray(list), `${name}: a list`);
  const mine = list.filter((v) => v.details?.rule === x.rule);
  for (const v of mine) assert.equal(typeof v.msg, "string", `${name}: msg`);
  if (x.audit || (!x.findings && x.expect === "allow")) {
    assert.deepEqual(mine, [], `${name}: ${x.rule} must not deny`);
  } else if (x.findings) {
    sameFindings(name, x.findings.filter((f) => f.action === "deny"), mine.map((v) => v.details));
  }
}
