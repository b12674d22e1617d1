// Splits an administrator's hook command line into an argv the way a shell splits words and
// quotes, without running a shell, and substitutes hookd's tokens inside the words. Nothing else
// is expanded: `$HOME`, `%PATH%`, `~`, globs, `;`, `|` and backticks stay literal characters.
// Pure: no I/O, so it runs the same when a configuration is saved and when a hook starts.

export type CommandOs = "linux" | "mac" | "windows";
export type CommandToken = "PATH_JSON_INPUT" | "PATH_JSON_OUTPUT";
export const COMMAND_TOKENS: readonly CommandToken[] = ["PATH_JSON_INPUT", "PATH_JSON_OUTPUT"];

export type CommandLineRule = "empty" | "unbalanced-quote" | "unknown-token" | "unterminated-token" | "token-not-allowed" | "missing-token-value" | "nul-byte";

export class CommandLineError extends Error {
  constructor(
    readonly rule: CommandLineRule,
    message: string,
    /** 1-based column in the original line, when the problem has a place. */
    readonly column?: number,
  ) {
    super(message);
    this.name = "CommandLineError";
  }
}

export interface ParsedCommand {
  /** Words with the literal token text still in them. */
  argv: string[];
  /** Distinct tokens used, in first-use order. */
  tokens: CommandToken[];
}

const tokenText = (t: CommandToken) => "${" + t + "}";
const KNOWN = COMMAND_TOKENS.map(tokenText).join(", ");

function scanTokens(line: string): CommandToken[] {
  const found: CommandToken[] = [];
  let from = 0;
  for (;;) {
    const start = line.indexOf("${", from);
    if (start < 0) return found;
    const end = line.indexOf("}", start + 2);
    if (end < 0) throw new CommandLineError("unterminated-token", `'\${' at column ${start + 1} has no closing '}'; known tokens: ${KNOWN}`, start + 1);
    const name = line.slice(start + 2, end);
    if (!(COMMAND_TOKENS as readonly string[]).includes(name)) {
      throw new CommandLineError("unknown-token", `unknown token \${${name}} at column ${start + 1}; known tokens: ${KNOWN}`, start + 1);
    }
    if (!found.includes(name as CommandToken)) found.push(name as CommandToken);
    from = end + 1;
  }
}

/** POSIX shell word splitting: quotes, backslash escapes, no expansion. */
function splitPosix(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (c === "\\") {
      inWord = true;
      if (i + 1 >= line.length)
        word += "\\"; // a lone trailing backslash stays literal
      else if (line[i + 1] === "\n")
        i++; // line continuation
      else word += line[++i];
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new CommandLineError("unbalanced-quote", `unbalanced single quote starting at column ${i + 1}`, i + 1);
      word += line.slice(i + 1, close);
      inWord = true;
      i = close;
    } else if (c === '"') {
      const open = i;
      inWord = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new CommandLineError("unbalanced-quote", `unbalanced double quote starting at column ${open + 1}`, open + 1);
        const d = line[i];
        if (d === '"') break;
        if (d === "\\" && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) {
          if (line[i + 1] !== "\n") word += line[i + 1];
          i++;
        } else {
          word += d;
        }
      }
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Microsoft C runtime (CommandLineToArgvW) rules: backslashes are literal unless before a quote. */
function splitWindows(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quoted = false;
  let quoteStart = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\") {
      let n = 0;
      while (line[i + n] === "\\") n++;
      inWord = true;
      if (line[i + n] === '"') {
        word += "\\".repeat(Math.floor(n / 2));
        if (n % 2 === 1) {
          word += '"';
          i += n; // past the escaped quote
        } else {
          i += n - 1; // the quote is handled next round
        }
      } else {
        word += "\\".repeat(n);
        i += n - 1;
      }
    } else if (c === '"') {
      inWord = true;
      if (quoted && line[i + 1] === '"') {
        word += '"'; // "" inside quotes is a literal quote
        i++;
      } else {
        quoted = !quoted;
        if (quoted) quoteStart = i;
      }
    } else if ((c === " " || c === "\t") && !quoted) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  // Windows would accept an unclosed quote; a config typo is better caught when it is saved.
  if (quoted) throw new CommandLineError("unbalanced-quote", `unbalanced double quote starting at column ${quoteStart + 1}`, quoteStart + 1);
  if (inWord) words.push(word);
  return words;
}

export function parseCommandLine(line: string, os: CommandOs): ParsedCommand {
  const nul = line.indexOf("\0");
  if (nul >= 0) throw new CommandLineError("nul-byte", `NUL character at column ${nul + 1}`, nul + 1);
  const tokens = scanTokens(line);
  const argv = os === "windows" ? splitWindows(line) : splitPosix(line);
  if (argv.length === 0 || argv[0] === "") throw new CommandLineError("empty", argv.length === 0 ? "the command line is empty" : "the program (first word) is empty");
  return { argv, tokens };
}

export function validateCommandLine(line: string, os: CommandOs, allowed: readonly CommandToken[]): ParsedCommand {
  const parsed = parseCommandLine(line, os);
  const refused = parsed.tokens.find((t) => !allowed.includes(t));
  if (refused) {
    throw new CommandLineError("token-not-allowed", `${tokenText(refused)} is not allowed here (allowed: ${allowed.map(tokenText).join(", ") || "none"})`, line.indexOf(tokenText(refused)) + 1);
  }
  return parsed;
}

/**
 * The argv to execute: tokens replaced by their values inside each word. Values are inserted after
 * splitting, so a path with spaces, quotes or `$(...)` stays one argument, verbatim.
 */
export function buildArgv(line: string, os: CommandOs, values: Partial<Record<CommandToken, string>>): string[] {
  const { argv, tokens } = parseCommandLine(line, os);
  const missing = tokens.find((t) => values[t] === undefined);
  if (missing) throw new CommandLineError("missing-token-value", `${tokenText(missing)} is used but has no value for this hook`);
  return argv.map((word) => word.replace(/\$\{(PATH_JSON_INPUT|PATH_JSON_OUTPUT)\}/g, (_m, name: CommandToken) => values[name]!));
}
