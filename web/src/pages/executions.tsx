import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useLocation } from "wouter";
import { EXECUTION_STATUSES, HOOK_POINTS } from "../api.js";
import { useQuery, useSession } from "../session.js";
import { Control, ErrorBox, StatusBadge, Time, formatDuration } from "../ui.js";

export interface ExecutionRow {
  id: string;
  hook: string;
  queue: string | null;
  status: string;
  attempt: number;
  durationMs: number | null;
  createdAt: string;
  jobId: string | null;
  publishId: string | null;
  waitingFor: string | null;
  executionServer: { id: string; name: string; kind: string } | null;
  triggeredBy: { email: string } | null;
}

export const ROW_FIELDS = "id hook queue status attempt durationMs createdAt jobId publishId waitingFor executionServer { id name kind } triggeredBy { email }";
const PAGE = 50;

interface Filter {
  hook: string;
  status: string;
  queue: string;
  job: string;
  since: string;
  server: string;
}
const EMPTY: Filter = { hook: "", status: "", queue: "", job: "", since: "", server: "" };

function apiFilter(f: Filter) {
  return {
    hook: f.hook || undefined,
    status: f.status || undefined,
    queue: f.queue || undefined,
    job: f.job || undefined,
    executionServer: f.server || undefined,
    since: f.since ? new Date(f.since).toISOString() : undefined,
  };
}

function filterFromUrl(): Filter {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(Object.keys(EMPTY).map((k) => [k, params.get(k) ?? ""])) as unknown as Filter;
}

