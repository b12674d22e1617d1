import { createClient, type Client } from "graphql-ws";

export const GRAPHQL_PATH = "/graphql";
const KEY_STORAGE = "hookd.apiKey";

/** A GraphQL error as hookd answers it: a message that names the rule, and a stable code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    /** Each error's message and the input field it blames (extensions.field, e.g. "input.commands.linux"), when it names one. */
    readonly errors: { message: string; field: string | null }[] = [],
  ) {
    super(message);
  }
}

/**
 * The errors of a refused mutation by input field, "input." left off ("commands.linux", "policy.env[0]");
 * a message that names no field (or one `known` does not accept) is under "". A message keeps
 * the server's words, without the field's name in front of it.
 */
export function fieldErrors(err: unknown, known: (field: string) => boolean = () => true): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (field: string, message: string) => {
    out[field] = out[field] ? `${out[field]}; ${message}` : message;
  };
  if (!(err instanceof ApiError) || err.errors.length === 0) {
    add("", err instanceof Error ? err.message : String(err));
    return out;
  }
  for (const e of err.errors) {
    // Validation errors without extensions.field still start with "input.<field>: ".
    const named = e.field ?? /^(input\.[\w.[\]]+): /.exec(e.message)?.[1] ?? null;
    const field = named?.replace(/^input\./, "") ?? null;
    if (field !== null && known(field)) add(field, named && e.message.startsWith(`${named}: `) ? e.message.slice(named.length + 2) : e.message);
    else add("", e.message);
  }
  return out;
}

// The key lives in session storage: it survives a reload but not the closing of the tab.
export const storedKey = (): string | null => sessionStorage.getItem(KEY_STORAGE);
export const storeKey = (key: string | null): void => (key ? sessionStorage.setItem(KEY_STORAGE, key) : sessionStorage.removeItem(KEY_STORAGE));

/** One signed-in session: queries over HTTP, subscriptions over one graphql-ws socket. */
export class Api {
  private ws: Client | null = null;

  /** Called when hookd refuses the key mid-session (revoked, or the user removed). */
  onUnauthenticated: ((message: string) => void) | null = null;

  constructor(readonly key: string) {}

  async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(GRAPHQL_PATH, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.key}` },
        body: JSON.stringify({ query, variables }),
      });
    } catch {
      throw new ApiError("hookd cannot be reached: check that the server is running", "NETWORK");
    }
    const body = (await res.json().catch(() => null)) as { data?: T; errors?: { message: string; extensions?: { code?: string; field?: string } }[] } | null;
    if (!body) throw new ApiError(`hookd answered HTTP ${res.status} without a GraphQL body`, "HTTP");
    if (body.errors?.length) {
      const error = new ApiError(
        body.errors.map((e) => e.message).join("; "),
        body.errors[0].extensions?.code,
        body.errors.map((e) => ({ message: e.message, field: e.extensions?.field ?? null })),
      );
      if (error.code === "UNAUTHENTICATED") this.onUnauthenticated?.(error.message);
      throw error;
    }
    return body.data as T;
  }

  private socket(): Client {
    if (!this.ws) {
      const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${GRAPHQL_PATH}`;
      // graphql-ws reconnects on its own; the callers resume from what they last saw (seq, list refresh).
      this.ws = createClient({
        url,
        connectionParams: { authorization: `Bearer ${this.key}` },
        lazy: true,
        // A restarted or unreachable hookd is waited for indefinitely, trying at most every ~10 s.
        retryAttempts: Infinity,
        retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(2 ** retries, 10) * 1000 + Math.random() * 500)),
      });
    }
    return this.ws;
  }

  /** Runs a subscription; returns the function that stops it. */
  subscribe<T>(query: string, variables: Record<string, unknown>, on: { next: (data: T) => void; error?: (err: ApiError) => void; complete?: () => void }): () => void {
    return this.socket().subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) on.error?.(new ApiError(result.errors.map((e) => e.message).join("; "), result.errors[0].extensions?.code as string | undefined));
          else if (result.data) on.next(result.data as T);
        },
        error: (err) => {
          const message = err instanceof CloseEvent ? `live updates closed: ${err.reason || `code ${err.code}`}` : err instanceof Error ? err.message : "live updates failed";
          on.error?.(new ApiError(message, "SUBSCRIPTION"));
        },
        complete: () => on.complete?.(),
      },
    );
  }

  /** Calls `onReconnect` each time the socket comes back after a drop (not on the first connect). */
  onReconnect(onReconnect: () => void): () => void {
    let connectedBefore = false;
    return this.socket().on("connected", () => {
      if (connectedBefore) onReconnect();
      connectedBefore = true;
    });
  }

  /** Calls `onDrop` when the socket closes for any reason but sign-out (graphql-ws then retries). */
  onDrop(onDrop: () => void): () => void {
    return this.socket().on("closed", () => {
      if (!this.closing) onDrop();
    });
  }

  private closing = false;

  close(): void {
    this.closing = true;
    void this.ws?.dispose();
    this.ws = null;
  }
}

export type Role = "ADMIN" | "EMPLOYEE" | "STANDARD";

export interface Me {
  id: string;
  email: string;
  role: Role;
  /** ADMIN or an audit role: executions, logs, configuration and the audit trail. */
  canAudit: boolean;
  /** ADMIN or EMPLOYEE: execution servers. */
  elevated: boolean;
  admin: boolean;
}

/** Who the key belongs to and what the workspace lets that role read. */
export async function signIn(api: Api): Promise<Me> {
  const data = await api.query<{ me: { id: string; email: string; role: Role }; settings: { auditRoles: Role[] } }>("{ me { id email role } settings { auditRoles } }");
  const role = data.me.role;
  return { ...data.me, admin: role === "ADMIN", elevated: role !== "STANDARD", canAudit: role === "ADMIN" || data.settings.auditRoles.includes(role) };
}

export const HOOK_POINTS = [
  "PRE_SUBMIT_SERVER",
  "PRE_SUBMIT_CLIENT",
  "POST_SUBMIT_SERVER",
  "POST_SUBMIT_CLIENT",
  "POST_FAILED_SERVER",
  "POST_FAILED_CLIENT",
  "POST_DONE_SERVER",
  "POST_DONE_CLIENT",
  "PRE_PUBLISH_SERVER",
  "PUBLISH_SERVER",
] as const;

export const EXECUTION_STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"] as const;
export const FINISHED = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"]);
