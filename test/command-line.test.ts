import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildArgv, CommandLineError, parseCommandLine, validateCommandLine, type CommandLineRule, type CommandOs } from "../src/executor/command-line.js";

const argv = (line: string, os: CommandOs = "linux") => parseCommandLine(line, os).argv;

function refuses(fn: () => unknown, rule: CommandLineRule, message: RegExp, column?: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CommandLineError, `expected a CommandLineError, got ${String(err)}`);
    assert.equal(err.rule, rule);
    assert.match(err.message, message);
    if (column !== undefined) assert.equal(err.column, column);
    return true;
  });
}

describe("POSIX splitting (linux, mac)", () => {
  test("words split on blanks; runs of blanks, tabs and newlines are one separator", () => {
    assert.deepEqual(argv("  /usr/bin/python3   /opt/x.py\t--flag \n last "), ["/usr/bin/python3", "/opt/x.py", "--flag", "last"]);
  });

  test("single quotes keep everything literal", () => {
    assert.deepEqual(argv(`/bin/echo 'a b' '$HOME \\n "x"'`), ["/bin/echo", "a b", `$HOME \\n "x"`]);
  });

  test('double quotes group; backslash escapes only " \\ $ ` inside them', () => {
    assert.deepEqual(argv(`/bin/echo "a b" "say \\"hi\\"" "back\\\\slash" "keep \\n and \\d"`), ["/bin/echo", "a b", `say "hi"`, "back\\slash", "keep \\n and \\d"]);
    assert.deepEqual(argv(`x "\\$HOME" "\\\`cmd\\\`"`), ["x", "$HOME", "`cmd`"]);
  });

  test("adjacent quoted and unquoted pieces join into one word", () => {
    assert.deepEqual(argv(`x a"b c"'d e'f`), ["x", "ab cd ef"]);
  });

  test("an empty quoted argument is kept", () => {
    assert.deepEqual(argv(`x "" ''`), ["x", "", ""]);
  });

  test("backslash outside quotes escapes the next character; backslash-newline continues the line", () => {
    assert.deepEqual(argv("/opt/my\\ hook.sh a\\\nb \\'q"), ["/opt/my hook.sh", "ab", "'q"]);
  });

  test("a lone trailing backslash stays literal", () => {
    assert.deepEqual(argv("x end\\"), ["x", "end\\"]);
  });

  test("nothing is expanded: $VAR, ~, globs, ; | && and backticks are plain characters", () => {
    assert.deepEqual(argv("/bin/echo $HOME ~ *.py ; rm -rf / | cat && `id`"), ["/bin/echo", "$HOME", "~", "*.py", ";", "rm", "-rf", "/", "|", "cat", "&&", "`id`"]);
  });

  test("unbalanced quotes are refused with the column of the opening quote", () => {
    refuses(() => argv(`/opt/x.sh "unclosed`), "unbalanced-quote", /unbalanced double quote starting at column 11/, 11);
    refuses(() => argv(`/opt/x.sh 'unclosed`), "unbalanced-quote", /unbalanced single quote starting at column 11/, 11);
    refuses(() => argv(`x "a \\" b`), "unbalanced-quote", /double quote starting at column 3/);
  });

  test("the same line on mac splits the same way", () => {
    assert.deepEqual(argv(`"/Applications/My Tools/hook" --in=x`, "mac"), ["/Applications/My Tools/hook", "--in=x"]);
  });
});

describe("Windows splitting (Microsoft C runtime rules)", () => {
  const w = (line: string) => argv(line, "windows");

  test("a quoted program path with spaces and unquoted backslash paths keep their backslashes", () => {
    assert.deepEqual(w(`"C:\\Program Files\\Python311\\python.exe" C:\\hooks\\pre_publish.py --x`), ["C:\\Program Files\\Python311\\python.exe", "C:\\hooks\\pre_publish.py", "--x"]);
  });

  test("UNC paths", () => {
    assert.deepEqual(w(`\\\\server\\share\\hooks\\x.py "\\\\nas01\\my share\\y.py"`), ["\\\\server\\share\\hooks\\x.py", "\\\\nas01\\my share\\y.py"]);
  });

  test("2n backslashes before a quote: n backslashes, and the quote toggles", () => {
    assert.deepEqual(w(`x "C:\\dir\\\\" next`), ["x", "C:\\dir\\", "next"]);
  });

  test("2n+1 backslashes before a quote: n backslashes and a literal quote", () => {
    assert.deepEqual(w(`x a\\"b "c\\\\\\"d"`), ["x", `a"b`, `c\\"d`]);
  });

  test('"" inside a quoted section is a literal quote', () => {
    assert.deepEqual(w(`x "say ""hi"" now"`), ["x", `say "hi" now`]);
  });

  test("single quotes and %VAR% are ordinary characters", () => {
    assert.deepEqual(w(`x 'a b' %PATH%`), ["x", "'a", "b'", "%PATH%"]);
  });

  test("an unclosed quote is refused (stricter than Windows, to catch typos when saved)", () => {
    refuses(() => w(`"C:\\Program Files\\x.exe`), "unbalanced-quote", /unbalanced double quote starting at column 1/, 1);
  });
});

