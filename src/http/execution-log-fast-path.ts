import {
  createSourceEventStream,
  execute,
  getNamedType,
  getOperationAST,
  GraphQLObjectType,
  isLeafType,
  Kind,
  subscribe,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLLeafType,
  type SelectionSetNode,
} from "graphql";
import type { ExecutionLogChunk } from "../pubsub/execution-log-stream.js";

// executionLog sends up to a thousand lines per event, hundreds of events a second. graphql-js
// completes every field of every line through its generic machinery (and type-graphql wraps each
// field in its middleware chain): a fifth of hookd's CPU while streaming. The shape of a batch of
// lines is fixed, so for the common selection (plain leaf fields of the lines) the event is built
// here directly, serialised by the schema's own scalars and enums: the same JSON, far less work.
// Anything else (fragments, directives, the final event with the finished execution) goes
// through graphql-js as before.
//
// Access: the subscription's subscribe step still runs through graphql-js, so @Authorized is
// checked when it starts; per event, the stream itself re-checks whenever access rules change
// (ExecutionLogStream's authorize), which is what the per-event check would catch.

/** A field of a line: a leaf of its type, or __typename (type null). */
interface LeafField {
  responseKey: string;
  property: string;
  type: GraphQLLeafType | null;
}

interface Plan {
  responseKey: string;
  eventTypeName: string;
  lineTypeName: string;
  /** Response keys of the event object, in selection order, with what each holds. */
  fields: { responseKey: string; kind: "lines" | "finished" | "typename" }[];
  lines: LeafField[];
}

const hasDirectives = (node: { directives?: readonly unknown[] }) => (node.directives?.length ?? 0) > 0;

/** The plan for an executionLog subscription the fast path can serve, or null (exported for tests). */
export function executionLogFastPath(args: Pick<ExecutionArgs, "schema" | "document" | "operationName">): Plan | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (operation?.operation !== "subscription" || hasDirectives(operation)) return null;
  const roots = operation.selectionSet.selections;
  if (roots.length !== 1 || roots[0].kind !== Kind.FIELD || roots[0].name.value !== "executionLog" || hasDirectives(roots[0])) return null;
  const root = roots[0];
  const eventType = args.schema.getSubscriptionType()?.getFields().executionLog?.type;
  const event = eventType && getNamedType(eventType);
  if (!(event instanceof GraphQLObjectType) || !root.selectionSet) return null;
  const lineType = getNamedType(event.getFields().lines?.type);
  if (!(lineType instanceof GraphQLObjectType)) return null;

  const fields: Plan["fields"] = [];
  let lines: LeafField[] | null = null;
  for (const selection of root.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || hasDirectives(selection)) return null;
    const responseKey = selection.alias?.value ?? selection.name.value;
    switch (selection.name.value) {
      case "__typename":
        fields.push({ responseKey, kind: "typename" });
        break;
      case "finished":
        fields.push({ responseKey, kind: "finished" });
        break;
      case "lines": {
        // Two selections of `lines` would need merging: leave that to graphql-js.
        if (lines !== null || !selection.selectionSet) return null;
        lines = leafFields(selection.selectionSet, lineType);
        if (lines === null) return null;
        fields.push({ responseKey, kind: "lines" });
        break;
      }
      default:
        return null;
    }
  }
  if (lines === null) return null;
  return { responseKey: root.alias?.value ?? root.name.value, eventTypeName: event.name, lineTypeName: lineType.name, fields, lines };
}

/** The selection as plain leaf fields (aliases allowed), or null when it is anything more. */
function leafFields(selectionSet: SelectionSetNode, type: GraphQLObjectType): LeafField[] | null {
  const out: LeafField[] = [];
  const defs = type.getFields();
  for (const selection of selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || hasDirectives(selection) || (selection.arguments?.length ?? 0) > 0 || selection.selectionSet) return null;
    const name = selection.name.value;
    const responseKey = selection.alias?.value ?? name;
    if (name === "__typename") {
      out.push({ responseKey, property: name, type: null });
      continue;
    }
    const def = defs[name];
    if (!def || def.args.length > 0) return null;
    const leaf = getNamedType(def.type);
    if (!isLeafType(leaf)) return null;
    out.push({ responseKey, property: name, type: leaf });
  }
  return out;
}

function serializeLines(chunk: ExecutionLogChunk, fields: LeafField[], typeName: string): Record<string, unknown>[] {
  const out = new Array<Record<string, unknown>>(chunk.lines.length);
  for (let i = 0; i < chunk.lines.length; i++) {
    const line = chunk.lines[i] as unknown as Record<string, unknown>;
    const row: Record<string, unknown> = {};
    for (const f of fields) row[f.responseKey] = f.type === null ? typeName : f.type.serialize(line[f.property]);
    out[i] = row;
  }
  return out;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => value !== null && typeof value === "object" && Symbol.asyncIterator in value;

/**
 * graphql-ws's `subscribe`: executionLog subscriptions with a plain selection are served by the
 * fast path, everything else by graphql-js.
 */
export async function subscribeWithFastPath(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const p = executionLogFastPath(args);
  if (!p) return subscribe(args);
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  const iterator = (source as AsyncIterable<ExecutionLogChunk>)[Symbol.asyncIterator]();

  const toResult = async (chunk: ExecutionLogChunk): Promise<ExecutionResult> => {
    // The final event carries the finished execution: graphql-js resolves its selection.
    if (chunk.finished !== null) return execute({ ...args, rootValue: chunk });
    const value: Record<string, unknown> = {};
    for (const f of p.fields) value[f.responseKey] = f.kind === "typename" ? p.eventTypeName : f.kind === "finished" ? null : serializeLines(chunk, p.lines, p.lineTypeName);
    return { data: { [p.responseKey]: value } };
  };

  const generator: AsyncGenerator<ExecutionResult> = {
    async next() {
      let step: IteratorResult<ExecutionLogChunk>;
      try {
        step = await iterator.next();
      } catch (err) {
        // A stream that fails mid-way (access taken away) ends with the error, as graphql-js would.
        await iterator.return?.();
        throw err;
      }
      if (step.done) return { done: true, value: undefined };
      return { done: false, value: await toResult(step.value) };
    },
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(err) {
      await iterator.return?.();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return generator;
}
