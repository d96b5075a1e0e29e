import DataLoader from "dataloader";
import { BadUserInputError, isUuid, type Identity, type RequestDb } from "../../../../common/src";
import type { ResourceRef } from "../../references";
import { parseWindow } from "../appcontrol/window";
import { jitEnforcedSql } from "../jit/enforcement";
import { isInternetAddress } from "./addresses";
import { recommendHardening, type ObservedFlow, type OpenRange } from "./hardening";
import { HardeningRecommendation, ObservedSourcePrefix } from "./hardening.types";
import type { NetworkProtocol } from "./exposure.ref";

/** The default traffic window (the default telemetry retention). */
export const DEFAULT_HARDENING_WINDOW = "P30D";

/** What the recommendations of one machine are computed from. */
interface Traffic {
  flows: ObservedFlow[];
  attackers: Set<string>;
  /** `TCP/22`: the ports the machine's JIT policy locks while enforced (`ANY` locks both protocols). */
  jitLocked: Set<string>;
  windowStart: Date;
  windowEnd: Date;
}

/** `30 days`, `12 hours`. */
function humanWindow(seconds: number): string {
  const [n, unit] =
    seconds % 86_400 === 0
      ? [seconds / 86_400, "day"]
      : seconds % 3600 === 0
        ? [seconds / 3600, "hour"]
        : [Math.round(seconds / 60), "minute"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/** Adaptive network hardening: recommendations from posture's exposure and the machine's inbound flows. */
export class HardeningService {
  constructor(
    private readonly db: RequestDb,
    private readonly identity: Identity,
  ) {}

  /** Traffic loaders per window: inbound flows, brute-force sources and JIT-locked ports of many machines in three statements. */
  private readonly loaders = new Map<number, DataLoader<string, Traffic>>();

  private loader(seconds: number): DataLoader<string, Traffic> {
    let loader = this.loaders.get(seconds);
    if (!loader) {
      loader = new DataLoader<string, Traffic>(async (resourceIds) => {
        const ids = resourceIds.filter(isUuid);
        return this.db.read(async (m) => {
          const [{ now }]: Array<{ now: Date }> = await m.query(`SELECT now() AS now`);
          const windowEnd = new Date(now);
          const windowStart = new Date(windowEnd.getTime() - seconds * 1000);
          const flows: Array<{
            resource_id: string;
            protocol: "TCP" | "UDP";
            port: number;
            ip: string;
            connections: number;
            last_seen: Date;
          }> = ids.length
            ? await m.query(
                `SELECT resource_id, protocol, dst_port AS port, host(src_ip) AS ip, count(*)::int AS connections, max(time) AS last_seen
                   FROM telemetry
                   WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND kind = 'flow' AND direction = 'inbound'
                     AND action = 'allowed' AND protocol IN ('TCP', 'UDP') AND dst_port IS NOT NULL AND time > $3
                   GROUP BY resource_id, protocol, dst_port, src_ip`,
                [this.identity.tenantId, ids, windowStart],
              )
            : [];
          const attackers: Array<{ resource_id: string; ip: string }> = ids.length
            ? await m.query(
                `SELECT DISTINCT resource_id, payload->'evidence'->>'sourceIp' AS ip FROM detections
                 WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND kind = 'brute-force' AND end_time > $3
                   AND payload->'evidence'->>'sourceIp' IS NOT NULL`,
                [this.identity.tenantId, ids, windowStart],
              )
            : [];
          const policies: Array<{ resource_id: string; ports: Array<{ number: number; protocol: string }> }> =
            ids.length
              ? await m.query(
                  `SELECT resource_id, ports FROM jit_policies p
                   WHERE tenant_id = $1 AND resource_id = ANY($2::uuid[]) AND ${jitEnforcedSql("p")}`,
                  [this.identity.tenantId, ids],
                )
              : [];
          return resourceIds.map((id) => ({
            flows: flows
              .filter((f) => f.resource_id === id && isInternetAddress(f.ip))
              .map((f) => ({
                protocol: f.protocol,
                port: f.port,
                ip: f.ip,
                connections: f.connections,
                lastSeen: new Date(f.last_seen),
              })),
            attackers: new Set(attackers.filter((a) => a.resource_id === id).map((a) => a.ip)),
            jitLocked: new Set(
              policies
                .filter((p) => p.resource_id === id)
                .flatMap((p) => p.ports)
                .flatMap((port) =>
                  (port.protocol === "ANY" ? ["TCP", "UDP"] : [port.protocol]).map(
                    (pr) => `${pr}/${port.number}`,
                  ),
                ),
            ),
            windowStart,
            windowEnd,
          }));
        });
      });
      this.loaders.set(seconds, loader);
    }
    return loader;
  }

  /** Recommendations for a machine whose exposure posture computed (passed by the gateway). */
  async forResource(resource: ResourceRef, window: string | undefined): Promise<HardeningRecommendation[]> {
    const parsed = parseWindow(window ?? DEFAULT_HARDENING_WINDOW);
    if ("problem" in parsed)
      throw new BadUserInputError("Invalid hardening window.", [
        { field: "window", message: parsed.problem },
      ]);
    const openPorts = (resource.exposure?.openPorts ?? []) as OpenRange[];
    if (!openPorts.some((p) => p.protocol !== "ICMP")) return [];
    const traffic = await this.loader(parsed.seconds).load(resource.id);
    return recommendHardening(
      openPorts,
      traffic.flows,
      traffic.attackers,
      humanWindow(parsed.seconds),
      traffic.jitLocked,
    ).map((r) =>
      Object.assign(new HardeningRecommendation(), {
        protocol: r.protocol as NetworkProtocol,
        fromPort: r.fromPort,
        toPort: r.toPort,
        currentSources: r.currentSources,
        action: r.action,
        recommendedSources: r.recommendedSources,
        observedSources: r.observed.map((o) => Object.assign(new ObservedSourcePrefix(), o)),
        excludedSources: r.excludedSources,
        connections: r.connections,
        windowStart: traffic.windowStart,
        windowEnd: traffic.windowEnd,
        description: r.description,
      }),
    );
  }
}
