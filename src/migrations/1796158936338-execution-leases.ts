import { MigrationInterface, QueryRunner } from "typeorm";

export class ExecutionLeases1796158936338 implements MigrationInterface {
  name = "ExecutionLeases1796158936338";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_ee5fe9cb6a9fef91ca43c67971"`);
    await queryRunner.query(`DROP INDEX "IDX_42815f6253b1ae44452137cd0f"`);
    await queryRunner.query(`DROP INDEX "IDX_8661f7a704e8caa29ba17f877a"`);
    await queryRunner.query(
      `CREATE TABLE "temporary_execution" ("id" varchar PRIMARY KEY NOT NULL, "hook" varchar(32) NOT NULL, "source" varchar(16) NOT NULL, "mode" varchar(16), "configId" varchar(64) NOT NULL, "queue" varchar(64), "command" text, "argv" text, "os" varchar(16), "executionServerId" varchar, "jobId" varchar, "publishId" varchar, "input" text NOT NULL, "output" text, "status" varchar(16) NOT NULL, "exitCode" integer, "signal" varchar(16), "error" text, "waitingFor" text, "skipReason" varchar(32), "timeoutSeconds" integer NOT NULL, "attempt" integer NOT NULL, "retryOfId" varchar, "triggeredById" varchar, "pid" integer, "logLineCount" integer NOT NULL, "droppedBytes" integer NOT NULL, "createdAt" datetime NOT NULL, "startedAt" datetime, "finishedAt" datetime, "runnerId" varchar(200), "leaseExpiresAt" datetime, "deadlineAt" datetime, "cancelRequestedAt" datetime)`,
    );
    await queryRunner.query(
      `INSERT INTO "temporary_execution"("id", "hook", "source", "mode", "configId", "queue", "command", "argv", "os", "executionServerId", "jobId", "publishId", "input", "output", "status", "exitCode", "signal", "error", "waitingFor", "skipReason", "timeoutSeconds", "attempt", "retryOfId", "triggeredById", "pid", "logLineCount", "droppedBytes", "createdAt", "startedAt", "finishedAt") SELECT "id", "hook", "source", "mode", "configId", "queue", "command", "argv", "os", "executionServerId", "jobId", "publishId", "input", "output", "status", "exitCode", "signal", "error", "waitingFor", "skipReason", "timeoutSeconds", "attempt", "retryOfId", "triggeredById", "pid", "logLineCount", "droppedBytes", "createdAt", "startedAt", "finishedAt" FROM "execution"`,
    );
    await queryRunner.query(`DROP TABLE "execution"`);
    await queryRunner.query(`ALTER TABLE "temporary_execution" RENAME TO "execution"`);
    await queryRunner.query(`CREATE INDEX "IDX_42815f6253b1ae44452137cd0f" ON "execution" ("createdAt", "id") `);
    await queryRunner.query(`CREATE INDEX "IDX_8661f7a704e8caa29ba17f877a" ON "execution" ("jobId") `);
    await queryRunner.query(
      `CREATE TABLE "temporary_workspace_settings" ("id" integer PRIMARY KEY NOT NULL, "hooksEnabled" boolean NOT NULL, "defaultExecutionServerId" varchar, "auditRoles" text NOT NULL, "metadataInternal" text NOT NULL, "metadataExternal" text NOT NULL, "scheduleToStartSeconds" integer NOT NULL DEFAULT (86400))`,
    );
    await queryRunner.query(
      `INSERT INTO "temporary_workspace_settings"("id", "hooksEnabled", "defaultExecutionServerId", "auditRoles", "metadataInternal", "metadataExternal") SELECT "id", "hooksEnabled", "defaultExecutionServerId", "auditRoles", "metadataInternal", "metadataExternal" FROM "workspace_settings"`,
    );
    await queryRunner.query(`DROP TABLE "workspace_settings"`);
    await queryRunner.query(`ALTER TABLE "temporary_workspace_settings" RENAME TO "workspace_settings"`);
    await queryRunner.query(`CREATE INDEX "IDX_4afc0505f2c919cf728124d627" ON "execution" ("status", "deadlineAt") `);
    // What an older hookd left QUEUED gets the default schedule-to-start limit from now.
    await queryRunner.query(`UPDATE "execution" SET "deadlineAt" = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 day') WHERE "status" = 'QUEUED'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_4afc0505f2c919cf728124d627"`);
    await queryRunner.query(`ALTER TABLE "workspace_settings" RENAME TO "temporary_workspace_settings"`);
    await queryRunner.query(
      `CREATE TABLE "workspace_settings" ("id" integer PRIMARY KEY NOT NULL, "hooksEnabled" boolean NOT NULL, "defaultExecutionServerId" varchar, "auditRoles" text NOT NULL, "metadataInternal" text NOT NULL, "metadataExternal" text NOT NULL)`,
    );
    await queryRunner.query(
      `INSERT INTO "workspace_settings"("id", "hooksEnabled", "defaultExecutionServerId", "auditRoles", "metadataInternal", "metadataExternal") SELECT "id", "hooksEnabled", "defaultExecutionServerId", "auditRoles", "metadataInternal", "metadataExternal" FROM "temporary_workspace_settings"`,
    );
    await queryRunner.query(`DROP TABLE "temporary_workspace_settings"`);
    await queryRunner.query(`DROP INDEX "IDX_8661f7a704e8caa29ba17f877a"`);
    await queryRunner.query(`DROP INDEX "IDX_42815f6253b1ae44452137cd0f"`);
    await queryRunner.query(`ALTER TABLE "execution" RENAME TO "temporary_execution"`);
    await queryRunner.query(
      `CREATE TABLE "execution" ("id" varchar PRIMARY KEY NOT NULL, "hook" varchar(32) NOT NULL, "source" varchar(16) NOT NULL, "mode" varchar(16), "configId" varchar(64) NOT NULL, "queue" varchar(64), "command" text, "argv" text, "os" varchar(16), "executionServerId" varchar, "jobId" varchar, "publishId" varchar, "input" text NOT NULL, "output" text, "status" varchar(16) NOT NULL, "exitCode" integer, "signal" varchar(16), "error" text, "waitingFor" text, "skipReason" varchar(32), "timeoutSeconds" integer NOT NULL, "attempt" integer NOT NULL, "retryOfId" varchar, "triggeredById" varchar, "pid" integer, "logLineCount" integer NOT NULL, "droppedBytes" integer NOT NULL, "createdAt" datetime NOT NULL, "startedAt" datetime, "finishedAt" datetime)`,
    );
    await queryRunner.query(
      `INSERT INTO "execution"("id", "hook", "source", "mode", "configId", "queue", "command", "argv", "os", "executionServerId", "jobId", "publishId", "input", "output", "status", "exitCode", "signal", "error", "waitingFor", "skipReason", "timeoutSeconds", "attempt", "retryOfId", "triggeredById", "pid", "logLineCount", "droppedBytes", "createdAt", "startedAt", "finishedAt") SELECT "id", "hook", "source", "mode", "configId", "queue", "command", "argv", "os", "executionServerId", "jobId", "publishId", "input", "output", "status", "exitCode", "signal", "error", "waitingFor", "skipReason", "timeoutSeconds", "attempt", "retryOfId", "triggeredById", "pid", "logLineCount", "droppedBytes", "createdAt", "startedAt", "finishedAt" FROM "temporary_execution"`,
    );
    await queryRunner.query(`DROP TABLE "temporary_execution"`);
    await queryRunner.query(`CREATE INDEX "IDX_8661f7a704e8caa29ba17f877a" ON "execution" ("jobId") `);
    await queryRunner.query(`CREATE INDEX "IDX_42815f6253b1ae44452137cd0f" ON "execution" ("createdAt", "id") `);
    await queryRunner.query(`CREATE INDEX "IDX_ee5fe9cb6a9fef91ca43c67971" ON "execution" ("status") `);
  }
}
