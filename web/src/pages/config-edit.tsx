// The ADMIN's editors on the Configuration page: workspace entries, queue entries and workspace
// settings, each saved through the existing mutations (which record the audit trail). A change is
// reviewed before it is saved: what changes, and the effective hooks now (asked of hookd) and after
// (worked out here by the rules of effectiveHooks). Disabling hooks and moving the default
// execution server ask for a confirmation.
import { cloneElement, useId, useState } from "react";
import { fieldErrors, HOOK_POINTS } from "../api.js";
import { useQuery, useSession } from "../session.js";
import { ErrorBox } from "../ui.js";
import { hookPointInfo, type HookPoint } from "../../../src/domain/hook-points.js";

export const OSES = ["linux", "mac", "windows"] as const;
type Os = (typeof OSES)[number];
export type Commands = Record<Os, string | null>;

export interface RetryIn {
  maxAttempts: number;
  initialDelaySeconds: number;
  factor: number;
  maxDelaySeconds: number;
  jitter: number;
  retryExitCodes: string[] | null;
  permanentExitCodes: string[];
  retryTimedOut: boolean;
  retryRunnerLost: boolean;
}
export interface PolicyIn {
  retry: RetryIn | null;
  maxConcurrent: number | null;
  concurrencyKey: string | null;
  env: string[];
}
export interface ServerRow {
  id: string;
  name: string;
  hostname: string;
  os: string;
  kind: string;
  online: boolean;
}
export interface ConfigRow {
  hook: string;
  enabled: boolean;
  commands: Commands;
  timeoutSeconds: number | null;
  updatedAt: string | null;
  executionServer: { id: string; name: string } | null;
  policy: PolicyIn | null;
}
export interface QueueHookRow {
  id: string;
  hook: string;
  mode: string;
  enabled: boolean;
  commands: Commands;
  timeoutSeconds: number | null;
  policy: PolicyIn | null;
}
export interface SettingsRow {
  hooksEnabled: boolean;
  scheduleToStartSeconds: number;
  auditRoles: string[];
  defaultExecutionServer: { id: string; name: string } | null;
}
/** Everything the editors and the projection read. */
export interface World {
  settings: SettingsRow;
  hookConfigs: ConfigRow[];
  queues: { code: string; default: boolean; hooks: QueueHookRow[] }[];
  executionServers: ServerRow[];
  secrets: { name: string }[];
}

const POLICY_FIELDS =
  "policy { retry { maxAttempts initialDelaySeconds factor maxDelaySeconds jitter retryExitCodes permanentExitCodes retryTimedOut retryRunnerLost } maxConcurrent concurrencyKey env }";
export const WORLD_QUERY = `{
  settings { hooksEnabled scheduleToStartSeconds auditRoles defaultExecutionServer { id name } }
  hookConfigs { hook enabled commands { linux mac windows } timeoutSeconds updatedAt executionServer { id name } ${POLICY_FIELDS} }
  queues { code default hooks { id hook mode enabled commands { linux mac windows } timeoutSeconds ${POLICY_FIELDS} } }
  executionServers { id name hostname os kind online }
  secrets { name }
}`;

// ---------------------------------------------------------------------------------------------
// The effective hooks a (possibly changed) configuration produces: the rules of
// HookConfigService.resolve (src/services/hook-config.service.ts), for a job of `queue`.

export interface Projected {
  from: string;
  command: string | null;
  runsOn: string | null;
  willRun: boolean;
  reason: string | null;
}

