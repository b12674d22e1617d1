import { createRequire } from "node:module";
import path from "node:path";
import express, { type Router } from "express";

// Apollo's landing page loads from a CDN and hookd's networks often reach no internet, so the IDE
// (GraphiQL with React) is served from the npm packages installed with hookd.
const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

const ASSETS: Record<string, string> = {
  "react.production.min.js": path.join(packageDir("react"), "umd", "react.production.min.js"),
  "react-dom.production.min.js": path.join(packageDir("react-dom"), "umd", "react-dom.production.min.js"),
  "graphiql.min.js": path.join(packageDir("graphiql"), "graphiql.min.js"),
  "graphiql.min.css": path.join(packageDir("graphiql"), "graphiql.min.css"),
};

export const IDE_ASSET_PATH = "/ide-assets";
/** Where the dashboard keeps the signed-in key (web/src/api.ts): the IDE, same origin and tab, reads it there. */
export const DASHBOARD_KEY_STORAGE = "hookd.apiKey";

function page(endpoint: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hookd GraphQL IDE</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="${IDE_ASSET_PATH}/graphiql.min.css">
<style>html, body, #ide { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="ide"></div>
<script src="${IDE_ASSET_PATH}/react.production.min.js"></script>
<script src="${IDE_ASSET_PATH}/react-dom.production.min.js"></script>
<script src="${IDE_ASSET_PATH}/graphiql.min.js"></script>
<script>
  // Every request needs an API key. Signed in to the dashboard in this tab, the IDE uses that key
  // (the dashboard keeps it in this tab's session storage, under ${JSON.stringify(DASHBOARD_KEY_STORAGE)}); otherwise put
  // yours in the Headers tab ("Bearer hkd_..."). Subscriptions go over graphql-ws on the same path;
  // GraphiQL sends the Headers tab as the connection_init payload, where hookd reads the key.
  const subscriptionUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + ${JSON.stringify(endpoint)};
  const base = GraphiQL.createFetcher({ url: ${JSON.stringify(endpoint)}, subscriptionUrl });
  let signedInKey = null;
  try {
    signedInKey = sessionStorage.getItem(${JSON.stringify(DASHBOARD_KEY_STORAGE)});
  } catch {}
  // A key typed in the Headers tab wins; none, or the placeholder, sends the signed-in key. It is
  // added per request (also as the subscription's connection parameters), never written to storage.
  const usable = (headers) => Object.entries(headers || {}).some(([name, value]) => name.toLowerCase() === "authorization" && /^Bearer [^\\s<>]+$/i.test(String(value).trim()));
  const fetcher = (params, options) =>
    signedInKey && !usable(options && options.headers)
      ? base(params, { ...options, headers: { ...(options && options.headers), Authorization: "Bearer " + signedInKey } })
      : base(params, options);
  const start = signedInKey
    ? {
        defaultHeaders: "{}",
        defaultQuery: "# Signed in: requests carry the key you signed in to the dashboard with,\\n# unless the Headers tab below sets another Authorization header. Run:\\n{\\n  me { email role }\\n  queues { code name priority default }\\n}\\n",
      }
    : {
        defaultHeaders: JSON.stringify({ Authorization: "Bearer <your API key>" }, null, 2),
        defaultQuery: "# Set your API key in the Headers tab below (or sign in to the dashboard in this tab first), then run:\\n{\\n  me { email role }\\n  queues { code name priority default }\\n}\\n",
      };
  ReactDOM.createRoot(document.getElementById("ide")).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      ...start,
    }),
  );
</script>
</body>
</html>`;
}

/** Serves the IDE at GET `endpoint` for browsers (Accept: text/html) and its assets. */
export function graphqlIdeRouter(endpoint: string): Router {
  const router = express.Router();
  router.get(`${IDE_ASSET_PATH}/:file`, (req, res) => {
    const file = ASSETS[req.params.file];
    if (!file) {
      res.status(404).type("text/plain").send("no such IDE asset\n");
      return;
    }
    res.sendFile(file, { maxAge: "1d" });
  });
  router.get(endpoint, (req, res, next) => {
    // A GET carrying a query, or asking for JSON, is a GraphQL request for Apollo.
    if (req.query.query !== undefined || req.accepts(["application/json", "text/html"]) !== "text/html") {
      next();
      return;
    }
    res.type("html").send(page(endpoint));
  });
  return router;
}
