import { getNamedType, getNullableType, GraphQLError, GraphQLList, type DocumentNode, type GraphQLSchema } from "graphql";
import { createRequire } from "node:module";
import type { ComplexityEstimator, getComplexity as GetComplexity } from "graphql-query-complexity";

// Its CommonJS build, which shares graphql's CommonJS build with type-graphql and hookd (an ESM
// import of "graphql" resolves to it too): the ESM build imports graphql/index.mjs, a second
// copy of graphql whose checks reject the schema ("from another module or realm").
const { getComplexity } = createRequire(import.meta.url)("graphql-query-complexity") as { getComplexity: typeof GetComplexity };

// What an operation may cost, weighed by how many items its lists can return: counting fields
// alone let 150 aliases of `job { tasks }` (300 fields) answer 353 MiB. Each field costs 1, and a
// list multiplies what is selected inside it (1 for a list of scalars) by its page size (`first`,
// a connection's for its nodes and edges) or, for a list without paging, by the size it is
// assumed to reach.

// Room for the documented reads (a job's executions with their first 1000 log lines each, about
// 60,000), not for hundreds of pages of a 14k-task job.
export const MAX_COST = 100_000;
/** Items an unpaged list of objects is assumed to hold (queues, volumes, a job's executions...). */
export const UNPAGED_LIST_SIZE = 20;
/** What a field holding JSON (metadata, a hook's input, a pre-publish answer) costs. */
export const JSON_FIELD_COST = 10;
const JSON_SCALARS = new Set(["JSONObject", "JSON"]);
/** The largest answer sent, in bytes of JSON; a bigger one is replaced by an error. */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

const listEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  // The schema itself is small and fixed: introspection costs one per field, so tools can load it.
  if (type.name.startsWith("__") || getNamedType(field.type).name.startsWith("__")) return 1 + childComplexity;
  const paged = typeof args.first === "number" && args.first > 0;
  // A connection (jobs, executions, auditEvents) pages its nodes and edges with its own 'first'.
  if (paged && !(getNullableType(field.type) instanceof GraphQLList)) return 1 + args.first * Math.max(1, childComplexity);
  if (type.name.endsWith("Connection")) return 1 + childComplexity;
  // A JSON value (metadata, a hook's input or answer) may hold far more than one field's worth.
  if (!(getNullableType(field.type) instanceof GraphQLList)) return (JSON_SCALARS.has(getNamedType(field.type).name) ? JSON_FIELD_COST : 1) + childComplexity;
  return 1 + (paged ? args.first : UNPAGED_LIST_SIZE) * Math.max(1, childComplexity);
};

/** The operation's cost, or an error when it cannot be weighed (graphql's own validation reports those). */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined): number {
  return getComplexity({ schema, query: document, variables: variables ?? {}, operationName: operationName ?? undefined, estimators: [listEstimator] });
}

/**
 * costRefusal, remembered per parsed document (Apollo and graphql-ws reuse the parsed document of
 * a query they saw before) and per the numbers among its variables: only an Int can be a page
 * size, so other variables (a hook's payload) never change the cost.
 */
export class CostLimit {
  private readonly verdicts = new WeakMap<DocumentNode, Map<string, GraphQLError | null>>();

  constructor(private readonly schema: GraphQLSchema) {}

  refusal(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined): GraphQLError | null {
    const key = `${operationName ?? ""}\u0000${variables ? JSON.stringify(Object.entries(variables).filter(([, v]) => typeof v === "number")) : ""}`;
    let known = this.verdicts.get(document);
    if (!known) this.verdicts.set(document, (known = new Map()));
    if (known.has(key)) return known.get(key)!;
    const verdict = costRefusal(this.schema, document, variables, operationName);
    if (known.size >= 64) known.clear();
    known.set(key, verdict);
    return verdict;
  }
}

/** The refusal of an operation that costs too much, or null; over HTTP and WebSocket alike. */
export function costRefusal(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | null | undefined): GraphQLError | null {
  let cost: number;
  try {
    cost = operationCost(schema, document, variables, operationName);
  } catch {
    return null; // e.g. a variable of the wrong type: graphql-js answers that with its own error
  }
  if (cost <= MAX_COST) return null;
  return new GraphQLError(
    `the operation costs ${cost}; the limit is ${MAX_COST} (each field costs 1 and a list multiplies what it selects by its page size 'first', or by ${UNPAGED_LIST_SIZE} when it has none): ask for fewer fields or smaller pages`,
    { extensions: { code: "QUERY_TOO_COSTLY", cost, limit: MAX_COST } },
  );
}

const tooLargeError = (bytes: number | null) => ({
  message: `the answer is ${bytes === null ? "too large to build" : `${bytes} bytes`}; the limit is ${MAX_ANSWER_BYTES} bytes: ask for fewer fields or smaller pages (first/after)`,
  extensions: { code: "RESPONSE_TOO_LARGE", limit: MAX_ANSWER_BYTES },
});

/** The answer as JSON, or its size in bytes (null: too large for a JavaScript string) when over the cap. */
function measure(value: unknown): { text: string } | { bytes: number | null } {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) return { bytes: null };
    throw err;
  }
  // length <= bytes <= 3 * length for UTF-16 text: count bytes only when it may matter.
  if (text.length * 3 > MAX_ANSWER_BYTES) {
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_ANSWER_BYTES) return { bytes };
  }
  return { text };
}

/**
 * The answer as JSON, or an error in its place when it is over MAX_ANSWER_BYTES (also when it is
 * too large for a JavaScript string at all). Apollo's own stringifier adds the same newline.
 */
export function stringifyCapped(value: unknown): string {
  const measured = measure(value);
  return ("text" in measured ? measured.text : JSON.stringify({ errors: [tooLargeError(measured.bytes)] })) + "\n";
}

/** For answers another library serialises (graphql-ws): the error that replaces an oversized one, or null. */
export function oversizedAnswer(value: unknown): { errors: GraphQLError[] } | null {
  const measured = measure(value);
  if ("text" in measured) return null;
  const { message, extensions } = tooLargeError(measured.bytes);
  return { errors: [new GraphQLError(message, { extensions })] };
}
