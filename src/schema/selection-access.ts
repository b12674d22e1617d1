import { getNamedType, isObjectType, Kind, type GraphQLObjectType, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";
import { getMetadataStorage } from "type-graphql";
import type { Access } from "../domain/roles.js";
import { assertAccess } from "./auth-checker.js";
import type { RequestContext } from "./context.js";

/**
 * "Type.field" → the access its @Authorized asks for, from type-graphql's metadata (the same
 * decorators the auth checker enforces while a field resolves), for fields of object types.
 */
function fieldAccess(): Map<string, Access[]> {
  const storage = getMetadataStorage();
  // biome-ignore lint/complexity/noBannedTypes: type-graphql keeps class targets as Function
  const typeName = (target: Function | undefined) => storage.objectTypes.find((o) => o.target === target)?.name;
  const access = new Map<string, Access[]>();
  for (const rule of storage.authorizedFields) {
    const resolver = storage.fieldResolvers.find((f) => f.target === rule.target && f.methodName === rule.fieldName);
    // biome-ignore lint/complexity/noBannedTypes: as above
    const type = resolver ? typeName(resolver.getObjectType?.() as Function | undefined) : typeName(rule.target);
    if (type) access.set(`${type}.${resolver?.schemaName ?? rule.fieldName}`, rule.roles as Access[]);
  }
  return access;
}

/**
 * Refuses (FORBIDDEN, naming the field) a mutation whose answer selects a field the caller may not
 * read, before the mutation does anything: checked only while resolving, such a field nulled the
 * whole answer of a submitJob whose job had been created, and a retry then duplicated it.
 */
export async function assertSelectionReadable(info: GraphQLResolveInfo, context: RequestContext): Promise<void> {
  const access = fieldAccess();
  const checked = new Set<string>();
  const walk = async (selection: SelectionSetNode, type: GraphQLObjectType): Promise<void> => {
    for (const node of selection.selections) {
      if (node.kind === Kind.FIELD) {
        const field = type.getFields()[node.name.value];
        if (!field) continue;
        const key = `${type.name}.${field.name}`;
        const required = access.get(key);
        if (required && !checked.has(key)) {
          checked.add(key);
          await assertAccess(context, required, key);
        }
        const inner = getNamedType(field.type);
        if (node.selectionSet && isObjectType(inner)) await walk(node.selectionSet, inner);
      } else {
        const set = node.kind === Kind.INLINE_FRAGMENT ? node.selectionSet : info.fragments[node.name.value]?.selectionSet;
        if (set) await walk(set, type);
      }
    }
  };
  const root = getNamedType(info.returnType);
  if (!isObjectType(root)) return;
  for (const node of info.fieldNodes) if (node.selectionSet) await walk(node.selectionSet, root);
}
