import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Hunting's period search (`series_periods_detect`, and the seasonality `series_decompose` and
 * `series_decompose_anomalies` detect with -1) in O(n log n): migration 1767280000000 scored every lag it searched
 * with its own pass over the series, O(n²) for the lags up to half of it (about 6 s for one series of 10,000 bins).
 * Here a search over many lags takes every lag's sum at once from the series' power spectrum (a radix-2 FFT written
 * in PL/pgSQL, as the functions are: the siem role may create no other language), and one over a few lags keeps the
 * direct sums, which are then cheaper. The scores a query sees stay the direct sums' (the FFT only ranks the lags),
 * so results are those of migration 1767280000000. `series_periods_validate` sums directly the two lags around each
 * period it is given instead of every lag. Like the functions they replace they are IMMUTABLE and PARALLEL SAFE, read
 * no table and pin `search_path`; `down` restores migration 1767280000000's.
 */
export class KqlSeriesFftPeriods1767310000000 implements MigrationInterface {
  name = "SiemKqlSeriesFftPeriods1767310000000";

  async up(q: QueryRunner): Promise<void> {
    // The discrete Fourier transform X[k] = Σ x[j]·e^(−2πi·jk/N) of a real sequence x whose length N is a power of 2
    // (at least 2), for k = 0…kmax (at most N / 2). The even and odd elements are packed as one complex sequence of
    // N / 2, transformed in place (bit-reversed order, then log₂ N − 1 rounds of butterflies) and separated again,
    // which halves the work of a complex transform of N. The twiddle factors are computed, not recurred, so the
    // error stays near the rounding of one product per round.
    await q.query(`CREATE FUNCTION kql_series_real_dft(x float8[], kmax int, OUT re float8[], OUT im float8[])
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := cardinality(x); m int := n / 2; zr float8[] := array_fill(0::float8, ARRAY[m]);
        zi float8[] := array_fill(0::float8, ARRAY[m]); cs float8[] := array_fill(0::float8, ARRAY[greatest(m / 2, 1)]);
        sn float8[] := array_fill(0::float8, ARRAY[greatest(m / 2, 1)]); j int := 0; bit int; t float8; len int := 2;
        half int; step int; wr float8; wi float8; b int; mirror int; tr float8; ti float8; er float8; ei float8;
        orr float8; oi float8; c float8; s float8;
      BEGIN
        FOR i IN 1..m LOOP
          zr[i] := x[2 * i - 1];
          zi[i] := x[2 * i];
        END LOOP;
        FOR i IN 0..m / 2 - 1 LOOP
          cs[i + 1] := cos(2 * pi() * i / m);
          sn[i + 1] := -sin(2 * pi() * i / m);
        END LOOP;
        FOR i IN 1..m - 1 LOOP
          bit := m >> 1;
          WHILE j & bit <> 0 LOOP
            j := j # bit;
            bit := bit >> 1;
          END LOOP;
          j := j # bit;
          IF i < j THEN
            t := zr[i + 1]; zr[i + 1] := zr[j + 1]; zr[j + 1] := t;
            t := zi[i + 1]; zi[i + 1] := zi[j + 1]; zi[j + 1] := t;
          END IF;
        END LOOP;
        WHILE len <= m LOOP
          half := len >> 1;
          step := m / len;
          FOR k IN 0..half - 1 LOOP
            wr := cs[k * step + 1];
            wi := sn[k * step + 1];
            FOR a IN k + 1..m BY len LOOP
              b := a + half;
              tr := wr * zr[b] - wi * zi[b];
              ti := wr * zi[b] + wi * zr[b];
              zr[b] := zr[a] - tr;
              zi[b] := zi[a] - ti;
              zr[a] := zr[a] + tr;
              zi[a] := zi[a] + ti;
            END LOOP;
          END LOOP;
          len := len << 1;
        END LOOP;
        -- Z = E + i·O, E and O the transforms of the even and odd elements; X[k] = E[k] + e^(−2πi·k/N)·O[k].
        re := array_fill(0::float8, ARRAY[kmax + 1]);
        im := array_fill(0::float8, ARRAY[kmax + 1]);
        FOR k IN 0..kmax LOOP
          b := CASE WHEN k = m THEN 1 ELSE k + 1 END;
          mirror := CASE WHEN k = 0 OR k = m THEN 1 ELSE m - k + 1 END;
          er := (zr[b] + zr[mirror]) / 2;
          ei := (zi[b] - zi[mirror]) / 2;
          orr := (zi[b] + zi[mirror]) / 2;
          oi := (zr[mirror] - zr[b]) / 2;
          c := cos(2 * pi() * k / n);
          s := -sin(2 * pi() * k / n);
          re[k + 1] := er + c * orr - s * oi;
          im[k + 1] := ei + c * oi + s * orr;
        END LOOP;
      END $$`);

    // Σ d[i]·d[i + k] over i = 1…n − k for every k = 0…hi (hi below n), element k + 1 of the result: the inverse
    // transform of the power spectrum |D|² of d padded with zeros to a power of 2 of at least n + hi + 1 (so no pair
    // wraps around). The spectrum is real and even, so its inverse is its forward transform over N.
    await q.query(`CREATE FUNCTION kql_series_autocovariance(d float8[], hi int) RETURNS float8[]
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := cardinality(d); size int := 2; f record; g record; power float8[]; out float8[];
      BEGIN
        WHILE size < n + hi + 1 LOOP size := size * 2; END LOOP;
        f := kql_series_real_dft(d || array_fill(0::float8, ARRAY[size - n]), size / 2);
        power := array_fill(0::float8, ARRAY[size]);
        FOR k IN 0..size / 2 LOOP
          power[k + 1] := f.re[k + 1] ^ 2 + f.im[k + 1] ^ 2;
          IF k > 0 AND k < size / 2 THEN power[size - k + 1] := power[k + 1]; END IF;
        END LOOP;
        g := kql_series_real_dft(power, hi);
        out := array_fill(0::float8, ARRAY[hi + 1]);
        FOR k IN 0..hi LOOP out[k + 1] := g.re[k + 1] / size; END LOOP;
        RETURN out;
      END $$`);

    // What migration 1767280000000 scores lags on: the series less its least-squares line over the values present
    // (x = 1…n), a missing element 0 (on the line).
    await q.query(`CREATE FUNCTION kql_series_deviations(v float8[]) RETURNS float8[]
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := coalesce(cardinality(v), 0); m int := 0; sx float8 := 0; sy float8 := 0; sxx float8 := 0;
        sxy float8 := 0; slope float8 := 0; intercept float8 := 0; d float8[] := array_fill(0::float8, ARRAY[n]);
      BEGIN
        FOR i IN 1..n LOOP
          CONTINUE WHEN v[i] IS NULL;
          m := m + 1;
          sx := sx + i;
          sy := sy + v[i];
          sxx := sxx + i ^ 2;
          sxy := sxy + i * v[i];
        END LOOP;
        IF m > 1 AND m * sxx - sx * sx <> 0 THEN slope := (m * sxy - sx * sy) / (m * sxx - sx * sx); END IF;
        IF m > 0 THEN intercept := (sy - slope * sx) / m; END IF;
        FOR i IN 1..n LOOP
          IF v[i] IS NOT NULL THEN d[i] := v[i] - (intercept + slope * i); END IF;
        END LOOP;
        RETURN d;
      END $$`);

    // Σ d[i]·d[i + k] over i = 1…n − k for each lag k = lo…hi (lo ≤ hi; null for a lag outside 1…n − 1). Summed
    // directly (a pass per lag, in index order: what migration 1767280000000 computed) when exact is asked for or
    // when that costs less than the transforms, else from kql_series_autocovariance (equal to about 1e-15 of
    // Σ d², not to the last bit). A direct pair costs about a sixth of what a transform costs per element and round
    // (measured: 10,000 elements, lags 4…5,000, 6.3 s direct, 0.24 s by transform), hence the 6.
    await q.query(`CREATE FUNCTION kql_series_lag_sums(d float8[], lo int, hi int, exact boolean) RETURNS float8[]
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := coalesce(cardinality(d), 0); a int := greatest(lo, 1); z int := least(hi, n - 1);
        size int := 2; sums float8[]; num float8; out float8[] := array_fill(NULL::float8, ARRAY[hi - lo + 1]);
      BEGIN
        IF a > z THEN RETURN out; END IF;
        WHILE size < n + z + 1 LOOP size := size * 2; END LOOP;
        IF NOT exact AND (z - a + 1)::float8 * (n - (a + z) / 2.0) > 6 * size * log(2, size) THEN
          sums := kql_series_autocovariance(d, z);
          FOR k IN a..z LOOP out[k - lo + 1] := sums[k + 1]; END LOOP;
        ELSE
          FOR k IN a..z LOOP
            num := 0;
            FOR i IN 1..n - k LOOP num := num + d[i] * d[i + k]; END LOOP;
            out[k - lo + 1] := num;
          END LOOP;
        END IF;
        RETURN out;
      END $$`);

    // series_periods_detect as migration 1767280000000 defines it (a lag's score: its sum over Σ d² of the whole
    // series; the local maxima above 0 from max(4, ⌈min_p⌉) to min(⌊max_p⌋, ⌊n / 2⌋), best first, echoes left
    // out, padded with 0), the lags ranked on kql_series_lag_sums. Two scores within 1e-9 of each other count as
    // equal when finding the maxima, so a tie the transform's rounding splits (a plateau of two lags) stays a tie;
    // the scores returned are summed directly for the periods taken.
    await q.query(`CREATE OR REPLACE FUNCTION kql_series_periods(v float8[], min_p float8, max_p float8,
        num_periods int)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := coalesce(cardinality(v), 0); lo int := greatest(4, ceil(least(min_p, n + 1)))::int;
        hi int := least(floor(max_p), n / 2)::int; periods float8[] := '{}'; scores float8[] := '{}'; d float8[];
        total float8 := 0; r float8[]; c record; tie constant float8 := 1e-9;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        IF lo <= hi THEN
          d := kql_series_deviations(v);
          FOR i IN 1..n LOOP total := total + d[i] ^ 2; END LOOP;
        END IF;
        -- A series that does not vary scores 0 at every lag: no period.
        IF lo <= hi AND total > 0 THEN
          r := kql_series_lag_sums(d, lo - 1, hi + 1, false);
          FOR c IN SELECT per, x FROM (
              SELECT lo - 2 + i AS per, x / total AS x, lag(x / total) OVER (ORDER BY i) AS before,
                  lead(x / total) OVER (ORDER BY i) AS after
                FROM unnest(r) WITH ORDINALITY AS t(x, i)) AS s
            WHERE per BETWEEN lo AND hi AND x > tie AND x > before + tie
              AND x >= coalesce(after, '-infinity') - tie
            ORDER BY round(x::numeric, 9) DESC, per LOOP
            EXIT WHEN cardinality(periods) >= num_periods;
            CONTINUE WHEN EXISTS (SELECT FROM unnest(periods) AS p WHERE c.per % p::int = 0);
            periods := periods || c.per::float8;
            scores := scores || (kql_series_lag_sums(d, c.per::int, c.per::int, true))[1] / total;
          END LOOP;
        END IF;
        WHILE cardinality(periods) < num_periods LOOP
          periods := periods || 0::float8;
          scores := scores || 0::float8;
        END LOOP;
        RETURN jsonb_build_object('periods', to_jsonb(periods), 'scores', to_jsonb(scores));
      END $$`);

    // series_periods_validate as migration 1767280000000 defines it, summing only the lag (or two lags) around each
    // period: at most 32 passes instead of one per lag up to half the series.
    await q.query(`CREATE OR REPLACE FUNCTION kql_series_periods_validate(s jsonb, periods float8[]) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0); d float8[];
        total float8 := 0; r float8[]; scores float8[] := '{}'; lo int; w float8;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        d := kql_series_deviations(v);
        FOR i IN 1..n LOOP total := total + d[i] ^ 2; END LOOP;
        FOR i IN 1..coalesce(cardinality(periods), 0) LOOP
          IF periods[i] IS NULL OR periods[i] < 4 OR periods[i] > n / 2 THEN
            scores := scores || 0::float8;
            CONTINUE;
          END IF;
          lo := floor(periods[i])::int;
          w := periods[i] - lo;
          r := kql_series_lag_sums(d, lo, CASE WHEN w = 0 THEN lo ELSE lo + 1 END, true);
          r := ARRAY(SELECT CASE WHEN total > 0 THEN x / total ELSE 0::float8 END FROM unnest(r) AS x);
          scores := scores || greatest(0, least(1, CASE WHEN w = 0 THEN r[1] ELSE (1 - w) * r[1] + w * r[2] END));
        END LOOP;
        RETURN jsonb_build_object('periods', to_jsonb(periods), 'scores', to_jsonb(scores));
      END $$`);

    await q.query(`DROP FUNCTION kql_series_lag_scores(float8[], int, int)`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Migration 1767280000000's functions, as it created them.
    await q.query(`CREATE FUNCTION kql_series_lag_scores(v float8[], lo int, hi int) RETURNS float8[]
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := coalesce(cardinality(v), 0); m int := 0; sx float8 := 0; sy float8 := 0; sxx float8 := 0;
        sxy float8 := 0; slope float8 := 0; intercept float8 := 0; d float8[] := array_fill(0::float8, ARRAY[n]);
        total float8 := 0; num float8; out float8[] := '{}';
      BEGIN
        FOR i IN 1..n LOOP
          CONTINUE WHEN v[i] IS NULL;
          m := m + 1;
          sx := sx + i;
          sy := sy + v[i];
          sxx := sxx + i ^ 2;
          sxy := sxy + i * v[i];
        END LOOP;
        IF m > 1 AND m * sxx - sx * sx <> 0 THEN slope := (m * sxy - sx * sy) / (m * sxx - sx * sx); END IF;
        IF m > 0 THEN intercept := (sy - slope * sx) / m; END IF;
        FOR i IN 1..n LOOP
          IF v[i] IS NOT NULL THEN d[i] := v[i] - (intercept + slope * i); END IF;
          total := total + d[i] ^ 2;
        END LOOP;
        FOR k IN lo..hi LOOP
          IF k < 1 OR k > n - 1 THEN
            out := out || NULL::float8;
            CONTINUE;
          END IF;
          num := 0;
          FOR i IN 1..n - k LOOP num := num + d[i] * d[i + k]; END LOOP;
          out := out || CASE WHEN total > 0 THEN num / total ELSE 0::float8 END;
        END LOOP;
        RETURN out;
      END $$`);
    await q.query(`CREATE OR REPLACE FUNCTION kql_series_periods(v float8[], min_p float8, max_p float8,
        num_periods int)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE n int := coalesce(cardinality(v), 0); lo int := greatest(4, ceil(least(min_p, n + 1)))::int;
        hi int := least(floor(max_p), n / 2)::int; periods float8[] := '{}'; scores float8[] := '{}'; r float8[];
        c record;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        IF lo <= hi THEN
          r := kql_series_lag_scores(v, lo - 1, hi + 1);
          FOR c IN SELECT per, x FROM (
              SELECT lo - 2 + i AS per, x, lag(x) OVER (ORDER BY i) AS before, lead(x) OVER (ORDER BY i) AS after
                FROM unnest(r) WITH ORDINALITY AS t(x, i)) AS s
            WHERE per BETWEEN lo AND hi AND x > 0 AND x > before AND x >= coalesce(after, '-infinity')
            ORDER BY round(x::numeric, 9) DESC, per LOOP
            EXIT WHEN cardinality(periods) >= num_periods;
            CONTINUE WHEN EXISTS (SELECT FROM unnest(periods) AS p WHERE c.per % p::int = 0);
            periods := periods || c.per::float8;
            scores := scores || c.x;
          END LOOP;
        END IF;
        WHILE cardinality(periods) < num_periods LOOP
          periods := periods || 0::float8;
          scores := scores || 0::float8;
        END LOOP;
        RETURN jsonb_build_object('periods', to_jsonb(periods), 'scores', to_jsonb(scores));
      END $$`);
    await q.query(`CREATE OR REPLACE FUNCTION kql_series_periods_validate(s jsonb, periods float8[]) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0); r float8[];
        scores float8[] := '{}'; lo int; w float8;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        r := kql_series_lag_scores(v, 1, n / 2);
        FOR i IN 1..coalesce(cardinality(periods), 0) LOOP
          IF periods[i] IS NULL OR periods[i] < 4 OR periods[i] > n / 2 THEN
            scores := scores || 0::float8;
            CONTINUE;
          END IF;
          lo := floor(periods[i])::int;
          w := periods[i] - lo;
          scores := scores || greatest(0, least(1,
            CASE WHEN w = 0 THEN r[lo] ELSE (1 - w) * r[lo] + w * r[lo + 1] END));
        END LOOP;
        RETURN jsonb_build_object('periods', to_jsonb(periods), 'scores', to_jsonb(scores));
      END $$`);
    await q.query(`DROP FUNCTION kql_series_lag_sums(float8[], int, int, boolean)`);
    await q.query(`DROP FUNCTION kql_series_deviations(float8[])`);
    await q.query(`DROP FUNCTION kql_series_autocovariance(float8[], int)`);
    await q.query(`DROP FUNCTION kql_series_real_dft(float8[], int)`);
  }
}
