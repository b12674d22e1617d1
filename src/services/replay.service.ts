import { In } from "typeorm";
import { badInput } from "../domain/errors.js";
import { HookSource, SkipReason } from "../domain/effective-hooks.js";
import { hookPointInfo, type HookPoint } from "../domain/hook-points.js";
import type { ExecutionServer } from "../entities/execution-server.entity.js";
import { Execution, ExecutionStatus, FINISHED_STATUSES } from "../entities/execution.entity.js";
import type { JsonObject } from "../entities/metadata.embedded.js";
import type { User } from "../entities/user.entity.js";
import type { Store } from "../store/store.js";
import type { ExecutionService, ReplayRun } from "./execution.service.js";
import { applyCommands, type CommandsInput } from "./hook-commands.js";
import type { HookConfigService } from "./hook-config.service.js";
import { AnswerError, checkAnswer } from "./publish-answer.js";
import { assertTimeout } from "./validation.js";

/** At most this many past executions per replay: each one runs the candidate for real. */
export const MAX_REPLAYS = 200;

export interface ReplayFilter {
  hook: HookPoint;
  ids?: string[] | null;
  status?: ExecutionStatus | null;
  since?: Date | null;
  until?: Date | null;
  limit?: number | null;
}

export interface ReplayCandidate {
  commands: CommandsInput;
  timeoutSeconds?: number | null;
}

/** The pre-publish verdict fields a replay compares, entry by entry. */
export const VERDICT_FIELDS = ["can_publish", "rejected", "path", "warning"] as const;

export interface VerdictChange {
  id: string;
  filename: string | null;
  field: string;
  before: unknown;
  after: unknown;
}

export interface ReplayEntry {
  original: Execution;
  replay: Execution;
  statusChanged: boolean;
  verdictChanges: VerdictChange[];
  /** The candidate's pre-publish answer breaks the rules a real publish checks: the publish would have failed. */
  answerProblem: string | null;
}

export interface ReplayReport {
  hook: HookPoint;
  entries: ReplayEntry[];
}

/**
 * Replays real past inputs against a candidate configuration (issue 37), so a TD knows before
 * switching which deliveries a new rule would have refused.
 */
export class ReplayService {
  constructor(
    private readonly store: Store,
    private readonly hookConfigs: HookConfigService,
    private readonly executions: ExecutionService,
  ) {}

  async replay(filter: ReplayFilter, candidate: ReplayCandidate, actor: User): Promise<ReplayReport> {
    const limit = filter.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REPLAYS) throw badInput("filter.limit", `must be a whole number from 1 to ${MAX_REPLAYS} (got ${limit})`);
    if (filter.ids && filter.ids.length > MAX_REPLAYS) throw badInput("filter.ids", `at most ${MAX_REPLAYS} executions per replay (got ${filter.ids.length})`);
    assertTimeout("candidate.timeoutSeconds", candidate.timeoutSeconds);
    const commands = applyCommands("candidate.commands", filter.hook, candidate.commands);
    const timeoutSeconds = candidate.timeoutSeconds ?? hookPointInfo(filter.hook).defaultTimeoutSeconds;

