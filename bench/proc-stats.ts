// What the trigger and log benchmarks read about processes and the machine (Linux /proc), and a
// free port for the servers they start. Shared so every bench counts CPU the same way.
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** utime + stime of these processes, in ms (0 for a process that is gone). */
export function processCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Busy CPU time of the whole machine, in ms. */
export function machineCpuMs(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 10;
}

/**
 * hookd's spawn helper, if it runs one: the child process named hookd-spawn-helper (the kernel
 * keeps 15 characters of a name). Not every child: with the spawn addon the hooks themselves are
 * hookd's children, and one counted at the start of a measurement but gone (0) at its end would
 * take its CPU off hookd's.
 */
export function spawnHelperOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, "utf8");
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        return name === "hookd-spawn-hel" && Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}
