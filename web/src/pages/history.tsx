import { useEffect, useState } from "react";
import { HOOK_POINTS } from "../api.js";
import { useSession } from "../session.js";
import { Control, ErrorBox, Time } from "../ui.js";

// Configuration history (issue 37): who changed what, a diff between any two versions, and a
// rollback for ADMINs. Its own page so the configuration page stays as it is.

interface Change {
  path: string;
  kind: "ADDED" | "REMOVED" | "CHANGED";
  before: unknown;
  after: unknown;
}

interface Version {
  version: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  changes: Change[];
}

const show = (value: unknown) => JSON.stringify(value);

function ChangeList({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <span className="muted">no change to the document</span>;
  return (
    <ul className="changes" style={{ overflowWrap: "anywhere" }}>
      {changes.map((c) => (
        <li key={`${c.kind} ${c.path}`} data-change={c.kind}>
          <code>
            {c.kind === "ADDED" ? "+" : c.kind === "REMOVED" ? "−" : "~"} {c.path}
          </code>{" "}
          {c.kind === "CHANGED" ? `${show(c.before)} → ${show(c.after)}` : show(c.kind === "ADDED" ? c.after : c.before)}
        </li>
      ))}
    </ul>
  );
}

export function HistoryPage() {
  const { api, me } = useSession();
  const [path, setPath] = useState("");
  const [versions, setVersions] = useState<Version[]>([]);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [diff, setDiff] = useState<Change[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = async () => {
    try {
      const data = await api.query<{ configurationHistory: Version[] }>(
        "query($path: String) { configurationHistory(first: 100, path: $path) { version at actor action target changes { path kind before after } } }",
        { path: path || undefined },
      );
      setVersions(data.configurationHistory);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => void load(), [api, path]);

  const compare = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      const data = await api.query<{ configurationDiff: Change[] }>("query($from: Int!, $to: Int!) { configurationDiff(from: $from, to: $to) { path kind before after } }", {
        from: Number(from),
        to: Number(to),
      });
      setDiff(data.configurationDiff);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const rollback = async (version: number) => {
    if (!window.confirm(`Restore the configuration of version ${version}? The restore becomes a new version, so it can be undone too.`)) return;
    try {
      const data = await api.query<{ rollbackConfiguration: { version: number; changes: Change[] } }>(
        "mutation($version: Int!) { rollbackConfiguration(version: $version) { version changes { path } } }",
        { version },
      );
      const r = data.rollbackConfiguration;
      setNotice(`Restored version ${version} as version ${r.version} (${r.changes.length} change(s)).`);
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <section>
      <h1>Configuration history</h1>
      <form className="filters" aria-label="Filter the history" onSubmit={(e) => e.preventDefault()}>
        <Control label="Show">
          <select value={path} onChange={(e) => setPath(e.target.value)}>
            <option value="">All configuration</option>
            {HOOK_POINTS.map((h) => (
              <option key={h} value={`hooks.${h}`}>
                Workspace hook {h}
              </option>
            ))}
            <option value="queues">Queues and their hooks</option>
            <option value="settings">Settings</option>
            <option value="volumes">Volumes</option>
            <option value="secrets">Secrets (names)</option>
          </select>
        </Control>
      </form>
      <form className="filters" aria-label="Compare two versions" onSubmit={compare}>
        <Control label="From version">
          <input type="number" min={1} value={from} onChange={(e) => setFrom(e.target.value)} required />
        </Control>
        <Control label="To version">
          <input type="number" min={1} value={to} onChange={(e) => setTo(e.target.value)} required />
        </Control>
        <button type="submit">Compare</button>
      </form>
      <ErrorBox error={error} />
      {notice && <p role="status">{notice}</p>}
      {diff && (
        <div>
          <h2>
            From version {from} to version {to}
          </h2>
          <ChangeList changes={diff} />
        </div>
      )}
      {versions.length === 0 ? (
        <p className="muted">No versions match.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Change</th>
              {me.admin && <th scope="col">Restore</th>}
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version} data-version={v.version}>
                <td>{v.version}</td>
                <td>
                  <Time at={v.at} />
                </td>
                <td>{v.actor}</td>
                <td>
                  <code>{v.action}</code> <span className="muted">{v.target}</span>
                </td>
                <td>
                  <ChangeList changes={v.changes} />
                </td>
                {me.admin && (
                  <td>
                    <button type="button" className="small" onClick={() => void rollback(v.version)}>
                      Roll back to {v.version}
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
