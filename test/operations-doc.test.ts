/**
 * Keeps docs/operations.md and the README's configuration table true to the code, without a database:
 * every Prometheus metric the code registers, every durable job and recurring schedule, and every
 * environment variable the code reads must be documented; every metric, job and variable the guide names
 * must exist. Drift either way fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse, Kind } from "graphql";
import { register } from "prom-client";
import type { DataSource } from "typeorm";
import {
  COMMON_CRONTAB,
  CONFIG_VARIABLES,
  commonTaskList,
  createLogger,
  ErrorCode,
  loadConfig,
} from "../subgraphs/common/src";
import { SUBGRAPH_MODULES } from "../scripts/lib/platform";
// The modules that register metrics when loaded (a guard that the source scan below misses none of theirs).
import "../gateway/src/server";
import "../subgraphs/siem/src/modules/live/live-feed";
import "../subgraphs/common/src/db/outbox-relay";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const OPERATIONS = read("docs/operations.md");
const README = read("README.md");

/** Every non-test TypeScript file under `dir` (relative to the repository). */
function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

const CODE = [...sources("gateway/src"), ...sources("subgraphs"), ...sources("scripts")];

/** The text under a Markdown heading, up to the next heading of the same or a higher level. */
function section(doc: string, heading: string): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => l.replace(/^#+\s*/, "") === heading && l.startsWith("#"));
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = lines[start].match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+\s/.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

/** The cells of a Markdown table's body rows (header and separator left out). */
function tableRows(text: string): string[][] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("|") && !/^\|[\s|:-]+\|$/.test(l))
    .slice(1)
    .map((l) =>
      l
        .slice(1, -1)
        .split("|")
        .map((c) => c.trim()),
    );
}

/** What the test reads of a registered prom-client metric. */
interface RegisteredMetric {
  name: string;
  labelNames?: readonly string[];
}

/** The backticked words of a text. */
const backticked = (text: string) => [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);

/** Whether `doc` names `word` as a whole word. */
const names = (doc: string, word: string) =>
  new RegExp(`(^|[^A-Za-z0-9_])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^A-Za-z0-9_]|$)`).test(doc);

describe("docs/operations.md: metrics", () => {
  /** Metric names in the code: `name: "…"` of prom-client constructors and every `"rampart_…"` literal. */
  const scanned = new Set(
    CODE.flatMap((file) => {
      const text = read(file);
      return [
        ...[
          ...text.matchAll(
            /new\s+(?:\w+\.)?(?:Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{[^}]*?\bname:\s*"([^"]+)"/g,
          ),
        ].map((m) => m[1]),
        ...[...text.matchAll(/"(rampart_[a-z0-9_]+)"/g)].map((m) => m[1]),
      ];
    }),
  );
  // prom-client keeps each metric's name and label names on the instance; its typings do not declare them.
  const registered = (register.getMetricsAsArray() as unknown as RegisteredMetric[]).filter(
    (m) => !/^(process|nodejs)_/.test(m.name),
  );
  const documented = tableRows(section(OPERATIONS, "Metrics")).map((cells) => ({
    name: backticked(cells[0])[0],
    row: cells.join(" | "),
  }));

  it("finds the metrics the code registers (the scan is not blind)", () => {
    expect(registered.length).toBeGreaterThan(0);
    for (const metric of registered) expect(scanned).toContain(metric.name);
  });

  it("names every metric of the code", () => {
    const missing = [...scanned].filter((name) => !names(OPERATIONS, name));
    expect(missing).toEqual([]);
  });

  it("lists every registered metric in the metrics table with each of its labels", () => {
    for (const metric of registered) {
      const row = documented.find((d) => d.name === metric.name);
      expect({ metric: metric.name, listed: row !== undefined }).toEqual({
        metric: metric.name,
        listed: true,
      });
      const missing = (metric.labelNames ?? []).filter((label) => !row!.row.includes(`\`${label}\``));
      expect({ metric: metric.name, missingLabels: missing }).toEqual({
        metric: metric.name,
        missingLabels: [],
      });
    }
  });

  it("lists no metric the code does not have", () => {
    const unknown = documented.map((d) => d.name).filter((name) => !scanned.has(name));
    expect(unknown).toEqual([]);
  });
});

