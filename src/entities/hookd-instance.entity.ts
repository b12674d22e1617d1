import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * A hookd process serving the database, while it runs: registered at start-up, its heartbeat
 * renewed while it runs, removed when it stops. One whose heartbeat is older than a few periods
 * is dead (killed, or its machine lost). Start-up reads it to refuse combinations that cannot
 * work, e.g. a second instance with the in-process pub/sub.
 */
@Entity("hookd_instance")
export class HookdInstance {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  @Column({ type: "varchar", length: 255 })
  hostname: string;

  @Column({ type: "integer" })
  pid: number;

  /** How it shares events: "memory", or "redis:<prefix>". Instances that share a database must agree. */
  @Column({ type: "varchar", length: 200 })
  pubsub: string;

  @Column({ type: Date })
  startedAt: Date;

  @Column({ type: Date })
  heartbeatAt: Date;
}
