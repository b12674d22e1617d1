import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { badInput, conflict, forbidden, notFound, unauthenticated } from "../domain/errors.js";
import { UserRole } from "../domain/roles.js";
import { ApiKey } from "../entities/api-key.entity.js";
import { User } from "../entities/user.entity.js";
import type { PubSub } from "../pubsub/pubsub.js";
import { type ChangeSource, EntityCache } from "../store/entity-cache.js";
import { FIRST_START_LOCK, type Store } from "../store/store.js";
import type { EntityManager } from "typeorm";
import { snapshot, type Actor, type AuditService } from "./audit.service.js";
import type { MetadataInputFields } from "../entities/metadata.embedded.js";
import { applyMetadata, assertEmail } from "./validation.js";

export const API_KEY_PREFIX = "hkd_";
/** lastUsedAt is refreshed at most this often, so authenticating is not a write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface Principal {
  user: User;
  apiKey: ApiKey;
}

export interface CreatedApiKey {
  apiKey: ApiKey;
  /** The full key: returned once, never stored. */
  secret: string;
}

const sha256 = (value: string) => createHash("sha256").update(value, "utf8").digest("hex");

/** Keys kept in the authentication cache at most; past it the cache starts over. */
const MAX_CACHED_KEYS = 10_000;

export class UserService {
  /**
   * Keys (with their user) by hash: every request authenticates, and keys and users change
   * rarely. Any write to a key or a user drops them, so a revoke takes effect at once.
   */
  private readonly keys: EntityCache<ApiKey>;
  /** Another process (the `hookd key revoke` / `user disable` commands) wrote since the last look. */
  private readonly externalChange: () => boolean;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditService,
    private readonly pubsub: PubSub,
    changes: ChangeSource = store,
  ) {
    this.keys = new EntityCache(changes, [ApiKey, User], MAX_CACHED_KEYS);
    this.externalChange = store.externalChangeSignal([ApiKey, User]);
  }

  private findKey(hash: string): Promise<ApiKey | null> {
    if (this.externalChange()) {
      this.keys.clear();
      // A key revoked or a user disabled by the command line: open subscriptions check again.
      this.pubsub.publish("accessChanged", "*", { reason: "the database was changed by another process" });
    }
    return this.keys.get(hash, () => this.store.manager.findOne(ApiKey, { where: { hash }, relations: { user: true } }));
  }

  list(): Promise<User[]> {
    return this.store.manager.find(User, { order: { createdAt: "ASC", email: "ASC" } });
  }

  async get(id: string): Promise<User> {
    const user = await this.store.manager.findOneBy(User, { id });
    if (!user) throw notFound("user", id);
    return user;
  }

  find(id: string): Promise<User | null> {
    return this.store.manager.findOneBy(User, { id });
  }

  async findByEmail(email: string): Promise<User | null> {
    return this.store.manager.findOneBy(User, { email: email.trim().toLowerCase() });
  }

  async create(emailInput: string, role: UserRole, actor: Actor, metadata?: MetadataInputFields): Promise<User> {
    const email = assertEmail("input.email", emailInput);
    if (!Object.values(UserRole).includes(role)) throw badInput("input.role", `must be one of ${Object.values(UserRole).join(", ")} (got '${role}')`);
    return this.store.transaction((em) => this.insertUser(em, email, role, actor, metadata));
  }

  /** A new user, in the caller's transaction; `email` is checked already. */
  private async insertUser(em: EntityManager, email: string, role: UserRole, actor: Actor, metadata?: MetadataInputFields): Promise<User> {
    const fresh = em.create(User, { email, role, disabled: false });
    applyMetadata("input.metadata", fresh.metadata, metadata);
    if (await em.existsBy(User, { email })) throw conflict("input.email", `a user with email '${email}' already exists`);
    const user = await em.save(fresh);
    await this.audit.record(em, actor, "user.create", "user", user.id, null, user);
    return user;
  }

  /** Changes a user's metadata (a half left out is kept); the user's jobs and publishes aggregate it. */
  async update(id: string, input: { metadata?: MetadataInputFields }, actor: Actor): Promise<User> {
    return this.store.transaction(async (em) => {
      const user = await em.findOneBy(User, { id });
      if (!user) throw notFound("user", id);
      const before = snapshot(user);
      applyMetadata("input.metadata", user.metadata, input.metadata);
      const saved = await em.save(user);
      await this.audit.record(em, actor, "user.update", "user", user.id, before, saved);
      return saved;
    });
  }

  keysOf(userId: string): Promise<ApiKey[]> {
    return this.store.manager.find(ApiKey, { where: { userId }, order: { createdAt: "ASC" } });
  }

  /** `secret` is for bootstrap only (HOOKD_BOOTSTRAP_ADMIN_KEY); otherwise a key is generated. */
  async createApiKey(userId: string, label: string | null, actor: Actor, secret?: string): Promise<CreatedApiKey> {
    if (label !== null && label.length > 200) throw badInput("label", `must be at most 200 characters (got ${label.length})`);
    const key = secret ?? `${API_KEY_PREFIX}${randomBytes(24).toString("base64url")}`;
    return this.store.transaction(async (em) => {
      if (!(await em.existsBy(User, { id: userId }))) throw notFound("user", userId);
      return this.insertApiKey(em, userId, label, actor, key);
    });
  }

  /** A new key (stored as its hash), in the caller's transaction. */
  private async insertApiKey(em: EntityManager, userId: string, label: string | null, actor: Actor, key: string): Promise<CreatedApiKey> {
    const apiKey = await em.save(em.create(ApiKey, { userId, label, prefix: key.slice(0, 12), hash: sha256(key), lastUsedAt: null, revokedAt: null }));
    await this.audit.record(em, actor, "apiKey.create", "apiKey", apiKey.id, null, apiKey);
    return { apiKey, secret: key };
  }

  /** Revokes a key. `actor` may revoke their own keys; only an ADMIN may revoke others'. */
  async revokeApiKey(id: string, actor: User): Promise<ApiKey> {
    return this.store
      .transaction(async (em) => {
        const key = await em.findOneBy(ApiKey, { id });
        // Someone else's key id answers as not found, so ids cannot be probed.
        if (!key || (key.userId !== actor.id && actor.role !== UserRole.ADMIN)) throw notFound("API key", id);
        if (key.revokedAt === null) {
          const before = snapshot(key);
          key.revokedAt = new Date();
          await em.save(key);
          await this.audit.record(em, actor, "apiKey.revoke", "apiKey", key.id, before, key);
        }
        return key;
      })
      .then((key) => {
        this.pubsub.publish("accessChanged", "*", { reason: "an API key was revoked" });
        return key;
      });
  }

  /** Resolves an `Authorization` header value to its user, or throws UNAUTHENTICATED saying why. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.trim() === "") {
      throw unauthenticated("missing API key: send the header 'Authorization: Bearer <key>'");
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
    if (!match) throw unauthenticated("malformed Authorization header: expected 'Bearer <key>'");
    return this.authenticateKey(match[1]);
  }

  async authenticateKey(secret: string): Promise<Principal> {
    const hash = sha256(secret);
    const apiKey = await this.findKey(hash);
    // The lookup is by hash; comparing again in constant time keeps the check itself timing-safe.
    if (!apiKey || !timingSafeEqual(Buffer.from(apiKey.hash, "hex"), Buffer.from(hash, "hex"))) {
      // An agent's credential reaches only the agent's own operations, over its WebSocket.
      if (secret.startsWith("hka_")) throw unauthenticated("an agent credential is not an API key: it may call only the agent operations, over the agent's WebSocket connection");
      throw unauthenticated("invalid API key");
    }
    if (apiKey.revokedAt !== null) throw unauthenticated(`API key ${apiKey.prefix}… was revoked on ${apiKey.revokedAt.toISOString()}`);
    if (apiKey.user.disabled) throw unauthenticated(`API key ${apiKey.prefix}… belongs to a disabled user`);
    const now = Date.now();
    if (apiKey.lastUsedAt === null || now - apiKey.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      apiKey.lastUsedAt = new Date(now);
      await this.store.transaction((em) => em.update(ApiKey, { id: apiKey.id }, { lastUsedAt: apiKey.lastUsedAt }));
    }
    return { user: apiKey.user, apiKey };
  }

  /**
   * First start: when no ADMIN exists, create one with a key (the configured one, or a generated
   * one). Returns the created admin and the key to print, or null when an admin already exists.
   */
  async bootstrapAdmin(emailInput: string, configuredKey: string | null): Promise<(CreatedApiKey & { user: User; generated: boolean }) | null> {
    if (await this.store.manager.existsBy(User, { role: UserRole.ADMIN })) return null;
    const email = assertEmail("HOOKD_BOOTSTRAP_ADMIN_EMAIL", emailInput);
    const key = configuredKey ?? `${API_KEY_PREFIX}${randomBytes(24).toString("base64url")}`;
    // One transaction under the first-start lock: instances starting together on a new database
    // wait for each other here, so one makes the admin and the others find it, with no write that
    // fails on the way (a failed INSERT of the key used to be logged with the key's hash).
    return this.store.transaction(async (em) => {
      await this.store.lockInTransaction(em, FIRST_START_LOCK);
      if (await em.existsBy(User, { role: UserRole.ADMIN })) return null;
      const user = (await em.findOneBy(User, { email })) ?? (await this.insertUser(em, email, UserRole.ADMIN, "hookd"));
      if (user.role !== UserRole.ADMIN) throw conflict("HOOKD_BOOTSTRAP_ADMIN_EMAIL", `'${email}' already exists as ${user.role}; choose another email for the first admin`);
      const created = await this.insertApiKey(em, user.id, "bootstrap", "hookd", key);
      return { ...created, user, generated: configuredKey === null };
    });
  }

  /**
   * Revokes a key by its id or its prefix (as `key list` shows it), for the command line, which
   * acts as an administrator.
   */
  async revokeApiKeyByAdmin(idOrPrefix: string, actor: Actor): Promise<ApiKey> {
    return this.store
      .transaction(async (em) => {
        const matches = await em.find(ApiKey, { where: [{ id: idOrPrefix }, { prefix: idOrPrefix }], relations: { user: true } });
        if (matches.length === 0) throw notFound("API key", idOrPrefix);
        if (matches.length > 1) throw conflict("key", `${matches.length} keys start with '${idOrPrefix}'; give the key's id instead`);
        const [key] = matches;
        if (key.revokedAt === null) {
          const before = snapshot(key);
          key.revokedAt = new Date();
          await em.save(ApiKey, key);
          await this.audit.record(em, actor, "apiKey.revoke", "apiKey", key.id, before, key);
        }
        return key;
      })
      .then((key) => {
        this.pubsub.publish("accessChanged", "*", { reason: "an API key was revoked" });
        return key;
      });
  }

  /** Changes a user's role. The last enabled ADMIN keeps theirs, so someone can still administer. */
  async setRole(email: string, role: UserRole, actor: Actor): Promise<User> {
    if (!Object.values(UserRole).includes(role)) throw badInput("role", `must be one of ${Object.values(UserRole).join(", ")} (got '${role}')`);
    return this.changeUser(email, actor, "user.setRole", (user) => {
      user.role = role;
    }).then((user) => {
      this.pubsub.publish("accessChanged", "*", { reason: "a user's role changed" });
      return user;
    });
  }

  /** Disables (or enables again) a user: a disabled user's keys are refused at once. */
  async setDisabled(email: string, disabled: boolean, actor: Actor): Promise<User> {
    return this.changeUser(email, actor, disabled ? "user.disable" : "user.enable", (user) => {
      user.disabled = disabled;
    }).then((user) => {
      this.pubsub.publish("accessChanged", "*", { reason: disabled ? "a user was disabled" : "a user was enabled" });
      return user;
    });
  }

  private changeUser(email: string, actor: Actor, action: string, change: (user: User) => void): Promise<User> {
    const normalized = email.trim().toLowerCase();
    return this.store.transaction(async (em) => {
      const user = await em.findOneBy(User, { email: normalized });
      if (!user) throw notFound("user", normalized);
      const before = snapshot(user);
      const wasActiveAdmin = user.role === UserRole.ADMIN && !user.disabled;
      change(user);
      if (wasActiveAdmin && (user.role !== UserRole.ADMIN || user.disabled)) {
        const admins = await em.countBy(User, { role: UserRole.ADMIN, disabled: false });
        if (admins <= 1) throw conflict("user", `'${normalized}' is the last enabled ADMIN; make another ADMIN first`);
      }
      await em.save(User, user);
      await this.audit.record(em, actor, action, "user", user.id, before, user);
      return user;
    });
  }

  assertSelfOrAdmin(actor: User, userId: string, what = "manage another user's API keys"): void {
    if (actor.id !== userId && actor.role !== UserRole.ADMIN) throw forbidden(`only an ADMIN may ${what}`);
  }
}
