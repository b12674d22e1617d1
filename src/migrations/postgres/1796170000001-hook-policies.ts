import type { MigrationInterface, QueryRunner } from "typeorm";

// Hook policies (issue 22), PostgreSQL's twin of ../1796170000000-hook-policies.ts (generated:
// scripts/generate-migration.mjs): added columns only, existing rows keep their values.

export class PostgresHookPolicies1796170000001 implements MigrationInterface {
  name = "PostgresHookPolicies1796170000001";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "secret" ("name" character varying(128) NOT NULL, "sealed" text NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_f05861f3e072021bda08543eb4c" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(`ALTER TABLE "queue_hook" ADD "policy" text`);
    await queryRunner.query(`ALTER TABLE "execution" ADD "policy" text`);
    await queryRunner.query(`ALTER TABLE "execution" ADD "afterId" character varying`);
    await queryRunner.query(`ALTER TABLE "execution" ADD "notBefore" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "execution" ADD "nextAttemptAt" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "execution" ADD "nextAttemptId" character varying`);
    await queryRunner.query(`ALTER TABLE "execution" ADD "concurrencyKey" character varying(500)`);
    await queryRunner.query(`ALTER TABLE "hook_config" ADD "policy" text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "hook_config" DROP COLUMN "policy"`);
    await queryRunner.query(`ALTER TABLE "execution" DROP COLUMN "concurrencyKey"`);
    await queryRunner.query(`ALTER TABLE "execution" DROP COLUMN "nextAttemptId"`);
    await queryRunner.query(`ALTER TABLE "execution" DROP COLUMN "nextAttemptAt"`);
    await queryRunner.query(`ALTER TABLE "execution" DROP COLUMN "notBefore"`);
    await queryRunner.query(`ALTER TABLE "execution" DROP COLUMN "afterId"`);
    await queryRunner.query(`ALTER TABLE "execution" DROP COLUMN "policy"`);
    await queryRunner.query(`ALTER TABLE "queue_hook" DROP COLUMN "policy"`);
    await queryRunner.query(`DROP TABLE "secret"`);
  }
}
