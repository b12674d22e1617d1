import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { FINISHED } from "../api.js";
import { LogView } from "../log-view.js";
import { useQuery, useSession } from "../session.js";
import { ErrorBox, ExecutionLink, Field, JsonBlock, StatusBadge, Time, formatBytes, formatDuration } from "../ui.js";
import { parseCommandLine } from "../../../src/executor/command-line.js";

interface Execution {
  id: string;
  hook: string;
  scriptName: string;
  source: string;
  mode: string | null;
  queue: string | null;
  command: string | null;
  argv: string[] | null;
  os: string | null;
  jobId: string | null;
  publishId: string | null;
  input: Record<string, unknown>;
  output: Record<string, unknown> | null;
  status: string;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  waitingFor: string | null;
  skipReason: string | null;
  timeoutSeconds: number;
  attempt: number;
  logLineCount: number;
  droppedBytes: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  runner: string | null;
  executionServer: { name: string; hostname: string; os: string; kind: string; agents: { id: string; name: string; hostname: string | null }[] } | null;
  retryOf: { id: string; attempt: number; status: string } | null;
  triggeredBy: { email: string } | null;
}

const EXECUTION_QUERY = `query($id: ID!) { execution(id: $id) {
  id hook scriptName source mode queue command argv os jobId publishId input output status exitCode signal error waitingFor skipReason
  timeoutSeconds attempt logLineCount droppedBytes createdAt startedAt finishedAt durationMs
  runner executionServer { name hostname os kind agents { id name hostname } } retryOf { id attempt status } triggeredBy { email }
} }`;

/** The agent that held the run, from its runner ('agent:<agent id>'); null for hookd's own runner. */
function agentOf(e: Execution) {
  const id = e.runner?.startsWith("agent:") ? e.runner.slice("agent:".length) : null;
  if (!id) return null;
  return e.executionServer?.agents.find((a) => a.id === id) ?? { id, name: null, hostname: null };
}

/** Where it ran: the execution server, and the host that ran it (the agent's, for an agent run). */
function RanOn({ execution: e }: { execution: Execution }) {
  const server = e.executionServer!;
  const agent = agentOf(e);
  const host = agent ? (agent.hostname ?? "an agent no longer known") : server.hostname;
  return (
    <span data-ran-on>
      {server.name} <span className="muted">({server.kind.toLowerCase()})</span> on host <strong>{host}</strong>
      {agent ? ` by agent ${agent.name ?? agent.id}` : " by hookd"}
      {e.os ? <span className="muted"> · {e.os}</span> : null}
    </span>
  );
}

/**
 * An agent reports no argv: the command line split by the very rules the agent applies, the
 * tokens left as written (the agent put its own temp paths there).
 */
function agentArgv(e: Execution): string[] | null {
  if (!e.command || !agentOf(e) || (e.os !== "linux" && e.os !== "mac" && e.os !== "windows")) return null;
  try {
    return parseCommandLine(e.command, e.os).argv;
  } catch {
    return null;
  }
}

