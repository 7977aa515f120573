/**
 * A typed listener registry: the few lines we need from an event emitter, without pulling one
 * into the browser bundle. A throwing listener is reported and does not stop the others.
 */
export class Listeners<Events extends { [E in keyof Events]: (...args: never[]) => void }> {
  readonly #byEvent = new Map<keyof Events, Set<Events[keyof Events]>>();

  add<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#byEvent.get(event);
    if (set === undefined) this.#byEvent.set(event, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#byEvent.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (error) {
        // A bug in app code must not break delivery to the other listeners or the SDK's state.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.#byEvent.clear();
  }
}
