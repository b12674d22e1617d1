import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createApp } from "./app.js";
import { loadConfig } from "./config.js";
import { silentLogger } from "./logger.js";

// `hookd demo`: the publish workflow end to end on a fresh data directory, with the example hooks
// in examples/hooks, printing what a vendor would see at each step. It talks to a real hookd over
// GraphQL, as a vendor's client would.

const EXAMPLES = fileURLToPath(new URL("../../examples/hooks/", import.meta.url));
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export async function runDemo(out: (line: string) => void = console.log, keep = false): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), "hookd-demo-"));
  const projects = path.join(work, "projects");
  mkdirSync(path.join(projects, "moon", "comp", "v001"), { recursive: true });
  const key = `hkd_demo_${randomBytes(16).toString("hex")}`;
  const app = await createApp(loadConfig({ HOOKD_DATA_DIR: path.join(work, "data"), PORT: "0", HOOKD_BOOTSTRAP_ADMIN_KEY: key }), { logger: silentLogger });
  const url = await app.listen();
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: any; errors?: { message: string }[] };
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data;
  };
  try {
    out(`hookd demo: a throwaway workspace in ${work}\n`);
    out("1. The administrator sets up a volume and the two publish hooks (examples/hooks):");
    await gql(`mutation($p: String!) { createVolume(input: { code: "projects", name: "Projects", paths: { linux: $p, mac: $p } }) { code } }`, { p: projects });
    const pre = `${PYTHON} ${path.join(EXAMPLES, "pre_publish.py")} --root ${projects} --volume projects \${PATH_JSON_INPUT} \${PATH_JSON_OUTPUT}`;
    const ingest = `${PYTHON} ${path.join(EXAMPLES, "publish.py")} \${PATH_JSON_INPUT}`;
    await gql(`mutation($l: String!) { setHookConfig(input: { hook: PRE_PUBLISH_SERVER, enabled: true, commands: { linux: $l, mac: $l } }) { hook } }`, { l: pre });
    await gql(`mutation($l: String!) { setHookConfig(input: { hook: PUBLISH_SERVER, enabled: true, commands: { linux: $l, mac: $l } }) { hook } }`, { l: ingest });
    out(`   volume 'projects' -> ${projects} (moon/comp already has v001)`);
    out(`   pre-publish-server: ${pre}`);
    out(`   publish-server:     ${ingest}\n`);

    const frames = (base: string, numbers: number[]) => numbers.map((n) => ({ filename: `${base}.${n}.exr`, size: 12_582_912, is_dir: false }));
    const entries = [
      { id: randomUUID(), filename: "moon_comp_v002", is_dir: true, files: [...frames("moon_comp", [1001, 1002, 1003, 1004]), { filename: "moon_comp_preview.mov", size: 4_000_000, is_dir: false }] },
      { id: randomUUID(), filename: "moon_lighting_v001", is_dir: true, files: frames("moon_lighting", [1001, 1002, 1005]) },
      { id: randomUUID(), filename: "moon_comp_v007", is_dir: true, files: frames("moon_comp", [1001]) },
      { id: randomUUID(), filename: "final_FINAL.mov", is_dir: false, size: 52_000_000 },
    ];
    mkdirSync(path.join(projects, "moon", "lighting"), { recursive: true });
    out("2. The vendor drops four entries and asks to publish them (prePublish):");
    for (const e of entries) out(`   - ${e.filename}${e.is_dir ? "/" : ""}`);
    const { prePublish } = await gql(
      `mutation($files: [JSONObject!]!) { prePublish(input: { files: $files, hostname: "vendor-ws01" }) {
        id guidelines commentRequired timeReportRequired statuses { label value default }
        entries { id filename size ident canPublish rejected canUpload warning info commentLabel path } } }`,
      { files: entries },
    );
    out(`\n   hookd answers (publish ${prePublish.id}):`);
    out(
      `   guidelines: ${prePublish.guidelines
        .replace(/<[^>]+>/g, "")
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")}`,
    );
    out(`   a comment is ${prePublish.commentRequired ? "required" : "optional"}; a time report is ${prePublish.timeReportRequired ? "required" : "optional"}`);
    out(`   statuses: ${prePublish.statuses.map((s: any) => `${s.label}${s.default ? " (default)" : ""}`).join(", ")}`);
    for (const e of prePublish.entries) {
      const verdict = e.rejected ? "REJECTED" : e.canPublish ? "approved" : e.canUpload ? "upload only (needs a look)" : "not allowed";
      out(`   - ${e.filename}: ${verdict}${e.path ? ` -> ${e.path}` : ""}${e.warning ? `\n       warning: ${e.warning}` : ""}${e.info ? `\n       ${e.info}` : ""}`);
    }

    const accepted = prePublish.entries.filter((e: any) => !e.rejected && (e.canPublish || e.canUpload));
    out(`\n3. The vendor submits the ${accepted.length} accepted entries with a comment and the time spent (submitPublish):`);
    const { submitPublish } = await gql(`mutation($input: SubmitPublishInput!) { submitPublish(input: $input) { state job { id code status tasks } } }`, {
      input: {
        publishId: prePublish.id,
        entries: accepted.map((e: any, i: number) => ({
          id: e.id,
          comment: i === 0 ? "v002: fixed the edge flicker" : "first lighting pass",
          timeReport: 3600 * (i + 1),
          metadata: { artist: "vendor" },
        })),
      },
    });
    out(`   publish ${submitPublish.state}; upload job ${submitPublish.job.code} (${submitPublish.job.status}) with ${submitPublish.job.tasks.length} task(s)`);

    out("\n4. The transfer engine uploads the files and reports the job DONE (updateJobStatus):");
    for (const task of submitPublish.job.tasks) {
      mkdirSync(task.destination.path, { recursive: true });
      writeFileSync(path.join(task.destination.path, "uploaded.txt"), "the frames would be here\n");
      out(`   uploaded -> ${task.destination.path}`);
    }
    const { updateJobStatus } = await gql(`mutation($id: ID!) { updateJobStatus(id: $id, status: DONE) { status message } }`, { id: submitPublish.job.id });
    const { publish } = await gql(`query($id: ID!) { publish(id: $id) { state error executions { hook status logLines { text } } } }`, { id: prePublish.id });
    out(`   job ${updateJobStatus.status}; publish ${publish.state}`);
    const ingestRun = publish.executions.find((e: any) => e.hook === "PUBLISH_SERVER");
    for (const line of ingestRun?.logLines ?? []) out(`   publish-server: ${line.text}`);
    for (const task of submitPublish.job.tasks) {
      const sidecar = `${task.destination.path}.publish.json`;
      if (existsSync(sidecar)) out(`\n   ${sidecar}:\n${readFileSync(sidecar, "utf8").replace(/^/gm, "     ")}`);
    }
    out(`\ndone. ${keep ? `The workspace stays in ${work}.` : "The throwaway workspace was removed (pass --keep to look at it)."}`);
  } finally {
    await app.close();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
}
