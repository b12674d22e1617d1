import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * PostgreSQL's schema as of the SQLite migrations up to RemoteAgents1796162408793, in one step:
 * generated from the entities (fitted by fitEntitiesToPostgres) with TypeORM's schema builder
 * against an empty database (scripts/generate-migration.mjs).
 */
export class PostgresInitial1796170000000 implements MigrationInterface {
  name = "PostgresInitial1796170000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "execution_server" ("id" character varying(36) NOT NULL, "name" character varying(200) NOT NULL, "hostname" character varying(255) NOT NULL, "os" character varying(16) NOT NULL, "kind" character varying(16) NOT NULL, "ownerId" character varying(36), "online" boolean NOT NULL, "lastSeenAt" TIMESTAMP WITH TIME ZONE, "labels" text NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "metadataExternal" text NOT NULL, "metadataInternal" text NOT NULL, CONSTRAINT "PK_9fccce3e11d2f5e37f0e4b63d16" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "agent" ("id" character varying(36) NOT NULL, "kind" character varying(16) NOT NULL, "name" character varying(200) NOT NULL, "prefix" character varying(16) NOT NULL, "hash" character varying(64) NOT NULL, "executionServerId" character varying NOT NULL, "userId" character varying, "hostname" character varying(255), "os" character varying(16), "version" character varying(32), "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revokedAt" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_1000e989398c5d4ed585cf9a46f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_f1c4b247b239fe268a6fba6a99" ON "agent"  ("hash")`);
    await queryRunner.query(`CREATE INDEX "IDX_27a1cef3b7bb41349c016bf58e" ON "agent"  ("executionServerId")`);
    await queryRunner.query(
      `CREATE TABLE "agent_token" ("id" character varying(36) NOT NULL, "kind" character varying(16) NOT NULL, "name" character varying(200) NOT NULL, "userId" character varying, "hash" character varying(64) NOT NULL, "expiresAt" TIMESTAMP WITH TIME ZONE NOT NULL, "usedAt" TIMESTAMP WITH TIME ZONE, "createdById" character varying, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_05d82e6a18f93b821fa899dd899" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_34f75294d00dd0c1bfb6be0327" ON "agent_token"  ("hash")`);
    await queryRunner.query(
      `CREATE TABLE "api_key" ("id" character varying(36) NOT NULL, "prefix" character varying(16) NOT NULL, "hash" character varying(64) NOT NULL, "label" character varying(200), "userId" character varying(36) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "lastUsedAt" TIMESTAMP WITH TIME ZONE, "revokedAt" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_b1bd840641b8acbaad89c3d8d11" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_45e0aa2a880b928326a05a2888" ON "api_key"  ("hash")`);
    await queryRunner.query(
      `CREATE TABLE "audit_event" ("id" character varying(36) NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "actorId" character varying, "actor" character varying(320) NOT NULL, "action" character varying(64) NOT NULL, "targetType" character varying(32) NOT NULL, "targetId" character varying(255) NOT NULL, "before" text, "after" text, CONSTRAINT "PK_481efbe8b0a403efe3f47a6528f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_4117dc292c4972e4b400d062fc" ON "audit_event"  ("targetId")`);
    await queryRunner.query(`CREATE INDEX "IDX_45452915f68f5a171bc4107b9e" ON "audit_event"  ("action")`);
    await queryRunner.query(`CREATE INDEX "IDX_5e17158fec0039930c5870f0e4" ON "audit_event"  ("at", "id")`);
    await queryRunner.query(
      `CREATE TABLE "execution_log_line" ("id" BIGSERIAL NOT NULL, "executionId" character varying(36) NOT NULL, "seq" integer NOT NULL, "stream" character varying(8) NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "text" text NOT NULL, CONSTRAINT "PK_f67bf87bb289c401e48fc6487e6" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_0386f55b6f75d6cfe86f3c1939" ON "execution_log_line"  ("executionId", "seq")`);
    await queryRunner.query(
      `CREATE TABLE "queue_hook" ("id" character varying(36) NOT NULL, "queueId" character varying(36) NOT NULL, "hook" character varying(32) NOT NULL, "mode" character varying(16) NOT NULL, "enabled" boolean NOT NULL, "timeoutSeconds" integer, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "commandLinux" text, "commandMac" text, "commandWindows" text, CONSTRAINT "PK_5e8c52ad26496e4906c303dd3a9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_f2452710b06be0cfbacb909a5e" ON "queue_hook"  ("queueId", "hook")`);
    await queryRunner.query(
      `CREATE TABLE "execution" ("id" character varying(36) NOT NULL, "hook" character varying(32) NOT NULL, "source" character varying(16) NOT NULL, "mode" character varying(16), "configId" character varying(64) NOT NULL, "queue" character varying(64), "command" text, "argv" text, "os" character varying(16), "executionServerId" character varying, "jobId" character varying, "publishId" character varying, "input" text NOT NULL, "output" text, "status" character varying(16) NOT NULL, "exitCode" integer, "signal" character varying(16), "error" text, "waitingFor" text, "skipReason" character varying(32), "timeoutSeconds" integer NOT NULL, "attempt" integer NOT NULL, "retryOfId" character varying, "triggeredById" character varying, "pid" integer, "runnerId" character varying(200), "leaseExpiresAt" TIMESTAMP WITH TIME ZONE, "deadlineAt" TIMESTAMP WITH TIME ZONE, "cancelRequestedAt" TIMESTAMP WITH TIME ZONE, "logLineCount" integer NOT NULL, "droppedBytes" integer NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "startedAt" TIMESTAMP WITH TIME ZONE, "finishedAt" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_cc6684fedf29ec4c86db8448a2b" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_8661f7a704e8caa29ba17f877a" ON "execution"  ("jobId")`);
    await queryRunner.query(`CREATE INDEX "IDX_4afc0505f2c919cf728124d627" ON "execution"  ("status", "deadlineAt")`);
    await queryRunner.query(`CREATE INDEX "IDX_42815f6253b1ae44452137cd0f" ON "execution"  ("createdAt", "id")`);
    await queryRunner.query(
      `CREATE TABLE "hook_config" ("hook" character varying(32) NOT NULL, "enabled" boolean NOT NULL, "timeoutSeconds" integer, "executionServerId" character varying, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "commandLinux" text, "commandMac" text, "commandWindows" text, CONSTRAINT "PK_5a6d5462a04e025a8d0da8b828b" PRIMARY KEY ("hook"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "job" ("id" character varying(36) NOT NULL, "code" character varying(128) NOT NULL, "name" character varying(255) NOT NULL, "queueId" character varying(36) NOT NULL, "status" character varying(16) NOT NULL, "userId" character varying, "source" character varying(255) NOT NULL, "sourceHr" character varying(255) NOT NULL, "destination" character varying(255) NOT NULL, "destinationHr" character varying(255) NOT NULL, "engine" character varying(64) NOT NULL, "tasks" text NOT NULL, "size" bigint NOT NULL, "clientId" character varying, "volumeId" character varying, "settings" text NOT NULL, "hooks" text NOT NULL, "message" text, "failCount" integer NOT NULL, "publishId" character varying, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL, "metadataExternal" text NOT NULL, "metadataInternal" text NOT NULL, CONSTRAINT "UQ_091dae5295365c58ce136d789d4" UNIQUE ("code"), CONSTRAINT "PK_98ab1c14ff8d1cf80d18703b92f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_2161521cd27cc6f4d29fac9d38" ON "job"  ("createdAt", "id")`);
    await queryRunner.query(
      `CREATE TABLE "publish" ("id" character varying(36) NOT NULL, "userId" character varying NOT NULL, "state" character varying(16) NOT NULL, "clientId" character varying, "hostname" character varying(255), "ip" character varying(64), "metadata" text NOT NULL, "files" text NOT NULL, "answer" text NOT NULL, "guidelines" text, "commentRequired" boolean NOT NULL, "timeReportRequired" boolean NOT NULL, "metadataRequired" boolean NOT NULL, "statuses" text NOT NULL, "entries" text NOT NULL, "submitted" text, "jobId" character varying, "error" text, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_46cf41eb08a5e3849c62941a587" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_e611085155837c58b267fbe32d" ON "publish"  ("createdAt", "id")`);
    await queryRunner.query(
      `CREATE TABLE "queue" ("id" character varying(36) NOT NULL, "code" character varying(64) NOT NULL, "name" character varying(200) NOT NULL, "priority" integer NOT NULL, "isDefault" boolean NOT NULL, "status" character varying(16) NOT NULL, "description" text, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "metadataExternal" text NOT NULL, "metadataInternal" text NOT NULL, CONSTRAINT "UQ_c564e35d1e65354b6ebc30858a7" UNIQUE ("code"), CONSTRAINT "PK_4adefbd9c73b3f9a49985a5529f" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "user" ("id" character varying(36) NOT NULL, "email" character varying(320) NOT NULL, "role" character varying(16) NOT NULL, "disabled" boolean NOT NULL DEFAULT false, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "metadataExternal" text NOT NULL, "metadataInternal" text NOT NULL, CONSTRAINT "UQ_e12875dfb3b1d92d7d7c5377e22" UNIQUE ("email"), CONSTRAINT "PK_cace4a159ff9f2512dd42373760" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "volume" ("id" character varying(36) NOT NULL, "code" character varying(64) NOT NULL, "name" character varying(200) NOT NULL, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "pathLinux" text, "pathMac" text, "pathWindows" text, "metadataExternal" text NOT NULL, "metadataInternal" text NOT NULL, CONSTRAINT "UQ_f9e70381776b1059987cddf09d9" UNIQUE ("code"), CONSTRAINT "PK_666025cd0c36727216bb7f2a680" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "workspace_settings" ("id" integer NOT NULL, "hooksEnabled" boolean NOT NULL, "defaultExecutionServerId" character varying, "scheduleToStartSeconds" integer NOT NULL DEFAULT '86400', "auditRoles" text NOT NULL, "metadataExternal" text NOT NULL, "metadataInternal" text NOT NULL, CONSTRAINT "PK_b99609772017c1ec22c40c1ddb4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`ALTER TABLE "execution_server" ADD CONSTRAINT "FK_fbd640262c1def5cc3c9bf3a33f" FOREIGN KEY ("ownerId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "api_key" ADD CONSTRAINT "FK_277972f4944205eb29127f9bb6c" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "queue_hook" ADD CONSTRAINT "FK_d131037c1d177d9106e3303ca8c" FOREIGN KEY ("queueId") REFERENCES "queue"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "job" ADD CONSTRAINT "FK_640e856f3a9554e16c28b161c2f" FOREIGN KEY ("queueId") REFERENCES "queue"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "job" DROP CONSTRAINT "FK_640e856f3a9554e16c28b161c2f"`);
    await queryRunner.query(`ALTER TABLE "queue_hook" DROP CONSTRAINT "FK_d131037c1d177d9106e3303ca8c"`);
    await queryRunner.query(`ALTER TABLE "api_key" DROP CONSTRAINT "FK_277972f4944205eb29127f9bb6c"`);
    await queryRunner.query(`ALTER TABLE "execution_server" DROP CONSTRAINT "FK_fbd640262c1def5cc3c9bf3a33f"`);
    await queryRunner.query(`DROP TABLE "workspace_settings"`);
    await queryRunner.query(`DROP TABLE "volume"`);
    await queryRunner.query(`DROP TABLE "user"`);
    await queryRunner.query(`DROP TABLE "queue"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_e611085155837c58b267fbe32d"`);
    await queryRunner.query(`DROP TABLE "publish"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_2161521cd27cc6f4d29fac9d38"`);
    await queryRunner.query(`DROP TABLE "job"`);
    await queryRunner.query(`DROP TABLE "hook_config"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_42815f6253b1ae44452137cd0f"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_4afc0505f2c919cf728124d627"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_8661f7a704e8caa29ba17f877a"`);
    await queryRunner.query(`DROP TABLE "execution"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_f2452710b06be0cfbacb909a5e"`);
    await queryRunner.query(`DROP TABLE "queue_hook"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_0386f55b6f75d6cfe86f3c1939"`);
    await queryRunner.query(`DROP TABLE "execution_log_line"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_5e17158fec0039930c5870f0e4"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_45452915f68f5a171bc4107b9e"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_4117dc292c4972e4b400d062fc"`);
    await queryRunner.query(`DROP TABLE "audit_event"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_45e0aa2a880b928326a05a2888"`);
    await queryRunner.query(`DROP TABLE "api_key"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_34f75294d00dd0c1bfb6be0327"`);
    await queryRunner.query(`DROP TABLE "agent_token"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_27a1cef3b7bb41349c016bf58e"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_f1c4b247b239fe268a6fba6a99"`);
    await queryRunner.query(`DROP TABLE "agent"`);
    await queryRunner.query(`DROP TABLE "execution_server"`);
  }
}
