import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import type { ErrorCode } from "../domain/errors.js";

/**
 * One use of an `idempotencyKey` (submitJob, prePublish, submitPublish, triggerHook): the primary
 * key (user, operation, key) lets only one of two concurrent repeats run; the others read its
 * result. Kept 24 h (IDEMPOTENCY_TTL_MS), then pruned.
 */
@Entity("idempotency_key")
@Index(["createdAt"])
export class IdempotencyKey {
  @PrimaryColumn({ type: "varchar" })
  userId: string;

  @PrimaryColumn({ type: "varchar", length: 32 })
  operation: string;

  @PrimaryColumn({ type: "varchar", length: 200 })
  key: string;

  /** sha256 of the request's input without the key: a repeat with another input is refused. */
  @Column({ type: "varchar", length: 64 })
  inputHash: string;

  /** The ids of what the first request returned (a job, a publish, executions); null while it runs. */
  @Column({ type: "simple-json", nullable: true })
  resultIds: string[] | null;

  /** A first request that a hook refused (HOOK_FAILED) answers every repeat with the same refusal. */
  @Column({ type: "varchar", length: 32, nullable: true })
  errorCode: ErrorCode | null;

  @Column({ type: "text", nullable: true })
  errorMessage: string | null;

  @Column({ type: Date })
  createdAt: Date;

  /** Renewed while the first request runs; a pending row not renewed for a while was left by a stopped hookd. */
  @Column({ type: Date })
  heartbeatAt: Date;
}
