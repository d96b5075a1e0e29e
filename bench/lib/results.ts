import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const HEADER =
  "# Benchmark results\n\nEach section is written by its benchmark (`npm run bench` runs them all) and replaced by its next run.\n";

/**
 * Replaces one benchmark's section of bench/RESULTS.md (between its markers), keeping the
 * others, so each benchmark can be re-run alone.
 */
export function writeResultsSection(root: string, name: string, markdown: string): string {
  const file = path.join(root, "bench", "RESULTS.md");
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  let current = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  if (!current.startsWith("# Benchmark results")) current = HEADER;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? current.slice(0, from) + block + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
  return file;
}