describe("tokens", () => {
  test("known tokens are found anywhere, in first-use order, once each", () => {
    const parsed = parseCommandLine(`/opt/x.py --out=\${PATH_JSON_OUTPUT} "\${PATH_JSON_INPUT}" '\${PATH_JSON_OUTPUT}'`, "linux");
    assert.deepEqual(parsed.tokens, ["PATH_JSON_OUTPUT", "PATH_JSON_INPUT"]);
    assert.deepEqual(parsed.argv, ["/opt/x.py", "--out=${PATH_JSON_OUTPUT}", "${PATH_JSON_INPUT}", "${PATH_JSON_OUTPUT}"]);
  });

  test("an unknown token is refused with its column and the known ones", () => {
    refuses(() => argv("/opt/x.sh ${HOME}"), "unknown-token", /unknown token \$\{HOME\} at column 11; known tokens: \$\{PATH_JSON_INPUT\}, \$\{PATH_JSON_OUTPUT\}/, 11);
    refuses(() => argv("/opt/x.sh ${path_json_input}"), "unknown-token", /\$\{path_json_input\}/);
    refuses(() => argv("/opt/x.sh ${}"), "unknown-token", /\$\{\}/);
  });

  test("an unterminated ${ is refused", () => {
    refuses(() => argv("/opt/x.sh ${PATH_JSON_INPUT"), "unterminated-token", /'\$\{' at column 11 has no closing '\}'/, 11);
  });

  test("a token not allowed for the hook is refused, naming it", () => {
    refuses(
      () => validateCommandLine("/opt/x.sh ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}", "linux", ["PATH_JSON_INPUT"]),
      "token-not-allowed",
      /\$\{PATH_JSON_OUTPUT\} is not allowed here \(allowed: \$\{PATH_JSON_INPUT\}\)/,
      30,
    );
    assert.deepEqual(validateCommandLine("/opt/x.sh ${PATH_JSON_INPUT}", "linux", ["PATH_JSON_INPUT"]).tokens, ["PATH_JSON_INPUT"]);
  });
});

describe("substitution", () => {
  const hostile = [`/tmp/with space/input.json`, `$(rm -rf ~)`, `a; touch /tmp/pwned`, "`id`", `quote " and ' both`, "new\nline"];

  test("values replace whole and partial words and are never split or interpreted", () => {
    for (const value of hostile) {
      assert.deepEqual(buildArgv(`/opt/x.py \${PATH_JSON_INPUT} --in=\${PATH_JSON_INPUT}`, "linux", { PATH_JSON_INPUT: value }), ["/opt/x.py", value, `--in=${value}`]);
      assert.deepEqual(buildArgv(`C:\\hooks\\x.exe "\${PATH_JSON_INPUT}"`, "windows", { PATH_JSON_INPUT: value }), ["C:\\hooks\\x.exe", value]);
    }
  });

  test("a token inside single quotes is substituted too (the original product replaced text)", () => {
    assert.deepEqual(buildArgv(`x '\${PATH_JSON_INPUT}'`, "linux", { PATH_JSON_INPUT: "/tmp/a b" }), ["x", "/tmp/a b"]);
  });

  test("both tokens for pre-publish", () => {
    assert.deepEqual(buildArgv("x ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}", "mac", { PATH_JSON_INPUT: "/i", PATH_JSON_OUTPUT: "/o" }), ["x", "/i", "/o"]);
  });

  test("a used token without a value is refused", () => {
    refuses(() => buildArgv("x ${PATH_JSON_OUTPUT}", "linux", { PATH_JSON_INPUT: "/i" }), "missing-token-value", /\$\{PATH_JSON_OUTPUT\} is used but has no value/);
  });
});

describe("empty and invalid lines", () => {
  test("an empty or blank line is refused", () => {
    for (const line of ["", "   ", "\t\n"]) refuses(() => argv(line), "empty", /the command line is empty/);
  });

  test("an empty program is refused", () => {
    refuses(() => argv(`"" x`), "empty", /the program \(first word\) is empty/);
  });

  test("a NUL character is refused with its column", () => {
    refuses(() => argv("x a\0b"), "nul-byte", /NUL character at column 4/, 4);
  });
});
