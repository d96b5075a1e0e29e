import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { TestPlatform } from "./platform";

/** What a run of `migrate` did: its exit code, its log (stdout) and its error output. */
export interface MigrateRun {
  code: number;
  logs: string;
  stderr: string;
}

/** Runs the compiled `migrate` (as `npm run migrate` does) against the platform's database. */
export async function runMigrate(platform: TestPlatform): Promise<MigrateRun> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["dist/scripts/migrate.js"], {
      env: {
        ...process.env,
        RAMPART_ENV: "test",
        LOG_LEVEL: "info",
        DATABASE_URL: platform.db.url,
        DB_ROLE_PREFIX: platform.db.rolePrefix,
      },
    });
    return { code: 0, logs: stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, logs: e.stdout, stderr: e.stderr };
  }
}

/** The JSON log lines of a run with message `msg`. */
export const logLines = (logs: string, msg: string) =>
  logs
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