export function ExecutionsTable({ rows, caption }: { rows: ExecutionRow[]; caption?: string }) {
  const [, navigate] = useLocation();
  return (
    <table className="list">
      {caption && <caption>{caption}</caption>}
      <thead>
        <tr>
          <th scope="col">Status</th>
          <th scope="col">Hook</th>
          <th scope="col">Queue</th>
          <th scope="col">Ran on</th>
          <th scope="col">Duration</th>
          <th scope="col">Attempt</th>
          <th scope="col">Triggered by</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((e) => (
          <tr key={e.id} data-execution={e.id} className="clickable" onClick={() => navigate(`/executions/${e.id}`)}>
            <td>
              <StatusBadge status={e.status} />
            </td>
            <td>
              {/* The link is the keyboard's way in; the row click is a shortcut for the mouse. */}
              <Link href={`/executions/${e.id}`} onClick={(ev) => ev.stopPropagation()}>
                {e.hook}
              </Link>
            </td>
            <td>{e.queue ?? "—"}</td>
            <td>{e.executionServer ? `${e.executionServer.name}${e.executionServer.kind === "CLIENT" ? " (client)" : ""}` : e.waitingFor ? `waiting for ${e.waitingFor}` : "—"}</td>
            <td>{formatDuration(e.durationMs)}</td>
            <td>{e.attempt}</td>
            <td>{e.triggeredBy?.email ?? (e.jobId ? "job event" : e.publishId ? "publish" : "hookd")}</td>
            <td>
              <Time at={e.createdAt} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExecutionsPage() {
  const { api } = useSession();
  const [filter, setFilter] = useState<Filter>(filterFromUrl);
  const [rows, setRows] = useState<ExecutionRow[]>([]);
  const [pageInfo, setPageInfo] = useState<{ hasNextPage: boolean; endCursor: string | null }>({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [live, setLive] = useState(false);
  const servers = useQuery<{ executionServers: { id: string; name: string; kind: string }[] }>("{ executionServers { id name kind } }");
  const queues = useQuery<{ queues: { code: string }[] }>("{ queues { code } }");
  const vars = useMemo(() => apiFilter(filter), [filter.hook, filter.status, filter.queue, filter.job, filter.server, filter.since]);
  const varsKey = JSON.stringify(vars);

  // The filter is kept in the address, so a filtered list can be bookmarked and shared.
  useEffect(() => {
    const params = new URLSearchParams(Object.entries(filter).filter(([, v]) => v) as [string, string][]);
    const search = params.toString();
    history.replaceState(history.state, "", `${location.pathname}${search ? `?${search}` : ""}`);
  }, [filter]);

  // Answers for an earlier filter may arrive after the current one's: only the current filter's count.
  const generation = useRef(0);
  const load = async (after: string | null, gen = generation.current) => {
    setLoading(true);
    try {
      const data = await api.query<{ executions: { nodes: ExecutionRow[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
        `query($filter: ExecutionFilterInput, $after: String, $first: Int!) { executions(filter: $filter, after: $after, first: $first) { nodes { ${ROW_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
        { filter: vars, after, first: PAGE },
      );
      if (gen !== generation.current) return;
      setRows((old) => (after ? [...old, ...data.executions.nodes.filter((n) => !old.some((o) => o.id === n.id))] : data.executions.nodes));
      setPageInfo(data.executions.pageInfo);
      setError(null);
    } catch (err) {
      if (gen === generation.current) setError((err as Error).message);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  // Live: every status change of a matching execution refreshes its row, or adds it on top.
  const pending = useRef(new Set<string>());
  useEffect(() => {
    const gen = ++generation.current;
    void load(null, gen);
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = async () => {
      timer = null;
      const ids = [...pending.current];
      pending.current.clear();
      if (ids.length === 0) return;
      const query = `{ ${ids.map((id, i) => `e${i}: execution(id: ${JSON.stringify(id)}) { ${ROW_FIELDS} }`).join(" ")} }`;
      try {
        const data = await api.query<Record<string, ExecutionRow>>(query);
        if (gen !== generation.current) return;
        setRows((old) => {
          const fresh = Object.values(data);
          const known = new Map(fresh.map((r) => [r.id, r]));
          // A shown row keeps its place with its new status; a new one is added when it matches.
          const updated = old.map((r) => known.get(r.id) ?? r);
          const added = fresh
            .filter((r) => !old.some((o) => o.id === r.id) && (!vars.status || r.status === vars.status) && (!vars.since || r.createdAt >= vars.since))
            .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
          return [...added, ...updated];
        });
      } catch (err) {
        setError((err as Error).message);
      }
    };
    // Without the status: a shown row must also hear that it moved on (RUNNING → SUCCEEDED).
    const { since: _since, status: _status, ...subFilter } = vars;
    const stop = api.subscribe<{ executionUpdated: { id: string } }>(
      "subscription($filter: ExecutionUpdatedFilter) { executionUpdated(filter: $filter) { id status } }",
      { filter: subFilter },
      {
        next: (d) => {
          setLive(true);
          pending.current.add(d.executionUpdated.id);
          timer ??= setTimeout(() => void flush(), 250);
        },
        error: (err) => {
          setLive(false);
          setError(err.message);
        },
      },
    );
    setLive(true);
    // Events missed while the socket was down: read the first page again.
    const stopReconnect = api.onReconnect(() => {
      setLive(true);
      void load(null, gen);
    });
    const stopDrop = api.onDrop(() => setLive(false));
    return () => {
      stop();
      stopReconnect();
      stopDrop();
      if (timer) clearTimeout(timer);
    };
  }, [api, varsKey]);

  const set = (key: keyof Filter) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setFilter((f) => ({ ...f, [key]: e.target.value }));
  const shown = rows;

  return (
    <section>
      <h1>
        Executions <span className={`live ${live ? "on" : ""}`}>{live ? "live" : "not live"}</span>
      </h1>
      <form className="filters" aria-label="Filter executions" onSubmit={(e) => e.preventDefault()}>
        <Control label="Hook">
          <select value={filter.hook} onChange={set("hook")}>
            <option value="">any</option>
            {HOOK_POINTS.map((h) => (
              <option key={h}>{h}</option>
            ))}
          </select>
        </Control>
        <Control label="Status">
          <select value={filter.status} onChange={set("status")}>
            <option value="">any</option>
            {EXECUTION_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </Control>
        <Control label="Queue">
          <select value={filter.queue} onChange={set("queue")}>
            <option value="">any</option>
            {queues.data?.queues.map((q) => (
              <option key={q.code}>{q.code}</option>
            ))}
          </select>
        </Control>
        <Control label="Server or client">
          <select value={filter.server} onChange={set("server")} title="Where it runs">
            <option value="">any</option>
            {servers.data?.executionServers.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name} ({s.kind.toLowerCase()})
              </option>
            ))}
          </select>
        </Control>
        <Control label="Job id">
          <input value={filter.job} onChange={set("job")} placeholder="any" size={12} />
        </Control>
        <Control label="Since">
          <input type="datetime-local" value={filter.since} onChange={set("since")} />
        </Control>
        <button type="button" onClick={() => setFilter(EMPTY)} disabled={JSON.stringify(filter) === JSON.stringify(EMPTY)}>
          Clear
        </button>
      </form>
      <ErrorBox error={error} />
      {shown.length === 0 && !loading ? <p className="muted">No executions match.</p> : <ExecutionsTable rows={shown} />}
      {pageInfo.hasNextPage && (
        <button type="button" onClick={() => void load(pageInfo.endCursor)} disabled={loading}>
          {loading ? "Loading…" : "Load older"}
        </button>
      )}
    </section>
  );
}
