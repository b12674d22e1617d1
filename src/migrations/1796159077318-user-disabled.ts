import type { MigrationInterface, QueryRunner } from "typeorm";

// Written by hand rather than generated: the generated form rebuilds the "user" table, and
// dropping it with foreign keys on would cascade to every API key and client.
export class UserDisabled1796159077318 implements MigrationInterface {
  name = "UserDisabled1796159077318";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "user" ADD COLUMN "disabled" boolean NOT NULL DEFAULT (0)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "user" DROP COLUMN "disabled"`);
  }
}
