import type { MigrationInterface, QueryRunner } from "typeorm";

// Log lines keyed by (executionId, seq): the surrogate id, its AUTOINCREMENT counter and the second
// unique index go. The schema builder's output, folded into one rebuild of the table each way.

const COLUMNS = `"executionId", "seq", "stream", "at", "text"`;
const FK = `CONSTRAINT "FK_e0eb21c3ea3726539c42761c9fa" FOREIGN KEY ("executionId") REFERENCES "execution" ("id") ON DELETE CASCADE ON UPDATE NO ACTION`;

export class LogLinesKeyedBySeq1796190000000 implements MigrationInterface {
  name = "LogLinesKeyedBySeq1796190000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_0386f55b6f75d6cfe86f3c1939"`);
    await queryRunner.query(
      `CREATE TABLE "temporary_execution_log_line" ("executionId" varchar NOT NULL, "seq" integer NOT NULL, "stream" varchar(8) NOT NULL, "at" datetime NOT NULL, "text" text NOT NULL, ${FK}, PRIMARY KEY ("executionId", "seq"))`,
    );
    await queryRunner.query(`INSERT INTO "temporary_execution_log_line"(${COLUMNS}) SELECT ${COLUMNS} FROM "execution_log_line"`);
    await queryRunner.query(`DROP TABLE "execution_log_line"`);
    await queryRunner.query(`ALTER TABLE "temporary_execution_log_line" RENAME TO "execution_log_line"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "execution_log_line" RENAME TO "temporary_execution_log_line"`);
    await queryRunner.query(
      `CREATE TABLE "execution_log_line" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "executionId" varchar NOT NULL, "seq" integer NOT NULL, "stream" varchar(8) NOT NULL, "at" datetime NOT NULL, "text" text NOT NULL, ${FK})`,
    );
    await queryRunner.query(`INSERT INTO "execution_log_line"(${COLUMNS}) SELECT ${COLUMNS} FROM "temporary_execution_log_line" ORDER BY "executionId", "seq"`);
    await queryRunner.query(`DROP TABLE "temporary_execution_log_line"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_0386f55b6f75d6cfe86f3c1939" ON "execution_log_line" ("executionId", "seq") `);
  }
}
