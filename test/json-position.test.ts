import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonErrorPosition, MAX_OUTPUT_JSON_DEPTH, outputDepthRefusal } from "../src/executor/json-position.js";

test("valid JSON has no error position, whatever JSON.parse accepts", () => {
  for (const text of ['{"a": [1, 2.5e3, -0, true, false, null, "x\\u00e9\\n"]}', "  []  ", '"s"', "0"]) {
    assert.doesNotThrow(() => JSON.parse(text));
    assert.equal(jsonErrorPosition(text), null, text);
  }
});

test("invalid JSON: the offset of the first error", () => {
  const cases: [string, number][] = [
    ['{"files": [', 11],
    ['{"a": 1,\n "b": x}', 15],
    ["[1, 2,]", 6],
    ['{"a" 1}', 5],
    ['"abc', 4],
    ['{"a": tru}', 9],
    ["  {} x", 5],
    ["", 0],
    ['{"a": "\\q"}', 8],
    ["01", 1],
    ["{'single': 1}", 1],
  ];
  for (const [text, position] of cases) {
    assert.throws(() => JSON.parse(text));
    assert.equal(jsonErrorPosition(text), position, JSON.stringify(text));
  }
});

test("deeply nested JSON: the real position, not a stack overflow (100k levels)", () => {
  const levels = 100_000;
  const valid = '{"a":['.repeat(levels) + "1" + "]}".repeat(levels);
  assert.equal(jsonErrorPosition(valid), null);
  // Cut short: the error is where the text ends. A recursive scanner answered RangeError here.
  const truncated = valid.slice(0, valid.length - 10);
  assert.equal(jsonErrorPosition(truncated), truncated.length);
  // A wrong closer deep inside.
  const wrong = "[".repeat(levels) + "}" + "]".repeat(levels - 1);
  assert.equal(jsonErrorPosition(wrong), levels);
  // Many numbers: each read where it stands (the old scanner copied the rest of the text per number).
  const numbers = `[${Array.from({ length: 200_000 }, (_, i) => i).join(",")},x]`;
  assert.equal(jsonErrorPosition(numbers), numbers.length - 2);
});

test("output depth: within the limit null; past it a refusal naming the limit and where level limit+1 opens; strings do not count", () => {
  assert.equal(MAX_OUTPUT_JSON_DEPTH, 64);
  const nested = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
  assert.equal(outputDepthRefusal(nested(64)), null);
  assert.equal(outputDepthRefusal(`{"s": "${"[{".repeat(500)}\\"[{"}`), null, "brackets in strings, escaped quotes too");
  assert.equal(
    outputDepthRefusal(nested(65)),
    "the output file nests objects and arrays more than 64 levels deep (level 65 opens at line 1, column 321, position 320); a hook's answer may nest at most 64 levels",
  );
  // Any depth, valid or not, without recursion.
  assert.match(outputDepthRefusal("[".repeat(1_000_000)) ?? "", /more than 64 levels deep \(level 65 opens at line 1, column 65, position 64\)/);
  assert.match(outputDepthRefusal(`{\n  "files": ${"[".repeat(70)}`, 3) ?? "", /more than 3 levels deep \(level 4 opens at line 2, column 14, position 15\)/);
});
