import type { JsonObject } from "../entities/metadata.embedded.js";
import type { PublishEntry, PublishStatusOption } from "../entities/publish.entity.js";

// Checks a pre-publish answer (SPEC §3.2) against the entries that were sent. Pure: the caller
// resolves paths afterwards. Every violation names the entry and the rule.

export interface CheckedAnswer {
  guidelines: string | null;
  commentRequired: boolean;
  timeReportRequired: boolean;
  metadataRequired: boolean;
  statuses: PublishStatusOption[];
  /** In the order the entries were sent; `path` still as the script wrote it. */
  entries: PublishEntry[];
}

export class AnswerError extends Error {
  constructor(readonly violations: string[]) {
    super(violations.join("; "));
  }
}

const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "string" ? JSON.stringify(v) : `${typeof v} ${JSON.stringify(v)}`);

export function checkAnswer(answer: JsonObject, sent: JsonObject[]): CheckedAnswer {
  const problems: string[] = [];
  const bool = (where: string, key: string, value: unknown): boolean => {
    if (value === undefined) return false;
    if (typeof value !== "boolean") {
      problems.push(`${where}: ${key} must be true or false (got ${describe(value)})`);
      return false;
    }
    return value;
  };
  const text = (where: string, key: string, value: unknown): string | null => {
    if (value === undefined || value === null) return null;
    if (typeof value !== "string") {
      problems.push(`${where}: ${key} must be text (got ${describe(value)})`);
      return null;
    }
    return value;
  };

  const statuses: PublishStatusOption[] = [];
  if (answer.statuses !== undefined) {
    if (!Array.isArray(answer.statuses)) problems.push(`statuses must be a list of {label, value, default} (got ${describe(answer.statuses)})`);
    else
      answer.statuses.forEach((s: unknown, i: number) => {
        const where = `statuses[${i}]`;
        if (!s || typeof s !== "object" || Array.isArray(s)) return void problems.push(`${where} must be an object {label, value, default} (got ${describe(s)})`);
        const o = s as JsonObject;
        const value = typeof o.value === "string" || typeof o.value === "number" ? String(o.value) : null;
        if (value === null) problems.push(`${where}: value must be text (got ${describe(o.value)})`);
        const label = o.label === undefined ? value : text(where, "label", o.label);
        statuses.push({ label: label ?? value ?? "", value: value ?? "", default: bool(where, "default", o.default) });
      });
    const defaults = statuses.filter((s) => s.default);
    if (defaults.length > 1) problems.push(`statuses: at most one may be the default (${defaults.map((s) => JSON.stringify(s.value)).join(", ")} are)`);
  }

  const byId = new Map<string, JsonObject>();
  if (!Array.isArray(answer.files)) {
    problems.push(`the answer must have a files list with one object per entry sent (got ${describe(answer.files)})`);
  } else {
    const sentIds = new Set(sent.map((e) => String(e.id)));
    const firstAt = new Map<string, number>();
    answer.files.forEach((f: unknown, i: number) => {
      if (!f || typeof f !== "object" || Array.isArray(f)) return void problems.push(`files[${i}] must be an object with an id (got ${describe(f)})`);
      const id = (f as JsonObject).id;
      if (typeof id !== "string") return void problems.push(`files[${i}]: id must be the entry's id as text (got ${describe(id)})`);
      if (!sentIds.has(id)) return void problems.push(`files[${i}]: unknown id '${id}': no entry with that id was sent`);
      if (firstAt.has(id)) return void problems.push(`entry '${id}' is answered twice (files[${firstAt.get(id)}] and files[${i}])`);
      firstAt.set(id, i);
      byId.set(id, f as JsonObject);
    });
    for (const e of sent) if (!byId.has(String(e.id))) problems.push(`entry '${e.id}' (${e.filename}) was not answered`);
  }

  const entries: PublishEntry[] = sent.map((e) => {
    const id = String(e.id);
    const a = byId.get(id) ?? {};
    const where = `entry '${id}'`;
    const entry: PublishEntry = {
      id,
      filename: String(e.filename),
      isDir: e.is_dir === true,
      size: Number(e.size),
      ident: text(where, "ident", a.ident),
      canPublish: bool(where, "can_publish", a.can_publish),
      rejected: bool(where, "rejected", a.rejected),
      canUpload: bool(where, "can_upload", a.can_upload),
      warning: text(where, "warning", a.warning),
      info: text(where, "info", a.info),
      commentLabel: text(where, "comment_label", a.comment_label),
      path: text(where, "path", a.path),
      volumeId: null,
      volumeCode: null,
      files: Array.isArray(e.files) ? (e.files as JsonObject[]) : null,
    };
    if (byId.has(id) && !entry.rejected && (entry.canPublish || entry.canUpload) && !entry.path) {
      problems.push(`${where} (${entry.filename}) may be uploaded (${entry.canPublish ? "can_publish" : "can_upload"} is true) but has no path`);
    }
    return entry;
  });

  const checked: CheckedAnswer = {
    guidelines: text("answer", "guidelines", answer.guidelines),
    commentRequired: bool("answer", "comment", answer.comment),
    timeReportRequired: bool("answer", "time_report", answer.time_report),
    metadataRequired: bool("answer", "metadata", answer.metadata),
    statuses,
    entries,
  };
  // The message for the user (Publish.message, hook-message.ts): text, like guidelines.
  text("answer", "message", answer.message);
  if (problems.length > 0) throw new AnswerError(problems);
  return checked;
}

