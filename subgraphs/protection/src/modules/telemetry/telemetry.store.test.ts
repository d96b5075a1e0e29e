import { readFileSync } from "node:fs";
import { parseTelemetryNdjson, type TelemetryRecord } from "./telemetry.model";
import { recordFromRow, TELEMETRY_COLUMNS, telemetryRow, type TelemetryRow } from "./telemetry.store";

const records = ["process", "file", "flow", "logon", "packages"].flatMap((kind) =>
  parseTelemetryNdjson(readFileSync(`test/fixtures/protection/telemetry/${kind}.ndjson`, "utf8")).map((l) => {
    if ("reason" in l) throw new Error(`fixture ${kind} line ${l.line}: ${l.reason}`);
    return l.record;
  }),
);

/** What Postgres gives back for a COPYed row: NULL for absent values, jsonb parsed, times as Date. */
function stored(record: TelemetryRecord): TelemetryRow {
  const values = telemetryRow("tenant-a", record);
  const row = Object.fromEntries(TELEMETRY_COLUMNS.map((c, i) => [c, values[i] ?? null]));
  return {
    ...row,
    time: new Date(row.time as string),
    details: JSON.parse(row.details as string) as Record<string, unknown>,
  } as unknown as TelemetryRow;
}

describe("telemetry rows", () => {
  it("stores every fixture record so that it reads back unchanged (package lists go to the snapshots)", () => {
    expect(records.length).toBe(210);
    for (const record of records) {
      const back = recordFromRow(stored(record));
      const expected =
        record.kind === "packages"
          ? { ...record, packages: [] }
          : { ...record, time: new Date(record.time).toISOString() };
      expect(back).toEqual(expected);
    }
  });

  it("puts the fields the analyses filter on in typed columns", () => {
    const flow = records.find((r) => r.kind === "flow" && r.dstPort === 22)!;
    const row = stored(flow);
    expect(row).toMatchObject({ kind: "flow", direction: "inbound", dst_port: 22, protocol: "TCP" });
    const packages = records.find((r) => r.kind === "packages")!;
    expect(stored(packages).details).toEqual({
      os: (packages as Extract<TelemetryRecord, { kind: "packages" }>).os,
      packageCount: (packages as Extract<TelemetryRecord, { kind: "packages" }>).packages.length,
    });
  });
});
