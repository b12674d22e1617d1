import path from "node:path";

/** The database several hookd processes share in a test: its environment, and drop() when done. */
export async function multiInstanceDatabase(dir: string): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  return { env: { HOOKD_DATA_DIR: path.join(dir, "data") }, drop: async () => undefined };
}
