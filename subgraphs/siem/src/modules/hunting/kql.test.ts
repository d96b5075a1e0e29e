import { readFileSync } from "node:fs";
import type { DataSource } from "typeorm";
import {
  createDataSource,
  createLogger,
  inTenant,
  loadConfig,
  RequestDb,
  Role,
  subgraphDatabaseUrl,
  type Identity,
} from "../../../../common/src";
import { migrateAll } from "../../../../../scripts/lib/platform";
import { createTestDatabase, type TestDatabase } from "../../../../../test/utils/database";
import { EventIngest } from "../events/event-ingest";
import { HuntQueryError, isoDuration, runHunt, type HuntOutcome } from "./hunt-runner";
import { compileKql, embeddedRegex, type CompileOptions } from "./kql-compiler";
import { KQL_LIMITS, KqlError, parseKql } from "./kql-parser";
import { WatchlistsService } from "./watchlists.service";

/** The hunts' clock: every event below happened the day before. */
const NOW = new Date("2026-11-21T00:00:00Z");
const A: Identity = { subject: "alice-analyst", tenantId: "tenant-a", roles: [Role.ADMIN] };
const B: Identity = { subject: "bob-analyst", tenantId: "tenant-b", roles: [Role.ADMIN] };
const at = (hhmm: string) => `2026-11-20T${hhmm}:00Z`;

/** An OCSF event whose metadata.uid (the stored source_event_id) is `uid`. */
const ocsf = (uid: string, classUid: number, time: string, extra: Record<string, unknown> = {}) => ({
  class_uid: classUid,
  activity_id: 1,
  time,
  metadata: { uid },
  ...extra,
});
const signIn = (uid: string, time: string, user: string, ip: string, status: string, extra = {}) =>
  ocsf(uid, 3002, time, {
    status,
    actor: { user: { name: user } },
    src_endpoint: {
      ip,
      port: 50000 + Number(uid.slice(1)),
      location: { country: ip.startsWith("198") ? "FR" : "DE" },
    },
    ...extra,
  });

