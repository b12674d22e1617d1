import type { MigrationInterface, QueryRunner } from "typeorm";

// One index per filter of the executions list (status, hook, queue, execution server), each in the
// list's (createdAt, id) order, so a filtered page stops sorting every matching row (generated).
// Plain CREATE INDEX (migrations run in a transaction, CONCURRENTLY cannot): at 1 M executions
// it holds writes to the table for a few seconds, once, at the upgrade's start-up.

export class PostgresExecutionFilterIndexes1796200000001 implements MigrationInterface {
  name = "PostgresExecutionFilterIndexes1796200000001";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "IDX_6537d513b8210735b089762d44" ON "execution" ("executionServerId", "createdAt", "id") `);
    await queryRunner.query(`CREATE INDEX "IDX_2f1022ab081d835db03d0064a6" ON "execution" ("queue", "createdAt", "id") `);
    await queryRunner.query(`CREATE INDEX "IDX_153794f24d80359489d3b06d9a" ON "execution" ("hook", "createdAt", "id") `);
    await queryRunner.query(`CREATE INDEX "IDX_8599180edb7cfbd0058bc5989f" ON "execution" ("status", "createdAt", "id") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."IDX_8599180edb7cfbd0058bc5989f"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_153794f24d80359489d3b06d9a"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_2f1022ab081d835db03d0064a6"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_6537d513b8210735b089762d44"`);
  }
}
