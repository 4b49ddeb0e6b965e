/** The `lipservice.policy/v1` document: strict parsing with defaults, as lipservice_sdk.policy reads it. */

import {
  anomaly_boost as defaultAnomalyBoost,
  default_rate as defaultRate,
  error_context as defaultErrorContext,
  keep as defaultKeep,
  trace_consistent as defaultTraceConsistent,
} from "../../testdata/policy_defaults.json";
import { SEVERITIES, type Severity } from "./severity.js";

export const SCHEMA = "lipservice.policy/v1";
/** Bounds on what a document may hold, as lipservice_sdk.policy and the server enforce them. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
export const MAX_DEPTH = 32;
export const PREDICATE_OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"] as const;
export type PredicateOp = (typeof PREDICATE_OPS)[number];
export type AttributeValue = string | number | boolean;

export interface PatternRule {
  id: string;
  template: string;
  signatures: string[];
  rate: number;
  reason: string;
}
export interface AttributePredicate {
  attribute: string;
  op: PredicateOp;
  value: unknown;
}
export interface KeepRules {
  first_per_pattern: boolean;
  first_per_signature: boolean;
  window_seconds: number;
  attributes: AttributePredicate[];
}
export interface AnomalyBoost {
  enabled: boolean;
  factor: number;
  threshold: number;
  duration_seconds: number;
}
export interface ErrorContext {
  enabled: boolean;
  lines_per_trace: number;
  seconds: number;
}
export interface PolicyDocument {
  schema: string;
  service: string;
  version: number;
  etag: string;
  generated_by: string;
  generated_at: string;
  severity_rates: Partial<Record<Severity, number>>;
  patterns: PatternRule[];
  default_rate: number;
  keep: KeepRules;
  anomaly_boost: AnomalyBoost;
  error_context: ErrorContext;
  trace_consistent: boolean;
  reasoning: string;
}

export interface PolicyIssue {
  path: string;
  code: string;
  message: string;
}

export class PolicyFormatError extends Error {
  constructor(readonly issues: PolicyIssue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ") || "invalid policy");
    this.name = "PolicyFormatError";
  }
}

function asNumber(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") {
    const number = Number(value.trim());
    return Number.isNaN(number) ? null : number;
  }
  return null;
}

/** Always keep a line whose attribute satisfies `op value`, e.g. `http.status_code gte 500`. */
export function predicateMatches(predicate: AttributePredicate, attributes: Record<string, unknown>): boolean {
  if (!Object.prototype.hasOwnProperty.call(attributes, predicate.attribute)) return false;
  const actual = attributes[predicate.attribute];
  const { op, value } = predicate;
  if (op === "exists") return true;
  if (op === "in") return Array.isArray(value) && value.some((item) => item === actual);
  if (op === "eq" || op === "ne") {
    const equal = actual === value || String(actual) === String(value);
    return op === "eq" ? equal : !equal;
  }
  const left = typeof actual === "boolean" ? null : asNumber(actual);
  const right = typeof value === "boolean" ? null : asNumber(value);
  if (left === null || right === null) return false;
  if (op === "gt") return left > right;
  if (op === "gte") return left >= right;
  if (op === "lt") return left < right;
  return left <= right;
}

type Check<T> = { test: (value: unknown) => value is T; expected: string; code?: string };
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const string: Check<string> = { test: (v): v is string => typeof v === "string", expected: "a string" };
const boolean: Check<boolean> = { test: (v): v is boolean => typeof v === "boolean", expected: "true or false" };
const nonNegativeInt: Check<number> = {
  test: (v): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0,
  expected: "a non-negative integer",
};
const nonNegative: Check<number> = {
  test: (v): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0,
  expected: "a finite non-negative number",
};
const rate: Check<number> = {
  test: (v): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 1,
  expected: "a number in [0, 1]",
  code: "rate_range",
};
const atLeastOne: Check<number> = {
  test: (v): v is number => typeof v === "number" && Number.isFinite(v) && v >= 1,
  expected: "a number >= 1",
};
const signatures: Check<string[]> = {
  test: (v): v is string[] => Array.isArray(v) && v.every((item) => typeof item === "string"),
  expected: "a list of strings",
};

class Reader {
  issues: PolicyIssue[] = [];

  fail(path: string, code: string, message: string): void {
    this.issues.push({ path, code, message });
  }

  obj(data: unknown, path: string, allowed: readonly string[], required: readonly string[] = []) {
    if (!isObject(data)) {
      this.fail(path, "type", `expected an object, got ${Array.isArray(data) ? "list" : typeof data}`);
      return null;
    }
    for (const key of Object.keys(data)) {
      if (!allowed.includes(key)) this.fail(`${path}.${key}`, "unknown_field", `unknown field '${key}'`);
    }
    for (const key of required) {
      if (!(key in data)) this.fail(`${path}.${key}`, "required", `missing required field '${key}'`);
    }
    return data;
  }

