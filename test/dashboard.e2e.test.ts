import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ADMIN_KEY, eventually, startServer, type TestServer } from "./helpers/server.js";
import { agentSocket, enrolAgent } from "./helpers/agent.js";
import { sqliteOnly } from "./helpers/test-database.js";

// Debian's chromium (.ci/run installs it): Playwright's own browser download cannot work here.
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PY = "/usr/bin/python3";
const EXAMPLES = fileURLToPath(new URL("../../examples/hooks/", import.meta.url));
const DASHBOARD_BUILT = fileURLToPath(new URL("../web/index.html", import.meta.url));
// Set to a folder (docs/screenshots) to refresh the README's screenshots of the main pages.
const SCREENSHOTS = process.env.HOOKD_DASHBOARD_SCREENSHOTS;
const LINES = 200_000;

const missing = !existsSync(CHROMIUM);
const INSTALL = `Chromium is missing at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (.ci/run does this)`;
if (missing && !process.env.CI) console.log(`# dashboard browser tests skipped: ${INSTALL}`);

const SET = `mutation($input: SetHookConfigInput!) { setHookConfig(input: $input) { hook } }`;
const TRIGGER = `mutation($input: TriggerHookInput!) { triggerHook(input: $input) { id status } }`;
const PRE = `mutation($input: PrePublishInput!) { prePublish(input: $input) { id } }`;

// The dashboard only talks to the API, which every other e2e file tests on both stores: one pass (SQLite) is enough.
const skip = sqliteOnly("the dashboard's behaviour does not depend on the store; its API is tested on PostgreSQL by the other e2e files") || (missing && !process.env.CI ? INSTALL : false);

