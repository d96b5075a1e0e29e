/** A run of whole lines of an NDJSON body, small enough for one queue message. */
export interface NdjsonChunk {
  /** The body's 1-based line number of the chunk's first line. */
  firstLine: number;
  /** The lines, joined by `\n` as in the body (UTF-8 when sent). */
  text: string;
}

/** An NDJSON body cut into queue messages. */
export interface NdjsonChunks {
  /** Lines of the body (a final `\n` ends the last line rather than starting an empty one). */
  lines: number;
  chunks: NdjsonChunk[];
  /** Lines longer than a message may be on their own: they cannot be queued, and are rejected. */
  oversized: Array<{ line: number; bytes: number }>;
}

/**
 * Cuts `body` at line boundaries into chunks of at most `maxBytes` UTF-8 bytes, so a worker parses each chunk
 * on its own and numbers its lines from the chunk's `firstLine` (the numbers of the body as sent). A line that
 * alone exceeds `maxBytes` is left out and reported in `oversized`. Blank lines stay in (they keep the numbers).
 */
export function chunkNdjson(body: string, maxBytes: number): NdjsonChunks {
  const lines = body.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const chunks: NdjsonChunk[] = [];
  const oversized: NdjsonChunks["oversized"] = [];
  let start = 0;
  let parts: string[] = [];
  let bytes = 0;
  const flush = () => {
    // A chunk of blank lines only holds no record: not worth a message.
    if (parts.some((p) => p.trim() !== "")) chunks.push({ firstLine: start + 1, text: parts.join("\n") });
    parts = [];
    bytes = 0;
  };
  for (let i = 0; i < lines.length; i++) {
    const size = Buffer.byteLength(lines[i], "utf8");
    if (size > maxBytes) {
      flush();
      oversized.push({ line: i + 1, bytes: size });
      start = i + 1;
      continue;
    }
    // One byte more for the `\n` that joins it to the line before.
    if (parts.length > 0 && bytes + 1 + size > maxBytes) {
      flush();
      start = i;
    }
    bytes += (parts.length > 0 ? 1 : 0) + size;
    parts.push(lines[i]);
  }
  flush();
  return { lines: lines.length, chunks, oversized };
}
