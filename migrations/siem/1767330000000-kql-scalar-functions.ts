import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The scalar functions of hunting's KQL that no expression of built-in SQL computes without being able to fail on
 * some text: `parse_json`/`todynamic` (a cast of bad JSON to jsonb raises an error, and Postgres 15 has no test
 * for valid jsonb that cannot), plain `countof` (overlapping matches), and the IPv4 functions (a cast of bad text
 * to inet raises one too, and Kusto's `a.b.c.d/n` parsing is simpler than inet's), and the aggregate of
 * `make_bag` (Postgres has no merge of jsonb objects as an aggregate). Each takes and returns plain values, reads no
 * table (a hunt's tenant scoping is untouched), is IMMUTABLE and pins `search_path` to the schema
 * it was created in; every input gives a value or null, never an error.
 */
export class KqlScalarFunctions1767330000000 implements MigrationInterface {
  name = "SiemKqlScalarFunctions1767330000000";

  async up(q: QueryRunner): Promise<void> {
    // Kusto's parse_json: JSON text as its value, any other text as a JSON string holding it. The cast's own error
    // (bad syntax, a \u0000 escape jsonb refuses, nesting past the stack) is the test, so it runs in a
    // subtransaction: PARALLEL UNSAFE, as a parallel worker cannot start one. Past 1 MB the text stays a string
    // rather than parsing (the cast of a large document costs the hunt's memory).
    await q.query(`CREATE FUNCTION kql_parse_json(t text) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL UNSAFE SET search_path FROM CURRENT AS $$
      BEGIN
        IF octet_length(t) > 1048576 THEN RETURN to_jsonb(t); END IF;
        RETURN t::jsonb;
      EXCEPTION WHEN others THEN
        RETURN to_jsonb(t);
      END $$`);
    // Kusto's countof(s, search) in "normal" mode: every position the text occurs at, overlapping ones too
    // (countof("aaaa", "aa") is 3). An empty search string occurs nowhere.
    await q.query(`CREATE FUNCTION kql_countof(s text, search text) RETURNS bigint
      LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n bigint := 0; at int := 1; found int;
      BEGIN
        IF search = '' THEN RETURN 0; END IF;
        LOOP
          found := strpos(substr(s, at), search);
          EXIT WHEN found = 0;
          n := n + 1;
          at := at + found;
        END LOOP;
        RETURN n;
      END $$`);
    // An IPv4 address in Kusto's notation, `a.b.c.d` or `a.b.c.d/n`: {the address as a number, masked by its
    // prefix; the prefix (32 without one)}, or null for anything else (octets above 255, a prefix above 32, IPv6).
    await q.query(`CREATE FUNCTION kql_ipv4(t text) RETURNS bigint[]
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $$
      SELECT CASE WHEN m IS NOT NULL AND m[1]::int <= 255 AND m[2]::int <= 255 AND m[3]::int <= 255
          AND m[4]::int <= 255 AND coalesce(m[5]::int, 32) <= 32 THEN
        ARRAY[((m[1]::bigint << 24) + (m[2]::bigint << 16) + (m[3]::bigint << 8) + m[4]::bigint)
          >> (32 - coalesce(m[5]::int, 32)) << (32 - coalesce(m[5]::int, 32)), coalesce(m[5]::bigint, 32)] END
      FROM regexp_match(btrim(t), '^([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})[.]([0-9]{1,3})(?:/([0-9]{1,2}))?$') AS m
    $$`);
    // Whether two addresses (or prefixes) agree on their first `prefix` bits, at most each one's own prefix.
    await q.query(`CREATE FUNCTION kql_ipv4_match(a text, b text, prefix bigint) RETURNS boolean
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      SELECT CASE WHEN x IS NOT NULL AND y IS NOT NULL AND prefix BETWEEN 0 AND 32 THEN
        (x[1] >> (32 - least(x[2], y[2], prefix))::int) = (y[1] >> (32 - least(x[2], y[2], prefix))::int) END
      FROM (SELECT kql_ipv4(a) AS x, kql_ipv4(b) AS y) AS parsed
    $$`);
    // Whether an address lies in a range (a.b.c.d/n): the address's first n bits are the range's.
    await q.query(`CREATE FUNCTION kql_ipv4_in_range(ip text, range text) RETURNS boolean
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $$
      SELECT CASE WHEN x IS NOT NULL AND r IS NOT NULL THEN
        (x[1] >> (32 - r[2])::int) = (r[1] >> (32 - r[2])::int) END
      FROM (SELECT kql_ipv4(ip) AS x, kql_ipv4(range) AS r) AS parsed
    $$`);
    // RFC 1918's private ranges, as Kusto's ipv4_is_private: 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16.
    await q.query(`CREATE FUNCTION kql_ipv4_is_private(ip text) RETURNS boolean
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $$
      SELECT CASE WHEN x IS NOT NULL THEN
        (x[1] >> 24) = 10 OR (x[1] >> 20) = 2753 OR (x[1] >> 16) = 49320 END
      FROM (SELECT kql_ipv4(ip) AS x) AS parsed
    $$`);
    // Kusto's make_bag(bag[, maxSize]): the union of the group's property bags (anything else is skipped; a key in
    // several keeps one of its values, Kusto's choice being arbitrary), of at most maxSize keys: once a bag has that
    // many, later keys are dropped.
    await q.query(`CREATE FUNCTION kql_bag_merge(state jsonb, bag jsonb, max_keys int) RETURNS jsonb
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      SELECT CASE
        WHEN jsonb_typeof(bag) IS DISTINCT FROM 'object' THEN state
        WHEN (SELECT count(*) FROM jsonb_object_keys(state)) >= max_keys THEN state
        WHEN (SELECT count(*) FROM jsonb_object_keys(state || bag)) <= max_keys THEN state || bag
        ELSE state || (SELECT coalesce(jsonb_object_agg(k.key, k.value), '{}'::jsonb) FROM (
          SELECT e.key, e.value FROM jsonb_each(bag) AS e WHERE NOT state ? e.key ORDER BY e.key
          LIMIT max_keys - (SELECT count(*) FROM jsonb_object_keys(state))) AS k)
      END
    $$`);
    await q.query(`CREATE AGGREGATE kql_make_bag(jsonb, int) (SFUNC = kql_bag_merge, STYPE = jsonb,
      INITCOND = '{}', PARALLEL = SAFE)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP AGGREGATE kql_make_bag(jsonb, int)`);
    await q.query(`DROP FUNCTION kql_bag_merge(jsonb, jsonb, int)`);
    await q.query(`DROP FUNCTION kql_ipv4_is_private(text)`);
    await q.query(`DROP FUNCTION kql_ipv4_in_range(text, text)`);
    await q.query(`DROP FUNCTION kql_ipv4_match(text, text, bigint)`);
    await q.query(`DROP FUNCTION kql_ipv4(text)`);
    await q.query(`DROP FUNCTION kql_countof(text, text)`);
    await q.query(`DROP FUNCTION kql_parse_json(text)`);
  }
}
