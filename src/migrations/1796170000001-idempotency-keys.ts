import type { MigrationInterface, QueryRunner } from "typeorm";

// Idempotency keys (issue 22): one row per (user, operation, key), so of two concurrent repeats only one inserts it and runs.

export class IdempotencyKeys1796170000001 implements MigrationInterface {
  name = "IdempotencyKeys1796170000001";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "idempotency_key" ("userId" varchar NOT NULL, "operation" varchar(32) NOT NULL, "key" varchar(200) NOT NULL, "inputHash" varchar(64) NOT NULL, "resultIds" text, "errorCode" varchar(32), "errorMessage" text, "createdAt" datetime NOT NULL, "heartbeatAt" datetime NOT NULL, PRIMARY KEY ("userId", "operation", "key"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_38536b1937c55d305af4d69a97" ON "idempotency_key" ("createdAt") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_38536b1937c55d305af4d69a97"`);
    await queryRunner.query(`DROP TABLE "idempotency_key"`);
  }
}
