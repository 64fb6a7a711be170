import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SQL } from 'bun';

const MIGRATIONS = join(import.meta.dir, '../../../drizzle/postgres');
/** Any constant works, as long as only migrations take it: instances starting together wait on it. */
const MIGRATION_LOCK = 7_240_001;

interface Journal {
  entries: Array<{ idx: number; tag: string }>;
}

/**
 * Applies the migrations in drizzle/postgres (drizzle-kit's folder format: a journal, and one SQL
 * file per migration with `--> statement-breakpoint` between statements) that this database has
 * not had, each in its own transaction. Several API instances starting together migrate once:
 * the first takes an advisory lock, the others wait for it and then find nothing left to do.
 */
export async function migrate(sql: SQL): Promise<string[]> {
  const journal = JSON.parse(await readFile(join(MIGRATIONS, 'meta/_journal.json'), 'utf8')) as Journal;
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS telemetry_migrations (tag text PRIMARY KEY, applied_at bigint NOT NULL)`;
    const done = new Set((await tx`SELECT tag FROM telemetry_migrations`).map((row: { tag: string }) => row.tag));
    for (const { tag } of [...journal.entries].sort((a, b) => a.idx - b.idx)) {
      if (done.has(tag)) continue;
      const text = await readFile(join(MIGRATIONS, `${tag}.sql`), 'utf8');
      for (const statement of text.split('--> statement-breakpoint')) {
        if (statement.replace(/--.*$/gm, '').trim() !== '') await tx.unsafe(statement);
      }
      await tx`INSERT INTO telemetry_migrations (tag, applied_at) VALUES (${tag}, ${Date.now()})`;
      applied.push(tag);
    }
  });
  return applied;
}
