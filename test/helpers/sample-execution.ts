import { HookSource } from "../../src/domain/effective-hooks.js";
import { HookPoint } from "../../src/domain/hook-points.js";
import { Execution, ExecutionStatus } from "../../src/entities/execution.entity.js";

/** A QUEUED execution with every column set, and an input full of shell metacharacters. */
export const sampleExecution = (): Execution =>
  Object.assign(new Execution(), {
    hook: HookPoint.POST_DONE_SERVER,
    source: HookSource.WORKSPACE,
    mode: null,
    configId: "POST_DONE_SERVER",
    queue: "default",
    command: "/opt/hooks/x.py ${PATH_JSON_INPUT}",
    argv: ["/opt/hooks/x.py", "/tmp/a b/input.json"],
    os: "linux",
    executionServerId: null,
    jobId: null,
    publishId: null,
    input: { name: "shot ; rm -rf ~ $(x) `y` 'q' \"d\"\nnew line", nested: { n: 1.5, ok: true, list: [1, "two", null] }, unicode: "é漢🎬" },
    output: null,
    status: ExecutionStatus.QUEUED,
    exitCode: null,
    signal: null,
    error: null,
    waitingFor: null,
    skipReason: null,
    timeoutSeconds: 30,
    attempt: 1,
    retryOfId: null,
    triggeredById: null,
    pid: null,
    logLineCount: 0,
    droppedBytes: 0,
    createdAt: new Date("2026-11-25T06:00:00.123Z"),
    startedAt: null,
    finishedAt: null,
  });
