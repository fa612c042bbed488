"""portcullis-opa.wasm in the OPA WebAssembly SDKs for Python, loaded as
their docs say: opa-py-wasm (OpaWasmPolicy, always 2 pages of memory) and
opa-wasmtime (OPAPolicy). These hosts were written by others: where they
differ from our own harnesses, they are right about what users will do.

Every per-rule case and conformance case (target/cases.json, exported from
the case files with the native verdicts) is evaluated through all four
entrypoints, with the settings and inventory set as data, and each answer
is compared with the one the native report implies.

Run by `make python-tests` in the virtualenv the Makefile creates.
"""

import json
import logging
import os
import subprocess
import unittest
from pathlib import Path

from opapywasm import OpaWasmPolicy
from opa_wasmtime import OPAPolicy

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "dist" / "portcullis-opa.wasm"
CASES_FILE = ROOT / "target" / "cases.json"
CASES = []


def setUpModule():
    if not MODULE.exists():
        raise unittest.SkipTest(f"{MODULE} is missing: run `make opa` first")
    # exported here so the cases are never stale
    subprocess.run(
        ["cargo", "run", "-q", "-p", "wasm-tests", "--bin", "export-cases"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    CASES.extend(json.loads(CASES_FILE.read_text()))


class PyWasm:
    """opa-py-wasm: a pool of instances, each in 2 pages to start with."""

    name = "opa-py-wasm"

    def __init__(self):
        self.policy = OpaWasmPolicy.from_wasm_file(MODULE)

    def set_data(self, data):
        self.policy.set_data(data)

    def evaluate(self, value, entrypoint):
        return self.policy.evaluate_raw(value, entrypoint)

    def close(self):
        self.policy.close()


class Wasmtime:
    """opa-wasmtime: one instance, the opa_eval fast path."""

    name = "opa-wasmtime"

    def __init__(self):
        self.policy = OPAPolicy(str(MODULE))

    def set_data(self, data):
        self.policy.set_data(data)

    def evaluate(self, value, entrypoint):
        return self.policy.evaluate(value, entrypoint)

    def close(self):
        pass


SDKS = [PyWasm, Wasmtime]


def only(result_set, what):
    assert isinstance(result_set, list) and len(result_set) == 1, f"{what}: {result_set!r}"
    return result_set[0]["result"]


def data_of(case):
    data = dict(case["settings"])
    if case["inventory"]:
        data["inventory"] = case["inventory"]
    return data


def bare_input(case):
    return {"request": case["request"]} if case["request"] else case["objects"]


def details(finding):
    d = {key: finding[key] for key in ("rule", "severity", "action", "object", "path")}
    if "fix" in finding:
        d["fix"] = finding["fix"]
    return d


def expected_violations(report):
    """Gatekeeper's list the native report implies: its denials, or none when allowed."""
    if report["allowed"]:
        return []
    return [{"msg": f["message"], "details": details(f)} for f in report["violations"]]


def expected_response(report, uid):
    """The AdmissionReview the native report implies."""
    response = {"uid": uid, "allowed": report["allowed"]}
    if not report["allowed"]:
        response["status"] = {"code": 403, "message": "; ".join(f"{f['rule']}: {f['message']}" for f in report["violations"])}
    shown = report["warnings"] + (report["violations"] if report["allowed"] else [])
    if shown:
        response["warnings"] = [f"{f['rule']}: {f['message']}" for f in shown]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def judge(case, report):
    """The case's own expectation, as the native harness judges it."""
    assert "error" not in report, f"{case['name']}: evaluation failed: {report['error']}"
    of_rule = lambda key: sum(1 for f in report[key] if f["rule"] == case["rule"])
    denied, warned = of_rule("violations"), of_rule("warnings")
    ok = denied == 0 if case["expect"] == "allow" else denied + warned > 0
    if case["count"] is not None:
        ok = ok and case["count"] == denied + warned
    assert ok, f"{case['name']}: expected {case['expect']} for {case['rule']}, got {denied} denied, {warned} warned"


class EveryCaseInEverySdk(unittest.TestCase):
    def test_cases_were_exported(self):
        self.assertGreater(len(CASES), 100)

    def test_four_entrypoints_on_every_case(self):
        for sdk_class in SDKS:
            sdk = sdk_class()
            try:
                for case in CASES:
                    with self.subTest(sdk=sdk.name, case=case["name"]):
                        self.check_case(sdk, case)
            finally:
                sdk.close()

    def check_case(self, sdk, case):
        native = case["native"]
        sdk.set_data(data_of(case))
        value = bare_input(case)
        report = only(sdk.evaluate(value, "portcullis/report"), "report")
        self.assertEqual(report, native)
        judge(case, report)
        violations = only(sdk.evaluate(value, "portcullis/violation"), "violation")
        self.assertEqual(violations, expected_violations(native))
        uid = (case["request"] or {}).get("uid", "")
        response = only(sdk.evaluate(value, "portcullis/response"), "response")
        self.assertEqual(response, expected_response(native, uid))
        main = only(sdk.evaluate(value, "portcullis/main"), "main")
        self.assertEqual(main, response if case["request"] else report)
        if case["request"]:
            # Gatekeeper: the request under review, the settings as its parameters
            sdk.set_data({"inventory": case["inventory"]} if case["inventory"] else {})
            review = {"review": case["request"], "parameters": case["settings"]}
            self.assertEqual(only(sdk.evaluate(review, "portcullis/main"), "main"), expected_violations(native))


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "np", "namespace": "shop"},
    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
}
REQUEST = {"uid": "c0ffee-1", "operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Service"}, "object": SERVICE}


