// Opens the database named on the command line read-only with the stock DuckDB
// Node.js client and prints a few figures as JSON, for the Go test to compare.
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(process.argv[2], { access_mode: 'READ_ONLY' });
const conn = await instance.connect();
const rows = (await conn.runAndReadAll(`
  SELECT version() AS version,
         (SELECT count(*) FROM sessions) AS sessions,
         (SELECT count(*) FROM episode_outcomes) AS episodes,
         (SELECT ratio FROM model_estimates
           WHERE model = 'landmark_cox_dropout' AND term = 'landmark_sessions_per_week') AS hazard_ratio
`)).getRowObjects();
console.log(JSON.stringify(rows[0], (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
