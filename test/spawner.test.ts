import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AddonSpawner, defaultAddonPath } from "../src/executor/addon-spawner.js";
import { ExecaSpawner } from "../src/executor/execa-spawner.js";
import { inheritEnv, type ExitStatus, type SpawnRequest, type Spawner } from "../src/executor/spawner.js";

// Runs real processes through both spawners: they must behave the same.

const addonPath = defaultAddonPath();
const addonSkip = existsSync(addonPath) ? false : `the spawn addon ${addonPath} was not built (run \`npm run build\` with a C compiler and Node's headers installed)`;

const baseEnv = { PATH: "/usr/bin:/bin" };

interface RunResult {
  pid: number;
  stdout: Buffer;
  stderr: Buffer;
  exited: ExitStatus;
  closed: ExitStatus;
  /** What the spawner said about the process group when it reaped the leader. */
  groupEmpty: boolean | undefined;
}

/** Code and signal only: both spawners must agree on these. */
const bare = ({ code, signal }: ExitStatus): ExitStatus => ({ code, signal });

async function run(spawner: Spawner, req: Partial<SpawnRequest> & { argv: string[] }): Promise<RunResult> {
  const proc = await spawner.spawn({ env: baseEnv, ...req });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  proc.onStdout = (chunk) => out.push(chunk);
  proc.onStderr = (chunk) => err.push(chunk);
  const exited = await proc.exited;
  const closed = await proc.closed;
  return { pid: proc.pid, stdout: Buffer.concat(out), stderr: Buffer.concat(err), exited: bare(exited), closed: bare(closed), groupEmpty: exited.groupEmpty };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, errno?: number): Promise<void> {
  await assert.rejects(promise, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code} (${err.message})`);
    if (errno !== undefined) assert.equal(err.errno, errno);
    // Node names the program only for ENOENT, EACCES and a few others ("spawn E2BIG")
    assert.match(err.message, new RegExp(`^spawn (.* )?${code}$`));
    return true;
  });
}

/** This process's fds without close-on-exec beyond 0-2: what a fork+exec child inherits. */
async function inheritableFds(): Promise<Set<string>> {
  const fds = new Set<string>();
  for (const fd of await readdir("/proc/self/fd")) {
    if (Number(fd) <= 2) continue;
    try {
      const flags = /^flags:\s+([0-7]+)/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, "utf8"));
      if (flags && (parseInt(flags[1], 8) & 0o2000000) === 0) fds.add(fd);
    } catch {
      // closed meanwhile (the readdir's own fd)
    }
  }
  return fds;
}

let dir: string;
before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "hookd-spawner-")));
  await writeFile(join(dir, "bytes.bin"), Buffer.from(Array.from({ length: 256 * 4 }, (_, i) => (i * 7) % 256)));
  await writeFile(join(dir, "big.bin"), randomBytes(5 * 1024 * 1024));
  await writeFile(join(dir, "plain.txt"), "not a program\n", { mode: 0o644 });
  await writeFile(join(dir, "garbage"), "\x01\x02\x03 2>/dev/null\necho hi from sh $0 $1\n", { mode: 0o755 });
  for (const sub of ["bin1", "bin2", "bin3"]) await mkdir(join(dir, sub));
  await writeFile(join(dir, "bin1", "myhook"), '#!/bin/sh\necho "found $0 $1"\n', { mode: 0o755 });
  await writeFile(join(dir, "bin2", "twice"), "#!/bin/sh\necho not executable\n", { mode: 0o644 });
  await writeFile(join(dir, "bin3", "twice"), "#!/bin/sh\necho from bin3\n", { mode: 0o755 });
  // hookd's own environment: must not reach hooks
  process.env.HOOKD_SPAWNER_TEST_LEAK = "leaked";
});
after(async () => {
  delete process.env.HOOKD_SPAWNER_TEST_LEAK;
  await rm(dir, { recursive: true, force: true });
});

const kinds: Array<{ kind: string; make: () => Spawner; skip: string | false }> = [
  { kind: "execa", make: () => new ExecaSpawner(), skip: false },
  { kind: "addon", make: () => new AddonSpawner(addonPath), skip: addonSkip },
];

for (const { kind, make, skip } of kinds) {
  describe(`${kind} spawner`, { skip }, () => {
    let spawner: Spawner;
    before(async () => {
      spawner = make();
      await spawner.init();
      assert.equal(spawner.kind, kind);
    });
    after(() => spawner.destroy());

    test("stdout and stderr are captured separately and in order", async () => {
      const script = 'i=1; while [ $i -le 2000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done';
      const r = await run(spawner, { argv: ["/bin/sh", "-c", script] });
      const lines = (prefix: string) => Array.from({ length: 2000 }, (_, i) => `${prefix} ${i + 1}\n`).join("");
      assert.equal(r.stdout.toString(), lines("out"));
      assert.equal(r.stderr.toString(), lines("err"));
      assert.deepEqual(r.exited, { code: 0, signal: null });
      assert.deepEqual(r.closed, { code: 0, signal: null });
    });

    test("while its output is paused a process's writes block, and on resume every byte arrives", async () => {
      const marker = join(dir, `written-${kind}`);
      const proc = await spawner.spawn({ env: baseEnv, argv: ["/bin/sh", "-c", 'head -c 2000000 /dev/zero | tr "\\0" x; echo; echo err >&2; : > "$0"', marker] });
      let bytes = 0;
      proc.onStdout = (chunk) => (bytes += chunk.length);
      proc.onStderr = (chunk) => (bytes += chunk.length);
      proc.pauseOutput(true);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(existsSync(marker), false, "the writer is blocked on a full pipe");
      assert.ok(bytes < 1_000_000, `little was read while paused (${bytes} bytes)`);
      proc.pauseOutput(false);
      const closed = await proc.closed;
      assert.deepEqual(bare(closed), { code: 0, signal: null });
      assert.equal(bytes, 2_000_001 + 4);
      assert.equal(existsSync(marker), true);
    });

    test("a leader that leaves nothing behind is reported with an empty group (addon) or unknown (execa)", async () => {
      const r = await run(spawner, { argv: ["/bin/sh", "-c", "/bin/true; echo done"] });
      assert.deepEqual(r.exited, { code: 0, signal: null });
      assert.equal(r.groupEmpty, kind === "execa" ? undefined : true);
    });

    test("binary, non-UTF-8 bytes arrive intact", async () => {
      const expected = await readFile(join(dir, "bytes.bin"));
      const r = await run(spawner, { argv: ["/bin/sh", "-c", 'cat "$0"; cat "$0" >&2', join(dir, "bytes.bin")] });
      assert.ok(r.stdout.equals(expected));
      assert.ok(r.stderr.equals(expected));
    });

    test("5 MB on stdout and on stderr at once arrive intact", async () => {
      const expected = await readFile(join(dir, "big.bin"));
      const r = await run(spawner, { argv: ["/bin/sh", "-c", 'cat "$0" & cat "$0" >&2; wait', join(dir, "big.bin")] });
      assert.equal(r.stdout.length, expected.length);
      assert.ok(r.stdout.equals(expected));
      assert.ok(r.stderr.equals(expected));
    });

    test("exit codes", async () => {
      for (const code of [0, 1, 3, 255]) {
        const r = await run(spawner, { argv: ["/bin/sh", "-c", `exit ${code}`] });
        assert.deepEqual(r.exited, { code, signal: null });
        assert.deepEqual(r.closed, { code, signal: null });
      }
    });

    test("leads its own process group; killing the group reports the signal", async () => {
      const proc = await spawner.spawn({ argv: ["/bin/sleep", "30"], env: baseEnv });
      const stat = await readFile(`/proc/${proc.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.equal(Number(fields[2]), proc.pid, "pgrp == pid");
      process.kill(-proc.pid, "SIGKILL");
      assert.deepEqual(bare(await proc.exited), { code: null, signal: "SIGKILL" });
      assert.deepEqual(bare(await proc.closed), { code: null, signal: "SIGKILL" });
    });

    test("a signal the script sends itself (TERM) is reported by name", async () => {
      const r = await run(spawner, { argv: ["/bin/sh", "-c", "kill -TERM $$"] });
      assert.deepEqual(r.exited, { code: null, signal: "SIGTERM" });
    });

    test("ENOENT for a missing program, by path and by bare name", async () => {
      await rejectsWithCode(spawner.spawn({ argv: [join(dir, "nope")], env: baseEnv }), "ENOENT", -2);
      await rejectsWithCode(spawner.spawn({ argv: ["hookd-no-such-program"], env: baseEnv }), "ENOENT", -2);
    });

    test("EACCES for a non-executable file", async () => {
      await rejectsWithCode(spawner.spawn({ argv: [join(dir, "plain.txt")], env: baseEnv }), "EACCES", -13);
    });

    test("a file in no known format runs under /bin/sh, like execvp", async () => {
      const r = await run(spawner, { argv: [join(dir, "garbage"), "a1"] });
      assert.equal(r.stdout.toString(), `hi from sh ${join(dir, "garbage")} a1\n`);
      assert.deepEqual(r.exited, { code: 0, signal: null });
    });

    test("E2BIG for an argument over the kernel's limit", async () => {
      await rejectsWithCode(spawner.spawn({ argv: ["/bin/true", "x".repeat(200_000)], env: baseEnv }), "E2BIG", -7);
    });

    test("a bare name is looked up in the request's PATH, not hookd's", async () => {
      const env = { PATH: `${join(dir, "bin1")}:/usr/bin:/bin` };
      const r = await run(spawner, { argv: ["myhook", "arg"], env });
      assert.equal(r.stdout.toString(), `found ${join(dir, "bin1", "myhook")} arg\n`);
      // hookd's PATH does not have bin1, and a request PATH without it fails
      await rejectsWithCode(spawner.spawn({ argv: ["myhook"], env: baseEnv }), "ENOENT");
      // like execvp: a non-executable match is skipped for a later one, and reported if alone
      const both = await run(spawner, { argv: ["twice"], env: { PATH: `${join(dir, "bin2")}:${join(dir, "bin3")}:/bin` } });
      assert.equal(both.stdout.toString(), "from bin3\n");
      await rejectsWithCode(spawner.spawn({ argv: ["twice"], env: { PATH: `${join(dir, "bin2")}:/bin` } }), "EACCES");
    });

    test("cwd is honoured; a missing cwd fails with ENOENT", async () => {
      const r = await run(spawner, { argv: ["/bin/pwd"], cwd: dir });
      assert.equal(r.stdout.toString(), `${dir}\n`);
      // a relative program path is relative to the new cwd
      const rel = await run(spawner, { argv: ["./bin1/myhook"], cwd: dir });
      assert.equal(rel.stdout.toString(), "found ./bin1/myhook \n");
      await rejectsWithCode(spawner.spawn({ argv: ["/bin/pwd"], env: baseEnv, cwd: join(dir, "missing") }), "ENOENT");
    });

    test("output that arrives together with the spawn confirmation is not lost", async () => {
      const pending = spawner.spawn({ argv: ["/bin/sh", "-c", "echo early; echo late >&2"], env: baseEnv });
      // Block the event loop so the confirmation, the output and the exit arrive in one read.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      const proc = await pending;
      let out = "";
      let err = "";
      proc.onStdout = (chunk) => (out += chunk.toString());
      proc.onStderr = (chunk) => (err += chunk.toString());
      await proc.closed;
      assert.equal(out, "early\n");
      assert.equal(err, "late\n");
    });

    test("a large request (100 KB variable) works", async () => {
      const big = "v".repeat(100_000);
      const r = await run(spawner, { argv: ["/bin/sh", "-c", 'printf %s "$BIG" | wc -c'], env: { ...baseEnv, BIG: big } });
      assert.equal(r.stdout.toString().trim(), "100000");
    });

    test("the request's env is the whole environment", async () => {
      const env = { PATH: "/usr/bin:/bin", HOOKD_VAR: "x y=z", EMPTY: "", SKIPPED: undefined };
      const r = await run(spawner, { argv: ["/usr/bin/env"], env });
      assert.deepEqual(r.stdout.toString().split("\n").filter(Boolean).sort(), ["EMPTY=", "HOOKD_VAR=x y=z", "PATH=/usr/bin:/bin"]);
      assert.ok(!r.stdout.toString().includes("leaked"));
    });

    test("an env inheriting a frozen base (the executor's) passes both, own variables winning; the base is packed once and stays right", async () => {
      const base = Object.freeze({ PATH: "/usr/bin:/bin", SHARED: "base", HOOKD_HOOK: "from-server" });
      const hookEnv = (own: Record<string, string | undefined>) => inheritEnv(base, own);
      const lines = async (env: NodeJS.ProcessEnv) => (await run(spawner, { argv: ["/usr/bin/env"], env })).stdout.toString().split("\n").filter(Boolean).sort();
      assert.deepEqual(await lines(hookEnv({ OWN: "1" })), ["HOOKD_HOOK=from-server", "OWN=1", "PATH=/usr/bin:/bin", "SHARED=base"]);
      // A second spawn with other own variables: nothing of the first one's is left over.
      assert.deepEqual(await lines(hookEnv({ OTHER: "2", UNSET: undefined })), ["HOOKD_HOOK=from-server", "OTHER=2", "PATH=/usr/bin:/bin", "SHARED=base"]);
      // An own variable that shadows an inherited one appears once, with its own value.
      assert.deepEqual(await lines(hookEnv({ HOOKD_HOOK: "post-done-server" })), ["HOOKD_HOOK=post-done-server", "PATH=/usr/bin:/bin", "SHARED=base"]);
      await assert.rejects(spawner.spawn({ argv: ["/usr/bin/env"], env: hookEnv({ BAD: "a\0b" }) }), { code: "ERR_INVALID_ARG_VALUE" });
    });

    test("stdin is /dev/null; only fds 0-2 are inherited; no blocked or ignored signals", async () => {
      const cat = await run(spawner, { argv: ["/bin/cat"] });
      assert.deepEqual(cat.exited, { code: 0, signal: null });
      assert.equal(cat.stdout.length, 0);
      const link = await run(spawner, { argv: ["/bin/readlink", "/proc/self/fd/0"] });
      assert.equal(link.stdout.toString(), "/dev/null\n");
      // ls opens the directory as fd 3 itself. Node's spawn (under execa) passes on whatever hookd
      // inherited without close-on-exec (a test harness may do that); the addon closes those too.
      const inherited = kind === "execa" ? await inheritableFds() : new Set<string>();
      const fds = await run(spawner, { argv: ["/bin/ls", "/proc/self/fd"] });
      assert.deepEqual(
        fds.stdout
          .toString()
          .split("\n")
          .filter((fd) => fd && !inherited.has(fd)),
        ["0", "1", "2", "3"],
      );
      const status = await run(spawner, { argv: ["/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"] });
      const [blocked, ignored] = status.stdout
        .toString()
        .trim()
        .split("\n")
        .map((line) => BigInt(`0x${line.split("\t")[1]}`));
      assert.equal(blocked, 0n);
      // Nothing ignored: not hookd's SIGPIPE, and (unlike glibc's posix_spawn) not glibc's internal
      // signals 32 and 33 either.
      assert.equal(ignored, 0n, `SigIgn ${ignored.toString(16)}`);
    });

    test("a backgrounded grandchild holding stdout delays closed, not exited", async () => {
      const started = Date.now();
      const proc = await spawner.spawn({ argv: ["/bin/sh", "-c", "sleep 0.7 & echo started"], env: baseEnv });
      let out = "";
      proc.onStdout = (chunk) => (out += chunk.toString());
      const exited = await proc.exited;
      assert.deepEqual(bare(exited), { code: 0, signal: null });
      // The sleep is still in the group: the runner must look (and end it), so never "empty".
      assert.notEqual(exited.groupEmpty, true);
      const exitedAfter = Date.now() - started;
      assert.deepEqual(bare(await proc.closed), { code: 0, signal: null });
      const closedAfter = Date.now() - started;
      assert.equal(out, "started\n");
      assert.ok(exitedAfter < 500, `exited after ${exitedAfter} ms`);
      assert.ok(closedAfter >= 650, `closed after ${closedAfter} ms`);
    });

    test("100 concurrent spawns all complete", async () => {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => run(spawner, { argv: ["/bin/sh", "-c", 'echo "$0"; exit $(($0 % 7))', String(i)] })));
      results.forEach((r, i) => {
        assert.equal(r.stdout.toString(), `${i}\n`);
        assert.deepEqual(r.closed, { code: i % 7, signal: null });
      });
      assert.equal(new Set(results.map((r) => r.pid)).size, 100);
    });

    test("invalid requests are rejected", async () => {
      await assert.rejects(spawner.spawn({ argv: [], env: baseEnv }), { code: "ERR_INVALID_ARG_VALUE" });
      await assert.rejects(spawner.spawn({ argv: ["/bin/echo", "a\0b"], env: baseEnv }), { code: "ERR_INVALID_ARG_VALUE" });
    });
  });
}

