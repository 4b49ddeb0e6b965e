// Policy documents are bounded as the server and the Python SDK bound them: at most 1 MB, at most 32 levels deep,
// each refusal naming its path; the poller logs a refused answer once, keeps the last good policy and keeps polling.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import http from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MAX_DEPTH, MAX_DOCUMENT_BYTES, PolicyFormatError, configureAdaptiveLogging, parsePolicy, policyFromJson } from "../dist/index.js";
import { ROOT, python } from "./python.mjs";

/** A document whose deepest list sits at `level` (the document itself is level 0). */
function nested(level) {
  let value = [];
  for (let i = 4; i < level; i++) value = [value];
  return { service: "shop", keep: { attributes: [{ attribute: "region", op: "in", value }] } };
}

const withText = (text) => ({ service: "shop", reasoning: text });
const overhead = JSON.stringify(withText("")).length;

function refusal(parse) {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof PolicyFormatError, String(error));
    return error.issues.map(({ path, code }) => ({ path, code }));
  }
  return [];
}

const CASES = {
  "31 levels": JSON.stringify(nested(MAX_DEPTH - 1)),
  "32 levels": JSON.stringify(nested(MAX_DEPTH)),
  "200 levels": JSON.stringify(nested(200)),
  "1 MB of ASCII": JSON.stringify(withText("x".repeat(MAX_DOCUMENT_BYTES - overhead))),
  "1 MB and a byte of ASCII": JSON.stringify(withText("x".repeat(MAX_DOCUMENT_BYTES - overhead + 1))),
  "2 MB of two-byte characters": JSON.stringify(withText("é".repeat(1_000_000))),
  // Once parsed, each of these is written as six escaped characters (twelve for an astral one), as Python writes it.
  "340 KB of two-byte characters": JSON.stringify(withText("é".repeat(170_000))),
  "360 KB of two-byte characters": JSON.stringify(withText("é".repeat(180_000))),
  "340 KB of astral characters": JSON.stringify(withText("\u{1F600}".repeat(85_000))),
  "360 KB of astral characters": JSON.stringify(withText("\u{1F600}".repeat(90_000))),
  "180 KB of DEL characters": JSON.stringify(withText("\x7f".repeat(180_000))),
};

test("a document nested deeper than 32 levels is refused with the path of the first too deep value", () => {
  assert.equal(parsePolicy(nested(MAX_DEPTH - 1)).keep.attributes.length, 1);
  const [issue] = refusal(() => parsePolicy(nested(MAX_DEPTH)));
  assert.equal(issue.code, "too_deep");
  assert.equal(issue.path, "$.keep.attributes[0].value" + "[0]".repeat(MAX_DEPTH - 4));
  assert.deepEqual(refusal(() => policyFromJson(CASES["200 levels"]))[0].code, "too_deep");
});

test("a document over 1 MB is refused, counted in UTF-8 bytes as text and in escaped JSON once parsed", () => {
  assert.equal(policyFromJson(CASES["1 MB of ASCII"]).reasoning.length, MAX_DOCUMENT_BYTES - overhead);
  assert.deepEqual(refusal(() => policyFromJson(CASES["1 MB and a byte of ASCII"])), [{ path: "$", code: "too_large" }]);
  assert.deepEqual(refusal(() => policyFromJson(CASES["2 MB of two-byte characters"])), [{ path: "$", code: "too_large" }]);
  // 360 000 bytes of UTF-8, but Python's compact JSON of the parsed document escapes each "é" to six characters.
  assert.deepEqual(refusal(() => parsePolicy(withText("é".repeat(170_000)))), []);
  assert.deepEqual(refusal(() => parsePolicy(withText("é".repeat(180_000)))), [{ path: "$", code: "too_large" }]);
});

test("the JavaScript and Python parsers accept and refuse the same documents, with the same paths", () => {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, "sdk", "python"))})
from lipservice_sdk.policy import PolicyFormatError, policy_from_json
out = {}
for name, text in json.loads(sys.stdin.buffer.read().decode("utf-8")).items():
    try:
        policy_from_json(text.encode("utf-8"))
        out[name] = []
    except PolicyFormatError as error:
        out[name] = [{"path": issue.path, "code": issue.code} for issue in error.issues]
print(json.dumps(out))`;
  const expected = JSON.parse(
    execFileSync(python(), ["-c", script], { input: JSON.stringify(CASES), encoding: "utf8", maxBuffer: 1e8 }),
  );
  const got = Object.fromEntries(Object.entries(CASES).map(([name, text]) => [name, refusal(() => policyFromJson(text))]));
  assert.deepEqual(got, expected);
  // The cases exercise both sides of both bounds.
  const codes = new Set(Object.values(got).flat().map((issue) => issue.code));
  assert.deepEqual([...codes].sort(), ["too_deep", "too_large"]);
  assert.ok(Object.values(got).filter((issues) => issues.length === 0).length >= 3);
});

test("the poller logs a refused policy once, keeps the last good one and keeps polling", async () => {
  const answers = [
    { version: 1, body: JSON.stringify({ service: "shop", version: 1, severity_rates: { DEBUG: 0 } }) },
    { version: null, body: CASES["1 MB and a byte of ASCII"] },
    { version: null, body: JSON.stringify({ ...nested(MAX_DEPTH), version: 9 }) },
    { version: null, body: CASES["200 levels"] },
    { version: 2, body: JSON.stringify({ service: "shop", version: 2, severity_rates: { DEBUG: 0.5 } }) },
  ];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const answer = answers[Math.min(requests, answers.length - 1)];
    requests++;
    res.writeHead(200, { "content-type": "application/json", etag: `"r${requests}"` }).end(answer.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const warnings = [];
  const warn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  try {
    const handle = configureAdaptiveLogging({
      serviceName: "shop", lipserviceUrl: `http://127.0.0.1:${server.address().port}`,
      cacheDir: mkdtempSync(join(tmpdir(), "ls-bounds-")), refreshIntervalMs: 30, statsIntervalMs: 60_000, flushOnExit: false,
    });
    const versions = new Set();
    const deadline = Date.now() + 10_000;
    while (handle.policy?.version !== 2 && Date.now() < deadline) {
      if (handle.policy !== null) versions.add(handle.policy.version);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(handle.policy?.version, 2);
    assert.deepEqual([...versions], [1]); // never anything but the last good policy in between
    assert.equal(handle.stats().policy_errors, 3);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /keeping the last good policy \(invalid policy: \$: a policy document is at most 1048576 bytes/);
    await handle.shutdown(500);
  } finally {
    console.warn = warn;
    await new Promise((resolve) => server.close(resolve));
  }
});
