import { Column, CreateDateColumn, Entity, ManyToOne, PrimaryGeneratedColumn, type Relation } from "typeorm";
import type { Queue } from "./queue.entity.js";

// The job table as far as the configuration model needs it (queue membership, so that deleting a
// queue can move its jobs). The job lifecycle issue grows it with parties, tasks and metadata.
@Entity("job")
export class Job {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ type: "varchar", length: 128, unique: true })
  code: string;

  @Column({ type: "varchar", length: 255 })
  name: string;

  @Column({ type: "varchar" })
  queueId: string;

  @ManyToOne("Queue", { onDelete: "RESTRICT" })
  queue: Relation<Queue>;

  @Column({ type: "varchar", length: 16 })
  status: string;

  @CreateDateColumn()
  createdAt: Date;
}
