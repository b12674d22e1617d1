// The three OS families a command line can be configured for (SPEC §1).
export type OsName = "linux" | "mac" | "windows";
export const OS_NAMES: readonly OsName[] = ["linux", "mac", "windows"];

export function currentOs(platform: NodeJS.Platform = process.platform): OsName {
  if (platform === "win32") return "windows";
  if (platform === "darwin") return "mac";
  return "linux";
}
