import type { MigrationInterface, QueryRunner } from "typeorm";

// Configuration history (issue 37): one row per numbered version, with its document and changes (generated).

export class PostgresConfigurationHistory1796200000000 implements MigrationInterface {
  name = "PostgresConfigurationHistory1796200000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "configuration_version" ("version" integer NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "actorId" character varying, "actor" character varying(320) NOT NULL, "action" character varying(64) NOT NULL, "target" character varying(255) NOT NULL, "changes" text NOT NULL, "document" text NOT NULL, CONSTRAINT "PK_6178a7f99bf746b81fd0434197f" PRIMARY KEY ("version"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "configuration_version"`);
  }
}