const ENTRY_KEYS = ["id", "filename", "size", "is_dir", "files"];
/** A file name's longest, as on common file systems (NAME_MAX). */
export const MAX_FILENAME = 255;

/** The entries a user sends, checked, with directory sizes computed where absent. */
export function normalizeFiles(files: unknown): { files: JsonObject[]; problems: string[] } {
  const problems: string[] = [];
  if (!Array.isArray(files) || files.length === 0) return { files: [], problems: ["input.files: must be a non-empty list of entries {id, filename, size, is_dir, files}"] };
  const seen = new Set<string>();
  const walk = (entry: unknown, where: string, top: boolean): JsonObject | null => {
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) {
      problems.push(`${where}: must be an object {id, filename, size, is_dir} (got ${describe(entry)})`);
      return null;
    }
    const e = { ...(entry as JsonObject) };
    // Only the keys of SPEC §3.1 reach the hooks: anything else (a "path" of the caller's own) is refused.
    const unknown = Object.keys(e).filter((k) => !ENTRY_KEYS.includes(k));
    if (unknown.length > 0) problems.push(`${where}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")}; an entry has only ${ENTRY_KEYS.join(", ")}`);
    if (top) {
      if (typeof e.id !== "string" || e.id.trim() === "") problems.push(`${where}: id must be a non-empty text chosen by the caller (a UUID) (got ${describe(e.id)})`);
      else if (seen.has(e.id)) problems.push(`${where}: id '${e.id}' is used twice`);
      else seen.add(e.id);
    }
    if (typeof e.filename !== "string" || e.filename.trim() === "") problems.push(`${where}: filename must be a non-empty text (got ${describe(e.filename)})`);
    else if (/[\0/\\]/.test(e.filename) || e.filename === "." || e.filename === "..") problems.push(`${where}: filename '${e.filename}' must be a plain name, without '/', '\\' or NUL`);
    else if (e.filename.length > MAX_FILENAME) problems.push(`${where}: filename must be at most ${MAX_FILENAME} characters (got ${e.filename.length})`);
    if (e.is_dir !== undefined && typeof e.is_dir !== "boolean") problems.push(`${where}: is_dir must be true or false (got ${describe(e.is_dir)})`);
    e.is_dir = e.is_dir === true;
    if (e.is_dir) {
      const children = e.files === undefined ? [] : e.files;
      if (!Array.isArray(children)) problems.push(`${where}: files must be a list (got ${describe(children)})`);
      else e.files = children.map((c, i) => walk(c, `${where}.files[${i}]`, false)).filter((c): c is JsonObject => c !== null);
      if (e.size === undefined || e.size === null) e.size = Array.isArray(e.files) ? (e.files as JsonObject[]).reduce((sum, c) => sum + (Number(c.size) || 0), 0) : 0;
    }
    // Whole bytes, as the upload job's tasks need them (a fraction failed only at submitPublish).
    if (typeof e.size !== "number" || !Number.isInteger(e.size) || e.size < 0) problems.push(`${where}: size must be a whole number of bytes, 0 or more (got ${describe(e.size)})`);
    return e;
  };
  const normalized = files.map((f, i) => walk(f, `input.files[${i}]`, true)).filter((f): f is JsonObject => f !== null);
  return { files: normalized, problems };
}