describe("docs/operations.md: durable jobs", () => {
  const ds = {} as DataSource;
  const log = createLogger("operations-doc", "silent");
  const config = loadConfig({});
  /** Every task a subgraph's runner registers. */
  const tasks = new Set([
    ...Object.keys(commonTaskList(ds)),
    ...SUBGRAPH_MODULES.flatMap((m) => Object.keys(m.tasks?.(ds, log, config) ?? {})),
  ]);
  /** Every crontab line: [schedule, task]. */
  const crontab = [COMMON_CRONTAB, ...SUBGRAPH_MODULES.map((m) => m.crontab ?? "")]
    .flatMap((text) => text.split("\n"))
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(/\s+/);
      return [fields.slice(0, 5).join(" "), fields[5]] as const;
    });
  const rows = tableRows(section(OPERATIONS, "Durable jobs"));
  const rowOf = (task: string) => rows.find((cells) => backticked(cells[1])[0] === task);

  it("lists every job the runners register", () => {
    expect(tasks.size).toBeGreaterThan(5);
    expect([...tasks].filter((task) => !rowOf(task))).toEqual([]);
  });

  it("gives every recurring job its schedule", () => {
    expect(crontab.length).toBeGreaterThan(3);
    for (const [schedule, task] of crontab)
      expect({ task, schedule: backticked(rowOf(task)?.[2] ?? "") }).toEqual({
        task,
        schedule: expect.arrayContaining([schedule]),
      });
  });

  it("lists no job the code does not have", () => {
    expect(rows.map((cells) => backticked(cells[1])[0]).filter((task) => !tasks.has(task))).toEqual([]);
  });
});

describe("environment variables", () => {
  /** Variables read straight from the environment outside config.ts (development tools). */
  const direct = new Set(
    CODE.flatMap((file) =>
      [...read(file).matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[\s*"([A-Z][A-Z0-9_]*)"\s*\])/g)].map(
        (m) => m[1] ?? m[2],
      ),
    ),
  );
  const readByCode = new Set([...CONFIG_VARIABLES, ...direct]);
  /** Variables docker-compose.yml takes from the operator (`${VAR…}`): real settings too. */
  const compose = new Set(
    [...read("docker-compose.yml").matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]),
  );
  const known = new Set([...readByCode, ...compose]);

  /**
   * Upper-case words with an underscore that are something else than a variable: GraphQL enum values,
   * error codes, constants the code declares and upper-case string literals (close reasons and the like),
   * config.ts excepted (that is where the variables themselves are spelled).
   */
  const notVariables = new Set<string>([
    ...Object.values(ErrorCode),
    ...parse(read("gateway/schema.graphql"))
      .definitions.filter((d) => d.kind === Kind.ENUM_TYPE_DEFINITION)
      .flatMap((d) =>
        d.kind === Kind.ENUM_TYPE_DEFINITION ? (d.values ?? []).map((v) => v.name.value) : [],
      ),
    ...CODE.filter((file) => !file.endsWith("common/src/config.ts")).flatMap((file) => {
      const text = read(file);
      return [
        ...[...text.matchAll(/\b(?:const|let|var)\s+([A-Z][A-Z0-9_]+)\b/g)].map((m) => m[1]),
        ...[...text.matchAll(/["'`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["'`]/g)].map((m) => m[1]),
      ];
    }),
  ]);
  const WORD = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g;

  /** The variables a document names: backticked upper-case words (or `NAME=value`) and shell assignments. */
  function variablesNamed(doc: string): string[] {
    const words = backticked(doc).flatMap((text) => [...text.matchAll(WORD)].map((m) => m[0]));
    const assigned = [...doc.matchAll(/(?:^|\s)([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)=/gm)].map((m) => m[1]);
    return [...new Set([...words, ...assigned])].filter((word) => !notVariables.has(word) || known.has(word));
  }

  const readmeTable = tableRows(section(README, "Configuration"));
  const inReadmeTable = new Set(readmeTable.flatMap((cells) => backticked(cells[0])));

  it("finds the variables (config.ts and direct reads)", () => {
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(30);
    expect(direct).toContain("EMBEDDED_PG_DIR");
  });

  it("README's configuration table names every variable the code reads", () => {
    expect([...readByCode].filter((name) => !inReadmeTable.has(name))).toEqual([]);
  });

  it("README's configuration table names no variable the code does not read", () => {
    expect([...inReadmeTable].filter((name) => !readByCode.has(name))).toEqual([]);
  });

  it("docs/operations.md groups every variable the code reads by concern", () => {
    const grouped = new Set(
      tableRows(section(OPERATIONS, "Configuration by concern")).flatMap((cells) => backticked(cells[1])),
    );
    expect([...readByCode].filter((name) => !grouped.has(name))).toEqual([]);
  });

  it("docs/operations.md names only variables that exist", () => {
    const named = variablesNamed(OPERATIONS);
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });
});

describe("links", () => {
  it("README.md and docs/architecture.md link to the operations guide", () => {
    expect(README).toContain("(docs/operations.md)");
    expect(read("docs/architecture.md")).toContain("(operations.md)");
  });

  it("the guide's links to its own sections resolve", () => {
    const anchors = new Set(
      OPERATIONS.split("\n")
        .filter((l) => /^#+\s/.test(l))
        .map((l) =>
          l
            .replace(/^#+\s*/, "")
            .toLowerCase()
            .replace(/[^a-z0-9 _-]/g, "")
            .replace(/ /g, "-"),
        ),
    );
    const links = [...OPERATIONS.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(3);
    expect(links.filter((anchor) => !anchors.has(anchor))).toEqual([]);
  });
});
