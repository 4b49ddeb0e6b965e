// The shared vectors of sdk/testdata: signatures and template keys, severities, the rules file's translation.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  DEFAULT_SEVERITY, PythonRandom, normalizeSeverity, translatePattern, translateReplacement, readSeverity, referenceTemplateKey, signature, signatureOfKey, templateKey,
} from "../dist/index.js";

const testdata = new URL("../../testdata/", import.meta.url);
const signatureVectors = readFileSync(new URL("signature_vectors.jsonl", testdata), "utf8")
  .split("\n").filter(Boolean).map((line) => JSON.parse(line));
const severity = JSON.parse(readFileSync(new URL("severity_vectors.json", testdata), "utf8"));

test("every signature vector gives its template key and signature", () => {
  assert.ok(signatureVectors.length > 200);
  const failures = [];
  for (const vector of signatureVectors) {
    const key = templateKey(vector.message);
    if (key !== vector.key || signature(vector.message) !== vector.signature || referenceTemplateKey(vector.message) !== vector.key) {
      failures.push({ note: vector.note, message: vector.message.slice(0, 80), expected: vector.key.slice(0, 80), got: key.slice(0, 80) });
    }
  }
  assert.deepEqual(failures, []);
});

test("a signature is the first 16 hex characters of SHA-256 of the key", () => {
  assert.equal(signatureOfKey(""), "e3b0c44298fc1c14");
  assert.equal(signatureOfKey("abc"), "ba7816bf8f01cfea");
});

test("every severity vector reads as its bucket", () => {
  assert.ok(severity.vectors.length > 50);
  const failures = severity.vectors.filter((v) => readSeverity(v.text, v.number) !== v.expected);
  assert.deepEqual(failures, []);
});

test("the default severity is the rules file's", () => {
  assert.equal(DEFAULT_SEVERITY, JSON.parse(readFileSync(new URL("severity_rules.json", testdata), "utf8")).default);
});

test("normalizeSeverity reads a text or a number", () => {
  assert.equal(normalizeSeverity("warning"), "WARN");
  assert.equal(normalizeSeverity(17), "ERROR");
  assert.equal(normalizeSeverity("ERROR+4"), "ERROR");
  assert.equal(normalizeSeverity("nonsense"), "INFO");
});

test("a seeded draw sequence is Python's random.Random(seed)", () => {
  const rng = new PythonRandom(42);
  assert.deepEqual([rng.random(), rng.random(), rng.random()], [0.6394267984578837, 0.025010755222666936, 0.27502931836911926]);
  assert.equal(new PythonRandom(2n ** 40n + 5n).random(), 0.5043802970418443);
});

test("Python regex spelling is translated to what it means in Python, or refused", () => {
  const sub = (pattern, replacement, text) =>
    text.replace(new RegExp(translatePattern(pattern), "gu"), translateReplacement(replacement));
  assert.equal(sub("a$", "X", "a\n"), "X\n"); // Python's $ also matches before a final newline
  assert.equal(sub("a.c", "X", "a\rc a\nc"), "X a\nc"); // . excludes only \n in Python
  assert.equal(sub("(^|[^0-9])([0-9]+)", "\\1<\\2>$", "x12 3"), "x<12>$ <3>$");
  assert.equal(sub("[\\]x]+", "-", "a]]xb"), "a-b"); // an escaped ] inside a class
  for (const bad of ["\\d+", "\\w", "\\bfoo", "(?P<n>x)", "(?i)x", "x\\Z"]) {
    assert.throws(() => translatePattern(bad), Error, bad);
  }
});
