import { badInput } from "./errors.js";

// Hook policies (issue 22): how a hook point's runs are retried, serialised and given secrets.
// Plain data, snapshotted onto each execution, so a chain of attempts keeps the rules it started with.

export interface RetryPolicy {
  /** Runs in all, the first included; 1 never retries. */
  maxAttempts: number;
  initialDelaySeconds: number;
  factor: number;
  maxDelaySeconds: number;
  /** 0..1: each delay is shortened by up to this fraction at random, so retries of many runs spread out. */
  jitter: number;
  /** Exit codes ("3") and ranges ("75-78") that retry; null: every non-zero code not marked permanent. */
  retryExitCodes: string[] | null;
  /** Exit codes and ranges that never retry (checked first). */
  permanentExitCodes: string[];
  retryTimedOut: boolean;
  /** The runner vanished (its lease expired, or hookd stopped while it ran). */
  retryRunnerLost: boolean;
}

export interface HookPolicy {
  retry: RetryPolicy | null;
  /** Runs of this hook point (its entry) at once, across runners; null: no limit. */
  maxConcurrent: number | null;
  /** A template over the input, e.g. `${job.queue}`: runs with the same key run one at a time, in order. */
  concurrencyKey: string | null;
  /** Names of secrets (setSecret) the hook gets as environment variables of the same name. */
  env: string[];
}

export interface RetryPolicyInput {
  maxAttempts: number;
  initialDelaySeconds?: number | null;
  factor?: number | null;
  maxDelaySeconds?: number | null;
  jitter?: number | null;
  retryExitCodes?: string[] | null;
  permanentExitCodes?: string[] | null;
  retryTimedOut?: boolean | null;
  retryRunnerLost?: boolean | null;
}

export interface HookPolicyInput {
  retry?: RetryPolicyInput | null;
  maxConcurrent?: number | null;
  concurrencyKey?: string | null;
  env?: string[] | null;
}

export const NO_POLICY: HookPolicy = Object.freeze({ retry: null, maxConcurrent: null, concurrencyKey: null, env: [] }) as HookPolicy;
export const MAX_ATTEMPTS = 20;
const MAX_DELAY_SECONDS = 86_400;
/** Environment variable names a secret may take: what a POSIX shell accepts, and not hookd's own. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** `${a.b.c}`: a path into the hook's input JSON. */
const KEY_TOKEN = /\$\{([^}]*)\}/g;
const KEY_PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

/** Checks a policy input field by field; returns the stored form, defaults filled in. */
export function parseHookPolicy(field: string, input: HookPolicyInput): HookPolicy {
  const policy: HookPolicy = { retry: null, maxConcurrent: null, concurrencyKey: null, env: [] };
  if (input.retry) policy.retry = parseRetry(`${field}.retry`, input.retry);
  if (input.maxConcurrent !== undefined && input.maxConcurrent !== null) {
    if (!Number.isInteger(input.maxConcurrent) || input.maxConcurrent < 1 || input.maxConcurrent > 10_000)
      throw badInput(`${field}.maxConcurrent`, `must be a whole number from 1 to 10000, or null for no limit (got ${input.maxConcurrent})`);
    policy.maxConcurrent = input.maxConcurrent;
  }
  if (input.concurrencyKey !== undefined && input.concurrencyKey !== null) {
    const template = input.concurrencyKey;
    if (template.trim() === "" || template.length > 500) throw badInput(`${field}.concurrencyKey`, "must be a template of 1 to 500 characters, e.g. ${job.queue}");
    for (const [, path] of template.matchAll(KEY_TOKEN)) {
      if (!KEY_PATH.test(path)) throw badInput(`${field}.concurrencyKey`, `'\${${path}}' is not a path into the hook's input; write it like \${job.queue} or \${publish.user}`);
    }
    policy.concurrencyKey = template;
  }
  if (input.env) {
    input.env.forEach((name, i) => {
      if (!SECRET_NAME.test(name)) throw badInput(`${field}.env[${i}]`, `'${name}' is not a secret name: letters, digits and '_', not starting with a digit`);
      if (name.startsWith("HOOKD_")) throw badInput(`${field}.env[${i}]`, `'${name}': HOOKD_ variables are hookd's own`);
      if (policy.env.includes(name)) throw badInput(`${field}.env[${i}]`, `'${name}' is listed twice`);
      policy.env.push(name);
    });
  }
  return policy;
}