    const originals = await this.select(filter, limit);
    const runs: ReplayRun[] = [];
    for (const of of originals) {
      const { server, env, skip } = await this.whereItRuns(of);
      const command = server ? commands[server.os] : null;
      runs.push({
        of,
        server,
        commands,
        timeoutSeconds,
        env,
        skip: skip ?? (server && command === null ? { reason: SkipReason.NO_COMMAND_FOR_OS, message: `the candidate has no command line for ${server.os} (the OS of '${server.name}')` } : null),
      });
    }
    const replays = await this.executions.replay(runs, actor);
    return {
      hook: filter.hook,
      entries: originals.map((original, i) => {
        const replay = replays[i];
        const compared = hookPointInfo(filter.hook).hasOutput ? compareAnswers(original, replay) : { verdictChanges: [], answerProblem: null };
        return { original, replay, statusChanged: original.status !== replay.status || original.exitCode !== replay.exitCode, ...compared };
      }),
    };
  }

  /** Past executions of the hook point, newest first; never replays themselves, never runs that did not run. */
  private async select(filter: ReplayFilter, limit: number): Promise<Execution[]> {
    const qb = this.store.manager
      .createQueryBuilder(Execution, "e")
      .where("e.hook = :hook", { hook: filter.hook })
      .andWhere("e.source != :replay", { replay: HookSource.REPLAY })
      .orderBy("e.createdAt", "DESC")
      .take(limit);
    const done: ExecutionStatus[] = FINISHED_STATUSES.filter((s) => s !== ExecutionStatus.SKIPPED);
    if (filter.status) {
      if (!done.includes(filter.status)) throw badInput("filter.status", `must be a finished status that ran: ${done.join(", ")} (got ${filter.status})`);
      qb.andWhere("e.status = :status", { status: filter.status });
    } else qb.andWhere("e.status IN (:...done)", { done });
    if (filter.since) qb.andWhere("e.createdAt >= :since", { since: filter.since });
    if (filter.until) qb.andWhere("e.createdAt < :until", { until: filter.until });
    if (filter.ids?.length) {
      const ids = filter.ids;
      qb.andWhere("e.id IN (:...ids)", { ids });
      const found = await this.store.manager.find(Execution, { where: { id: In(ids) }, select: { id: true, hook: true, source: true } });
      ids.forEach((id, i) => {
        const e = found.find((x) => x.id === id);
        if (!e) throw badInput(`filter.ids[${i}]`, `no execution has id '${id}'`);
        if (e.hook !== filter.hook) throw badInput(`filter.ids[${i}]`, `execution ${id} ran ${e.hook}, not ${filter.hook}; a candidate is for one hook point`);
        if (e.source === HookSource.REPLAY) throw badInput(`filter.ids[${i}]`, `execution ${id} is itself a replay; replay the execution it replayed`);
      });
    }
    const rows = await qb.getMany();
    if (rows.length === 0) throw badInput("filter", `no finished execution of ${filter.hook} matches: nothing to replay`);
    return rows;
  }

  /** Where the hook point runs now: its server (or the workspace default), or the same client for *_CLIENT hooks. */
  private async whereItRuns(of: Execution): Promise<{ server: ExecutionServer | null; env: string[]; skip: ReplayRun["skip"] }> {
    const client = hookPointInfo(of.hook).client;
    try {
      const [workspace] = await this.hookConfigs
        .effective(of.queue, of.hook, client ? of.executionServerId : null)
        .catch(() => this.hookConfigs.effective(null, of.hook, client ? of.executionServerId : null));
      if (workspace?.executionServer) return { server: workspace.executionServer, env: [...workspace.policy.env], skip: null };
    } catch {
      // The client it ran on is gone: fall through.
    }
    return {
      server: null,
      env: [],
      skip: { reason: SkipReason.NO_EXECUTION_SERVER, message: client ? "the client this ran on no longer exists" : "no execution server: set a default execution server in the settings" },
    };
  }
}

/** Per entry id: the verdict fields whose value differs between the stored answer and the candidate's. */
function compareAnswers(original: Execution, replay: Execution): { verdictChanges: VerdictChange[]; answerProblem: string | null } {
  const files = (answer: JsonObject | null) => new Map(((Array.isArray(answer?.files) ? answer.files : []) as JsonObject[]).filter((f) => f && typeof f === "object").map((f) => [String(f.id), f]));
  const before = files(original.output);
  const after = files(replay.output);
  const sent = (Array.isArray(original.input.files) ? original.input.files : []) as JsonObject[];
  const changes: VerdictChange[] = [];
  const ids = [...sent.map((f) => String(f.id)), ...[...before.keys(), ...after.keys()].filter((id) => !sent.some((f) => String(f.id) === id))];
  for (const id of [...new Set(ids)]) {
    const a = before.get(id);
    const b = after.get(id);
    const filename = (sent.find((f) => String(f.id) === id)?.filename as string | undefined) ?? null;
    for (const field of VERDICT_FIELDS) {
      const x = a?.[field] ?? null;
      const y = b?.[field] ?? null;
      if (JSON.stringify(x) !== JSON.stringify(y)) changes.push({ id, filename, field, before: x, after: y });
    }
  }
  let answerProblem: string | null = null;
  if (replay.status === ExecutionStatus.SUCCEEDED) {
    try {
      checkAnswer(replay.output ?? {}, sent);
    } catch (err) {
      if (!(err instanceof AnswerError)) throw err;
      answerProblem = err.message;
    }
  }
  return { verdictChanges: changes, answerProblem };
}
