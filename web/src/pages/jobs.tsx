import { useEffect, useState } from "react";
import { Link } from "wouter";
import { useQuery, useSession } from "../session.js";
import { Control, ErrorBox, Field, HookText, JsonBlock, StatusBadge, Time } from "../ui.js";
import { ExecutionsTable, ROW_FIELDS, type ExecutionRow } from "./executions.js";

const JOB_STATUSES = ["SUBMITTED", "RUNNING", "DONE", "FAILED"];
/** How long after a job's last change its page looks for new hook messages, and how often. */
const RECENT_MS = 5 * 60_000;
const RECHECK_MS = 3000;

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
  /** The publish this upload job belongs to. */
  publish: { id: string } | null;
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
        "query($filter: JobFilterInput, $after: String) { jobs(filter: $filter, after: $after, first: 50) { nodes { id code name status sourceHr destinationHr size failCount createdAt queue { code } user { email } publish { id } } pageInfo { hasNextPage endCursor } } }",
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
      <h1>Jobs</h1>
      {me.role === "STANDARD" && <p className="muted">You see your own jobs.</p>}
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
                  {j.publish && (
                    <>
                      {" · "}
                      <Link href={`/publishes/${j.publish.id}`}>its publish</Link>
                    </>
                  )}
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

interface JobDetail extends Omit<JobRow, "publish"> {
  source: string;
  destination: string;
  engine: string;
  message: string | null;
  updatedAt: string;
  tasks: Record<string, unknown>[];
  metadata: { external: Record<string, unknown>; internal?: Record<string, unknown> };
  client?: { name: string } | null;
  executions?: ExecutionRow[];
  publish: { id: string; state: string; entryCount: number } | null;
  hookMessages: { hook: string; message: string; at: string }[];
}

export function JobPage({ id }: { id: string }) {
  const { api, me } = useSession();
  // Only the fields the role may read: asking for more is refused as a whole.
  const query = `query($id: ID!) { job(id: $id) { id code name status source sourceHr destination destinationHr engine size failCount message createdAt updatedAt tasks
    queue { code } user { email } publish { id state entryCount } hookMessages { hook message at } metadata { external ${me.elevated ? "internal" : ""} }
    ${me.elevated ? "client { name }" : ""} ${me.canAudit ? `executions { ${ROW_FIELDS} }` : ""} } }`;
  const { data, error, reload } = useQuery<{ job: JobDetail }>(query, { id });
  useEffect(() => api.subscribe("subscription($id: ID!) { jobUpdated(id: $id) { id status } }", { id }, { next: () => reload() }), [api, id]);
  // The hooks a status change runs (post-failed, post-done) say their message after it, and no event
  // tells of that: while the job changed in the last few minutes, the page asks again now and then.
  const recent = data !== null && Date.now() - Date.parse(data.job.updatedAt) < RECENT_MS;
  useEffect(() => {
    if (!recent) return;
    const timer = setInterval(reload, RECHECK_MS);
    return () => clearInterval(timer);
  }, [recent, reload]);
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
          {j.publish && (
            <Field label="Publish">
              <Link href={`/publishes/${j.publish.id}`}>
                Publish of {j.publish.entryCount} {j.publish.entryCount === 1 ? "entry" : "entries"}
              </Link>{" "}
              <StatusBadge status={j.publish.state} />
            </Field>
          )}
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
      {j.hookMessages.length > 0 && (
        <section aria-labelledby="hook-messages">
          <h2 id="hook-messages">Messages from hooks</h2>
          <ul className="hook-messages">
            {j.hookMessages.map((m) => (
              <li key={m.hook} data-hook-message={m.hook}>
                <span className="tag">{m.hook}</span> <Time at={m.at} />
                <HookText text={m.message} />
              </li>
            ))}
          </ul>
        </section>
      )}
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
