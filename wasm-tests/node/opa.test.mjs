// portcullis-opa.wasm in the npm OPA SDK (@open-policy-agent/opa-wasm), as
// Node and browsers load it: no glue beyond what the SDK does. Every per-rule
// case and every conformance case must give the findings it states, and the
// native library's answer.
// The cases come from target/cases.json, written from the YAML case files by
// `cargo run -p wasm-tests --bin export-cases` (run here so it is never stale).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { loadPolicy } from "@open-policy-agent/opa-wasm";
import { judgeReport, judgeViolationList } from "./judge.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const modulePath = path.join(root, "dist/portcullis-opa.wasm");
const bundlePath = path.join(root, "dist/portcullis-opa-bundle.tar.gz");

execFileSync("cargo", ["run", "-q", "-p", "wasm-tests", "--bin", "export-cases"], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
});
const cases = JSON.parse(fs.readFileSync(path.join(root, "target/cases.json"), "utf8"));
const wasm = fs.readFileSync(modulePath);

// Host data for a case: its settings, and the inventory beside them.
function dataOf(c) {
  return c.inventory.length ? { ...c.settings, inventory: c.inventory } : c.settings;
}

// The case's objects as an input that carries no settings of its own
// (a request is wrapped: some carry no `kind` to be recognised by alone).
function bareInput(c) {
  return c.request ? { request: c.request } : c.objects;
}

function only(resultSet) {
  assert.equal(resultSet.length, 1, "one result");
  return resultSet[0].result;
}

test("the case export is not empty", () => {
  assert.ok(cases.length > 0);
  // the peers' corpus is beside the repository in CI, absent in a user's clone
  const corpus = process.env.PORTCULLIS_CONFORMANCE || path.join(root, "../shared/conformance");
  if (fs.existsSync(path.join(corpus, "expectations.yaml"))) {
    assert.ok(cases.some((c) => c.name.startsWith("conformance")));
  }
});

test("loads with the SDK and lists the entrypoints", async () => {
  const policy = await loadPolicy(wasm);
  assert.deepEqual(policy.entrypoints, {
    "portcullis/main": 0,
    "portcullis/violation": 1,
    "portcullis/response": 2,
    "portcullis/report": 3,
  });
});

test("every case through portcullis/report equals the native report", async () => {
  const policy = await loadPolicy(wasm);
  for (const c of cases) {
    // settings and inventory as host data
    policy.setData(dataOf(c));
    const viaData = only(policy.evaluate(bareInput(c), "portcullis/report"));
    judgeReport(`${c.name} (settings as data)`, c.expectation, viaData);
    assert.deepEqual(viaData, c.native, `${c.name} (settings as data)`);
    // settings carried in the input: an error unless the host consents
    policy.setData({});
    const refused = only(policy.evaluate(c.input, "portcullis/report"));
    assert.equal(refused.error?.code, "settings-in-input", `${c.name} (settings in the input, no consent)`);
    policy.setData({ allowInputSettings: true });
    const viaInput = only(policy.evaluate(c.input, "portcullis/report"));
    judgeReport(`${c.name} (settings in the input, consented)`, c.expectation, viaInput);
    assert.deepEqual(viaInput, c.native, `${c.name} (settings in the input, consented)`);
  }
});

test("every case through portcullis/violation gives the native denials", async () => {
  const policy = await loadPolicy(wasm);
  for (const c of cases) {
    let input;
    if (c.request) {
      // Gatekeeper: the request under review, the settings as parameters
      input = { review: c.request, parameters: c.settings };
      policy.setData(c.inventory.length ? { inventory: c.inventory } : {});
    } else {
      input = c.objects;
      policy.setData(dataOf(c));
    }
    const list = only(policy.evaluate(input, "portcullis/violation"));
    judgeViolationList(c.name, c.expectation, list);
    const expected = c.native.allowed ? [] : c.native.violations;
    assert.deepEqual(
      list.map((v) => [v.msg, v.details.rule, v.details.path]),
      expected.map((f) => [f.message, f.rule, f.path]),
      c.name,
    );
  }
});

test("instantiates in exactly the two pages opa build modules ask for", async () => {
  // hosts that always give 2 pages (opa-py-wasm) fail to link a module that asks for more
  const policy = await loadPolicy(wasm, { initial: 2, maximum: 4096 });
  for (const c of cases.slice(0, 40)) {
    policy.setData(dataOf(c));
    assert.deepEqual(only(policy.evaluate(bareInput(c), "portcullis/report")), c.native, c.name);
  }
});

test("every AdmissionReview answer carries the request's uid, whatever shape the request came in", async () => {
  const policy = await loadPolicy(wasm);
  policy.setData({});
  const request = {
    uid: "7f0e-uid",
    operation: "CREATE",
    kind: { group: "", version: "v1", kind: "Service" },
    object: { apiVersion: "v1", kind: "Service", metadata: { name: "np" }, spec: { type: "NodePort" } },
  };
  for (const input of [
    { request },
    { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request },
    { review: request, parameters: {} },
    request,
  ]) {
    const answer = only(policy.evaluate(input, "portcullis/response"));
    assert.equal(answer.response.uid, "7f0e-uid", JSON.stringify(input));
    assert.equal(answer.response.allowed, false);
  }
});

