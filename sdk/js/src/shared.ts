/** What every entry point exports: the signature, the severity reading, the policy and the decision. */

export {
  MAX_MESSAGE_CHARS,
  WILDCARD,
  referenceTemplateKey,
  signature,
  signatureOfKey,
  templateKey,
  templateMatches,
  templateMatchesKey,
} from "./signature.js";
export { translatePattern, translateReplacement } from "./rules.js";
export {
  DEFAULT_SEVERITY,
  SEVERITIES,
  type Severity,
  isAlwaysKept,
  normalizeSeverity,
  readSeverity,
  severityFromNumber,
  severityNumber,
  severityOfText,
} from "./severity.js";
export {
  type AnomalyBoost,
  type AttributePredicate,
  type ErrorContext,
  type KeepRules,
  type PatternRule,
  type PolicyDocument,
  type PolicyIssue,
  MAX_DEPTH,
  MAX_DOCUMENT_BYTES,
  PolicyFormatError,
  SCHEMA,
  documentBoundsIssues,
  parsePolicy,
  policyFromJson,
  predicateMatches,
} from "./policy.js";
export {
  type DecideInput,
  type Decision,
  Decider,
  type DeciderOptions,
  PATTERN_ATTRIBUTE,
  RATE_ATTRIBUTE,
  type Reason,
  UNMATCHED_PREFIX,
  traceUnit,
} from "./decision.js";
export { PythonRandom } from "./random.js";
export {
  AdaptiveLogging,
  type AdaptiveOptions,
  type LogEvent,
  type OutRecord,
  type PolicySource,
  type Sink,
  SDK_VERSION,
} from "./core.js";
export { attributesOf, traceFrom } from "./events.js";
export { parseRetryAfter } from "./client.js";
