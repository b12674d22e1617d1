import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The dashboard is built into dist/web, which hookd serves at / (src/http/dashboard.ts).
// Everything is bundled: studio networks are often closed, so nothing may come from a CDN.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  // Vite's own transform (oxc) compiles the TSX with React's automatic JSX runtime; no plugin needed.
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    // Large enough for React, graphql-ws and the virtualiser in one chunk without a warning.
    chunkSizeWarningLimit: 800,
  },
  logLevel: "warn",
});
