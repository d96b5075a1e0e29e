import { randomBytes } from "node:crypto";
import { loadConfig } from "../../../../common/src";
import { derivedKey, SecretBox, secretBinding } from "./secret-box";

const SERVICE_SECRET = "a-service-secret-of-at-least-32-characters";
const key = (id: string) => ({ id, key: randomBytes(32) });
const P1 = secretBinding("tenant-a", "p1");

describe("playbook secret key ring", () => {
  it("opens what it sealed only for the same playbook and key", () => {
    const box = new SecretBox([key("k1")]);
    const sealed = box.seal("whsec_0123456789abcdef", P1);
    expect(sealed.sealed).not.toContain("whsec");
    expect(sealed.keyId).toBe("k1");
    expect(box.open(sealed, P1)).toEqual({ secret: "whsec_0123456789abcdef" });
    expect(box.open(sealed, secretBinding("tenant-b", "p1"))).toEqual({ problem: "UNREADABLE" });
    expect(box.open(sealed, secretBinding("tenant-a", "p2"))).toEqual({ problem: "UNREADABLE" });
    // Another key under the same id (its material changed): does not open, and says so.
    expect(new SecretBox([key("k1")]).open(sealed, P1)).toEqual({ problem: "UNREADABLE" });
  });

  it("seals with the first key and opens with whichever key of the ring a secret names", () => {
    const old = key("2026-01");
    const current = key("2026-07");
    const before = new SecretBox([old]).seal("whsec_sealed_before_rotation", P1);
    const ring = new SecretBox([current, old]);
    expect(ring.currentKeyId).toBe("2026-07");
    expect(ring.previousKeyIds).toEqual(["2026-01"]);
    expect(ring.open(before, P1)).toEqual({ secret: "whsec_sealed_before_rotation" });
    const after = ring.seal("whsec_sealed_after_rotation", P1);
    expect(after.keyId).toBe("2026-07");
    // A replica still on the old ring cannot open what the new key sealed, and names why.
    expect(new SecretBox([old]).open(after, P1)).toEqual({ problem: "KEY_MISSING" });
    expect([ring.standingOf("2026-07"), ring.standingOf("2026-01"), ring.standingOf("2025-01")]).toEqual([
      "CURRENT",
      "PREVIOUS_KEY",
      "KEY_MISSING",
    ]);
    // Once the old key has left the ring, what it sealed is gone.
    expect(new SecretBox([current]).open(before, P1)).toEqual({ problem: "KEY_MISSING" });
  });

  it("keeps the key derived from the internal token secret, to open secrets sealed before the ring", () => {
    const legacy = SecretBox.fromConfig(loadConfig({ INTERNAL_TOKEN_SECRET: SERVICE_SECRET }));
    expect(legacy.currentKeyId).toBe(derivedKey(SERVICE_SECRET).id);
    expect(legacy.previousKeyIds).toEqual([]);
    const sealed = legacy.seal("whsec_from_before_the_ring", P1);
    const configured = SecretBox.fromConfig(
      loadConfig({
        INTERNAL_TOKEN_SECRET: SERVICE_SECRET,
        PLAYBOOK_SECRET_KEYS: `2026-07:${randomBytes(32).toString("base64")}`,
      }),
    );
    expect(configured.currentKeyId).toBe("2026-07");
    expect(configured.previousKeyIds).toEqual([sealed.keyId]);
    expect(configured.open(sealed, P1)).toEqual({ secret: "whsec_from_before_the_ring" });
    // A rotated internal token secret derives another key: those secrets are gone.
    const rotated = SecretBox.fromConfig(loadConfig({ INTERNAL_TOKEN_SECRET: "z".repeat(40) }));
    expect(rotated.open(sealed, P1)).toEqual({ problem: "KEY_MISSING" });
  });

  it("keeps the key derived from INTERNAL_TOKEN_SECRET_PREVIOUS to open (never to seal) while the secret is rotated", () => {
    const OLD = SERVICE_SECRET;
    const NEW = "a-new-service-secret-of-32-characters-or-more";
    const sealed = SecretBox.fromConfig(loadConfig({ INTERNAL_TOKEN_SECRET: OLD })).seal("whsec_before", P1);
    const rolled = SecretBox.fromConfig(
      loadConfig({ INTERNAL_TOKEN_SECRET: NEW, INTERNAL_TOKEN_SECRET_PREVIOUS: OLD }),
    );
    expect(rolled.currentKeyId).toBe(derivedKey(NEW).id);
    expect(rolled.previousKeyIds).toEqual([derivedKey(OLD).id]);
    expect(rolled.standingOf(sealed.keyId)).toBe("PREVIOUS_KEY");
    expect(rolled.open(sealed, P1)).toEqual({ secret: "whsec_before" });
    const resealed = rolled.seal("whsec_before", P1);
    expect(resealed.keyId).toBe(derivedKey(NEW).id);
    // The first roll of a rotation (the old secret still current, the new one beside it) opens what a replica
    // already on the new secret sealed.
    const first = SecretBox.fromConfig(
      loadConfig({ INTERNAL_TOKEN_SECRET: OLD, INTERNAL_TOKEN_SECRET_PREVIOUS: NEW }),
    );
    expect(first.currentKeyId).toBe(sealed.keyId);
    expect(first.open(resealed, P1)).toEqual({ secret: "whsec_before" });
    // With a configured ring, both derived keys stay behind it, to open only.
    const configured = SecretBox.fromConfig(
      loadConfig({
        INTERNAL_TOKEN_SECRET: NEW,
        INTERNAL_TOKEN_SECRET_PREVIOUS: OLD,
        PLAYBOOK_SECRET_KEYS: `2026-07:${randomBytes(32).toString("base64")}`,
      }),
    );
    expect(configured.currentKeyId).toBe("2026-07");
    expect(configured.previousKeyIds).toEqual([derivedKey(NEW).id, derivedKey(OLD).id]);
    expect(configured.open(sealed, P1)).toEqual({ secret: "whsec_before" });
  });

  it("reads PLAYBOOK_SECRET_KEYS newest first and refuses bad entries at start, never echoing key material", () => {
    const a = randomBytes(32).toString("base64");
    const b = randomBytes(32).toString("base64");
    expect(
      loadConfig({ PLAYBOOK_SECRET_KEYS: ` 2026-07:${a} , 2026-01:${b} ,` }).playbookSecretKeys.map((k) => [
        k.id,
        k.key.toString("base64"),
      ]),
    ).toEqual([
      ["2026-07", a],
      ["2026-01", b],
    ]);
    expect(loadConfig({}).playbookSecretKeys).toEqual([]);
    const short = randomBytes(16).toString("base64");
    let message = "";
    try {
      loadConfig({
        PLAYBOOK_SECRET_KEYS: `${a},k 2:${b},k3:${short},k4:${b},k4:${randomBytes(32).toString("base64")}`,
      });
    } catch (err) {
      message = String(err);
    }
    expect(message.split("\n").filter((l) => l.includes("PLAYBOOK_SECRET_KEYS"))).toEqual([
      '  PLAYBOOK_SECRET_KEYS: entry 1: write it as <key id>:<base64 key>, the id 1 to 32 letters, digits, ".", "_" or "-"',
      '  PLAYBOOK_SECRET_KEYS: entry 2: write it as <key id>:<base64 key>, the id 1 to 32 letters, digits, ".", "_" or "-"',
      '  PLAYBOOK_SECRET_KEYS: entry 3: key "k3" must be 32 random bytes in base64 (openssl rand -base64 32)',
      '  PLAYBOOK_SECRET_KEYS: entry 5: key id "k4" is used twice',
    ]);
    expect(message).not.toContain(b);
    expect(message).not.toContain(short);
    const twin = () => loadConfig({ PLAYBOOK_SECRET_KEYS: `new:${a},old:${a}` });
    expect(twin).toThrow('entry 2: key "old" has the same key material as "new"');
  });
});
