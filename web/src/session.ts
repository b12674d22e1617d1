import { createContext, useCallback, useContext, useEffect, useState } from "react";
import type { Api, Me } from "./api.js";

export const SessionContext = createContext<{ api: Api; me: Me } | null>(null);

export function useSession(): { api: Api; me: Me } {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

/** Runs a query when its inputs change; `reload` runs it again. */
export function useQuery<T>(query: string, variables: Record<string, unknown> = {}): { data: T | null; error: string | null; loading: boolean; reload: () => void } {
  const { api } = useSession();
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const vars = JSON.stringify(variables);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api
      .query<T>(query, JSON.parse(vars))
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((err: Error) => live && setState({ data: null, error: err.message, loading: false }));
    return () => {
      live = false;
    };
  }, [api, query, vars, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