const TENANT_A = [
  signIn("a1", at("09:00"), "alice@contoso.com", "203.0.113.7", "Failure", {
    is_mfa: false,
    message: "Sign-in failed: bad password",
  }),
  signIn("a2", at("09:05"), "alice@contoso.com", "203.0.113.7", "Failure", {
    is_mfa: false,
    message: "Sign-in failed: bad password",
  }),
  signIn("a3", at("09:10"), "alice@contoso.com", "203.0.113.7", "Failure", {
    is_mfa: false,
    message: `Sign-in failed for O'Brien "token"'; DROP TABLE events; --`,
  }),
  signIn("a4", at("09:20"), "alice@contoso.com", "198.51.100.4", "Success", { is_mfa: true }),
  signIn("a5", at("09:30"), "Bob@Contoso.com", "203.0.113.8", "Failure"),
  ocsf("a6", 4001, at("09:40"), {
    status: "Success",
    message: "allowed",
    device: { hostname: "vm-web-01" },
    src_endpoint: { ip: "10.0.0.5", port: 51000 },
    dst_endpoint: { ip: "203.0.113.50", port: 3389 },
  }),
  ocsf("a7", 1007, at("09:50"), {
    device: { hostname: "vm-web-01" },
    actor: { user: { name: "SYSTEM" } },
    process: { name: "powershell.exe", cmd_line: "powershell.exe -enc AAAA" },
  }),
  ocsf("a8", 6003, at("10:00"), {
    severity_id: 4,
    actor: { user: { name: "root" } },
    api: { operation: "DeleteTrail" },
    resources: [{ uid: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main" }],
  }),
];
const TENANT_B = [
  signIn("b1", at("09:00"), "alice@contoso.com", "203.0.113.7", "Failure"),
  ocsf("b2", 1007, at("09:30"), { device: { hostname: "vm-b" }, process: { name: "cmd.exe" } }),
];

const WINDOW = { from: new Date("2026-11-20T00:00:00Z"), to: NOW };

// ---------------------------------------------------------------------------------------------------------
// Parser and compiler without a database
// ---------------------------------------------------------------------------------------------------------

const OPTIONS: CompileOptions = {
  tenantId: "tenant-a",
  ...WINDOW,
  now: NOW,
  maxRows: 10,
  watchlists: new Map([
    ["vip", { id: "0190a0a0-0000-7000-8000-000000000000", alias: "vip", columns: ["UPN"], searchKey: "UPN" }],
  ]),
};

/** The error a query gets from parsing or compiling: `line:column message`. */
function errorOf(text: string): string {
  try {
    compileKql(parseKql(text), OPTIONS);
  } catch (err) {
    if (err instanceof KqlError) return `${err.position.line}:${err.position.column} ${err.message}`;
    throw err;
  }
  return "no error";
}

describe("hunting query errors", () => {
  it.each([
    ["", "1:1 the query is empty"],
    ["Evnts | take 1", "1:1 unknown table `Evnts`"],
    ["Events | wher status == 'x'", "1:10 unknown operator `wher`"],
    ["Events\n| where actor_user = 'x'", "2:20 expected `|` or the end of the query, found `=`"],
    ["Events | where actor_usr == 'x'", "1:16 unknown column `actor_usr`"],
    ["Events | where actor_user == 5", "1:27 cannot compare string with long using `==`"],
    ["Events | where time > 'yesterday'", "1:21 cannot compare datetime with string using `>`"],
    ["Events | where dst_port + 'a' > 1", "1:25 `+` does not apply to long and string"],
    ["Events | where message has device", "1:28 `has` takes a string literal term"],
    ["Events | where time > ago(1x)", "1:27 invalid number `1x`"],
    ["Events | take 10; DROP TABLE events", "1:17 unexpected `;`: the query is the last statement"],
    ["Events | where message == 'x", "1:27 unterminated string"],
    ["Events | where message == 'a\\qb'", "1:29 invalid escape `\\q`"],
    [
      "Events | summarize count() by",
      "1:30 expected a value, a column or a function, found the end of the query",
    ],
    ["Events | summarize tolower(device)", "1:20 expected an aggregation"],
    ["Events | summarize x = 1", "1:24 expected an aggregation"],
    ['Events | extend r = round("a")', "1:27 `round` rounds numbers, not a string"],
    ["Events | extend r = round(1.5, 0.5)", "1:32 the precision of `round` is a whole number of digits"],
    ["let round = (x: long) { x }; Events", "1:1 `round` is a built-in function"],
    [
      "Events | summarize d = max(time) - time",
      "1:36 `time` is a column of the rows: outside an aggregation, `summarize` sees only its `by` columns",
    ],
    [
      "Events | summarize d = max(time) - min(time) by device | where time > ago(1h)",
      "1:64 unknown column `time`",
    ],
    ["Events | summarize n = 1 + max(count())", "1:32 `count()` is an aggregation: use it in `summarize`"],
    [
      "Events | summarize t = tostring(arg_max(time, *))",
      "1:33 `arg_max` returns columns: it cannot be part of an expression",
    ],
    ["Events | summarize count(), count_ = 1 + count()", "1:29 the column `count_` appears twice"],
    ["Events | where count() > 1", "1:16 `count()` is an aggregation: use it in `summarize`"],
    ["Events | where device", "1:16 `where` needs a true/false condition, not a string"],
    ["Events | project tolower(device)", "1:18 name this column: `project name = expression`"],
    ["Events | project device, device", "1:26 the column `device` appears twice"],
    ["Events | where device in (_GetWatchlist('nope'))", "1:27 unknown watchlist `nope`"],
    ["Events | where _GetWatchlist('vip')", "1:16 `_GetWatchlist('alias')` is used in `in (…)`"],
    ["Events | where time > datetime(2026-13-01)", "1:23 invalid datetime `2026-13-01`"],
    ["Events | where actor_user ＝＝ 'x'", "1:27 unexpected character `＝`"],
    ["Events | where message matches regex message", "1:38 `matches regex` takes a string literal pattern"],
    [`Events | where message matches regex '${"a".repeat(513)}'`, "1:38 a regular expression is at most 512"],
    ["Events | project-away nothing", "1:23 unknown column `nothing`"],
    ["Events | take 1.5", "1:15 `take` takes a whole number of rows"],
    [
      "Events | where attributes.mfa.x.y == 1 and device.x == 1",
      "1:44 `.` and `[…]` read into dynamic values",
    ],
    [`Events | where ${"(".repeat(40)}true${")".repeat(40)}`, "the query nests more than 32 levels deep"],
    ["Events | take 1 |", "1:18 expected an operator (where, project"],
  ])("%j → %s", (query, expected) => {
    expect(errorOf(query)).toContain(expected);
  });

  it.each([
    // arg_max / arg_min
    ["Events | summarize arg_max(attributes, *)", "1:28 convert the value for `arg_max`"],
    ["Events | summarize arg_max(time)", "1:20 `arg_max` takes 2 to 65 arguments, got 1"],
    ["Events | summarize arg_min(*, time)", "1:20 the first argument of `arg_min` is the value to compare"],
    ["Events | where arg_max(time, *) > 1", "1:16 `arg_max()` is an aggregation: use it in `summarize`"],
    ["Events | extend x = strcat(*)", "1:28 `*` stands for all columns in `arg_max(x, *)`"],
    ["Events | summarize arg_max(strlen(message), *)", "1:28 name the value: `v = arg_max(expression, …)`"],
    [
      "Events | summarize arg_max(time, strlen(device))",
      "1:34 `arg_max` returns columns: name an expression",
    ],
    ["Events | summarize arg_max(time, nosuch)", "1:34 unknown column `nosuch`"],
    ["Events | summarize arg_max(time, device), device = count()", "1:43 the column `device` appears twice"],
    // let
    ["let x = x + 1;\nEvents", "1:9 unknown name `x`: a scalar `let` holds a value"],
    ["let t = t | take 1;\nt", "1:9 unknown table `t`"],
    ["let a = 1;\nlet a = 2;\nEvents", "2:5 `a` is defined twice"],
    ["let Events = Authentication;\nEvents", "1:1 `Events` is a table: give the `let` another name"],
    ["let t = Events;\nEvents | where actor_user in (t)", "2:31 `t` is a tabular `let`: read it as a table"],
    ["let n = 5;\nn | take 1", "2:1 `n` is a scalar `let` (a value), not a table"],
    ["let who = actor_user;\nEvents", "1:11 unknown table `actor_user`"],
    ["Events | where status == nope", "1:26 unknown column `nope`"],
    ["let t = Events;\nEvents | take 1;\nt", "2:16 unexpected `;`"],
    ["let n = 'ten';\nEvents | take n", "2:15 `take` and `top` take a whole number of rows ≥ 0"],
    ["let n = 1\nEvents", "2:1 expected `;` after `let n = …`, found `Events`"],
    ["let = 1;\nEvents", "1:5 expected a name after `let`, found `=`"],
    ["let term = tolower(device);\nEvents", "1:20 unknown name `device`"],
    [
      "let term = 'x';\nlet t = Events | where message has term;\nt | where message has nope",
      "3:23 `has` takes a string literal term",
    ],
    // join
    ["Events | join kind=outer (Events) on id", "1:20 `join` kinds are innerunique, inner, leftouter"],
    [
      "Events | join (Events | project x = 1) on id",
      "1:43 the right side of `join` has no column `id` (its columns: x)",
    ],
    [
      "Events | join (Events) on $left.nosuch == $right.id",
      "1:27 the left side of `join` has no column `nosuch`",
    ],
    ["Events | join Evnts on id", "1:15 unknown table `Evnts`"],
    [
      "Events | join (Events) on $left.id == $left.id",
      "1:39 a `join` key compares `$left.column == $right.column`",
    ],
    ["Events | join (Events) on attributes", "1:27 convert a dynamic `join` key first"],
    [
      "Events | join (Events) on $left.time == $right.device",
      "1:27 cannot compare datetime with string using `join`",
    ],
    ["Events | join (Events) id", "1:24 expected `on` after the right side of `join`, found `id`"],
    ["Events | join (Events | where nosuch == 1) on id", "1:31 unknown column `nosuch`"],
    ["Events | join ('Events') on id", "1:16 a query starts with a table"],
    // union
    ["union withsource=time Events, Events", "1:18 `union` makes two columns named `time`"],
    ["union kind=left Events, Authentication", "1:12 `union` kinds are outer (the default) and inner"],
    [
      "union kind=inner (Events | project a = 1), (Events | project a = 'x')",
      "1:1 the tables of `union kind=inner` have no column in common",
    ],
    ["union Events, nosuch", "1:15 unknown table `nosuch`"],
    [`union ${Array(17).fill("Events").join(", ")}`, "a query reads at most 16 tables"],
    // dynamic and mv-expand
    ["Events | extend l = dynamic([1,])", "1:32 expected a JSON value"],
    ["Events | extend l = dynamic({a: 1})", "1:30 expected a key in quotes, found `a`"],
    ["Events | extend l = dynamic([1, 2]", "1:35 expected `)` to close `dynamic(`"],
    [
      `Events | extend l = dynamic([${Array(1001).fill("1").join(",")}])`,
      "a `dynamic` literal holds at most 1000 values",
    ],
    [
      `Events | extend l = dynamic(${"[".repeat(40)}${"]".repeat(40)})`,
      "the query nests more than 32 levels deep",
    ],
    [
      'Events | where actor_user in (dynamic([{"a": 1}]))',
      "1:31 the array of `in (…)` holds strings, numbers or booleans only",
    ],
    [
      'Events | where actor_user in (dynamic({"a": 1}))',
      "1:31 `in (…)` takes literal values, dynamic([…]) arrays",
    ],
    [
      "Events | mv-expand device",
      "1:20 `mv-expand` expands dynamic values (arrays, property bags), not a string",
    ],
    ["Events | mv-expand attributes.a, attributes.b", "no error"],
    [
      "Events | mv-expand attributes.a, a = attributes.b, attributes_a = attributes.c",
      "1:52 `mv-expand` makes two columns named `attributes_a`: name one",
    ],
    [
      "Events | mv-expand a = attributes.a, device",
      "1:38 `mv-expand` expands dynamic values (arrays, property bags), not a string",
    ],
    [
      "Events | mv-expand a = attributes.a, b = attributes.b to typeof(foo)",
      "1:65 expected a type (string, long",
    ],
    [
      "Events | mv-expand with_itemindex=a a = attributes.a, b = attributes.b",
      "1:35 a column named `a` exists already",
    ],
    ["Events | mv-expand a = attributes.a, dynamic([1])", "1:38 name the expanded column"],
    ["Events | mv-expand attributes.a to typeof(foo)", "1:43 expected a type (string, long"],
    ["Events | mv-expand dynamic([1])", "1:20 name the expanded column: `mv-expand name = expression`"],
    [
      "Events | mv-expand with_itemindex=device a = attributes.a",
      "1:35 a column named `device` exists already",
    ],
    ["Events | mv-expand a = attributes.a limit 0", "1:43 `limit` takes a whole number of rows ≥ 1"],
    ["Events | mv-expand kind=array a = attributes.a", "no error"],
    ["Events | mv-expand bagexpansion=array a = attributes.a", "no error"],
    ["Events | mv-expand kind=bag a = attributes.a", "no error"],
    ["Events | mv-expand kind=list a = attributes.a", "1:25 `mv-expand` kinds are bag (the default"],
    // make-series
    ["Events | make-series n = count() on time from ago(1d) to now() step 1h by device", "no error"],
    [
      "let since = ago(2h); let size = 30m; Events | make-series n = count() default = -1, sum(dst_port) on time from startofday(since) to since + 2 * size step size",
      "no error",
    ],
    ["Events | make-series n = count() on dst_port from 0 to 65536 step 1024", "no error"],
    ["Events | project n = array_length(device)", "1:35 `array_length` takes a dynamic array, not a string"],
    // A datetime axis takes a bound left out from the hunt's time range; a number axis has none to take.
    ["Events | make-series n = count() on time step 1h", "no error"],
    ["Events | make-series n = count() on time from ago(1d) step 1h", "no error"],
    ["Events | make-series n = count() on time to ago(1h) step 1h", "no error"],
    [
      "Events | make-series n = count() on time from ago(1d) 1h",
      "1:55 expected `step` in `make-series … on time [from start] [to end] step size`",
    ],
    [
      "Events | make-series n = count() on dst_port step 1024",
      "1:37 `make-series` on a number needs `from` and `to` (only a datetime axis defaults to the hunt's time range)",
    ],
    ["Events | make-series n = count() on dst_port from 0 step 1024", "1:37 `make-series` on a number needs"],
    [
      "Events | make-series n = count() on time step 1s",
      "1:47 `make-series` makes at most 10000 bins, and this step makes 86400 from `from` to `to` (the hunt's time range where left out)",
    ],
    ["Events | make-series n = count() on time from now() step 1h", "1:47 `to` of `make-series` comes after"],
    [
      "Events | make-series n = count() on time from ago(1d) to now() step 1h by",
      "1:74 expected a value, a column or a function, found the end of the query",
    ],
    [
      "Events | make-series n = count() on time from now() to ago(1d) step 1h",
      "1:56 `to` of `make-series` comes after `from`",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) to now() step 0s",
      "1:69 `step` of `make-series` is more than zero",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) to now() step 5",
      "1:69 `step` of `make-series` on a datetime is a timespan, not a long",
    ],
    [
      "Events | make-series n = count() on time from 0 to 10 step 1",
      "1:47 `from` of `make-series` on a datetime is a datetime, not a long",
    ],
    [
      "Events | make-series n = count() on time from ago(30d) to now() step 1m",
      "1:70 `make-series` makes at most 10000 bins, and this step makes 43200 from `from` to `to`",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) to time step 1h",
      "1:58 unknown name `time`: the bounds and step of `make-series` are constants",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) to toscalar(Events | summarize max(time)) step 1h",
      "1:58 `to` of `make-series` is a constant",
    ],
    [
      "Events | make-series s = make_set(device) on time from ago(1d) to now() step 1h",
      "1:26 `make-series` takes the aggregations count, countif, dcount, dcountif, sum, sumif, avg, avgif, min, minif, max, maxif, take_any, stdev, variance, percentile, not `make_set()`",
    ],
    [
      "Events | make-series n = nope(device) on time from ago(1d) to now() step 1h",
      "1:26 `make-series` takes the aggregations",
    ],
    [
      'Events | make-series n = count() default = "none" on time from ago(1d) to now() step 1h',
      "1:44 the `default` of `count` here is a long, not a string",
    ],
    [
      "Events | make-series n = count() default = dst_port on time from ago(1d) to now() step 1h",
      "1:44 unknown name `dst_port`: the bounds and step of `make-series`",
    ],
    [
      "Events | make-series n = count() on message from ago(1d) to now() step 1h",
      "1:37 `make-series` bins a datetime or a number, not a string",
    ],
    [
      "Events | make-series time = count() on time from ago(1d) to now() step 1h",
      "1:40 the column `time` appears twice",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) to now() step 1h by tostring(attributes.x)",
      "1:75 name this column: `make-series name = expression`",
    ],
    // make-series … in range(start, stop, step)
    ["Events | make-series n = count() on time in range(ago(1d), now(), 1h) by device", "no error"],
    ["Events | make-series n = count() on dst_port in range(0, 65535, 1024)", "no error"],
    [
      "Events | make-series n = count() on time in range(ago(1d), now(), 1h) step 1h",
      "1:71 `make-series` takes `in range(start, stop, step)` or `from`/`to`/`step`, not both",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) in range(ago(1d), now(), 1h)",
      "1:55 `make-series` takes `in range(start, stop, step)` or `from`/`to`/`step`, not both",
    ],
    [
      "Events | make-series n = count() on time from ago(1d) to now() step 1h in range(ago(1d), now(), 1h)",
      "1:72 `make-series` takes `in range(start, stop, step)` or `from`/`to`/`step`, not both",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), time, 1h)",
      "1:60 unknown name `time`: the bounds and step of `make-series` are constants",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), toscalar(Events | summarize max(time)), 1h)",
      "1:60 `stop` of `make-series` is a constant",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), now(), 0s)",
      "1:67 `step` of `make-series … in range()` is more than zero",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), now(), -1h)",
      "1:67 `step` of `make-series … in range()` is more than zero",
    ],
    [
      "Events | make-series n = count() on time in range(0, 10, 1)",
      "1:51 `start` of `make-series` on a datetime is a datetime, not a long",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), now(), 5)",
      "1:67 `step` of `make-series` on a datetime is a timespan, not a long",
    ],
    [
      "Events | make-series n = count() on dst_port in range(0, 10, 1h)",
      "1:62 `step` of `make-series` on a long is a number, not a timespan",
    ],
    [
      "Events | make-series n = count() on time in range(now(), ago(1d), 1h)",
      "1:58 `stop` of `make-series … in range()` is at or after `start`",
    ],
    [
      "Events | make-series n = count() on time in range(ago(30d), now(), 1m)",
      "1:68 `make-series` makes at most 10000 bins, and this range() makes 43201: take a larger step or a shorter range",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), now())",
      "1:65 expected `,` in `range(start, stop, step)`: `make-series` needs the step",
    ],
    [
      "Events | make-series n = count() on time in (ago(1d), now(), 1h)",
      "1:45 expected `range(start, stop, step)` after `in`, found `(`",
    ],
    [
      "Events | make-series n = count() on time in range(ago(1d), now(), 1h",
      "1:69 expected `)` to close `range(start, stop, step`",
    ],
    // series functions
    [
      'Events | make-series n = count() on time in range(ago(1d), now(), 1h) | extend a = series_decompose_anomalies(n), s = series_stats_dynamic(n), o = series_outliers(n, "tukey"), f = series_fill_linear(n), c = series_fill_const(n, 0), d = series_divide(n, 2) | where s.max > 3',
      "no error",
    ],
    [
      "Events | extend a = series_fill_forward(device)",
      "1:41 argument 1 of `series_fill_forward` is a series (a dynamic array), not a string",
    ],
    [
      'Events | extend a = series_fill_const(attributes, "x")',
      "1:51 `constant_value` of `series_fill_const` is a number, not a string",
    ],
    [
      'Events | extend a = series_outliers(attributes, "nope")',
      '1:49 `kind` of `series_outliers` is one of "ctukey", "tukey"',
    ],
    [
      "Events | extend a = series_outliers(attributes, message)",
      '1:49 `kind` of `series_outliers` is one of "ctukey", "tukey"',
    ],
    [
      "Events | extend a = series_decompose_anomalies(attributes, 1.5, 2.5)",
      "1:65 `seasonality` of `series_decompose_anomalies` is a whole number of bins, not a real",
    ],
    [
      'Events | extend a = series_decompose_anomalies(attributes, 1.5, 24, "median")',
      '1:69 `trend` of `series_decompose_anomalies` is one of "linefit", "avg", "none"',
    ],
    [
      'Events | extend a = series_decompose_anomalies(attributes, "high")',
      "1:60 `threshold` of `series_decompose_anomalies` is a number, not a string",
    ],
    [
      "Events | extend a = series_stats_dynamic(attributes, 1)",
      "1:54 `ignore_nonfinite` of `series_stats_dynamic` is a bool, not a long",
    ],
    [
      "Events | extend a = series_fill_forward(attributes, 0, 1)",
      "1:21 `series_fill_forward` takes 1 to 2 arguments, got 3",
    ],
    // missing_value_placeholder, fill_edges, constant_value, ignore_val, min_percentile, max_percentile
    [
      'Events | extend a = series_fill_linear(attributes, double(null), false, real(null)), b = series_fill_const(attributes, 0, -1), c = series_outliers(attributes, "ctukey", long(null), 5, 95)',
      "no error",
    ],
    [
      'Events | extend a = series_fill_backward(attributes, "none")',
      "1:54 `missing_value_placeholder` of `series_fill_backward` is a number, not a string",
    ],
    [
      "Events | extend a = series_fill_linear(attributes, -1, 1)",
      "1:56 `fill_edges` of `series_fill_linear` is a bool, not a long",
    ],
    [
      'Events | extend a = series_fill_linear(attributes, -1, true, "zero")',
      "1:62 `constant_value` of `series_fill_linear` is a number, not a string",
    ],
    [
      'Events | extend a = series_outliers(attributes, "ctukey", true)',
      "1:59 `ignore_val` of `series_outliers` is a number, not a bool",
    ],
    [
      'Events | extend a = series_outliers(attributes, "ctukey", -1, 1, 90)',
      "1:63 `min_percentile` of `series_outliers` is from 2 to 98",
    ],
    [
      'Events | extend a = series_outliers(attributes, "ctukey", -1, 50, 40)',
      "1:63 `min_percentile` of `series_outliers` is below `max_percentile`",
    ],
    [
      'Events | extend a = series_outliers(attributes, "ctukey", -1, 10, dst_port)',
      "1:67 `max_percentile` of `series_outliers` is a constant number",
    ],
    [
      'Events | extend a = series_add(attributes, "x")',
      "1:44 argument 2 of `series_add` is a series or a number, not a string",
    ],
    ["let series_outliers = (x: long) { x };\nEvents", "series_outliers"],
    // parse
    ["Events | parse message with a b", "1:31 put a string between two parts of a `parse` pattern"],
    ["Events | parse message with * a *", "1:31 put a string between two parts"],
    ['Events | parse message with * "x" *', "1:10 a `parse` pattern extracts at least one column"],
    ['Events | parse message with * "x" n:foo', "1:37 expected a type (string, long"],
    ['Events | parse kind=relaxed message with * "x" n', "no error"],
    [
      'Events | parse kind=loose message with * "x" n',
      "1:21 `parse` kinds are simple (the default), relaxed and regex, found `loose`",
    ],
    // relaxed: a typed column takes the text up to the next string (or, before `*`, its type's text or none), so it
    // may not follow a part that matches any text.
    ['Events | parse kind=relaxed message with * "n=" n:long * "m=" m:real ", " rest', "no error"],
    [
      "Events | parse kind=relaxed message with * n:long *",
      "1:44 put a string between two parts of a `parse` pattern that match any text",
    ],
    ['Events | parse kind=relaxed message with "a" n:long m', "1:53 put a string between two parts"],
    ['Events | parse kind=relaxed flags=i message with * "n=" n', "1:29 `flags` apply to `parse kind=regex`"],
    // series_fit_line, series_decompose, series_stats: several columns, named with `extend (…) =`
    ["Events | extend (r, s, v, rv, i, lf) = series_fit_line(attributes)", "no error"],
    [
      "Events | extend (r, s, v, rv, i, lf, x) = series_fit_line(attributes)",
      "1:38 `series_fit_line` returns 6 columns (rsquare, slope, variance, rvariance, interception, line_fit), not 7",
    ],
    [
      "Events | extend f = series_fit_line(attributes)",
      "1:21 `series_fit_line` returns several columns: write `extend (rsquare, slope, variance, rvariance, interception, line_fit) = series_fit_line(…)` (or take the bag of series_fit_line_dynamic(…))",
    ],
    [
      "Events | where series_decompose(attributes)[0] > 1",
      "1:16 `series_decompose` returns several columns: write `extend (baseline, seasonal, trend, residual) = series_decompose(…)`",
    ],
    [
      "Events | extend (a, b) = strlen(device)",
      "1:26 `extend (…) =` takes a function of several columns: series_fit_line, series_decompose, series_stats, series_periods_detect, series_periods_validate",
    ],
    ["Events | extend (a, a) = series_fit_line(attributes)", "1:21 the column `a` appears twice in `(…) =`"],
    ['Events | extend (b, s, t, r) = series_decompose(attributes, 24, "avg")', "no error"],
    [
      "Events | extend (b, s) = series_decompose(attributes, 2.5)",
      "1:55 `seasonality` of `series_decompose` is a whole number of bins, not a real",
    ],
    [
      'Events | extend (b, s) = series_decompose(attributes, 2, "median")',
      '1:58 `trend` of `series_decompose` is one of "linefit", "avg", "none"',
    ],
    [
      'Events | extend (b) = series_decompose(attributes, 2, "avg", 3, 0.6, 1)',
      "1:23 `series_decompose` takes 1 to 5 arguments, got 6",
    ],
    // test_points, ad_method and seasonality_threshold, in Kusto's order
    ['Events | extend (b) = series_decompose(attributes, -1, "avg", 3, 0.8)', "no error"],
    [
      'Events | extend a = series_decompose_anomalies(attributes, 1.5, -1, "linefit", 0, "tukey", 0.5)',
      "no error",
    ],
    [
      'Events | extend (b) = series_decompose(attributes, -1, "avg", dst_port)',
      "1:63 `test_points` of `series_decompose` is a constant whole number",
    ],
    [
      'Events | extend (b) = series_decompose(attributes, -1, "avg", -2)',
      "1:63 `test_points` of `series_decompose` is 0 or more",
    ],
    [
      'Events | extend (b) = series_decompose(attributes, -1, "avg", 0, "high")',
      "1:66 `seasonality_threshold` of `series_decompose` is a number, not a string",
    ],
    [
      'Events | extend a = series_decompose_anomalies(attributes, 1.5, -1, "avg", 0, "iqr")',
      '1:79 `ad_method` of `series_decompose_anomalies` is one of "ctukey", "tukey"',
    ],
    [
      'Events | extend a = series_decompose_anomalies(attributes, 1.5, -1, "avg", 0, "tukey", 0.6, 1)',
      "1:21 `series_decompose_anomalies` takes 1 to 7 arguments, got 8",
    ],
    [
      "Events | extend (mn, mni) = series_stats(attributes, 1)",
      "1:54 `ignore_nonfinite` of `series_stats` is a bool, not a long",
    ],
    ["Events | extend f = series_fit_line_dynamic(attributes) | where f.slope > 0", "no error"],
    [
      "Events | extend f = series_fit_line_dynamic(device)",
      "1:45 argument 1 of `series_fit_line_dynamic` is a series",
    ],
    // series_decompose_forecast: points (required) is a constant of 0 or more, the rest as series_decompose's
    ['Events | extend f = series_decompose_forecast(attributes, 24, -1, "avg", 0.8)', "no error"],
    [
      "let ahead = 6; Events | extend f = series_decompose_forecast(attributes, ahead) | where f[0] > 1",
      "no error",
    ],
    [
      "Events | extend f = series_decompose_forecast(attributes)",
      "1:21 `series_decompose_forecast` takes 2 to 5 arguments, got 1",
    ],
    [
      "Events | extend f = series_decompose_forecast(attributes, dst_port)",
      "1:59 `points` of `series_decompose_forecast` is a constant whole number",
    ],
    [
      "Events | extend f = series_decompose_forecast(attributes, 2.5)",
      "1:59 `points` of `series_decompose_forecast` is a constant whole number",
    ],
    [
      "Events | extend f = series_decompose_forecast(attributes, -3)",
      "1:59 `points` of `series_decompose_forecast` is 0 or more",
    ],
    [
      "Events | extend f = series_decompose_forecast(attributes, 3, 2.5)",
      "1:62 `seasonality` of `series_decompose_forecast` is a whole number of bins, not a real",
    ],
    [
      'Events | extend f = series_decompose_forecast(attributes, 3, 24, "median")',
      '1:66 `trend` of `series_decompose_forecast` is one of "linefit", "avg", "none"',
    ],
    [
      'Events | extend f = series_decompose_forecast(attributes, 3, 24, "avg", "high")',
      "1:73 `seasonality_threshold` of `series_decompose_forecast` is a number, not a string",
    ],
    [
      "Events | extend f = series_decompose_forecast(device, 3)",
      "1:47 argument 1 of `series_decompose_forecast` is a series (a dynamic array), not a string",
    ],
    // series_periods_detect and series_periods_validate: constant bounds, checked before the hunt runs
    ["let lo = 20; Events | extend (p, s) = series_periods_detect(attributes, lo, 28.8, 2)", "no error"],
    [
      "Events | extend (p, s, x) = series_periods_validate(attributes, 24, 168)",
      "1:24 `series_periods_validate` returns 2 columns (periods, scores), not 3",
    ],
    [
      "Events | extend p = series_periods_detect(attributes, 4, 24, 1)",
      "1:21 `series_periods_detect` returns several columns: write `extend (periods, scores) = series_periods_detect(…)`",
    ],
    [
      "Events | extend (p, s) = series_periods_detect(attributes, 30, 20, 1)",
      "1:60 `min_period` of `series_periods_detect` is more than `max_period`",
    ],
    [
      "Events | extend (p, s) = series_periods_detect(attributes, dst_port, 20, 1)",
      "1:60 `min_period` of `series_periods_detect` is a constant number",
    ],
    [
      'Events | extend (p, s) = series_periods_detect(attributes, 4, "24", 1)',
      "1:63 `max_period` of `series_periods_detect` is a constant number",
    ],
    [
      "Events | extend (p, s) = series_periods_detect(attributes, 4, 24, 1.5)",
      "1:67 `num_periods` of `series_periods_detect` is a constant whole number",
    ],
    [
      "Events | extend (p, s) = series_periods_detect(attributes, 4, 24, 0)",
      "1:67 `num_periods` of `series_periods_detect` is from 1 to 100",
    ],
    [
      "Events | extend (p, s) = series_periods_detect(attributes, 4, 24)",
      "1:26 `series_periods_detect` takes 4 arguments, got 3",
    ],
    [
      "Events | extend (p, s) = series_periods_detect(device, 4, 24, 1)",
      "1:48 argument 1 of `series_periods_detect` is a series (a dynamic array), not a string",
    ],
    [
      "Events | extend (p, s) = series_periods_validate(attributes, 24, -1)",
      "1:66 `period2` of `series_periods_validate` is more than 0",
    ],
    [
      "Events | extend (p, s) = series_periods_validate(attributes, 24, dst_port)",
      "1:66 `period2` of `series_periods_validate` is a constant number",
    ],
    [
      "Events | extend (p, s) = series_periods_validate(attributes)",
      "1:26 `series_periods_validate` takes 2 to 17 arguments, got 1",
    ],
    // mv-apply
    [
      "Events | mv-apply x = attributes.list to typeof(long) on (summarize s = sum(x), n = count())",
      "no error",
    ],
    [
      "Events | mv-apply with_itemindex=i x = attributes.list to typeof(long), y = attributes.other limit 5 on (where x > 1 | top 1 by x desc | extend z = x * 2 | project z, i, y)",
      "no error",
    ],
    [
      "Events | mv-apply x = attributes.list on (join (Events) on id)",
      "1:43 `join` is not supported in the subquery of `mv-apply` (it takes where, project, project-away, project-rename, extend, summarize, order, take, top, count, distinct, parse, mv-expand)",
    ],
    [
      "Events | mv-apply x = attributes.list on (union Events)",
      "1:43 `union` is not supported in the subquery",
    ],
    [
      'Events | mv-apply x = attributes.list on (where device == "a")',
      "1:49 unknown column `device` (columns here: x)",
    ],
    [
      "Events | mv-apply x = device on (take 1)",
      "1:23 `mv-apply` expands dynamic values (arrays, property bags), not a string",
    ],
    ["Events | mv-apply x = attributes on take 1", "1:37 expected `(` after `mv-apply … on`, found `take`"],
    [
      "Events | mv-apply x = attributes on (take 1",
      "1:44 expected `)` to close the subquery of `mv-apply`, found the end of the query",
    ],
    [
      "Events | mv-apply x = attributes take 1",
      "1:34 expected `on` after the values of `mv-apply`, found `take`",
    ],
    [
      "Events | mv-apply x = attributes on (project-away x)",
      "1:38 the subquery of `mv-apply` keeps no column",
    ],
    [
      "Events | mv-apply x = attributes, x = attributes.a on (take 1)",
      "1:35 `mv-apply` makes two columns named `x`",
    ],
    [
      "Events | mv-apply with_itemindex=x x = attributes on (take 1)",
      "1:34 a column named `x` exists already",
    ],
    // the expanded column (a column's name) is gone from the row: the subquery's results stand for it
    [
      "Events | extend xs = dynamic([1]) | mv-apply x = xs on (take 1) | project xs",
      "1:75 unknown column `xs`",
    ],
    ["Events | mv-appl x = attributes on (take 1)", "1:10 expected `mv-expand` or `mv-apply`"],
    ['Events | parse message with "a" n "b" n', "1:39 the column `n` appears twice in the pattern"],
    ["Events | parse message", "1:23 expected `with` after the value `parse` reads"],
    ["Events | parse message with", "1:28 expected a pattern after `with`"],
  ])("%j → %s", (query, expected) => {
    expect(errorOf(query)).toContain(expected);
  });

  it.each([
    // toscalar and materialize
    [
      "Events | where dst_port > toscalar(5)",
      "1:36 `toscalar` takes a query, e.g. toscalar(Events | summarize count())",
    ],
    [
      "let n = 1;\nEvents | where dst_port > toscalar(n)",
      "2:36 `toscalar` takes a query, e.g. toscalar(Events | summarize count()), found `n`",
    ],
    ["Events | where dst_port > toscalar(Evnts | count)", "1:36 unknown table `Evnts`"],
    [
      "Events | where dst_port > toscalar(Events | count",
      "1:50 expected `)` to close `toscalar(`, found the end of the query",
    ],
    [
      "let n = toscalar(Events | count);\nEvents | take n",
      "2:15 `take` and `top` take a whole number of rows ≥ 0",
    ],
    ["Events | where toscalar(Events | count) == 'x'", "1:41 cannot compare long with string using `==`"],
    [
      "Events | where toscalar(Events | project-away id, time, class_uid, activity_id, severity_id, status, message, actor_user, src_ip, src_port, dst_ip, dst_port, device, resource_id, operation, src_country, connector, source_event_id, attributes) == 1",
      "1:16 the query of `toscalar` keeps no column",
    ],
    ["Events | join toscalar(Events | count) on id", "1:15 `toscalar(…)` is a value, not a table"],
    [
      "let t = materialize(Events) | take 1;\nt",
      "1:29 `materialize(…)` is the whole value of a `let`: expected `;`, found `|`",
    ],
    ["Events | join materialize(Events) on id", "1:15 `materialize(…)` is the value of a tabular `let`"],
    ["Events | extend x = materialize(Events)", "1:21 `materialize(…)` is the value of a tabular `let`"],
    ["let t = materialize(5);\nt", "1:21 a query starts with a table"],
    // join kinds
    [
      "Events | join kind=fullouter (Events | project x = 1) on id",
      "1:58 the right side of `join` has no column `id` (its columns: x)",
    ],
    ["Events | join kind=rightouter (Events) on attributes", "1:43 convert a dynamic `join` key first"],
    // parse kind=regex
    ['Events | parse kind=regex message with "(a" x', "1:40 a `(` of the regular expression is not closed"],
    [
      'Events | parse kind=regex message with "a)" x',
      "1:40 the regular expression has a `)` without its `(`",
    ],
    ['Events | parse kind=regex message with "[a" x', "1:40 a `[` of the regular expression is not closed"],
    [
      'Events | parse kind=regex message with @"(a)\\1" x',
      "1:40 back references (`\\1`) are not supported in `parse kind=regex`",
    ],
    [
      'Events | parse kind=regex message with "(?i)a" x',
      "1:40 embedded options such as `(?i)` are not supported",
    ],
    ['Events | parse kind=regex message with @"a\\" x', "1:40 a regular expression cannot end with `\\`"],
    [
      'Events | parse kind=regex flags=Ux message with "a" x',
      "1:33 `flags` of `parse kind=regex` are U (ungreedy)",
    ],
    ['Events | parse kind=regex flags=ii message with "a" x', "1:33 a flag appears twice in `ii`"],
    ['Events | parse flags=U message with "a" x', "1:16 `flags` apply to `parse kind=regex`"],
    ['Events | parse kind=regex message with "a" x x', "1:46 put a string between two parts"],
    [
      `Events | parse kind=regex message with '${"a".repeat(300)}' x '${"b".repeat(300)}'`,
      "1:10 the regular expressions of a `parse` pattern are at most 512 characters together",
    ],
    // let functions
    ["let f = (x: long) { f(x) };\nEvents", "1:21 `f` calls itself: recursion is not supported"],
    [
      "let f = (x: long) { Events | join f(x) on id };\nEvents",
      "1:35 `f` calls itself: recursion is not supported",
    ],
    ["let f = (x: long) { x };\nEvents | extend y = f()", "2:21 `f` takes 1 argument (x: long), got 0"],
    [
      "let f = (x: long, s: string) { x };\nEvents | extend y = f(1, 2)",
      "2:26 argument 2 of `f` is `s: string`, not a long (convert it with tostring(…))",
    ],
    [
      "let f = (x: bool) { x };\nEvents | where f(dst_port)",
      "2:18 argument 1 of `f` is `x: bool`, not a long",
    ],
    ["let f = (x: foo) { x };\nEvents", "1:13 expected a type (string, long"],
    ["let f = (x: long, x: long) { x };\nEvents", "1:19 the parameter `x` appears twice"],
    ["let x = 1;\nlet f = (x: long) { x };\nEvents", "2:10 `x` is a `let` already"],
    ["let f = (x: long) { x + 1;\nEvents", "1:26 expected `}` to close the body of `f`, found `;`"],
    [
      "let f = () { strlen(device) };\nEvents | extend d = f()",
      "1:21 unknown name `device`: the body of `f` sees its parameters and the `let`s before it",
    ],
    ["let f = () { 1 };\nf() | take 1", "2:1 `f` returns a value, not a table"],
    [
      "let f = () { Events };\nEvents | extend x = f()",
      "2:21 `f` returns a table: use it where a table goes",
    ],
    ["let f = () { Events };\nf | take 1", "2:1 `f` is a function: call it, `f(…)`"],
    ["let f = () { 1 };\nEvents | extend x = f", "2:21 `f` is a function: call it, `f(…)`"],
    ["let strlen = (s: string) { 1 };\nEvents", "1:1 `strlen` is a built-in function"],
    ["let t = Events;\nt() | take 1", "2:1 `t` is a table, not a function"],
    ["nosuch(1) | take 1", "1:1 unknown function `nosuch`"],
    [
      "let f = (n: long) { Events | where dst_port == n };\nf(dst_port) | take 1",
      "2:3 unknown name `dst_port`: the arguments of a function in a table's place are values",
    ],
    [
      "let f = (c: long) { toscalar(Events | where class_uid == c | count) };\nEvents | extend n = f(class_uid)",
      "1:58 `c` holds a value of the row here, and `toscalar()` is computed once for the whole query",
    ],
    [
      "let f = (n: long) { Events | take n };\nf(1 + 1)",
      "1:35 `take` and `top` take a whole number of rows ≥ 0",
    ],
    // tabular parameters, default values, `let`s in a function's body
    [
      "let f = (T: (src_ip: string, n: long)) { T };\nAuthentication | union f(Authentication)",
      "2:26 argument 1 of `f` (`T: (src_ip: string, n: long)`) has no column `n` (its columns: id, time,",
    ],
    [
      "let f = (T: (src_port: string)) { T };\nlet t = Events | project src_port;\nf(t)",
      "3:3 argument 1 of `f` (`T: (src_port: string)`): its column `src_port` is a long, not a string",
    ],
    [
      "let f = (T: (n: long)) { T };\nf(Events | summarize n = avg(dst_port))",
      "2:3 argument 1 of `f` (`T: (n: long)`): its column `n` is a real, not a long",
    ],
    [
      "let f = (n: long, T: (*)) { T };\nEvents",
      "1:19 tabular parameters come before the scalar ones: `T` follows `n`",
    ],
    [
      "let f = (n: long = 1, s: string) { s };\nEvents",
      "1:23 parameters with a default value come last: `s` has none and follows `n`",
    ],
    ["let f = (T: (*) = Events) { T };\nEvents", "1:17 a tabular parameter takes no default value"],
    // Named arguments: in any order after those given by position, each parameter once, the required ones given.
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(1, m = 3)",
      "2:26 `f` has no parameter `m` (its parameters: a, n)",
    ],
    ["let f = () { 1 };\nEvents | extend x = f(m = 3)", "2:23 `f` has no parameter `m` (it takes none)"],
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(1, a = 2)",
      "2:26 `a` of `f` is given twice: by position (argument 1) and by name",
    ],
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(n = 1, a = 2, n = 3)",
      "2:37 `n` of `f` is given twice: named twice",
    ],
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(n = 3, 1)",
      "2:30 an argument given by position cannot follow a named one in a call of `f`: name this one too",
    ],
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(n = 3)",
      "2:21 the call of `f` leaves out `a`, which has no default value: `f` takes 1 to 2 arguments (a: long, n: long = 5)",
    ],
    [
      "let f = (T: (*), a: long, b: string = 'x') { T };\nf(b = 'y')",
      "2:1 the call of `f` leaves out `T`, `a`, which have no default value",
    ],
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(1, 2, 3, n = 4)",
      "2:29 `f` takes 1 to 2 arguments (a: long, n: long = 5), got 3 by position",
    ],
    [
      "let f = (a: long, n: long = 5) { a + n };\nEvents | extend x = f(n = 'x', a = 1)",
      "2:27 the argument `n` of `f` is `n: long`, not a string",
    ],
    [
      'Events | extend x = strlen(s = "abc")',
      "1:28 `s = …`: only functions defined with `let` take named arguments",
    ],
    [
      "Events | summarize n = count(x = 1)",
      "1:30 `x = …`: only functions defined with `let` take named arguments",
    ],
    [
      "let f = (n: long) { Events | take n };\nf(n = dst_port)",
      "2:7 unknown name `dst_port`: the arguments of a function in a table's place are values",
    ],
    // `union isfuzzy=true` leaves out the tables that do not exist, not the faults of those that do.
    [
      "union isfuzzy=true Nope, (Nope2 | take 1), _GetWatchlist('nope'), nofn(1)",
      "1:1 no table of `union isfuzzy=true` exists (the unknown table `Nope`, the unknown table `Nope2`, the unknown watchlist `nope`, the unknown function `nofn`)",
    ],
    ["union isfuzzy=maybe Events", "1:15 `isfuzzy=` takes true or false, found `maybe`"],
    ["union isfuzzy=false Nope, Events", "1:21 unknown table `Nope`"],
    ["Events | union Nope", "1:16 unknown table `Nope`"],
    ["union isfuzzy=true Events, (Events | where nosuch == 1)", "1:44 unknown column `nosuch`"],
    ["let n = 1;\nunion isfuzzy=true Events, n", "2:28 `n` is a scalar `let` (a value), not a table"],
    ["Events | union isfuzzy=true Nope", "no error"],
    // Tabular parameters with columns and `*`: those columns, of those types, and any others.
    [
      "let f = (T: (*, x: long)) { T };\nEvents",
      "1:14 `*` comes after the columns of `T`: (column: type, …, *)",
    ],
    ["let f = (T: (x: long, *, y: long)) { T };\nEvents", "1:24 `*` comes after the columns of `T`"],
    ["let f = (T: (x: long, *, *)) { T };\nEvents", "1:24 `*` comes after the columns of `T`"],
    [
      "let f = (T: (src_ip: string, *)) { T };\nf(ProcessActivity | project device)",
      "2:3 argument 1 of `f` (`T: (src_ip: string, *)`) has no column `src_ip` (its columns: device)",
    ],
    [
      "let f = (T: (device: string, src_port: string, *)) { T };\nf(Events)",
      "2:3 argument 1 of `f` (`T: (device: string, src_port: string, *)`): its column `src_port` is a long, not a string",
    ],
    [
      "let f = (T: (src_ip: string, *), n: long = 1) { T | take n };\nf(n = 2, T = Events | project device)",
      "2:14 the argument `T` of `f` (`T: (src_ip: string, *)`) has no column `src_ip` (its columns: device)",
    ],
    [
      "let f = (T: (src_ip: string, *), n: long = 1) { T | take n };\nf(n = 2, T = 1)",
      "2:14 `T` of `f` is a table: pass a table, a tabular `let` or a (query), found `1`",
    ],
    ["let f = (T: (x: long, x: real)) { T };\nEvents", "1:10 a column appears twice in the columns of `T`"],
    ["let f = (T: (x: text)) { T };\nEvents", "1:17 expected a type (string, long"],
    [
      "let f = (n: long = 1 + 1) { n };\nEvents",
      "1:22 the default value of `n` in `f` is a constant (a literal such as 10",
    ],
    [
      'let f = (n: long = "10") { n };\nEvents',
      "1:20 the default value of `n: long` in `f` is a string, not a long",
    ],
    ["let f = (n: long = x) { n };\nEvents", "1:20 the default value of `n` in `f` is a constant"],
    [
      "let f = (s: string, n: long = 1) { n };\nEvents | extend x = f()",
      "2:21 `f` takes 1 to 2 arguments (s: string, n: long = 1), got 0",
    ],
    [
      "let f = (T: (*), n: long = 1) { T | take n };\nf(Events, 1, 2)",
      "2:1 `f` takes 1 to 2 arguments (T: (*), n: long = 1), got 3",
    ],
    [
      "let f = (T: (*)) { T };\nf(1)",
      "2:3 `T` of `f` is a table: pass a table, a tabular `let` or a (query), found `1`",
    ],
    ["let f = (T: (*)) { T };\nlet n = 1;\nf(n)", "3:3 `n` is a scalar `let` (a value), not a table"],
    [
      "let f = (T: (*)) { T };\nEvents | where f(Events)",
      "2:16 `f` returns a table: use it where a table goes",
    ],
    ["let Events = (T: (*)) { T };\nEvents", "1:1 `Events` is a table: give the `let` another name"],
    [
      "let f = (Authentication: (*)) { Authentication };\nEvents",
      "1:10 `Authentication` is a table: give the parameter",
    ],
    ["let f = (T: (*)) { T | extend x = T };\nf(Events)", "1:35 `T` is a tabular `let`: read it as a table"],
    ["let f = (T: (*)) { f(T) };\nEvents", "1:20 `f` calls itself: recursion is not supported"],
    [
      "let f = () { let g = (x: long) { x }; Events };\nEvents",
      "1:22 a function's body holds scalar and tabular `let`s, not functions: define `g` before `f`",
    ],
    [
      "let f = (x: long) { let x = 1; x };\nEvents",
      "1:25 `x` is a parameter of `f`: give the `let` another name",
    ],
    ["let f = (T: (*)) { let T = 1; T };\nEvents", "1:24 `T` is a parameter of `f`"],
    ["let f = () { let f = 1; f };\nEvents", "1:18 `f` is the function being defined"],
    ["let f = () { let n = 1; Events | take n };\nEvents | where dst_port == n", "2:28 unknown column `n`"],
    ["let f = () { let n = 1; Events | take n };\nlet n = 2;\nf() | take n", "no error"],
    [
      "let f = (x: long) { let y = x + 'a'; y };\nEvents | extend z = f(1)",
      "1:31 `+` does not apply to long and string",
    ],
    ["let f = () { let y = 1 };\nEvents", "1:24 expected `;` after `let y = …`, found `}`"],
  ])("%j → %s", (query, expected) => {
    expect(errorOf(query)).toContain(expected);
  });

  it.each([
    // Scalar functions and aggregations: arguments of the wrong type or shape, with the fix.
    [
      "Events | extend x = extract(message, 1, message)",
      "1:29 the regular expression of `extract` is a string literal",
    ],
    [
      'Events | extend x = extract("(a)(b)", 3, message)',
      "1:39 the group of `extract` is a whole number from 0 (the whole match) to 2",
    ],
    [
      'Events | extend x = extract("(?P<n>a)", 1, message)',
      "1:29 a regular expression takes options such as `(?i)` at its start only, and no named groups",
    ],
    ['Events | extend x = extract("a(", 0, message)', "1:29 a `(` of the regular expression is not closed"],
    [
      'Events | extend x = extract(@"(\\d)\\1", 0, message)',
      "1:29 back references (`\\1`) are not supported",
    ],
    [
      'Events | extend x = extract("a", 0, message, typeof(widget))',
      "1:46 the type of `extract` is typeof(string)",
    ],
    [
      'Events | extend x = replace_regex(message, "(a)", @"\\2")',
      "1:51 the rewrite names group \\2, and the pattern has 1 group",
    ],
    [
      'Events | extend x = replace_regex(message, "a", @"\\x")',
      "1:49 in the rewrite of `replace_regex`, `\\` starts \\0–\\9 (a group) or \\\\ (a backslash)",
    ],
    [
      'Events | extend x = replace_regex(message, "a", device)',
      "1:49 the rewrite of `replace_regex` is a string literal",
    ],
    [
      'Events | extend x = trim("a(?i)", message)',
      "1:26 a regular expression takes options such as `(?i)` at its start only",
    ],
    [
      'Events | extend x = trim("(?x)a", message)',
      "1:26 a regular expression's options are i, m and s, not `(?x)`",
    ],
    [
      'Events | extend x = countof(message, "a", "fuzzy")',
      '1:43 the kind of `countof` is "normal" or "regex"',
    ],
    [
      'Events | extend x = split(dst_port, ",")',
      "1:27 the text of `split` is a string, not a long: convert it with tostring(…)",
    ],
    [
      'Events | extend x = split(message, ",", "1")',
      "1:41 the index of `split` is a whole number (long), not a string",
    ],
    [
      'Events | extend x = strcat_array(message, ",")',
      "1:34 `strcat_array` joins a dynamic array, not a string",
    ],
    [
      'Events | extend x = indexof(message, "a", 1.5)',
      "1:43 the start of `indexof` is a whole number (long), not a real: convert it with tolong(…)",
    ],
    [
      'Events | extend x = case(dst_port > 1, "a", 2)',
      "1:45 the values of `case` are of one type: this one is a long, the first a string",
    ],
    ['Events | extend x = case(dst_port > 1, "a")', "1:21 `case` takes 3 to 129 arguments, got 2"],
    ['Events | extend x = case(dst_port, "a", "b")', "1:26 `case` needs a true/false condition, not a long"],
    [
      'Events | extend x = datetime_diff("fortnight", time, time)',
      '1:35 the period of `datetime_diff` is one of "year", "quarter"',
    ],
    [
      'Events | extend x = datetime_diff("day", time, message)',
      "1:48 `datetime_diff` takes a datetime, not a string: convert it with todatetime(…)",
    ],
    [
      'Events | extend x = datetime_add("day", 1.5, time)',
      "1:41 the amount of `datetime_add` is a whole number (long), not a real: convert it with tolong(…)",
    ],
    [
      'Events | extend x = format_datetime(time, "yyyy-MM-dd Q")',
      "1:43 `format_datetime` takes the specifiers d, dd, f",
    ],
    [
      'Events | extend x = format_datetime(time, "HH:mm:ss.FFF")',
      "1:43 `F…` (a fraction shown when not zero) is not supported in `format_datetime`: use `f…`",
    ],
    [
      "Events | extend x = format_datetime(time, message)",
      "1:43 the format of `format_datetime` is a string literal",
    ],
    [
      "Events | extend x = hourofday(message)",
      "1:31 `hourofday` takes a datetime, not a string: convert it with todatetime(…)",
    ],
    [
      "Events | extend x = startofweek(time, 1.5)",
      "1:39 the offset of `startofweek` is a whole number (long)",
    ],
    [
      'Events | extend x = array_index_of(message, "x")',
      "1:36 `array_index_of` searches a dynamic array, not a string",
    ],
    ["Events | extend x = bag_keys(message)", "1:30 `bag_keys` takes a dynamic property bag, not a string"],
    ['Events | extend x = bag_pack("a", 1, "b")', "1:38 `bag_pack` takes pairs of a key and a value"],
    ["Events | extend x = bag_pack(dst_port, 1)", "1:30 a key of `bag_pack` is a string, not a long"],
    [
      "Events | extend x = sqrt(message)",
      "1:26 `sqrt` takes numbers, not a string: convert it with todouble(…)",
    ],
    ["Events | extend x = pow(2)", "1:21 `pow` takes 2 arguments, got 1"],
    ["Events | extend x = abs(time)", "1:25 `abs` takes a number, not a datetime"],
    [
      "Events | extend x = ipv4_is_private(dst_port)",
      "1:37 the address of `ipv4_is_private` is a string, not a long",
    ],
    [
      'Events | extend x = ipv4_is_match(src_ip, dst_ip, "24")',
      "1:51 the prefix of `ipv4_is_match` is a whole number (long), not a string",
    ],
    ["Events | extend x = stdev(src_port)", "1:21 `stdev()` is an aggregation: use it in `summarize`"],
    [
      "Events | summarize percentile(src_port, 101)",
      "1:41 the percentile of `percentile` is a number from 0 to 100",
    ],
    [
      "Events | summarize percentile(message, 50)",
      "1:31 `percentile` takes numbers, datetimes or timespans, not a string",
    ],
    [
      "Events | summarize p = percentiles(src_port, 50, 90)",
      "1:20 `percentiles` returns a column per percentile (percentile_x_50, …): to name one, write `name = percentile(x, 50)`",
    ],
    [
      "Events | summarize x = 1 + percentiles(src_port, 50)",
      "1:28 `percentiles` returns columns: it cannot be part of an expression",
    ],
    ["Events | summarize sumif(src_port)", "1:20 `sumif` takes 2 arguments, got 1"],
    [
      "Events | summarize sumif(src_port, message)",
      "1:36 `sumif` needs a true/false condition, not a string",
    ],
    ["Events | summarize variance(message)", "1:29 `variance` takes numbers, not a string"],
    [
      "Events | make-series percentiles(src_port, 50) on time step 1h",
      "`make-series` takes the aggregations count, countif, dcount, dcountif",
    ],
    ["let extract = (x: string) { x }; Events", "1:1 `extract` is a built-in function"],
    ["let take_any = (x: string) { x }; Events", "1:1 `take_any` is a built-in function"],
    ["Events | summarize make_bag(device)", "1:29 `make_bag` merges dynamic property bags, not a string"],
    [
      "Events | summarize make_bag(attributes, 0)",
      "1:41 the size of `make_bag` is a whole number from 1 to 1000",
    ],
    [
      "Events | extend x = endofmonth(time, 'a')",
      "1:38 the offset of `endofmonth` is a whole number (long), not a string",
    ],
    [
      "Events | where message has_any (device)",
      "1:33 `has_any` takes string literal terms and dynamic([…]) arrays of them",
    ],
    ["Events | where message has_all (1, 2)", "1:33 `has_all` takes string literal terms"],
    ["Events | where message has_any (dynamic([]))", "1:24 `has_any` takes at least one term"],
    ["Events | where message !has_any ('a')", "1:24 unknown operator `!has_any`"],
  ])("%j → %s", (query, expected) => {
    expect(errorOf(query)).toContain(expected);
  });

  it("refuses more `let` statements than the limit", () => {
    const lets = Array.from({ length: KQL_LIMITS.maxLets + 1 }, (_, i) => `let v${i} = ${i};`).join("\n");
    expect(errorOf(`${lets}\nEvents`)).toContain(
      `21:1 a query has at most ${KQL_LIMITS.maxLets} \`let\` statements`,
    );
  });

  it("counts the operators of every statement and subquery against one limit", () => {
    const half = " | take 1".repeat(KQL_LIMITS.maxOperators / 2);
    expect(errorOf(`let t = Events${half};\nt${half}`)).toBe("no error");
    expect(errorOf(`let t = Events${half};\nt${half} | join (Events | take 1) on id`)).toContain(
      `a query has at most ${KQL_LIMITS.maxOperators} operators`,
    );
    expect(errorOf(`Events${half} | union (Events${half})`)).toContain(
      `a query has at most ${KQL_LIMITS.maxOperators} operators`,
    );
  });

  it("nests subqueries no deeper than expressions", () => {
    const deep = `${"Events | join (".repeat(33)}Events${") on id".repeat(33)}`;
    expect(errorOf(deep)).toContain("the query nests more than 32 levels deep");
  });

  it("stops scalar `let`s that expand into each other exponentially", () => {
    const tenfold = (name: string) => Array(10).fill(name).join(" + ");
    const query = `let a = 1;\nlet b = ${tenfold("a")};\nlet c = ${tenfold("b")};\nlet d = ${tenfold("c")};\nEvents | where dst_port == d`;
    expect(errorOf(query)).toContain("a query uses scalar `let`s and calls functions at most 1000 times");
    // Within the limit, a `let` is used as often as needed.
    expect(errorOf(`let a = 1;\nlet b = ${tenfold("a")};\nEvents | where dst_port == b + b`)).toBe(
      "no error",
    );
  });

  it("counts the tables of `toscalar` against the limit, those of a scalar `let` holding one once", () => {
    const tables = (n: number) => Array(n).fill("Events").join(", ");
    expect(errorOf(`union ${tables(15)} | where dst_port > toscalar(Events | count)`)).toBe("no error");
    expect(errorOf(`union ${tables(16)} | where dst_port > toscalar(Events | count)`)).toContain(
      "1:162 a query reads at most 16 tables",
    );
    const let_ = "let n = toscalar(Events | summarize max(dst_port));\n";
    expect(errorOf(`${let_}union ${tables(15)} | where dst_port == n or src_port == n or n > 1`)).toBe(
      "no error",
    );
    expect(errorOf(`${let_}union ${tables(16)} | where dst_port == n`)).toContain(
      "a query reads at most 16 tables",
    );
  });

  it("counts the tables a function reads at every call, and each call and parameter as a `let` use", () => {
    const calls = (n: number) => Array(n).fill("f(1)").join(", ");
    const f = "let f = (p: long) { Events | where dst_port == p };\n";
    expect(errorOf(`${f}union ${calls(16)}`)).toBe("no error");
    expect(errorOf(`${f}union ${calls(17)}`)).toContain("a query reads at most 16 tables");
    // f uses its parameter ten times; g nests three calls: each use costs what its argument cost.
    const tenfold = Array(10).fill("x").join(" + ");
    const nested = `let f = (x: long) { ${tenfold} };\nlet g = (x: long) { f(f(f(x))) };\nEvents | where dst_port == g(1)`;
    expect(errorOf(nested)).toContain("a query uses scalar `let`s and calls functions at most 1000 times");
    expect(
      errorOf(
        `let f = (x: long) { ${tenfold} };\nlet g = (x: long) { f(f(x)) };\nEvents | where dst_port == g(1)`,
      ),
    ).toBe("no error");
  });

  it("counts tabular arguments, function bodies and their `let`s against the limits, and refuses runaway nesting", () => {
    // A tabular argument is read once per call however often the body uses it; the body's own tables at every call.
    const twice = "let f = (T: (*)) { T | union T };\n";
    const calls = (call: string, n: number) => Array(n).fill(call).join(", ");
    expect(errorOf(`${twice}union ${calls("f(Events)", 16)}`)).toBe("no error");
    expect(errorOf(`${twice}union ${calls("f(Events)", 17)}`)).toContain("a query reads at most 16 tables");
    const more = "let f = (T: (*)) { let mine = T | union Authentication; mine };\n";
    expect(errorOf(`${more}union ${calls("f(Events)", 8)}`)).toBe("no error");
    expect(errorOf(`${more}union ${calls("f(Events)", 9)}`)).toContain("a query reads at most 16 tables");
    // Each function doubling the calls of the one before: refused at the 1,000th use, not compiled for ever.
    const doubling = Array.from(
      { length: 19 },
      (_, i) => `let f${i + 1} = (T: (*), n: long = 1) { ${i ? `f${i}(f${i}(T), n)` : "T | take n"} };`,
    ).join("\n");
    const started = Date.now();
    expect(errorOf(`${doubling}\nf19(Events)`)).toContain(
      "2:44 a query uses scalar `let`s and calls functions at most 1000 times",
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(errorOf(`${doubling}\nf4(Events)`)).toBe("no error");
    // Calls nested in arguments nest like subqueries.
    const nested = (n: number) => `let f = (T: (*)) { T | take 1 };\n${"f(".repeat(n)}Events${")".repeat(n)}`;
    expect(errorOf(nested(30))).toBe("no error");
    expect(errorOf(nested(33))).toContain("the query nests more than 32 levels deep");
    // A body's `let`s count against the query's 20.
    const body = Array.from({ length: KQL_LIMITS.maxLets }, (_, i) => `let v${i} = ${i};`).join(" ");
    expect(errorOf(`let f = () { ${body} v0 };\nEvents`)).toContain(
      `1:${14 + body.lastIndexOf("let")} a query has at most ${KQL_LIMITS.maxLets} \`let\` statements`,
    );
  });

  it("makes the groups of `parse kind=regex` strings non-capturing, and `flags=U` lazy", () => {
    const at = { offset: 0, line: 1, column: 1 };
    expect(embeddedRegex("(a|b)+ (?:c)*?[()]{2,3}\\(x?", false, at)).toBe("(?:a|b)+ (?:c)*?[()]{2,3}\\(x?");
    expect(embeddedRegex("(a|b)+ (?:c)*?[()]{2,3}\\(x?", true, at)).toBe("(?:a|b)+? (?:c)*[()]{2,3}?\\(x??");
    expect(embeddedRegex("[]a[:alpha:]]+(?=x)(?<!y)", false, at)).toBe("[]a[:alpha:]]+(?=x)(?<!y)");
  });

  it("compiles every example of docs/hunting.md", () => {
    const docs = readFileSync("docs/hunting.md", "utf8");
    const blocks = [...docs.matchAll(/```kql\n([\s\S]*?)```/g)].map((m) => m[1]);
    // The operator table's examples of the operators that need no column of their own making.
    const rows = [
      ...docs.matchAll(
        /^\| `(join|union|mv-expand|mv-apply|parse|where|project|extend|lookup)`[^|]*\| `(.+?)`(?: \(.*\))? *\|$/gm,
      ),
    ].map((m) => m[2].replace(/\\\|/g, "|"));
    // A block of several queries starts each with a comment line.
    const queries = blocks.flatMap((block) => block.split(/^\/\/.*$/m)).filter((q) => q.trim());
    const examples = [...queries, ...rows.map((row) => `Events | ${row}`)];
    expect([queries.length, rows.length]).toEqual([26, 9]);
    const options = {
      ...OPTIONS,
      watchlists: new Map([
        ["vip", { ...OPTIONS.watchlists.get("vip")!, columns: ["UPN", "Department"] }],
        [
          "bad-ips",
          { id: "0190a0a0-0000-7000-8000-000000000001", alias: "bad-ips", columns: ["ip"], searchKey: "ip" },
        ],
      ]),
    };
    for (const example of examples) {
      const problem = (() => {
        try {
          compileKql(parseKql(example), options);
          return "compiles";
        } catch (err) {
          return `${(err as Error).message} in: ${example}`;
        }
      })();
      expect(problem).toBe("compiles");
    }
  });

  it("refuses a query longer than the limit before reading it", () => {
    expect(errorOf(`Events | where message == '${"x".repeat(KQL_LIMITS.maxQueryLength)}'`)).toContain(
      `1:1 a query is at most ${KQL_LIMITS.maxQueryLength} characters`,
    );
  });

  it("refuses more operators than the limit, at the first one too many", () => {
    const query = `Events${" | take 1".repeat(KQL_LIMITS.maxOperators + 1)}`;
    expect(errorOf(query)).toContain(`a query has at most ${KQL_LIMITS.maxOperators} operators`);
  });

  it("reads comments, verbatim strings, bracketed names and compound operators", () => {
    const query = `Events // all events
      | where message !has "x" and device !in~ ("A") and not(isempty(@'c:\\temp'))
      | extend ['the name'] = strcat(device, "-")
      | project-rename host = ['the name']
      | project host`;
    expect(errorOf(query)).toBe("no error");
  });
});

