// Python and JavaScript over the same lines: every development Loghub line (content and raw), the demo logs and a
// burst: identical template keys, signatures and verdicts under the same mined policy and seed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Decider, parsePolicy, signature, templateKey } from "../dist/index.js";
import { ROOT, python } from "./python.mjs";

const dir = mkdtempSync(join(tmpdir(), "lipservice-parity-"));
const summary = JSON.parse(
  execFileSync(python(), [join(ROOT, "sdk/js/test/parity/python_side.py"), dir], { encoding: "utf8", maxBuffer: 1e8 }),
);
const read = (name) => readFileSync(join(dir, name), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const corpus = read("corpus.jsonl");
const expected = read("python.jsonl");

test("template keys and signatures equal Python's on every line", () => {
  assert.equal(corpus.length, summary.lines);
  assert.ok(corpus.length > 40_000);
  const differing = [];
  for (let i = 0; i < corpus.length; i++) {
    const key = templateKey(corpus[i].message);
    if (key !== expected[i].key || signature(corpus[i].message) !== expected[i].signature) {
      differing.push({ message: corpus[i].message, python: expected[i].key, js: key });
    }
  }
  const share = 1 - differing.length / corpus.length;
  console.log(`# keys identical on ${corpus.length - differing.length}/${corpus.length} lines (${(share * 100).toFixed(3)}%)`);
  assert.ok(share >= 0.999, JSON.stringify(differing.slice(0, 5), null, 1));
  assert.deepEqual(differing, []);
});

test("verdicts equal Python's under the same policy and seed", () => {
  const decider = new Decider(parsePolicy(JSON.parse(readFileSync(join(dir, "policy.json"), "utf8"))), { seed: summary.seed });
  const reasons = new Map();
  let boosted = 0;
  let mismatches = 0;
  const first = [];
  for (let i = 0; i < corpus.length; i++) {
    const line = corpus[i];
    const verdict = decider.decide({
      message: line.message,
      severity: line.severity,
      timestamp: line.timestamp,
      traceId: line.trace_id,
      attributes: line.attributes,
    });
    const want = expected[i];
    const got = { keep: verdict.keep, rate: verdict.rate, pattern: verdict.patternId, reason: verdict.reason, boosted: verdict.boosted };
    const same = got.keep === want.keep && got.rate === want.rate && got.pattern === want.pattern && got.reason === want.reason && got.boosted === want.boosted;
    if (!same) {
      mismatches++;
      if (first.length < 5) first.push({ i, message: line.message, python: want, js: got });
    }
    reasons.set(verdict.reason, (reasons.get(verdict.reason) ?? 0) + 1);
    if (verdict.boosted) boosted++;
  }
  console.log(`# verdicts: ${corpus.length - mismatches}/${corpus.length} identical; reasons ${JSON.stringify(Object.fromEntries(reasons))}; boosted ${boosted}`);
  assert.deepEqual(first, []);
  // The corpus exercises every step of the procedure.
  for (const reason of ["severity", "attribute", "first_in_window", "pattern_rate", "severity_rate", "default_rate"]) {
    assert.ok(reasons.get(reason) > 0, `no line decided by ${reason}`);
  }
  assert.ok(boosted > 0);
});
