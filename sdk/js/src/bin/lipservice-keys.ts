/** lipservice-keys: reads log lines on standard input and writes `signature<TAB>template key` for each. */

import { createInterface } from "node:readline";
import { signature, templateKey } from "../signature.js";

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
const out: string[] = [];
const flush = () => {
  if (out.length > 0) process.stdout.write(out.join(""));
  out.length = 0;
};
lines.on("line", (line) => {
  const key = templateKey(line);
  out.push(`${signature(line)}\t${key}\n`);
  if (out.length >= 512) flush();
});
lines.on("close", flush);
