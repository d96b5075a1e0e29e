import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The series functions of hunting's KQL (`series_fill_forward(s)`, `series_stats_dynamic(s)`,
 * `series_decompose_anomalies(s)`…) as SQL functions of the siem schema, which the compiler calls by fixed names
 * (never a name from the query) with the series and the query's other arguments as values. Each takes and returns
 * jsonb (a series is a JSON array; an element that is not a number is missing, as null is), is IMMUTABLE and
 * PARALLEL SAFE, and reads no table, so a hunt's tenant scoping is untouched. They are created by the siem role
 * (migrations run as it), so it owns and may execute them; `search_path` is pinned to the schema they were
 * created in so a caller's path cannot redirect the helpers they call. Non-arrays give null.
 */
export class KqlSeriesFunctions1767240000000 implements MigrationInterface {
  name = "SiemKqlSeriesFunctions1767240000000";

  async up(q: QueryRunner): Promise<void> {
    // The numbers of a series, a missing (null or non-number) element as NULL; null for anything but an array.
    await q.query(`CREATE FUNCTION kql_series_numbers(s jsonb) RETURNS float8[]
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT CASE WHEN jsonb_typeof(s) = 'array' THEN ARRAY(
          SELECT CASE WHEN jsonb_typeof(e) = 'number' THEN (e #>> '{}')::float8 END
            FROM jsonb_array_elements(s) WITH ORDINALITY AS t(e, i) ORDER BY i) END
      $$`);

    await q.query(`CREATE FUNCTION kql_series_fill_const(s jsonb, c float8) RETURNS jsonb
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT CASE WHEN v IS NOT NULL THEN to_jsonb(ARRAY(SELECT coalesce(x, c) FROM unnest(v) WITH ORDINALITY AS u(x, i) ORDER BY i)) END
          FROM kql_series_numbers(s) AS t(v)
      $$`);

    // Forward: a missing element takes the last value before it (missing ones at the start stay null).
    await q.query(`CREATE FUNCTION kql_series_fill_forward(s jsonb) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); last float8; n int := coalesce(cardinality(v), 0);
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        FOR i IN 1..n LOOP
          IF v[i] IS NULL THEN v[i] := last; ELSE last := v[i]; END IF;
        END LOOP;
        RETURN to_jsonb(v);
      END $$`);

    // Backward: a missing element takes the first value after it (missing ones at the end stay null).
    await q.query(`CREATE FUNCTION kql_series_fill_backward(s jsonb) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); next float8; n int := coalesce(cardinality(v), 0);
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        FOR i IN REVERSE n..1 LOOP
          IF v[i] IS NULL THEN v[i] := next; ELSE next := v[i]; END IF;
        END LOOP;
        RETURN to_jsonb(v);
      END $$`);

    // Linear: a gap between two values is interpolated on the index; the ends take the nearest value (Kusto's
    // fill_edges = true); a series with no value at all becomes zeros (Kusto's constant_value default).
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

    // min, min_idx, max, max_idx (0-based, first occurrence), avg, variance and stdev (sample: n - 1; 0 for one
    // value). As Kusto's default (ignore_nonfinite = false), a missing element makes every statistic null; with
    // ignore_missing they are of the values present. No value: every statistic null.
    await q.query(`CREATE FUNCTION kql_series_stats(s jsonb, ignore_missing boolean) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := 0; total float8 := 0; squares float8 := 0;
        lo float8; hi float8; lo_i int; hi_i int; mean float8; variance float8;
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        IF ignore_missing OR array_position(v, NULL) IS NULL THEN
          FOR i IN 1..coalesce(cardinality(v), 0) LOOP
            CONTINUE WHEN v[i] IS NULL;
            n := n + 1;
            total := total + v[i];
            IF lo IS NULL OR v[i] < lo THEN lo := v[i]; lo_i := i - 1; END IF;
            IF hi IS NULL OR v[i] > hi THEN hi := v[i]; hi_i := i - 1; END IF;
          END LOOP;
        END IF;
        IF n > 0 THEN
          mean := total / n;
          FOR i IN 1..cardinality(v) LOOP
            CONTINUE WHEN v[i] IS NULL;
            squares := squares + (v[i] - mean) ^ 2;
          END LOOP;
          variance := CASE WHEN n > 1 THEN squares / (n - 1) ELSE 0 END;
        END IF;
        RETURN jsonb_build_object('min', lo, 'min_idx', lo_i, 'max', hi, 'max_idx', hi_i, 'avg', mean,
          'stdev', sqrt(variance), 'variance', variance);
      END $$`);

    // Tukey's fences on the values present: lo and hi are their percentiles (linear interpolation, as
    // percentile_cont), a value above hi scores (x - hi) / (hi - lo), below lo (x - lo) / (hi - lo), between 0; a
    // missing element 0. When hi = lo the distance itself is the score (as if hi - lo were 1).
    await q.query(`CREATE FUNCTION kql_series_tukey(v float8[], lo_p float8, hi_p float8) RETURNS float8[]
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE q float8[]; lo float8; hi float8; spread float8; out float8[] := '{}';
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        SELECT percentile_cont(ARRAY[lo_p, hi_p]) WITHIN GROUP (ORDER BY x) INTO q FROM unnest(v) AS x WHERE x IS NOT NULL;
        lo := q[1];
        hi := q[2];
        spread := CASE WHEN hi > lo THEN hi - lo ELSE 1 END;
        FOR i IN 1..coalesce(cardinality(v), 0) LOOP
          out := out || CASE WHEN v[i] IS NULL THEN 0::float8
            WHEN v[i] > hi THEN (v[i] - hi) / spread
            WHEN v[i] < lo THEN (v[i] - lo) / spread
            ELSE 0::float8 END;
        END LOOP;
        RETURN out;
      END $$`);

    // series_outliers(s, kind): "ctukey" (Kusto's default) takes the 10th and 90th percentiles, "tukey" the 25th
    // and 75th; a score beyond ±1.5 is Tukey's mild outlier, beyond ±3 a strong one.
    await q.query(`CREATE FUNCTION kql_series_outliers(s jsonb, kind text) RETURNS jsonb
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
        SELECT to_jsonb(kql_series_tukey(kql_series_numbers(s),
          CASE WHEN kind = 'tukey' THEN 0.25 ELSE 0.1 END, CASE WHEN kind = 'tukey' THEN 0.75 ELSE 0.9 END))
      $$`);

    // series_decompose(s, seasonality, trend), which series_decompose_anomalies scores: four series, seasonal (with
    // a period of p >= 2 bins the median of the values in the same phase, i mod p; else 0), trend (of what is left:
    // 'linefit' least squares over the index, 'avg' the mean, 'none' 0), baseline (seasonal + trend) and residual
    // (value − baseline; null where the value is missing). The first three have a value at every index.
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

    // series_decompose_anomalies(s, threshold, seasonality, trend): the residual of kql_series_decompose scored with
    // kql_series_tukey at the 10th/90th percentiles (Kusto's 'ctukey'); a score above threshold flags +1, below
    // -threshold -1, else 0 (a missing element 0). Deterministic: no seasonality detection.
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

    // Element-wise arithmetic (series_add…): two series of the same length or a series and a number; the result
    // is as long as the longer series, a missing element (or one past the shorter's end) null, as is x / 0.
    await q.query(`CREATE FUNCTION kql_series_arith(a jsonb, b jsonb, op text) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE x float8[]; y float8[]; n int; l float8; r float8; out float8[] := '{}';
      BEGIN
        x := CASE WHEN jsonb_typeof(a) = 'number' THEN NULL ELSE kql_series_numbers(a) END;
        y := CASE WHEN jsonb_typeof(b) = 'number' THEN NULL ELSE kql_series_numbers(b) END;
        IF (x IS NULL AND jsonb_typeof(a) IS DISTINCT FROM 'number') OR (y IS NULL AND jsonb_typeof(b) IS DISTINCT FROM 'number')
          OR (x IS NULL AND y IS NULL) THEN RETURN NULL; END IF;
        n := greatest(coalesce(cardinality(x), 0), coalesce(cardinality(y), 0));
        FOR i IN 1..n LOOP
          l := CASE WHEN x IS NULL THEN (a #>> '{}')::float8 ELSE x[i] END;
          r := CASE WHEN y IS NULL THEN (b #>> '{}')::float8 ELSE y[i] END;
          out := out || CASE op WHEN '+' THEN l + r WHEN '-' THEN l - r WHEN '*' THEN l * r
            ELSE CASE WHEN r = 0 THEN NULL ELSE l / r END END;
        END LOOP;
        RETURN to_jsonb(out);
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION kql_series_arith(jsonb, jsonb, text)`);
    await q.query(`DROP FUNCTION kql_series_decompose_anomalies(jsonb, float8, int, text)`);
    await q.query(`DROP FUNCTION kql_series_decompose(jsonb, int, text)`);
    await q.query(`DROP FUNCTION kql_series_outliers(jsonb, text)`);
    await q.query(`DROP FUNCTION kql_series_tukey(float8[], float8, float8)`);
    await q.query(`DROP FUNCTION kql_series_stats(jsonb, boolean)`);
    await q.query(`DROP FUNCTION kql_series_fill_linear(jsonb)`);
    await q.query(`DROP FUNCTION kql_series_fill_backward(jsonb)`);
    await q.query(`DROP FUNCTION kql_series_fill_forward(jsonb)`);
    await q.query(`DROP FUNCTION kql_series_fill_const(jsonb, float8)`);
    await q.query(`DROP FUNCTION kql_series_numbers(jsonb)`);
  }
}
