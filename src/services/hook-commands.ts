import { badInput } from "../domain/errors.js";
import { hookPointInfo, type HookPoint } from "../domain/hook-points.js";
import { OS_NAMES } from "../domain/os.js";
import { HookCommands } from "../entities/hook-commands.embedded.js";
import { CommandLineError, validateCommandLine, type CommandToken } from "../executor/command-line.js";

export type CommandsInput = Partial<Record<(typeof OS_NAMES)[number], string | null>>;

export function allowedTokens(hook: HookPoint): CommandToken[] {
  return hookPointInfo(hook).hasOutput ? ["PATH_JSON_INPUT", "PATH_JSON_OUTPUT"] : ["PATH_JSON_INPUT"];
}

/**
 * Applies a commands input over the current commands: an OS left out stays as it is, null removes
 * that OS's line. Each line is parsed as it will be at run time, so a config that cannot run is
 * refused when saved, with the field, the rule and the column.
 */
export function applyCommands(field: string, hook: HookPoint, input: CommandsInput, current: HookCommands = new HookCommands()): HookCommands {
  const next = Object.assign(new HookCommands(), current);
  const allowed = allowedTokens(hook);
  for (const os of OS_NAMES) {
    const line = input[os];
    if (line === undefined) continue;
    if (line === null) {
      next[os] = null;
      continue;
    }
    const osField = `${field}.${os}`;
    try {
      validateCommandLine(line, os, allowed);
    } catch (err) {
      if (!(err instanceof CommandLineError)) throw err;
      if (err.rule === "empty") throw badInput(osField, "the command line is empty; give a command, or null to remove this OS's command");
      throw badInput(osField, err.message);
    }
    next[os] = line.trim();
  }
  return next;
}
