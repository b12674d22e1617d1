import { useEffect, useState } from "react";
import DOMPurify from "dompurify";
import { Link, useLocation } from "wouter";
import { useQuery, useSession } from "../session.js";
import { Control, ErrorBox, Field, JsonBlock, StatusBadge, Time } from "../ui.js";
import { ExecutionsTable, ROW_FIELDS, type ExecutionRow } from "./executions.js";

const JOB_STATUSES = ["SUBMITTED", "RUNNING", "DONE", "FAILED"];

interface JobRow {
  id: string;
  code: string;
  name: string;
  status: string;
  sourceHr: string;
  destinationHr: string;
  size: number;
  failCount: number;
  createdAt: string;
  queue: { code: string };
  user: { email: string } | null;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function OpenPublish() {
  const [, navigate] = useLocation();
  const [id, setId] = useState("");
  return (
    <form
      className="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim()) navigate(`/publishes/${id.trim()}`);
      }}
    >
      <Control label="Publish id">
        <input value={id} onChange={(e) => setId(e.target.value)} placeholder="the id prePublish returned" size={38} />
      </Control>
      <button type="submit" disabled={!id.trim()}>
        Open publish
      </button>
    </form>
  );
}

export function JobsPage() {
  const { api, me } = useSession();
  const [status, setStatus] = useState("");
  const [queue, setQueue] = useState("");
  const [rows, setRows] = useState<JobRow[]>([]);
  const [pageInfo, setPageInfo] = useState<{ hasNextPage: boolean; endCursor: string | null }>({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState<string | null>(null);
  const queues = useQuery<{ queues: { code: string }[] }>("{ queues { code } }");

  const load = async (after: string | null) => {
    try {
      const data = await api.query<{ jobs: { nodes: JobRow[]; pageInfo: typeof pageInfo } }>(
        "query($filter: JobFilterInput, $after: String) { jobs(filter: $filter, after: $after, first: 50) { nodes { id code name status sourceHr destinationHr size failCount createdAt queue { code } user { email } } pageInfo { hasNextPage endCursor } } }",
        { filter: { status: status || undefined, queue: queue || undefined }, after },
      );
      setRows((old) => (after ? [...old, ...data.jobs.nodes] : data.jobs.nodes));
      setPageInfo(data.jobs.pageInfo);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => void load(null), [api, status, queue]);

  return (
    <section>
      <h1>Jobs &amp; publishes</h1>
      {me.role === "STANDARD" && <p className="muted">You see your own jobs and publishes.</p>}
      <OpenPublish />
      <form className="filters" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <Control label="Status">
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {JOB_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </Control>
        <Control label="Queue">
          <select value={queue} onChange={(e) => setQueue(e.target.value)}>
            <option value="">any</option>
            {queues.data?.queues.map((q) => (
              <option key={q.code}>{q.code}</option>
            ))}
          </select>
        </Control>
      </form>
      <ErrorBox error={error} />
      {rows.length === 0 ? (
        <p className="muted">No jobs.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Job</th>
              <th scope="col">Queue</th>
              <th scope="col">From → to</th>
              <th scope="col">Size</th>
              <th scope="col">Submitted by</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <td>
                  <StatusBadge status={j.status} />
                </td>
                <td>
                  <Link href={`/jobs/${j.id}`}>{j.name}</Link> <span className="muted">{j.code}</span>
                </td>
                <td>{j.queue.code}</td>
                <td>
                  {j.sourceHr} → {j.destinationHr}
                </td>
                <td>{bytes(j.size)}</td>
                <td>{j.user?.email ?? "—"}</td>
                <td>
                  <Time at={j.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pageInfo.hasNextPage && (
        <button type="button" onClick={() => void load(pageInfo.endCursor)}>
          Load older
        </button>
      )}
    </section>
  );
}

interface JobDetail extends JobRow {
  source: string;
  destination: string;
  engine: string;
  message: string | null;
  updatedAt: string;
  tasks: Record<string, unknown>[];
  metadata: { external: Record<string, unknown>; internal?: Record<string, unknown> };
  client?: { name: string } | null;
  executions?: ExecutionRow[];
}

export function JobPage({ id }: { id: string }) {
  const { api, me } = useSession();
  // Only the fields the role may read: asking for more is refused as a whole.
  const query = `query($id: ID!) { job(id: $id) { id code name status source sourceHr destination destinationHr engine size failCount message createdAt updatedAt tasks
    queue { code } user { email } metadata { external ${me.elevated ? "internal" : ""} }
    ${me.elevated ? "client { name }" : ""} ${me.canAudit ? `executions { ${ROW_FIELDS} }` : ""} } }`;
  const { data, error, reload } = useQuery<{ job: JobDetail }>(query, { id });
  useEffect(() => api.subscribe("subscription($id: ID!) { jobUpdated(id: $id) { id status } }", { id }, { next: () => reload() }), [api, id]);
  if (error) return <ErrorBox error={error} />;
  const j = data?.job;
  if (!j) return <p className="loading">Loading…</p>;
  return (
    <section>
      <p className="crumbs">
        <Link href="/jobs">Jobs</Link> / {j.code}
      </p>
      <h1>
        <StatusBadge status={j.status} /> {j.name}
      </h1>
      <div className="facts">
        <dl>
          <Field label="Code">{j.code}</Field>
          <Field label="Queue">{j.queue.code}</Field>
          <Field label="From">
            {j.sourceHr} <span className="muted">({j.source})</span>
          </Field>
          <Field label="To">
            {j.destinationHr} <span className="muted">({j.destination})</span>
          </Field>
          <Field label="Engine">{j.engine}</Field>
          {j.client !== undefined && <Field label="Client">{j.client?.name ?? "—"}</Field>}
        </dl>
        <dl>
          <Field label="Size">{bytes(j.size)}</Field>
          <Field label="Failures">{j.failCount}</Field>
          <Field label="Message">{j.message ?? "—"}</Field>
          <Field label="Submitted by">{j.user?.email ?? "—"}</Field>
          <Field label="Created">
            <Time at={j.createdAt} />
          </Field>
          <Field label="Updated">
            <Time at={j.updatedAt} />
          </Field>
        </dl>
      </div>
      <JsonBlock label={`Tasks (${j.tasks.length})`} value={j.tasks} open={false} />
      <JsonBlock label="Metadata" value={j.metadata} open={false} />
      {j.executions && (
        <>
          <h2>Hook executions</h2>
          {j.executions.length ? <ExecutionsTable rows={j.executions} /> : <p className="muted">No hook ran for this job.</p>}
        </>
      )}
    </section>
  );
}

interface PublishDetail {
  id: string;
  state: string;
  hostname: string | null;
  ip: string | null;
  guidelines: string | null;
  error: string | null;
  jobId: string | null;
  createdAt: string;
  updatedAt: string;
  metadata: Record<string, unknown>;
  user: { email: string } | null;
  job: { id: string; code: string; status: string } | null;
  entries: {
    id: string;
    filename: string;
    isDir: boolean;
    size: number;
    ident: string | null;
    canPublish: boolean;
    rejected: boolean;
    canUpload: boolean;
    warning: string | null;
    info: string | null;
    path: string | null;
  }[];
  executions?: ExecutionRow[];
}

export function PublishPage({ id }: { id: string }) {
  const { api, me } = useSession();
  const query = `query($id: ID!) { publish(id: $id) { id state hostname ip guidelines error jobId createdAt updatedAt metadata user { email } job { id code status }
    entries { id filename isDir size ident canPublish rejected canUpload warning info path } ${me.canAudit ? `executions { ${ROW_FIELDS} }` : ""} } }`;
  const { data, error, reload } = useQuery<{ publish: PublishDetail }>(query, { id });
  useEffect(() => api.subscribe("subscription($id: ID!) { publishUpdated(id: $id) { id state } }", { id }, { next: () => reload() }), [api, id]);
  if (error) return <ErrorBox error={error} />;
  const p = data?.publish;
  if (!p) return <p className="loading">Loading…</p>;
  return (
    <section>
      <p className="crumbs">
        <Link href="/jobs">Jobs &amp; publishes</Link> / publish {p.id}
      </p>
      <h1>
        <StatusBadge status={p.state} /> Publish by {p.user?.email ?? "—"}
      </h1>
      <div className="facts">
        <dl>
          <Field label="State">
            <StatusBadge status={p.state} />
          </Field>
          <Field label="Ingest">
            {p.state === "PUBLISHED" ? "published" : p.state === "FAILED" ? <span className="error-text">{p.error ?? "failed"}</span> : "not yet (waiting for the upload job)"}
          </Field>
          <Field label="Upload job">{p.job ? <Link href={`/jobs/${p.job.id}`}>{p.job.code}</Link> : "—"}</Field>
          <Field label="From">{[p.hostname, p.ip].filter(Boolean).join(" / ") || "—"}</Field>
        </dl>
        <dl>
          <Field label="Created">
            <Time at={p.createdAt} />
          </Field>
          <Field label="Updated">
            <Time at={p.updatedAt} />
          </Field>
        </dl>
      </div>
      {p.guidelines && (
        <div className="guidelines">
          <h2>Guidelines</h2>
          {/* pre-publish may answer HTML: shown as HTML, with scripts and handlers removed. */}
          <div className="guidelines-body" dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(p.guidelines) }} />
        </div>
      )}
      <h2>Pre-publish verdict</h2>
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Entry</th>
            <th scope="col">Ident</th>
            <th scope="col">Verdict</th>
            <th scope="col">Warning</th>
            <th scope="col">Path</th>
          </tr>
        </thead>
        <tbody>
          {p.entries.map((e) => (
            <tr key={e.id} data-entry={e.id}>
              <td>
                {e.filename}
                {e.isDir ? "/" : ""} <span className="muted">{bytes(e.size)}</span>
              </td>
              <td>{e.ident ?? "—"}</td>
              <td>
                {e.rejected ? (
                  <StatusBadge status="REJECTED" />
                ) : e.canPublish ? (
                  <StatusBadge status="CAN_PUBLISH" />
                ) : e.canUpload ? (
                  <StatusBadge status="UPLOAD_ONLY" />
                ) : (
                  <StatusBadge status="BLOCKED" />
                )}
                {e.info && <div className="muted">{e.info}</div>}
              </td>
              <td>{e.warning ? <span className="warning-text">{e.warning}</span> : "—"}</td>
              <td>{e.path ? <code>{e.path}</code> : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <JsonBlock label="Metadata" value={p.metadata} open={false} />
      {p.executions && (
        <>
          <h2>Hook executions</h2>
          <ExecutionsTable rows={p.executions} />
        </>
      )}
    </section>
  );
}