test("settings: data is the base, parameters override it key by key, the input cannot choose", async () => {
  const policy = await loadPolicy(wasm);
  const review = {
    uid: "u",
    operation: "CREATE",
    kind: { group: "", version: "v1", kind: "Service" },
    object: { apiVersion: "v1", kind: "Service", metadata: { name: "np", namespace: "shop" }, spec: { type: "NodePort" } },
  };
  const rules = (list) => list.map((v) => v.details.rule ?? v.details.error?.code);
  policy.setData({ portcullis: { rules: { "service-type-nodeport": "off" } } });
  assert.deepEqual(rules(only(policy.evaluate({ review, parameters: {} }))), []);
  assert.deepEqual(rules(only(policy.evaluate({ review, parameters: null }))), []);
  assert.deepEqual(
    rules(only(policy.evaluate({ review, parameters: { rules: { "service-type-nodeport": "deny" } } }))),
    ["service-type-nodeport"],
  );
  policy.setData({ profile: "strict" });
  const sneaky = only(policy.evaluate({ objects: [review.object], settings: { mode: "audit" } }, "portcullis/report"));
  assert.equal(sneaky.allowed, false);
  assert.equal(sneaky.error.code, "settings-in-input");
  assert.equal(sneaky.error.path, "/settings");
  policy.setData({ profle: "strict" });
  const invalid = only(policy.evaluate({ review, parameters: { profile: "strict" } }));
  assert.equal(invalid[0].details.error.code, "invalid-settings");
});

test("warnings reach a violation-list host through violationActions", async () => {
  const policy = await loadPolicy(wasm);
  policy.setData({});
  // a ClusterRole reading Secrets: a warning in the baseline, no denial
  const role = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "reader" },
    rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
  };
  const review = { uid: "r", operation: "CREATE", kind: { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole" }, object: role };
  assert.deepEqual(only(policy.evaluate({ review, parameters: {} })), []);
  const warned = only(policy.evaluate({ review, parameters: { violationActions: ["warn"] } }));
  assert.ok(warned.some((v) => v.details.rule === "rbac-secrets-access"), JSON.stringify(warned));
  assert.ok(warned.every((v) => v.details.action === "warn"));
});

test("entrypoint 0 answers Gatekeeper and Kubewarden opa mode in their shapes", async () => {
  const policy = await loadPolicy(wasm);
  const svc = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "shop" },
    spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
  };
  const request = {
    uid: "abc-1",
    operation: "CREATE",
    kind: { group: "", version: "v1", kind: "Service" },
    object: svc,
  };
  policy.setData({});
  const violations = only(policy.evaluate({ review: request, parameters: {} }));
  assert.equal(violations.length, 1);
  assert.equal(violations[0].details.rule, "service-type-loadbalancer");
  assert.equal(violations[0].details.severity, "high");
  assert.equal(typeof violations[0].msg, "string");

  policy.setData({ profile: "baseline" });
  const review = only(policy.evaluate({ request }));
  assert.equal(review.apiVersion, "admission.k8s.io/v1");
  assert.equal(review.kind, "AdmissionReview");
  assert.equal(review.response.uid, "abc-1");
  assert.equal(review.response.allowed, false);
  assert.match(review.response.status.message, /^service-type-loadbalancer: Service shop\/web .*LoadBalancer/);

  policy.setData({ rules: { "service-type-loadbalancer": "off" } });
  assert.equal(only(policy.evaluate({ request })).response.allowed, true);
  assert.deepEqual(only(policy.evaluate({ review: request, parameters: { rules: { "service-type-loadbalancer": "off" } } })), []);

  // an OPA server's data document: the settings under the bundle's root
  policy.setData({ portcullis: { rules: { "service-type-loadbalancer": "off" } }, system: {} });
  assert.equal(only(policy.evaluate({ request })).response.allowed, true);

  // bad settings fail closed in both shapes, whatever the parameters say
  policy.setData({ profle: "strict" });
  const denied = only(policy.evaluate({ request }));
  assert.equal(denied.response.allowed, false);
  assert.match(denied.response.status.message, /profle/);
  const listed = only(policy.evaluate({ review: request, parameters: { profile: "strict" } }));
  assert.equal(listed.length, 1);
  assert.equal(listed[0].details.error.code, "invalid-settings");
});

test("hostile input gives an error answer or an abort, never a wild trap", async () => {
  const policy = await loadPolicy(wasm);
  policy.setData({});
  for (const input of [null, 42, "text", [1, 2], { review: 5 }, { request: [] }, { objects: "x" }]) {
    const answer = only(policy.evaluate(input, "portcullis/report"));
    assert.equal(answer.allowed, false);
    assert.ok(answer.error.code, JSON.stringify(answer));
  }
  for (const depth of [100, 300]) {
    const deep = JSON.parse("[".repeat(depth) + "]".repeat(depth));
    assert.ok(only(policy.evaluate(deep, "portcullis/report")).error);
    const code = only(policy.evaluate(deep, "portcullis/violation"))[0].details.error.code;
    assert.equal(code, depth > 128 ? "invalid-json" : "invalid-input");
  }
  assert.throws(() => policy.evaluate({}, 99), /unknown entrypoint/);
});

// A minimal tar reader: enough to list an OPA bundle.
function untar(buf) {
  const files = new Map();
  for (let off = 0; off + 512 <= buf.length;) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(header.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim(), 8);
    files.set(name, buf.subarray(off + 512, off + 512 + size));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

test("the OPA bundle holds /.manifest and /policy.wasm and its entrypoints exist", async () => {
  const files = untar(zlib.gunzipSync(fs.readFileSync(bundlePath)));
  assert.deepEqual([...files.keys()].sort(), ["/.manifest", "/policy.wasm"]);
  assert.ok(Buffer.compare(files.get("/policy.wasm"), wasm) === 0, "the bundle holds the built module");
  const manifest = JSON.parse(files.get("/.manifest").toString("utf8"));
  const policy = await loadPolicy(files.get("/policy.wasm"));
  for (const w of manifest.wasm) {
    assert.equal(w.module, "/policy.wasm");
    assert.ok(w.entrypoint in policy.entrypoints, w.entrypoint);
  }
  assert.equal(manifest.wasm[0].entrypoint, "portcullis/main");
});
