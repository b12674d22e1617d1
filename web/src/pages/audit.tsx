import { useEffect, useState } from "react";
import { useSession } from "../session.js";
import { Control, ErrorBox, JsonBlock, Time } from "../ui.js";

interface AuditRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export function AuditPage() {
  const { api } = useSession();
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const [since, setSince] = useState("");
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [pageInfo, setPageInfo] = useState<{ hasNextPage: boolean; endCursor: string | null }>({ hasNextPage: false, endCursor: null });
  const [error, setError] = useState<string | null>(null);

  const load = async (after: string | null) => {
    try {
      const data = await api.query<{ auditEvents: { nodes: AuditRow[]; pageInfo: typeof pageInfo } }>(
        "query($filter: AuditFilterInput, $after: String) { auditEvents(filter: $filter, after: $after, first: 50) { nodes { id at actor action targetType targetId before after } pageInfo { hasNextPage endCursor } } }",
        { filter: { actor: actor.trim() || undefined, action: action.trim() || undefined, since: since ? new Date(since).toISOString() : undefined }, after },
      );
      setRows((old) => (after ? [...old, ...data.auditEvents.nodes] : data.auditEvents.nodes));
      setPageInfo(data.auditEvents.pageInfo);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => {
    // Typing in a filter waits for a pause before asking the server.
    const t = setTimeout(() => void load(null), 250);
    return () => clearTimeout(t);
  }, [api, actor, action, since]);

  return (
    <section>
      <h1>Audit trail</h1>
      <form className="filters" aria-label="Filter the audit trail" onSubmit={(e) => e.preventDefault()}>
        <Control label="Actor">
          <input value={actor} onChange={(e) => setActor(e.target.value)} placeholder="email, user id, cli or hookd" />
        </Control>
        <Control label="Action">
          <input value={action} onChange={(e) => setAction(e.target.value)} placeholder="e.g. queue.delete" />
        </Control>
        <Control label="Since">
          <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        </Control>
      </form>
      <ErrorBox error={error} />
      {rows.length === 0 ? (
        <p className="muted">No events match.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-audit={r.id}>
                <td>
                  <Time at={r.at} />
                </td>
                <td>{r.actor}</td>
                <td>
                  <code>{r.action}</code>
                </td>
                <td>
                  {r.targetType} <span className="muted">{r.targetId}</span>
                </td>
                <td>
                  {r.before && <JsonBlock label="Before" value={r.before} open={false} />}
                  {r.after && <JsonBlock label="After" value={r.after} open={false} />}
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
