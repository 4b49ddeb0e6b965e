/** Template keys and signatures, equal to lipservice_sdk.signature: the same rules (loaded as data), the same cut,
 * the same hash, and the same template matching for policy patterns. */

import { Memo } from "./memo.js";
import { MAX_MESSAGE_CHARS, WILDCARD, compileRules } from "./rules.js";
import { sha256Hex } from "./sha256.js";

export { MAX_MESSAGE_CHARS, WILDCARD };

const COMPILED = compileRules();
const DIGIT = /[0-9]/;
// Python encodes a lone surrogate as "?" (errors="replace"); a string from JSON or a buffer may hold one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const MESSAGE_MEMO_CHARS = 512;

/** The first MAX_MESSAGE_CHARS code points, with lone surrogates as "?" (Python's `_clean`). */
export function cleanMessage(message: string): string {
  let text = message;
  if (text.length > MAX_MESSAGE_CHARS) {
    let units = 0;
    let points = 0;
    while (units < text.length && points < MAX_MESSAGE_CHARS) {
      const code = text.charCodeAt(units);
      const next = text.charCodeAt(units + 1);
      units += code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
      points++;
    }
    text = text.slice(0, units);
  }
  if (!text.isWellFormed()) text = text.replace(LONE_SURROGATE, "?");
  return text;
}

function applyRules(text: string): string {
  const hasDigit = DIGIT.test(text);
  for (const rule of COMPILED) {
    if (rule.requiresDigit && !hasDigit) continue;
    if (rule.requiresAny.length > 0 && !rule.requiresAny.some((needle) => text.includes(needle))) continue;
    rule.regex.lastIndex = 0;
    text = text.replace(rule.regex, rule.replacement);
  }
  return text;
}

/** The plain rule chain over the cleaned message. */
export function referenceTemplateKey(message: string): string {
  return applyRules(cleanMessage(message));
}

const SHAPES = new Memo<string>();
const FOLD_ALL = /[0-8]/g;
const FOLD = /[1-8]/g;

/** Apply the masking rules in order to the first MAX_MESSAGE_CHARS code points of the message. */
export function templateKey(message: string): string {
  const text = cleanMessage(message);
  // As in Python: the rules treat the digits 1-9 alike (and 0 too without a 0x prefix), so a text keys like its
  // digit-folded shape whenever that key keeps no digit, and lines differing only in numbers cost one lookup.
  const keepsZero = text.includes("0x") || text.includes("0X");
  const shape = text.replace(keepsZero ? FOLD : FOLD_ALL, "9");
  const known = SHAPES.get(shape);
  if (known !== undefined) return known;
  const key = applyRules(text);
  if (!DIGIT.test(key)) SHAPES.put(shape, key);
  return key;
}

export function signatureOfKey(key: string): string {
  return sha256Hex(key).slice(0, 16);
}

const SIGNATURES = new Memo<string>();
const MESSAGES = new Memo<string>();

/** signatureOfKey(templateKey(message)), remembered per message and per key. */
export function signature(message: string): string {
  const found = MESSAGES.recent.get(message);
  if (found !== undefined) return found;
  const key = templateKey(message);
  let sig = SIGNATURES.get(key);
  if (sig === undefined) {
    sig = signatureOfKey(key);
    SIGNATURES.put(key, sig);
  }
  if (message.length <= MESSAGE_MEMO_CHARS) MESSAGES.put(message, sig);
  return sig;
}

type Element = string[] | null; // null: a whole-token wildcard; else literal pieces around in-token wildcards

const TEMPLATES = new Memo<Element[]>(4096);
// What Python's str.split() treats as whitespace.
const PY_WHITESPACE = /[\t\n\x0b\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

function compileTemplate(template: string): Element[] {
  let elements = TEMPLATES.get(template);
  if (elements === undefined) {
    elements = splitPython(template).map((token) => (token === WILDCARD ? null : token.split(WILDCARD)));
    TEMPLATES.put(template, elements);
  }
  return elements;
}

/** str.split() with no separator, as Python splits templates. */
export function splitPython(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((token) => token !== "");
}

function glob(pieces: string[], token: string): boolean {
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (token.length < first.length + last.length || !token.startsWith(first) || !token.endsWith(last)) return false;
  let position = first.length;
  const end = token.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    const found = token.indexOf(piece, position);
    if (found < 0 || found + piece.length > end) return false;
    position = found + piece.length;
  }
  return true;
}

function matchTokens(elements: Element[], tokens: string[]): boolean {
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < tokens.length) {
    const element = i < elements.length ? elements[i] : undefined;
    if (element === null) {
      star = i;
      mark = j;
      i++;
    } else if (
      element !== undefined &&
      (element.length === 1 ? element[0] === tokens[j] : glob(element, tokens[j]!))
    ) {
      i++;
      j++;
    } else if (star >= 0) {
      mark++;
      i = star + 1;
      j = mark;
    } else {
      return false;
    }
  }
  while (i < elements.length && elements[i] === null) i++;
  return i === elements.length;
}

/** Does the template cover the message's template key, or failing that its whitespace-collapsed text. */
export function templateMatches(template: string, message: string): boolean {
  const elements = compileTemplate(template);
  const key = templateKey(message);
  if (matchTokens(elements, key ? key.split(" ") : [])) return true;
  return matchTokens(elements, splitPython(cleanMessage(message)));
}

export function templateMatchesKey(template: string, key: string): boolean {
  return matchTokens(compileTemplate(template), key ? key.split(" ") : []);
}
