/** The one severity reading, from sdk/testdata/severity_rules.json (exported from lipservice_sdk.severity). */

// Named imports, so a bundler keeps only the fields read here (not the prose of the procedure).
import {
  always_kept,
  number_buckets,
  severities,
  spellings,
  text_limit,
  word_pattern,
} from "../../testdata/severity_rules.json";

export type Severity = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR" | "FATAL";

export const SEVERITIES = severities as readonly Severity[];
const RANK = new Map<string, number>(SEVERITIES.map((name, index) => [name, index]));
const ALWAYS = new Set<string>(always_kept);
const SPELLINGS = new Map<string, Severity>(Object.entries(spellings as Record<string, Severity>));
const BUCKETS = number_buckets as { min: number; max: number | null; severity: Severity }[];
const ERROR_RANK = RANK.get("ERROR")!;
// The file's `default` field cannot be imported by name (a JSON module's default export is the whole file);
// test/vectors.test.mjs checks that this equals it.
export const DEFAULT_SEVERITY: Severity = "INFO";
const DEFAULT = DEFAULT_SEVERITY;
const WORD = new RegExp(word_pattern, "g");
const TRAILING_DIGITS = /[0-9]+$/;
const TEXT_LIMIT: number = text_limit;

/** The first `limit` code points (Python slices code points, JavaScript strings are UTF-16). */
function firstCodePoints(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let units = 0;
  for (let points = 0; points < limit && units < text.length; points++) {
    const code = text.charCodeAt(units);
    const next = text.charCodeAt(units + 1);
    units += code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
  }
  return text.slice(0, units);
}
const ALL_DIGITS = /^[0-9]+$/;

export function isAlwaysKept(severity: string): boolean {
  return ALWAYS.has(severity);
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === "string" && RANK.has(value);
}

export function severityFromNumber(number: number | null | undefined): Severity | null {
  if (number === null || number === undefined || !(number >= 1)) return null;
  for (const bucket of BUCKETS) {
    if (number >= bucket.min && (bucket.max === null || number <= bucket.max)) return bucket.severity;
  }
  return null;
}

/** The bucket a level text names, or null when it names none we know. */
export function severityOfText(text: string | null | undefined): Severity | null {
  if (!text) return null;
  // Only the start of a level text is read, so a hostile text costs the same everywhere.
  const words = firstCodePoints(text.toLowerCase(), TEXT_LIMIT).match(WORD);
  if (!words) return null;
  if (words.length === 1 && ALL_DIGITS.test(words[0]!)) return severityFromNumber(Number.parseInt(words[0]!, 10));
  const whole = SPELLINGS.get(words.join(" "));
  if (whole !== undefined) return whole;
  let best: Severity | null = null;
  for (const word of words) {
    if (ALL_DIGITS.test(word)) continue;
    const hit = SPELLINGS.get(word) ?? SPELLINGS.get(word.replace(TRAILING_DIGITS, ""));
    if (hit !== undefined && (best === null || RANK.get(hit)! > RANK.get(best)!)) best = hit;
  }
  return best;
}

function asNumber(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : null;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string") {
    const text = value.trim();
    return ALL_DIGITS.test(text) ? Number.parseInt(text, 10) : null;
  }
  return null;
}

/** The bucket of a record from its severity text and number: a number >= 17 says error whatever the text. */
export function readSeverity(text?: unknown, number?: unknown, fallback: Severity = DEFAULT): Severity {
  const fromNumber = severityFromNumber(asNumber(number));
  const fromText = typeof text === "string" ? severityOfText(text) : null;
  if (fromNumber !== null && RANK.get(fromNumber)! >= ERROR_RANK) {
    return fromText !== null && RANK.get(fromText)! > RANK.get(fromNumber)! ? fromText : fromNumber;
  }
  return fromText ?? fromNumber ?? fallback;
}

/** A level name in any known spelling, or an OTLP severity number. */
export function normalizeSeverity(value: unknown, fallback: Severity = DEFAULT): Severity {
  if (typeof value === "number") return readSeverity(null, value, fallback);
  return readSeverity(value, null, fallback);
}

/** The OTLP severity_number at the start of a bucket. */
export function severityNumber(severity: Severity): number {
  return RANK.get(severity)! * 4 + 1;
}
