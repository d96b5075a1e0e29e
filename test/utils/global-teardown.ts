import type { Database } from "../../scripts/lib/database";

/** Stops the embedded server global-setup started, if any. */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __rampartTestDb?: Database }).__rampartTestDb?.stop();
}
