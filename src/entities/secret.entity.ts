import { Field, ObjectType } from "type-graphql";
import { Column, Entity, PrimaryColumn } from "typeorm";

/** A secret hooks may ask for (their policy's env): write-only, stored encrypted (AES-256-GCM, HOOKD_SECRET_KEY). */
@ObjectType({ description: "A secret's name and when it was set. Its value is write-only: the API never returns it." })
@Entity("secret")
export class Secret {
  @Field({ description: "Also the environment variable a hook gets it as." })
  @PrimaryColumn({ type: "varchar", length: 128 })
  name: string;

  /** base64 of iv (12 bytes) + auth tag (16 bytes) + ciphertext. */
  @Column({ type: "text" })
  sealed: string;

  @Field()
  @Column({ type: Date })
  updatedAt: Date;
}