function parseRetry(field: string, input: RetryPolicyInput): RetryPolicy {
  const number = (name: keyof RetryPolicyInput, value: number | null | undefined, fallback: number, min: number, max: number) => {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) throw badInput(`${field}.${name}`, `must be a number from ${min} to ${max} (got ${value})`);
    return value;
  };
  if (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1 || input.maxAttempts > MAX_ATTEMPTS)
    throw badInput(`${field}.maxAttempts`, `must be a whole number from 1 to ${MAX_ATTEMPTS} (got ${input.maxAttempts})`);
  const initialDelaySeconds = number("initialDelaySeconds", input.initialDelaySeconds, 1, 0, MAX_DELAY_SECONDS);
  const maxDelaySeconds = number("maxDelaySeconds", input.maxDelaySeconds, Math.max(300, initialDelaySeconds), 0, MAX_DELAY_SECONDS);
  if (maxDelaySeconds < initialDelaySeconds) throw badInput(`${field}.maxDelaySeconds`, `must be at least initialDelaySeconds (${initialDelaySeconds}) (got ${maxDelaySeconds})`);
  return {
    maxAttempts: input.maxAttempts,
    initialDelaySeconds,
    factor: number("factor", input.factor, 2, 1, 100),
    maxDelaySeconds,
    jitter: number("jitter", input.jitter, 0.2, 0, 1),
    retryExitCodes: input.retryExitCodes === undefined || input.retryExitCodes === null ? null : parseCodes(`${field}.retryExitCodes`, input.retryExitCodes),
    permanentExitCodes: input.permanentExitCodes ? parseCodes(`${field}.permanentExitCodes`, input.permanentExitCodes) : [],
    retryTimedOut: input.retryTimedOut ?? true,
    retryRunnerLost: input.retryRunnerLost ?? true,
  };
}

function parseCodes(field: string, codes: string[]): string[] {
  return codes.map((c, i) => {
    const m = /^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$/.exec(String(c));
    const from = m ? Number(m[1]) : Number.NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || from < 1 || to > 255 || to < from) throw badInput(`${field}[${i}]`, `must be an exit code from 1 to 255 ("3") or a range ("75-78") (got '${c}')`);
    return from === to ? String(from) : `${from}-${to}`;
  });
}

function inCodes(code: number, codes: readonly string[]): boolean {
  return codes.some((c) => {
    const [from, to = from] = c.split("-").map(Number);
    return code >= from && code <= to;
  });
}

/** How a failed attempt ended, for the retry rules. */
export type FailureKind = { kind: "exit"; exitCode: number } | { kind: "signal" } | { kind: "timed-out" } | { kind: "runner-lost" } | { kind: "other" };

/** Whether a failure of this kind is retried under `policy` (attempts aside); with the reason in words. */
export function retryable(policy: RetryPolicy, failure: FailureKind): { retry: boolean; why: string } {
  switch (failure.kind) {
    case "exit":
      if (inCodes(failure.exitCode, policy.permanentExitCodes)) return { retry: false, why: `exit code ${failure.exitCode} is marked permanent` };
      if (policy.retryExitCodes !== null && !inCodes(failure.exitCode, policy.retryExitCodes)) return { retry: false, why: `exit code ${failure.exitCode} is not among the codes that retry` };
      return { retry: true, why: `exit code ${failure.exitCode}` };
    case "signal":
      return policy.retryExitCodes === null ? { retry: true, why: "killed by a signal" } : { retry: false, why: "killed by a signal (only the listed exit codes retry)" };
    case "timed-out":
      return policy.retryTimedOut ? { retry: true, why: "timed out" } : { retry: false, why: "timed out, and timeouts do not retry" };
    case "runner-lost":
      return policy.retryRunnerLost ? { retry: true, why: "its runner was lost" } : { retry: false, why: "its runner was lost, and lost runners do not retry" };
    case "other":
      return { retry: false, why: "it could not start (a broken command line or a missing program does not get better by retrying)" };
  }
}

/** The wait before attempt `next` (2 for the first retry): initial × factor^(next−2), at most the maximum, less the jitter. */
export function backoffMs(policy: RetryPolicy, next: number, random: () => number = Math.random): number {
  const full = Math.min(policy.maxDelaySeconds, policy.initialDelaySeconds * policy.factor ** Math.max(0, next - 2));
  return Math.round(full * (1 - policy.jitter * random()) * 1000);
}

/** The concurrency key of one run: the template with each `${path}` replaced by that value of the input (empty when absent). */
export function renderConcurrencyKey(template: string, input: unknown): string {
  return template.replace(KEY_TOKEN, (_, path: string) => {
    let value: unknown = input;
    for (const part of path.split(".")) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined;
    if (value === undefined || value === null) return "";
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  });
}
