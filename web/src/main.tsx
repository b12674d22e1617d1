import { StrictMode, useEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { Link, Redirect, Route, Switch, useLocation } from "wouter";
import { Api, ApiError, signIn, storedKey, storeKey, type Me } from "./api.js";
import { SessionContext } from "./session.js";
import { ExecutionsPage } from "./pages/executions.js";
import { ExecutionPage } from "./pages/execution.js";
import { JobsPage, JobPage } from "./pages/jobs.js";
import { PublishesPage, PublishPage } from "./pages/publishes.js";
import { ConfigurationPage } from "./pages/configuration.js";
import { AuditPage } from "./pages/audit.js";
import { HistoryPage } from "./pages/history.js";
import { ReplayPage } from "./pages/replay.js";
import "./styles.css";

function SignIn({ onSignedIn, notice }: { onSignedIn: (api: Api, me: Me) => void; notice: string | null }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const api = new Api(key.trim());
    try {
      onSignedIn(api, await signIn(api));
    } catch (err) {
      api.close();
      setError(err instanceof ApiError && err.code === "UNAUTHENTICATED" ? `That key was refused: ${err.message}` : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">hookd</h1>
        <p>Sign in with your API key. It is kept in this tab only (session storage).</p>
        <label htmlFor="api-key">API key</label>
        {/* biome-ignore lint/a11y/noAutofocus: the sign-in page has one field and nothing else to do */}
        <input id="api-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="hkd_…" required autoFocus />
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

function Nav({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  const [location] = useLocation();
  // Only what the role may read: the API refuses the rest, so the page does not offer it.
  const items: [string, string][] = [
    ...(me.canAudit ? ([["/executions", "Executions"]] as [string, string][]) : []),
    ["/jobs", "Jobs"],
    ["/publishes", "Publishes"],
    ...(me.canAudit
      ? ([["/configuration", "Configuration"], ["/history", "History"], ...(me.admin ? ([["/replay", "Replay"]] as [string, string][]) : []), ["/audit", "Audit trail"]] as [string, string][])
      : []),
  ];
  return (
    <header className="topbar">
      <span className="brand">hookd</span>
      <nav aria-label="Main">
        {items.map(([href, label]) => (
          <Link key={href} href={href} className={location.startsWith(href) ? "active" : ""} aria-current={location.startsWith(href) ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <span className="who">
        {me.email} <span className="role">{me.role}</span>
      </span>
      <a href="/graphql" className="ide-link">
        GraphQL IDE
      </a>
      <button type="button" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not here</h1>
      <p>
        There is no such page, or your role cannot see it. <Link href="/">Back to the start</Link>.
      </p>
    </section>
  );
}

/** After a page change, focus moves to the page, so keyboard and screen-reader users start there. */
function FocusOnNavigate() {
  const [location] = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById("content")?.focus({ preventScroll: true });
  }, [location]);
  return null;
}

function App() {
  const [session, setSession] = useState<{ api: Api; me: Me } | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() !== null);
  const [notice, setNotice] = useState<string | null>(null);

  // A key kept from earlier in this tab signs in again; a refused one (revoked) is dropped.
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    const api = new Api(key);
    signIn(api)
      .then((me) => setSession({ api, me }))
      .catch((err: Error) => {
        api.close();
        storeKey(null);
        setNotice(`Your saved key no longer works: ${err.message}`);
      })
      .finally(() => setRestoring(false));
  }, []);

  // A key revoked while signed in ends the session with the reason, instead of failing page by page.
  useEffect(() => {
    if (!session) return;
    session.api.onUnauthenticated = (message) => {
      session.api.close();
      storeKey(null);
      setNotice(`You were signed out: ${message}`);
      setSession(null);
    };
  }, [session]);

  if (restoring) return <p className="loading">Signing in…</p>;
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(api, me) => {
          storeKey(api.key);
          setSession({ api, me });
        }}
      />
    );
  const { me } = session;
  const signOut = () => {
    session.api.close();
    storeKey(null);
    setNotice(null);
    setSession(null);
    // The next person signs in at the start, not on a page of the last one's (their role may not have it).
    history.replaceState(null, "", "/");
  };
  return (
    <SessionContext.Provider value={session}>
      <a href="#content" className="skip">
        Skip to content
      </a>
      <Nav me={me} onSignOut={signOut} />
      <FocusOnNavigate />
      <main id="content" tabIndex={-1}>
        <Switch>
          <Route path="/">{me.canAudit ? <Redirect to="/executions" /> : <Redirect to="/jobs" />}</Route>
          {me.canAudit && <Route path="/executions" component={ExecutionsPage} />}
          {me.canAudit && <Route path="/executions/:id">{(p) => <ExecutionPage id={p.id} />}</Route>}
          <Route path="/jobs" component={JobsPage} />
          <Route path="/jobs/:id">{(p) => <JobPage id={p.id} />}</Route>
          <Route path="/publishes" component={PublishesPage} />
          <Route path="/publishes/:id">{(p) => <PublishPage id={p.id} />}</Route>
          {me.canAudit && <Route path="/configuration" component={ConfigurationPage} />}
          {me.canAudit && <Route path="/history" component={HistoryPage} />}
          {me.admin && <Route path="/replay" component={ReplayPage} />}
          {me.canAudit && <Route path="/audit" component={AuditPage} />}
          <Route component={NotFound} />
        </Switch>
      </main>
    </SessionContext.Provider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
