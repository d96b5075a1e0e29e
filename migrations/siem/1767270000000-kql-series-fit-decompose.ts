import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `series_fit_line(s)` and `series_decompose(s, seasonality, trend)` of hunting's KQL as SQL functions of the siem
 * schema, beside those of migration 1767240000000 (whose `kql_series_numbers` they read a series with). Like them
 * they take and return jsonb, are IMMUTABLE and PARALLEL SAFE, read no table (a hunt's tenant scoping is untouched)
 * and pin `search_path` to the schema they were created in. Each returns one bag of every output; the compiler
 * takes the columns a query asks for out of it. Non-arrays give null.
 */
export class KqlSeriesFitDecompose1767270000000 implements MigrationInterface {
  name = "SiemKqlSeriesFitDecompose1767270000000";

  async up(q: QueryRunner): Promise<void> {
    // Least squares over the values present at x = 1…n (Kusto's axis): slope and interception (the line at x = 0),
    // line_fit (the line at every index, missing ones included), variance (sample, n − 1, of the values present),
    // rvariance (the residuals' squares over n − 1), rsquare (1 − residual / total sum of squares; 1 when the
    // values do not vary). One value: slope 0, variances 0. No value: every statistic null, line_fit all null.
    await q.query(`CREATE FUNCTION kql_series_fit_line(s jsonb) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
      DECLARE v float8[] := kql_series_numbers(s); n int := coalesce(cardinality(v), 0); m int := 0;
        sx float8 := 0; sy float8 := 0; sxx float8 := 0; sxy float8 := 0; slope float8; intercept float8;
        total float8 := 0; residual float8 := 0; fit float8[] := '{}';
      BEGIN
        IF v IS NULL THEN RETURN NULL; END IF;
        FOR i IN 1..n LOOP
          CONTINUE WHEN v[i] IS NULL;
          m := m + 1;
          sx := sx + i;
          sy := sy + v[i];
          sxx := sxx + i ^ 2;
          sxy := sxy + i * v[i];
        END LOOP;
        IF m = 0 THEN
          RETURN jsonb_build_object('rsquare', NULL, 'slope', NULL, 'variance', NULL, 'rvariance', NULL,
            'interception', NULL, 'line_fit', to_jsonb(array_fill(NULL::float8, ARRAY[n])));
        END IF;
        slope := CASE WHEN m > 1 AND m * sxx - sx * sx <> 0 THEN (m * sxy - sx * sy) / (m * sxx - sx * sx) ELSE 0 END;
        intercept := (sy - slope * sx) / m;
        FOR i IN 1..n LOOP
          fit := fit || (intercept + slope * i);
          CONTINUE WHEN v[i] IS NULL;
          total := total + (v[i] - sy / m) ^ 2;
          residual := residual + (v[i] - (intercept + slope * i)) ^ 2;
        END LOOP;
        RETURN jsonb_build_object(
          'rsquare', CASE WHEN total = 0 THEN 1 ELSE 1 - residual / total END,
          'slope', slope,
          'variance', CASE WHEN m > 1 THEN total / (m - 1) ELSE 0 END,
          'rvariance', CASE WHEN m > 1 THEN residual / (m - 1) ELSE 0 END,
          'interception', intercept,
          'line_fit', to_jsonb(fit));
      END $$`);

    // The decomposition series_decompose_anomalies scores (migration 1767240000000), as four series: seasonal (with
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
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION kql_series_decompose(jsonb, int, text)`);
    await q.query(`DROP FUNCTION kql_series_fit_line(jsonb)`);
  }
}
