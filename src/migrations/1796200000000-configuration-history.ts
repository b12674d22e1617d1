import type { MigrationInterface, QueryRunner } from "typeorm";

// Configuration history (issue 37): one row per numbered version, with its document and changes (generated).

export class ConfigurationHistory1796200000000 implements MigrationInterface {
  name = "ConfigurationHistory1796200000000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "configuration_version" ("version" integer PRIMARY KEY NOT NULL, "at" datetime NOT NULL, "actorId" varchar, "actor" varchar(320) NOT NULL, "action" varchar(64) NOT NULL, "target" varchar(255) NOT NULL, "changes" text NOT NULL, "document" text NOT NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "configuration_version"`);
  }
}