describe("the web dashboard in a real browser", { skip }, () => {
  let server: TestServer;
  let context: BrowserContext;
  let work: string;

  before(async () => {
    // In CI a missing browser is a failure with the reason, never a silent skip.
    if (missing) throw new Error(INSTALL);
    assert.ok(existsSync(DASHBOARD_BUILT), `the dashboard is not built (${DASHBOARD_BUILT}): run npm run build`);
    work = mkdtempSync(path.join(tmpdir(), "hookd-dashboard-"));
    server = await startServer();
    context = await chromium.launchPersistentContext(path.join(work, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1440, height: 900 },
    });
  });
  after(async () => {
    await context?.close();
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh tab (its own session storage) signed in with `key`; a screenshot if `run` fails. */
  async function withPage(name: string, key: string | null, run: (page: Page) => Promise<void>): Promise<void> {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      if (key) await signIn(page, key);
      await run(page);
    } catch (err) {
      // Kept after the run (outside the work folder) for whoever reads the failure.
      const file = path.join(mkdtempSync(path.join(tmpdir(), "hookd-dashboard-failure-")), `${name}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
      console.log(`# screenshot of the failed page: ${file}`);
      throw err;
    } finally {
      await page.close();
    }
  }

  async function signIn(page: Page, key: string, base = server.url) {
    await page.goto(base);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
  }

  /** The viewport, or only `part` of the page. */
  const shot = async (page: Page, name: string, part?: ReturnType<Page["locator"]>) => {
    if (!SCREENSHOTS) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    if (part) await part.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
    else await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  };

  const gate = () => path.join(work, `gate-${randomUUID()}`);

  test("/ serves the dashboard's page and its bundled assets; nothing comes from another host", async () => {
    const res = await fetch(`${server.url}/executions?status=FAILED`, { headers: { accept: "text/html" } });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<div id="root">/);
    assert.doesNotMatch(html, /https?:\/\//);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 2, `expected a script and a stylesheet in ${html}`);
    for (const asset of assets) {
      const a = await fetch(`${server.url}${asset}`);
      assert.equal(a.status, 200, asset);
      assert.match(a.headers.get("cache-control") ?? "", /immutable/);
    }
    assert.equal((await fetch(`${server.url}/assets/nope.js`)).status, 404);
    // API clients still get GraphQL's answers, not the page.
    assert.equal((await fetch(`${server.url}/graphql?query=%7B__typename%7D`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, "apollo-require-preflight": "true" } })).status, 200);
  });

  test("a wrong key gets a clear message and no dashboard", async () => {
    await withPage("wrong-key", null, async (page) => {
      await page.goto(server.url);
      await page.getByLabel("API key").fill("hkd_this_is_not_a_key_0000000000");
      await page.getByRole("button", { name: "Sign in" }).click();
      const alert = page.getByRole("alert");
      await alert.waitFor();
      assert.match(await alert.innerText(), /That key was refused: invalid API key/);
      assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
      await shot(page, "sign-in");
    });
  });

  test("a key revoked while signed in ends the session with the reason", async () => {
    const { createApiKey } = await server.ok(`mutation { createApiKey(label: "browser") { secret apiKey { id } } }`);
    await withPage("revoked", createApiKey.secret, async (page) => {
      await server.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: createApiKey.apiKey.id });
      await page.getByRole("link", { name: "Jobs", exact: true }).click();
      const alert = page.getByRole("alert");
      await alert.waitFor();
      assert.match(await alert.innerText(), /You were signed out: API key hkd_\S+ was revoked/);
      assert.equal(await page.getByRole("button", { name: "Sign out" }).count(), 0);
      // The key is gone from the tab: a reload asks for one again.
      await page.reload();
      await page.getByLabel("API key").waitFor();
    });
  });

  test("a test run's ANSI-coloured lines arrive live in the log, stderr marked, searchable", async () => {
    const script = path.join(work, "colours.sh");
    const open = gate();
    writeFileSync(
      script,
      [
        `printf '\\033[31mred alert\\033[0m then \\033[1;32mbold green\\033[0m\\n'`,
        `echo "a warning on stderr" >&2`,
        `while [ ! -e "$1" ]; do sleep 0.05; done`,
        `printf '\\033[34mafter the gate\\033[0m\\n'`,
      ].join("\n"),
    );
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `/bin/sh ${script} ${open}` } } });
    await withPage("live-log", ADMIN_KEY, async (page) => {
      await page.getByRole("link", { name: "Configuration" }).click();
      await page.getByRole("heading", { name: "Test run" }).waitFor();
      // The payload starts as the hook point's sample and is editable.
      const payload = page.getByLabel(/Payload/);
      await eventually(async () => /"hook": "post-done-server"/.test(await payload.inputValue()), "the sample payload in the form");
      await payload.fill(JSON.stringify({ name: "from the dashboard test" }));
      await page.getByRole("button", { name: "Run the hook" }).click();
      await page.waitForURL(/\/executions\/[0-9a-f-]+$/);
      const red = page.locator(".log-lines .ansi-red-fg", { hasText: "red alert" });
      await red.waitFor();
      assert.ok(await page.locator(".log-lines .ansi-green-fg.ansi-bold", { hasText: "bold green" }).count());
      assert.equal(await page.locator(".log-lines .line.stream-stderr", { hasText: "a warning on stderr" }).count(), 1);
      // Still running: the next line arrives only once the gate opens, over the same live view.
      assert.equal(await page.locator(".log-lines", { hasText: "after the gate" }).count(), 0);
      // Stored QUEUED first, then claimed: the page follows it to RUNNING.
      await page.locator("h1 .status", { hasText: /running/i }).waitFor();
      await shot(page, "execution-live-log");
      writeFileSync(open, "");
      await page.locator(".log-lines .ansi-blue-fg", { hasText: "after the gate" }).waitFor();
      await page.locator("h1 .status", { hasText: /succeeded/i }).waitFor();
      // The input the script saw carries the edited payload.
      assert.match((await page.locator("details.json", { hasText: "Input" }).locator("pre").textContent()) ?? "", /from the dashboard test/);
      await page.getByLabel("Search").fill("gate");
      await page.locator("[data-log-count]", { hasText: "1 matching" }).waitFor();
      assert.equal(await page.locator(".log-lines .line").count(), 1);
      await page.getByLabel("Timestamps").check();
      assert.match(await page.locator(".log-lines .ts").first().innerText(), /^\d\d:\d\d:\d\d\.\d{3}$/);
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download raw log" }).click()]);
      const saved = path.join(work, "raw.log");
      await download.saveAs(saved);
      assert.match(readFileSync(saved, "utf8"), /\u001b\[31mred alert\u001b\[0m/);
    });
  });

  test(`the log view stays a short list of nodes with ${LINES.toLocaleString("en")} lines and follows until the reader scrolls up`, async () => {
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: `/usr/bin/seq 1 ${LINES}` } } });
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: true } })).triggerHook;
    await withPage("many-lines", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/executions/${run.id}`);
      await page.locator(`[data-log-count="${LINES}"]`).waitFor({ timeout: 40_000 });
      // Following: the last line is on screen.
      await page.locator(`.log-lines .line[data-seq="${LINES}"]`).waitFor();
      const nodes = await page.locator(".log-lines .line").count();
      assert.ok(nodes > 10 && nodes < 200, `a virtualised list draws only what is visible, drew ${nodes}`);
      // Scrolling up stops following.
      await page.locator(".log-lines").evaluate((el) => {
        (el as { scrollTop: number }).scrollTop = 0;
      });
      await page.locator('.log-lines .line[data-seq="1"]').waitFor();
      assert.equal(await page.getByLabel("Follow").isChecked(), false);
    });
    // Later tests trigger this hook point again: quickly this time.
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: "/bin/true" } } });
  });

  test("a dropped connection resumes the log after the last line shown: no gap, no repeat", async () => {
    // A TCP proxy in front of hookd whose connections the test can cut, as a flaky network would.
    const sockets = new Set<net.Socket>();
    const target = new URL(server.url);
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const script = path.join(work, "two-halves.sh");
    const open = gate();
    writeFileSync(script, [`for i in 1 2 3; do echo "before $i"; done`, `while [ ! -e "$1" ]; do sleep 0.05; done`, `for i in 1 2 3; do echo "after $i"; done`].join("\n"));
    await server.ok(SET, { input: { hook: "PRE_SUBMIT_SERVER", enabled: true, commands: { linux: `/bin/sh ${script} ${open}` } } });
    const [run] = (await server.ok(TRIGGER, { input: { hook: "PRE_SUBMIT_SERVER" } })).triggerHook;
    try {
      await withPage("reconnect", null, async (page) => {
        const subscribed: string[] = [];
        page.on("websocket", (ws) => ws.on("framesent", (f) => typeof f.payload === "string" && f.payload.includes("executionLog") && subscribed.push(f.payload)));
        await signIn(page, ADMIN_KEY, base);
        await page.goto(`${base}/executions/${run.id}`);
        await page.locator('.log-lines .line[data-seq="3"]').waitFor();
        for (const s of sockets) s.destroy();
        // The rest is written while the browser is cut off.
        writeFileSync(open, "");
        await eventually(async () => (await server.ok(`query($id: ID!) { execution(id: $id) { status } }`, { id: run.id })).execution.status === "SUCCEEDED", "the run to finish");
        await page.locator('[data-log-count="6"]').waitFor({ timeout: 20_000 });
        const seqs = await page.locator(".log-lines .line").evaluateAll((els) => els.map((e) => Number((e as unknown as { dataset: { seq: string } }).dataset.seq)));
        assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
        assert.deepEqual(await page.locator(".log-lines .line .text").allInnerTexts(), ["before 1", "before 2", "before 3", "after 1", "after 2", "after 3"]);
        // The resumed subscription asked for what came after the last line shown.
        const afters = subscribed.map((p) => JSON.parse(p).payload.variables.after);
        assert.deepEqual(afters, [0, 3], "one subscription from the start, then one from after the last line shown");
      });
    } finally {
      for (const s of sockets) s.destroy();
      proxy.close();
    }
  });

  test("cancel a running execution from its page", async () => {
    await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: "/bin/sleep 120" } } });
    const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_FAILED_SERVER" } })).triggerHook;
    await withPage("cancel", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/executions/${run.id}`);
      await page.locator("h1 .status", { hasText: /running/i }).waitFor();
      await page.getByRole("button", { name: "Cancel" }).click();
      await page.locator("h1 .status", { hasText: /cancelled/i }).waitFor();
      assert.equal(await page.getByRole("button", { name: "Cancel" }).count(), 0);
      assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 1);
    });
    const { execution } = await server.ok(`query($id: ID!) { execution(id: $id) { status } }`, { id: run.id });
    assert.equal(execution.status, "CANCELLED");
  });

  test("the list filters by hook and status and shows new executions live", async () => {
    await withPage("filter", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/executions`);
      await page.locator("tr[data-execution]").first().waitFor();
      await page.getByLabel("Status").selectOption("CANCELLED");
      await eventually(async () => (await page.locator("tr[data-execution]").count()) === 1, "one cancelled execution");
      assert.match(await page.locator("tr[data-execution] .status").innerText(), /cancelled/i);
      assert.match(page.url(), /status=CANCELLED/);
      await page.getByLabel("Status").selectOption("");
      await page.getByLabel("Hook", { exact: true }).selectOption("POST_SUBMIT_SERVER");
      await eventually(async () => (await page.locator("tr[data-execution]").count()) === 1, "one POST_SUBMIT_SERVER execution");
      // A new matching execution appears on top without a reload; others do not.
      await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {} } }).catch(() => undefined);
      const [fresh] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER" } })).triggerHook;
      await page.locator(`tr[data-execution="${fresh.id}"]`).waitFor();
      await eventually(async () => (await page.locator("tr[data-execution]").count()) === 2, "two POST_SUBMIT_SERVER executions");
      for (const hook of await page.locator("tr[data-execution] td:nth-child(2)").allInnerTexts()) assert.equal(hook, "POST_SUBMIT_SERVER");
      // Filtered by status, a new run appears once it matches, and keeps its row when it moves on.
      await page.getByLabel("Hook", { exact: true }).selectOption("");
      await page.getByLabel("Status").selectOption("RUNNING");
      await page.getByText("No executions match.").waitFor();
      const [sleeper] = (await server.ok(TRIGGER, { input: { hook: "POST_FAILED_SERVER" } })).triggerHook;
      await page.locator(`tr[data-execution="${sleeper.id}"] .status`, { hasText: /running/i }).waitFor();
      await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id: sleeper.id });
      await page.locator(`tr[data-execution="${sleeper.id}"] .status`, { hasText: /cancelled/i }).waitFor();
      await page.getByRole("button", { name: "Clear" }).click();
      await eventually(async () => (await page.locator("tr[data-execution]").count()) >= 5, "every execution again");
      await shot(page, "executions");
    });
  });

  test("configuration shows hook points, effective hooks with reasons, queues and execution servers", async () => {
    await withPage("configuration", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/configuration`);
      await page.getByRole("heading", { name: "Hook configurations" }).waitFor();
      await page.locator("#hook-configs ~ table td", { hasText: "PRE_SUBMIT_CLIENT" }).first().waitFor();
      const effective = page.locator("section[aria-labelledby=effective-hooks]");
      // The policy each entry's runs get, in words.
      await server.ok(SET, {
        input: { hook: "POST_FAILED_CLIENT", enabled: true, commands: { linux: "/bin/true" }, policy: { retry: { maxAttempts: 3, initialDelaySeconds: 2 }, concurrencyKey: "${job.queue}" } },
      });
      await effective.getByLabel("Hook point").selectOption("POST_FAILED_CLIENT");
      await effective.locator("td.policy", { hasText: /up to 3 attempts on any failing exit.*backoff 2 s ×2/ }).waitFor();
      await effective.locator("td.policy", { hasText: "one at a time per ${job.queue}" }).waitFor();
      await effective.getByLabel("Hook point").selectOption("PUBLISH_SERVER");
      await effective
        .locator("td", { hasText: /not configured/i })
        .first()
        .waitFor();
      await page.locator("section[aria-labelledby=servers] td", { hasText: "hookd-test-host" }).first().waitFor();
      assert.match(await page.locator("section[aria-labelledby=servers] .status").first().innerText(), /online/i);
      await shot(page, "configuration");
    });
  });

  test("a STANDARD user sees only their own jobs and publish, and no configuration pages", async () => {
    const root = path.join(work, "projects");
    mkdirSync(path.join(root, "moon", "comp", "v001"), { recursive: true });
    await server.ok(`mutation($p: String!) { createVolume(input: { code: "projects", paths: { linux: $p } }) { id } }`, { p: root });
    await server.ok(SET, {
      input: {
        hook: "PRE_PUBLISH_SERVER",
        enabled: true,
        commands: { linux: `${PY} ${path.join(EXAMPLES, "pre_publish.py")} --root ${root} --volume projects \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` },
      },
    });
    const vendor = await server.user("vendor@example.com", "STANDARD");
    const other = await server.user("other-vendor@example.com", "STANDARD");
    const files = (name: string) => [{ id: randomUUID(), filename: name, is_dir: true, files: [{ filename: "moon_comp.1001.exr", size: 1000, is_dir: false }] }];
    const mine = (await server.ok(PRE, { input: { files: [...files("moon_comp_v002"), ...files("mars_comp_v001")], hostname: "vendor-ws01" } }, vendor.key)).prePublish;
    const theirs = (await server.ok(PRE, { input: { files: files("moon_comp_v002") } }, other.key)).prePublish;
    const job = `mutation($name: String!, $src: String!) { submitJob(input: { name: $name, source: $src, destination: "volume:projects", tasks: [{ source: "/tmp/a", destination: "volume=projects/a", size: 10 }] }) { id } }`;
    await server.ok(job, { name: "vendor delivery", src: "user:vendor@example.com" }, vendor.key);
    await server.ok(job, { name: "someone else's delivery", src: "user:other-vendor@example.com" }, other.key);

    await withPage("standard", vendor.key, async (page) => {
      await page.waitForURL(/\/jobs$/);
      const nav = await page.getByRole("navigation", { name: "Main" }).innerText();
      assert.doesNotMatch(nav, /Configuration|Executions|Audit/);
      await page.locator("tr[data-job]").first().waitFor();
      assert.deepEqual(await page.locator("tr[data-job] td:nth-child(2) a").allInnerTexts(), ["vendor delivery"]);
      await page.getByRole("link", { name: "Publishes", exact: true }).click();
      await page.getByLabel("Publish id").fill(mine.id);
      await page.getByRole("button", { name: "Open publish" }).click();
      await page.getByRole("heading", { name: "Pre-publish verdict" }).waitFor();
      const rows = page.locator("tr[data-entry]");
      assert.equal(await rows.count(), 2);
      assert.match(await rows.filter({ hasText: "moon_comp_v002" }).innerText(), /can publish[\s\S]*v002/i);
      assert.match(await rows.filter({ hasText: "mars_comp_v001" }).innerText(), /rejected/i);
      assert.equal(await page.getByRole("heading", { name: "Hook executions" }).count(), 0);
      // pre-publish's guidelines are HTML: rendered, not shown as markup.
      assert.equal(await page.locator(".guidelines-body b").innerText(), "<project>_<task>_v<NNN>");
      await page.goto(`${server.url}/publishes/${theirs.id}`);
      assert.match(await page.getByRole("alert").innerText(), new RegExp(`publish '${theirs.id}' does not exist`));
      await page.goto(`${server.url}/configuration`);
      await page.getByRole("heading", { name: "Not here" }).waitFor();
      assert.equal(await page.getByRole("heading", { name: "Hook configurations" }).count(), 0);
    });
  });

  test("the GraphQL IDE runs subscriptions, with the Headers tab's key", async () => {
    await server.ok(SET, { input: { hook: "POST_SUBMIT_SERVER", enabled: true, commands: { linux: "/bin/true" } } });
    await withPage("ide", null, async (page) => {
      await page.goto(`${server.url}/graphql`);
      await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
      // GraphiQL's editors are CodeMirror 5 instances: set their text through CodeMirror itself.
      const setEditor = (which: string, text: string) =>
        page.evaluate(
          ([which, text]) => {
            const all = [...(globalThis as any).document.querySelectorAll(".CodeMirror")] as any[];
            const editor = which === "query" ? all.find((e) => e.closest(".graphiql-query-editor")) : all.find((e) => e.CodeMirror.getValue().includes("Authorization"));
            editor.CodeMirror.setValue(text);
          },
          [which, text],
        );
      await setEditor("headers", JSON.stringify({ Authorization: `Bearer ${ADMIN_KEY}` }));
      await setEditor("query", "subscription { executionUpdated(filter: { hook: POST_SUBMIT_SERVER }) { id status } }");
      // GraphiQL parses the edited query after a debounce and picks WebSocket or HTTP by that parse.
      await page.waitForTimeout(600);
      await page.locator(".graphiql-execute-button").click();
      const result = () => page.evaluate(() => ((globalThis as any).document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue() ?? "") as string);
      // The subscription is open once the socket is: trigger runs until one shows up in the result pane.
      const seen = await eventually(async () => {
        const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_SUBMIT_SERVER", wait: true } })).triggerHook;
        const text = await result();
        assert.doesNotMatch(text, /not properly configured/);
        if (/Subscription\.executionUpdated/.test(text)) {
          // Run before GraphiQL had parsed the edit, so it went over HTTP as a query: run it again.
          await page.locator(".graphiql-execute-button").click();
          return null;
        }
        assert.doesNotMatch(text, /error/i);
        return text.includes(run.id) || /"executionUpdated"/.test(text) ? text : null;
      }, "an executionUpdated event in GraphiQL's result pane");
      assert.match(seen, /"status": "(QUEUED|RUNNING|SUCCEEDED)"/);
    });
  });

  test("laptop and wide screens: the main pages never scroll sideways", async () => {
    await withPage("layout", ADMIN_KEY, async (page) => {
      for (const size of [
        { width: 1280, height: 720 },
        { width: 1920, height: 1080 },
      ]) {
        await page.setViewportSize(size);
        for (const [address, ready] of [
          ["/executions", "tr[data-execution]"],
          ["/configuration", "#servers"],
          ["/jobs", "tr[data-job]"],
          ["/publishes", "tr[data-publish]"],
          ["/audit", "tr[data-audit]"],
        ]) {
          await page.goto(`${server.url}${address}`);
          await page.locator(ready).first().waitFor();
          const [scroll, client] = await page.evaluate(() => [(globalThis as any).document.documentElement.scrollWidth, (globalThis as any).document.documentElement.clientWidth]);
          assert.ok(scroll <= client, `${address} at ${size.width}px is ${scroll}px wide`);
        }
      }
    });
  });

  test("the audit trail filters by actor and action", async () => {
    await withPage("audit", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/audit`);
      await page.locator("tr[data-audit]").first().waitFor();
      await page.getByLabel("Action").fill("execution.cancel");
      await eventually(async () => {
        const actions = await page.locator("tr[data-audit] td:nth-child(3)").allInnerTexts();
        return actions.length > 0 && actions.every((a) => a === "execution.cancel");
      }, "only execution.cancel events");
      await page.getByLabel("Action").fill("");
      await page.getByLabel("Actor").fill("nobody@example.com");
      await page.getByText("No events match.").waitFor();
      await page.getByLabel("Actor").fill("");
      await page.locator("tr[data-audit]").first().waitFor();
      await shot(page, "audit");
    });
  });

  // Issue 34. These run last: they configure PUBLISH_SERVER, which the configuration test expects unconfigured.
  test("an ADMIN configures a hook and a queue override in the dashboard, reviews them, runs a test run, and finds them in the effective view and the audit trail", async () => {
    await server.ok(`mutation { createQueue(input: { code: "vfx", name: "VFX" }) { code } }`);
    await withPage("configure", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/configuration`);
      // The workspace entry: command line, timeout and retries, reviewed before it is saved.
      await page.getByRole("button", { name: "Edit PUBLISH_SERVER" }).click();
      const editor = page.getByRole("region", { name: "Edit PUBLISH_SERVER" });
      await editor.getByLabel("Command line (linux)").fill("/bin/echo workspace ${PATH_JSON_INPUT}");
      await editor.getByLabel("Timeout (seconds)").fill("45");
      await editor.getByLabel("Attempts").fill("2");
      await editor.getByRole("button", { name: "Review changes" }).click();
      const review = editor.getByRole("region", { name: "Review the change to PUBLISH_SERVER" });
      assert.match(await review.locator('tr[data-change="Command line (linux)"]').innerText(), /none\s+\/bin\/echo workspace \$\{PATH_JSON_INPUT\}/);
      assert.match(await review.locator('tr[data-change="Timeout"]').innerText(), /the default\s+45 s/);
      assert.match(await review.locator('tr[data-change="Retries"]').innerText(), /none\s+2 attempts/);
      // Now (asked of hookd) it is not configured; after saving it runs on hookd's own server.
      await review.locator(".effective-preview td", { hasText: /skipped: PUBLISH_SERVER is not configured/ }).waitFor();
      assert.match(await review.locator(".effective-preview td.after").first().innerText(), /workspace\s+runs \/bin\/echo workspace \$\{PATH_JSON_INPUT\} on hookd-test-host \(linux\)/);
      await shot(page, "configuration-edit", editor);
      await review.getByRole("button", { name: "Save" }).click();
      await page.getByRole("status").filter({ hasText: "Saved PUBLISH_SERVER." }).waitFor();
      await page.locator("#hook-configs ~ table tr", { hasText: "PUBLISH_SERVER" }).getByText("/bin/echo workspace ${PATH_JSON_INPUT}").waitFor();

      // The queue's OVERRIDE entry.
      await page.getByRole("button", { name: "Add a hook entry to queue vfx" }).click();
      const queueEditor = page.getByRole("region", { name: "Queue vfx hook" });
      await queueEditor.getByLabel("Hook point").selectOption("PUBLISH_SERVER");
      await queueEditor.getByLabel("Mode").selectOption("OVERRIDE");
      await queueEditor.getByLabel("Command line (linux)").fill("/bin/echo vfx override");
      await queueEditor.getByRole("button", { name: "Review changes" }).click();
      const queueReview = queueEditor.getByRole("region", { name: "Review queue vfx's entry for PUBLISH_SERVER" });
      const after = await queueReview.locator(".effective-preview td.after").innerText();
      assert.match(after, /workspace\s+skipped: overridden by the OVERRIDE entry of queue 'vfx'/);
      assert.match(after, /queue vfx \(override\)\s+runs \/bin\/echo vfx override on hookd-test-host/);
      await queueReview.getByRole("button", { name: "Save" }).click();
      await page.getByRole("status").filter({ hasText: "Saved queue vfx's entry for PUBLISH_SERVER." }).waitFor();
      await page.locator("section[aria-labelledby=queues] tr", { hasText: "vfx" }).getByText("/bin/echo vfx override").waitFor();

      // The effective view, from hookd: the override runs, the workspace entry does not.
      const effective = page.locator("section[aria-labelledby=effective-hooks]");
      await effective.getByLabel("Hook point").selectOption("PUBLISH_SERVER");
      await effective.getByLabel("Queue").selectOption("vfx");
      await effective
        .locator("tr", { hasText: "queue vfx (override)" })
        .filter({ hasText: "/bin/echo vfx override" })
        .filter({ hasText: /will run/i })
        .waitFor();
      assert.match(await effective.locator("tbody tr").first().innerText(), /workspace[\s\S]*overridden by the OVERRIDE entry of queue 'vfx'/);
      // An APPEND entry instead: both run, the workspace's first.
      await page.getByRole("button", { name: "Edit queue vfx's PUBLISH_SERVER" }).click();
      await queueEditor.getByLabel("Mode").selectOption("APPEND");
      await queueEditor.getByRole("button", { name: "Review changes" }).click();
      assert.match(await queueEditor.locator('tr[data-change="Mode"]').innerText(), /override\s+append/);
      const appended = await queueEditor.locator(".effective-preview td.after").innerText();
      assert.match(appended, /workspace\s+runs \/bin\/echo workspace[\s\S]*queue vfx \(append\)\s+runs \/bin\/echo vfx override/);
      await queueEditor.getByRole("button", { name: "Save" }).click();
      await page.getByRole("status").filter({ hasText: "Saved queue vfx's entry for PUBLISH_SERVER." }).waitFor();

      // A test run in that queue runs both.
      const testRun = page.locator("section[aria-labelledby=test-run]");
      await testRun.getByLabel("Hook point", { exact: true }).selectOption("PUBLISH_SERVER");
      await testRun.getByLabel("Queue", { exact: true }).selectOption("vfx");
      await eventually(async () => /"hook": "publish-server"/.test(await testRun.getByLabel(/Payload/).inputValue()), "the publish-server sample payload");
      await testRun.getByRole("button", { name: "Run the hook" }).click();
      const runs = testRun.getByRole("status").locator("li");
      await eventually(async () => (await runs.count()) === 2, "two runs: the workspace entry and the queue's APPEND entry");
      await runs.nth(1).getByRole("link").click();
      await page.locator("h1 .status", { hasText: /succeeded/i }).waitFor();
      await page.locator(".log-lines .line", { hasText: "vfx override" }).waitFor();

      // The audit trail has both changes, by the ADMIN.
      await page.getByRole("link", { name: "Audit trail" }).click();
      await page.getByLabel("Action").fill("queueHook.set");
      await page.locator("tr[data-audit]", { hasText: "vfx/PUBLISH_SERVER" }).first().waitFor();
      await page.getByLabel("Action").fill("hookConfig.set");
      await page.locator("tr[data-audit]", { hasText: "PUBLISH_SERVER" }).filter({ hasText: "admin" }).first().waitFor();
    });
    const { queue } = await server.ok(`{ queue(code: "vfx") { hooks { hook mode commands { linux } } } }`);
    assert.deepEqual(queue.hooks, [{ hook: "PUBLISH_SERVER", mode: "APPEND", commands: { linux: "/bin/echo vfx override" } }]);
    const { hookConfig } = await server.ok(`{ hookConfig(hook: PUBLISH_SERVER) { enabled timeoutSeconds policy { retry { maxAttempts } } } }`);
    assert.deepEqual(hookConfig, { enabled: true, timeoutSeconds: 45, policy: { retry: { maxAttempts: 2 } } });
  });

  test("a bad command line, a bad secret name and a bad setting show the server's own error next to the field", async () => {
    const bad = `/bin/echo "unbalanced`;
    const api = await server.gql(SET, { input: { hook: "POST_DONE_CLIENT", commands: { linux: bad } } });
    const serverMessage = api.errors?.[0]?.message as string;
    assert.equal(api.errors?.[0]?.extensions?.field, "input.commands.linux");
    await withPage("field-errors", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/configuration`);
      await page.getByRole("button", { name: "Edit POST_DONE_CLIENT" }).click();
      const editor = page.getByRole("region", { name: "Edit POST_DONE_CLIENT" });
      const linux = editor.getByLabel("Command line (linux)");
      await linux.fill(bad);
      await editor.getByRole("button", { name: "Review changes" }).click();
      await editor.getByRole("button", { name: "Save" }).click();
      // Next to the field, described by it, in the server's words (without the field's name).
      await linux.and(page.locator("[aria-invalid=true]")).waitFor();
      const describedBy = (await linux.getAttribute("aria-describedby"))?.split(" ")[0];
      const message = await page.locator(`[id="${describedBy}"]`).innerText();
      assert.equal(`input.commands.linux: ${message}`, serverMessage);
      assert.match(message, /unbalanced double quote starting at column 11/);
      // The line fixed, the next rule the server applies lands next to its own field.
      await linux.fill("/bin/true");
      await editor.getByLabel("Secrets (environment names)").fill("RENDER_TOKEN, 9lives");
      await editor.getByRole("button", { name: "Review changes" }).click();
      await editor.getByRole("button", { name: "Save" }).click();
      await editor.locator(".edit-field.invalid", { hasText: "Secrets" }).getByText("'9lives' is not a secret name").waitFor();
      await shot(page, "configuration-field-error", editor);
      assert.equal(await linux.getAttribute("aria-invalid"), null);
      // Workspace settings too.
      const settings = page.locator("section[aria-labelledby=settings]");
      await settings.getByLabel("Schedule-to-start (seconds)").fill("0");
      await settings.getByRole("button", { name: "Review changes" }).click();
      await settings.getByRole("button", { name: "Save" }).click();
      await settings
        .locator(".edit-field.invalid", { hasText: "Schedule-to-start" })
        .getByText(/must be a whole number of seconds from 1 to/)
        .waitFor();
    });
    // Nothing was saved.
    assert.equal((await server.ok(`{ hookConfig(hook: POST_DONE_CLIENT) { updatedAt } }`)).hookConfig.updatedAt, null);
  });

  test("disabling hooks and moving the default execution server ask for a confirmation first", async () => {
    await enrolAgent(server, "render-b", "render-b.studio.example");
    await withPage("dangerous", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/configuration`);
      const settings = page.locator("section[aria-labelledby=settings]");
      await settings.getByLabel("Hooks enabled").uncheck();
      await settings.getByLabel("Default execution server").selectOption({ label: "render-b (linux, offline)" });
      await settings.getByRole("button", { name: "Review changes" }).click();
      const review = settings.getByRole("region", { name: "Review the workspace settings" });
      const warning = await review.getByRole("alert").innerText();
      assert.match(warning, /disables every hook in the workspace/);
      assert.match(warning, /moves from hookd-test-host to render-b/);
      // All ten hook points, after: skipped.
      assert.equal(await review.locator(".effective-preview td.after", { hasText: "skipped: hooks are disabled in the workspace settings" }).count(), 10);
      const save = review.getByRole("button", { name: "Save" });
      assert.equal(await save.isDisabled(), true);
      await review.getByLabel("I understand, make this change").check();
      assert.equal(await save.isDisabled(), false);
      await shot(page, "configuration-confirm", settings);
      // Not saved: back, and the settings are as they were.
      await review.getByRole("button", { name: "Back to editing" }).click();
      await settings.getByLabel("Hooks enabled").check();
      await settings.getByLabel("Default execution server").selectOption({ label: "hookd-test-host (linux)" });
      await settings.getByRole("button", { name: "Review changes" }).click();
      await settings.getByRole("status").filter({ hasText: "Nothing changed." }).waitFor();
    });
    const { settings } = await server.ok(`{ settings { hooksEnabled defaultExecutionServer { name } } }`);
    assert.deepEqual(settings, { hooksEnabled: true, defaultExecutionServer: { name: "hookd-test-host" } });
  });

  test("an agent's run shows the agent's hostname and its argv; dropped bytes read in MiB", async () => {
    const enrolled = await enrolAgent(server, "render-c", "render-c.studio.example");
    await server.ok(SET, { input: { hook: "POST_DONE_SERVER", enabled: true, commands: { linux: `/usr/bin/python3 -c "print('hi')" \${PATH_JSON_INPUT}` } } });
    const socket = agentSocket(server.url, enrolled.credential);
    try {
      const [run] = (await server.ok(TRIGGER, { input: { hook: "POST_DONE_SERVER", payload: {}, executionServer: enrolled.executionServerId } })).triggerHook;
      assert.equal((await socket.run(`mutation($id: ID!) { agentClaim(executionId: $id) { id } }`, { id: run.id })).data.agentClaim.id, run.id);
      const finished = await socket.run(`mutation($id: ID!, $outcome: AgentOutcomeInput) { agentFinish(executionId: $id, outcome: $outcome, lastSeq: 0) }`, {
        id: run.id,
        outcome: { status: "SUCCEEDED", exitCode: 0, droppedBytes: 39514310 },
      });
      assert.equal(finished.errors, undefined, JSON.stringify(finished.errors));
      await withPage("agent-run", ADMIN_KEY, async (page) => {
        await page.goto(`${server.url}/executions/${run.id}`);
        const ranOn = await page.locator("[data-ran-on]").innerText();
        assert.match(ranOn, /^render-c \(server\) on host render-c\.studio\.example by agent render-c/);
        assert.deepEqual(await page.locator("ol.argv li").allInnerTexts(), ["/usr/bin/python3", "-c", "print('hi')", "${PATH_JSON_INPUT}"]);
        const log = await page.locator("dd", { hasText: "dropped at the log cap" }).innerText();
        assert.match(log, /37\.7 MiB dropped at the log cap/);
        assert.doesNotMatch(log, /39514310/);
      });
    } finally {
      await socket.client.dispose();
    }
  });

  test("signing out starts the next person at the start, not on the last one's page", async () => {
    const next = await server.user("next-in-line@example.com", "STANDARD");
    await withPage("sign-out", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/configuration`);
      await page.getByRole("heading", { name: "Hook configurations" }).waitFor();
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("API key").waitFor();
      assert.equal(new URL(page.url()).pathname, "/");
      await page.getByLabel("API key").fill(next.key);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/\/jobs$/);
      await page.getByRole("heading", { name: /Jobs/ }).first().waitFor();
      assert.equal(await page.getByRole("heading", { name: "Not here" }).count(), 0);
    });
  });

  test("the GraphQL IDE uses the key the person signed in with; /favicon.ico is an icon", async () => {
    await withPage("ide-signed-in", ADMIN_KEY, async (page) => {
      // What an earlier visit left (the IDE test above typed a key into the Headers tab) is gone.
      await page.evaluate(() => (globalThis as any).localStorage.clear());
      await page.getByRole("link", { name: "GraphQL IDE" }).click();
      await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
      await page.waitForTimeout(300);
      await page.locator(".graphiql-execute-button").click();
      const result = () => page.evaluate(() => ((globalThis as any).document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue() ?? "") as string);
      const text = await eventually(async () => {
        const t = await result();
        return t.includes('"data"') || t.includes('"errors"') ? t : null;
      }, "the default query's answer");
      assert.doesNotMatch(text, /malformed Authorization header|errors/);
      assert.match(text, /"role": "ADMIN"/);
      // The key is sent, not stored by the IDE: its local storage holds no key.
      const stored = await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }));
      assert.doesNotMatch(stored, new RegExp(ADMIN_KEY));
    });
    const icon = await fetch(`${server.url}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get("content-type"), "image/x-icon");
    const bytes = Buffer.from(await icon.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 1, 0], "an ICO file");
  });

  test("a client hook's effective view and test run name the client it runs on, picked by name", async () => {
    const { registerClient } = await server.ok(`mutation { registerClient(input: { name: "admin-ws", hostname: "admin-ws.studio.example", os: "mac" }) { id } }`);
    await server.ok(SET, { input: { hook: "POST_SUBMIT_CLIENT", enabled: true, commands: { mac: "/usr/bin/true" } } });
    await withPage("client-pick", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/configuration`);
      const effective = page.locator("section[aria-labelledby=effective-hooks]");
      await effective.getByLabel("Hook point").selectOption("POST_SUBMIT_CLIENT");
      await effective.getByLabel("Client").selectOption({ label: "admin-ws (mac)" });
      await effective
        .locator("tbody tr", { hasText: "admin-ws (mac)" })
        .filter({ hasText: /will run/i })
        .waitFor();
      const testRun = page.locator("section[aria-labelledby=test-run]");
      await testRun.getByLabel("Hook point", { exact: true }).selectOption("POST_SUBMIT_CLIENT");
      await testRun.getByLabel("Client").selectOption({ label: "admin-ws (mac)" });
      await eventually(async () => /"hook": "post-submit-client"/.test(await testRun.getByLabel(/Payload/).inputValue()), "the post-submit-client sample payload");
      await testRun.getByRole("button", { name: "Run the hook" }).click();
      await page.waitForURL(/\/executions\/[0-9a-f-]+$/);
      // No agent runs that client here: the run waits for it, by name.
      await page
        .locator("dd", { hasText: /admin-ws/ })
        .first()
        .waitFor();
      const id = page.url().split("/").pop();
      const { execution } = await server.ok(`query($id: ID!) { execution(id: $id) { status executionServer { id } } }`, { id });
      assert.deepEqual(execution, { status: "QUEUED", executionServer: { id: registerClient.id } });
      await server.ok(`mutation($id: ID!) { cancelExecution(id: $id) { id } }`, { id });
    });
  });

  // Issue 34: vendors and their publishes. One upload job of a STANDARD user's publish, failed, so
  // post-failed leaves a message; another vendor's publish beside it. Made once, for the tests below.
  const SUBMIT_PUBLISH = `mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { id job { id code } } }`;
  const PRE_PUBLISH_SAYS = "Delivery received.\nReview is on Monday: <b>not bold</b>";
  const POST_FAILED_SAYS = "The upload stopped: <b>check the VPN</b>\nthen send it again from the client.";
  let vendors: Promise<{ vendor: { id: string; key: string }; publishId: string; job: { id: string; code: string }; otherPublishId: string }> | null = null;
  const publishingVendors = () => {
    vendors ??= (async () => {
      const root = path.join(work, "deliveries");
      mkdirSync(root, { recursive: true });
      await server.ok(`mutation($p: String!) { createVolume(input: { code: "deliveries", paths: { linux: $p } }) { id } }`, { p: root });
      const prePublish = path.join(work, "pre_publish_says.py");
      writeFileSync(
        prePublish,
        [
          "import json, sys",
          "data = json.load(open(sys.argv[1]))",
          `files = [{"id": f["id"], "can_publish": True, "can_upload": True, "path": "volume=deliveries/" + f["filename"]} for f in data["files"]]`,
          `json.dump({"message": ${JSON.stringify(PRE_PUBLISH_SAYS)}, "files": files}, open(sys.argv[2], "w"))`,
        ].join("\n"),
      );
      const postFailed = path.join(work, "post_failed_says.py");
      writeFileSync(postFailed, ["import json, sys", `json.dump({"message": ${JSON.stringify(POST_FAILED_SAYS)}}, open(sys.argv[1], "w"))`].join("\n"));
      await server.ok(SET, { input: { hook: "PRE_PUBLISH_SERVER", enabled: true, commands: { linux: `${PY} ${prePublish} \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}` } } });
      await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: `${PY} ${postFailed} \${PATH_JSON_OUTPUT}` } } });
      const vendor = await server.user("publishing-vendor@example.com", "STANDARD");
      const other = await server.user("another-publishing-vendor@example.com", "STANDARD");
      const entry = () => ({ id: randomUUID(), filename: "moon_comp_v001", is_dir: true, files: [{ filename: "moon_comp.1001.exr", size: 1000, is_dir: false }] });
      const proposed = entry();
      const mine = (await server.ok(PRE, { input: { files: [proposed] } }, vendor.key)).prePublish;
      const { submitPublish } = await server.ok(SUBMIT_PUBLISH, { input: { publishId: mine.id, entries: [{ id: proposed.id }] } }, vendor.key);
      const otherPublishId = (await server.ok(PRE, { input: { files: [entry()] } }, other.key)).prePublish.id;
      // The upload fails: post-failed-server leaves its message on the job.
      await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: FAILED, message: "connection reset") { id } }`, { id: submitPublish.job.id }, vendor.key);
      await eventually(async () => {
        const { job } = await server.ok(`query($id: ID!) { job(id: $id) { hookMessages { hook message } } }`, { id: submitPublish.job.id }, vendor.key);
        return job.hookMessages.some((m: { hook: string }) => m.hook === "POST_FAILED_SERVER");
      }, "post-failed-server's message on the job");
      return { vendor, publishId: mine.id as string, job: submitPublish.job as { id: string; code: string }, otherPublishId: otherPublishId as string };
    })();
    return vendors;
  };

  test("a vendor goes from their upload job to its publish and back, and reads the hooks' messages as text", async () => {
    const { vendor, publishId, job } = await publishingVendors();
    await withPage("vendor-publish", vendor.key, async (page) => {
      await page.waitForURL(/\/jobs$/);
      // From the jobs list straight to the upload job's publish, and to the job itself.
      const row = page.locator(`tr[data-job="${job.id}"]`);
      assert.equal(await row.getByRole("link", { name: "its publish", exact: true }).getAttribute("href"), `/publishes/${publishId}`);
      await row.getByRole("link", { name: "publish moon_comp_v001", exact: true }).click();
      await page.waitForURL(new RegExp(`/jobs/${job.id}$`));
      // post-failed-server's message: its hook, when, and its words as text (the <b> is not markup), newlines kept.
      const said = page.locator("section[aria-labelledby=hook-messages] li", { hasText: "POST_FAILED_SERVER" });
      await said.waitFor();
      assert.match(await said.locator("time").innerText(), /\d/);
      const text = said.locator(".hook-message-text");
      assert.equal(await text.innerText(), POST_FAILED_SAYS);
      assert.equal(await text.locator("b").count(), 0);
      assert.equal(await text.evaluate((el) => (globalThis as any).getComputedStyle(el).whiteSpace), "pre-wrap");
      await shot(page, "job-hook-message");
      // The job's publish, by a link.
      await page.getByRole("link", { name: /^Publish of 1 entry/ }).click();
      await page.waitForURL(new RegExp(`/publishes/${publishId}$`));
      const message = page.locator("section[aria-labelledby=publish-message] .hook-message-text");
      assert.equal(await message.innerText(), PRE_PUBLISH_SAYS);
      assert.equal(await message.locator("b").count(), 0);
      await shot(page, "publish");
      // And back to its upload job.
      await page.getByRole("link", { name: job.code }).click();
      await page.waitForURL(new RegExp(`/jobs/${job.id}$`));
      await said.waitFor();
      // A message said while the page is open shows without a reload: the upload fails again, and
      // post-failed says something new a second after the job's status changed.
      const later = path.join(work, "post_failed_later.py");
      writeFileSync(later, ["import json, sys, time", "time.sleep(1)", `json.dump({"message": "It failed again: call the studio."}, open(sys.argv[1], "w"))`].join("\n"));
      await server.ok(SET, { input: { hook: "POST_FAILED_SERVER", enabled: true, commands: { linux: `${PY} ${later} \${PATH_JSON_OUTPUT}` } } });
      await server.ok(`mutation($id: ID!) { retryJob(id: $id) { id } }`, { id: job.id }, vendor.key);
      await server.ok(`mutation($id: ID!) { updateJobStatus(id: $id, status: FAILED) { id } }`, { id: job.id }, vendor.key);
      await said.locator(".hook-message-text", { hasText: "It failed again: call the studio." }).waitFor();
    });
  });

  test("the publishes list shows a vendor their own publishes only, a page at a time, and an ADMIN whose each one is", async () => {
    const { vendor, publishId, otherPublishId } = await publishingVendors();
    // More than a page: 26 more of the vendor's, newest first.
    const entry = (name: string) => ({ id: randomUUID(), filename: name, is_dir: true, files: [{ filename: `${name}.1001.exr`, size: 1000, is_dir: false }] });
    const more: string[] = [];
    for (let i = 1; i <= 26; i++) {
      const sh = `sq010_sh${String(i * 10).padStart(3, "0")}`;
      more.push((await server.ok(PRE, { input: { files: [entry(`${sh}_comp_v001`), entry(`${sh}_roto_v001`)] } }, vendor.key)).prePublish.id);
    }
    const all = [...more.reverse(), publishId];
    await withPage("publishes-list", vendor.key, async (page) => {
      await page.getByRole("link", { name: "Publishes", exact: true }).click();
      await page.waitForURL(/\/publishes$/);
      const rows = page.locator("tr[data-publish]");
      await rows.first().waitFor();
      const ids = () => rows.evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { publish: string } }).dataset.publish));
      assert.deepEqual(await ids(), all.slice(0, 25), "the newest page of the vendor's own");
      const first = rows.first();
      assert.match(await first.innerText(), /validated/i);
      assert.equal(await first.locator("[data-entry-count]").innerText(), "2");
      assert.equal(await first.getByRole("link").first().innerText(), "sq010_sh260_comp_v001/, sq010_sh260_roto_v001/");
      assert.equal(await first.locator(".hook-message-text").innerText(), PRE_PUBLISH_SAYS);
      assert.equal(await first.locator(".hook-message-text b").count(), 0);
      assert.equal(await page.getByRole("columnheader", { name: "Published by" }).count(), 0);
      await shot(page, "publishes");
      await page.getByRole("button", { name: "Load older" }).click();
      await eventually(async () => (await ids()).length === all.length, "the second page");
      assert.deepEqual(await ids(), all);
      assert.equal(await page.getByRole("button", { name: "Load older" }).count(), 0);
      assert.ok(!(await ids()).includes(otherPublishId));
      // The oldest is the submitted one, with its upload job.
      const submitted = page.locator(`tr[data-publish="${publishId}"]`);
      assert.match(await submitted.innerText(), /submitted/i);
      await submitted.getByRole("link", { name: /^moon_comp_v001/ }).click();
      await page.waitForURL(new RegExp(`/publishes/${publishId}$`));
    });
    await withPage("publishes-admin", ADMIN_KEY, async (page) => {
      await page.goto(`${server.url}/publishes`);
      // Everyone's, with who published each.
      await page.getByRole("columnheader", { name: "Published by" }).waitFor();
      assert.match(await page.locator(`tr[data-publish="${more[0]}"]`).innerText(), /(^|\s)publishing-vendor@example\.com/);
      const ids = () => page.locator("tr[data-publish]").evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { publish: string } }).dataset.publish));
      await page.getByLabel("Published by").selectOption({ label: "another-publishing-vendor@example.com" });
      await eventually(async () => JSON.stringify(await ids()) === JSON.stringify([otherPublishId]), "only the other vendor's publish");
      assert.match(await page.locator(`tr[data-publish="${otherPublishId}"]`).innerText(), /another-publishing-vendor@example\.com/);
      assert.match(page.url(), /user=/);
      await page.getByLabel("Published by").selectOption("");
      await page.getByLabel("State").selectOption("SUBMITTED");
      await eventually(async () => {
        const states = await page.locator("tr[data-publish] .status").allInnerTexts();
        return states.length > 0 && states.every((s) => /submitted/i.test(s)) && (await ids()).includes(publishId);
      }, "only submitted publishes");
      assert.match(page.url(), /state=SUBMITTED/);
    });
  });
});
