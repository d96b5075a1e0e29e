/*
 * Playbook signing secrets at rest. The API takes a secret and never gives it back; the database keeps it
 * sealed with AES-256-GCM, so a backup or a stray read of the table shows no usable secret, and a sealed
 * secret moved to another playbook or tenant does not open (both are bound in as additional data).
 *
 * The key is derived (HKDF-SHA256) from INTERNAL_TOKEN_SECRET, which every SIEM replica has and the database
 * does not. `keyId` names the key a secret was sealed with: after that secret is rotated, old secrets no
 * longer open, and their runs fail saying so until an admin sets each playbook's secret again.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";

/** A sealed secret as stored. */
export interface SealedSecret {
  sealed: string;
  keyId: string;
}

/** Seals and opens playbook secrets with a key derived from the service's secret. */
export class SecretBox {
  private readonly key: Buffer;
  /** Names the key without revealing it. */
  readonly keyId: string;

  constructor(serviceSecret: string) {
    this.key = Buffer.from(
      hkdfSync("sha256", serviceSecret, "rampart-siem", "playbook signing secrets v1", 32),
    );
    this.keyId = createHash("sha256").update(this.key).digest("hex").slice(0, 16);
  }

  /** Seals `secret` for the playbook `boundTo` names (tenant and id). */
  seal(secret: string, boundTo: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const body = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return { sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64"), keyId: this.keyId };
  }

  /** The secret, or null when it was sealed with another key or for another playbook (or was altered). */
  open(stored: SealedSecret, boundTo: string): string | null {
    if (stored.keyId !== this.keyId) return null;
    try {
      const raw = Buffer.from(stored.sealed, "base64");
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      return null;
    }
  }
}

/** What a playbook's secret is bound to. */
export const secretBinding = (tenantId: string, playbookId: string) => `${tenantId}\u0000${playbookId}`;
