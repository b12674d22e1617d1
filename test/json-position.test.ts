import { test } from "node:test";
import assert from "node:assert/strict";
import { jsonErrorPosition } from "../src/executor/json-position.js";

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
