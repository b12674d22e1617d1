import type { MigrationInterface, QueryRunner } from "typeorm";

// Hook policies (issue 22): added columns only, written by hand (portable ALTER TABLE ... ADD COLUMN),
// so no table is rebuilt and existing rows keep their values (null: no policy, no link).
const COLUMNS: [table: string, column: string, type: string][] = [
  ["hook_config", "policy", "text"],
  ["queue_hook", "policy", "text"],
  ["execution", "policy", "text"],
  ["execution", "afterId", "varchar"],
  ["execution", "notBefore", "datetime"],
  ["execution", "nextAttemptAt", "datetime"],
  ["execution", "nextAttemptId", "varchar"],
  ["execution", "concurrencyKey", "varchar(500)"],
];

export class HookPolicies1796170000000 implements MigrationInterface {
  name = "HookPolicies1796170000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const [table, column, type] of COLUMNS) await queryRunner.query(`ALTER TABLE "${table}" ADD COLUMN "${column}" ${type}`);
    await queryRunner.query(`CREATE TABLE "secret" ("name" varchar(128) PRIMARY KEY NOT NULL, "sealed" text NOT NULL, "updatedAt" datetime NOT NULL)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "secret"`);
    for (const [table, column] of [...COLUMNS].reverse()) await queryRunner.query(`ALTER TABLE "${table}" DROP COLUMN "${column}"`);
  }
}
