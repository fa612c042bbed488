// Types for the portcullis module. Every function takes and returns JSON
// text; parse the answers with JSON.parse and read them as the types below.

/** Evaluates any accepted input (an object, a List, an array, an AdmissionReview,
 *  a Gatekeeper or Kubewarden request, or `{objects, settings, inventory}`).
 *  Returns a `Report` or an `ErrorAnswer` as JSON. Never throws. */
export function evaluate(input: string): string;

/** Checks multi-document YAML; `settings` is a JSON settings object.
 *  Returns a `YamlReport` or an `ErrorAnswer` (bad settings) as JSON. */
export function checkYaml(yaml: string, settings?: string | null): string;

/** The rule catalogue as JSON: a `Catalogue`. */
export function rules(): string;

/** The version of the rules in this module. */
export function version(): string;

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type Action = 'deny' | 'warn' | 'off';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
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
  fix?: Array<{ op: string; path: string; value?: unknown; from?: string }>;
}

export interface Report {
  allowed: boolean;
  violations: Finding[];
  warnings: Finding[];
  summary: { objects: number; denied: number; warned: number; exempted?: number };
}

export interface ErrorAnswer {
  allowed: false;
  error: { code: string; message: string; [key: string]: unknown };
}

export interface LocatedFinding extends Finding {
  /** Index of the object among the checked objects. */
  index: number;
  /** 0-based index of the YAML document. */
  document: number;
  /** 1-based line and column in the YAML text. */
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
  findings: LocatedFinding[];
  errors: DocumentError[];
  summary: { documents: number; objects: number; denied: number; warned: number; errors: number };
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
}
