import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule } from "graphql";

// Query depth and size limits: a document nested deeper than the schema ever needs, or selecting
// more fields than any real client asks for, is refused before it runs, with the limit in words.
// What the lists in it may return is weighed by the cost limit (query-cost.ts).

export const MAX_DEPTH = 12;
export const MAX_FIELDS = 1500;

function measure(selection: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, depth: number, seen: Set<string>): { depth: number; fields: number } {
  let deepest = depth;
  let fields = 0;
  for (const node of selection.selections) {
    if (node.kind === Kind.FIELD) {
      fields += 1;
      if (node.selectionSet) {
        const inner = measure(node.selectionSet, fragments, depth + 1, seen);
        // Introspection (__schema, __type) nests type references as deep as the schema's wrappers
        // (the standard query reaches 15 levels): its fields count, its depth does not.
        if (!node.name.value.startsWith("__")) deepest = Math.max(deepest, inner.depth);
        fields += inner.fields;
      }
    } else if (node.kind === Kind.INLINE_FRAGMENT) {
      const inner = measure(node.selectionSet, fragments, depth, seen);
      deepest = Math.max(deepest, inner.depth);
      fields += inner.fields;
    } else {
      const name = node.name.value;
      const fragment = fragments.get(name);
      // A fragment cycle is reported by graphql's own rules; do not follow it here.
      if (!fragment || seen.has(name)) continue;
      const inner = measure(fragment.selectionSet, fragments, depth, new Set([...seen, name]));
      deepest = Math.max(deepest, inner.depth);
      fields += inner.fields;
    }
  }
  return { depth: deepest, fields };
}

export function queryLimits(maxDepth = MAX_DEPTH, maxFields = MAX_FIELDS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const document = context.getDocument();
    const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
    return {
      OperationDefinition(operation) {
        const { depth, fields } = measure(operation.selectionSet, fragments, 1, new Set());
        const name = operation.name ? `operation '${operation.name.value}'` : "the operation";
        if (depth > maxDepth) context.reportError(new GraphQLError(`${name} is nested ${depth} levels deep; the limit is ${maxDepth}`, { nodes: [operation] }));
        if (fields > maxFields)
          context.reportError(new GraphQLError(`${name} selects ${fields} fields; the limit is ${maxFields} (ask for fewer fields or page with first/after)`, { nodes: [operation] }));
      },
    };
  };
}