describe("compiled SQL", () => {
  const hostile = [
    `x'; DROP TABLE events; --`,
    `"; SELECT * FROM watchlists --`,
    "$1::text",
    "/* comment */",
    "e.tenant_id = e.tenant_id OR true",
    "ＤＲＯＰ\u202eTABLE\u0007",
  ];

  it("puts every literal in a parameter and every user-chosen name nowhere", () => {
    for (const text of hostile) {
      const quoted = JSON.stringify(text).replace(/^"|"$/g, "").replace(/'/g, "\\'");
      const query = `Events
        | where message == '${quoted}' or message has '${quoted}' or message matches regex '${quoted.replace(/[$*()]/g, ".")}'
        | extend ['${quoted}'] = strcat(device, '${quoted}')
        | project ['${quoted}'], attributes['${quoted}']`;
      const compiled = compileKql(parseKql(query), OPTIONS);
      // The SQL text is ours: keywords, generated aliases ($n, cN, sN) and the whitelisted columns only.
      expect(compiled.sql).not.toContain("DROP");
      expect(compiled.sql).not.toContain("comment");
      expect(compiled.sql).not.toContain("watchlists");
      expect(compiled.sql).not.toContain("ＤＲＯＰ");
      expect(compiled.sql).toMatch(/^SELECT [^;]+$/);
      expect(compiled.params).toContain(text);
      expect(compiled.columns.map((c) => c.name)).toEqual([text, `attributes_${text}`]);
    }
  });

  it("filters on the tenant and the time range in the first stage, whatever the query", () => {
    for (const query of [
      "Events",
      "Authentication | count",
      "Events | summarize count() by device | take 1",
    ]) {
      const { sql, params } = compileKql(parseKql(query), OPTIONS);
      expect(sql).toContain(
        "FROM events e WHERE e.tenant_id = $1 AND e.time >= $2::timestamptz AND e.time < $3::timestamptz",
      );
      expect(params.slice(0, 3)).toEqual(["tenant-a", WINDOW.from.toISOString(), WINDOW.to.toISOString()]);
      expect(sql).toMatch(/LIMIT \$\d+::bigint$/);
      expect(params[params.length - 1]).toBe(OPTIONS.maxRows + 1);
    }
  });

  it("has a table for each OCSF class Sysmon's events add: modules and registry keys and values", () => {
    for (const [table, uid] of [
      ["ModuleActivity", 1005],
      ["RegistryKeyActivity", 201001],
      ["RegistryValueActivity", 201004],
    ] as const) {
      const { sql, params } = compileKql(parseKql(`${table} | count`), OPTIONS);
      expect(sql).toContain(`AND e.class_uid = $${params.indexOf(uid) + 1}::int`);
    }
  });

  it("puts hostile text given to the string, dynamic and IPv4 functions into parameters only", () => {
    for (const text of hostile) {
      const quoted = JSON.stringify(text).replace(/^"|"$/g, "").replace(/'/g, "\\'");
      const pattern = JSON.stringify(text.replace(/[$*()\\'"]/g, ".")).replace(/^"|"$/g, "");
      const query = `Events
        | where message has_any ('${quoted}') and ipv4_is_in_range(src_ip, '${quoted}')
        | extend a = split(message, '${quoted}', 1), b = replace_string(message, '${quoted}', '${quoted}'),
            c = extract('${pattern}', 0, message), d = replace_regex(message, '${pattern}', '${quoted}'),
            e = bag_pack('${quoted}', countof(message, '${quoted}')), f = indexof(message, '${quoted}'),
            g = strcat_array(pack_array('${quoted}'), '${quoted}'), h = trim('${pattern}', message),
            i = parse_json('${quoted}'), j = case(message == '${quoted}', '${quoted}', '${quoted}')`;
      const compiled = compileKql(parseKql(query), OPTIONS);
      expect(compiled.sql).not.toContain("DROP");
      expect(compiled.sql).not.toContain("comment");
      expect(compiled.sql).not.toContain("watchlists");
      expect(compiled.sql).not.toContain("ＤＲＯＰ");
      expect(compiled.sql).toMatch(/^SELECT [^;]+$/);
      expect(compiled.params).toContain(text);
      expect(compiled.regexes.length).toBe(4);
    }
  });

  it("puts hostile text in `let`, `parse`, `dynamic` and `union withsource` into parameters only", () => {
    for (const text of hostile) {
      const quoted = JSON.stringify(text).replace(/^"|"$/g, "").replace(/'/g, "\\'");
      const query = `let v = '${quoted}';
        let t = Events | where message == v;
        union withsource=['${quoted}'] t, (Events | parse message with * '${quoted}' ['${quoted} 2'] '${quoted}' *)
        | extend d = dynamic(['${quoted}', {'${quoted}': '${quoted}'}])
        | mv-expand ['${quoted} 3'] = d
        | join kind=leftouter (t | summarize arg_max(time, *) by message) on message`;
      const compiled = compileKql(parseKql(query), OPTIONS);
      expect(compiled.sql).not.toContain("DROP");
      expect(compiled.sql).not.toContain("comment");
      expect(compiled.sql).not.toContain("watchlists");
      expect(compiled.sql).not.toContain("ＤＲＯＰ");
      expect(compiled.sql).toMatch(/^WITH l0 AS \(SELECT [^;]+$/);
      expect(compiled.params).toContain(text);
      expect(compiled.columns.map((c) => c.name)).toEqual(
        expect.arrayContaining([text, `${text} 2`, `${text} 3`]),
      );
    }
  });

  it("computes a series function once per row, in a select Postgres does not pull up into the ones reading it", () => {
    // mv-expand reads an expanded column several times per element: were the select computing the column pulled up,
    // each read would run the function (a period search for series_decompose_anomalies) again, per element.
    const { sql } = compileKql(
      parseKql(`Events
        | make-series n = count() on time in range(ago(1d), now(), 1h)
        | extend a = series_decompose_anomalies(n)
        | extend (periods, scores) = series_periods_detect(n, 4, 12, 1)
        | project time, n, a, periods, o = series_outliers(n)
        | mv-expand time, n, a, o`),
      OPTIONS,
    );
    for (const fn of ["kql_series_decompose_anomalies", "kql_series_periods_detect", "kql_series_outliers"]) {
      const at = sql.indexOf(`${fn}(`);
      expect(at).toBeGreaterThan(0);
      expect(sql.indexOf(`${fn}(`, at + 1)).toBe(-1);
      // The select that calls it ends, at its closing parenthesis, with OFFSET 0.
      let depth = 0;
      let end = at;
      while (depth >= 0) {
        end++;
        if (sql[end] === "(") depth++;
        if (sql[end] === ")") depth--;
      }
      expect(sql.slice(0, end)).toMatch(/ OFFSET 0$/);
    }
  });

  it("filters on the tenant in every table a `let`, `join` or `union` reads", () => {
    for (const [query, reads] of [
      [
        "let t = Authentication;\nt | join kind=inner t on id | union t, NetworkActivity, (Events | take 1)",
        3,
      ],
      ["union Events, Authentication | join (ProcessActivity) on device", 3],
      ["let w = _GetWatchlist('vip');\nEvents | join kind=leftsemi w on $left.actor_user == $right.UPN", 2],
      [
        "let t = materialize(Authentication);\nt | join kind=fullouter (ProcessActivity) on device | join kind=rightouter t on id",
        2,
      ],
      [
        "union kind=inner Events, (Authentication | project id), (_GetWatchlist('vip') | project id = SearchKey)",
        3,
      ],
      [
        "let n = toscalar(Events | count);\nAuthentication | where dst_port < n and src_port < toscalar(NetworkActivity | summarize max(dst_port))",
        3,
      ],
      [
        "let f = (ip: string) { Authentication | where src_ip == ip };\nlet g = (x: long) { x + toscalar(Events | count) };\nf('a') | union f('b') | where g(1) > 0",
        3,
      ],
      // A tabular argument is read once per call (a common table expression the body reads), with its own filters.
      [
        "let f = (T: (*), n: long = 5) { let top = T | take n; T | join kind=inner top on id | union T };\nf(Events) | join kind=inner f(Authentication | where status == 'Failure', 2) on id",
        2,
      ],
      [
        "let t = _GetWatchlist('vip');\nlet f = (T: (SearchKey: string)) { T | union (NetworkActivity | project SearchKey = src_ip) };\nf(t) | union f(t)",
        3,
      ],
      // `union isfuzzy=true`: the tables that exist, each with its filters.
      [
        "let f = (T: (*)) { T | union isfuzzy=true Nope, (Authentication | take 1) };\nunion isfuzzy=true withsource=S Nope, f(Events), _GetWatchlist('nope'), _GetWatchlist('vip')",
        3,
      ],
      // Named arguments and tabular parameters with `*`: each table argument read with its own filters.
      [
        "let f = (T: (src_ip: string, *), n: long = 5, ip: string = 'x') { T | where src_ip != ip | take n };\nf(n = 2, T = Authentication) | union f(Events, ip = 'y') | union f(ip = 'z', T = (NetworkActivity | union _GetWatchlist('vip') | extend src_ip = SearchKey))",
        4,
      ],
    ] as const) {
      const { sql } = compileKql(parseKql(query), OPTIONS);
      const tables = sql.match(/FROM (events e|watchlist_items wi) WHERE/g) ?? [];
      const filtered =
        sql.match(
          /FROM events e WHERE e\.tenant_id = \$1 AND e\.time >= \$\d+::timestamptz AND e\.time < \$\d+::timestamptz|FROM watchlist_items wi WHERE wi\.tenant_id = \$1/g,
        ) ?? [];
      expect([tables.length, filtered.length]).toEqual([reads, reads]);
      expect(sql.match(/\bevents\b/g)?.length ?? 0).toBe(sql.match(/FROM events e WHERE/g)?.length ?? 0);
    }
  });

  it("warns of each table `union isfuzzy=true` leaves out, once however often it is compiled", () => {
    const { warnings } = compileKql(
      parseKql(
        "let f = (n: long) { Events | union isfuzzy=true (Missing | take n), Authentication };\nlet c = toscalar(union isfuzzy=true Events, Gone | count);\nf(1) | union f(2) | union isfuzzy=true _GetWatchlist('nope'), nofn(1) | where c > 0",
      ),
      OPTIONS,
    );
    expect(warnings).toEqual([
      "line 2, column 45: `union isfuzzy=true` left out the unknown table `Gone`",
      "line 1, column 49: `union isfuzzy=true` left out the unknown table `Missing`",
      "line 3, column 40: `union isfuzzy=true` left out the unknown watchlist `nope`",
      "line 3, column 63: `union isfuzzy=true` left out the unknown function `nofn`",
    ]);
    expect(compileKql(parseKql("union Events, Authentication"), OPTIONS).warnings).toEqual([]);
  });

  it("marks a `materialize()` let's common table expression, and numbers only the parameters it uses", () => {
    const { sql, params } = compileKql(
      parseKql(
        "let f = (unused: string, port: long) { Events | where dst_port == port };\nlet t = materialize(f('never in the SQL', 22));\nt | count",
      ),
      OPTIONS,
    );
    expect(sql).toMatch(/^WITH l0 AS MATERIALIZED \(SELECT /);
    expect(params).not.toContain("never in the SQL");
    expect(params).toContain(22);
    const numbers = [...sql.matchAll(/\$([0-9]+)\b/g)].map((m) => Number(m[1]));
    expect(new Set(numbers)).toEqual(new Set(params.map((_, i) => i + 1)));
  });

  it("passes `parse kind=regex` patterns and flags as parameters", () => {
    const { sql, params, regexes } = compileKql(
      parseKql(
        `Events | parse kind=regex flags=Ui message with "(x'); DROP TABLE events; --" rest:long @"\\s+[0-9]{2}" *`,
      ),
      OPTIONS,
    );
    expect(sql).not.toContain("DROP");
    expect(regexes).toEqual([
      {
        pattern: "(?:x'); DROP TABLE events; --([+-]?[0-9]+)\\s+?[0-9]{2}?.*?",
        flags: "ip",
        position: { offset: 48, line: 1, column: 49 },
      },
    ]);
    expect(params).toEqual(expect.arrayContaining([regexes[0].pattern, "ip"]));
  });

  it("scopes watchlist reads to the tenant too", () => {
    const { sql } = compileKql(
      parseKql(
        "Events | where actor_user in (_GetWatchlist('vip')) | lookup _GetWatchlist('VIP') on $left.actor_user == $right.UPN",
      ),
      OPTIONS,
    );
    expect(
      sql.match(/watchlist_items \w+ WHERE \w+\.tenant_id = \$1|watchlist_items w ON w\.tenant_id = \$1/g),
    ).toHaveLength(2);
  });
});

it("writes timespans as ISO 8601 durations", () => {
  expect([0, 500, 90_000, 3_600_000, 86_400_000 + 1_800_000, -1500].map(isoDuration)).toEqual([
    "PT0S",
    "PT0.5S",
    "PT1M30S",
    "PT1H",
    "P1DT30M",
    "-PT1.5S",
  ]);
});

// ---------------------------------------------------------------------------------------------------------
// Queries and their results on a seeded event store (Postgres, as the SIEM's own role: RLS applies)
// ---------------------------------------------------------------------------------------------------------

describe("hunts over a seeded event store", () => {
  let db: TestDatabase;
  let ds: DataSource;
  const log = createLogger("test", "silent");

  const hunt = (text: string, identity = A, window: { from?: Date; to?: Date } = WINDOW, maxRows?: number) =>
    runHunt(new RequestDb(ds, identity.tenantId), identity, text, window, {
      retentionDays: 90,
      now: () => NOW,
      maxRows,
    });
  const rows = async (text: string, identity = A) => (await hunt(text, identity)).rows;
  const failure = async (text: string, identity = A) => {
    const err = await hunt(text, identity).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HuntQueryError);
    return (err as HuntQueryError).message;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: db.url, DB_ROLE_PREFIX: db.rolePrefix, LOG_LEVEL: "silent" });
    await migrateAll(config, log);
    ds = createDataSource({
      subgraph: "siem",
      url: subgraphDatabaseUrl(config, "siem"),
      schema: "siem",
      entities: [],
      poolSize: 2,
      logger: log,
    });
    await ds.initialize();
    const ingest = new EventIngest(ds, { retentionDays: 90, now: () => NOW.getTime() });
    for (const [identity, events] of [
      [A, TENANT_A],
      [B, TENANT_B],
    ] as const) {
      const result = await ingest.ingest(
        identity,
        "OCSF",
        events.map((value, i) => ({ line: i + 1, value })),
      );
      expect(result).toEqual({ accepted: events.length, duplicates: 0, rejected: [] });
    }
    for (const [identity, input] of [
      [
        A,
        {
          alias: "bad-ips",
          name: "Bad IPs",
          searchKey: "ip",
          csv: "ip,source\n203.0.113.7,honeypot\n198.51.100.99,feed\n",
        },
      ],
      [
        A,
        {
          alias: "VIP",
          name: "VIPs",
          searchKey: "UPN",
          csv: "UPN,Department\nalice@contoso.com,Finance\ncarol@contoso.com,Legal\n",
        },
      ],
      [B, { alias: "b-only", name: "B's list", searchKey: "ip", csv: "ip\n203.0.113.7\n" }],
    ] as const) {
      const requestDb = new RequestDb(ds, identity.tenantId);
      await new WatchlistsService(requestDb, identity).create(input);
      await requestDb.close();
    }
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it.each<[string, Array<Record<string, unknown>>]>([
    ["Events | count", [{ Count: 8 }]],
    [
      'Authentication | where status == "Failure" | summarize n = count() by actor_user | order by n desc',
      [
        { actor_user: "alice@contoso.com", n: 3 },
        { actor_user: "Bob@Contoso.com", n: 1 },
      ],
    ],
    ['Events | where actor_user == "ALICE@contoso.com" | count', [{ Count: 0 }]],
    ['Events | where actor_user =~ "ALICE@contoso.com" | count', [{ Count: 4 }]],
    [
      'Events | where actor_user in~ ("bob@contoso.com") | project actor_user',
      [{ actor_user: "Bob@Contoso.com" }],
    ],
    ['Events | where actor_user in ("bob@contoso.com") | count', [{ Count: 0 }]],
    ['Events | where message has "bad" | count', [{ Count: 2 }]],
    ['Events | where message has "ba" | count', [{ Count: 0 }]],
    ['Events | where message contains "ba" | count', [{ Count: 2 }]],
    ['Events | where message !contains "ba" | count', [{ Count: 6 }]],
    ['Events | where device startswith "VM-" | count', [{ Count: 2 }]],
    ['Events | where device startswith_cs "VM-" | count', [{ Count: 0 }]],
    ['Events | where device endswith "WEB-01" | count', [{ Count: 2 }]],
    ["Events | where class_uid !in (3002) | count", [{ Count: 3 }]],
    // Negations hold on a missing value: the event without an account is "not alice".
    ['Events | where actor_user != "alice@contoso.com" | count', [{ Count: 4 }]],
    ["Events | where isnull(actor_user) | project source_event_id", [{ source_event_id: "a6" }]],
    ["Events | where attributes.mfa == false | count", [{ Count: 3 }]],
    [
      'Events | where attributes.process.name =~ "POWERSHELL.EXE" | project source_event_id',
      [{ source_event_id: "a7" }],
    ],
    [
      "Events | where class_uid == 4001 | extend high = dst_port + 1, ratio = dst_port / 2.0, whole = dst_port / 2 | project high, ratio, whole",
      [{ high: 3390, ratio: 1694.5, whole: 1694 }],
    ],
    [
      'NetworkActivity | extend s = strcat(toupper(device), ":", tostring(dst_port), "/", src_ip) | project s',
      [{ s: "VM-WEB-01:3389/10.0.0.5" }],
    ],
    [
      "Authentication | summarize n = count() by bin(time, 1h) | order by time asc",
      [{ time: "2026-11-20T09:00:00.000Z", n: 5 }],
    ],
    [
      "Authentication | summarize ips = dcount(src_ip), first = min(time), last = max(time), users = make_set(actor_user)",
      [
        {
          ips: 3,
          first: "2026-11-20T09:00:00.000Z",
          last: "2026-11-20T09:30:00.000Z",
          users: ["Bob@Contoso.com", "alice@contoso.com"],
        },
      ],
    ],
    [
      "Authentication | summarize first = min(time), last = max(time) | extend span = last - first | project span",
      [{ span: "PT30M" }],
    ],
    ["NetworkActivity | summarize s = sum(dst_port), a = avg(dst_port)", [{ s: 3389, a: 3389 }]],
    [
      "Events | where time between (datetime(2026-11-20T09:00:00Z) .. datetime(2026-11-20T09:10:00Z)) | count",
      [{ Count: 3 }],
    ],
    ["Events | where time between (datetime(2026-11-20 09:00) .. 10m) | count", [{ Count: 3 }]],
    ["Events | where time !between (datetime(2026-11-20T09:00:00Z) .. 10m) | count", [{ Count: 5 }]],
    ["Events | where time > ago(15h) | count", [{ Count: 7 }]],
    ["Events | where time <= now(-14h) | count", [{ Count: 8 }]],
    [
      "Events | top 2 by time desc | project source_event_id",
      [{ source_event_id: "a8" }, { source_event_id: "a7" }],
    ],
    [
      "Events | order by time asc | take 3 | project source_event_id",
      [{ source_event_id: "a1" }, { source_event_id: "a2" }, { source_event_id: "a3" }],
    ],
    [
      // The order survives project-away of its column, extend and where.
      "Events | sort by time asc | project source_event_id, time | project-away time | extend n = 1 | where source_event_id != 'a1' | take 2",
      [
        { source_event_id: "a2", n: 1 },
        { source_event_id: "a3", n: 1 },
      ],
    ],
    [
      'Events | where source_event_id == "a6" | project-away attributes | project-rename host = device | project host, dst_ip',
      [{ host: "vm-web-01", dst_ip: "203.0.113.50" }],
    ],
    [
      "Authentication | distinct actor_user | order by actor_user asc",
      [{ actor_user: "Bob@Contoso.com" }, { actor_user: "alice@contoso.com" }],
    ],
    ['Events | where actor_user matches regex @"^[a-z]+@contoso\\.com$" | count', [{ Count: 4 }]],
    ["Events | where src_ip in (_GetWatchlist('bad-ips')) | count", [{ Count: 3 }]],
    ["Events | where src_ip !in (_GetWatchlist('bad-ips'), '203.0.113.8') | count", [{ Count: 4 }]],
    ["Events | where actor_user in~ (_GetWatchlist('vip')) | count", [{ Count: 4 }]],
    [
      "Authentication | lookup _GetWatchlist('vip') on $left.actor_user == $right.UPN | summarize n = count() by Department | order by n desc",
      [
        { Department: "Finance", n: 4 },
        { Department: null, n: 1 },
      ],
    ],
    [
      "Authentication | lookup kind=inner _GetWatchlist('vip') on $left.actor_user == $right.UPN | distinct actor_user, Department",
      [{ actor_user: "alice@contoso.com", Department: "Finance" }],
    ],
    [
      "_GetWatchlist('vip') | where Department != 'Legal' | project SearchKey, Department",
      [{ SearchKey: "alice@contoso.com", Department: "Finance" }],
    ],
    ["ProcessActivity | count", [{ Count: 1 }]],
    [
      'Events | where message contains "\'; DROP TABLE events; --" | project source_event_id',
      [{ source_event_id: "a3" }],
    ],
    [
      "Events | extend port = tolong(attributes.src_endpoint.port) | where port == 50001 | project source_event_id",
      [{ source_event_id: "a1" }],
    ],
    [
      'Events | extend failed = iff(status == "Failure", 1, 0) | summarize failures = sum(failed)',
      [{ failures: 4 }],
    ],
    [
      'Authentication | summarize f = countif(status == "Failure"), s = countif(status == "Success")',
      [{ f: 4, s: 1 }],
    ],
    // Expressions over aggregations: computed per group from the group's aggregates.
    ['Authentication | summarize pct = 100.0 * countif(status == "Failure") / count()', [{ pct: 80 }]],
    [
      "Authentication | summarize minutes = tolong((max(time) - min(time)) / 1m), n = count() by actor_user | order by actor_user asc",
      [
        { actor_user: "Bob@Contoso.com", minutes: 0, n: 1 },
        { actor_user: "alice@contoso.com", minutes: 20, n: 4 },
      ],
    ],
    ["Events | summarize count(), tolong((max(time) - min(time)) / 1m)", [{ count_: 8, Column1: 60 }]],
    [
      "Events | take 1 | project a = round(2.5), b = round(-2.5), c = round(1.23456, 2), d = round(1250, -2), e = round(7)",
      [{ a: 3, b: -3, c: 1.23, d: 1300, e: 7 }],
    ],
    [
      'Authentication | summarize failedPct = round(100.0 * countif(status == "Failure") / count(), 1) by actor_user | order by actor_user asc',
      [
        { actor_user: "Bob@Contoso.com", failedPct: 100 },
        { actor_user: "alice@contoso.com", failedPct: 75 },
      ],
    ],
    [
      'Authentication | summarize who = strcat(actor_user, ": ", tostring(count())) by actor_user | order by actor_user asc',
      [
        { actor_user: "Bob@Contoso.com", who: "Bob@Contoso.com: 1" },
        { actor_user: "alice@contoso.com", who: "alice@contoso.com: 4" },
      ],
    ],
    [
      'Authentication | summarize arg_max(time, src_ip), failed = 2 * countif(status == "Failure") by actor_user | order by actor_user asc',
      [
        { actor_user: "Bob@Contoso.com", time: "2026-11-20T09:30:00.000Z", src_ip: "203.0.113.8", failed: 2 },
        {
          actor_user: "alice@contoso.com",
          time: "2026-11-20T09:20:00.000Z",
          src_ip: "198.51.100.4",
          failed: 6,
        },
      ],
    ],
    ['Events | where not(status == "Failure") | count', [{ Count: 4 }]],
    ['Events | where actor_user == "ａｌｉｃｅ@contoso.com" | count', [{ Count: 0 }]],
    [
      `Events | where source_event_id == "a1" | extend ['x"; DROP TABLE events; --'] = 1 | project ['x"; DROP TABLE events; --']`,
      [{ 'x"; DROP TABLE events; --': 1 }],
    ],
    [
      "Events | where attributes['is_mfa'] == true | extend d = startofday(time) | project d",
      [{ d: "2026-11-20T00:00:00.000Z" }],
    ],
    [
      "Events | summarize by class_uid | order by class_uid asc",
      [{ class_uid: 1007 }, { class_uid: 3002 }, { class_uid: 4001 }, { class_uid: 6003 }],
    ],
    [
      'Events | where toint("12") + todouble(" 1.5 ") == 13.5 and isnull(tolong("x")) and substring("abcdef", 1, 3) == "bcd" | count',
      [{ Count: 8 }],
    ],
  ])("%s", async (query, expected) => {
    expect(await rows(query)).toEqual(expected);
  });

  it.each<[string, Array<Record<string, unknown>>]>([
    // arg_max / arg_min: the row with the largest (smallest) value per group.
    [
      "Authentication | summarize arg_max(time, *) by actor_user | project actor_user, source_event_id, time, status | order by actor_user asc",
      [
        {
          actor_user: "Bob@Contoso.com",
          source_event_id: "a5",
          time: "2026-11-20T09:30:00.000Z",
          status: "Failure",
        },
        {
          actor_user: "alice@contoso.com",
          source_event_id: "a4",
          time: "2026-11-20T09:20:00.000Z",
          status: "Success",
        },
      ],
    ],
    [
      "Authentication | summarize n = count(), arg_min(time, src_ip, source_event_id), ips = dcount(src_ip) by actor_user | order by actor_user asc",
      [
        {
          actor_user: "Bob@Contoso.com",
          n: 1,
          time: "2026-11-20T09:30:00.000Z",
          src_ip: "203.0.113.8",
          source_event_id: "a5",
          ips: 1,
        },
        {
          actor_user: "alice@contoso.com",
          n: 4,
          time: "2026-11-20T09:00:00.000Z",
          src_ip: "203.0.113.7",
          source_event_id: "a1",
          ips: 2,
        },
      ],
    ],
    ["Events | summarize arg_max(severity_id, source_event_id)", [{ severity_id: 4, source_event_id: "a8" }]],
    [
      // A named value; other aggregations beside it.
      "Events | where isnotnull(actor_user) | summarize last = arg_max(source_event_id, time), n = count() by class_uid | order by class_uid asc",
      [
        { class_uid: 1007, last: "a7", time: "2026-11-20T09:50:00.000Z", n: 1 },
        { class_uid: 3002, last: "a5", time: "2026-11-20T09:30:00.000Z", n: 5 },
        { class_uid: 6003, last: "a8", time: "2026-11-20T10:00:00.000Z", n: 1 },
      ],
    ],
    [
      "Events | where class_uid == 4001 | extend n = 7 | summarize c = count(), arg_max(time, n, src_ip) by bin(time, 1h)",
      [
        {
          time: "2026-11-20T09:00:00.000Z",
          c: 1,
          time1: "2026-11-20T09:40:00.000Z",
          n: 7,
          src_ip: "10.0.0.5",
        },
      ],
    ],
    // let: scalars (values, times, lists, terms, counts) and tables, used once or twice.
    [
      "let threshold = 2;\nAuthentication | summarize n = count() by actor_user | where n >= threshold | project actor_user",
      [{ actor_user: "alice@contoso.com" }],
    ],
    ["let lookback = 870m;\nlet since = ago(lookback);\nEvents | where time > since | count", [{ Count: 3 }]],
    ["let since = datetime(2026-11-20T09:25:00Z);\nEvents | where time > since | count", [{ Count: 4 }]],
    [
      'let admins = dynamic(["root", "SYSTEM"]);\nEvents | where actor_user in (admins) | project source_event_id | order by source_event_id asc',
      [{ source_event_id: "a7" }, { source_event_id: "a8" }],
    ],
    [
      'let term = "bad";\nlet pattern = @"^Sign";\nEvents | where message has term and message matches regex pattern | count',
      [{ Count: 2 }],
    ],
    [
      "let n = 2;\nlet size = 1h;\nEvents | order by time asc | take n | summarize c = count() by bin(time, size)",
      [{ time: "2026-11-20T09:00:00.000Z", c: 2 }],
    ],
    // A column of the row comes before a `let` of the same name.
    ['let status = "Success";\nEvents | where status == "Failure" | count', [{ Count: 4 }]],
    [
      'let failures = Authentication | where status == "Failure";\nfailures | summarize n = count() by src_ip | order by n desc',
      [
        { src_ip: "203.0.113.7", n: 3 },
        { src_ip: "203.0.113.8", n: 1 },
      ],
    ],
    [
      'let failures = Authentication | where status == "Failure";\nfailures\n| join kind=inner (failures | summarize n = count() by actor_user) on actor_user\n| project source_event_id, n\n| order by source_event_id asc;',
      [
        { source_event_id: "a1", n: 3 },
        { source_event_id: "a2", n: 3 },
        { source_event_id: "a3", n: 3 },
        { source_event_id: "a5", n: 1 },
      ],
    ],
    // join kinds
    [
      'Authentication | join (Authentication | where status == "Success") on actor_user | count',
      [{ Count: 1 }],
    ],
    [
      'Authentication | join kind=inner (Authentication | where status == "Success") on actor_user | count',
      [{ Count: 4 }],
    ],
    [
      'Authentication | join kind=leftouter (Authentication | where status == "Success" | project actor_user, ok = time) on actor_user | project source_event_id, ok, actor_user1 | order by source_event_id asc',
      [
        { source_event_id: "a1", ok: "2026-11-20T09:20:00.000Z", actor_user1: "alice@contoso.com" },
        { source_event_id: "a2", ok: "2026-11-20T09:20:00.000Z", actor_user1: "alice@contoso.com" },
        { source_event_id: "a3", ok: "2026-11-20T09:20:00.000Z", actor_user1: "alice@contoso.com" },
        { source_event_id: "a4", ok: "2026-11-20T09:20:00.000Z", actor_user1: "alice@contoso.com" },
        { source_event_id: "a5", ok: null, actor_user1: null },
      ],
    ],
    [
      'Authentication | join kind=leftanti (Events | where status == "Success") on actor_user | project source_event_id',
      [{ source_event_id: "a5" }],
    ],
    [
      'Authentication | join kind=leftsemi (Events | where status == "Success") on actor_user, src_country | project source_event_id',
      [{ source_event_id: "a4" }],
    ],
    [
      'Authentication | where status == "Success" | join kind=rightsemi (Authentication | where status == "Failure") on actor_user | project source_event_id | order by source_event_id asc',
      [{ source_event_id: "a1" }, { source_event_id: "a2" }, { source_event_id: "a3" }],
    ],
    [
      'Authentication | where status == "Success" | join kind=rightanti (Authentication | where status == "Failure") on actor_user | project source_event_id',
      [{ source_event_id: "a5" }],
    ],
    [
      "ProcessActivity | join kind=inner (NetworkActivity | project host = device, dst_port) on $left.device == $right.host | project device, host, dst_port, dst_port1",
      [{ device: "vm-web-01", host: "vm-web-01", dst_port: null, dst_port1: 3389 }],
    ],
    [
      "ProcessActivity | join kind=inner NetworkActivity on device | project time, time1, device, device1, id1 = isnotempty(id1)",
      [
        {
          time: "2026-11-20T09:50:00.000Z",
          time1: "2026-11-20T09:40:00.000Z",
          device: "vm-web-01",
          device1: "vm-web-01",
          id1: true,
        },
      ],
    ],
    // Watchlists on the right of a join, in a `let` and in a `union` are found and read like tables.
    [
      "Authentication | join kind=leftsemi _GetWatchlist('vip') on $left.actor_user == $right.UPN | count",
      [{ Count: 4 }],
    ],
    [
      "let vips = _GetWatchlist('VIP');\nAuthentication | join kind=inner vips on $left.actor_user == $right.SearchKey | summarize n = count() by Department",
      [{ Department: "Finance", n: 4 }],
    ],
    [
      "union withsource=T _GetWatchlist('bad-ips'), (Events | take 1 | project ip = 'x') | summarize n = count() by T | order by T asc",
      [
        { T: "bad-ips", n: 2 },
        { T: "union_arg1", n: 1 },
      ],
    ],
    // A null key matches nothing; numbers of both kinds compare.
    [
      "Events | join kind=inner (Events | extend port = todouble(src_port)) on $left.src_port == $right.port | count",
      [{ Count: 6 }],
    ],
    // union
    ["union Authentication, ProcessActivity | count", [{ Count: 6 }]],
    ["Authentication | union ProcessActivity, (ApiActivity | take 1) | count", [{ Count: 7 }]],
    [
      'union withsource=T (Authentication | where status == "Success"), ProcessActivity | project T, source_event_id | order by source_event_id asc',
      [
        { T: "union_arg0", source_event_id: "a4" },
        { T: "ProcessActivity", source_event_id: "a7" },
      ],
    ],
    [
      'let f = Authentication | where status == "Failure";\nNetworkActivity | union withsource=src f | summarize n = count() by src | order by src asc',
      [
        { src: "NetworkActivity", n: 1 },
        { src: "f", n: 4 },
      ],
    ],
    [
      "union (Authentication | summarize n = count()), (ProcessActivity | project device) | order by n asc nulls last",
      [
        { n: 5, device: null },
        { n: null, device: "vm-web-01" },
      ],
    ],
    [
      "union (Events | take 1 | project x = 1), (Events | take 1 | project x = 'a') | summarize a = max(x_long), b = max(x_string)",
      [{ a: 1, b: "a" }],
    ],
    // dynamic literals and mv-expand
    ['Events | where actor_user in (dynamic(["root", "nobody"]), "SYSTEM") | count', [{ Count: 2 }]],
    [
      "Events | where dst_port !in (dynamic([])) and dst_port in (dynamic([3389, 22])) | count",
      [{ Count: 1 }],
    ],
    [
      'Events | where source_event_id == "a1" | extend d = dynamic({"list": [1, 2, 3], "k": "v"}) | project k = d.k, second = d.list[1]',
      [{ k: "v", second: 2 }],
    ],
    [
      'Events | where source_event_id == "a1" | extend l = dynamic([1, 2, 3]) | mv-expand l to typeof(long) | summarize s = sum(l)',
      [{ s: 6 }],
    ],
    [
      'Events | where source_event_id == "a1" | mv-expand with_itemindex=i v = dynamic(["a", 1, null]) | project i, v | order by i asc',
      [
        { i: 0, v: "a" },
        { i: 1, v: 1 },
        { i: 2, v: null },
      ],
    ],
    [
      'Events | where source_event_id == "a7" | mv-expand p = attributes.process | project p | order by tostring(p) asc',
      [{ p: { cmd_line: "powershell.exe -enc AAAA" } }, { p: { name: "powershell.exe" } }],
    ],
    [
      'Events | where source_event_id == "a8" | mv-expand r = attributes.resources | extend uid = tostring(r.uid) | project uid',
      [{ uid: "arn:aws:cloudtrail:eu-west-1:111122223333:trail/main" }],
    ],
    [
      'Events | where source_event_id in ("a1", "a2") | mv-expand x = attributes.nothing | count',
      [{ Count: 2 }],
    ],
    ['Events | where source_event_id == "a1" | mv-expand x = dynamic([]) | count', [{ Count: 0 }]],
    [
      'Events | where source_event_id == "a1" | mv-expand x = dynamic([1, 2, 3]) limit 2 | count',
      [{ Count: 2 }],
    ],
    [
      'Events | where source_event_id == "a1" | mv-expand x = dynamic(["a", 2, "2026-11-20T09:00:00Z"]) to typeof(string) | project x',
      [{ x: "a" }, { x: null }, { x: "2026-11-20T09:00:00Z" }],
    ],
    // Several columns at once are zipped, as in Kusto: as many rows as the longest, the shorter ones null past their end.
    [
      'Events | where source_event_id == "a1" | extend a = dynamic([1, 2, 3]), b = dynamic(["x", "y"]) | mv-expand with_itemindex=i a to typeof(long), b to typeof(string) | project i, a, b | order by i asc',
      [
        { i: 0, a: 1, b: "x" },
        { i: 1, a: 2, b: "y" },
        { i: 2, a: 3, b: null },
      ],
    ],
    [
      // A bag expands to one-key bags, a scalar or null value stays one element, an empty array none.
      'Events | where source_event_id == "a1" | mv-expand with_itemindex=i bag = dynamic({"k1": 1, "k2": 2}), one = dynamic("s"), none = dynamic(null), empty = dynamic([]) | project i, bag, one, none, empty | order by i asc',
      [
        { i: 0, bag: { k1: 1 }, one: "s", none: null, empty: null },
        { i: 1, bag: { k2: 2 }, one: null, none: null, empty: null },
      ],
    ],
    [
      'Events | where source_event_id in ("a1", "a2") | mv-expand x = dynamic([]), y = dynamic({}) | count',
      [{ Count: 0 }],
    ],
    [
      // Each value is read from the row before the expansion; `limit` counts the zipped rows.
      'Events | where source_event_id == "a1" | extend l = dynamic([1, 2, 3]) | mv-expand l, m = l limit 2 | summarize n = count(), s = sum(tolong(l)), lists = dcount(tostring(m))',
      [{ n: 2, s: 3, lists: 2 }],
    ],
    // `union isfuzzy=true`: the tables that exist; the others left out.
    [
      "union isfuzzy=true withsource=T Authentication, NoSuchTable, (Nope | where x > 0), _GetWatchlist('nope'), (ProcessActivity | project source_event_id) | summarize n = count() by T | order by T asc",
      [
        { T: "Authentication", n: 5 },
        { T: "union_arg4", n: 1 },
      ],
    ],
    // parse
    [
      'Events | where source_event_id == "a3" | parse message with "Sign-in failed for " who " " rest | project who, rest',
      [{ who: "O'Brien", rest: `"token"'; DROP TABLE events; --` }],
    ],
    [
      'Events | where source_event_id == "a1" | extend m = "port=50001 user=alice tail" | parse m with "port=" port:long " user=" user " " * | parse m with * "=" n:long * | project port, user, n',
      [{ port: 50001, user: "alice", n: 50001 }],
    ],
    [
      'Events | where source_event_id == "a1" | extend m = "at 2026-11-20T09:00:00Z took 1.5s ok=true" | parse m with "at " t:datetime " took " d:real "s ok=" ok:bool | project t, d, ok',
      [{ t: "2026-11-20T09:00:00.000Z", d: 1.5, ok: true }],
    ],
    // The pattern's strings are text, not regular expressions; no match leaves every column null.
    [
      'Events | where source_event_id == "a1" | parse message with * "(.*" x:long " " * | project x, message',
      [{ x: null, message: "Sign-in failed: bad password" }],
    ],
    [
      'Events | where source_event_id == "a1" | parse message with "Sign-in " message ": " * | project message',
      [{ message: "failed" }],
    ],
    // make-series: a bin without rows takes the default (0 unless given), a bin with rows its aggregate.
    [
      `Authentication
      | make-series n = count(), failures = countif(status == "Failure") default = -1, last = max(time)
          on time from datetime(2026-11-20 09:00) to datetime(2026-11-20 09:35) step 10m by actor_user
      | order by actor_user asc`,
      [
        {
          actor_user: "Bob@Contoso.com",
          n: [0, 0, 0, 1],
          failures: [-1, -1, -1, 1],
          last: [null, null, null, "2026-11-20T09:30:00.000Z"],
          time: [
            "2026-11-20T09:00:00.000Z",
            "2026-11-20T09:10:00.000Z",
            "2026-11-20T09:20:00.000Z",
            "2026-11-20T09:30:00.000Z",
          ],
        },
        {
          actor_user: "alice@contoso.com",
          n: [2, 1, 1, 0],
          failures: [2, 1, 0, -1],
          last: ["2026-11-20T09:05:00.000Z", "2026-11-20T09:10:00.000Z", "2026-11-20T09:20:00.000Z", null],
          time: [
            "2026-11-20T09:00:00.000Z",
            "2026-11-20T09:10:00.000Z",
            "2026-11-20T09:20:00.000Z",
            "2026-11-20T09:30:00.000Z",
          ],
        },
      ],
    ],
    // Without `by`, one series; the last bin runs past `to`, but a8 (at `to`) is left out. The default is for a bin
    // without rows: one whose rows have no value gets the aggregate's null.
    [
      "Events | make-series users = dcount(actor_user), avg(dst_port) default = 0.5 on time from ago(15h) - 5m to ago(14h) step 20m",
      [
        {
          users: [1, 2, 1, 0],
          avg_dst_port: [null, null, 3389, 0.5],
          time: [
            "2026-11-20T08:55:00.000Z",
            "2026-11-20T09:15:00.000Z",
            "2026-11-20T09:35:00.000Z",
            "2026-11-20T09:55:00.000Z",
          ],
        },
      ],
    ],
    // A watchlist named only inside make-series is loaded for the hunt.
    [
      "Authentication | make-series vips = countif(actor_user in~ (_GetWatchlist('VIP'))) on time from datetime(2026-11-20 09:00) to datetime(2026-11-20 10:00) step 30m",
      [{ vips: [4, 0], time: ["2026-11-20T09:00:00.000Z", "2026-11-20T09:30:00.000Z"] }],
    ],
    // A number axis; whole bounds and step give whole bin starts.
    [
      "Events | make-series n = count() on dst_port from 0 to 4000 step 1000",
      [{ n: [0, 0, 0, 1], dst_port: [0, 1000, 2000, 3000] }],
    ],
    [
      'Events | where source_event_id == "none" | make-series n = count() on time from ago(1d) to now() step 1h',
      [],
    ],
    // The series are dynamic arrays: expanded back to rows, indexed.
    [
      `Authentication
      | make-series n = count() on time from datetime(2026-11-20 09:00) to datetime(2026-11-20 09:30) step 10m by actor_user
      | mv-expand with_itemindex=i time to typeof(datetime), n to typeof(long)
      | where actor_user == "alice@contoso.com"
      | project i, time, n`,
      [
        { i: 0, time: "2026-11-20T09:00:00.000Z", n: 2 },
        { i: 1, time: "2026-11-20T09:10:00.000Z", n: 1 },
        { i: 2, time: "2026-11-20T09:20:00.000Z", n: 1 },
      ],
    ],
    [
      `Authentication
      | make-series n = count() on time from datetime(2026-11-20 09:00) to datetime(2026-11-20 09:30) step 10m
      | project first = n[0], last = n[2], start = todatetime(time[0]), bins = array_length(n), none = array_length(n[0])`,
      [{ first: 2, last: 1, start: "2026-11-20T09:00:00.000Z", bins: 3, none: null }],
    ],
    // make-series … in range(start, stop, step): bin()'s bins (20m bins on 2000-01-01 fall on the hour), from the
    // one holding start (09:00, so a1 at 09:00 counts though before start) to the one holding stop (09:40,
    // inclusive: a6 and a7); a8 at 10:00 is past it.
    [
      "Events | make-series n = count() on time in range(datetime(2026-11-20 09:05), datetime(2026-11-20 09:40), 20m)",
      [
        {
          n: [3, 2, 2],
          time: ["2026-11-20T09:00:00.000Z", "2026-11-20T09:20:00.000Z", "2026-11-20T09:40:00.000Z"],
        },
      ],
    ],
    // On a number: bins of 1000 from bin(1000) to bin(3389) = 3000; a stop on a bin's start still makes that bin.
    [
      "Events | make-series n = count() on dst_port in range(1000, 3389, 1000)",
      [{ n: [0, 0, 1], dst_port: [1000, 2000, 3000] }],
    ],
    [
      "Events | make-series n = count() on dst_port in range(0, 3000, 1000)",
      [{ n: [0, 0, 0, 1], dst_port: [0, 1000, 2000, 3000] }],
    ],
    // Series functions over a make-series result: [2, 1, 1, 1] has mean 1.25, squares .5625 + 3 × .0625 = .75,
    // sample variance .75 / 3 = .25.
    [
      `Authentication
      | make-series n = count() on time in range(datetime(2026-11-20 09:00), datetime(2026-11-20 09:30), 10m)
      | extend st = series_stats_dynamic(n)
      | where st.max >= 2
      | project n, st, ratio = series_divide(n, toreal(st.max)), o = series_outliers(n)`,
      [
        {
          n: [2, 1, 1, 1],
          st: { min: 1, min_idx: 1, max: 2, max_idx: 0, avg: 1.25, variance: 0.25, stdev: 0.5 },
          ratio: [1, 0.5, 0.5, 0.5],
          // P10 = 1, P90 = 1 + .7 × (2 - 1) = 1.7 (linear interpolation): 2 scores (2 - 1.7) / .7 < 1.5.
          o: [expect.closeTo(0.3 / 0.7, 10), 0, 0, 0],
        },
      ],
    ],
    // Missing values (null) filled: forward leaves the leading one, backward the trailing one; linear
    // interpolates on the index and takes the nearest value at the ends; a series with no value at all is zeros.
    [
      `Events | where source_event_id == "a1"
      | extend s = dynamic([null, 1, null, null, 4, null])
      | project fwd = series_fill_forward(s), back = series_fill_backward(s), lin = series_fill_linear(s),
          c = series_fill_const(s, -1), none = series_fill_linear(dynamic([null, null])), empty = series_fill_forward(dynamic([])),
          notArray = series_fill_forward(dynamic({"a": 1}))`,
      [
        {
          fwd: [null, 1, 1, 1, 4, 4],
          back: [1, 1, 4, 4, 4, null],
          lin: [1, 1, 2, 3, 4, 4],
          c: [-1, 1, -1, -1, 4, -1],
          none: [0, 0],
          empty: [],
          notArray: null,
        },
      ],
    ],
    // Kusto's missing_value_placeholder: the elements equal to it are missing too (-1 here); fill_edges false leaves the
    // ends missing; constant_value fills a series with no value at all (a typed null keeps it null).
    [
      `Events | where source_event_id == "a1"
      | extend s = dynamic([-1, 1, -1, null, 4, -1])
      | project fwd = series_fill_forward(s, -1), back = series_fill_backward(s, -1), c = series_fill_const(s, 0, -1),
          lin = series_fill_linear(s, -1), inner = series_fill_linear(s, -1, false), kept = series_fill_forward(s, double(null)),
          seven = series_fill_linear(dynamic([-1, null]), -1, true, 7), none = series_fill_linear(dynamic([null, null]), real(null), true, real(null))`,
      [
        {
          fwd: [null, 1, 1, 1, 4, 4],
          back: [1, 1, 4, 4, 4, null],
          c: [0, 1, 0, 0, 4, 0],
          lin: [1, 1, 2, 3, 4, 4],
          inner: [null, 1, 2, 3, 4, null],
          kept: [-1, 1, -1, -1, 4, -1],
          seven: [7, 7],
          none: [null, null],
        },
      ],
    ],
    // series_stats_dynamic: [1, 2, 3, 4, 10] has mean 4, squares 9 + 4 + 1 + 0 + 36 = 50, sample variance 12.5; one
    // value has variance 0; all-equal values stdev 0; a null makes every statistic null unless ignored; none at
    // all, null statistics.
    [
      `Events | where source_event_id == "a1"
      | project a = series_stats_dynamic(dynamic([1, 2, 3, 4, 10])), one = series_stats_dynamic(dynamic([5])),
          same = series_stats_dynamic(dynamic([2, 2, 2])), gap = series_stats_dynamic(dynamic([1, null, 3])),
          ignored = series_stats_dynamic(dynamic([1, null, 3]), true), empty = series_stats_dynamic(dynamic([]))`,
      [
        {
          a: { min: 1, min_idx: 0, max: 10, max_idx: 4, avg: 4, variance: 12.5, stdev: Math.sqrt(12.5) },
          one: { min: 5, min_idx: 0, max: 5, max_idx: 0, avg: 5, variance: 0, stdev: 0 },
          same: { min: 2, min_idx: 0, max: 2, max_idx: 0, avg: 2, variance: 0, stdev: 0 },
          gap: { min: null, min_idx: null, max: null, max_idx: null, avg: null, variance: null, stdev: null },
          ignored: { min: 1, min_idx: 0, max: 3, max_idx: 2, avg: 2, variance: 2, stdev: Math.SQRT2 },
          empty: {
            min: null,
            min_idx: null,
            max: null,
            max_idx: null,
            avg: null,
            variance: null,
            stdev: null,
          },
        },
      ],
    ],
    // series_outliers over 0…9, 100: ctukey's P10 = 1 and P90 = 9 (spread 8): 100 scores 91 / 8, 0 scores -1 / 8;
    // tukey's P25 = 2.5 and P75 = 7.5 (spread 5). All-equal values, a null, or nothing: zeros. min_percentile 20 and
    // max_percentile 80: P20 = 2, P80 = 8 (spread 6), which "tukey" does not take. With ignore_val -5 the -5 is
    // missing: left out of the percentiles (the same as c's) and scored 0.
    [
      `Events | where source_event_id == "a1"
      | extend s = dynamic([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100])
      | project c = series_outliers(s), t = series_outliers(s, "tukey"), same = series_outliers(dynamic([3, 3, 3])),
          gap = series_outliers(dynamic([null, 4])), empty = series_outliers(dynamic([])),
          narrow = series_outliers(s, "ctukey", double(null), 20, 80), tnarrow = series_outliers(s, "tukey", double(null), 20, 80),
          ignored = series_outliers(dynamic([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, -5]), "ctukey", -5)`,
      [
        {
          c: [-0.125, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11.375],
          t: [-0.5, -0.3, -0.1, 0, 0, 0, 0, 0, 0.1, 0.3, 18.5],
          same: [0, 0, 0],
          gap: [0, 0],
          empty: [],
          narrow: [-1 / 3, -1 / 6, 0, 0, 0, 0, 0, 0, 0, 1 / 6, 92 / 6],
          tnarrow: [-0.5, -0.3, -0.1, 0, 0, 0, 0, 0, 0.1, 0.3, 18.5],
          ignored: [-0.125, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11.375, 0],
        },
      ],
    ],
    // series_decompose_anomalies. trend "avg" over nine 5s and a 40: mean 8.5, residuals -3.5 (nine) and 31.5;
    // P10 = -3.5, P90 = -3.5 + .1 × 35 = 0, so 40 scores 31.5 / 3.5 = 9 (> 1.5: +1) and the 5s 0. A linear trend
    // (the default) flags the one dip of a steady rise (-1); a period of 4 takes the weekly-like pattern 1, 1, 1, 9
    // as normal and flags the 9 out of phase, which without the period (seasonality 0) is not an anomaly. The default
    // seasonality (-1) finds that period: once the series' line (slope 2.16 / 23 = 0.0939) is taken away, lag 4 scores
    // 0.6251 (lag 3 −0.219, lag 5 −0.139; the lags up to 12 score less), at least the 0.6 seasonality_threshold, but
    // not 0.63. With test_points 1 the 40 is left out of the learning: the trend "avg" is the nine 5s' mean, their
    // residuals are all 0 (fences 0 and 0, so the distance itself is the score) and the 40 scores 35, above a
    // threshold of 10 that it stays under (9, `high`) when it is learnt from. One point,
    // all-equal values, nothing: no anomaly.
    [
      `Events | where source_event_id == "a1"
      | project avg = series_decompose_anomalies(dynamic([5, 5, 5, 5, 5, 5, 5, 5, 5, 40]), 1.5, -1, "avg"),
          high = series_decompose_anomalies(dynamic([5, 5, 5, 5, 5, 5, 5, 5, 5, 40]), 10, -1, "avg"),
          dip = series_decompose_anomalies(dynamic([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 2, 30, 31, 32, 33])),
          seasonal = series_decompose_anomalies(dynamic([1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 9, 1, 1, 9, 1, 1, 1, 9]), 1.5, 4),
          flat = series_decompose_anomalies(dynamic([1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 9, 1, 1, 9, 1, 1, 1, 9]), 1.5, 0),
          detected = series_decompose_anomalies(dynamic([1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 9, 1, 1, 9, 1, 1, 1, 9])),
          strict = series_decompose_anomalies(dynamic([1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 1, 1, 1, 9, 9, 1, 1, 9, 1, 1, 1, 9]), 1.5, -1, "linefit", 0, "ctukey", 0.63),
          tested = series_decompose_anomalies(dynamic([5, 5, 5, 5, 5, 5, 5, 5, 5, 40]), 10, 0, "avg", 1),
          one = series_decompose_anomalies(dynamic([3])), same = series_decompose_anomalies(dynamic([2, 2, 2, 2])),
          empty = series_decompose_anomalies(dynamic([]))`,
      [
        {
          avg: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
          high: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          dip: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0],
          seasonal: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
          flat: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          detected: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
          strict: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          tested: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
          one: [0],
          same: [0, 0, 0, 0],
          empty: [],
        },
      ],
    ],
    // Element-wise arithmetic: series or numbers; the shorter series is null past its end, and so is x / 0.
    [
      `Events | where source_event_id == "a1"
      | project add = series_add(dynamic([1, 2, 3]), dynamic([10, 20, 30])), sub = series_subtract(5, dynamic([1, 2])),
          mul = series_multiply(dynamic([1, 2]), 3), div = series_divide(dynamic([1, 2, 3]), dynamic([2, 0]))`,
      [{ add: [11, 22, 33], sub: [4, 3], mul: [3, 6], div: [0.5, null, null] }],
    ],
    // mv-expand kind=array (bagexpansion=array): a bag's keys as [key, value] arrays.
    [
      'Events | where source_event_id == "a1" | mv-expand kind=array bag = dynamic({"k1": 1, "k2": "v"}), list = dynamic([{"a": 1}]) | project bag, list',
      [
        { bag: ["k1", 1], list: { a: 1 } },
        { bag: ["k2", "v"], list: null },
      ],
    ],
    [
      'Events | where source_event_id == "a7" | mv-expand bagexpansion=array p = attributes.process | project key = tostring(p[0]), value = tostring(p[1]) | order by key asc',
      [
        { key: "cmd_line", value: "powershell.exe -enc AAAA" },
        { key: "name", value: "powershell.exe" },
      ],
    ],
    // series_fit_line over x = 1…n: 1, 3, 5, 7 is the line 2x − 1 (variance 20 / 3, nothing left over); one value is
    // a flat line through it; no value, or only missing ones, leaves every statistic null; not an array, all null.
    [
      `Events | where source_event_id == "a1"
      | extend (rsquare, slope, variance, rvariance, interception, line_fit) = series_fit_line(dynamic([1, 3, 5, 7]))
      | extend (r1, s1, v1, rv1, i1, l1) = series_fit_line(dynamic([5]))
      | extend (r0, s0, v0, rv0, i0, l0) = series_fit_line(dynamic([]))
      | extend (rn, sn, vn, rvn, in_, ln) = series_fit_line(dynamic([null, "x"]))
      | extend (bag) = series_fit_line(dynamic({"a": 1}))
      | project rsquare, slope, variance, rvariance, interception, line_fit, r1, s1, v1, rv1, i1, l1, r0, s0, v0, rv0,
          i0, l0, rn, sn, vn, rvn, in_, ln, bag`,
      [
        {
          rsquare: 1,
          slope: 2,
          variance: 20 / 3,
          rvariance: 0,
          interception: -1,
          line_fit: [1, 3, 5, 7],
          r1: 1,
          s1: 0,
          v1: 0,
          rv1: 0,
          i1: 5,
          l1: [5],
          r0: null,
          s0: null,
          v0: null,
          rv0: null,
          i0: null,
          l0: [],
          rn: null,
          sn: null,
          vn: null,
          rvn: null,
          in_: null,
          ln: [null, null],
          bag: null,
        },
      ],
    ],
    // A missing element is left out of the fit (1, 3 and 7 at x = 1, 2 and 4 lie on 2x − 1) but gets a line_fit;
    // series_fit_line_dynamic gives the same as one bag.
    [
      `Events | where source_event_id == "a1"
      | extend (r, s, v, rv, i, lf) = series_fit_line(dynamic([1, 3, null, 7]))
      | extend bag = series_fit_line_dynamic(dynamic([1, 3, null, 7]))
      | project r, s, rv, i, lf, slope = toreal(bag.slope), fit = bag.line_fit`,
      [{ r: 1, s: 2, rv: 0, i: -1, lf: [1, 3, 5, 7], slope: 2, fit: [1, 3, 5, 7] }],
    ],
    // series_decompose: with a period of 4 the seasonal part is each phase's median (3, 4, 5, 14), "avg" takes the
    // mean of what is left (0) as the trend, and the residual is what the seasonal part leaves (±2). Without a period,
    // "linefit" makes a line through 1, 3, _, 7 (least squares over the index: 1 + 2i) the trend and baseline; the
    // missing element has a baseline but no residual. The default trend (Kusto's) is "avg": the mean 11/3. "none": no trend. The nine 5s and a 40 of series_decompose_anomalies
    // above: baseline 8.5, residuals −3.5 and 31.5 (the ones it scores). The default seasonality finds the period 4 of
    // 4, 0, 0, 4 repeated (it scores 2/3, as series_periods_detect finds below): each phase's median is the series
    // itself, and nothing is left; with a seasonality_threshold of 0.7 no period is taken, the flat line is the mean
    // 2. test_points 1 leaves the 100 out of the fit: the line through 1, 3, 5 goes on to 7 there; more test_points
    // than elements leave nothing to learn (no period, a trend of 0).
    [
      `Events | where source_event_id == "a1"
      | extend (baseline, seasonal, trend, residual) = series_decompose(dynamic([1, 2, 3, 12, 5, 6, 7, 16]), 4, "avg")
      | extend (lb, ls, lt, lr) = series_decompose(dynamic([1, 3, null, 7]), -1, "linefit")
      | extend (mb, ms, mt, mr) = series_decompose(dynamic([1, 3, null, 7]))
      | extend (nb, ns, nt, nr) = series_decompose(dynamic([1, 3, null, 7]), -1, "none")
      | extend (ab, as_, at, ar) = series_decompose(dynamic([5, 5, 5, 5, 5, 5, 5, 5, 5, 40]), -1, "avg")
      | extend (eb, es, et, er) = series_decompose(dynamic([]))
      | extend (db, ds, dt, dr) = series_decompose(dynamic([4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4]))
      | extend (hb, hs, ht, hr) = series_decompose(dynamic([4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4]), -1, "linefit", 0, 0.7)
      | extend (tb, ts, tt, tr) = series_decompose(dynamic([1, 3, 5, 100]), 0, "linefit", 1)
      | extend (xb, xs, xt, xr) = series_decompose(dynamic([1, 3]), -1, "avg", 10000000000)
      | project baseline, seasonal, trend, residual, lb, ls, lt, lr, mt, mr, nt, nr, at, ar, eb, es, et, er, ds, dt, dr, hs, ht,
          hr, tb, tr, xt, xr`,
      [
        {
          baseline: [3, 4, 5, 14, 3, 4, 5, 14],
          seasonal: [3, 4, 5, 14, 3, 4, 5, 14],
          trend: [0, 0, 0, 0, 0, 0, 0, 0],
          residual: [-2, -2, -2, -2, 2, 2, 2, 2],
          lb: [1, 3, 5, 7],
          ls: [0, 0, 0, 0],
          lt: [1, 3, 5, 7],
          lr: [0, 0, null, 0],
          mt: [11 / 3, 11 / 3, 11 / 3, 11 / 3].map((v) => expect.closeTo(v, 12)),
          mr: [
            expect.closeTo(1 - 11 / 3, 12),
            expect.closeTo(3 - 11 / 3, 12),
            null,
            expect.closeTo(7 - 11 / 3, 12),
          ],
          nt: [0, 0, 0, 0],
          nr: [1, 3, null, 7],
          at: [8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5, 8.5],
          ar: [-3.5, -3.5, -3.5, -3.5, -3.5, -3.5, -3.5, -3.5, -3.5, 31.5],
          eb: [],
          es: [],
          et: [],
          er: [],
          ds: [4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4],
          dt: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          dr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          hs: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          ht: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
          hr: [2, -2, -2, 2, 2, -2, -2, 2, 2, -2, -2, 2],
          tb: [1, 3, 5, 7],
          tr: [0, 0, 0, 93],
          xt: [0, 0],
          xr: [1, 3],
        },
      ],
    ],
    // series_stats as columns (Kusto's series_stats), the first ones named.
    [
      `Events | where source_event_id == "a1"
      | extend (lo, lo_i, hi, hi_i, mean, sd, var) = series_stats(dynamic([3, 1, 2]))
      | extend (gap) = series_stats(dynamic([4, null])), (kept) = series_stats(dynamic([4, null]), true)
      | project lo, lo_i, hi, hi_i, mean, sd, var, gap, kept`,
      [{ lo: 1, lo_i: 1, hi: 3, hi_i: 0, mean: 2, sd: 1, var: 1, gap: null, kept: 4 }],
    ],
    // series_periods_detect: 4, 0, 0, 4 repeated is symmetric, so its least-squares line is flat (at the mean, 2)
    // and every element is ±2 from it (squares 4 each). Over 12 elements (total 48), lag 4 pairs 8 equal elements
    // (32 / 48 = 2/3), lag 3 alternates +4, −4 over 9 pairs (4 / 48), lag 5 over 7 (−4 / 48), lag 6 pairs 6
    // opposite ones (−24 / 48): 4 is the only local maximum from 4 to 6 (half the series), and the second period is
    // padded with 0. A line added to the series (3 per element) changes nothing. Over 24 elements (total 96),
    // lags 4, 8 and 12 score 80, 64 and 48 / 96, but 8 and 12 are multiples of 4; from 5 up, 8 and 12 are found.
    // series_periods_validate scores given periods the same way: 4.5 is halfway between lags 4 and 5
    // ((2/3 − 1/12) / 2 = 7/24), 6 scores below 0 (0), 2 is shorter than 4 bins (0).
    [
      `Events | where source_event_id == "a1"
      | extend s12 = dynamic([4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4]), s24 = dynamic([4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4, 4, 0, 0, 4])
      | extend (periods, scores) = series_periods_detect(s12, 0, 10, 2)
      | extend (lp, ls) = series_periods_detect(dynamic([7, 6, 9, 16, 19, 18, 21, 28, 31, 30, 33, 40]), 0, 10, 1)
      | extend (p24, s24_) = series_periods_detect(s24, 4, 12, 3), (q24, t24) = series_periods_detect(s24, 5, 12, 3)
      | extend (vp, vs) = series_periods_validate(s12, 4, 4.5, 6, 2)
      | extend (flat, fs) = series_periods_detect(dynamic([3, 3, 3, 3, 3, 3, 3, 3]), 4, 4, 1)
      | extend (wide, ws) = series_periods_detect(s12, -1000000000000, 1000000000000, 1)
      | extend (none, ns) = series_periods_detect(dynamic({"a": 1}), 4, 4, 1)
      | project periods, scores, lp, ls, p24, s24_, q24, t24, vp, vs, flat, fs, none, ns, wide, ws`,
      [
        {
          periods: [4, 0],
          scores: [expect.closeTo(2 / 3, 12), 0],
          lp: [4],
          ls: [expect.closeTo(2 / 3, 12)],
          p24: [4, 0, 0],
          s24_: [expect.closeTo(5 / 6, 12), 0, 0],
          q24: [8, 12, 0],
          t24: [expect.closeTo(2 / 3, 12), expect.closeTo(1 / 2, 12), 0],
          vp: [4, 4.5, 6, 2],
          vs: [expect.closeTo(2 / 3, 12), expect.closeTo(7 / 24, 12), 0, 0],
          flat: [0],
          fs: [0],
          none: null,
          ns: null,
          wide: [4],
          ws: [expect.closeTo(2 / 3, 12)],
        },
      ],
    ],
    // series_decompose_forecast: 12 bins of the line 12 + 2x (x = 1…12) plus the pattern 2, −2, −2, 2 repeated,
    // then 4 bins to forecast (0 as make-series leaves empty bins, or any values: they are not learnt from). The rise
    // one period apart is 8 (2 per bin); less 2 per bin, each phase is constant (14, 10, 10, 14: the seasonal part),
    // and what is left is the line 2i (i from 0), so the forecast is the line and pattern carried on: 38, 36, 38,
    // 44, and the learnt bins are the series itself. The default seasonality finds the period 4 (the series less its
    // least-squares line is ±2: lag 4 scores 2/3). "avg" learns each phase's median of the values themselves (22, 20,
    // 22, 28), which leaves −8, 0 and 8 a cycle, mean 0: the pattern without the rise. Without a period, "linefit"
    // carries on the line through 1, 3, _, 7 (1 + 2i) and "avg" the mean of 1, 3, 8; with neither, zeros (as
    // Kusto). More points than the series leaves nothing to learn (zeros); 0 points fits the whole series.
    [
      `Events | where source_event_id == "a1"
      | extend clean = dynamic([14, 12, 14, 20, 22, 20, 22, 28, 30, 28, 30, 36, 0, 0, 0, 0])
      | project given = series_decompose_forecast(clean, 4, 4),
          ignored = series_decompose_forecast(dynamic([14, 12, 14, 20, 22, 20, 22, 28, 30, 28, 30, 36, 999, -5, null, "x"]), 4, 4),
          detected = series_decompose_forecast(clean, 4),
          avg = series_decompose_forecast(clean, 4, 4, "avg"),
          line = series_decompose_forecast(dynamic([1, 3, null, 7, 0, 0]), 2, 0),
          mean = series_decompose_forecast(dynamic([1, 3, null, 8, 0, 0]), 2, 0, "avg"),
          nothing = series_decompose_forecast(clean, 4, 0, "none"),
          all = series_decompose_forecast(dynamic([1, 3]), 5),
          whole = series_decompose_forecast(dynamic([1, 3, 5]), 0, 0),
          bag = series_decompose_forecast(dynamic({"a": 1}), 1)`,
      [
        {
          given: [14, 12, 14, 20, 22, 20, 22, 28, 30, 28, 30, 36, 38, 36, 38, 44],
          ignored: [14, 12, 14, 20, 22, 20, 22, 28, 30, 28, 30, 36, 38, 36, 38, 44],
          detected: [14, 12, 14, 20, 22, 20, 22, 28, 30, 28, 30, 36, 38, 36, 38, 44],
          avg: [22, 20, 22, 28, 22, 20, 22, 28, 22, 20, 22, 28, 22, 20, 22, 28],
          line: [1, 3, 5, 7, 9, 11],
          mean: [4, 4, 4, 4, 4, 4],
          nothing: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          all: [0, 0],
          whole: [1, 3, 5],
          bag: null,
        },
      ],
    ],
    // mv-apply: the subquery per row over its sub-table. Per account, the largest port and how many there are;
    // `ports` (the expanded column) is gone, the row's other columns are kept.
    [
      `Authentication | summarize ports = make_list(src_port) by actor_user
      | mv-apply p = ports to typeof(long) on (summarize hi = max(p), n = count())
      | order by actor_user asc`,
      [
        { actor_user: "Bob@Contoso.com", hi: 50005, n: 1 },
        { actor_user: "alice@contoso.com", hi: 50004, n: 4 },
      ],
    ],
    // A row whose subquery returns nothing is dropped (alice has no port above 50004).
    [
      `Authentication | summarize ports = make_list(src_port) by actor_user
      | mv-apply p = ports to typeof(long) on (where p > 50004)`,
      [{ actor_user: "Bob@Contoso.com", p: 50005 }],
    ],
    // top, and take in array order; with_itemindex; an empty array gives no sub-table rows, so no row; a null one
    // row holding null; several values zip, `limit` counting the zipped rows.
    [
      `Events | where source_event_id == "a1"
      | extend xs = dynamic([3, 1, 2]), tag = "t"
      | mv-apply x = xs to typeof(long) on (top 1 by x desc | extend doubled = x * 2)
      | project tag, x, doubled`,
      [{ tag: "t", x: 3, doubled: 6 }],
    ],
    [
      `Events | where source_event_id == "a1"
      | mv-apply with_itemindex=i x = dynamic([3, 1, 2]) to typeof(long) on (where x < 3 | take 1 | project i, x)
      | project i, x`,
      [{ i: 1, x: 1 }],
    ],
    [
      `Events | where source_event_id == "a1"
      | mv-apply x = dynamic([3, 1, 2]) to typeof(long) on (order by x asc | take 2 | summarize s = sum(x))
      | project s`,
      [{ s: 3 }],
    ],
    ['Events | where source_event_id == "a1" | mv-apply x = dynamic([]) on (take 5) | count', [{ Count: 0 }]],
    [
      'Events | where source_event_id == "a1" | mv-apply x = dynamic(null) on (summarize n = count(), nulls = countif(isnull(x))) | project n, nulls',
      [{ n: 1, nulls: 1 }],
    ],
    [
      `Events | where source_event_id == "a1"
      | mv-apply a = dynamic([1, 2, 3]) to typeof(long), b = dynamic(["x"]) to typeof(string) limit 2 on (project a, b)
      | project a, b | order by a asc`,
      [
        { a: 1, b: "x" },
        { a: 2, b: null },
      ],
    ],
    // A column the subquery returns replaces the row's of that name.
    [
      `Events | where source_event_id == "a1"
      | mv-apply x = dynamic([1, 2]) to typeof(long) on (summarize source_event_id = sum(x))
      | project source_event_id`,
      [{ source_event_id: 3 }],
    ],
    // parse kind=relaxed: a typed column whose text is not of its type is null, the others are kept (simple mode
    // leaves every column null); a typed column before `*` takes its type's text or none; a string of the pattern
    // missing from the text leaves every column null, as in simple mode.
    [
      `Events | where source_event_id == "a1"
      | extend t = "n=abc m=2.5 rest", u = "n=12x m=y", w = "n=12", o = "ok=maybe"
      | parse kind=relaxed t with "n=" n:long " m=" m:real " " rest
      | parse t with "n=" sn:long " m=" sm:real " " srest
      | parse kind=relaxed u with "n=" un:long * "m=" um:real
      | parse kind=relaxed w with "n=" wn:long " m=" wm:real
      | parse kind=relaxed o with "ok=" ok:bool
      | project n, m, rest, sn, sm, srest, un, um, wn, wm, ok`,
      [
        {
          n: null,
          m: 2.5,
          rest: "rest",
          sn: null,
          sm: null,
          srest: null,
          un: 12,
          um: null,
          wn: null,
          wm: null,
          ok: null,
        },
      ],
    ],
  ])("%s", async (query, expected) => {
    expect(await rows(query)).toEqual(expected);
  });

  it.each<[string, Array<Record<string, unknown>>]>([
    // rightouter and fullouter: the unmatched rows of the right side (or both), nulls for the other side.
    [
      'Authentication | where status == "Success" | project actor_user, ok = time | join kind=rightouter (Authentication | where status == "Failure" | project actor_user, source_event_id) on actor_user | project source_event_id, ok, actor_user, actor_user1 | order by source_event_id asc',
      [
        {
          source_event_id: "a1",
          ok: "2026-11-20T09:20:00.000Z",
          actor_user: "alice@contoso.com",
          actor_user1: "alice@contoso.com",
        },
        {
          source_event_id: "a2",
          ok: "2026-11-20T09:20:00.000Z",
          actor_user: "alice@contoso.com",
          actor_user1: "alice@contoso.com",
        },
        {
          source_event_id: "a3",
          ok: "2026-11-20T09:20:00.000Z",
          actor_user: "alice@contoso.com",
          actor_user1: "alice@contoso.com",
        },
        { source_event_id: "a5", ok: null, actor_user: null, actor_user1: "Bob@Contoso.com" },
      ],
    ],
    [
      // A null key matches nothing: the event without an account stays unmatched.
      'Authentication | summarize s = countif(status == "Success") by actor_user | where s > 0 | join kind=fullouter (Events | where isnotempty(device) | summarize d = count() by actor_user) on actor_user | project actor_user, s, actor_user1, d | order by actor_user asc nulls last, actor_user1 asc',
      [
        { actor_user: "alice@contoso.com", s: 1, actor_user1: null, d: null },
        { actor_user: null, s: null, actor_user1: null, d: 1 },
        { actor_user: null, s: null, actor_user1: "SYSTEM", d: 1 },
      ],
    ],
    [
      "Events | join kind=fullouter (Events | extend port = todouble(src_port)) on $left.src_port == $right.port | summarize both = countif(isnotempty(id) and isnotempty(id1)), left = countif(isempty(id1)), right = countif(isempty(id))",
      [{ both: 6, left: 2, right: 2 }],
    ],
    // union kind=inner: the columns (name and type) every table has.
    [
      "union kind=inner withsource=T (Authentication | project source_event_id, actor_user, n = 1), (ProcessActivity | project source_event_id, device, n = 'x') | order by source_event_id asc",
      [
        { T: "union_arg0", source_event_id: "a1" },
        { T: "union_arg0", source_event_id: "a2" },
        { T: "union_arg0", source_event_id: "a3" },
        { T: "union_arg0", source_event_id: "a4" },
        { T: "union_arg0", source_event_id: "a5" },
        { T: "union_arg1", source_event_id: "a7" },
      ],
    ],
    [
      "NetworkActivity | union kind=inner (ProcessActivity | project device, time) | project-away time | order by device asc",
      [{ device: "vm-web-01" }, { device: "vm-web-01" }],
    ],
    // toscalar: the first column of the first row, once for the whole query.
    [
      "let last = toscalar(Authentication | summarize max(time));\nEvents | where time > last | project source_event_id | order by source_event_id asc",
      [{ source_event_id: "a6" }, { source_event_id: "a7" }, { source_event_id: "a8" }],
    ],
    [
      "Events | where dst_port == toscalar(NetworkActivity | summarize max(dst_port)) | project source_event_id",
      [{ source_event_id: "a6" }],
    ],
    [
      "let perUser = toscalar(Authentication | summarize n = count() by actor_user | summarize avg(n));\nAuthentication | summarize n = count() by actor_user | where n > perUser | project actor_user, perUser",
      [{ actor_user: "alice@contoso.com", perUser: 2.5 }],
    ],
    [
      "Events | extend first = toscalar(Authentication | order by time asc | project source_event_id), last = toscalar(Authentication | top 1 by time desc | project source_event_id) | distinct first, last",
      [{ first: "a1", last: "a5" }],
    ],
    [
      'Events | extend x = toscalar(Events | where status == "nope" | project actor_user) | summarize n = countif(isnull(x))',
      [{ n: 8 }],
    ],
    ["let n = toscalar(ProcessActivity | count);\nEvents | where severity_id > n | count", [{ Count: 1 }]],
    // materialize: a common table expression Postgres computes once.
    [
      'let failures = materialize(Authentication | where status == "Failure");\nfailures | join kind=inner (failures | summarize n = count() by actor_user) on actor_user | summarize n = max(n) by actor_user | order by n desc',
      [
        { actor_user: "alice@contoso.com", n: 3 },
        { actor_user: "Bob@Contoso.com", n: 1 },
      ],
    ],
    // parse kind=regex: the strings are regular expressions; greedy unless flags=U; the first match anywhere.
    [
      'Events | where source_event_id == "a1" | parse kind=regex message with "(Sign|Log)-in " verb ": " * | project verb',
      [{ verb: "failed" }],
    ],
    [
      'Events | where source_event_id == "a1" | extend m = "a=1, b=2, c=3" | parse kind=regex m with "a=" greedy "," * | parse kind=regex flags=U m with "a=" lazy "," * | project greedy, lazy',
      [{ greedy: "1, b=2", lazy: "1" }],
    ],
    [
      'Events | where source_event_id == "a1" | parse kind=regex flags=i message with "SIGN-IN " verb ":" | parse kind=regex message with "SIGN-IN " other ":" | project verb, other',
      [{ verb: "failed", other: null }],
    ],
    [
      'Events | where source_event_id == "a1" | extend m = "src port  50001 dst port 22" | parse kind=regex m with @"port\\s+" first:long @"\\D+" second:long | project first, second',
      [{ first: 50001, second: 22 }],
    ],
    [
      // `.` matches a line break with s only; `^` matches after one with m only.
      'Events | where source_event_id == "a1" | extend m = "head\\nuser=bob" | parse kind=regex m with "head.user=" a | parse kind=regex flags=s m with "head.user=" b | parse kind=regex m with "^user=" c | parse kind=regex flags=m m with "^user=" d | project a, b, c, d',
      [{ a: null, b: "bob", c: null, d: "bob" }],
    ],
    // let functions: scalar and tabular bodies, inlined with their arguments.
    [
      'let isFailure = (s: string) { s == "Failure" };\nAuthentication | where isFailure(status) | count',
      [{ Count: 4 }],
    ],
    [
      'let tag = (who: string, n: long) { strcat(who, "#", tostring(n)) };\nAuthentication | summarize n = count() by actor_user | project t = tag(actor_user, n) | order by t asc',
      [{ t: "Bob@Contoso.com#1" }, { t: "alice@contoso.com#4" }],
    ],
    [
      "let twice = (x: long) { x * 2 };\nlet quad = (x: long) { twice(twice(x)) };\nlet half = (x: real) { x / 2 };\nNetworkActivity | project q = quad(dst_port), h = half(3)",
      [{ q: 13556, h: 1.5 }],
    ],
    [
      'let failuresFrom = (ip: string) { Authentication | where status == "Failure" and src_ip == ip };\nfailuresFrom("203.0.113.7") | join kind=leftsemi failuresFrom("203.0.113.7") on id | union failuresFrom("203.0.113.8") | count',
      [{ Count: 4 }],
    ],
    [
      "let recent = (n: long, term: string) { Events | where message has term | order by time desc | take n };\nrecent(1, 'bad') | project source_event_id",
      [{ source_event_id: "a2" }],
    ],
    [
      "let countOf = (c: long) { toscalar(Events | where class_uid == c | count) };\nlet since = datetime(2026-11-20T09:30:00Z);\nlet after = (t: datetime) { Events | where time > t };\nafter(since) | extend auth = countOf(3002) | summarize n = count(), auth = max(auth)",
      [{ n: 3, auth: 5 }],
    ],
    // Tabular parameters, default values and `let`s in a function's body.
    [
      "let latest = (T: (*), n: long = 1) { T | top n by time desc };\nlatest(Authentication) | union latest((ProcessActivity | union NetworkActivity), 2) | project source_event_id | order by source_event_id asc",
      [{ source_event_id: "a5" }, { source_event_id: "a6" }, { source_event_id: "a7" }],
    ],
    [
      // The declared `real` column of a `long` argument is converted: p / 2 is not a whole division.
      "let perDevice = (T: (dst_port: real, device: string)) { T | summarize p = max(dst_port) by device };\nlet net = NetworkActivity;\nperDevice(net) | extend half = p / 2",
      [{ device: "vm-web-01", p: 3389, half: 1694.5 }],
    ],
    [
      'let failedFrom = (T: (src_ip: string, status: string), ip: string) { let mine = T | where src_ip == ip; let wanted = "Failure"; mine | where status == wanted };\nAuthentication | join kind=leftsemi failedFrom(Authentication, "203.0.113.7") on id | union failedFrom(Events | where actor_user startswith "bob", "203.0.113.8") | project source_event_id | order by source_event_id asc',
      [
        { source_event_id: "a1" },
        { source_event_id: "a2" },
        { source_event_id: "a3" },
        { source_event_id: "a5" },
      ],
    ],
    // Named arguments, in any order after those given by position; omitted ones take their default value.
    [
      "let recent = (n: long = 1, term: string = 'bad') { Events | where message has term | order by time desc | take n };\nrecent(term = 'bad') | union (recent(2, term = 'password') | where source_event_id == 'a1') | project source_event_id | order by source_event_id desc",
      [{ source_event_id: "a2" }, { source_event_id: "a1" }],
    ],
    [
      'let tag = (who: string, n: long = 0, sep: string = "#") { strcat(who, sep, tostring(n)) };\nAuthentication | summarize n = count() by actor_user | project t = tag(n = n, who = actor_user), u = tag(actor_user, sep = "/") | order by t asc',
      [
        { t: "Bob@Contoso.com#1", u: "Bob@Contoso.com/0" },
        { t: "alice@contoso.com#4", u: "alice@contoso.com/0" },
      ],
    ],
    [
      // `T: (status: string, *)`: a table with a string `status`; its other columns pass through.
      'let failing = (T: (status: string, *), wanted: string = "Failure") { T | where status == wanted };\nfailing(Authentication) | union failing(wanted = "Success", T = NetworkActivity) | project source_event_id, actor_user | order by source_event_id asc',
      [
        { source_event_id: "a1", actor_user: "alice@contoso.com" },
        { source_event_id: "a2", actor_user: "alice@contoso.com" },
        { source_event_id: "a3", actor_user: "alice@contoso.com" },
        { source_event_id: "a5", actor_user: "Bob@Contoso.com" },
        { source_event_id: "a6", actor_user: null },
      ],
    ],
    [
      // A `toscalar` over a tabular parameter is computed for each call's table.
      'let rowsOf = (T: (*)) { toscalar(T | count) };\nEvents | where source_event_id == "a1" | project auth = rowsOf(Authentication), proc = rowsOf(ProcessActivity)',
      [{ auth: 5, proc: 1 }],
    ],
    [
      // Watchlists named in a tabular argument and in a body's `let` are loaded for the hunt.
      "let keys = (T: (SearchKey: string)) { let bad = _GetWatchlist('bad-ips') | project SearchKey; T | project SearchKey | union bad };\nkeys(_GetWatchlist('vip')) | order by SearchKey asc",
      [
        { SearchKey: "198.51.100.99" },
        { SearchKey: "203.0.113.7" },
        { SearchKey: "alice@contoso.com" },
        { SearchKey: "carol@contoso.com" },
      ],
    ],
  ])("%s", async (query, expected) => {
    expect(await rows(query)).toEqual(expected);
  });

  it.each<[string, Array<Record<string, unknown>>]>([
    // Strings. a1's message is "Sign-in failed: bad password".
    [
      'Events | where source_event_id == "a1" | project e = extract(@"failed: (\\w+) (\\w+)", 2, message), e0 = extract("[a-z]+", 0, message), none = extract("x(y)?", 1, message), n = extract(@"port (\\d+)", 1, "port 443", typeof(long)), bad = extract(@"x(\\d+)$", 1, "port x443x9999999999999999999", typeof(long)), b = extract(@"\\bfail\\w*", 0, message)',
      [{ e: "password", e0: "ign", none: null, n: 443, bad: null, b: "failed" }],
    ],
    [
      'Events | where source_event_id == "a1" | project parts = split(message, " "), second = split(message, " ", 1), past = split(message, " ", 99), negative = split(message, " ", -1), empty = split("", ","), none = split(device, ",")',
      [
        {
          parts: ["Sign-in", "failed:", "bad", "password"],
          second: ["failed:"],
          past: [],
          negative: [],
          empty: [""],
          none: null,
        },
      ],
    ],
    [
      'Events | where source_event_id == "a1" | project r = replace_string(message, "bad", "good"), rr = replace_regex(message, @"(\\w+) (\\w+)$", @"\\2 \\1"), all = replace_regex("a.b.c", @"\\.", "/"), whole = replace_regex("ab", "b", @"[\\0\\\\]"), t = trim("[^a-z]+", "--abc--"), ts = trim_start("-", "--abc--"), te = trim_end("-", "--abc--"), ti = trim("(?i)X", "xxAxX")',
      [
        {
          r: "Sign-in failed: good password",
          rr: "Sign-in failed: password bad",
          all: "a/b/c",
          whole: "a[b\\]",
          t: "abc",
          ts: "abc--",
          te: "--abc",
          ti: "A",
        },
      ],
    ],
    [
      // indexof and countof as Kusto's documentation shows them.
      'Events | where source_event_id == "a1" | project i = indexof(message, "failed"), i2 = indexof(message, "x"), i3 = indexof("abcdefg", "cde", -5), i4 = indexof("abcdefg", "cde", 1, 2), i5 = indexof("abcdefg", "cde", 1, 4), i6 = indexof("abcdefg", "cde", 2, -1), i7 = indexof("abc", "c", 4503599627370495 * 2048 + 2047), i8 = indexof("abc", "c", 0, -2), n = indexof(1234567, 5), c = countof("aaaa", "aa"), c2 = countof("ababa", "aba"), cr = countof("ababa", "aba", "regex"), c0 = countof("abc", ""), sa = strcat_array(dynamic(["a", 1, null, true]), "-"), s0 = strcat_array(dynamic([]), "-"), sb = strcat_array(attributes, "-")',
      [
        {
          i: 8,
          i2: -1,
          i3: 2,
          i4: -1,
          i5: 2,
          i6: 2,
          i7: -1,
          i8: null,
          n: 4,
          c: 3,
          c2: 2,
          cr: 1,
          c0: 0,
          sa: "a-1--true",
          s0: "",
          sb: null,
        },
      ],
    ],
    [
      'Events | extend kind = case(dst_port == 3389, "rdp", class_uid == 3002, "sign-in", "other"), weight = case(severity_id > 3, 1.5, 1) | summarize n = count(), w = sum(weight) by kind | order by kind asc',
      [
        { kind: "other", n: 2, w: 2.5 },
        { kind: "rdp", n: 1, w: 1 },
        { kind: "sign-in", n: 5, w: 5 },
      ],
    ],
    [
      // has_any / has_all: whole terms, ignoring case, any or all of them.
      'let terms = dynamic(["PASSWORD", "allowed"]);\nEvents | summarize any = countif(message has_any (terms)), all = countif(message has_all ("sign", "bad")), none = countif(message has_all ("sign", "pass"))',
      [{ any: 3, all: 2, none: 0 }],
    ],
    [
      // startofday's offset is a constant where make-series needs one.
      "Authentication | make-series n = count() on time from startofday(now(), -1) to startofday(now()) step 1d",
      [{ n: [5], time: ["2026-11-20T00:00:00.000Z"] }],
    ],
    // Datetimes: a1 happened on Friday 2026-11-20 at 09:00 UTC.
    [
      'Events | where source_event_id == "a1" | project sy = startofyear(time), ew = endofweek(time), em = endofmonth(time), em1 = endofmonth(time, 1), feb = endofmonth(datetime(2024-01-31), 1), ey = endofyear(time), last = endofyear(datetime(9999-06-01)), past = endofyear(time, 8000), doy = dayofyear(time), woy = weekofyear(time), w = week_of_year(datetime(2027-01-01)), moy = monthofyear(time)',
      [
        {
          sy: "2026-01-01T00:00:00.000Z",
          ew: "2026-11-21T23:59:59.999Z",
          em: "2026-11-30T23:59:59.999Z",
          em1: "2026-12-31T23:59:59.999Z",
          feb: "2024-02-29T23:59:59.999Z",
          ey: "2026-12-31T23:59:59.999Z",
          last: "9999-12-31T23:59:59.999Z",
          past: null,
          doy: 324,
          woy: 47,
          w: 53,
          moy: 11,
        },
      ],
    ],
    [
      'Events | where source_event_id == "a1" | project h = hourofday(time), dow = dayofweek(time), dom = dayofmonth(time), m = getmonth(time), y = getyear(time), w = startofweek(time), w1 = startofweek(time, -1), sm = startofmonth(time), sm1 = startofmonth(time, 2), eod = endofday(time), sod = startofday(time, -1), friday = dayofweek(time) == 5d',
      [
        {
          h: 9,
          dow: "P5D",
          dom: 20,
          m: 11,
          y: 2026,
          w: "2026-11-15T00:00:00.000Z",
          w1: "2026-11-08T00:00:00.000Z",
          sm: "2026-11-01T00:00:00.000Z",
          sm1: "2027-01-01T00:00:00.000Z",
          eod: "2026-11-20T23:59:59.999Z",
          sod: "2026-11-19T00:00:00.000Z",
          friday: true,
        },
      ],
    ],
    [
      'Events | where source_event_id == "a1" | project f = format_datetime(datetime(2009-06-15T13:45:30.617), "yyyy-MM-dd HH:mm:ss.fff"), f2 = format_datetime(datetime(2009-06-01T08:05:03), "d/M/yy h:m:s tt"), f3 = format_datetime(time, "[yyyyMMdd_HH] y fffffff")',
      [{ f: "2009-06-15 13:45:30.617", f2: "1/6/09 8:5:3 AM", f3: "[20261120_09] 26 0000000" }],
    ],
    [
      // Kusto's documented datetime_diff examples, and datetime_add at the calendar's edges and beyond its range.
      'Events | where source_event_id == "a1" | project year = datetime_diff("year", datetime(2017-01-01), datetime(2000-12-31)), quarter = datetime_diff("Quarter", datetime(2017-07-01), datetime(2017-03-30)), month = datetime_diff("month", datetime(2017-01-01), datetime(2015-12-30)), week = datetime_diff("week", datetime(2017-10-29 00:00), datetime(2017-09-30 23:59)), day = datetime_diff("day", datetime(2017-10-29 00:00), datetime(2017-09-30 23:59)), hour = datetime_diff("hour", datetime(2017-10-31 01:00), datetime(2017-10-30 23:59)), minute = datetime_diff("minute", datetime(2017-10-30 23:05:01), datetime(2017-10-30 23:00:59)), second = datetime_diff("second", datetime(2017-10-30 23:00:10.100), datetime(2017-10-30 23:00:00.900)), ms = datetime_diff("millisecond", datetime(2017-10-30 23:00:00.200100), datetime(2017-10-30 23:00:00.100900)), back = datetime_diff("day", datetime(2017-10-30 23:00), datetime(2017-10-31 01:00))',
      [
        {
          year: 17,
          quarter: 2,
          month: 13,
          week: 5,
          day: 29,
          hour: 2,
          minute: 5,
          second: 10,
          ms: 100,
          back: -1,
        },
      ],
    ],
    [
      'Events | where source_event_id == "a1" | project a = datetime_add("month", 1, datetime(2017-01-31)), b = datetime_add("day", -1, time), c = datetime_add("week", 2, time), d = datetime_add("millisecond", 1500, time), e = datetime_add("year", 100000, time), f = datetime_add("microsecond", 4503599627370495 * 2048 + 2047, time), g = datetime_add("month", -4503599627370496 * 2048, time), ns = datetime_add("nanosecond", 1500, time), h = datetime_add("year", 7973, time), i = datetime_add("second", -63000000000, time), j = datetime_add("second", -64000000000, time)',
      [
        {
          a: "2017-02-28T00:00:00.000Z",
          b: "2026-11-19T09:00:00.000Z",
          c: "2026-12-04T09:00:00.000Z",
          d: "2026-11-20T09:00:01.500Z",
          e: null,
          f: null,
          g: null,
          ns: "2026-11-20T09:00:00.000Z",
          h: "9999-11-20T09:00:00.000Z",
          i: "0030-06-30T17:00:00.000Z",
          j: null,
        },
      ],
    ],
    // Dynamic values.
    [
      'Events | where source_event_id == "a1" | project j = parse_json(\'{"b": [1, 2], "a": "x"}\'), s = parse_json("not json"), n = todynamic("42"), z = parse_json(\'"\\\\u0000"\'), k = bag_keys(parse_json(\'{"b": 1, "a": 2}\')), nk = bag_keys(dynamic([1])), i = array_index_of(dynamic([1, 2, 3]), 2), i2 = array_index_of(dynamic(["x"]), "y"), pa = pack_array(1, "a", true, time), bp = bag_pack("k", 1, "t", time, "s", status), p = pack("x", dynamic([1]))',
      [
        {
          j: { a: "x", b: [1, 2] },
          s: "not json",
          n: 42,
          z: '"\\u0000"',
          k: ["a", "b"],
          nk: null,
          i: 1,
          i2: -1,
          pa: [1, "a", true, "2026-11-20T09:00:00.000Z"],
          bp: { k: 1, t: "2026-11-20T09:00:00.000Z", s: "Failure" },
          p: { x: [1] },
        },
      ],
    ],
    // Numbers: what a float8 cannot hold, or Kusto makes NaN or infinity of, is null; nothing fails.
    [
      'Events | where source_event_id == "a1" | project a = abs(-5), a2 = abs(-2.5), a3 = abs(-4503599627370496 * 2048), s = sqrt(16), s2 = sqrt(-1), l = log(0), l2 = log(-1), l10 = log10(1000), l2b = round(log2(8), 9), e = exp(0), e2 = exp(1000), e3 = exp(-1000), p = pow(2, 10), p2 = pow(10, 400), p3 = pow(0, -1), p4 = pow(-8, 0.5), p5 = pow(10, -400), p6 = pow(-2, 3), p7 = pow(0, 0), z = 1 / 0, zr = log(1.0 / 0), zm = 7 % 0',
      [
        {
          a: 5,
          a2: 2.5,
          a3: null,
          s: 4,
          s2: null,
          l: null,
          l2: null,
          l10: 3,
          l2b: 3,
          e: 1,
          e2: null,
          e3: 0,
          p: 1024,
          p2: null,
          p3: null,
          p4: null,
          p5: 0,
          p6: -8,
          p7: 1,
          z: null,
          zr: null,
          zm: null,
        },
      ],
    ],
    // IPv4.
    [
      'Events | where isnotempty(src_ip) | summarize by src_ip | extend private = ipv4_is_private(src_ip), doc = ipv4_is_in_range(src_ip, "203.0.113.0/24"), near = ipv4_is_match(src_ip, "203.0.113.200", 24) | order by src_ip asc',
      [
        { src_ip: "10.0.0.5", private: true, doc: false, near: false },
        { src_ip: "198.51.100.4", private: false, doc: false, near: false },
        { src_ip: "203.0.113.7", private: false, doc: true, near: true },
        { src_ip: "203.0.113.8", private: false, doc: true, near: true },
      ],
    ],
    [
      'Events | where source_event_id == "a1" | project p = ipv4_is_private("172.16.0.1"), p2 = ipv4_is_private("172.32.0.1"), p3 = ipv4_is_private("192.168.1.1/24"), bad = ipv4_is_private("256.1.1.1"), v6 = ipv4_is_private("2001:db8::1"), m = ipv4_is_match("192.168.1.1/24", "192.168.1.255"), all = ipv4_is_in_range("8.8.8.8", "0.0.0.0/0"), wide = ipv4_is_in_range("10.1.2.3", "10.0.0.0/33")',
      [{ p: true, p2: false, p3: true, bad: null, v6: null, m: true, all: true, wide: null }],
    ],
    // Aggregations over the five sign-ins: src_port 50001…50005, statuses F F F S F, a4 the success.
    [
      'Authentication | summarize dcountif(src_ip, status == "Failure"), sumif(src_port, status == "Failure"), avgif(src_port, status == "Success"), minif(time, status == "Failure"), maxif(src_port, status == "Failure"), take_any(status), stdev(src_port), variance(src_port), sp = round(stdevp(src_port), 9), variancep(src_port), percentile(src_port, 50), percentiles(src_port, 25, 99.9), none = sumif(src_port, false)',
      [
        {
          dcountif_src_ip: 2,
          sumif_src_port: 200011,
          avgif_src_port: 50004,
          minif_time: "2026-11-20T09:00:00.000Z",
          maxif_src_port: 50005,
          status: "Failure",
          stdev_src_port: Math.sqrt(2.5),
          variance_src_port: 2.5,
          sp: 1.414213562,
          variancep_src_port: 2,
          percentile_src_port_50: 50003,
          percentile_src_port_25: 50002,
          percentile_src_port_99_9: 50005,
          none: null,
        },
      ],
    ],
    [
      'Authentication | summarize spread = percentile(src_port, 75) - percentile(src_port, 25), share = round(100.0 * sumif(src_port, status == "Success") / sum(src_port), 1), late = percentile(time, 50), one = round(stdev(src_port), 6) by status | order by status asc',
      [
        { status: "Failure", spread: 2, share: null, late: "2026-11-20T09:05:00.000Z", one: 1.707825 },
        { status: "Success", spread: 0, share: 100, late: "2026-11-20T09:20:00.000Z", one: null },
      ],
    ],
    [
      // make_bag: the union of the group's bags (not-bags skipped), at most `max` keys.
      'Events | extend b = iff(source_event_id in ("a6", "a8"), bag_pack(source_event_id, device), dynamic([1])) | summarize make_bag(b), all = array_length(bag_keys(make_bag(bag_pack(source_event_id, 1)))), two = array_length(bag_keys(make_bag(bag_pack(source_event_id, 1), 2))), none = make_bag(dynamic(null))',
      [{ bag_b: { a6: "vm-web-01", a8: null }, all: 8, two: 2, none: {} }],
    ],
    [
      // Functions that compute their arguments once (a subquery) as group keys, and over aggregations.
      'Authentication | summarize n = count(), mins = datetime_diff("minute", max(time), min(time)), top = pow(max(src_port) - 50000, 2) by week = startofweek(time, 1), host = tostring(split(actor_user, "@", 1)[0]) | order by host asc',
      [
        { week: "2026-11-22T00:00:00.000Z", host: "Contoso.com", n: 1, mins: 0, top: 25 },
        { week: "2026-11-22T00:00:00.000Z", host: "contoso.com", n: 4, mins: 20, top: 16 },
      ],
    ],
    [
      // Beside arg_max (its own summarize), and in mv-apply's subquery.
      "Authentication | summarize arg_max(time, status), p = percentile(src_port, 50), percentiles(src_port, 50, 90), d = dcountif(src_ip, status == 'Failure') by actor_user | order by actor_user asc",
      [
        {
          actor_user: "Bob@Contoso.com",
          time: "2026-11-20T09:30:00.000Z",
          status: "Failure",
          p: 50005,
          percentile_src_port_50: 50005,
          percentile_src_port_90: 50005,
          d: 1,
        },
        {
          actor_user: "alice@contoso.com",
          time: "2026-11-20T09:20:00.000Z",
          status: "Success",
          p: 50002,
          percentile_src_port_50: 50002,
          percentile_src_port_90: 50004,
          d: 1,
        },
      ],
    ],
    [
      "Authentication | summarize ports = make_list(src_port) by actor_user | mv-apply x = ports to typeof(long) on (summarize sd = round(stdev(x), 3), med = percentile(x, 50), odd = countif(x % 2 == 1)) | project actor_user, sd, med, odd | order by actor_user asc",
      [
        { actor_user: "Bob@Contoso.com", sd: null, med: 50005, odd: 1 },
        { actor_user: "alice@contoso.com", sd: 1.291, med: 50002, odd: 2 },
      ],
    ],
    [
      // make-series takes the single-valued ones: two bins of 20 minutes.
      'Authentication | make-series f = countif(status == "Failure"), p = percentile(src_port, 50) default = 0, s = sumif(src_port, status == "Failure"), a = take_any(actor_user), sd = stdev(src_port) on time from datetime(2026-11-20 09:00) to datetime(2026-11-20 09:40) step 20m',
      [
        {
          f: [3, 1],
          p: [50002, 50004],
          s: [150006, 50005],
          a: ["alice@contoso.com", "Bob@Contoso.com"],
          sd: [1, Math.sqrt(0.5)],
          time: ["2026-11-20T09:00:00.000Z", "2026-11-20T09:20:00.000Z"],
        },
      ],
    ],
  ])("%s", async (query, expected) => {
    expect(await rows(query)).toEqual(expected);
  });

  it("computes the new functions over every event without a runtime error, whatever the values", async () => {
    // Arguments from the rows (nulls, large ports, hostile text) where the compiler cannot check them.
    const query =
      'Events | extend a = pow(todouble(src_port), todouble(dst_port)), b = exp(todouble(dst_port)), c = log(todouble(dst_port) - 3389), d = datetime_add("year", dst_port * 1000, time), e = split(message, message, src_port * -1), f = indexof(message, device, -src_port, src_port - 100000), g = parse_json(message), h = datetime_diff("nanosecond", time, datetime(1970-01-01)), i = ipv4_is_in_range(src_ip, message), j = bag_pack(device, message), k = replace_regex(message, @"[\'""]", ""), l = countof(message, message), m = abs(src_port - 60000) | summarize n = count(), private = countif(ipv4_is_in_range(src_ip, "10.0.0.0/8")), overflow = countif(isnull(a) and isnotnull(dst_port)), zero = countif(c == 0) ';
    expect(await rows(query)).toEqual([{ n: 8, private: 1, overflow: 1, zero: 0 }]);
  });

  it("refuses the bad regular expression of a function before the hunt runs, at its position", async () => {
    expect(await failure("Events | where false | extend x = extract('a{2,1}', 0, message)")).toMatch(
      /line 1, column 43: invalid regular expression/,
    );
    expect(
      await failure("Events | where false | extend x = replace_regex(message, '[[:nope:]]', 'x')"),
    ).toMatch(/line 1, column 58: invalid regular expression/);
  });

  it("keeps tenants apart through outer joins, union kind=inner, toscalar, materialize, parse kind=regex and functions", async () => {
    // B has one alice failure (b1) and a process event (b2); A has eight events. Each construct, as B, sees B's.
    const constructs = [
      "Events | join kind=fullouter (Events) on id | summarize ids = make_set(source_event_id), ids1 = make_set(source_event_id1)",
      "Events | join kind=rightouter (union Events, Authentication) on id | summarize ids = make_set(source_event_id1)",
      "union kind=inner Events, Authentication, ProcessActivity | summarize ids = make_set(source_event_id)",
      "Events | extend n = toscalar(Events | count), last = toscalar(Events | top 1 by time desc | project source_event_id) | summarize ids = make_set(source_event_id), n = max(n), last = max(last)",
      "let all = materialize(Events);\nall | join kind=inner all on id | summarize ids = make_set(source_event_id)",
      "Events | parse kind=regex flags=U tostring(attributes) with @'\"uid\": ?\"' uid '\"' | summarize ids = make_set(uid)",
      "let mine = (c: long) { Events | where class_uid != c };\nlet n = (c: long) { toscalar(mine(c) | count) };\nmine(0) | summarize ids = make_set(source_event_id), n = max(n(0))",
      "let pick = (T: (*), c: long = 0) { let other = T | where class_uid != c; other };\npick(Events) | union pick((Authentication | union Events), 1) | summarize ids = make_set(source_event_id)",
      "let pickBy = (T: (class_uid: long, *), c: long = 0) { T | where class_uid != c };\npickBy(c = 1, T = Events) | union pickBy(T = Authentication), pickBy(ProcessActivity, c = 3002) | summarize ids = make_set(source_event_id)",
      "union isfuzzy=true Nope, Authentication, (Gone | take 1), Events | summarize ids = make_set(source_event_id)",
    ];
    const results = async (identity: typeof A) => {
      const out: unknown[] = [];
      for (const query of constructs) out.push(await rows(query, identity));
      return out;
    };
    expect(await results(B)).toEqual([
      [{ ids: ["b1", "b2"], ids1: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"], n: 2, last: "b2" }],
      [{ ids: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"], n: 2 }],
      [{ ids: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"] }],
      [{ ids: ["b1", "b2"] }],
    ]);
    const ofA = (await results(A)).flat() as Array<{ ids: string[] }>;
    // One row per construct as A too: the check below runs over each of them.
    expect(ofA).toHaveLength(constructs.length);
    for (const result of ofA) expect(result.ids).toEqual(["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]);
  });

  it("fits a line as Kusto's documentation of series_fit_line does", async () => {
    // Kusto's example: RSquare 0.982, Slope 2.730, Variance 98.628, RVariance 1.686, Interception -1.666 and a
    // line_fit from 1.064 (x = 1…12; variance and rvariance over n − 1).
    const [row] = await rows(`Events | where source_event_id == "a1"
      | extend (RSquare, Slope, Variance, RVariance, Interception, LineFit) = series_fit_line(dynamic([2, 5, 6, 8, 11, 15, 17, 18, 25, 26, 30, 30]))
      | project RSquare, Slope, Variance, RVariance, Interception, first = toreal(LineFit[0]), last = toreal(LineFit[11])`);
    const expected = {
      RSquare: 0.9829,
      Slope: 2.7308,
      Variance: 98.6288,
      RVariance: 1.6865,
      Interception: -1.6667,
    };
    for (const [name, value] of Object.entries(expected))
      expect([name, row[name]]).toEqual([name, expect.closeTo(value, 3)]);
    expect(row.first).toBeCloseTo(-1.6667 + 2.7308, 3);
    expect(row.last).toBeCloseTo(-1.6667 + 12 * 2.7308, 2);
  });

  it("ranks a long series' lags from its power spectrum as the direct sums do, and scores the periods directly", async () => {
    // 1, 0, 0, 1 repeated over 4,000 bins: its least-squares line is flat at 0.5, every element ±0.5 from it, so each
    // lag k a multiple of 4 scores (4,000 − k) / 4,000 and the lags between score 0 or less. From 5 up: 8, 12, then
    // 20 (16 is a multiple of 8). Searching lags 5…2,000 takes the transform's path (kql_series_lag_sums).
    const series = Array.from({ length: 4000 }, (_, i) => (i % 4 === 0 || i % 4 === 3 ? 1 : 0));
    const [found] = await ds.query(`SELECT kql_series_periods_detect($1::jsonb, 5, 2000, 3) AS r`, [
      JSON.stringify(series),
    ]);
    expect(found.r).toEqual({ periods: [8, 12, 20], scores: [3992 / 4000, 3988 / 4000, 3980 / 4000] });
    // Over a series with no such structure (a fixed pseudo-random walk), every lag's sum from the transform is the
    // direct sum to within 1e-9 of the series' spread.
    let x = 12345;
    const walk = Array.from({ length: 3000 }, () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const [compared] = await ds.query(
      `SELECT max(abs(f - e)) / (SELECT sum(v ^ 2) FROM unnest(d) AS v) AS worst, count(*)::int AS lags
         FROM kql_series_deviations($1::float8[]) AS d,
              unnest(kql_series_lag_sums(d, 1, 1500, false), kql_series_lag_sums(d, 1, 1500, true)) AS t(f, e)
        GROUP BY d`,
      [walk],
    );
    expect(compared.lags).toBe(1500);
    expect(compared.worst).toBeLessThan(1e-9);
  });

  it("runs every example query of docs/hunting.md", async () => {
    const docs = readFileSync("docs/hunting.md", "utf8");
    const queries = [...docs.matchAll(/```kql\n([\s\S]*?)```/g)]
      .flatMap((m) => m[1].split(/^\/\/.*$/m))
      .filter((q) => q.trim());
    // As many as "compiles every example of docs/hunting.md" finds: a changed fence runs none of them.
    expect(queries).toHaveLength(26);
    for (const query of queries) {
      const outcome = await hunt(query).then(
        (result) => `${result.columns.length > 0}`,
        (err: Error) => `${err.message} in: ${query}`,
      );
      expect(outcome).toBe("true");
    }
  });

  it("refuses a bad regular expression before the hunt runs, at its own position, even when no row reaches it", async () => {
    expect(
      await failure(
        "Events\n| where message matches regex 'ok'\n| where false\n| parse kind=regex message with 'a**' x",
      ),
    ).toMatch(/line 4, column 33: invalid regular expression \(quantifier operand invalid\)/);
    expect(await failure("Events | where false and message matches regex '(unclosed'")).toMatch(
      /line 1, column 48: invalid regular expression \(parentheses \(\) not balanced\)/,
    );
  });

  it("says which tables `union isfuzzy=true` left out", async () => {
    const outcome = await hunt("ProcessActivity | union isfuzzy=true SigninLogs, NetworkActivity | count");
    expect([outcome.rows, outcome.warnings]).toEqual([
      [{ Count: 2 }],
      ["line 1, column 38: `union isfuzzy=true` left out the unknown table `SigninLogs`"],
    ]);
    expect((await hunt("Events | count")).warnings).toEqual([]);
  });

  it("keeps tenants apart in `let`, `join` and `union`", async () => {
    // B's alice failed once; A's four alice events are not B's.
    expect(await rows("Events | join kind=inner (Events) on actor_user | count", B)).toEqual([{ Count: 1 }]);
    expect(await rows("union Events, Authentication, ProcessActivity | count", B)).toEqual([{ Count: 4 }]);
    expect(
      await rows(
        "let all = Events;\nall | join kind=leftouter (union all, Events) on id | summarize n = count(), ids = make_set(source_event_id1)",
        B,
      ),
    ).toEqual([{ n: 4, ids: ["b1", "b2"] }]);
    expect(
      await rows("Authentication | summarize arg_max(time, *) by actor_user | project source_event_id", B),
    ).toEqual([{ source_event_id: "b1" }]);
  });

  it("returns every Events column, typed, by default", async () => {
    const result: HuntOutcome = await hunt('Events | where source_event_id == "a6"');
    expect(result.columns).toEqual([
      { name: "id", type: "string" },
      { name: "time", type: "datetime" },
      { name: "class_uid", type: "long" },
      { name: "activity_id", type: "long" },
      { name: "severity_id", type: "long" },
      { name: "status", type: "string" },
      { name: "message", type: "string" },
      { name: "actor_user", type: "string" },
      { name: "src_ip", type: "string" },
      { name: "src_port", type: "long" },
      { name: "dst_ip", type: "string" },
      { name: "dst_port", type: "long" },
      { name: "device", type: "string" },
      { name: "resource_id", type: "string" },
      { name: "operation", type: "string" },
      { name: "src_country", type: "string" },
      { name: "connector", type: "string" },
      { name: "source_event_id", type: "string" },
      { name: "attributes", type: "dynamic" },
    ]);
    expect(result.rows[0]).toMatchObject({
      time: "2026-11-20T09:40:00.000Z",
      class_uid: 4001,
      src_ip: "10.0.0.5",
      dst_port: 3389,
      connector: "OCSF",
      attributes: expect.objectContaining({ metadata: { uid: "a6" } }),
    });
  });

  it("keeps tenants apart: events, watchlists and lookups are the caller's own", async () => {
    expect(await rows("Events | count", B)).toEqual([{ Count: 2 }]);
    expect(
      await rows('Events | where actor_user == "alice@contoso.com" | project source_event_id', B),
    ).toEqual([{ source_event_id: "b1" }]);
    expect(await rows("Events | where src_ip in (_GetWatchlist('b-only')) | count", B)).toEqual([
      { Count: 1 },
    ]);
    expect(await failure("Events | where src_ip in (_GetWatchlist('bad-ips')) | count", B)).toContain(
      "unknown watchlist `bad-ips`",
    );
    expect(await failure("Events | where src_ip in (_GetWatchlist('b-only'))", A)).toContain(
      "unknown watchlist `b-only`",
    );
  });

  it("reads only the time range, bounded to the retention", async () => {
    const window = { from: new Date(at("09:15")), to: new Date(at("09:45")) };
    expect((await hunt("Events | project source_event_id", A, window)).rows).toEqual([
      { source_event_id: "a4" },
      { source_event_id: "a5" },
      { source_event_id: "a6" },
    ]);
    const old = await hunt("Events | count", A, { from: new Date("2020-01-01T00:00:00Z"), to: NOW });
    expect(old.from).toEqual(new Date(NOW.getTime() - 90 * 86_400_000));
    expect(old.rows).toEqual([{ Count: 8 }]);
    const outside = await hunt("Events | count", A, {
      from: new Date("2020-01-01T00:00:00Z"),
      to: new Date("2020-02-01T00:00:00Z"),
    }).catch((e: Error) => e.message);
    expect(outside).toContain("within the retention of 90 days");
    // The default range is the 24 hours before now: all of the 20th.
    const byDefault = await runHunt(
      new RequestDb(ds, A.tenantId),
      A,
      "Events | count",
      {},
      { retentionDays: 90, now: () => NOW },
    );
    expect([byDefault.from, byDefault.to, byDefault.rows]).toEqual([
      new Date("2026-11-20T00:00:00Z"),
      NOW,
      [{ Count: 8 }],
    ]);
  });

  it("bins `make-series` without `from` and `to` over exactly the hunt's time range", async () => {
    const window = { from: new Date(at("09:15")), to: new Date(at("09:45")) };
    const result = await hunt("Events | make-series n = count() on time step 10m", A, window);
    expect(result.rows).toEqual([
      { n: [1, 1, 1], time: [at("09:15"), at("09:25"), at("09:35")].map((t) => new Date(t).toISOString()) },
    ]);
    // Only `to` left out: it is the hunt's.
    const tail = await hunt(
      "Events | make-series n = count() on time from datetime(2026-11-20 09:25) step 10m",
      A,
      window,
    );
    expect(tail.rows).toEqual([
      { n: [1, 1], time: [at("09:25"), at("09:35")].map((t) => new Date(t).toISOString()) },
    ]);
  });

  it("bounds the range to the tenant's own retention when it keeps events for less", async () => {
    await inTenant(ds, B.tenantId, (m) =>
      m.query(
        `INSERT INTO tenant_settings (tenant_id, event_retention_days, updated_by) VALUES ($1, 3, 'test')`,
        [B.tenantId],
      ),
    );
    const b = await hunt("Events | count", B, { from: new Date("2020-01-01T00:00:00Z"), to: NOW });
    expect([b.from, b.rows]).toEqual([new Date(NOW.getTime() - 3 * 86_400_000), [{ Count: 2 }]]);
    const a = await hunt("Events | count", A, { from: new Date("2020-01-01T00:00:00Z"), to: NOW });
    expect(a.from).toEqual(new Date(NOW.getTime() - 90 * 86_400_000));
  });

  it("returns at most maxRows rows and says the result was cut", async () => {
    const cut = await hunt("Events | project source_event_id", A, WINDOW, 5);
    expect([cut.rows.length, cut.truncated]).toEqual([5, true]);
    const whole = await hunt("Events | project source_event_id", A, WINDOW, 8);
    expect([whole.rows.length, whole.truncated]).toEqual([8, false]);
  });

  it("reports the database's refusals as the query's faults, with the pattern's position", async () => {
    expect(await failure("Events\n| where message matches regex '(unclosed'")).toMatch(
      /line 2, column 31: invalid regular expression/,
    );
    expect(await failure("Events | where todatetime('2026-02-30T00:00:00Z') > now() | count")).toContain(
      "the query failed on the data",
    );
  });

  it("leaves the event store as it was after hostile queries", async () => {
    for (const query of [
      "Events | where message == 'x'; DROP TABLE events; --'",
      'Events | where message == "x\\"; DROP TABLE events; --"',
      "Events | where message == 'x' /* */ or 1 == 1",
    ])
      await hunt(query).catch(() => undefined);
    expect(await rows("Events | count")).toEqual([{ Count: 8 }]);
  });
});