export function project(w: World, hook: string, queueCode: string | null): Projected[] {
  const info = hookPointInfo(hook as HookPoint);
  const queue = queueCode === null ? w.queues.find((q) => q.default) : w.queues.find((q) => q.code === queueCode);
  const workspace = w.hookConfigs.find((c) => c.hook === hook);
  const configured = workspace && workspace.updatedAt !== null ? workspace : null;
  const queueHook = queue?.hooks.find((h) => h.hook === hook) ?? null;
  const serverId = info.client ? null : (configured?.executionServer?.id ?? w.settings.defaultExecutionServer?.id ?? null);
  const server = serverId ? (w.executionServers.find((s) => s.id === serverId) ?? null) : null;
  const overriding = queueHook?.enabled && queueHook.mode === "OVERRIDE";
  const entry = (from: string, enabled: boolean, commands: Commands, isWorkspace: boolean): Projected => {
    const os = server?.os as Os | undefined;
    const e: Projected = { from, command: os ? commands[os] : null, runsOn: server ? `${server.name} (${server.os})` : info.client ? "the job's client" : null, willRun: true, reason: null };
    const skip = (reason: string) => {
      if (e.willRun) Object.assign(e, { willRun: false, reason });
    };
    if (!w.settings.hooksEnabled) skip("hooks are disabled in the workspace settings");
    if (isWorkspace && overriding) skip(`overridden by the OVERRIDE entry of queue '${queue?.code}'`);
    if (!enabled) skip(isWorkspace ? `${hook} is disabled` : `the queue '${queue?.code}' entry for ${hook} is disabled`);
    if (!server) {
      if (!info.client) skip("no execution server: set a default execution server in the settings");
    } else if (e.command === null) skip(`no command line for ${server.os} (the OS of '${server.name}')`);
    return e;
  };
  const rows: Projected[] = [];
  if (configured) rows.push(entry("workspace", configured.enabled, configured.commands, true));
  else {
    const e: Projected = { from: "workspace", command: null, runsOn: null, willRun: false, reason: `${hook} is not configured in the workspace` };
    if (!w.settings.hooksEnabled) e.reason = "hooks are disabled in the workspace settings";
    rows.push(e);
  }
  if (queueHook && queue) rows.push(entry(`queue ${queue.code} (${queueHook.mode.toLowerCase()})`, queueHook.enabled, queueHook.commands, false));
  return rows;
}

function EntryList({ rows }: { rows: Projected[] }) {
  return (
    <ul className="commands">
      {rows.map((r, i) => (
        <li key={i}>
          <span className="tag">{r.from}</span>{" "}
          {r.willRun ? (
            <>
              runs {r.command ? <code>{r.command}</code> : null} {r.runsOn ? `on ${r.runsOn}` : ""}
            </>
          ) : (
            <span className="muted">skipped: {r.reason}</span>
          )}
        </li>
      ))}
    </ul>
  );
}

/** What hookd says runs today for (hook, queue): the effectiveHooks query itself. */
function EffectiveNow({ hook, queue }: { hook: string; queue: string | null }) {
  const { data, error } = useQuery<{
    effectiveHooks: {
      source: string;
      mode: string | null;
      queue: string | null;
      command: string | null;
      os: string | null;
      willRun: boolean;
      skipMessage: string | null;
      executionServer: { name: string } | null;
    }[];
  }>("query($hook: HookPoint!, $queue: String) { effectiveHooks(hook: $hook, queue: $queue) { source mode queue command os willRun skipMessage executionServer { name } } }", {
    hook,
    queue: queue ?? undefined,
  });
  if (error) return <ErrorBox error={error} />;
  if (!data) return <span className="muted">…</span>;
  return (
    <EntryList
      rows={data.effectiveHooks.map((h) => ({
        from: h.source === "QUEUE" ? `queue ${h.queue} (${h.mode?.toLowerCase()})` : "workspace",
        command: h.command,
        runsOn: h.executionServer ? `${h.executionServer.name}${h.os ? ` (${h.os})` : ""}` : hookPointInfo(hook as HookPoint).client ? "the job's client" : null,
        willRun: h.willRun,
        reason: h.skipMessage,
      }))}
    />
  );
}

// ---------------------------------------------------------------------------------------------
// Review before saving.

export type Change = [what: string, before: string, after: string];

interface ReviewProps {
  title: string;
  changes: Change[];
  dangers: string[];
  /** The (hook point, queue) pairs whose effective hooks the change touches; queue null: the default queue. */
  pairs: { hook: string; queue: string | null }[];
  after: World;
  busy: boolean;
  onSave: () => void;
  onBack: () => void;
}

