import { parseArgs } from "node:util";
import { loadConfig, Role, parseRoles } from "../subgraphs/common/src";
import { signDevToken } from "../gateway/src/auth";

/** `npm run --silent token -- --roles READER,ANALYST [--tenant ID] [--subject NAME] [--ttl SECONDS]`: prints a dev token. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      roles: { type: "string", default: "READER" },
      tenant: { type: "string" },
      subject: { type: "string", default: "dev@rampart.local" },
      ttl: { type: "string", default: String(12 * 3600) },
    },
  });
  const config = loadConfig();
  if (!config.jwt.secret)
    throw new Error("Development tokens need JWT_SECRET (production uses your OIDC provider).");
  const requested = values.roles
    .split(",")
    .map((r) => r.trim().toUpperCase())
    .filter(Boolean);
  const roles = parseRoles(requested);
  const unknown = requested.filter((r) => !roles.includes(r as Role));
  if (unknown.length || roles.length === 0) {
    throw new Error(
      `Unknown role(s): ${unknown.join(", ") || "(none given)"}. Known: ${Object.values(Role).join(", ")}`,
    );
  }
  const token = await signDevToken(config.jwt.secret, {
    subject: values.subject,
    tenantId: values.tenant ?? config.demoTenantId,
    roles,
    ttlSeconds: Number(values.ttl),
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