class HostContract(unittest.TestCase):
    """What these hosts rely on beyond the verdicts."""

    def test_instantiates_in_two_pages_without_retrying(self):
        # opa-py-wasm gives exactly 2 pages and grows them only by retrying
        # (with a warning) when a module's data does not fit
        with self.assertNoLogs("opapywasm", level=logging.WARNING):
            policy = OpaWasmPolicy.from_wasm_file(MODULE)
        try:
            policy.set_data({})
            self.assertEqual(policy.evaluate(SERVICE, "portcullis/report")["violations"][0]["rule"], "service-type-nodeport")
        finally:
            policy.close()

    def test_uid_in_every_request_shape(self):
        for sdk_class in SDKS:
            sdk = sdk_class()
            try:
                sdk.set_data({})
                for value in [
                    {"request": REQUEST},
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": REQUEST},
                    {"review": REQUEST, "parameters": {}},
                    REQUEST,
                ]:
                    with self.subTest(sdk=sdk.name, shape=sorted(value)):
                        answer = only(sdk.evaluate(value, "portcullis/response"), "response")
                        self.assertEqual(answer["response"]["uid"], "c0ffee-1")
                        self.assertFalse(answer["response"]["allowed"])
            finally:
                sdk.close()

    def test_settings_precedence(self):
        off = {"rules": {"service-type-nodeport": "off"}}
        deny = {"rules": {"service-type-nodeport": "deny"}}
        rules = lambda answer: [v["details"].get("rule") or v["details"]["error"]["code"] for v in answer]
        for sdk_class in SDKS:
            sdk = sdk_class()
            try:
                sdk.set_data({"portcullis": off})
                run = lambda parameters: rules(only(sdk.evaluate({"review": REQUEST, "parameters": parameters}, "portcullis/violation"), "violation"))
                with self.subTest(sdk=sdk.name, rule="empty parameters change nothing"):
                    self.assertEqual(run({}), [])
                    self.assertEqual(run(None), [])
                with self.subTest(sdk=sdk.name, rule="parameters override the data key by key"):
                    self.assertEqual(run(deny), ["service-type-nodeport"])
                with self.subTest(sdk=sdk.name, rule="settings in the checked input are an error"):
                    sdk.set_data({"profile": "strict"})
                    report = only(sdk.evaluate({"objects": [SERVICE], "settings": {"mode": "audit"}}, "portcullis/report"), "report")
                    self.assertEqual(report["error"]["code"], "settings-in-input")
                    self.assertFalse(report["allowed"])
                with self.subTest(sdk=sdk.name, rule="invalid data is reported whatever the parameters say"):
                    sdk.set_data({"profle": "strict"})
                    self.assertEqual(run({"profile": "strict"}), ["invalid-settings"])
            finally:
                sdk.close()

    def test_warnings_reach_the_violation_list(self):
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        }
        review = {"uid": "r", "operation": "CREATE", "kind": {"group": "rbac.authorization.k8s.io", "version": "v1", "kind": "ClusterRole"}, "object": role}
        for sdk_class in SDKS:
            sdk = sdk_class()
            try:
                sdk.set_data({})
                denials = only(sdk.evaluate({"review": review, "parameters": {}}, "portcullis/violation"), "violation")
                self.assertEqual(denials, [])
                warned = only(sdk.evaluate({"review": review, "parameters": {"violationActions": ["warn"]}}, "portcullis/violation"), "violation")
                self.assertIn("rbac-secrets-access", [v["details"]["rule"] for v in warned])
                self.assertTrue(all(v["details"]["action"] == "warn" for v in warned))
            finally:
                sdk.close()


if __name__ == "__main__":
    unittest.main()
