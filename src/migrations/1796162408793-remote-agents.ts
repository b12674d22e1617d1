import type { MigrationInterface, QueryRunner } from "typeorm";

// Remote agents: enrolment tokens and agents (generated).

export class RemoteAgents1796162408793 implements MigrationInterface {
  name = "RemoteAgents1796162408793";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "agent" ("id" varchar PRIMARY KEY NOT NULL, "kind" varchar(16) NOT NULL, "name" varchar(200) NOT NULL, "prefix" varchar(16) NOT NULL, "hash" varchar(64) NOT NULL, "executionServerId" varchar NOT NULL, "userId" varchar, "hostname" varchar(255), "os" varchar(16), "version" varchar(32), "createdAt" datetime NOT NULL DEFAULT (datetime('now')), "revokedAt" datetime)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_f1c4b247b239fe268a6fba6a99" ON "agent" ("hash") `);
    await queryRunner.query(`CREATE INDEX "IDX_27a1cef3b7bb41349c016bf58e" ON "agent" ("executionServerId") `);
    await queryRunner.query(
      `CREATE TABLE "agent_token" ("id" varchar PRIMARY KEY NOT NULL, "kind" varchar(16) NOT NULL, "name" varchar(200) NOT NULL, "userId" varchar, "hash" varchar(64) NOT NULL, "expiresAt" datetime NOT NULL, "usedAt" datetime, "createdById" varchar, "createdAt" datetime NOT NULL DEFAULT (datetime('now')))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_34f75294d00dd0c1bfb6be0327" ON "agent_token" ("hash") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_34f75294d00dd0c1bfb6be0327"`);
    await queryRunner.query(`DROP TABLE "agent_token"`);
    await queryRunner.query(`DROP INDEX "IDX_27a1cef3b7bb41349c016bf58e"`);
    await queryRunner.query(`DROP INDEX "IDX_f1c4b247b239fe268a6fba6a99"`);
    await queryRunner.query(`DROP TABLE "agent"`);
  }
}
