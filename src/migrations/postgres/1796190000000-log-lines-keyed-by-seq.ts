import type { MigrationInterface, QueryRunner } from "typeorm";

// Log lines keyed by (executionId, seq): the bigserial id and its index go, and the unique index on
// (executionId, seq) becomes the primary key as it is (USING INDEX: no rebuild of a large table).

export class PostgresLogLinesKeyedBySeq1796190000000 implements MigrationInterface {
  name = "PostgresLogLinesKeyedBySeq1796190000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "execution_log_line" DROP CONSTRAINT "PK_f67bf87bb289c401e48fc6487e6"`);
    await queryRunner.query(`ALTER TABLE "execution_log_line" DROP COLUMN "id"`);
    await queryRunner.query(`ALTER TABLE "execution_log_line" ADD CONSTRAINT "PK_0386f55b6f75d6cfe86f3c19397" PRIMARY KEY USING INDEX "IDX_0386f55b6f75d6cfe86f3c1939"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "execution_log_line" DROP CONSTRAINT "PK_0386f55b6f75d6cfe86f3c19397"`);
    await queryRunner.query(`ALTER TABLE "execution_log_line" ADD "id" BIGSERIAL NOT NULL`);
    await queryRunner.query(`ALTER TABLE "execution_log_line" ADD CONSTRAINT "PK_f67bf87bb289c401e48fc6487e6" PRIMARY KEY ("id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_0386f55b6f75d6cfe86f3c1939" ON "execution_log_line" ("executionId", "seq") `);
  }
}
