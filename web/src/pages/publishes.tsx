import { useEffect, useRef, useState } from "react";
import DOMPurify from "dompurify";
import { Link, useLocation } from "wouter";
import { useQuery, useSession } from "../session.js";
import { Control, ErrorBox, Field, HookText, JsonBlock, StatusBadge, Time, formatBytes } from "../ui.js";
import { ExecutionsTable, ROW_FIELDS, type ExecutionRow } from "./executions.js";

const PUBLISH_STATES = ["VALIDATED", "SUBMITTED", "PUBLISHED", "FAILED"];
const PAGE = 25;

interface PublishRow {
  id: string;
  state: string;
  createdAt: string;
  entryCount: number;
  message: string | null;
  user: { email: string } | null;
  job: { id: string; code: string } | null;
  entries: { filename: string; isDir: boolean }[];
}

/** What a publish is, in a line: its first entries' names. */
function entryNames(p: PublishRow): string {
  const names = p.entries.map((e) => `${e.filename}${e.isDir ? "/" : ""}`).join(", ");
  const more = p.entryCount - p.entries.length;
  return `${names || "no entries"}${more > 0 ? ` and ${more} more` : ""}`;
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

/** Publishes, newest first, a page at a time (keyset: `after` the last one shown). */
export function PublishesPage() {
  const { api, me } = useSession();
  const [state, setState] = useState(() => new URLSearchParams(location.search).get("state") ?? "");
  const [user, setUser] = useState(() => new URLSearchParams(location.search).get("user") ?? "");
  const [rows, setRows] = useState<PublishRow[]>([]);
  const [pageInfo, setPageInfo] = useState<{ hasNextPage: boolean; endCursor: string | null }>({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const users = useQuery<{ users: { id: string; email: string }[] }>(me.admin ? "{ users { id email } }" : "{ __typename }");
  const everyone = me.elevated;

  // The filter is kept in the address, so a filtered list can be bookmarked and shared.
  useEffect(() => {
    const params = new URLSearchParams(Object.entries({ state, user }).filter(([, v]) => v) as [string, string][]).toString();
    history.replaceState(history.state, "", `${location.pathname}${params ? `?${params}` : ""}`);
  }, [state, user]);

  // Answers for an earlier filter may arrive after the current one's: only the current filter's count.
  const generation = useRef(0);
  const load = async (after: string | null, gen = generation.current) => {
    try {
      const data = await api.query<{ publishes: { nodes: PublishRow[]; pageInfo: typeof pageInfo } }>(
        `query($filter: PublishFilterInput, $after: String, $first: Int!) { publishes(filter: $filter, after: $after, first: $first) {
          nodes { id state createdAt entryCount message ${everyone ? "user { email }" : ""} job { id code } entries(first: 3) { filename isDir } } pageInfo { hasNextPage endCursor } } }`,
        { filter: { state: state || undefined, user: user || undefined }, after, first: PAGE },
      );
      if (gen !== generation.current) return;
      setRows((old) => (after ? [...old, ...data.publishes.nodes.filter((n) => !old.some((o) => o.id === n.id))] : data.publishes.nodes));
      setPageInfo(data.publishes.pageInfo);
      setError(null);
    } catch (err) {
      if (gen === generation.current) setError((err as Error).message);
    } finally {
      if (gen === generation.current) setLoaded(true);
    }
  };
  useEffect(() => void load(null, ++generation.current), [api, state, user]);

  return (
    <section>
      <h1>Publishes</h1>
      {!everyone && <p className="muted">You see your own publishes.</p>}
      <OpenPublish />
      <form className="filters" aria-label="Filter publishes" onSubmit={(e) => e.preventDefault()}>
        <Control label="State">
          <select value={state} onChange={(e) => setState(e.target.value)}>
            <option value="">any</option>
            {PUBLISH_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </Control>
        {me.admin && (
          <Control label="Published by">
            <select value={user} onChange={(e) => setUser(e.target.value)}>
              <option value="">anyone</option>
              {users.data?.users?.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.email}
                </option>
              ))}
            </select>
          </Control>
        )}
      </form>
      <ErrorBox error={error} />
      {rows.length === 0 ? (
        loaded && <p className="muted">No publishes.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Publish</th>
              <th scope="col">Entries</th>
              {everyone && <th scope="col">Published by</th>}
              <th scope="col">Message</th>
              <th scope="col">Upload job</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.id} data-publish={p.id}>
                <td>
                  <StatusBadge status={p.state} />
                </td>
                <td className="publish-name">
                  {/* Its id in a tooltip: ids are time-ordered (UUIDv7), so their first characters say little. */}
                  <Link href={`/publishes/${p.id}`} title={`publish ${p.id}`}>
                    {entryNames(p)}
                  </Link>
                </td>
                <td data-entry-count>{p.entryCount}</td>
                {everyone && <td>{p.user?.email ?? "—"}</td>}
                <td className="message-cell">{p.message ? <HookText text={p.message} /> : <span className="muted">—</span>}</td>
                <td>{p.job ? <Link href={`/jobs/${p.job.id}`}>{p.job.code}</Link> : <span className="muted">—</span>}</td>
                <td>
                  <Time at={p.createdAt} />
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

interface PublishDetail {
  id: string;
  state: string;
  hostname: string | null;
  ip: string | null;
  guidelines: string | null;
  message: string | null;
  error: string | null;
  jobId: string | null;
  createdAt: string;
  updatedAt: string;
  metadata: Record<string, unknown>;
  user: { email: string } | null;
  job: { id: string; code: string; status: string } | null;
  entryCount: number;
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
  const query = `query($id: ID!) { publish(id: $id) { id state hostname ip guidelines message error jobId createdAt updatedAt metadata user { email } job { id code status } entryCount
    entries { id filename isDir size ident canPublish rejected canUpload warning info path } ${me.canAudit ? `executions { ${ROW_FIELDS} }` : ""} } }`;
  const { data, error, reload } = useQuery<{ publish: PublishDetail }>(query, { id });
  useEffect(() => api.subscribe("subscription($id: ID!) { publishUpdated(id: $id) { id state } }", { id }, { next: () => reload() }), [api, id]);
  if (error) return <ErrorBox error={error} />;
  const p = data?.publish;
  if (!p) return <p className="loading">Loading…</p>;
  return (
    <section>
      <p className="crumbs">
        <Link href="/publishes">Publishes</Link> / {p.id}
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
          <Field label="Upload job">
            {p.job ? (
              <>
                <Link href={`/jobs/${p.job.id}`}>{p.job.code}</Link> <StatusBadge status={p.job.status} />
              </>
            ) : (
              "— (not submitted yet)"
            )}
          </Field>
          <Field label="From">{[p.hostname, p.ip].filter(Boolean).join(" / ") || "—"}</Field>
        </dl>
        <dl>
          <Field label="Entries">{p.entryCount}</Field>
          <Field label="Created">
            <Time at={p.createdAt} />
          </Field>
          <Field label="Updated">
            <Time at={p.updatedAt} />
          </Field>
        </dl>
      </div>
      {p.message && (
        <section aria-labelledby="publish-message">
          <h2 id="publish-message">Message from pre-publish</h2>
          <div className="hook-message-box">
            <HookText text={p.message} />
          </div>
        </section>
      )}
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
                {e.isDir ? "/" : ""} <span className="muted">{formatBytes(e.size)}</span>
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
      {p.entries.length < p.entryCount && (
        <p className="muted">
          The first {p.entries.length} of {p.entryCount} entries.
        </p>
      )}
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
