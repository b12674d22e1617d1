import { badInput } from "../domain/errors.js";
import type { JsonObject, MetadataInputFields, MetadataPair } from "../entities/metadata.embedded.js";

// Field rules shared by several services. Each throws BAD_USER_INPUT naming the field and the rule.

/** Queue and volume codes: letters, digits, `.`, `_`, `-` (SPEC §1). */
const CODE = /^[A-Za-z0-9._-]+$/;
export const MAX_CODE_LENGTH = 64;

export function assertCode(field: string, value: string): string {
  if (value.length === 0) throw badInput(field, "must not be empty");
  if (value.length > MAX_CODE_LENGTH) throw badInput(field, `must be at most ${MAX_CODE_LENGTH} characters (got ${value.length})`);
  if (!CODE.test(value)) {
    const bad = [...new Set([...value].filter((c) => !/[A-Za-z0-9._-]/.test(c)))].map((c) => JSON.stringify(c)).join(", ");
    throw badInput(field, `may contain only letters, digits, '.', '_' and '-' (found ${bad} in '${value}')`);
  }
  return value;
}

export function assertIntRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(field, `must be a whole number from ${min} to ${max} (got ${value})`);
  return value;
}

/** Timeouts: a whole number of seconds, at least 1, at most a day. */
export const MAX_TIMEOUT_SECONDS = 86_400;
export function assertTimeout(field: string, value: number | null | undefined): void {
  if (value === null || value === undefined) return;
  if (!Number.isInteger(value) || value <= 0) throw badInput(field, `must be a positive whole number of seconds (got ${value})`);
  if (value > MAX_TIMEOUT_SECONDS) throw badInput(field, `must be at most ${MAX_TIMEOUT_SECONDS} seconds (one day) (got ${value})`);
}

export function assertName(field: string, value: string, max = 200): string {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badInput(field, "must not be empty");
  if (trimmed.length > max) throw badInput(field, `must be at most ${max} characters (got ${trimmed.length})`);
  return trimmed;
}

/** Metadata must be a JSON object (the scalar guarantees that) of bounded size. */
export const MAX_METADATA_BYTES = 256 * 1024;
export function assertMetadata(field: string, value: JsonObject): void {
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > MAX_METADATA_BYTES) throw badInput(field, `must be at most ${MAX_METADATA_BYTES} bytes of JSON (got ${size})`);
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
export function assertEmail(field: string, value: string): string {
  const email = value.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 320) throw badInput(field, `must be an email address like name@example.com (got '${value}')`);
  return email;
}

/** Checks then applies a metadata input: a half left out stays as it is. */
export function applyMetadata(field: string, target: MetadataPair, input: MetadataInputFields | undefined): void {
  if (input === undefined) return;
  if (input.external !== undefined) assertMetadata(`${field}.external`, input.external);
  if (input.internal !== undefined) assertMetadata(`${field}.internal`, input.internal);
  if (input.external !== undefined) target.external = input.external;
  if (input.internal !== undefined) target.internal = input.internal;
}
