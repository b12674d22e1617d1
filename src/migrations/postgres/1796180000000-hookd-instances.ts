import type { MigrationInterface, QueryRunner } from "typeorm";

// The live-instance registry: hookd processes serving the database, with their heartbeats (generated).

export class PostgresHookdInstances1796180000000 implements MigrationInterface {
  name = "PostgresHookdInstances1796180000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "hookd_instance" ("id" character varying(36) NOT NULL, "hostname" character varying(255) NOT NULL, "pid" integer NOT NULL, "pubsub" character varying(200) NOT NULL, "startedAt" TIMESTAMP WITH TIME ZONE NOT NULL, "heartbeatAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_b444a16744e8c16fe74a1d486c3" PRIMARY KEY ("id"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "hookd_instance"`);
  }
}
