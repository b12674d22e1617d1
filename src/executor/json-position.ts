import { MAX_JSON_DEPTH } from "../http/json-depth.js";

// Node 20's JSON.parse often says what is wrong but not where. This scanner follows RFC 8259 only
// far enough to find the offset of the first error, for messages that point at it. It keeps its
// open objects and arrays on a stack of its own, not the call stack: a recursive scanner threw
// RangeError on a deeply nested answer, and that error became the "position" in the message.

const WS = new Set([" ", "\t", "\n", "\r"]);
/** Sticky: matched at lastIndex, without copying the rest of the text for each number. */
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/**
 * How deeply a hook's answer (the pre-publish output file) may nest: the same limit as a request's
 * JSON, since hookd hands the answer on to GraphQL clients and scripts that walk it.
 */
export const MAX_OUTPUT_JSON_DEPTH = MAX_JSON_DEPTH;

/** Offset of the first syntax error in `text`, or null when it is valid JSON. */
export function jsonErrorPosition(text: string): number | null {
  let i = 0;
  const ws = () => {
    while (i < text.length && WS.has(text[i])) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else {
      for (let k = 0; k < word.length && text[i] === word[k]; k++) i++;
      fail();
    }
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i += 2;
            fail();
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else {
          i++;
          fail();
        }
      } else if (c < " ") fail();
      else i++;
    }
    fail();
  };
  const number = () => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail();
    i += m![0].length;
  };
  /** An object member's `"key":`, up to where its value starts. */
  const key = () => {
    ws();
    if (text[i] !== '"') fail();
    string();
    ws();
    if (text[i] !== ":") fail();
    i++;
  };
  // The objects and arrays open around the current value, innermost last.
  const open: ("{" | "[")[] = [];
  try {
    for (;;) {
      // A value starts here: a container opens (and its first member or element follows), or a scalar is read whole.
      ws();
      const c = text[i];
      if (c === "{" || c === "[") {
        i++;
        ws();
        if (text[i] !== (c === "{" ? "}" : "]")) {
          open.push(c);
          if (c === "{") key();
          continue;
        }
        i++; // empty
      } else if (c === '"') string();
      else if (c === "t") literal("true");
      else if (c === "f") literal("false");
      else if (c === "n") literal("null");
      else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) number();
      else fail();
      // A value ended: close what ends here, then the next member or element, or the end of the text.
      for (;;) {
        ws();
        const container = open.at(-1);
        if (container === undefined) return i < text.length ? i : null;
        if (text[i] === ",") {
          i++;
          if (container === "{") key();
          break;
        }
        if (text[i] !== (container === "{" ? "}" : "]")) fail();
        i++;
        open.pop();
      }
    }
  } catch (at) {
    return at as number;
  }
}

/** 1-based line and column of `position` in `text`, as an editor shows them. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  return { line: before.split("\n").length, column: position - before.lastIndexOf("\n") };
}

/**
 * Why a hook's output is refused for nesting deeper than `limit` levels (objects and arrays, outside
 * strings), pointing at the first bracket past it; null when it is within the limit. Scanned
 * without parsing or recursion, so it holds for any depth and for text that is not valid JSON.
 */
export function outputDepthRefusal(text: string, limit = MAX_OUTPUT_JSON_DEPTH): string | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "{" || c === "[") {
      if (++depth > limit) {
        const { line, column } = lineAndColumn(text, i);
        return `the output file nests objects and arrays more than ${limit} levels deep (level ${limit + 1} opens at line ${line}, column ${column}, position ${i}); a hook's answer may nest at most ${limit} levels`;
      }
    } else if (c === "}" || c === "]") depth--;
  }
  return null;
}