export function ExecutionPage({ id }: { id: string }) {
  const { api, me } = useSession();
  const [, navigate] = useLocation();
  const { data, error, reload } = useQuery<{ execution: Execution }>(EXECUTION_QUERY, { id });
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const e = data?.execution;

  // Status changes (queued → running → outcome) refresh the page's facts. A change made between
  // the first read and the subscription's start is not sent again: a slow re-read covers it.
  useEffect(() => {
    if (!e || FINISHED.has(e.status)) return;
    const stop = api.subscribe<{ executionUpdated: { id: string } }>(
      "subscription($filter: ExecutionUpdatedFilter) { executionUpdated(filter: $filter) { id status } }",
      { filter: { hook: e.hook } },
      { next: (d) => d.executionUpdated.id === id && reload() },
    );
    const reread = setInterval(reload, 2000);
    return () => {
      stop();
      clearInterval(reread);
    };
  }, [api, id, e?.hook, e ? FINISHED.has(e.status) : false]);

  const act = async (what: "retry" | "cancel") => {
    setBusy(true);
    setActionError(null);
    try {
      if (what === "cancel") {
        await api.query("mutation($id: ID!) { cancelExecution(id: $id) { id status } }", { id });
        reload();
      } else {
        const r = await api.query<{ retryExecution: { id: string } }>("mutation($id: ID!) { retryExecution(id: $id) { id } }", { id });
        navigate(`/executions/${r.retryExecution.id}`);
      }
    } catch (err) {
      setActionError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (error) return <ErrorBox error={error} />;
  if (!e) return <p className="loading">Loading…</p>;
  const running = e.status === "QUEUED" || e.status === "RUNNING";
  const argv = e.argv ?? agentArgv(e);
  return (
    <section className="execution">
      <p className="crumbs">
        <Link href="/executions">Executions</Link> / {e.id}
      </p>
      <h1>
        <StatusBadge status={e.status} /> {e.hook} <span className="muted">({e.scriptName})</span>
      </h1>
      {me.admin && (
        <div className="actions">
          {running && (
            <button type="button" className="danger" onClick={() => void act("cancel")} disabled={busy}>
              Cancel
            </button>
          )}
          {!running && (
            <button type="button" onClick={() => void act("retry")} disabled={busy}>
              Retry
            </button>
          )}
        </div>
      )}
      <ErrorBox error={actionError} />
      <div className="facts">
        <dl>
          <Field label="Status">
            <StatusBadge status={e.status} />
            {e.skipReason && <span className="muted"> {e.skipReason}</span>}
          </Field>
          {e.error && <Field label="Error">{<span className="error-text">{e.error}</span>}</Field>}
          <Field label="Exit">{e.exitCode !== null ? `code ${e.exitCode}` : e.signal ? `signal ${e.signal}` : "—"}</Field>
          <Field label="Ran on">{e.executionServer ? <RanOn execution={e} /> : e.waitingFor ? `waiting for ${e.waitingFor}` : "—"}</Field>
          <Field label="Queue">{e.queue ?? "—"}</Field>
          <Field label="Source">{e.mode ? `${e.source} (${e.mode})` : e.source}</Field>
          <Field label="Triggered by">{e.triggeredBy?.email ?? "—"}</Field>
          {e.jobId && (
            <Field label="Job">
              <Link href={`/jobs/${e.jobId}`}>{e.jobId}</Link>
            </Field>
          )}
          {e.publishId && (
            <Field label="Publish">
              <Link href={`/publishes/${e.publishId}`}>{e.publishId}</Link>
            </Field>
          )}
        </dl>
        <dl>
          <Field label="Created">
            <Time at={e.createdAt} />
          </Field>
          <Field label="Started">
            <Time at={e.startedAt} />
          </Field>
          <Field label="Finished">
            <Time at={e.finishedAt} />
          </Field>
          <Field label="Duration">{formatDuration(e.durationMs)}</Field>
          <Field label="Timeout">{e.timeoutSeconds} s</Field>
          <Field label="Attempt">
            {e.attempt}
            {e.retryOf && (
              <>
                {" "}
                — retry of <ExecutionLink id={e.retryOf.id}>attempt {e.retryOf.attempt}</ExecutionLink> (<StatusBadge status={e.retryOf.status} />)
              </>
            )}
          </Field>
          <Field label="Log">
            {running ? "arriving below" : `${e.logLineCount} lines stored`}
            {e.droppedBytes > 0 ? <span title={`${e.droppedBytes.toLocaleString("en")} bytes`}>, {formatBytes(e.droppedBytes)} dropped at the log cap</span> : ""}
          </Field>
        </dl>
      </div>
      {e.command && (
        <div className="command">
          <h2>Command</h2>
          <pre>{e.command}</pre>
          {argv && (
            <>
              <h3>argv</h3>
              {!e.argv && <p className="muted">Split from the command line as the agent splits it; the agent put its own temp files' paths in place of the tokens.</p>}
              <ol className="argv">
                {argv.map((a, i) => (
                  <li key={i}>
                    <code>{a}</code>
                  </li>
                ))}
              </ol>
            </>
          )}
        </div>
      )}
      <JsonBlock label="Input" value={e.input} open={false} />
      {e.output && <JsonBlock label="Output" value={e.output} open={false} />}
      <LogView api={api} executionId={e.id} onFinished={reload} />
    </section>
  );
}
