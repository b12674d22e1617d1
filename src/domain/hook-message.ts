import type { JsonObject } from "../entities/metadata.embedded.js";

/**
 * The one channel from a hook to the user whose job or publish it concerns (SPEC §2.9): the
 * `message` of the JSON answer at ${PATH_JSON_OUTPUT}, or lines on stderr starting with
 * HOOK_MESSAGE_PREFIX. Nothing else of a hook's output reaches a user who is not ADMIN or audit.
 */

/** Characters (code points) a message keeps; a longer one is cut and ends with "…". */
export const HOOK_MESSAGE_MAX = 2000;

/** stderr lines starting with this are the message (like GitLab's GL-HOOK-ERR:), when the answer has none. */
export const HOOK_MESSAGE_PREFIX = "HOOKD-MESSAGE: ";

// C0 controls except \n, DEL, C1 controls, and the invisible format characters that can make
// text read otherwise than it is (bidirectional overrides, zero-width marks, BOM).
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/**
 * Plain text a user may be shown: newlines kept (\r\n and \r become \n, at most two in a row),
 * tabs become spaces, other control and format characters removed, trimmed, capped at
 * HOOK_MESSAGE_MAX characters. Null when nothing is left.
 */
export function sanitizeHookMessage(text: string): string | null {
  const clean = text
    .replace(/\r\n?/g, "\n")
    .replace(/\t/g, " ")
    .replace(UNSAFE, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  if (clean === "") return null;
  const chars = Array.from(clean);
  return chars.length <= HOOK_MESSAGE_MAX ? clean : `${chars.slice(0, HOOK_MESSAGE_MAX - 1).join("")}…`;
}

/** The message a hook's stored answer carries for the user (text only; anything else is no message). */
export function hookMessageOf(output: JsonObject | null | undefined): string | null {
  const message = output?.message;
  return typeof message === "string" ? sanitizeHookMessage(message) : null;
}
