import { useEffect, useState } from "react";
import { Link, useLocation } from "wouter";
import { HOOK_POINTS } from "../api.js";
import { useQuery, useSession } from "../session.js";
import { Control, ErrorBox, StatusBadge, Time } from "../ui.js";
import { HookPoint } from "../../../src/domain/hook-points.js";
import { HookEditor, QueueHookEditor, SettingsEditor, WORLD_QUERY, type World } from "./config-edit.js";

type Commands = { linux: string | null; mac: string | null; windows: string | null };

function CommandsCell({ commands }: { commands: Commands }) {
  const set = (["linux", "mac", "windows"] as const).filter((os) => commands[os]);
  if (set.length === 0) return <span className="muted">not configured</span>;
  return (
    <ul className="commands">
      {set.map((os) => (
        <li key={os}>
          <span className="os">{os}</span> <code>{commands[os]}</code>
        </li>
      ))}
    </ul>
  );
}

function HookConfigs({ admin }: { admin: Admin | null }) {
  const [editing, setEditing] = useState<string | null>(null);
  const { data, error } = useQuery<{
    settings: { hooksEnabled: boolean };
    hookConfigs: {
      hook: string;
      scriptName: string;
      enabled: boolean;
      commands: Commands;
      effectiveTimeoutSeconds: number;
      timeoutSeconds: number | null;
      updatedAt: string | null;
      executionServer: { name: string } | null;
    }[];
  }>("{ settings { hooksEnabled } hookConfigs { hook scriptName enabled commands { linux mac windows } effectiveTimeoutSeconds timeoutSeconds updatedAt executionServer { name } } }");
  return (
    <section aria-labelledby="hook-configs">
      <h2 id="hook-configs">Hook configurations</h2>
      <ErrorBox error={error} />
      {data && !data.settings.hooksEnabled && (
        <p className="warning-text" role="status">
          Hooks are disabled for the whole workspace: every execution is recorded as SKIPPED.
        </p>
      )}
      {data && (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Hook point</th>
              <th scope="col">Enabled</th>
              <th scope="col">Command lines</th>
              <th scope="col">Timeout</th>
              <th scope="col">Runs on</th>
              <th scope="col">Updated</th>
              {admin && <th scope="col">Change</th>}
            </tr>
          </thead>
          <tbody>
            {data.hookConfigs.map((h) => (
              <tr key={h.hook}>
                <td>
                  {h.hook} <div className="muted">{h.scriptName}</div>
                </td>
                <td>{h.enabled ? "yes" : "no"}</td>
                <td>
                  <CommandsCell commands={h.commands} />
                </td>
                <td>
                  {h.effectiveTimeoutSeconds} s{h.timeoutSeconds === null ? <span className="muted"> (default)</span> : ""}
                </td>
                <td>{h.executionServer?.name ?? <span className="muted">default server</span>}</td>
                <td>
                  <Time at={h.updatedAt} />
                </td>
                {admin && (
                  <td>
                    <button type="button" className="small" aria-label={`Edit ${h.hook}`} aria-expanded={editing === h.hook} onClick={() => setEditing(editing === h.hook ? null : h.hook)}>
                      Edit
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin && editing && <HookEditor key={editing} world={admin.world} hook={editing} onDone={() => setEditing(null)} onSaved={admin.saved} />}
    </section>
  );
}

/** What the ADMIN's editors need: everything they read, and the page's "saved" callback. */
interface Admin {
  world: World;
  saved: (message: string) => void;
}

interface QueueRow {
  code: string;
  name: string;
  priority: number;
  default: boolean;
  status: string;
  jobCount: number;
  hooks: { id: string; hook: string; mode: string; enabled: boolean; commands: Commands; timeoutSeconds: number | null }[];
}

interface ClientRow {
  id: string;
  name: string;
  os: string;
}

/** The hook point and queue a view is about (effective hooks, a test run); for a client hook, the client it runs on. */
function HookAndQueue(props: {
  hook: string;
  onHook: (hook: string) => void;
  queue: string;
  onQueue: (queue: string) => void;
  queues: QueueRow[];
  client: string;
  onClient: (client: string) => void;
  clients: ClientRow[];
}) {
  return (
    <>
      <Control label="Hook point">
        <select value={props.hook} onChange={(e) => props.onHook(e.target.value)}>
          {HOOK_POINTS.map((h) => (
            <option key={h}>{h}</option>
          ))}
        </select>
      </Control>
      <Control label="Queue">
        <select value={props.queue} onChange={(e) => props.onQueue(e.target.value)}>
          <option value="">the default queue</option>
          {props.queues.map((q) => (
            <option key={q.code}>{q.code}</option>
          ))}
        </select>
      </Control>
      {props.hook.endsWith("_CLIENT") && (
        <Control label="Client">
          <select value={props.client} onChange={(e) => props.onClient(e.target.value)}>
            <option value="">none: a client hook needs one</option>
            {props.clients.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} ({c.os})
              </option>
            ))}
          </select>
        </Control>
      )}
    </>
  );
}

interface Policy {
  retry: {
    maxAttempts: number;
    initialDelaySeconds: number;
    factor: number;
    maxDelaySeconds: number;
    retryExitCodes: string[] | null;
    permanentExitCodes: string[];
    retryTimedOut: boolean;
    retryRunnerLost: boolean;
  } | null;
  maxConcurrent: number | null;
  concurrencyKey: string | null;
  env: string[];
}

/** The policy an entry's runs get, in words (README "Hook policies"). */
function PolicyCell({ policy }: { policy: Policy }) {
  const parts: string[] = [];
  const r = policy.retry;
  if (r && r.maxAttempts > 1) {
    const on = [r.retryExitCodes ? `exit ${r.retryExitCodes.join(", ")}` : "any failing exit", r.retryTimedOut && "timeouts", r.retryRunnerLost && "lost runners"].filter(Boolean).join(", ");
    parts.push(`up to ${r.maxAttempts} attempts on ${on}; backoff ${r.initialDelaySeconds} s ×${r.factor}, at most ${r.maxDelaySeconds} s`);
    if (r.permanentExitCodes.length > 0) parts.push(`never on exit ${r.permanentExitCodes.join(", ")}`);
  }
  if (policy.maxConcurrent !== null) parts.push(`at most ${policy.maxConcurrent} at once`);
  if (policy.concurrencyKey !== null) parts.push(`one at a time per ${policy.concurrencyKey}`);
  if (policy.env.length > 0) parts.push(`secrets: ${policy.env.join(", ")}`);
  if (parts.length === 0) return <span className="muted">none</span>;
  return (
    <ul className="commands">
      {parts.map((p) => (
        <li key={p}>{p}</li>
      ))}
    </ul>
  );
}

function EffectiveHooks({ queues, clients }: { queues: QueueRow[]; clients: ClientRow[] }) {
  const [queue, setQueue] = useState("");
  const [client, setClient] = useState("");
  const [hook, setHook] = useState<string>("POST_DONE_SERVER");
  const { data, error } = useQuery<{
    effectiveHooks: {
      source: string;
      mode: string | null;
      queue: string | null;
      enabled: boolean;
      command: string | null;
      os: string | null;
      timeoutSeconds: number;
      willRun: boolean;
      skipReason: string | null;
      skipMessage: string | null;
      executionServer: { name: string } | null;
      policy: Policy;
    }[];
  }>(
    "query($hook: HookPoint!, $queue: String, $executionServer: ID) { effectiveHooks(hook: $hook, queue: $queue, executionServer: $executionServer) { source mode queue enabled command os timeoutSeconds willRun skipReason skipMessage executionServer { name } policy { retry { maxAttempts initialDelaySeconds factor maxDelaySeconds retryExitCodes permanentExitCodes retryTimedOut retryRunnerLost } maxConcurrent concurrencyKey env } } }",
    { hook, queue: queue || undefined, executionServer: (hook.endsWith("_CLIENT") && client) || undefined },
  );
  return (
    <section aria-labelledby="effective-hooks">
      <h2 id="effective-hooks">Effective hooks</h2>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <HookAndQueue hook={hook} onHook={setHook} queue={queue} onQueue={setQueue} queues={queues} client={client} onClient={setClient} clients={clients} />
      </form>
      <ErrorBox error={error} />
      {data && (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">From</th>
              <th scope="col">Command</th>
              <th scope="col">Runs on</th>
              <th scope="col">Will run</th>
              <th scope="col">Reason</th>
              <th scope="col">Policy</th>
            </tr>
          </thead>
          <tbody>
            {data.effectiveHooks.map((h, i) => (
              <tr key={i}>
                <td>{i + 1}</td>
                <td>{h.source === "QUEUE" ? `queue ${h.queue} (${h.mode?.toLowerCase()})` : "workspace"}</td>
                <td>{h.command ? <code>{h.command}</code> : <span className="muted">—</span>}</td>
                <td>{h.executionServer ? `${h.executionServer.name}${h.os ? ` (${h.os})` : ""}` : "—"}</td>
                <td>{h.willRun ? <StatusBadge status="WILL_RUN" /> : <StatusBadge status="SKIPPED" />}</td>
                <td>{h.skipMessage ?? (h.willRun ? `runs, timeout ${h.timeoutSeconds} s` : h.skipReason)}</td>
                <td className="policy">
                  <PolicyCell policy={h.policy} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Queues({ queues, admin }: { queues: QueueRow[]; admin: Admin | null }) {
  const [editing, setEditing] = useState<{ queue: string; hook: string | null } | null>(null);
  return (
    <section aria-labelledby="queues">
      <h2 id="queues">Queues</h2>
      <table className="list">
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">Priority</th>
            <th scope="col">State</th>
            <th scope="col">Jobs</th>
            <th scope="col">Queue hooks</th>
          </tr>
        </thead>
        <tbody>
          {queues.map((q) => (
            <tr key={q.code}>
              <td>
                {q.code} {q.default && <span className="tag">default</span>} <div className="muted">{q.name}</div>
              </td>
              <td>{q.priority}</td>
              <td>{q.status.toLowerCase()}</td>
              <td>{q.jobCount}</td>
              <td>
                {q.hooks.length === 0 ? (
                  <span className="muted">none: the workspace entries apply</span>
                ) : (
                  <ul className="commands">
                    {q.hooks.map((h) => (
                      <li key={h.id}>
                        {h.hook} <span className="tag">{h.mode.toLowerCase()}</span>
                        {!h.enabled && <span className="tag">disabled</span>} <CommandsCell commands={h.commands} />
                        {admin && (
                          <button type="button" className="small" aria-label={`Edit queue ${q.code}'s ${h.hook}`} onClick={() => setEditing({ queue: q.code, hook: h.hook })}>
                            Edit
                          </button>
                        )}
                      </li>
                    ))}
                  </ul>
                )}
                {admin && (
                  <button type="button" className="small" aria-label={`Add a hook entry to queue ${q.code}`} onClick={() => setEditing({ queue: q.code, hook: null })}>
                    Add a hook entry
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {admin && editing && (
        <QueueHookEditor key={`${editing.queue}/${editing.hook}`} world={admin.world} queue={editing.queue} hook={editing.hook} onDone={() => setEditing(null)} onSaved={admin.saved} />
      )}
    </section>
  );
}

function ExecutionServers() {
  const { data, error } = useQuery<{ executionServers: { id: string; name: string; hostname: string; os: string; kind: string; online: boolean; lastSeenAt: string | null; labels: string[] }[] }>(
    "{ executionServers { id name hostname os kind online lastSeenAt labels } }",
  );
  return (
    <section aria-labelledby="servers">
      <h2 id="servers">Execution servers and clients</h2>
      <ErrorBox error={error} />
      {data && (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Host</th>
              <th scope="col">OS</th>
              <th scope="col">State</th>
              <th scope="col">Last seen</th>
              <th scope="col">Labels</th>
            </tr>
          </thead>
          <tbody>
            {data.executionServers.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td>{s.kind.toLowerCase()}</td>
                <td>{s.hostname}</td>
                <td>{s.os}</td>
                <td>
                  <StatusBadge status={s.online ? "ONLINE" : "OFFLINE"} />
                </td>
                <td>
                  <Time at={s.lastSeenAt} />
                </td>
                <td>{s.labels.join(", ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function TestRun({ queues, clients }: { queues: QueueRow[]; clients: ClientRow[] }) {
  const [client, setClient] = useState("");
  const { api } = useSession();
  const [, navigate] = useLocation();
  const [hook, setHook] = useState<HookPoint>(HookPoint.POST_DONE_SERVER);
  const [queue, setQueue] = useState("");
  const [payload, setPayload] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<{ id: string; status: string }[] | null>(null);
  // The very sample hookd merges a test run's payload over, so the form starts from what the hook will see.
  const loadSample = (h: HookPoint) =>
    api.query<{ samplePayload: unknown }>("query($hook: HookPoint!) { samplePayload(hook: $hook) }", { hook: h }).then(
      (data) => setPayload(JSON.stringify(data.samplePayload, null, 2)),
      (err: Error) => setError(`Sample payload: ${err.message}`),
    );
  useEffect(() => {
    void loadSample(HookPoint.POST_DONE_SERVER);
  }, [api]);
  const chooseHook = (h: HookPoint) => {
    setHook(h);
    void loadSample(h);
  };
  const run = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch (err) {
      setError(`Payload: not valid JSON (${(err as Error).message})`);
      return;
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      setError("Payload: must be a JSON object");
      return;
    }
    try {
      const data = await api.query<{ triggerHook: { id: string; status: string }[] }>("mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status } }", {
        input: { hook, queue: queue || undefined, payload: parsed, executionServer: (hook.endsWith("_CLIENT") && client) || undefined },
      });
      if (data.triggerHook.length === 1) navigate(`/executions/${data.triggerHook[0].id}`);
      else setResult(data.triggerHook);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section aria-labelledby="test-run">
      <h2 id="test-run">Test run</h2>
      <form onSubmit={run} className="test-run">
        <div className="filters">
          <HookAndQueue hook={hook} onHook={(h) => chooseHook(h as HookPoint)} queue={queue} onQueue={setQueue} queues={queues} client={client} onClient={setClient} clients={clients} />
        </div>
        <label htmlFor="payload">Payload (merged over the hook point's sample; `hook` is always set by hookd)</label>
        <textarea id="payload" value={payload} onChange={(e) => setPayload(e.target.value)} rows={12} spellCheck={false} />
        <ErrorBox error={error} />
        <button type="submit">Run the hook</button>
      </form>
      {result && (
        <div role="status">
          {result.length === 0 ? (
            <p>Nothing ran: no effective hook for this hook point and queue (see Effective hooks).</p>
          ) : (
            <ul>
              {result.map((r) => (
                <li key={r.id}>
                  <a href={`/executions/${r.id}`}>{r.id}</a> <StatusBadge status={r.status} />
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}

export function ConfigurationPage() {
  const { me } = useSession();
  // Each save reloads every section: what they show is what hookd now has.
  const [version, setVersion] = useState(0);
  const [saved, setSaved] = useState<string | null>(null);
  return (
    <div className="configuration-page">
      {saved && (
        <p role="status" className="saved">
          {saved} It is in the <Link href="/audit">audit trail</Link>.
        </p>
      )}
      <Configuration
        key={version}
        admin={me.admin}
        onSaved={(message) => {
          setSaved(message);
          setVersion((v) => v + 1);
        }}
      />
    </div>
  );
}

function Configuration({ admin: isAdmin, onSaved }: { admin: boolean; onSaved: (message: string) => void }) {
  const { me } = useSession();
  const queues = useQuery<{ queues: QueueRow[] }>("{ queues { code name priority default status jobCount hooks { id hook mode enabled commands { linux mac windows } timeoutSeconds } } }");
  const list = queues.data?.queues ?? [];
  // Only an ADMIN changes anything: the others never ask for what only the editors read (secrets).
  const world = useQuery<World>(isAdmin ? WORLD_QUERY : "{ __typename }");
  const admin: Admin | null = isAdmin && world.data?.settings ? { world: world.data, saved: onSaved } : null;
  // Clients to run client hooks on: execution servers are for ADMIN and EMPLOYEE users.
  const servers = useQuery<{ executionServers: (ClientRow & { kind: string })[] }>(me.elevated ? "{ executionServers { id name os kind } }" : "{ __typename }");
  const clients = (servers.data?.executionServers ?? []).filter((s) => s.kind === "CLIENT");
  return (
    <section className="configuration">
      <h1>Configuration</h1>
      <nav aria-label="Sections" className="subnav">
        {me.admin && <a href="#settings">Workspace settings</a>}
        <a href="#hook-configs">Hook configurations</a>
        <a href="#effective-hooks">Effective hooks</a>
        <a href="#queues">Queues</a>
        {me.elevated && <a href="#servers">Execution servers</a>}
        {me.admin && <a href="#test-run">Test run</a>}
      </nav>
      {isAdmin && <ErrorBox error={world.error} />}
      {admin && <SettingsEditor world={admin.world} onSaved={onSaved} />}
      <HookConfigs admin={admin} />
      <EffectiveHooks queues={list} clients={clients} />
      <ErrorBox error={queues.error} />
      <Queues queues={list} admin={admin} />
      {me.elevated && <ExecutionServers />}
      {me.admin && <TestRun queues={list} clients={clients} />}
    </section>
  );
}