describe("addon spawner lifecycle", { skip: addonSkip }, () => {
  /** Runs `body` (an ES module body with AddonSpawner and `addonPath` in scope) in a fresh Node. */
  async function inChildNode(body: string): Promise<RunResult> {
    const spawnerUrl = new URL("../src/executor/addon-spawner.js", import.meta.url).href;
    const code = `
      const { AddonSpawner } = await import(${JSON.stringify(spawnerUrl)});
      const addonPath = ${JSON.stringify(addonPath)};
      ${body}`;
    return run(new ExecaSpawner(), { argv: [process.execPath, "--input-type=module", "-e", code], env: { PATH: process.env.PATH } });
  }

  test("init() names a missing addon", async () => {
    const spawner = new AddonSpawner(join(dir, "no-addon.node"));
    await assert.rejects(spawner.init(), /no-addon\.node is missing; run `npm run build` with a C compiler \(cc\) and Node's headers installed/);
  });

  test("destroy() refuses new spawns but watches running ones to the end", async () => {
    const spawner = new AddonSpawner(addonPath);
    await spawner.init();
    const proc = await spawner.spawn({ argv: ["/bin/sh", "-c", "sleep 0.2; echo late"], env: baseEnv });
    let out = "";
    proc.onStdout = (chunk) => (out += chunk.toString());
    await spawner.destroy();
    await assert.rejects(spawner.spawn({ argv: ["/bin/true"], env: baseEnv }), /not started \(init\(\)\) or was destroyed/);
    assert.deepEqual(bare(await proc.closed), { code: 0, signal: null });
    assert.equal(out, "late\n");
    // and it can be started again
    await spawner.init();
    assert.equal((await run(spawner, { argv: ["/bin/echo", "again"] })).stdout.toString(), "again\n");
    await spawner.destroy();
  });

  test("two spawners in one process keep their children's events apart", async () => {
    const a = new AddonSpawner(addonPath);
    const b = new AddonSpawner(addonPath);
    await a.init();
    await b.init();
    try {
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => run(i % 2 ? b : a, { argv: ["/bin/sh", "-c", 'echo "$0"; echo "e$0" >&2; exit $(($0 % 5))', String(i)] })));
      runs.forEach((r, i) => {
        assert.equal(r.stdout.toString(), `${i}\n`);
        assert.equal(r.stderr.toString(), `e${i}\n`);
        assert.deepEqual(r.closed, { code: i % 5, signal: null });
      });
    } finally {
      await a.destroy();
      await b.destroy();
    }
  });

  test("an idle addon does not keep hookd's event loop alive; a running child does", async () => {
    const r = await inChildNode(`
      const s = new AddonSpawner(addonPath);
      await s.init();
      const p = await s.spawn({ argv: ["/bin/sh", "-c", "sleep 0.3; echo hi"], env: { PATH: "/bin" } });
      p.onStdout = (c) => process.stdout.write(c);
      // nothing awaits p: only the watched child keeps this process alive until it is done
      p.closed.then((s) => process.stdout.write("closed " + s.code + "\\n"));`);
    assert.equal(r.stderr.toString(), "");
    assert.equal(r.stdout.toString(), "hi\nclosed 0\n");
    assert.deepEqual(r.exited, { code: 0, signal: null });
  });

  test("a pipe still held by another process after its EOF is not reported again (regression: use after free)", async () => {
    // A child forked while a hook runs holds copies of hookd's fds until its exec closes them.
    // Here a sleep inherits the read end of a hook's stdout on purpose, for as long as it runs:
    // the addon must stop watching that pipe at EOF all the same. This used to crash hookd.
    const r = await inChildNode(`
      const { spawn } = await import("node:child_process");
      const { readdirSync, readlinkSync } = await import("node:fs");
      const s = new AddonSpawner(addonPath);
      await s.init();
      const p = await s.spawn({ argv: ["/bin/sh", "-c", "sleep 0.2; echo done"], env: { PATH: "/bin" } });
      let out = "";
      p.onStdout = (c) => (out += c);
      const pipe = readlinkSync("/proc/" + p.pid + "/fd/1");
      const fd = Number(readdirSync("/proc/self/fd").find((n) => { try { return readlinkSync("/proc/self/fd/" + n) === pipe; } catch { return false; } }));
      const holder = spawn("/bin/sleep", ["1"], { stdio: ["ignore", "ignore", "ignore", fd] });
      // Listened for now: on a loaded machine the loop below outlasts the holder's second.
      const holderExited = new Promise((r) => holder.once("exit", r));
      await p.closed;
      // Keep the loop busy while the holder still has the pipe: the EOF must not come back.
      for (let i = 0; i < 20; i++) {
        const q = await s.spawn({ argv: ["/bin/echo", String(i)], env: { PATH: "/bin" } });
        q.onStdout = () => {};
        await q.closed;
        await new Promise((r) => setTimeout(r, 20));
      }
      await holderExited;
      process.stdout.write(out + "survived\\n");
      await s.destroy();`);
    assert.equal(r.stderr.toString(), "");
    assert.equal(r.stdout.toString(), "done\nsurvived\n");
    assert.deepEqual(r.exited, { code: 0, signal: null });
  });
});