  get<T>(data: Record<string, unknown>, key: string, path: string, fallback: T, check: Check<T>): T {
    if (!(key in data)) return fallback;
    const value = data[key];
    if (!check.test(value)) {
      this.fail(`${path}.${key}`, check.code ?? "type", `expected ${check.expected}, got ${JSON.stringify(value)}`.slice(0, 200));
      return fallback;
    }
    return value;
  }

  document(data: unknown): PolicyDocument | null {
    const allowed = [
      "schema", "service", "version", "etag", "generated_by", "generated_at", "severity_rates", "patterns",
      "default_rate", "keep", "anomaly_boost", "error_context", "trace_consistent", "reasoning",
    ];
    const body = this.obj(data, "$", allowed, ["service"]);
    if (body === null) return null;
    const schema = this.get(body, "schema", "$", SCHEMA, string);
    if (schema !== SCHEMA) this.fail("$.schema", "unsupported_schema", `expected '${SCHEMA}', got '${schema}'`);
    const service = this.get(body, "service", "$", "", string);
    if ("service" in body && !service.trim()) this.fail("$.service", "empty", "service must not be empty");
    return {
      schema: SCHEMA,
      service,
      version: this.get(body, "version", "$", 0, nonNegativeInt),
      etag: this.get(body, "etag", "$", "", string),
      generated_by: this.get(body, "generated_by", "$", "rules", string),
      generated_at: this.get(body, "generated_at", "$", "", string),
      severity_rates: this.severityRates(body.severity_rates, "$.severity_rates"),
      patterns: this.patterns(body.patterns ?? [], "$.patterns"),
      default_rate: this.get(body, "default_rate", "$", defaultRate, rate),
      keep: this.keep(body.keep ?? {}, "$.keep"),
      anomaly_boost: this.anomalyBoost(body.anomaly_boost ?? {}, "$.anomaly_boost"),
      error_context: this.errorContext(body.error_context ?? {}, "$.error_context"),
      trace_consistent: this.get(body, "trace_consistent", "$", defaultTraceConsistent, boolean),
      reasoning: this.get(body, "reasoning", "$", "", string),
    };
  }

  severityRates(data: unknown, path: string): Partial<Record<Severity, number>> {
    const rates: Partial<Record<Severity, number>> = {};
    if (data === undefined || data === null) return rates;
    const body = this.obj(data, path, SEVERITIES);
    if (body === null) return rates;
    for (const name of SEVERITIES) if (name in body) rates[name] = this.get(body, name, path, 1, rate);
    return rates;
  }

  patterns(data: unknown, path: string): PatternRule[] {
    if (!Array.isArray(data)) {
      this.fail(path, "type", `expected a list, got ${typeof data}`);
      return [];
    }
    const rules: PatternRule[] = [];
    const seen = new Set<string>();
    data.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      const body = this.obj(item, itemPath, ["id", "template", "signatures", "rate", "reason"], ["id", "template"]);
      if (body === null) return;
      const id = this.get(body, "id", itemPath, "", string);
      if (seen.has(id)) this.fail(`${itemPath}.id`, "duplicate", `pattern id '${id}' appears twice`);
      seen.add(id);
      rules.push({
        id,
        template: this.get(body, "template", itemPath, "", string),
        signatures: this.get(body, "signatures", itemPath, [], signatures),
        rate: this.get(body, "rate", itemPath, 1, rate),
        reason: this.get(body, "reason", itemPath, "", string),
      });
    });
    return rules;
  }

  keep(data: unknown, path: string): KeepRules {
    const defaults = defaultKeepRules();
    const body = this.obj(data, path, ["first_per_pattern", "first_per_signature", "window_seconds", "attributes"]);
    if (body === null) return defaults;
    return {
      first_per_pattern: this.get(body, "first_per_pattern", path, defaults.first_per_pattern, boolean),
      first_per_signature: this.get(body, "first_per_signature", path, defaults.first_per_signature, boolean),
      window_seconds: this.get(body, "window_seconds", path, defaults.window_seconds, nonNegativeInt),
      attributes: "attributes" in body ? this.predicates(body.attributes, `${path}.attributes`) : defaults.attributes,
    };
  }

  predicates(data: unknown, path: string): AttributePredicate[] {
    if (!Array.isArray(data)) {
      this.fail(path, "type", `expected a list, got ${typeof data}`);
      return [];
    }
    const found: AttributePredicate[] = [];
    data.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      const body = this.obj(item, itemPath, ["attribute", "op", "value"], ["attribute"]);
      if (body === null) return;
      const op = this.get(body, "op", itemPath, "gte", string);
      if (!(PREDICATE_OPS as readonly string[]).includes(op)) {
        this.fail(`${itemPath}.op`, "enum", `op must be one of ${PREDICATE_OPS.join(", ")}, got '${op}'`);
      }
      const value = body.value ?? null;
      if (value !== null && !["string", "number", "boolean"].includes(typeof value) && !Array.isArray(value)) {
        this.fail(`${itemPath}.value`, "type", "value must be a string, number, boolean or list");
      }
      found.push({ attribute: this.get(body, "attribute", itemPath, "", string), op: op as PredicateOp, value });
    });
    return found;
  }

  anomalyBoost(data: unknown, path: string): AnomalyBoost {
    const defaults: AnomalyBoost = { ...defaultAnomalyBoost };
    const body = this.obj(data, path, ["enabled", "factor", "threshold", "duration_seconds"]);
    if (body === null) return defaults;
    return {
      enabled: this.get(body, "enabled", path, defaults.enabled, boolean),
      factor: this.get(body, "factor", path, defaults.factor, atLeastOne),
      threshold: this.get(body, "threshold", path, defaults.threshold, atLeastOne),
      duration_seconds: this.get(body, "duration_seconds", path, defaults.duration_seconds, nonNegativeInt),
    };
  }

  errorContext(data: unknown, path: string): ErrorContext {
    const defaults: ErrorContext = { ...defaultErrorContext };
    const body = this.obj(data, path, ["enabled", "lines_per_trace", "seconds"]);
    if (body === null) return defaults;
    return {
      enabled: this.get(body, "enabled", path, defaults.enabled, boolean),
      lines_per_trace: this.get(body, "lines_per_trace", path, defaults.lines_per_trace, nonNegativeInt),
      seconds: this.get(body, "seconds", path, defaults.seconds, nonNegative),
    };
  }
}

