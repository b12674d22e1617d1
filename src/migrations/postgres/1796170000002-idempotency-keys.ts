import type { MigrationInterface, QueryRunner } from "typeorm";

// Idempotency keys (issue 22), PostgreSQL's twin of ../1796170000001-idempotency-keys.ts (generated:
// scripts/generate-migration.mjs). The primary key (user, operation, key) lets one of two concurrent repeats insert it.

export class PostgresIdempotencyKeys1796170000002 implements MigrationInterface {
  name = "PostgresIdempotencyKeys1796170000002";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "idempotency_key" ("userId" character varying NOT NULL, "operation" character varying(32) NOT NULL, "key" character varying(200) NOT NULL, "inputHash" character varying(64) NOT NULL, "resultIds" text, "errorCode" character varying(32), "errorMessage" text, "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "heartbeatAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_8d214aaf3999c98d0a8e0ae8019" PRIMARY KEY ("userId", "operation", "key"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_38536b1937c55d305af4d69a97" ON "idempotency_key" ("createdAt")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_38536b1937c55d305af4d69a97"`);
    await queryRunner.query(`DROP TABLE "idempotency_key"`);
  }
}
