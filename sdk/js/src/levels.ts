/** Numeric levels of pino and bunyan (10 trace ... 60 fatal) to severity buckets; custom levels sort between. */

import type { Severity } from "./severity.js";

export function severityOfLevelNumber(level: number): Severity {
  if (level >= 60) return "FATAL";
  if (level >= 50) return "ERROR";
  if (level >= 40) return "WARN";
  if (level >= 30) return "INFO";
  if (level >= 20) return "DEBUG";
  return "TRACE";
}

const FORMAT = /%[sdifjoO%]/g;

/** printf-style interpolation as pino and console do it (%s %d %i %f %j %o %O %%), for the message a line shows. */
export function interpolate(template: string, args: readonly unknown[], from: number): string {
  if (from >= args.length) return template;
  let index = from;
  const text = template.replace(FORMAT, (token) => {
    if (token === "%%") return "%";
    if (index >= args.length) return token;
    const value = args[index++];
    switch (token) {
      case "%d":
      case "%i":
        return String(token === "%i" ? Math.trunc(Number(value)) : Number(value));
      case "%f":
        return String(Number(value));
      case "%j":
      case "%o":
      case "%O":
        try {
          return JSON.stringify(value) ?? String(value);
        } catch {
          return "[Circular]";
        }
      default:
        return typeof value === "string" ? value : String(value);
    }
  });
  return text;
}
