import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// One writer per piece of state: an execution's rows are written by src/executor/execution-transitions.ts
// only (its status above all). This reads every source file with TypeScript's type checker and
// lists each write of the Execution entity found elsewhere: a TypeORM save/insert/update/upsert
// of an Execution (by class, instance or repository), a Store write op naming it, raw SQL that
// updates the table. Deleting old executions (retention) is not a write of their state, nor is a
// migration's upgrade of the schema.

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OWNER = "src/executor/execution-transitions.ts";
const WRITES = new Set(["save", "insert", "update", "upsert", "increment", "decrement"]);

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith(".ts") ? [path.join(ROOT, dir, d.name)] : []));
}

/** Every place outside `allowed` that writes the entity class named `entity` of `entityFile`. */
function writersOf(files: string[], entity: string, entityFile: string, allowed: string): string[] {
  const config = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile).config, ts.sys, ROOT);
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const isEntity = (t: ts.Type): boolean => {
    const symbol = t.getSymbol() ?? t.aliasSymbol;
    const named = symbol?.getName() === entity && symbol.declarations?.some((d) => d.getSourceFile().fileName === entityFile);
    if (named) return true;
    // Execution[], Repository<Execution>, Partial<Execution>, typeof Execution
    if (t.isUnion()) return t.types.some(isEntity);
    const args = checker.getTypeArguments(t as ts.TypeReference) ?? [];
    if (args.some(isEntity)) return true;
    return (t.aliasTypeArguments ?? []).some(isEntity);
  };
  const isEntityClass = (n: ts.Node): boolean => {
    const symbol = checker.getSymbolAtLocation(n);
    const target = symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return target?.getName() === entity && (target.declarations ?? []).some((d) => d.getSourceFile().fileName === entityFile);
  };
  const found: string[] = [];
  for (const sf of program.getSourceFiles()) {
    const rel = path.relative(ROOT, sf.fileName);
    // Migrations change the schema and its rows once, as they upgrade a store: not a runtime writer.
    if (!rel.startsWith("src/") || rel.startsWith("src/migrations/") || rel === allowed) continue;
    const where = (n: ts.Node) => `${rel}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}: ${n.getText().slice(0, 90)}`;
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && WRITES.has(n.expression.name.text)) {
        const receiver = checker.getTypeAtLocation(n.expression.expression);
        if (isEntity(receiver) || n.arguments.some((a) => isEntityClass(a) || isEntity(checker.getTypeAtLocation(a)))) found.push(where(n));
      }
      // A Store write op: { insert: Execution, ... } or { update: Execution, ... }.
      if (ts.isPropertyAssignment(n) && ts.isIdentifier(n.name) && (n.name.text === "insert" || n.name.text === "update") && isEntityClass(n.initializer)) found.push(where(n));
      if ((ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateExpression(n)) && /\bUPDATE\s+"?execution"?\s+SET\b/i.test(n.getText())) found.push(where(n));
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

test("an execution's state is written by execution-transitions.ts alone", () => {
  const files = sources("src");
  const entityFile = path.join(ROOT, "src/entities/execution.entity.ts");
  assert.deepEqual(writersOf(files, "Execution", entityFile, OWNER), []);
  // The check sees writes where they are: the owner's own are found when it is not exempt.
  const own = writersOf([path.join(ROOT, OWNER)], "Execution", entityFile, "(none)").filter((w) => w.startsWith(OWNER));
  assert.ok(
    own.some((w) => /update: Execution/.test(w)),
    own.join("\n"),
  );
  assert.ok(
    own.some((w) => /em\.update\(Execution/.test(w)),
    own.join("\n"),
  );
});
