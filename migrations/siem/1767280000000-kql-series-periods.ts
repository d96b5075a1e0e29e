import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `series_periods_detect(s, min_period, max_period, num_periods)` and `series_periods_validate(s, period, …)` of
 * hunting's KQL as SQL functions of the siem schema, beside those of migrations 1767240000000 and 1767270000000
 * (whose `kql_series_numbers` reads a series here). Like them they take and return jsonb, are IMMUTABLE and PARALLEL
 * SAFE, read no table (a hunt's tenant scoping is untouched) and pin `search_path` to the schema they were created
 * in. Each returns one bag `{periods, scores}`; the compiler takes the columns a query asks for out of it. Non-arrays
 * give null. It also replaces migration 1767240000000's `series_decompose` and `series_decompose_anomalies` with
 * versions that take Kusto's `test_points`, `ad_method` and `seasonality_threshold` and detect a period when the
 * seasonality is -1 (Kusto's default), as `series_periods_detect` finds one, and `series_outliers` and
 * `series_fill_linear` with the optional arguments Kusto gives them; `down` restores the old ones.
 */
export class KqlSeriesPeriods1767280000000 implements MigrationInterface {
  name = "SiemKqlSeriesPeriods1767280000000";

  async up(q: QueryRunner): Promise<void> {
    // The score of each whole lag lo…hi (null for a lag outside 1…n − 1): the autocorrelation of the series once its
    // least-squares line over the values present (x = 1…n) is taken away, Σ d[i]·d[i + k] over i = 1…n − k divided
    // by Σ d[i]² over the whole series (the usual, "biased" estimate: a lag k of a perfectly periodic series scores
    // (n − k) / n, so a long period needs several cycles to score high). A missing element counts as lying on the
    // line (d = 0); a series that does not vary scores 0 at every lag.
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

    // series_periods_detect over an array: the whole lags from max(4, ⌈min_p⌉) to min(⌊max_p⌋, ⌊n / 2⌋) (Kusto finds
    // periods of at least 4 bins and at most half the series) whose score is above 0, above the lag before it and
    // not below the lag after it (a local maximum), best first (scores equal to 9 decimals: the shorter first),
    // leaving out a multiple of a period already taken (its echo); the first num_periods of them, the arrays padded
    // with 0 to num_periods, as Kusto pads them.
    await q.query(`CREATE FUNCTION kql_series_periods(v float8[], min_p float8, max_p float8, num_periods int)
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

    await q.query(`CREATE FUNCTION kql_series_periods_detect(s jsonb, min_p float8, max_p float8, num_periods int)
      RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT kql_series_periods(kql_series_numbers(s), min_p, max_p, num_periods)
      $$`);

    // series_periods_validate: each given period scored as series_periods_detect scores a lag; a period between two
    // whole lags takes the linear interpolation of their scores. One shorter than 4 bins or longer than half the
    // series scores 0 (series_periods_detect could not find it), and scores are clipped to 0…1.
    await q.query(`CREATE FUNCTION kql_series_periods_validate(s jsonb, periods float8[]) RETURNS jsonb
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

    // series_decompose and series_decompose_anomalies as in migration 1767240000000, with Kusto's test_points (the
    // last test_points elements are left out of the learning: the seasonal medians, the trend's fit and the
    // residuals' fences are of the elements before them, and extended to them) and seasonality detection: a period
    // of -1 (Kusto's default) is the best period series_periods_detect finds in the learnt elements from 4 bins to
    // half of them, if it scores at least seasonality_threshold (Kusto's 0.6 by default), else none.
    await q.query(`DROP FUNCTION kql_series_decompose_anomalies(jsonb, float8, int, text)`);
    await q.query(`DROP FUNCTION kql_series_decompose(jsonb, int, text)`);
    await q.query(`CREATE FUNCTION kql_series_decompose(s jsonb, period int, trend text, test_points int,
        seasonality_threshold float8)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0);
        learn int := n - least(greatest(test_points, 0), n); p int := period; found jsonb;
        seasonal float8[] := array_fill(0::float8, ARRAY[n]); m int := 0; sx float8 := 0; sy float8 := 0;
        sxx float8 := 0; sxy float8 := 0; slope float8 := 0; intercept float8 := 0; line float8[] := '{}';
        baseline float8[] := '{}'; residual float8[] := '{}';
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        IF p = -1 THEN
          found := kql_series_periods(v[1:learn], 4, learn / 2, 1);
          p := CASE WHEN (found #>> '{scores,0}')::float8 >= seasonality_threshold
            THEN (found #>> '{periods,0}')::float8::int ELSE 0 END;
        END IF;
        IF p >= 2 THEN
          FOR phase IN 0..least(p, n) - 1 LOOP
            DECLARE median float8;
            BEGIN
              SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v[i]) INTO median
                FROM generate_series(phase + 1, learn, p) AS i WHERE v[i] IS NOT NULL;
              FOR i IN phase + 1..n BY p LOOP seasonal[i] := coalesce(median, 0); END LOOP;
            END;
          END LOOP;
        END IF;
        FOR i IN 1..learn LOOP
          CONTINUE WHEN v[i] IS NULL;
          m := m + 1;
          sx := sx + (i - 1);
          sy := sy + (v[i] - seasonal[i]);
          sxx := sxx + (i - 1) ^ 2;
          sxy := sxy + (i - 1) * (v[i] - seasonal[i]);
        END LOOP;
        IF m > 0 AND trend <> 'none' THEN
          IF trend = 'linefit' AND m > 1 AND m * sxx - sx * sx <> 0 THEN
            slope := (m * sxy - sx * sy) / (m * sxx - sx * sx);
          END IF;
          intercept := (sy - slope * sx) / m;
        END IF;
        FOR i IN 1..n LOOP
          line := line || (intercept + slope * (i - 1));
          baseline := baseline || (seasonal[i] + intercept + slope * (i - 1));
          residual := residual || (v[i] - (seasonal[i] + intercept + slope * (i - 1)));
        END LOOP;
        RETURN jsonb_build_object('baseline', to_jsonb(baseline), 'seasonal', to_jsonb(seasonal),
          'trend', to_jsonb(line), 'residual', to_jsonb(residual));
      END $$`);

    // The residual scored with Tukey's fences (ad_method 'ctukey': the 10th and 90th percentiles, 'tukey': the 25th
    // and 75th) of the learnt residuals, as kql_series_tukey scores; above threshold +1, below -threshold -1, else 0.
    await q.query(`CREATE FUNCTION kql_series_decompose_anomalies(s jsonb, threshold float8, period int, trend text,
        test_points int, ad_method text, seasonality_threshold float8)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE r float8[] := kql_series_numbers(
          kql_series_decompose(s, period, trend, test_points, seasonality_threshold) -> 'residual');
        n int := coalesce(cardinality(r), 0); learn int := n - least(greatest(test_points, 0), n); q float8[];
        lo float8; hi float8; spread float8; score float8; out int[] := '{}';
      BEGIN
        IF r IS NULL THEN RETURN NULL; END IF;
        SELECT percentile_cont(CASE WHEN ad_method = 'tukey' THEN ARRAY[0.25, 0.75] ELSE ARRAY[0.1, 0.9] END)
          WITHIN GROUP (ORDER BY x) INTO q FROM unnest(r[1:learn]) AS x WHERE x IS NOT NULL;
        lo := q[1];
        hi := q[2];
        spread := CASE WHEN hi > lo THEN hi - lo ELSE 1 END;
        FOR i IN 1..n LOOP
          score := CASE WHEN r[i] IS NULL THEN 0::float8
            WHEN r[i] > hi THEN (r[i] - hi) / spread
            WHEN r[i] < lo THEN (r[i] - lo) / spread
            ELSE 0::float8 END;
          out := out || CASE WHEN score > threshold THEN 1 WHEN score < -threshold THEN -1 ELSE 0 END;
        END LOOP;
        RETURN to_jsonb(out);
      END $$`);

    // Kusto's missing_value_placeholder (series_fill_*) and ignore_val (series_outliers): the elements equal to it
    // become null, which every series function takes as missing; a null placeholder changes nothing.
    await q.query(`CREATE FUNCTION kql_series_missing(s jsonb, placeholder float8) RETURNS jsonb
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT CASE WHEN placeholder IS NULL OR jsonb_typeof(s) IS DISTINCT FROM 'array' THEN s ELSE (
          SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(e) = 'number' AND (e #>> '{}')::float8 = placeholder
            THEN 'null'::jsonb ELSE e END ORDER BY i), '[]'::jsonb)
            FROM jsonb_array_elements(s) WITH ORDINALITY AS t(e, i)) END
      $$`);

    // series_fill_linear with Kusto's fill_edges (false: the missing elements before the first value and after the
    // last stay null) and constant_value (what a series with no value at all is filled with; null keeps it null).
    await q.query(`DROP FUNCTION kql_series_fill_linear(jsonb)`);
    await q.query(`CREATE FUNCTION kql_series_fill_linear(s jsonb, fill_edges boolean, constant_value float8)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0); prev int; first int;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        FOR i IN 1..n LOOP
          IF v[i] IS NOT NULL THEN
            IF prev IS NULL THEN
              first := i;
            ELSE
              FOR k IN prev + 1..i - 1 LOOP
                v[k] := v[prev] + (v[i] - v[prev]) * (k - prev) / (i - prev);
              END LOOP;
            END IF;
            prev := i;
          END IF;
        END LOOP;
        IF prev IS NULL THEN
          FOR i IN 1..n LOOP v[i] := constant_value; END LOOP;
        ELSIF fill_edges THEN
          FOR k IN 1..first - 1 LOOP v[k] := v[first]; END LOOP;
          FOR k IN prev + 1..n LOOP v[k] := v[prev]; END LOOP;
        END IF;
        RETURN to_jsonb(v);
      END $$`);

    // series_outliers with Kusto's min_percentile and max_percentile (0…100, taken by "ctukey" only; "tukey" is
    // always the 25th and 75th).
    await q.query(`DROP FUNCTION kql_series_outliers(jsonb, text)`);
    await q.query(`CREATE FUNCTION kql_series_outliers(s jsonb, kind text, min_percentile float8, max_percentile float8)
      RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT to_jsonb(kql_series_tukey(kql_series_numbers(s),
          CASE WHEN kind = 'tukey' THEN 0.25 ELSE min_percentile / 100 END,
          CASE WHEN kind = 'tukey' THEN 0.75 ELSE max_percentile / 100 END))
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION kql_series_outliers(jsonb, text, float8, float8)`);
    await q.query(`DROP FUNCTION kql_series_fill_linear(jsonb, boolean, float8)`);
    await q.query(`DROP FUNCTION kql_series_missing(jsonb, float8)`);
    // Migration 1767240000000's versions, as it created them.
    await q.query(`CREATE FUNCTION kql_series_outliers(s jsonb, kind text) RETURNS jsonb
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT to_jsonb(kql_series_tukey(kql_series_numbers(s),
          CASE WHEN kind = 'tukey' THEN 0.25 ELSE 0.1 END, CASE WHEN kind = 'tukey' THEN 0.75 ELSE 0.9 END))
      $$`);
    await q.query(`CREATE FUNCTION kql_series_fill_linear(s jsonb) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0); prev int; first int;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        FOR i IN 1..n LOOP
          IF v[i] IS NOT NULL THEN
            IF prev IS NULL THEN
              first := i;
            ELSE
              FOR k IN prev + 1..i - 1 LOOP
                v[k] := v[prev] + (v[i] - v[prev]) * (k - prev) / (i - prev);
              END LOOP;
            END IF;
            prev := i;
          END IF;
        END LOOP;
        IF prev IS NULL THEN
          FOR i IN 1..n LOOP v[i] := 0; END LOOP;
        ELSE
          FOR k IN 1..first - 1 LOOP v[k] := v[first]; END LOOP;
          FOR k IN prev + 1..n LOOP v[k] := v[prev]; END LOOP;
        END IF;
        RETURN to_jsonb(v);
      END $$`);
    await q.query(
      `DROP FUNCTION kql_series_decompose_anomalies(jsonb, float8, int, text, int, text, float8)`,
    );
    await q.query(`DROP FUNCTION kql_series_decompose(jsonb, int, text, int, float8)`);
    // Migration 1767240000000's versions, as it created them.
    await q.query(`CREATE FUNCTION kql_series_decompose(s jsonb, period int, trend text) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0);
        seasonal float8[] := array_fill(0::float8, ARRAY[n]); m int := 0; sx float8 := 0; sy float8 := 0;
        sxx float8 := 0; sxy float8 := 0; slope float8 := 0; intercept float8 := 0; line float8[] := '{}';
        baseline float8[] := '{}'; residual float8[] := '{}';
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        IF period >= 2 THEN
          FOR phase IN 0..least(period, n) - 1 LOOP
            DECLARE median float8;
            BEGIN
              SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v[i]) INTO median
                FROM generate_series(phase + 1, n, period) AS i WHERE v[i] IS NOT NULL;
              FOR i IN phase + 1..n BY period LOOP seasonal[i] := coalesce(median, 0); END LOOP;
            END;
          END LOOP;
        END IF;
        FOR i IN 1..n LOOP
          CONTINUE WHEN v[i] IS NULL;
          m := m + 1;
          sx := sx + (i - 1);
          sy := sy + (v[i] - seasonal[i]);
          sxx := sxx + (i - 1) ^ 2;
          sxy := sxy + (i - 1) * (v[i] - seasonal[i]);
        END LOOP;
        IF m > 0 AND trend <> 'none' THEN
          IF trend = 'linefit' AND m > 1 AND m * sxx - sx * sx <> 0 THEN
            slope := (m * sxy - sx * sy) / (m * sxx - sx * sx);
          END IF;
          intercept := (sy - slope * sx) / m;
        END IF;
        FOR i IN 1..n LOOP
          line := line || (intercept + slope * (i - 1));
          baseline := baseline || (seasonal[i] + intercept + slope * (i - 1));
          residual := residual || (v[i] - (seasonal[i] + intercept + slope * (i - 1)));
        END LOOP;
        RETURN jsonb_build_object('baseline', to_jsonb(baseline), 'seasonal', to_jsonb(seasonal),
          'trend', to_jsonb(line), 'residual', to_jsonb(residual));
      END $$`);
    await q.query(`CREATE FUNCTION kql_series_decompose_anomalies(s jsonb, threshold float8, period int, trend text)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE r float8[] := kql_series_numbers(kql_series_decompose(s, period, trend) -> 'residual');
        score float8[]; out int[] := '{}';
      BEGIN
        IF r IS NULL THEN RETURN NULL; END IF;
        score := kql_series_tukey(r, 0.1, 0.9);
        FOR i IN 1..coalesce(cardinality(r), 0) LOOP
          out := out || CASE WHEN score[i] > threshold THEN 1 WHEN score[i] < -threshold THEN -1 ELSE 0 END;
        END LOOP;
        RETURN to_jsonb(out);
      END $$`);
    await q.query(`DROP FUNCTION kql_series_periods_validate(jsonb, float8[])`);
    await q.query(`DROP FUNCTION kql_series_periods_detect(jsonb, float8, float8, int)`);
    await q.query(`DROP FUNCTION kql_series_periods(float8[], float8, float8, int)`);
    await q.query(`DROP FUNCTION kql_series_lag_scores(float8[], int, int)`);
  }
}
