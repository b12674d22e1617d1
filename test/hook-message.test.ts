import { test } from "node:test";
import assert from "node:assert/strict";
import { HOOK_MESSAGE_MAX, hookMessageOf, sanitizeHookMessage } from "../src/domain/hook-message.js";

test("a hook's message: control and format characters removed, newlines kept, capped in code points", () => {
  assert.equal(sanitizeHookMessage("\u001b[2J\u0000ok\r\nnext\tline\u202e\u2066\u200b\u00ad"), "[2Jok\nnext line\u00ad");
  assert.equal(sanitizeHookMessage("a\n\n\n\n\nb"), "a\n\nb");
  assert.equal(sanitizeHookMessage(" \u0007 "), null);
  const capped = sanitizeHookMessage("🎬".repeat(HOOK_MESSAGE_MAX + 5))!;
  assert.equal(Array.from(capped).length, HOOK_MESSAGE_MAX);
  assert.ok(capped.endsWith("🎬…"));
  assert.equal(sanitizeHookMessage("x".repeat(HOOK_MESSAGE_MAX)), "x".repeat(HOOK_MESSAGE_MAX), "exactly the cap is kept whole");
  assert.equal(hookMessageOf({ message: 3 }), null);
  assert.equal(hookMessageOf(null), null);
  assert.equal(hookMessageOf({ message: "<b>as text</b>" }), "<b>as text</b>");
});
