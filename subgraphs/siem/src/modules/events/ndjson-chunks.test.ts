import { parseNdjson } from "../connectors/normalizers";
import { chunkNdjson } from "./ndjson-chunks";

/** The body's lines as a worker sees them: each chunk parsed alone, its lines renumbered from `firstLine`. */
const linesSeen = (body: string, maxBytes: number) =>
  chunkNdjson(body, maxBytes).chunks.flatMap((c) =>
    parseNdjson(c.text).map((r) => ({ ...r, line: r.line + c.firstLine - 1 })),
  );

describe("chunkNdjson", () => {
  it("keeps a small body in one chunk and counts its lines (a final newline ends the last line)", () => {
    expect(chunkNdjson('{"a":1}\n{"a":2}\n', 1024)).toEqual({
      lines: 2,
      chunks: [{ firstLine: 1, text: '{"a":1}\n{"a":2}' }],
      oversized: [],
    });
    expect(chunkNdjson("", 1024)).toEqual({ lines: 0, chunks: [], oversized: [] });
  });

  it("cuts at line boundaries under the limit, in UTF-8 bytes, and the worker sees the body's line numbers", () => {
    const records = Array.from({ length: 50 }, (_, i) => JSON.stringify({ n: i, note: "é".repeat(i % 7) }));
    const body = ["", ...records.slice(0, 25), "not json", "", ...records.slice(25)].join("\r\n");
    const { chunks, lines } = chunkNdjson(body, 120);
    expect(lines).toBe(53);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(Buffer.byteLength(c.text)).toBeLessThanOrEqual(120);
    expect(linesSeen(body, 120)).toEqual(parseNdjson(body));
  });

  it("leaves a line longer than a message out and reports it with its line number", () => {
    const long = JSON.stringify({ blob: "x".repeat(300) });
    const body = ['{"a":1}', long, '{"a":3}', '{"a":4}'].join("\n");
    const { chunks, oversized } = chunkNdjson(body, 100);
    expect(oversized).toEqual([{ line: 2, bytes: Buffer.byteLength(long) }]);
    expect(chunks).toEqual([
      { firstLine: 1, text: '{"a":1}' },
      { firstLine: 3, text: '{"a":3}\n{"a":4}' },
    ]);
  });
});
