import type { MigrationInterface, QueryRunner } from "typeorm";

// The live-instance registry: hookd processes serving the database, with their heartbeats (generated).

export class HookdInstances1796180000000 implements MigrationInterface {
  name = "HookdInstances1796180000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "hookd_instance" ("id" varchar(36) PRIMARY KEY NOT NULL, "hostname" varchar(255) NOT NULL, "pid" integer NOT NULL, "pubsub" varchar(200) NOT NULL, "startedAt" datetime NOT NULL, "heartbeatAt" datetime NOT NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "hookd_instance"`);
  }
}
