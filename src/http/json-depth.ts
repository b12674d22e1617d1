// JSON nested deeper than any real payload is refused before anything walks it: hookd's own code
// (and graphql-js) walk input recursively, and 100k levels overflowed the stack (an
// INTERNAL_SERVER_ERROR). Checked without recursion, so the check cannot overflow itself.

export const MAX_JSON_DEPTH = 64;

/**
 * Tokens graphql-js reads from one document before it gives up (its parse option maxTokens), on
 * every transport: the document's size, not only its depth, bounds the parser's work. The largest
 * legitimate document (1,500 selected fields, with arguments) is far below; big inputs belong in
 * variables, which are not tokens.
 */
export const MAX_DOCUMENT_TOKENS = 50_000;

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

/**
 * How deeply a GraphQL document's brackets ({ [ and () nest, outside strings and comments: an
 * input object written inline 100k levels deep overflowed graphql-js's parser ("Maximum call
 * stack size exceeded"), so documents are measured before they are parsed. Stops counting past
 * `limit`.
 */
export function documentDepth(source: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "#") {
      while (i < source.length && source[i] !== "\n" && source[i] !== "\r") i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        i += 3;
        while (i < source.length && !source.startsWith('"""', i)) i += source[i] === "\\" && source.startsWith('"""', i + 1) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < source.length && source[i] !== '"' && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      }
    } else if (c === "{" || c === "[" || c === "(") {
      depth++;
      if (depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === "}" || c === "]" || c === ")") {
      depth--;
    }
  }
  return deepest;
}

/**
 * GET /graphql's query string (query, variables, extensions): refused for its nesting as a POST
 * body is, or null. Variables that are not JSON are left for Apollo to refuse with its own message.
 */
export function searchParamsRefusal(params: URLSearchParams): string | null {
  const query = params.get("query");
  if (query !== null && documentDepth(query) > MAX_JSON_DEPTH) return jsonTooDeepMessage("the query document");
  for (const name of ["variables", "extensions"]) {
    const raw = params.get(name);
    if (raw === null) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      continue;
    }
    if (jsonDepth(value) > MAX_JSON_DEPTH) return jsonTooDeepMessage(name);
  }
  return null;
}
