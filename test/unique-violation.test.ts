import "reflect-metadata";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openStore } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { DomainError } from "../src/domain/errors.js";
import { QueueHook, QueueHookMode } from "../src/entities/queue-hook.entity.js";
import { Queue } from "../src/entities/queue.entity.js";
import { User } from "../src/entities/user.entity.js";
import type { Store } from "../src/store/store.js";
import { forcePostgres } from "./helpers/test-database.js";

// Services check codes and emails first; two requests racing past that check meet the constraint.
async function violations(store: Store): Promise<void> {
  const user = () => Object.assign(new User(), { email: "td@studio.example", role: "STANDARD", disabled: false, metadata: { external: {}, internal: {} } });
  await store.transaction((em) => em.save(user()));
  await assert.rejects(
    store.transaction((em) => em.save(user())),
    (err: unknown) => {
      assert.ok(err instanceof DomainError, `expected a DomainError, got ${String(err)}`);
      assert.equal(err.code, "CONFLICT");
      assert.equal(err.field, "input.email");
      assert.match(err.message, /^input\.email: a user with (email 'td@studio\.example'|this email) already exists$/);
      return true;
    },
  );
  const queue = await store.transaction((em) =>
    em.save(Object.assign(new Queue(), { code: "vfx", name: "VFX", priority: 1, isDefault: false, status: "WAITING", description: null, metadata: { external: {}, internal: {} } })),
  );
  const hook = () =>
    Object.assign(new QueueHook(), {
      queueId: queue.id,
      hook: "POST_DONE_SERVER",
      mode: QueueHookMode.APPEND,
      enabled: true,
      timeoutSeconds: null,
      commands: { linux: null, mac: null, windows: null },
    });
  await store.transaction((em) => em.save(hook()));
  await assert.rejects(
    store.transaction((em) => em.insert(QueueHook, hook() as never)),
    { code: "CONFLICT", field: "input.hook", message: /a queue hook with (this )?queueId and hook (.*)?already exists/ },
  );
  // Nothing of the failed transaction stayed; other errors pass through unchanged.
  assert.equal(await store.manager.count(User), 1);
  await assert.rejects(
    store.transaction(() => Promise.reject(new Error("not a constraint"))),
    (err: unknown) => !(err instanceof DomainError) && (err as Error).message === "not a constraint",
  );
}

test("a unique-constraint violation is CONFLICT naming the field, on SQLite", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-unique-"));
  const store = await openStore(loadConfig({ HOOKD_DATA_DIR: dataDir }));
  try {
    await violations(store);
  } finally {
    await store.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a unique-constraint violation is CONFLICT naming the field, on PostgreSQL", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "hookd-unique-pg-"));
  const env = await forcePostgres(dataDir);
  const store = await openStore(loadConfig({ HOOKD_DATA_DIR: dataDir, ...env.vars }));
  try {
    await violations(store);
  } finally {
    await store.destroy();
    await env.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
