import { parseArgs } from "node:util";
import { canonicalId, isUuid, loadConfig, Role, parseRoles } from "../subgraphs/common/src";
import { signDevToken } from "../gateway/src/auth";

/**
 * `npm run --silent token -- --roles READER,ANALYST [--tenant ID] [--subject NAME] [--ttl SECONDS]`: prints a dev
 * token. `--resource ID` binds it to one machine (the `rampart:resource` claim): an agent's credential, so the
 * roles default to INGESTOR and may be nothing else.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      roles: { type: "string" },
      resource: { type: "string" },
      tenant: { type: "string" },
      subject: { type: "string", default: "dev@rampart.local" },
      ttl: { type: "string", default: String(12 * 3600) },
    },
  });
  const config = loadConfig();
  if (!config.jwt.secret)
    throw new Error("Development tokens need JWT_SECRET (production uses your OIDC provider).");
  const requested = (values.roles ?? (values.resource ? "INGESTOR" : "READER"))
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
  if (values.resource !== undefined) {
    if (!isUuid(values.resource)) throw new Error(`--resource takes a Rampart resource id (a UUID).`);
    if (roles.length !== 1 || roles[0] !== Role.INGESTOR)
      throw new Error("A machine-bound token (--resource) carries the INGESTOR role and no other.");
  }
  const token = await signDevToken(
    config.jwt.secret,
    {
      subject: values.subject,
      resourceId: values.resource === undefined ? undefined : canonicalId(values.resource),
      tenantId: values.tenant ?? config.demoTenantId,
      roles,
      ttlSeconds: Number(values.ttl),
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    },
    config.jwt,
  );
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
