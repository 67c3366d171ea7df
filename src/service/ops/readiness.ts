// Readiness: the service takes hook calls only once every required component (model, mapping, handlers) is up.

export class Readiness {
  private readonly pending = new Map<string, string>();
  private draining = false;

  /** Components that must report ready; each starts as "loading". */
  constructor(required: readonly string[] = []) {
    for (const name of required) this.pending.set(name, 'loading');
  }

  require(name: string, state = 'loading'): void {
    this.pending.set(name, state);
  }

  markReady(name: string): void {
    this.pending.delete(name);
  }

  markFailed(name: string, reason: string): void {
    this.pending.set(name, `failed: ${reason}`);
  }

  /** During shutdown the service reports not ready so that load balancers stop sending calls. */
  markDraining(): void {
    this.draining = true;
  }

  isReady(): boolean {
    return !this.draining && this.pending.size === 0;
  }

  /** What is still missing, for /readyz and logs. */
  reasons(): string[] {
    const out = [...this.pending.entries()].map(([name, state]) => `${name}: ${state}`);
    if (this.draining) out.unshift('shutting down');
    return out;
  }
}
