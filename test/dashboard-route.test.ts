import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import express from "express";
import { dashboardRouter } from "../src/http/dashboard.js";

/** An Express app serving `dir` as the dashboard, listening on a free port. */
async function serve(dir: string): Promise<{ url: string; server: http.Server }> {
  const app = express();
  app.use(dashboardRouter(dir));
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("the dashboard's route", () => {
  let work: string;
  before(() => {
    work = mkdtempSync(path.join(tmpdir(), "hookd-dashboard-route-"));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("page addresses get index.html (never cached), hashed assets are cached for good, the rest is a 404", async () => {
    const dir = path.join(work, "built");
    mkdirSync(path.join(dir, "assets"), { recursive: true });
    writeFileSync(path.join(dir, "index.html"), "<!doctype html><div id=root></div>");
    writeFileSync(path.join(dir, "assets", "index-abc123.js"), "console.log(1)");
    const { url, server } = await serve(dir);
    try {
      for (const page of ["/", "/executions", "/executions/0190-abc", "/publishes/x?y=1"]) {
        const res = await fetch(`${url}${page}`, { headers: { accept: "text/html,application/xhtml+xml" } });
        assert.equal(res.status, 200, page);
        assert.equal(res.headers.get("cache-control"), "no-cache", page);
        assert.match(await res.text(), /id=root/);
      }
      const asset = await fetch(`${url}/assets/index-abc123.js`);
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get("cache-control") ?? "", /max-age=31536000, immutable/);
      assert.equal((await fetch(`${url}/assets/missing.js`)).status, 404);
      assert.equal((await fetch(`${url}/robots.txt`, { headers: { accept: "text/html" } })).status, 404);
      // Except hookd's icon, which every browser asks for.
      const icon = await fetch(`${url}/favicon.ico`, { headers: { accept: "text/html" } });
      assert.equal(icon.status, 200);
      assert.equal(icon.headers.get("content-type"), "image/x-icon");
      assert.equal((await fetch(`${url}/executions`, { headers: { accept: "application/json" } })).status, 404);
      assert.equal((await fetch(`${url}/executions`, { method: "POST", headers: { accept: "text/html" } })).status, 404);
    } finally {
      server.close();
    }
  });

  test("without a build it says how to make one", async () => {
    const { url, server } = await serve(path.join(work, "never-built"));
    try {
      const res = await fetch(url, { headers: { accept: "text/html" } });
      assert.equal(res.status, 503);
      assert.match(await res.text(), /the dashboard is not built: run `npm run build`/);
    } finally {
      server.close();
    }
  });
});