function Review(props: ReviewProps) {
  const [confirmed, setConfirmed] = useState(false);
  const confirmId = useId();
  return (
    <section className="review" aria-label={props.title}>
      <h3>{props.title}</h3>
      <table className="list changes">
        <thead>
          <tr>
            <th scope="col">What</th>
            <th scope="col">Now</th>
            <th scope="col">After saving</th>
          </tr>
        </thead>
        <tbody>
          {props.changes.map(([what, before, after]) => (
            <tr key={what} data-change={what}>
              <td>{what}</td>
              <td>{before}</td>
              <td>{after}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.pairs.length === 0 ? (
        <p className="muted">No hook point runs differently after this change.</p>
      ) : (
        <>
          <h4>Effective hooks</h4>
          <table className="list effective-preview">
            <thead>
              <tr>
                <th scope="col">Hook point</th>
                <th scope="col">Queue</th>
                <th scope="col">Now (hookd)</th>
                <th scope="col">After saving</th>
              </tr>
            </thead>
            <tbody>
              {props.pairs.map((p) => (
                <tr key={`${p.hook}/${p.queue}`}>
                  <td>{p.hook}</td>
                  <td>{p.queue ?? "the default queue"}</td>
                  <td>
                    <EffectiveNow hook={p.hook} queue={p.queue} />
                  </td>
                  <td className="after">
                    <EntryList rows={project(props.after, p.hook, p.queue)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {props.dangers.length > 0 && (
        <div className="danger-box" role="alert">
          <ul>
            {props.dangers.map((d) => (
              <li key={d}>{d}</li>
            ))}
          </ul>
          <input id={confirmId} type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} /> <label htmlFor={confirmId}>I understand, make this change</label>
        </div>
      )}
      <div className="actions">
        <button type="button" className={props.dangers.length > 0 ? "danger" : ""} disabled={props.busy || (props.dangers.length > 0 && !confirmed)} onClick={props.onSave}>
          {props.busy ? "Saving…" : "Save"}
        </button>
        <button type="button" onClick={props.onBack} disabled={props.busy}>
          Back to editing
        </button>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Form pieces.

/** A labelled control with the server's error for that field next to it. */
function EditField({ label, error, hint, children }: { label: string; error?: string; hint?: string; children: React.ReactElement<Record<string, unknown>> }) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const described = [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`edit-field${error ? " invalid" : ""}`}>
      <label htmlFor={id} className="field-label">
        {label}
      </label>
      {cloneElement(children, { id, "aria-invalid": error ? true : undefined, "aria-describedby": described })}
      {hint && (
        <span className="muted hint" id={hintId}>
          {hint}
        </span>
      )}
      {error && (
        <span className="field-error" id={errorId} role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

interface EntryDraft {
  enabled: boolean;
  commands: Record<Os, string>;
  timeout: string;
  attempts: string;
  firstDelay: string;
  concurrencyKey: string;
  maxConcurrent: string;
  env: string;
}

function draftOf(e: { enabled: boolean; commands: Commands; timeoutSeconds: number | null; policy: PolicyIn | null } | null): EntryDraft {
  const p = e?.policy ?? null;
  return {
    enabled: e?.enabled ?? true,
    commands: { linux: e?.commands.linux ?? "", mac: e?.commands.mac ?? "", windows: e?.commands.windows ?? "" },
    timeout: e?.timeoutSeconds != null ? String(e.timeoutSeconds) : "",
    attempts: p?.retry ? String(p.retry.maxAttempts) : "1",
    firstDelay: p?.retry ? String(p.retry.initialDelaySeconds) : "",
    concurrencyKey: p?.concurrencyKey ?? "",
    maxConcurrent: p?.maxConcurrent != null ? String(p.maxConcurrent) : "",
    env: p?.env.join(", ") ?? "",
  };
}

const num = (s: string): number | null => (s.trim() === "" ? null : Number(s));

/** The policy input the draft means; the retry settings the form does not show are kept from `base`. */
function policyOf(d: EntryDraft, base: PolicyIn | null): PolicyIn | null {
  const attempts = num(d.attempts) ?? 1;
  const kept = base?.retry;
  const retry: RetryIn | null =
    attempts === 1
      ? null
      : {
          maxAttempts: attempts,
          initialDelaySeconds: num(d.firstDelay) ?? kept?.initialDelaySeconds ?? 1,
          factor: kept?.factor ?? 2,
          maxDelaySeconds: Math.max(kept?.maxDelaySeconds ?? 300, num(d.firstDelay) ?? 0),
          jitter: kept?.jitter ?? 0.2,
          retryExitCodes: kept?.retryExitCodes ?? null,
          permanentExitCodes: kept?.permanentExitCodes ?? [],
          retryTimedOut: kept?.retryTimedOut ?? true,
          retryRunnerLost: kept?.retryRunnerLost ?? true,
        };
  const env = d.env.split(/[\s,]+/).filter((s) => s !== "");
  const policy: PolicyIn = { retry, maxConcurrent: num(d.maxConcurrent), concurrencyKey: d.concurrencyKey.trim() === "" ? null : d.concurrencyKey, env };
  return retry === null && policy.maxConcurrent === null && policy.concurrencyKey === null && env.length === 0 ? null : policy;
}

function describePolicy(p: PolicyIn | null): Record<string, string> {
  return {
    Retries: p?.retry ? `${p.retry.maxAttempts} attempts, first retry after ${p.retry.initialDelaySeconds} s` : "none",
    "Concurrency key": p?.concurrencyKey ?? "none",
    "At most at once": p?.maxConcurrent != null ? String(p.maxConcurrent) : "no limit",
    Secrets: p?.env.length ? p.env.join(", ") : "none",
  };
}

function entryChanges(before: EntryDraft, after: EntryDraft, policyBefore: PolicyIn | null, policyAfter: PolicyIn | null): Change[] {
  const changes: Change[] = [];
  if (before.enabled !== after.enabled) changes.push(["Enabled", before.enabled ? "yes" : "no", after.enabled ? "yes" : "no"]);
  for (const os of OSES) {
    if (before.commands[os].trim() !== after.commands[os].trim()) changes.push([`Command line (${os})`, before.commands[os] || "none", after.commands[os].trim() || "none"]);
  }
  if (before.timeout.trim() !== after.timeout.trim())
    changes.push(["Timeout", before.timeout ? `${before.timeout} s` : "the default", after.timeout.trim() ? `${after.timeout.trim()} s` : "the default"]);
  const pb = describePolicy(policyBefore);
  const pa = describePolicy(policyAfter);
  for (const k of Object.keys(pb)) if (pb[k] !== pa[k]) changes.push([k, pb[k], pa[k]]);
  return changes;
}

/** Form fields keyed as the server names them ("commands.linux"); a list index is dropped. */
const fieldKey = (field: string) => field.replace(/\[\d+\]$/, "");

function EntryFields({ draft, set, errors, secrets, showPolicy = true }: { draft: EntryDraft; set: (d: EntryDraft) => void; errors: Record<string, string>; secrets: string[]; showPolicy?: boolean }) {
  const enabledId = useId();
  return (
    <>
      <div className="edit-field checkbox">
        <input id={enabledId} type="checkbox" checked={draft.enabled} onChange={(e) => set({ ...draft, enabled: e.target.checked })} /> <label htmlFor={enabledId}>Enabled</label>
        {errors.enabled && <span className="field-error">{errors.enabled}</span>}
      </div>
      {OSES.map((os) => (
        <EditField key={os} label={`Command line (${os})`} error={errors[`commands.${os}`]}>
          <input
            type="text"
            className="command-input"
            spellCheck={false}
            value={draft.commands[os]}
            placeholder="none: not configured for this OS"
            onChange={(e) => set({ ...draft, commands: { ...draft.commands, [os]: e.target.value } })}
          />
        </EditField>
      ))}
      <EditField label="Timeout (seconds)" error={errors.timeoutSeconds} hint="empty: the hook point's default">
        <input type="number" min={1} value={draft.timeout} onChange={(e) => set({ ...draft, timeout: e.target.value })} />
      </EditField>
      {showPolicy && (
        <fieldset className="policy-fields">
          <legend>Policy</legend>
          <EditField label="Attempts" error={errors["policy.retry.maxAttempts"]} hint="1: never retried">
            <input type="number" min={1} max={20} value={draft.attempts} onChange={(e) => set({ ...draft, attempts: e.target.value })} />
          </EditField>
          <EditField label="First retry after (seconds)" error={errors["policy.retry.initialDelaySeconds"]}>
            <input type="number" min={0} step="any" value={draft.firstDelay} onChange={(e) => set({ ...draft, firstDelay: e.target.value })} />
          </EditField>
          <EditField label="Concurrency key" error={errors["policy.concurrencyKey"]} hint="e.g. ${job.queue}: one run at a time per key">
            <input type="text" spellCheck={false} value={draft.concurrencyKey} onChange={(e) => set({ ...draft, concurrencyKey: e.target.value })} />
          </EditField>
          <EditField label="At most at once" error={errors["policy.maxConcurrent"]} hint="empty: no limit">
            <input type="number" min={1} value={draft.maxConcurrent} onChange={(e) => set({ ...draft, maxConcurrent: e.target.value })} />
          </EditField>
          <EditField label="Secrets (environment names)" error={errors["policy.env"]} hint={secrets.length ? `set: ${secrets.join(", ")}` : "no secrets are set (hookd secret set)"}>
            <input type="text" spellCheck={false} value={draft.env} onChange={(e) => set({ ...draft, env: e.target.value })} />
          </EditField>
        </fieldset>
      )}
    </>
  );
}

const commandsInput = (d: EntryDraft): Commands => ({ linux: d.commands.linux.trim() || null, mac: d.commands.mac.trim() || null, windows: d.commands.windows.trim() || null });

/** Queues whose effective hooks for `hook` a workspace change touches: the default one and those with an entry. */
function pairsFor(w: World, hook: string): { hook: string; queue: string | null }[] {
  return [{ hook, queue: null }, ...w.queues.filter((q) => !q.default && q.hooks.some((h) => h.hook === hook)).map((q) => ({ hook, queue: q.code }))];
}

function useSaver(onSaved: (message: string) => void, known: (field: string) => boolean) {
  const { api } = useSession();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const save = async (mutation: string, variables: Record<string, unknown>, message: string): Promise<boolean> => {
    setBusy(true);
    try {
      await api.query(mutation, variables);
      setErrors({});
      onSaved(message);
      return true;
    } catch (err) {
      const byField: Record<string, string> = {};
      for (const [f, m] of Object.entries(fieldErrors(err, (f) => known(fieldKey(f))))) byField[f === "" ? "" : fieldKey(f)] = byField[fieldKey(f)] ? `${byField[fieldKey(f)]}; ${m}` : m;
      setErrors(byField);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { errors, setErrors, busy, save };
}

const ENTRY_FIELDS = new Set([
  "enabled",
  "commands.linux",
  "commands.mac",
  "commands.windows",
  "timeoutSeconds",
  "policy.retry.maxAttempts",
  "policy.retry.initialDelaySeconds",
  "policy.concurrencyKey",
  "policy.maxConcurrent",
  "policy.env",
]);

// ---------------------------------------------------------------------------------------------
// The workspace entry of a hook point.

export function HookEditor({ world, hook, onDone, onSaved }: { world: World; hook: string; onDone: () => void; onSaved: (message: string) => void }) {
  const current = world.hookConfigs.find((c) => c.hook === hook) ?? null;
  const client = hookPointInfo(hook as HookPoint).client;
  // A hook point not configured yet starts enabled: that is what configuring one is for.
  const [draft, setDraft] = useState(draftOf(current && current.updatedAt === null ? { ...current, enabled: true } : current));
  const [server, setServer] = useState(current?.executionServer?.id ?? "");
  const [review, setReview] = useState<(Omit<ReviewProps, "busy" | "onSave" | "onBack"> & { input: Record<string, unknown> }) | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { errors, setErrors, busy, save } = useSaver(onSaved, (f) => ENTRY_FIELDS.has(f) || f === "executionServer");
  const servers = world.executionServers.filter((s) => s.kind === "SERVER");
  const clients = world.executionServers.filter((s) => s.kind === "CLIENT");
  const name = (id: string) => world.executionServers.find((s) => s.id === id)?.name ?? id;
  const policyBefore = current?.policy ?? null;

  const startReview = (e: React.FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const policyAfter = policyOf(draft, policyBefore);
    const changes = entryChanges(draftOf(current), draft, policyBefore, policyAfter);
    const unconfigured = !current || current.updatedAt === null;
    const serverBefore = current?.executionServer?.id ?? "";
    if (serverBefore !== server) changes.push(["Runs on", serverBefore ? name(serverBefore) : "the default server", server ? name(server) : "the default server"]);
    if (changes.length === 0) {
      setNotice("Nothing changed.");
      return;
    }
    const input: Record<string, unknown> = { hook };
    if (changes.some(([w]) => w === "Enabled") || unconfigured) input.enabled = draft.enabled;
    const commands = commandsInput(draft);
    const commandsBefore = commandsInput(draftOf(current));
    const changedCommands = Object.fromEntries(OSES.filter((os) => commands[os] !== commandsBefore[os]).map((os) => [os, commands[os]]));
    if (Object.keys(changedCommands).length > 0) input.commands = changedCommands;
    if (draft.timeout.trim() !== draftOf(current).timeout) input.timeoutSeconds = num(draft.timeout);
    if (serverBefore !== server) input.executionServer = server || null;
    if (JSON.stringify(policyAfter) !== JSON.stringify(policyOf(draftOf(current), policyBefore))) input.policy = policyAfter;
    const after: World = {
      ...world,
      hookConfigs: world.hookConfigs.map((c) =>
        c.hook === hook
          ? {
              ...c,
              enabled: draft.enabled,
              commands,
              timeoutSeconds: num(draft.timeout),
              updatedAt: c.updatedAt ?? new Date().toISOString(),
              executionServer: server ? { id: server, name: name(server) } : null,
              policy: policyAfter,
            }
          : c,
      ),
    };
    const dangers: string[] = [];
    if (current?.enabled && current.updatedAt !== null && !draft.enabled) dangers.push(`This disables ${hook}: it stops running for every job (queue OVERRIDE entries still run).`);
    setErrors({});
    setReview({ title: `Review the change to ${hook}`, changes, dangers, pairs: pairsFor(world, hook), after, input });
  };

  return (
    <section className="editor" aria-label={`Edit ${hook}`}>
      <h3>
        Edit {hook} <span className="muted">(workspace entry)</span>
      </h3>
      <form onSubmit={startReview} noValidate>
        <fieldset disabled={review !== null} className="entry-fields">
          <EntryFields draft={draft} set={setDraft} errors={errors} secrets={world.secrets.map((s) => s.name)} />
          <EditField label="Runs on" error={errors.executionServer} hint={client ? "client hooks run on the job's client (elevated users only)" : "a site server; clients run only client hooks"}>
            <select className="wide" value={server} onChange={(e) => setServer(e.target.value)} disabled={client}>
              <option value="">the default server{world.settings.defaultExecutionServer ? ` (${world.settings.defaultExecutionServer.name})` : ""}</option>
              <optgroup label="Servers">
                {servers.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name} ({s.os}
                    {s.online ? "" : ", offline"})
                  </option>
                ))}
              </optgroup>
              {clients.length > 0 && (
                <optgroup label="Clients (for client hooks only)">
                  {clients.map((s) => (
                    <option key={s.id} value={s.id} disabled>
                      {s.name} ({s.os})
                    </option>
                  ))}
                </optgroup>
              )}
            </select>
          </EditField>
        </fieldset>
        <ErrorBox error={errors[""] ?? null} />
        {notice && <p role="status">{notice}</p>}
        {review === null && (
          <div className="actions">
            <button type="submit">Review changes</button>
            <button type="button" onClick={onDone}>
              Cancel
            </button>
          </div>
        )}
      </form>
      {review && (
        <Review
          {...review}
          busy={busy}
          onBack={() => setReview(null)}
          onSave={() =>
            void save("mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }", { input: review.input }, `Saved ${hook}.`).then((ok) => {
              setReview(null);
              if (ok) onDone();
            })
          }
        />
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// A queue's own entry for a hook point, in OVERRIDE or APPEND mode.

export function QueueHookEditor({ world, queue, hook: fixedHook, onDone, onSaved }: { world: World; queue: string; hook: string | null; onDone: () => void; onSaved: (message: string) => void }) {
  const q = world.queues.find((x) => x.code === queue)!;
  const [hook, setHook] = useState(fixedHook ?? HOOK_POINTS.find((h) => !q.hooks.some((e) => e.hook === h)) ?? HOOK_POINTS[0]);
  const current = q.hooks.find((h) => h.hook === hook) ?? null;
  const [draft, setDraft] = useState(draftOf(current));
  const [mode, setMode] = useState(current?.mode ?? "OVERRIDE");
  const [ownPolicy, setOwnPolicy] = useState(current?.policy != null);
  const [review, setReview] = useState<(Omit<ReviewProps, "busy" | "onSave" | "onBack"> & { mutation: string; variables: Record<string, unknown>; message: string }) | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { errors, setErrors, busy, save } = useSaver(onSaved, (f) => ENTRY_FIELDS.has(f) || f === "mode" || f === "hook");
  const ownPolicyId = useId();
  const workspacePolicy = world.hookConfigs.find((c) => c.hook === hook)?.policy ?? null;

  const chooseHook = (h: string) => {
    setHook(h);
    const entry = q.hooks.find((e) => e.hook === h) ?? null;
    setDraft(draftOf(entry));
    setMode(entry?.mode ?? "OVERRIDE");
    setOwnPolicy(entry?.policy != null);
  };

  const startReview = (e: React.FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const policyAfter = ownPolicy ? policyOf(draft, current?.policy ?? null) : null;
    const before = draftOf(current);
    const changes = entryChanges(before, draft, current?.policy ?? null, policyAfter);
    if (!current) changes.unshift(["Entry", "none: the workspace entry applies", `${mode.toLowerCase()} entry`]);
    else if (current.mode !== mode) changes.unshift(["Mode", current.mode.toLowerCase(), mode.toLowerCase()]);
    if (current && (current.policy != null) !== ownPolicy) changes.push(["Policy", current.policy ? "its own" : "the workspace entry's", ownPolicy ? "its own" : "the workspace entry's"]);
    if (changes.length === 0) {
      setNotice("Nothing changed.");
      return;
    }
    const commands = commandsInput(draft);
    const entry: QueueHookRow = { id: current?.id ?? "new", hook, mode, enabled: draft.enabled, commands, timeoutSeconds: num(draft.timeout), policy: policyAfter };
    const after: World = { ...world, queues: world.queues.map((x) => (x.code === queue ? { ...x, hooks: [...x.hooks.filter((h) => h.hook !== hook), entry] } : x)) };
    const dangers = current?.enabled && !draft.enabled ? [`This disables queue ${queue}'s entry for ${hook}.`] : [];
    setErrors({});
    setReview({
      title: `Review queue ${queue}'s entry for ${hook}`,
      changes,
      dangers,
      pairs: [{ hook, queue }],
      after,
      mutation: "mutation($input: SetQueueHookInput!) { setQueueHook(input: $input) { id } }",
      variables: { input: { queue, hook, mode, commands, enabled: draft.enabled, timeoutSeconds: num(draft.timeout), policy: policyAfter } },
      message: `Saved queue ${queue}'s entry for ${hook}.`,
    });
  };

  const startRemove = () => {
    if (!current) return;
    const after: World = { ...world, queues: world.queues.map((x) => (x.code === queue ? { ...x, hooks: x.hooks.filter((h) => h.hook !== hook) } : x)) };
    setReview({
      title: `Review removing queue ${queue}'s entry for ${hook}`,
      changes: [["Entry", `${current.mode.toLowerCase()} entry`, "none: the workspace entry applies"]],
      dangers: [`This removes queue ${queue}'s ${current.mode.toLowerCase()} entry for ${hook}.`],
      pairs: [{ hook, queue }],
      after,
      mutation: "mutation($hook: HookPoint!, $queue: String!) { removeQueueHook(hook: $hook, queue: $queue) { id } }",
      variables: { hook, queue },
      message: `Removed queue ${queue}'s entry for ${hook}.`,
    });
  };

  return (
    <section className="editor" aria-label={`Queue ${queue} hook`}>
      <h3>
        Queue {queue}: {current ? `edit the entry for ${hook}` : "add a hook entry"}
      </h3>
      <form onSubmit={startReview} noValidate>
        <fieldset disabled={review !== null} className="entry-fields">
          <EditField label="Hook point" error={errors.hook}>
            <select className="wide" value={hook} onChange={(e) => chooseHook(e.target.value)} disabled={fixedHook !== null}>
              {HOOK_POINTS.map((h) => (
                <option key={h} value={h}>
                  {h}
                  {q.hooks.some((e) => e.hook === h) ? " (has an entry)" : ""}
                </option>
              ))}
            </select>
          </EditField>
          <EditField label="Mode" error={errors.mode} hint="override: instead of the workspace entry; append: after it">
            <select className="wide" value={mode} onChange={(e) => setMode(e.target.value)}>
              <option value="OVERRIDE">override</option>
              <option value="APPEND">append</option>
            </select>
          </EditField>
          <EntryFields draft={draft} set={setDraft} errors={errors} secrets={world.secrets.map((s) => s.name)} showPolicy={ownPolicy} />
          <div className="edit-field checkbox">
            <input id={ownPolicyId} type="checkbox" checked={ownPolicy} onChange={(e) => setOwnPolicy(e.target.checked)} /> <label htmlFor={ownPolicyId}>Its own policy</label>
            {!ownPolicy && <span className="muted hint">the workspace entry's: {Object.values(describePolicy(workspacePolicy)).join("; ")}</span>}
          </div>
        </fieldset>
        <ErrorBox error={errors[""] ?? null} />
        {notice && <p role="status">{notice}</p>}
        {review === null && (
          <div className="actions">
            <button type="submit">Review changes</button>
            {current && (
              <button type="button" className="danger" onClick={startRemove}>
                Remove entry
              </button>
            )}
            <button type="button" onClick={onDone}>
              Cancel
            </button>
          </div>
        )}
      </form>
      {review && (
        <Review
          {...review}
          busy={busy}
          onBack={() => setReview(null)}
          onSave={() =>
            void save(review.mutation, review.variables, review.message).then((ok) => {
              setReview(null);
              if (ok) onDone();
            })
          }
        />
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Workspace settings.

export function SettingsEditor({ world, onSaved }: { world: World; onSaved: (message: string) => void }) {
  const s = world.settings;
  const [enabled, setEnabled] = useState(s.hooksEnabled);
  const [server, setServer] = useState(s.defaultExecutionServer?.id ?? "");
  const [employeesAudit, setEmployeesAudit] = useState(s.auditRoles.includes("EMPLOYEE"));
  const [scheduleToStart, setScheduleToStart] = useState(String(s.scheduleToStartSeconds));
  const [review, setReview] = useState<(Omit<ReviewProps, "busy" | "onSave" | "onBack"> & { input: Record<string, unknown> }) | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const { errors, setErrors, busy, save } = useSaver(onSaved, (f) => ["hooksEnabled", "defaultExecutionServer", "auditRoles", "scheduleToStartSeconds"].includes(f));
  const ids = { enabled: useId(), employees: useId() };
  const name = (id: string) => world.executionServers.find((x) => x.id === id)?.name ?? "none";

  const startReview = (e: React.FormEvent) => {
    e.preventDefault();
    setNotice(null);
    const changes: Change[] = [];
    const input: Record<string, unknown> = {};
    const dangers: string[] = [];
    if (enabled !== s.hooksEnabled) {
      changes.push(["Hooks enabled", s.hooksEnabled ? "yes" : "no", enabled ? "yes" : "no"]);
      input.hooksEnabled = enabled;
      if (!enabled) dangers.push("This disables every hook in the workspace: no hook runs anywhere, every execution is recorded as SKIPPED, and pre-submit and pre-publish checks stop.");
    }
    const serverBefore = s.defaultExecutionServer?.id ?? "";
    if (server !== serverBefore) {
      changes.push(["Default execution server", name(serverBefore), name(server)]);
      input.defaultExecutionServer = server;
      dangers.push(
        `Every hook without its own server moves from ${name(serverBefore)} to ${name(server)}: it runs there, with that machine's OS and command lines, and waits QUEUED while no runner of it is online.`,
      );
    }
    const rolesAfter = employeesAudit ? ["EMPLOYEE"] : [];
    if (employeesAudit !== s.auditRoles.includes("EMPLOYEE")) {
      changes.push(["Audit roles", ["ADMIN", ...s.auditRoles].join(", "), ["ADMIN", ...rolesAfter].join(", ")]);
      input.auditRoles = rolesAfter;
    }
    if (scheduleToStart.trim() !== String(s.scheduleToStartSeconds)) {
      changes.push(["Schedule-to-start", `${s.scheduleToStartSeconds} s`, `${scheduleToStart.trim()} s`]);
      input.scheduleToStartSeconds = num(scheduleToStart);
    }
    if (changes.length === 0) {
      setNotice("Nothing changed.");
      return;
    }
    const newServer = world.executionServers.find((x) => x.id === server);
    const after: World = { ...world, settings: { ...s, hooksEnabled: enabled, defaultExecutionServer: newServer ? { id: newServer.id, name: newServer.name } : s.defaultExecutionServer } };
    const pairs = input.hooksEnabled !== undefined || input.defaultExecutionServer !== undefined ? HOOK_POINTS.map((h) => ({ hook: h as string, queue: null })) : [];
    setErrors({});
    setReview({ title: "Review the workspace settings", changes, dangers, pairs, after, input });
  };

  return (
    <section aria-labelledby="settings">
      <h2 id="settings">Workspace settings</h2>
      <form onSubmit={startReview} className="editor" noValidate>
        <fieldset disabled={review !== null} className="entry-fields">
          <div className="edit-field checkbox">
            <input id={ids.enabled} type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> <label htmlFor={ids.enabled}>Hooks enabled</label>
            {errors.hooksEnabled && <span className="field-error">{errors.hooksEnabled}</span>}
          </div>
          <EditField label="Default execution server" error={errors.defaultExecutionServer} hint="where hooks without their own server run">
            <select className="wide" value={server} onChange={(e) => setServer(e.target.value)}>
              {!s.defaultExecutionServer && <option value="">none</option>}
              {world.executionServers
                .filter((x) => x.kind === "SERVER")
                .map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.name} ({x.os}
                    {x.online ? "" : ", offline"})
                  </option>
                ))}
            </select>
          </EditField>
          <div className="edit-field checkbox">
            <input id={ids.employees} type="checkbox" checked={employeesAudit} onChange={(e) => setEmployeesAudit(e.target.checked)} />{" "}
            <label htmlFor={ids.employees}>EMPLOYEE users may audit hooks and read execution logs</label>
            {errors.auditRoles && <span className="field-error">{errors.auditRoles}</span>}
          </div>
          <EditField label="Schedule-to-start (seconds)" error={errors.scheduleToStartSeconds} hint="how long a run may wait QUEUED for a runner of its server">
            <input type="number" min={1} value={scheduleToStart} onChange={(e) => setScheduleToStart(e.target.value)} />
          </EditField>
        </fieldset>
        <ErrorBox error={errors[""] ?? null} />
        {notice && <p role="status">{notice}</p>}
        {review === null && (
          <div className="actions">
            <button type="submit">Review changes</button>
          </div>
        )}
      </form>
      {review && (
        <Review
          {...review}
          busy={busy}
          onBack={() => setReview(null)}
          onSave={() =>
            void save("mutation($input: UpdateSettingsInput!) { updateSettings(input: $input) { hooksEnabled } }", { input: review.input }, "Saved the workspace settings.").then(() => setReview(null))
          }
        />
      )}
    </section>
  );
}
