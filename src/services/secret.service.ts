import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { badInput, DomainError, notFound } from "../domain/errors.js";
import { SECRET_NAME } from "../domain/hook-policy.js";
import { Secret } from "../entities/secret.entity.js";
import { EntityCache } from "../store/entity-cache.js";
import type { Store } from "../store/store.js";
import type { Actor, AuditService } from "./audit.service.js";
import type { ConfigurationService } from "./configuration.service.js";

const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_VALUE_BYTES = 64 * 1024;
/** Values this short would mask ordinary words in every log: refused. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Secrets hooks ask for in their policy's `env`: stored encrypted with HOOKD_SECRET_KEY
 * (AES-256-GCM, a fresh IV per value), never returned by the API; their values are masked in
 * every log line (ExecutionLog).
 */
export class SecretService {
  private readonly cache: EntityCache<Map<string, string>>;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly history: ConfigurationService,
    private readonly key: Buffer | null,
  ) {
    this.cache = new EntityCache(store, [Secret], 1);
  }

  list(): Promise<Secret[]> {
    return this.store.manager.find(Secret, { order: { name: "ASC" } });
  }

  async set(name: string, value: string, actor: Actor): Promise<Secret> {
    const key = this.requireKey();
    if (!SECRET_NAME.test(name) || name.startsWith("HOOKD_")) throw badInput("name", `'${name}' is not a secret name: letters, digits and '_', not starting with a digit, not HOOKD_...`);
    if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH) throw badInput("value", `must be at least ${MIN_SECRET_LENGTH} characters (shorter values would mask ordinary words in logs)`);
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw badInput("value", `must be at most ${MAX_VALUE_BYTES} bytes`);
    if (/[\r\n\0]/.test(value)) throw badInput("value", "must be one line (no newline or NUL): log lines are masked one at a time");
    return this.store.transaction(async (em) => {
      const existing = await em.findOneBy(Secret, { name });
      const secret = Object.assign(existing ?? new Secret(), { name, sealed: seal(key, value), updatedAt: new Date() });
      const saved = await em.save(secret);
      // The value stays out of the audit trail: only that it was set.
      await this.audit.record(em, actor, "secret.set", "secret", name, existing ? { name, updatedAt: existing.updatedAt } : null, { name, updatedAt: saved.updatedAt });
      // Always a version: a new value is a change even though the document holds only the name.
      await this.history.record(em, actor, "secret.set", name, true);
      return saved;
    });
  }

  async remove(name: string, actor: Actor): Promise<Secret> {
    return this.store.transaction(async (em) => {
      const existing = await em.findOneBy(Secret, { name });
      if (!existing) throw notFound("secret", name);
      await em.delete(Secret, { name });
      await this.audit.record(em, actor, "secret.remove", "secret", name, { name, updatedAt: existing.updatedAt }, null);
      await this.history.record(em, actor, "secret.remove", name);
      return existing;
    });
  }

  /** The values of the named secrets for one run; a name not set is left out (the hook sees no such variable). */
  async envFor(names: readonly string[] | undefined | null): Promise<Record<string, string> | null> {
    if (!names || names.length === 0) return null;
    const all = await this.values();
    const env: Record<string, string> = {};
    for (const name of names) {
      const value = all.get(name);
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  /** Every secret value, longest first (so a value containing another is masked whole). */
  async maskList(): Promise<string[]> {
    return [...(await this.values()).values()].sort((a, b) => b.length - a.length);
  }

  private values(): Promise<Map<string, string>> {
    return this.cache.get("all", async () => {
      const rows = await this.store.manager.find(Secret);
      const map = new Map<string, string>();
      if (rows.length === 0) return map;
      const key = this.requireKey();
      for (const r of rows) map.set(r.name, open(key, r.sealed, r.name));
      return map;
    });
  }

  private requireKey(): Buffer {
    if (this.key === null) throw new DomainError("CONFLICT", "secrets need HOOKD_SECRET_KEY: set it to 32 random bytes (openssl rand -base64 32) and restart hookd");
    return this.key;
  }
}

function seal(key: Buffer, value: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
}

function open(key: Buffer, sealed: string, name: string): string {
  const raw = Buffer.from(sealed, "base64");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new DomainError("INTERNAL", `secret '${name}' cannot be decrypted with this HOOKD_SECRET_KEY (was the key changed?); set the secret again`);
  }
}
