import { registerEnumType } from "type-graphql";
import { HookSource, SkipReason } from "../domain/effective-hooks.js";
import { HookPoint } from "../domain/hook-points.js";
import { UserRole } from "../domain/roles.js";

// Domain enums stay free of GraphQL; they are registered here, before the schema is built.
registerEnumType(HookPoint, {
  name: "HookPoint",
  description: "The ten hook points. Scripts see the dashed lowercase name (PRE_PUBLISH_SERVER → pre-publish-server).",
});
registerEnumType(UserRole, { name: "UserRole" });
registerEnumType(HookSource, { name: "HookSource", description: "Where an effective hook entry comes from." });
registerEnumType(SkipReason, { name: "SkipReason", description: "Why an effective hook entry does not run." });
