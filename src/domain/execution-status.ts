// An execution's states, shared by the server and `hookd agent` (which imports no entity).

export enum ExecutionStatus {
  QUEUED = "QUEUED",
  RUNNING = "RUNNING",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
  TIMED_OUT = "TIMED_OUT",
  CANCELLED = "CANCELLED",
  SKIPPED = "SKIPPED",
}

export const FINISHED_STATUSES: readonly ExecutionStatus[] = [ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED, ExecutionStatus.SKIPPED];
export const isFinished = (status: ExecutionStatus) => FINISHED_STATUSES.includes(status);
