import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { plainJsonText, textProblem } from "../../../../../common/src/validation";
import { CONNECTOR_KINDS, type ConnectorKind } from "../../events/event.model";
import { fuzzOptions, mutate, mutation, storedEventProblem } from "../../../../../../test/utils/fuzz";
import { attributesProblem, fewBrackets, NORMALIZERS, parseNdjson, recordDepthProblem } from "./index";

/**
 * Property tests of every normaliser on arbitrary JSON and on real records broken field by field: whatever comes
 * in, the record goes through the ingest's own per-record checks (depth, normaliser, attributes) to a rejection
 * with a reason or to an event that the COPY encoder writes and the events table holds as it is. A throw caught by
 * the `total` wrapper counts as a crash, and the ingest's shortcuts (no walk for records with few brackets and no
 * `\u` escape) must never let through what the walk would refuse.
 */

const FIXTURES = join(__dirname, "../../../../../../test/fixtures/siem");

function fixture(kind: ConnectorKind): unknown[] {
  return parseNdjson(readFileSync(join(FIXTURES, `${kind}.ndjson`), "utf8")).map((entry) => {
    if ("error" in entry) throw new Error(`${kind}.ndjson line ${entry.line}: ${entry.error}`);
    return entry.value;
  });
}

/** What the ingest makes of one record before the time window: a rejection reason, or why its event is broken. */
function verdict(kind: ConnectorKind, record: unknown): { rejected: string } | { stored: string | null } {
  const deep = recordDepthProblem(record);
  if (deep) return { rejected: deep };
  const text = JSON.stringify(record);
  const result = NORMALIZERS[kind](record);
  if ("reason" in result) return { rejected: result.reason };
  const unstorable = attributesProblem(result);
  if (unstorable) {
    // The ingest skips this walk for records whose text rules it out: then the walk must find nothing.
    if (text !== undefined && fewBrackets(text) && plainJsonText(text))
      return { stored: `the ingest would store ${unstorable} unchecked` };
    return { rejected: unstorable };
  }
  return { stored: storedEventProblem(result) };
}

/** The property: a clear rejection or a storable event, never a caught throw. */
function check(kind: ConnectorKind, record: unknown): void {
  const outcome = verdict(kind, record);
  if ("rejected" in outcome) {
    const reason = outcome.rejected;
    expect(typeof reason).toBe("string");
    expect(reason.trim()).not.toBe("");
    // A caught exception is a crash the wrapper hid, not a reason a sender can act on.
    expect(reason).not.toMatch(/could not read the record/);
    // Reasons go back in the answer and into queued receipts (jsonb): short and storable.
    expect(reason.length).toBeLessThan(500);
    expect(textProblem(reason)).toBeNull();
  } else {
    expect(outcome.stored).toBeNull();
  }
}

describe.each(CONNECTOR_KINDS)("%s normaliser under fuzzing", (kind) => {
  const records = fixture(kind);

  it("takes the fixture's records as storable events", () => {
    for (const record of records) expect(verdict(kind, record)).toEqual({ stored: null });
  });

  it("rejects or stores arbitrary JSON values, never throws", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (record) => check(kind, record)),
      fuzzOptions(150),
    );
  });

  it("rejects or stores fixture records broken field by field, never throws", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: records.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (index, mutations) => check(kind, mutate(records[index], mutations)),
      ),
      fuzzOptions(400),
    );
  });
});

describe("parseNdjson under fuzzing", () => {
  it("gives every line of any text a value or a storable reason, never throws", () => {
    const line = fc.oneof(
      fc.string({ unit: "binary", maxLength: 60 }),
      fc.string({ unit: "binary-ascii", maxLength: 60 }),
      fc.json({ maxDepth: 3 }),
      fc.json({ maxDepth: 3 }).map((json) => json.slice(0, Math.max(1, json.length - 1))),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), fc.constantFrom("\n", "\r\n"), (lines, end) => {
        for (const entry of parseNdjson(`\uFEFF${lines.join(end)}`)) {
          if (!("error" in entry)) continue;
          expect(entry.error).toMatch(/^malformed JSON: /);
          expect(textProblem(entry.error)).toBeNull();
        }
      }),
      fuzzOptions(500),
    );
  });
});
