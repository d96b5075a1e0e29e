/*
 * Playbook signing secrets at rest. The API takes a secret and never gives it back; the database keeps it
 * sealed with AES-256-GCM, so a backup or a stray read of the table shows no usable secret, and a sealed
 * secret moved to another playbook or tenant does not open (both are bound in as additional data).
 *
 * The keys form a ring (PLAYBOOK_SECRET_KEYS, newest first), which every SIEM replica has and the database
 * does not. A sealed secret records the id of the key that sealed it; it is opened with that key, whichever
 * of the ring it is, so rotating means putting a new key first and keeping the old one behind it until the
 * `playbook_secrets_rekey` job has sealed every secret again under the new one. A secret whose key has left
 * the ring cannot be opened: its runs fail saying so, and the playbook shows `secretStatus: KEY_MISSING`
 * until an admin sets its secret again.
 *
 * Without PLAYBOOK_SECRET_KEYS the ring is one key derived (HKDF-SHA256) from INTERNAL_TOKEN_SECRET, as
 * before the ring existed; with it, that derived key stays in the ring to open (never to seal), so secrets
 * sealed before the ring was configured are opened and moved to its first key.
 *
 * While INTERNAL_TOKEN_SECRET is rotated (INTERNAL_TOKEN_SECRET_PREVIOUS set), the key derived from the
 * previous secret stays in the ring to open, behind the others: secrets sealed under it are not lost, and the
 * re-encryption job moves them to the current key like any older key's, before the previous secret is
 * removed. (During the first roll of a rotation, where the previous secret is the incoming one, that key opens
 * what a replica already on the new secret sealed.)
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import type { Config, PlaybookSecretKey } from "../../../../common/src";

/** A sealed secret as stored. */
export interface SealedSecret {
  sealed: string;
  keyId: string;
}

/** Where a sealed secret's key stands in the ring. */
export type SecretKeyStanding = "CURRENT" | "PREVIOUS_KEY" | "KEY_MISSING";

/** What opening a sealed secret gave: the secret, or why not (the key left the ring; it does not open). */
export type OpenedSecret = { secret: string } | { problem: "KEY_MISSING" | "UNREADABLE" };

/** The key derived from the internal token secret (the only key before PLAYBOOK_SECRET_KEYS existed). */
export function derivedKey(serviceSecret: string): PlaybookSecretKey {
  const key = Buffer.from(
    hkdfSync("sha256", serviceSecret, "rampart-siem", "playbook signing secrets v1", 32),
  );
  // Its id names it without revealing it; secrets sealed before the ring carry this id.
  return { id: createHash("sha256").update(key).digest("hex").slice(0, 16), key };
}

/** Seals playbook secrets with the ring's first key and opens them with the key each one names. */
export class SecretBox {
  private readonly keys: ReadonlyMap<string, Buffer>;
  /** The key new secrets are sealed with. */
  readonly currentKeyId: string;
  /** The other keys: they open secrets, which the re-encryption job then seals with the current one. */
  readonly previousKeyIds: readonly string[];

  /** `ring`: the keys, newest (the one that seals) first; at least one. */
  constructor(ring: readonly PlaybookSecretKey[]) {
    if (ring.length === 0) throw new Error("a secret box needs at least one key");
    this.keys = new Map(ring.map((k) => [k.id, k.key]));
    this.currentKeyId = ring[0].id;
    this.previousKeyIds = [...this.keys.keys()].slice(1);
  }

  /**
   * The ring a configuration names: PLAYBOOK_SECRET_KEYS, then the key derived from the internal token
   * secret, then the one derived from its previous value (during a rotation); without PLAYBOOK_SECRET_KEYS the
   * first derived key seals.
   */
  static fromConfig(
    config: Pick<Config, "internalTokenSecret" | "internalTokenPreviousSecret" | "playbookSecretKeys">,
  ): SecretBox {
    const derived = [config.internalTokenSecret, config.internalTokenPreviousSecret]
      .filter((secret): secret is string => secret !== undefined)
      .map(derivedKey);
    const ring = [...config.playbookSecretKeys];
    for (const key of derived) if (!ring.some((k) => k.id === key.id)) ring.push(key);
    return new SecretBox(ring);
  }

  /** Seals `secret` for the playbook `boundTo` names (tenant and id), with the current key. */
  seal(secret: string, boundTo: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return {
      sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64"),
      keyId: this.currentKeyId,
    };
  }

  /** Opens a secret with the key it names: KEY_MISSING when that key left the ring, UNREADABLE when it fails. */
  open(stored: SealedSecret, boundTo: string): OpenedSecret {
    const key = this.keys.get(stored.keyId);
    if (!key) return { problem: "KEY_MISSING" };
    try {
      const raw = Buffer.from(stored.sealed, "base64");
      const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(raw.subarray(12, 28));
      return {
        secret: Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"),
      };
    } catch {
      return { problem: "UNREADABLE" };
    }
  }

  /** Where a key stands: the current one, an older one of the ring, or gone. */
  standingOf(keyId: string): SecretKeyStanding {
    if (keyId === this.currentKeyId) return "CURRENT";
    return this.keys.has(keyId) ? "PREVIOUS_KEY" : "KEY_MISSING";
  }
}

/** What a playbook's secret is bound to. */
export const secretBinding = (tenantId: string, playbookId: string) => `${tenantId}\u0000${playbookId}`;
