import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { FINISHED } from "../api.js";
import { LogView } from "../log-view.js";
import { useQuery, useSession } from "../session.js";
import { ErrorBox, ExecutionLink, Field, JsonBlock, StatusBadge, Time, formatDuration } from "../ui.js";

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
  executionServer: { name: string; hostname: string; kind: string } | null;
  retryOf: { id: string; attempt: number; status: string } | null;
  triggeredBy: { email: string } | null;
}

const EXECUTION_QUERY = `query($id: ID!) { execution(id: $id) {
  id hook scriptName source mode queue command argv os jobId publishId input output status exitCode signal error waitingFor skipReason
  timeoutSeconds attempt logLineCount droppedBytes createdAt startedAt finishedAt durationMs
  executionServer { name hostname kind } retryOf { id attempt status } triggeredBy { email }
} }`;

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
          <Field label="Ran on">
            {e.executionServer ? `${e.executionServer.name} (${e.executionServer.hostname}, ${e.executionServer.kind.toLowerCase()})` : e.waitingFor ? `waiting for ${e.waitingFor}` : "—"}
          </Field>
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
            {e.droppedBytes > 0 ? `, ${e.droppedBytes} bytes dropped at the log cap` : ""}
          </Field>
        </dl>
      </div>
      {e.command && (
        <div className="command">
          <h2>Command</h2>
          <pre>{e.command}</pre>
          {e.argv && (
            <>
              <h3>argv</h3>
              <ol className="argv">
                {e.argv.map((a, i) => (
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
