import type { ObjectLiteral } from "typeorm";
import type { ChangeSource } from "../store/entity-cache.js";
import type { EntityClass } from "../store/native-rows.js";
import type { PubSub } from "./pubsub.js";

/**
 * Writes to cached entities, heard from every hookd process that shares the database: this
 * process's through Store.watch, the others' through the pub/sub (entitiesChanged). A write here
 * is published after its transaction committed (Store.watch calls back again then), so another
 * instance never reloads and keeps the value from before it. Access changes (accessChanged) and a
 * broker reconnect drop every cache too: what they invalidate may have been missed meanwhile.
 */
export class ChangeFeed implements ChangeSource {
  private readonly watchers: { names: Set<string>; onChange: () => void }[] = [];

  constructor(
    private readonly store: ChangeSource,
    private readonly pubsub: PubSub,
    private readonly instanceId: string,
  ) {
    pubsub.subscribe("entitiesChanged", "*", (event) => {
      if (event.origin === this.instanceId) return;
      const all = event.entities.includes("*");
      for (const w of this.watchers) if (all || event.entities.some((name) => w.names.has(name))) w.onChange();
    });
    pubsub.subscribe("accessChanged", "*", () => {
      for (const w of this.watchers) w.onChange();
    });
  }

  watch(entities: EntityClass<ObjectLiteral>[], onChange: () => void): void {
    const names = new Set(entities.map((e) => e.name));
    this.watchers.push({ names, onChange });
    this.store.watch(entities, () => {
      onChange();
      if (this.pubsub.distributed) this.pubsub.publish("entitiesChanged", "*", { entities: [...names], origin: this.instanceId });
    });
  }
}
