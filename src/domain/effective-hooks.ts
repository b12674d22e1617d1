/** Where an effective hook entry comes from. */
export enum HookSource {
  WORKSPACE = "WORKSPACE",
  QUEUE = "QUEUE",
}

/** Why an effective hook entry does not run (also recorded on SKIPPED executions). */
export enum SkipReason {
  HOOKS_DISABLED = "HOOKS_DISABLED",
  NOT_CONFIGURED = "NOT_CONFIGURED",
  HOOK_DISABLED = "HOOK_DISABLED",
  OVERRIDDEN = "OVERRIDDEN",
  NO_COMMAND_FOR_OS = "NO_COMMAND_FOR_OS",
  NO_EXECUTION_SERVER = "NO_EXECUTION_SERVER",
  /** A *_CLIENT hook for a client whose user is STANDARD: never run, for privacy and security. */
  CLIENT_NOT_ELEVATED = "CLIENT_NOT_ELEVATED",
}
