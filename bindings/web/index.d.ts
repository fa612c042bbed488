// Types of the portcullis package. Every function takes JavaScript values
// (or JSON text) and answers objects; none throws: a wrong argument, a module
// that is not loaded yet or a failure inside it is an `ErrorAnswer`.

/** Loads the WebAssembly module. Node and workers load it on the first call
 *  by themselves; a browser page awaits this once before the first call.
 *  `wasm` replaces the inlined module: a URL, a fetch Response, bytes or a
 *  compiled module. Rejects (the only function that can) when loading fails. */
export function init(options?: InitOptions): Promise<void>;

/** Checks multi-document YAML. The settings given here are the ones used. */
export function check(yaml: string, settings?: Settings | string | null): YamlReport | ErrorAnswer;

/** Evaluates any input of the JSON contract: an object, a List, an array of
 *  objects, an AdmissionReview or AdmissionRequest, Gatekeeper's `{review,
 *  parameters}`, Kubewarden's `{request, settings}` or `{objects, settings,
 *  inventory}`, as an object or as JSON text. */
export function evaluate(input: object | string, settings?: Settings | string | null): Report | ErrorAnswer;

/** Writes the fixes of `findings` (from `check` on the same text, or the
 *  report itself) into the YAML text, changing only the nodes they touch. */
export function applyFixes(yaml: string, findings: LocatedFinding[] | YamlReport): FixResult | ErrorAnswer;

/** The rule catalogue. */
export function rules(): Catalogue | ErrorAnswer;

/** The version of the rules in this module. */
export function version(): string;

/** @deprecated Use `check`: this is `JSON.stringify(check(yaml, settings))`. */
export function checkYaml(yaml: string, settings?: Settings | string | null): string;

export interface InitOptions {
  wasm?: string | URL | Response | PromiseLike<Response> | BufferSource | WebAssembly.Module;
}

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type Action = 'deny' | 'warn' | 'off';

/** A rule's action, or its action with the rule's own parameters. */
export type RuleSetting = Action | ({ action?: Action } & Record<string, unknown>);

export interface Exemption {
  rules: string[];
  namespaces?: string[];
  names?: string[];
  kinds?: string[];
  labels?: Record<string, string>;
  /** Required: why the exemption exists. */
  reason: string;
}

/** The settings every host takes; unknown keys are an error answer. */
export interface Settings {
  profile?: 'baseline' | 'strict';
  /** `audit` reports everything and allows everything. */
  mode?: 'enforce' | 'audit';
  /** Target of the API-version rules, e.g. `"1.34"`. */
  kubernetesVersion?: string;
  rules?: Record<string, RuleSetting>;
  exemptions?: Exemption[];
  /** Honour `portcullis.dev/exempt` annotations on objects. */
  exemptionAnnotations?: boolean;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface PatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: unknown;
  from?: string;
}

export interface Finding {
  rule: string;
  severity: Severity;
  action: Action;
  message: string;
  object: ObjectRef;
  /** JSON Pointer into the object. */
  path: string;
  /** RFC 6902 JSON Patch, only where the fix is safe. */
  fix?: PatchOperation[];
}

export interface Report {
  allowed: boolean;
  violations: Finding[];
  warnings: Finding[];
  summary: { objects: number; denied: number; warned: number; exempted?: number };
  error?: undefined;
}

export interface ErrorAnswer {
  allowed: false;
  error: {
    /** `invalid-argument`, `invalid-settings`, `invalid-json`, `not-initialised`, … */
    code: string;
    message: string;
    [key: string]: unknown;
  };
}

export interface LocatedFinding extends Finding {
  /** Index of the object among the checked objects. */
  index: number;
  /** 0-based index of the YAML document. */
  document: number;
  /** 1-based line and column in the YAML text; the column counts characters (code points), not UTF-16 units. */
  line: number;
  column: number;
}

export interface DocumentError {
  document: number;
  line: number;
  column: number;
  message: string;
}

export interface YamlReport {
  /** False on any denied finding or any document that could not be checked. */
  allowed: boolean;
  /** Sorted by document, line, column and rule. */
  findings: LocatedFinding[];
  errors: DocumentError[];
  summary: { documents: number; objects: number; denied: number; warned: number; errors: number };
  error?: undefined;
}

export interface TextEdit {
  /** Offsets in the text as the edits before this one left it (UTF-16 code units, as JavaScript strings count). */
  from: number;
  to: number;
  insert: string;
}

export interface FixResult {
  /** The text with every applied fix. */
  text: string;
  /** The same change as a list of edits, in the order they apply. */
  edits: TextEdit[];
  /** Indices (into the findings given) of the fixes written. */
  applied: number[];
  /** Findings whose fix was not written, and why. */
  skipped: Array<{ finding: number; reason: string }>;
  error?: undefined;
}

export interface RuleInfo {
  id: string;
  title: string;
  severity: Severity;
  category: string;
  /** Default action per profile, e.g. `{baseline: 'deny', strict: 'deny'}`. */
  defaultAction: Record<string, Action>;
  /** Path of the rule's documentation in the repository. */
  doc: string;
  [key: string]: unknown;
}

export interface Catalogue {
  version: string;
  rules: RuleInfo[];
  error?: undefined;
}
