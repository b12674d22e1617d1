/**
 * True while `kill(target, 0)` finds something: a process, or with a negative target a process
 * group (zombies count until they are reaped).
 */
export function exists(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch {
    return false;
  }
}
