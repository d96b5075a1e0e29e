import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `series_decompose_forecast(s, points, seasonality, trend, seasonality_threshold)` of hunting's KQL as an SQL
 * function of the siem schema, beside migration 1767280000000's `series_decompose` (whose period detection,
 * `kql_series_periods`, it shares). Like the other series functions it takes and returns jsonb, is IMMUTABLE and
 * PARALLEL SAFE, reads no table (a hunt's tenant scoping is untouched) and pins `search_path` to the schema it was
 * created in. Non-arrays give null.
 */
export class KqlSeriesDecomposeForecast1767311000000 implements MigrationInterface {
  name = "SiemKqlSeriesDecomposeForecast1767311000000";

  async up(q: QueryRunner): Promise<void> {
    // The baseline (seasonal + trend) of the series at every index, learnt from all but its last `points` elements
    // (the bins to forecast, whose values are ignored) and carried on over them: each forecast bin takes its phase's
    // seasonal value and the trend's line goes on. As in kql_series_decompose, a period of -1 is the best one
    // kql_series_periods finds in the learnt elements (from 4 bins to half of them) if it scores at least
    // seasonality_threshold, and the seasonal part of a period p ≥ 2 is a median per phase. One difference: with the
    // 'linefit' trend, the phases' medians are of the series less its rise per bin, the median of the differences
    // one period apart (v[i + p] − v[i]) / p; otherwise a rising series' phases would take the rise of their own
    // cycles into the seasonal part, the line fitted to what is left would rise too slowly, and a series that is a
    // line plus a repeated pattern would not be forecast as that line and pattern.
    await q.query(`CREATE FUNCTION kql_series_decompose_forecast(s jsonb, points int, period int, trend text,
        seasonality_threshold float8)
      RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0);
        learn int := n - least(greatest(points, 0), n); p int := period; found jsonb; rise float8;
        seasonal float8[] := array_fill(0::float8, ARRAY[n]); m int := 0; sx float8 := 0; sy float8 := 0;
        sxx float8 := 0; sxy float8 := 0; slope float8 := 0; intercept float8 := 0;
        baseline float8[] := array_fill(0::float8, ARRAY[n]);
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        IF p = -1 THEN
          found := kql_series_periods(v[1:learn], 4, learn / 2, 1);
          p := CASE WHEN (found #>> '{scores,0}')::float8 >= seasonality_threshold
            THEN (found #>> '{periods,0}')::float8::int ELSE 0 END;
        END IF;
        IF p >= 2 THEN
          IF trend = 'linefit' THEN
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY (v[i + p] - v[i]) / p) INTO rise
              FROM generate_series(1, learn - p) AS i WHERE v[i] IS NOT NULL AND v[i + p] IS NOT NULL;
          END IF;
          rise := coalesce(rise, 0);
          FOR phase IN 0..least(p, n) - 1 LOOP
            DECLARE median float8;
            BEGIN
              SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v[i] - rise * (i - 1)) INTO median
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
        FOR i IN 1..n LOOP baseline[i] := seasonal[i] + intercept + slope * (i - 1); END LOOP;
        RETURN to_jsonb(baseline);
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION kql_series_decompose_forecast(jsonb, int, int, text, float8)`);
  }
}
