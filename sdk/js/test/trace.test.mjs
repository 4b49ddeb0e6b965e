// Python and JavaScript services that share trace ids keep the same traces, at the pattern's rate.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { Decider, parsePolicy, traceUnit } from "../dist/index.js";
import { python } from "./python.mjs";

const TRACES = Array.from({ length: 3000 }, (_, i) =>
  i % 3 === 0 ? `${((i + 1) * 2654435761) % 2 ** 32}`.padStart(32, "0") : i % 3 === 1 ? `Trace-${i}-ABC ` : crypto.randomUUID(),
);
const RATE = 0.3;
// Each service has its own pattern at the same rate; first-line keeping is off so the rate alone decides.
const policy = (template) => ({
  service: "svc",
  patterns: [{ id: "p1", template, signatures: [], rate: RATE }],
  keep: { first_per_pattern: false, first_per_signature: false, attributes: [] },
  anomaly_boost: { enabled: false },
});

const PY = `
import json, sys
from lipservice_sdk.decision import Decider, trace_unit
from lipservice_sdk.policy import policy_from_dict
data = json.load(sys.stdin)
decider = Decider(policy_from_dict(data["policy"]))
print(json.dumps({
  "units": [trace_unit(t) for t in data["traces"]],
  "kept": [decider.decide(message="charge card " + str(i), severity="INFO", timestamp=1000.0, trace_id=t).keep
           for i, t in enumerate(data["traces"])],
}))
`;

test("the trace unit and the kept traces are the same in Python and JavaScript", () => {
  const out = JSON.parse(
    execFileSync(python(), ["-c", PY], {
      input: JSON.stringify({ traces: TRACES, policy: policy("charge card <*>") }),
      encoding: "utf8",
      maxBuffer: 1e8,
    }),
  );
  assert.deepEqual(TRACES.map(traceUnit), out.units);
  const decider = new Decider(parsePolicy(policy("render page <*>")));
  const kept = TRACES.map((t, i) => decider.decide({ message: `render page ${i}`, severity: "DEBUG", timestamp: 1000, traceId: t }).keep);
  assert.deepEqual(kept, out.kept);
  const share = kept.filter(Boolean).length / kept.length;
  assert.ok(Math.abs(share - RATE) < 0.04, `kept ${share}`);
});

test("an unset trace id (zeros) falls back to a draw", () => {
  assert.equal(traceUnit("00000000000000000000000000000000"), null);
  assert.equal(traceUnit("  "), null);
  assert.equal(traceUnit("ABC"), traceUnit(" abc "));
});

test("a document that leaves fields out means what it means to Python", async () => {
  const { parsePolicy: parse } = await import("../dist/index.js");
  const docs = [{ service: "x" }, { service: "x", keep: { window_seconds: 60 }, anomaly_boost: { factor: 2 } }];
  const py = JSON.parse(
    execFileSync(python(), ["-c", `
import json, sys
from lipservice_sdk.policy import policy_from_dict, policy_to_dict
print(json.dumps([policy_to_dict(policy_from_dict(d)) for d in json.load(sys.stdin)]))`], { input: JSON.stringify(docs), encoding: "utf8" }),
  );
  docs.forEach((doc, i) => {
    const mine = parse(doc);
    for (const field of ["keep", "anomaly_boost", "error_context", "default_rate", "trace_consistent"]) {
      assert.deepEqual(mine[field], py[i][field], field);
    }
  });
});
