import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Router } from "express";
import { FAVICON_ICO } from "./favicon.js";

// `npm run build` puts Vite's output in dist/web; this file runs from dist/src/http.
export const DASHBOARD_DIR = fileURLToPath(new URL("../../web", import.meta.url));

/**
 * The web dashboard at `/`: the built files (their names carry a content hash, so they may be
 * cached for good), and index.html for every other page address the browser asks for, since
 * the dashboard routes in the browser.
 */
/** The server's own addresses: never a dashboard page, even when their route is off (/metrics with HOOKD_METRICS=0). */
const SERVER_PATHS = ["/graphql", "/metrics", "/healthz"];

export function dashboardRouter(dir: string = DASHBOARD_DIR): Router {
  const router = express.Router();
  const index = path.join(dir, "index.html");
  // Browsers ask every site for it; also the dashboard's and the GraphQL IDE's icon.
  router.get("/favicon.ico", (_req, res) => {
    res.type("image/x-icon").set("cache-control", "public, max-age=86400").send(FAVICON_ICO);
  });
  router.use("/assets", express.static(path.join(dir, "assets"), { immutable: true, maxAge: "365d", index: false, fallthrough: false }));
  router.use((req, res, next) => {
    // Only page addresses: a missing file or an API client gets the ordinary 404.
    if (
      (req.method !== "GET" && req.method !== "HEAD") ||
      SERVER_PATHS.some((p) => req.path === p || req.path.startsWith(`${p}/`)) ||
      path.extname(req.path) !== "" ||
      req.accepts(["text/html", "application/json"]) !== "text/html"
    ) {
      next();
      return;
    }
    if (!existsSync(index)) {
      res.status(503).type("text/plain").send("the dashboard is not built: run `npm run build`\n");
      return;
    }
    // A new build changes the asset names inside index.html: the page itself is never cached.
    res.sendFile(index, { headers: { "cache-control": "no-cache" } });
  });
  return router;
}
