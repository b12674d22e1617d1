import type { MigrationInterface, QueryRunner } from "typeorm";

// Generated from the entities by TypeORM's SQLite schema builder, then ordered parents-first.
// PostgreSQL gets its own migration set when that store lands (the SQL here is SQLite's dialect).
export class Initial1763800000000 implements MigrationInterface {
  name = "Initial1763800000000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "user" ("id" varchar PRIMARY KEY NOT NULL, "email" varchar(320) NOT NULL, "role" varchar(16) NOT NULL, "createdAt" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT "UQ_e12875dfb3b1d92d7d7c5377e22" UNIQUE ("email"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "queue" ("id" varchar PRIMARY KEY NOT NULL, "code" varchar(64) NOT NULL, "name" varchar(200) NOT NULL, "priority" integer NOT NULL, "isDefault" boolean NOT NULL, "status" varchar(16) NOT NULL, "description" text, "createdAt" datetime NOT NULL DEFAULT (datetime('now')), "metadataInternal" text NOT NULL, "metadataExternal" text NOT NULL, CONSTRAINT "UQ_c564e35d1e65354b6ebc30858a7" UNIQUE ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "volume" ("id" varchar PRIMARY KEY NOT NULL, "code" varchar(64) NOT NULL, "name" varchar(200) NOT NULL, "createdAt" datetime NOT NULL DEFAULT (datetime('now')), "pathLinux" text, "pathMac" text, "pathWindows" text, "metadataInternal" text NOT NULL, "metadataExternal" text NOT NULL, CONSTRAINT "UQ_f9e70381776b1059987cddf09d9" UNIQUE ("code"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "workspace_settings" ("id" integer PRIMARY KEY NOT NULL, "hooksEnabled" boolean NOT NULL, "defaultExecutionServerId" varchar, "auditRoles" text NOT NULL, "metadataInternal" text NOT NULL, "metadataExternal" text NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE TABLE "hook_config" ("hook" varchar(32) PRIMARY KEY NOT NULL, "enabled" boolean NOT NULL, "timeoutSeconds" integer, "executionServerId" varchar, "updatedAt" datetime NOT NULL DEFAULT (datetime('now')), "commandLinux" text, "commandMac" text, "commandWindows" text)`,
    );
    await queryRunner.query(
      `CREATE TABLE "execution_server" ("id" varchar PRIMARY KEY NOT NULL, "name" varchar(200) NOT NULL, "hostname" varchar(255) NOT NULL, "os" varchar(16) NOT NULL, "kind" varchar(16) NOT NULL, "ownerId" varchar, "online" boolean NOT NULL, "lastSeenAt" datetime, "labels" text NOT NULL, "createdAt" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT "FK_fbd640262c1def5cc3c9bf3a33f" FOREIGN KEY ("ownerId") REFERENCES "user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    await queryRunner.query(
      `CREATE TABLE "api_key" ("id" varchar PRIMARY KEY NOT NULL, "prefix" varchar(16) NOT NULL, "hash" varchar(64) NOT NULL, "label" varchar(200), "userId" varchar NOT NULL, "createdAt" datetime NOT NULL DEFAULT (datetime('now')), "lastUsedAt" datetime, "revokedAt" datetime, CONSTRAINT "FK_277972f4944205eb29127f9bb6c" FOREIGN KEY ("userId") REFERENCES "user" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    await queryRunner.query(
      `CREATE TABLE "queue_hook" ("id" varchar PRIMARY KEY NOT NULL, "queueId" varchar NOT NULL, "hook" varchar(32) NOT NULL, "mode" varchar(16) NOT NULL, "enabled" boolean NOT NULL, "timeoutSeconds" integer, "updatedAt" datetime NOT NULL DEFAULT (datetime('now')), "commandLinux" text, "commandMac" text, "commandWindows" text, CONSTRAINT "FK_d131037c1d177d9106e3303ca8c" FOREIGN KEY ("queueId") REFERENCES "queue" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    await queryRunner.query(
      `CREATE TABLE "job" ("id" varchar PRIMARY KEY NOT NULL, "code" varchar(128) NOT NULL, "name" varchar(255) NOT NULL, "queueId" varchar NOT NULL, "status" varchar(16) NOT NULL, "createdAt" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT "UQ_091dae5295365c58ce136d789d4" UNIQUE ("code"), CONSTRAINT "FK_640e856f3a9554e16c28b161c2f" FOREIGN KEY ("queueId") REFERENCES "queue" ("id") ON DELETE RESTRICT ON UPDATE NO ACTION)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_45e0aa2a880b928326a05a2888" ON "api_key" ("hash")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_f2452710b06be0cfbacb909a5e" ON "queue_hook" ("queueId", "hook")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_45e0aa2a880b928326a05a2888"`);
    await queryRunner.query(`DROP INDEX "IDX_f2452710b06be0cfbacb909a5e"`);
    await queryRunner.query(`DROP TABLE "job"`);
    await queryRunner.query(`DROP TABLE "queue_hook"`);
    await queryRunner.query(`DROP TABLE "api_key"`);
    await queryRunner.query(`DROP TABLE "execution_server"`);
    await queryRunner.query(`DROP TABLE "hook_config"`);
    await queryRunner.query(`DROP TABLE "workspace_settings"`);
    await queryRunner.query(`DROP TABLE "volume"`);
    await queryRunner.query(`DROP TABLE "queue"`);
    await queryRunner.query(`DROP TABLE "user"`);
  }
}
