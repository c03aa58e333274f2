#!/usr/bin/env node
// Checks GoogleSQL files with a third-party parser: node-sql-parser's BigQuery dialect (pinned
// and installed into .deps/node_modules by scripts/bootstrap.sh). No BigQuery is reachable from
// here, so this is how the tests know that what `backfill render` writes is valid GoogleSQL.
//
//   node scripts/check-bigquery-sql.mjs FILE.sql...
//
// A file may hold several statements separated by semicolons. Prints "ok FILE" per file that
// parses and "FILE: MESSAGE" (with the line and column of the error) on stderr per file that
// does not; exits 1 when any file fails, 2 on a usage or installation problem.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = process.env.BACKFILL_NODE_MODULES || join(root, '.deps', 'node_modules');
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: check-bigquery-sql.mjs FILE.sql...');
  process.exit(2);
}

let Parser;
try {
  // Only the BigQuery build is installed: it loads in a fraction of the all-dialects bundle's time.
  ({ Parser } = createRequire(join(modules, 'index.js'))('node-sql-parser/build/bigquery.js'));
} catch (e) {
  console.error(`check-bigquery-sql: cannot load node-sql-parser from ${modules} ` +
                `(run scripts/bootstrap.sh): ${e.message}`);
  process.exit(2);
}

const parser = new Parser();
let failed = 0;
for (const file of files) {
  let sql;
  try {
    sql = readFileSync(file, 'utf8');
  } catch (e) {
    console.error(`${file}: cannot read: ${e.message}`);
    failed++;
    continue;
  }
  try {
    parser.astify(sql, { database: 'bigquery' });
    console.log(`ok ${file}`);
  } catch (e) {
    // Peggy errors carry where the parse stopped; name it so the failing construct is easy to find.
    const at = e.location ? `:${e.location.start.line}:${e.location.start.column}` : '';
    console.error(`${file}${at}: ${e.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