/** What lipservice_sdk.policy fills in, from sdk/testdata/policy_defaults.json (generated from it). */
function defaultKeepRules(): KeepRules {
  return {
    ...defaultKeep,
    attributes: defaultKeep.attributes.map((predicate) => ({ ...predicate, op: predicate.op as PredicateOp })),
  };
}

/** The path of the first value nested deeper than MAX_DEPTH, walked without recursion in lipservice_sdk's order. */
function tooDeep(data: unknown): string | null {
  const stack: [unknown, string, number][] = [[data, "$", 0]];
  while (stack.length > 0) {
    const [value, where, level] = stack.pop()!;
    if (Array.isArray(value)) {
      if (level >= MAX_DEPTH) return where;
      value.forEach((child, index) => stack.push([child, `${where}[${index}]`, level + 1]));
    } else if (isObject(value)) {
      if (level >= MAX_DEPTH) return where;
      for (const key of Object.keys(value)) stack.push([value[key], `${where}.${key}`, level + 1]);
    }
  }
  return null;
}

const BEYOND_ASCII = /[\u007f-\uffff]/g;

/** The length of a value's compact JSON as Python's json.dumps writes it (every character past ASCII escaped). */
function pythonJsonLength(data: unknown): number | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch {
    return null;
  }
  if (text === undefined) return null;
  return text.length + 5 * (text.match(BEYOND_ASCII)?.length ?? 0);
}

/** Size and nesting of a parsed document, checked before its fields are read. */
export function documentBoundsIssues(data: unknown): PolicyIssue[] {
  const deep = tooDeep(data);
  if (deep !== null) return [{ path: deep, code: "too_deep", message: `nested deeper than ${MAX_DEPTH} levels` }];
  const size = pythonJsonLength(data);
  if (size !== null && size > MAX_DOCUMENT_BYTES) {
    return [
      { path: "$", code: "too_large", message: `a policy document is at most ${MAX_DOCUMENT_BYTES} bytes, got ${size}` },
    ];
  }
  return [];
}

const encoder = new TextEncoder();

/** Parse a document, filling defaults; throws PolicyFormatError listing every issue. */
export function parsePolicy(data: unknown): PolicyDocument {
  const bounds = documentBoundsIssues(data);
  if (bounds.length > 0) throw new PolicyFormatError(bounds);
  const reader = new Reader();
  const document = reader.document(data);
  if (reader.issues.length > 0 || document === null) throw new PolicyFormatError(reader.issues);
  return document;
}

export function policyFromJson(text: string): PolicyDocument {
  // UTF-8 bytes, as Python counts the body it read; a text longer in UTF-16 units is longer in bytes too.
  if (text.length > MAX_DOCUMENT_BYTES || encoder.encode(text).length > MAX_DOCUMENT_BYTES) {
    throw new PolicyFormatError([
      { path: "$", code: "too_large", message: `a policy document is at most ${MAX_DOCUMENT_BYTES} bytes` },
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new PolicyFormatError([{ path: "$", code: "too_deep", message: `nested deeper than ${MAX_DEPTH} levels` }]);
    }
    throw new PolicyFormatError([{ path: "$", code: "invalid_json", message: `not JSON: ${String(error)}` }]);
  }
  return parsePolicy(data);
}
