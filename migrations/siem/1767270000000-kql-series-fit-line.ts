import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * `series_fit_line(s)` of hunting's KQL as an SQL function of the siem schema, beside those of migration
 * 1767240000000 (whose `kql_series_numbers` it reads a series with; `series_decompose` is there, beside the
 * `series_decompose_anomalies` that scores its residual). Like them it takes and returns jsonb, is IMMUTABLE and
 * PARALLEL SAFE, reads no table (a hunt's tenant scoping is untouched) and pins `search_path` to the schema it was
 * created in. It returns one bag of every output; the compiler takes the columns a query asks for out of it.
 * Non-arrays give null.
 */
export class KqlSeriesFitLine1767270000000 implements MigrationInterface {
  name = "SiemKqlSeriesFitLine1767270000000";

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
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION kql_series_fit_line(jsonb)`);
  }
}
