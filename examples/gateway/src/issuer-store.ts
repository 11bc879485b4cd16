/**
 * The dev issuer's storage (oidc-provider's adapter interface), in memory. A client_credentials
 * grant with JWT access tokens stores nothing a restart needs: the tokens verify by signature,
 * and the key and client live in dev-issuer.json. Saying so here keeps the provider from warning
 * a newcomer that data will be lost.
 */

type Payload = Record<string, unknown>;

/** A fresh adapter class per provider: oidc-provider builds one instance per model, sharing `all`. */
export function issuerStore() {
  const all = new Map<string, { payload: Payload; expiresAt: number }>();
  return class IssuerStore {
    constructor(readonly model: string) {}

    key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: Payload, expiresIn: number): Promise<void> {
      all.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
    }

    async find(id: string): Promise<Payload | undefined> {
      const entry = all.get(this.key(id));
      if (!entry || entry.expiresAt <= Date.now()) return undefined;
      return entry.payload;
    }

    async findByUid(): Promise<undefined> {
      return undefined;
    }

    async findByUserCode(): Promise<undefined> {
      return undefined;
    }

    async consume(id: string): Promise<void> {
      const entry = all.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      all.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of all) {
        if (entry.payload.grantId === grantId) all.delete(key);
      }
    }
  };
}
