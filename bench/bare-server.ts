// Benchmark helper (not a test, not part of hookd): the bare cost of hookd's per-run OS work in
// Node, with nothing of hookd's API or records. Per POST /<name> it reads the JSON body, writes it
// to a fresh 0600 file (pretty, as hookd does), starts that hook's argv plus the file through
// hookd's own spawn addon (AddonSpawner, the server's environment packed once), collects stdout,
// waits for exit and EOF, removes the file and answers. No GraphQL, no authentication, no SQLite,
// no audit. trigger-throughput.ts starts it as the "bare" target: hookd minus bare is what hookd's
// API and records cost per run; bare against webhook is what Node costs against Go for the same work.
//   BARE_HOOKS='{"sh":["/path/hook.sh"]}' PORT=8123 node dist/bench/bare-server.js
import http from "node:http";
import { mkdtempSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AddonSpawner } from "../src/executor/addon-spawner.js";
import { inheritEnv } from "../src/executor/spawner.js";

const hooks = JSON.parse(process.env.BARE_HOOKS ?? "{}") as Record<string, string[]>;
const spawner = new AddonSpawner();
await spawner.init();
const dir = mkdtempSync(path.join(process.env.HOOKD_TEMP_DIR ?? "/dev/shm", "bare-"));
const serverEnv = Object.freeze({ ...process.env, HOOKD_STORE_ID: "bare" }); // as hookd's hooks get it
let runs = 0;

async function run(argv: string[], body: unknown): Promise<{ code: number | null; stdout: string }> {
  const file = path.join(dir, `${++runs}.input.json`);
  writeFileSync(file, JSON.stringify(body, null, 2), { mode: 0o600, flag: "wx" });
  try {
    const proc = await spawner.spawn({ argv: [...argv, file], env: inheritEnv(serverEnv, { HOOKD_EXECUTION_ID: String(runs) }) });
    const out: Buffer[] = [];
    proc.onStdout = (chunk) => out.push(chunk);
    proc.onStderr = () => undefined;
    const { code } = await proc.closed;
    return { code, stdout: Buffer.concat(out).toString() };
  } finally {
    unlinkSync(file);
  }
}

const server = http.createServer((req, res) => {
  const argv = hooks[(req.url ?? "").slice(1)];
  if (!argv) {
    res.statusCode = 404;
    res.end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    run(argv, JSON.parse(Buffer.concat(chunks).toString("utf8"))).then(
      ({ code, stdout }) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ status: code === 0 ? "SUCCEEDED" : "FAILED", stdout }));
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      },
    );
  });
});
server.listen(Number(process.env.PORT), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => process.exit(0));
