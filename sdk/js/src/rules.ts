/** The masking rules, loaded from sdk/testdata/signature_rules.json (exported from lipservice_sdk.signature) and
 * translated from Python's `re` / RE2 spelling into JavaScript RegExp once, at load. */

import { max_message_chars, rules, wildcard } from "../../testdata/signature_rules.json";

export interface RuleData {
  name: string;
  pattern: string;
  placeholder: string;
  requires_any: string[];
  requires_digit: boolean;
}

export interface CompiledRule {
  name: string;
  regex: RegExp;
  replacement: string;
  requiresAny: string[];
  requiresDigit: boolean;
}

export const MAX_MESSAGE_CHARS: number = max_message_chars;
export const WILDCARD: string = wildcard;
export const RULES: readonly RuleData[] = rules;

/**
 * A Python `re` pattern as a JavaScript one with the `u` flag (so classes and counts see code points, as Python
 * does). `$` becomes `(?=\n?$)` and `.` becomes `[^\n]`, which is what they mean in Python without flags; constructs
 * whose meaning differs and that the rules never use (Unicode-aware `\d \w \s \b`, named groups, inline flags, `\A`,
 * `\Z`) are refused rather than silently changed.
 */
export function translatePattern(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) throw new Error(`dangling escape in ${pattern}`);
      if ("dDwWsSbBAZ".includes(next)) throw new Error(`\\${next} means something else in JavaScript: ${pattern}`);
      out += ch + next;
      i++;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      out += ch;
      continue;
    }
    if (ch === "[") {
      inClass = true;
      out += ch;
      if (pattern[i + 1] === "^") out += pattern[++i];
      if (pattern[i + 1] === "]") out += "\\" + pattern[++i];
      continue;
    }
    if (ch === "(" && pattern[i + 1] === "?") {
      const kind = pattern.slice(i + 2, i + 4);
      if (!(kind.startsWith(":") || kind.startsWith("=") || kind.startsWith("!") || kind === "<=" || kind === "<!")) {
        throw new Error(`unsupported group (?${kind} in ${pattern}`);
      }
    }
    if (ch === "$") out += "(?=\\n?$)";
    else if (ch === ".") out += "[^\\n]";
    else out += ch;
  }
  return out;
}

/** A Python replacement template (`\1`, `\\`) as a String.prototype.replace one (`$1`, literal `$` as `$$`). */
export function translateReplacement(template: string): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch === "$") out += "$$";
    else if (ch === "\\") {
      const next = template[i + 1] ?? "";
      if (/[0-9]/.test(next)) {
        let digits = next;
        while (/[0-9]/.test(template[i + 1 + digits.length] ?? "") && digits.length < 2) {
          digits += template[i + 1 + digits.length];
        }
        out += "$" + digits;
        i += digits.length;
      } else if (next === "\\") {
        out += "\\";
        i++;
      } else {
        throw new Error(`unsupported escape \\${next} in replacement ${template}`);
      }
    } else out += ch;
  }
  return out;
}

export function compileRules(list: readonly RuleData[] = RULES): CompiledRule[] {
  return list.map((rule) => ({
    name: rule.name,
    regex: new RegExp(translatePattern(rule.pattern), "gu"),
    replacement: translateReplacement(rule.placeholder),
    requiresAny: rule.requires_any,
    requiresDigit: rule.requires_digit,
  }));
}
