// JSON nested deeper than any real payload is refused before anything walks it: hookd's own code
// (and graphql-js) walk input recursively, and 100k levels overflowed the stack (an
// INTERNAL_SERVER_ERROR). Checked without recursion, so the check cannot overflow itself.

export const MAX_JSON_DEPTH = 64;

/** The depth of `value` (a scalar is 0, `{}` and `[]` are 1), counted only up to `limit + 1`. */
export function jsonDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) if (child !== null && typeof child === "object") stack.push([child, here]);
  }
  return deepest;
}

export const jsonTooDeepMessage = (where: string) => `${where} is nested more than ${MAX_JSON_DEPTH} levels deep; the limit is ${MAX_JSON_DEPTH}`;
