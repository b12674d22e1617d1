import { useState } from "react";
import { useSession } from "../session.js";
import { Control, ErrorBox, ExecutionLink, StatusBadge } from "../ui.js";

// Replay real past inputs against a candidate (issue 37): the report side by side, and one
// click to adopt the candidate (setHookConfig, so it lands in the history and can be rolled back).

interface VerdictChange {
  id: string;
  filename: string | null;
  field: string;
  before: unknown;
  after: unknown;
}

interface Entry {
  statusChanged: boolean;
  answerProblem: string | null;
  verdictChanges: VerdictChange[];
  original: { id: string; status: string; exitCode: number | null };
  replay: { id: string; status: string; exitCode: number | null; error: string | null };
}

const HOOK_POINTS = [
  "PRE_PUBLISH_SERVER",
  "PUBLISH_SERVER",
  "PRE_SUBMIT_SERVER",
  "POST_SUBMIT_SERVER",
  "POST_FAILED_SERVER",
  "POST_DONE_SERVER",
  "PRE_SUBMIT_CLIENT",
  "POST_SUBMIT_CLIENT",
  "POST_FAILED_CLIENT",
  "POST_DONE_CLIENT",
];

const REPLAY = `mutation($filter: ReplayFilterInput!, $candidate: ReplayCandidateInput!) { replayExecutions(filter: $filter, candidate: $candidate) {
  entries { statusChanged answerProblem verdictChanges { id filename field before after }
    original { id status exitCode } replay { id status exitCode error } } } }`;

export function ReplayPage() {
  const { api } = useSession();
  const [hook, setHook] = useState(HOOK_POINTS[0]);
  const [limit, setLimit] = useState("20");
  const [linux, setLinux] = useState("");
  const [mac, setMac] = useState("");
  const [windows, setWindows] = useState("");
  const [timeout, setTimeoutSeconds] = useState("");
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  // Only the lines given: an OS left empty keeps what the hook has.
  const commands = () => Object.fromEntries(Object.entries({ linux, mac, windows }).filter(([, v]) => v.trim() !== ""));
  const timeoutSeconds = () => (timeout.trim() ? Number(timeout) : null);

  const run = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setNotice(null);
    try {
      const data = await api.query<{ replayExecutions: { entries: Entry[] } }>(REPLAY, {
        filter: { hook, limit: Number(limit) },
        candidate: { commands: commands(), timeoutSeconds: timeoutSeconds() },
      });
      setEntries(data.replayExecutions.entries);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const adopt = async () => {
    if (!window.confirm(`Make this candidate the workspace configuration of ${hook}? It becomes a new version in the history, so it can be rolled back.`)) return;
    try {
      await api.query("mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }", {
        input: { hook, commands: commands(), ...(timeoutSeconds() !== null ? { timeoutSeconds: timeoutSeconds() } : {}) },
      });
      setNotice(`${hook} now runs the candidate. See the History page to compare or roll back.`);
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const changed = entries?.filter((e) => e.statusChanged || e.verdictChanges.length > 0 || e.answerProblem) ?? [];
  return (
    <section>
      <h1>Replay against a candidate</h1>
      <p className="muted">
        Runs the candidate on the stored input of recent executions, where the hook point runs, with <code>"replay": true</code> in the input. A script with side effects must skip them when it sees
        it.
      </p>
      <form className="filters" aria-label="Candidate" onSubmit={run}>
        <Control label="Hook point">
          <select value={hook} onChange={(e) => setHook(e.target.value)}>
            {HOOK_POINTS.map((h) => (
              <option key={h}>{h}</option>
            ))}
          </select>
        </Control>
        <Control label="Executions (newest, up to 200)">
          <input type="number" min={1} max={200} value={limit} onChange={(e) => setLimit(e.target.value)} required />
        </Control>
        <Control label="Linux command">
          <input value={linux} onChange={(e) => setLinux(e.target.value)} placeholder="/opt/hooks/v2.py ${PATH_JSON_INPUT} ${PATH_JSON_OUTPUT}" />
        </Control>
        <Control label="Mac command">
          <input value={mac} onChange={(e) => setMac(e.target.value)} />
        </Control>
        <Control label="Windows command">
          <input value={windows} onChange={(e) => setWindows(e.target.value)} />
        </Control>
        <Control label="Timeout (s)">
          <input type="number" min={1} value={timeout} onChange={(e) => setTimeoutSeconds(e.target.value)} placeholder="default" />
        </Control>
        <button type="submit" disabled={busy}>
          {busy ? "Replaying…" : "Replay"}
        </button>
      </form>
      <ErrorBox error={error} />
      {notice && <p role="status">{notice}</p>}
      {entries && (
        <>
          <p>
            {entries.length} replayed; {changed.length} would have turned out differently.{" "}
            <button type="button" onClick={() => void adopt()}>
              Apply the candidate to {hook}
            </button>
          </p>
          <table className="list">
            <thead>
              <tr>
                <th scope="col">Then</th>
                <th scope="col">Now</th>
                <th scope="col">What changed</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.replay.id} data-replay={e.replay.id}>
                  <td>
                    <ExecutionLink id={e.original.id} /> <StatusBadge status={e.original.status} /> {e.original.exitCode ?? ""}
                  </td>
                  <td>
                    <ExecutionLink id={e.replay.id} /> <StatusBadge status={e.replay.status} /> {e.replay.exitCode ?? ""} {e.replay.error && <span className="muted">{e.replay.error}</span>}
                  </td>
                  <td style={{ overflowWrap: "anywhere" }}>
                    {e.answerProblem && <p className="error">A publish would refuse this answer: {e.answerProblem}</p>}
                    {e.verdictChanges.length > 0 ? (
                      <ul>
                        {e.verdictChanges.map((c) => (
                          <li key={`${c.id} ${c.field}`}>
                            {c.filename ?? c.id}: <code>{c.field}</code> {JSON.stringify(c.before)} → {JSON.stringify(c.after)}
                          </li>
                        ))}
                      </ul>
                    ) : (
                      !e.answerProblem && <span className="muted">{e.statusChanged ? "the outcome changed" : "same"}</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
