/**
 * Encodes the columns of the evaluator's bulk writes as Postgres array literals, built once per statement.
 *
 * A full evaluation writes tens of thousands of assessments per statement. Handed to `pg` as arrays of strings,
 * every element goes through its generic serialiser (two regular-expression replaces and a quoted copy), and
 * Postgres parses every uuid and text again: most columns repeat a handful of values (a definition id, its
 * control, a status, the resource's id for each of its definitions). So the writers send each such column as a
 * small dictionary plus one integer index per row (`($2::uuid[])[r]` in SQL), and the per-row text that does vary
 * (causes) as one literal encoded here. Subscripting a uuid or int array is constant time in Postgres; a text
 * dictionary is walked, which stays cheap because those hold at most a few hundred values (definitions, controls).
 */

/** The distinct values of one column in order of first use; `of` gives a value's 1-based index (SQL arrays are 1-based). */
export class Dictionary {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();

  /** The 1-based index of `value`, added when new. */
  of(value: string): number {
    let i = this.index.get(value);
    if (i === undefined) {
      i = this.values.push(value);
      this.index.set(value, i);
    }
    return i;
  }

  /** As `of`, with `null` kept as a SQL NULL index (which subscripts to NULL). */
  ofNullable(value: string | null): number | null {
    return value === null ? null : this.of(value);
  }
}

/** A Postgres array literal of integers (`{1,2,NULL}`), for a `$n::int[]` parameter. */
export function intArrayLiteral(values: readonly (number | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    const v = values[i];
    out += v === null ? "NULL" : String(v);
  }
  return `${out}}`;
}

const NEEDS_ESCAPE = /["\\]/;

/**
 * A Postgres array literal of strings (`{"a","b\"c",NULL}`), for a `$n::text[]` (or `uuid[]`) parameter. Every
 * element is quoted, so commas, braces, spaces and the word NULL stay text; only `"` and `\` need escaping, and
 * most values have neither.
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let out = "{";
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ",";
    const v = values[i];
    if (v === null) out += "NULL";
    else if (NEEDS_ESCAPE.test(v)) out += `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
    else out += `"${v}"`;
  }
  return `${out}}`;
}
