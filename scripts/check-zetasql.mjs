#!/usr/bin/env node
// Analyzes GoogleSQL files with ZetaSQL, Google's GoogleSQL analyzer (BigQuery's front end):
// names are resolved against a catalog of table schemas and every expression is type-checked,
// as BigQuery would before running a statement. The analyzer is the LocalService gRPC server
// of npm @fivetrandevelopers/zetasql (pinned and installed into .deps/zetasql by
// scripts/bootstrap.sh); one server runs per invocation, on a free loopback port.
//
//   node scripts/check-zetasql.mjs [--json] CATALOG.json [FILE.sql...]
//
// CATALOG.json (written by `backfill render` next to the SQL files):
//   {"tables": [{"name": "project.dataset.table", "schema": [BigQuery JSON schema fields]}],
//    "files": [{"name": "01-x.sql", "default_project": "p",
//               "parameters": {"submission_date": "DATE"}}]}
// Without FILE arguments the catalog's "files" are checked, relative to the catalog's folder, in
// that order. Files are analyzed in order: a CREATE TABLE ... AS SELECT adds its table (with the
// columns the analyzer derived) for later statements, DROP TABLE removes it. A file may hold a
// script: statements separated by semicolons, DECLARE and SET of variables included.
//
// Prints "ok FILE (N statements)" per file, "FILE:LINE:COLUMN: MESSAGE" on stderr per error
// (the analyzer's message); with --json one document {"ok", "files": [{file, statements,
// errors: [{line, column, message}]}]} on stdout instead. Exits 1 when any statement fails,
// 2 on a usage, catalog or installation problem.
import {spawn} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {createServer} from 'node:net';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules =
    process.env.BACKFILL_ZETASQL_MODULES || join(root, '.deps', 'zetasql', 'node_modules');
const pkg = join(modules, '@fivetrandevelopers', 'zetasql', 'lib');
const serverBinary = join(pkg, 'zetasql', 'remote_server.so');
const protoDir = join(pkg, 'zetasql', 'protos');

function fail(message) {
  console.error(`check-zetasql: ${message}`);
  process.exit(2);
}

// --- What BigQuery's GoogleSQL is: product mode EXTERNAL and the features BigQuery documents.
// Anything not listed (proto types, unsigned integers, pipes, Spanner DDL...) is refused, as
// BigQuery refuses it.
const FEATURES = [
  'FEATURE_ANALYTIC_FUNCTIONS',
  'FEATURE_TABLESAMPLE',
  'FEATURE_DISALLOW_GROUP_BY_FLOAT',
  'FEATURE_DML_UPDATE_WITH_JOIN',
  'FEATURE_TABLE_VALUED_FUNCTIONS',
  'FEATURE_GROUP_BY_ROLLUP',
  'FEATURE_CREATE_TABLE_PARTITION_BY',
  'FEATURE_CREATE_TABLE_CLUSTER_BY',
  'FEATURE_NUMERIC_TYPE',
  'FEATURE_CREATE_TABLE_NOT_NULL',
  'FEATURE_CREATE_TABLE_FIELD_ANNOTATIONS',
  'FEATURE_CREATE_TABLE_AS_SELECT_COLUMN_LIST',
  'FEATURE_GEOGRAPHY',
  'FEATURE_NAMED_ARGUMENTS',
  'FEATURE_CREATE_MATERIALIZED_VIEW_PARTITION_BY',
  'FEATURE_CREATE_MATERIALIZED_VIEW_CLUSTER_BY',
  'FEATURE_BIGNUMERIC_TYPE',
  'FEATURE_JSON_TYPE',
  'FEATURE_JSON_ARRAY_FUNCTIONS',
  'FEATURE_JSON_VALUE_EXTRACTION_FUNCTIONS',
  'FEATURE_JSON_LAX_VALUE_EXTRACTION_FUNCTIONS',
  'FEATURE_JSON_CONSTRUCTOR_FUNCTIONS',
  'FEATURE_JSON_MUTATOR_FUNCTIONS',
  'FEATURE_INTERVAL_TYPE',
  'FEATURE_PARAMETERIZED_TYPES',
  'FEATURE_CREATE_TABLE_LIKE',
  'FEATURE_CREATE_TABLE_CLONE',
  'FEATURE_CREATE_SNAPSHOT_TABLE',
  'FEATURE_CREATE_TABLE_COPY',
  'FEATURE_ALTER_TABLE_RENAME_COLUMN',
  'FEATURE_RANGE_TYPE',
  'FEATURE_V_1_1_ORDER_BY_COLLATE',
  'FEATURE_V_1_1_WITH_ON_SUBQUERY',
  'FEATURE_V_1_1_SELECT_STAR_EXCEPT_REPLACE',
  'FEATURE_V_1_1_ORDER_BY_IN_AGGREGATE',
  'FEATURE_V_1_1_LIMIT_IN_AGGREGATE',
  'FEATURE_V_1_1_HAVING_IN_AGGREGATE',
  'FEATURE_V_1_1_NULL_HANDLING_MODIFIER_IN_ANALYTIC',
  'FEATURE_V_1_1_NULL_HANDLING_MODIFIER_IN_AGGREGATE',
  'FEATURE_V_1_1_FOR_SYSTEM_TIME_AS_OF',
  'FEATURE_V_1_2_CIVIL_TIME',
  'FEATURE_V_1_2_SAFE_FUNCTION_CALL',
  'FEATURE_V_1_2_CORRELATED_REFS_IN_NESTED_DML',
  'FEATURE_V_1_2_WEEK_WITH_WEEKDAY',
  'FEATURE_V_1_3_OMIT_INSERT_COLUMN_LIST',
  'FEATURE_V_1_3_NULLS_FIRST_LAST_IN_ORDER_BY',
  'FEATURE_V_1_3_ALLOW_DASHES_IN_TABLE_NAME',
  'FEATURE_V_1_3_WITH_RECURSIVE',
  'FEATURE_V_1_3_DECIMAL_ALIAS',
  'FEATURE_V_1_3_ALLOW_REGEXP_EXTRACT_OPTIONALS',
  'FEATURE_V_1_3_DATE_TIME_CONSTRUCTORS',
  'FEATURE_V_1_3_ADDITIONAL_STRING_FUNCTIONS',
  'FEATURE_V_1_3_EXTENDED_DATE_TIME_SIGNATURES',
  'FEATURE_V_1_3_INLINE_LAMBDA_ARGUMENT',
  'FEATURE_V_1_3_PIVOT',
  'FEATURE_V_1_3_UNPIVOT',
  'FEATURE_V_1_3_COLLATION_SUPPORT',
  'FEATURE_V_1_3_ANNOTATION_FRAMEWORK',
  'FEATURE_V_1_3_IS_DISTINCT',
  'FEATURE_V_1_3_FORMAT_IN_CAST',
  'FEATURE_V_1_3_QUALIFY',
  'FEATURE_V_1_3_REPEAT',
  'FEATURE_V_1_3_COLUMN_DEFAULT_VALUE',
  'FEATURE_V_1_3_FOR_IN',
  'FEATURE_V_1_3_LIKE_ANY_SOME_ALL',
  'FEATURE_V_1_3_CASE_STMT',
  'FEATURE_V_1_3_SCRIPT_LABEL',
  'FEATURE_V_1_3_REMOTE_FUNCTION',
  'FEATURE_V_1_4_GROUPING_BUILTIN',
  'FEATURE_V_1_4_GROUPING_SETS',
];
// The statement kinds a rendering (and a runbook) uses; anything else is refused by name.
const STATEMENT_KINDS = [
  'RESOLVED_QUERY_STMT',
  'RESOLVED_INSERT_STMT',
  'RESOLVED_DELETE_STMT',
  'RESOLVED_UPDATE_STMT',
  'RESOLVED_MERGE_STMT',
  'RESOLVED_TRUNCATE_STMT',
  'RESOLVED_CREATE_TABLE_STMT',
  'RESOLVED_CREATE_TABLE_AS_SELECT_STMT',
  'RESOLVED_CREATE_VIEW_STMT',
  'RESOLVED_DROP_STMT',
  'RESOLVED_ASSERT_STMT',
];

// BigQuery JSON schema type names -> ZetaSQL TypeKind.
const TYPE_KINDS = {
  STRING: 'TYPE_STRING',
  BYTES: 'TYPE_BYTES',
  INT64: 'TYPE_INT64',
  INTEGER: 'TYPE_INT64',
  FLOAT64: 'TYPE_DOUBLE',
  FLOAT: 'TYPE_DOUBLE',
  NUMERIC: 'TYPE_NUMERIC',
  DECIMAL: 'TYPE_NUMERIC',
  BIGNUMERIC: 'TYPE_BIGNUMERIC',
  BIGDECIMAL: 'TYPE_BIGNUMERIC',
  BOOL: 'TYPE_BOOL',
  BOOLEAN: 'TYPE_BOOL',
  TIMESTAMP: 'TYPE_TIMESTAMP',
  DATE: 'TYPE_DATE',
  TIME: 'TYPE_TIME',
  DATETIME: 'TYPE_DATETIME',
  GEOGRAPHY: 'TYPE_GEOGRAPHY',
  JSON: 'TYPE_JSON',
  INTERVAL: 'TYPE_INTERVAL',
  RECORD: 'TYPE_STRUCT',
  STRUCT: 'TYPE_STRUCT',
};

function fieldType(field, where) {
  const name = String(field.type || '').toUpperCase();
  const kind = TYPE_KINDS[name];
  if (!kind) throw new Error(`${where}.${field.name}: unknown BigQuery type '${field.type}'`);
  let type = {type_kind: kind};
  if (kind === 'TYPE_STRUCT') {
    type.struct_type = {
      field: (field.fields || []).map(f => ({
                                        field_name: f.name,
                                        field_type: fieldType(f, `${where}.${field.name}`),
                                      })),
    };
  }
  if (String(field.mode || '').toUpperCase() === 'REPEATED') {
    type = {type_kind: 'TYPE_ARRAY', array_type: {element_type: type}};
  }
  return type;
}

// A scalar type name of a DECLARE or a query parameter: INT64, STRING, DATE, ARRAY<STRING>...
function typeFromName(text) {
  const t = text.trim().toUpperCase();
  const array = /^ARRAY\s*<(.*)>$/s.exec(t);
  if (array) {
    return {type_kind: 'TYPE_ARRAY', array_type: {element_type: typeFromName(array[1])}};
  }
  const kind = TYPE_KINDS[t.replace(/\(.*\)$/s, '').trim()];
  if (!kind || kind === 'TYPE_STRUCT') return null;
  return {type_kind: kind};
}

// --- Statements: a script split at top-level semicolons (quotes and comments respected).
function splitStatements(sql) {
  const out = [];
  let start = 0;
  let i = 0;
  const push = end => {
    const text = sql.slice(start, end);
    const code = text.replace(/--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\//g, '');
    if (code.trim()) out.push({text, offset: start});
    start = end + 1;
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-' || c === '#') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      continue;
    } else if (c === '\'' || c === '"' || c === '`') {
      const triple = c !== '`' && sql.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      i += quote.length;
      while (i < sql.length && !sql.startsWith(quote, i)) i += sql[i] === '\\' ? 2 : 1;
      i += quote.length;
      continue;
    } else if (c === ';') {
      push(i);
    }
    i++;
  }
  push(sql.length);
  return out;
}

function lineColumn(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return {line, column: offset - before.lastIndexOf('\n')};
}

// The first token after leading comments and blanks, and where it starts.
function leading(text) {
  const m = /^(?:\s+|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)*/.exec(text);
  return m[0].length;
}

// --- Catalog: tables by full name. Each statement is analyzed against only the tables it names
// (found by the parser first): Mozilla's schemas run to thousands of fields, and the whole
// warehouse in one request would pass the server's 4 MB message limit.
class Catalog {
  constructor(tables) {
    this.tables = new Map();      // "p.d.t" (lowercase) -> {name, columns: [SimpleColumnProto]}
    this.registered = new Map();  // an empty catalog (a script naming no table) is one too
    for (const t of tables) this.set(t.name, this.columns(t));
  }
  columns(t) {
    if (!Array.isArray(t.schema)) {
      throw new Error(`table ${t.name}: "schema" is not an array of fields`);
    }
    return t.schema.map(
        f => ({name: f.name, type: fieldType(f, t.name), is_writable_column: true}));
  }
  set(name, columns) {
    this.tables.set(name.toLowerCase(), {name, columns});
    this.registered = new Map();  // the server's copies are stale (kept: the run is short)
  }
  drop(name) {
    this.tables.delete(name.toLowerCase());
    this.registered = new Map();
  }
  // A catalog holding the tables `paths` name (each a list of identifiers as written), under
  // those very paths: `p.d.t` (one quoted identifier), p.d.t, and in the default project d.t.
  proto(defaultProject, paths) {
    const root = {name: 'bigquery', table: [], catalogMap: new Map()};
    const seen = new Set();
    for (const path of paths) {
      const parts = path.join('.').split('.');
      const full = parts.length === 2 && defaultProject ? [defaultProject, ...parts] : parts;
      const table = full.length === 3 ? this.tables.get(full.join('.').toLowerCase()) : undefined;
      const key = path.join('\u0000');
      if (!table || seen.has(key)) continue;
      seen.add(key);
      let node = root;
      for (const segment of path.slice(0, -1)) {
        if (!node.catalogMap.has(segment))
          node.catalogMap.set(segment, {name: segment, table: [], catalogMap: new Map()});
        node = node.catalogMap.get(segment);
      }
      node.table.push({name: path[path.length - 1], column: table.columns});
    }
    const toProto = c =>
        ({name: c.name, table: c.table, catalog: [...c.catalogMap.values()].map(toProto)});
    return {...toProto(root), builtin_function_options: {language_options: languageOptions()}};
  }
}

function languageOptions() {
  return {
    name_resolution_mode: 'NAME_RESOLUTION_DEFAULT',
    product_mode: 'PRODUCT_EXTERNAL',
    enabled_language_features: FEATURES,
    supported_statement_kinds: STATEMENT_KINDS,
  };
}

// --- The server and the client.
async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address();
      s.close(() => res(port));
    });
  });
}

// The server, started before the protocol is loaded (both take a second or two), and a client
// for the three methods the checker calls. protobufjs reads the package's .proto files directly:
// @grpc/proto-loader would spend seconds more describing all of the resolved AST's messages.
function spawnServer(port) {
  // Loopback only: the service accepts anything from anyone who can reach it.
  const child =
      spawn(serverBinary, ['127.0.0.1', String(port)], {stdio: ['ignore', 'ignore', 'pipe']});
  const state = {child, stderr: ''};
  child.stderr.on('data', d => {
    state.stderr += d;
  });
  state.exited = new Promise(r => child.once('exit', code => r({exited: code})));
  return state;
}

function loadProtocol(protobuf, protobufDir) {
  const root = new protobuf.Root();
  // google/protobuf/descriptor.proto and empty.proto come with protobufjs, the rest with ZetaSQL.
  root.resolvePath = (origin, target) => {
    if (target.startsWith('/')) return target;
    return existsSync(join(protoDir, target)) ? join(protoDir, target) : join(protobufDir, target);
  };
  root.loadSync('local_service.proto', {keepCase: true});
  const service = 'zetasql.local_service.';
  // Analyze answers with the whole resolved AST (megabytes for a SELECT * of a wide table): it
  // is decoded only when the checker needs it (CREATE, DROP).
  const method = (name, request, response, lazy = false) => {
    const req = root.lookupType(request);
    const res = root.lookupType(response);
    return {
      path: `/${service}ZetaSqlLocalService/${name}`,
      serialize: obj => Buffer.from(req.encode(req.fromObject(obj)).finish()),
      deserialize: buf => {
        const decode = () => res.toObject(res.decode(buf), {enums: String, longs: String});
        return lazy ? {decode} : decode();
      },
    };
  };
  return {
    analyze: method('Analyze', `${service}AnalyzeRequest`, `${service}AnalyzeResponse`, true),
    registerCatalog:
        method('RegisterCatalog', `${service}RegisterCatalogRequest`, `${service}RegisterResponse`),
    extractTableNames: method(
        'ExtractTableNamesFromStatement', `${service}ExtractTableNamesFromStatementRequest`,
        `${service}ExtractTableNamesFromStatementResponse`),
  };
}

async function startServer(grpc, protobuf, protobufDir) {
  let port = await freePort();
  let server = spawnServer(port);
  process.once('exit', () => server.child.kill('SIGKILL'));  // never outlive the check
  const methods = loadProtocol(protobuf, protobufDir);
  for (let attempt = 0;; attempt++) {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 512 << 20,
      'grpc.max_receive_message_length': 512 << 20,
    });
    const ready = new Promise(r => client.waitForReady(Date.now() + 30000, e => r(e || null)));
    const first = await Promise.race([ready, server.exited]);
    if (first === null) {
      client.methods = methods;
      return {child: server.child, client};
    }
    client.close();
    if (first.exited === undefined) {
      server.child.kill('SIGKILL');
      throw new Error(`the ZetaSQL server did not answer on 127.0.0.1:${port}: ${first.message}`);
    }
    if (attempt >= 2 || !/address|bind|in use/i.test(server.stderr)) {
      throw new Error(
          `the ZetaSQL server exited (${first.exited}) at start: ${server.stderr.trim()}`);
    }
    port = await freePort();  // lost the race for the port: another one
    server = spawnServer(port);
  }
}

function call(client, method, request) {
  const m = client.methods[method];
  return new Promise(
      (res, rej) => client.makeUnaryRequest(
          m.path, m.serialize, m.deserialize, request, (e, r) => (e ? rej(e) : res(r))));
}

// "Unrecognized name: x [at 3:7]" -> message and 1-based position within the statement.
function splitPosition(message) {
  const m = /^(.*?)\s*\[at (\d+):(\d+)\]\s*$/s.exec(message);
  return m ? {message: m[1], line: +m[2], column: +m[3]} : {message, line: 1, column: 1};
}

async function main() {
  const args = process.argv.slice(2);
  const json = args[0] === '--json';
  if (json) args.shift();
  if (args.length === 0) fail('usage: check-zetasql.mjs [--json] CATALOG.json [FILE.sql...]');
  const catalogPath = args.shift();
  let doc;
  try {
    doc = JSON.parse(readFileSync(catalogPath, 'utf8'));
  } catch (e) {
    fail(`cannot read catalog ${catalogPath}: ${e.message}`);
  }
  const fileInfo = new Map((doc.files || []).map(f => [f.name, f]));
  const files =
      args.length ? args : (doc.files || []).map(f => resolve(dirname(catalogPath), f.name));
  if (files.length === 0) fail(`no SQL files given and ${catalogPath} lists none`);
  let catalog;
  try {
    catalog = new Catalog(doc.tables || []);
  } catch (e) {
    fail(`catalog ${catalogPath}: ${e.message}`);
  }
  if (!existsSync(serverBinary))
    fail(`ZetaSQL is not installed: no ${serverBinary} (run scripts/bootstrap.sh)`);
  let grpc, protobuf, protobufDir;
  try {
    const req = createRequire(join(modules, 'index.js'));
    grpc = req('@grpc/grpc-js');
    protobuf = req('protobufjs');
    protobufDir = dirname(req.resolve('protobufjs/package.json'));
  } catch (e) {
    fail(`cannot load the gRPC client from ${modules} (run scripts/bootstrap.sh): ${e.message}`);
  }

  let server;
  try {
    server = await startServer(grpc, protobuf, protobufDir);
  } catch (e) {
    fail(e.message);
  }
  const {child, client} = server;
  const results = [];
  try {
    for (const file of files) {
      const info = fileInfo.get(file.split('/').pop()) || {};
      results.push(await checkFile(client, catalog, file, info));
    }
  } finally {
    client.close();
    child.kill('SIGKILL');
  }
  const ok = results.every(r => r.errors.length === 0);
  if (json) {
    process.stdout.write(JSON.stringify({ok, files: results}) + '\n');
  } else {
    for (const r of results) {
      if (r.errors.length === 0) console.log(`ok ${r.file} (${r.statements} statements)`);
      for (const e of r.errors) console.error(`${r.file}:${e.line}:${e.column}: ${e.message}`);
    }
  }
  process.exit(ok ? 0 : 1);
}

async function checkFile(client, catalog, file, info) {
  const result = {file, statements: 0, errors: []};
  let sql;
  try {
    sql = readFileSync(file, 'utf8');
  } catch (e) {
    result.errors.push({line: 0, column: 0, message: `cannot read: ${e.message}`});
    return result;
  }
  const params = [];
  for (const [name, typeName] of Object.entries(info.parameters || {})) {
    const type = typeFromName(typeName);
    if (!type) {
      result.errors.push(
          {line: 0, column: 0, message: `parameter @${name}: unsupported type ${typeName}`});
      return result;
    }
    params.push({name, type});
  }
  const variables = new Map();  // script variables (DECLARE), lowercased -> type
  let bodyStarted = false;      // BigQuery takes DECLARE only before any other statement
  const error = (stmt, at, message) => {
    const base = lineColumn(sql, stmt.offset + leading(stmt.text));
    const line = base.line + at.line - 1;
    const column = at.line === 1 ? base.column + at.column - 1 : at.column;
    result.errors.push({line, column, message});
  };
  for (const stmt of splitStatements(sql)) {
    result.statements++;
    const body = stmt.text.slice(leading(stmt.text)).trimEnd();
    // DECLARE a, b [TYPE] [DEFAULT expr] / SET a = expr / SET (a, b) = (x, y): BigQuery
    // scripting, which ZetaSQL's statement analyzer does not take; the expression is analyzed as
    // a SELECT and the variable takes the declared type, or the expression's.
    const declare =
        /^DECLARE\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)(?:\s+(?!DEFAULT\b)(.*?))?(?:\s+DEFAULT\s+([\s\S]*))?$/is
            .exec(body);
    const set = /^SET\s+([A-Za-z_]\w*)\s*=\s*([\s\S]*)$/is.exec(body) ||
        /^SET\s*\(\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*\)\s*=\s*\(([\s\S]*)\)$/is.exec(body);
    if (declare && bodyStarted) {
      error(
          stmt, {line: 1, column: 1},
          'Variable declarations are allowed only at the start of a script');
      continue;
    }
    if (!declare) bodyStarted = true;
    const names =
        (declare || set) ? (declare || set)[1].split(',').map(n => n.trim().toLowerCase()) : [];
    let declaredType = null;
    if (declare && declare[2]) {
      declaredType = typeFromName(declare[2]);
      if (!declaredType) {
        error(stmt, {line: 1, column: 1}, `DECLARE: unsupported variable type '${declare[2]}'`);
        continue;
      }
    } else if (declare && !declare[3]) {
      error(stmt, {line: 1, column: 1}, 'DECLARE needs a type or a DEFAULT');
      continue;
    }
    if (set) {
      const unknown = names.find(n => !variables.has(n));
      if (unknown) {
        error(stmt, {line: 1, column: 1}, `SET: variable ${unknown} is not declared`);
        continue;
      }
    }
    const expression = declare ? (declare[3] ? `(${declare[3]})` : null) : set ? set[2] : null;
    const text = declare || set ? (expression ? `SELECT ${expression}` : null) : body;
    if (!text) {
      for (const n of names) variables.set(n, declaredType);
      continue;
    }
    const options = {
      language_options: languageOptions(),
      // Script variables are analyzed as parameters of their type.
      query_parameters: [...params, ...[...variables].map(([name, type]) => ({name, type}))],
      error_message_mode: 'ERROR_MESSAGE_ONE_LINE',
      default_timezone: 'UTC',
    };
    let response;
    try {
      const tableNames = await call(client, 'extractTableNames', {
        sql_statement: text,
        options: languageOptions(),
        allow_script: false,
      });
      const paths = (tableNames.table_name || []).map(n => n.table_name_segment);
      const catalogId = await registered(client, catalog, info.default_project || '', paths);
      response = await analyzeWithVariables(text, variables, t => call(client, 'analyze', {
                                                               options,
                                                               registered_catalog_id: catalogId,
                                                               sql_statement: t,
                                                             }));
    } catch (e) {
      const at = e.at || splitPosition(e.details || e.message);
      // DECLARE/SET are analyzed as a SELECT of their expression: point at the statement itself.
      error(stmt, declare || set ? {line: 1, column: 1} : at, at.message);
      continue;
    }
    if (declare || set) {
      // The value must coerce to the variable's type, as BigQuery assigns it.
      const types = outputTypes(response.decode());
      const values = set && /^SET\s*\(/i.test(body) ? splitTopLevel(set[2]) : [expression];
      let bad = null;
      names.forEach((n, i) => {
        const from = types[declare ? 0 : i];
        const to = declare ? declaredType || from : variables.get(n);
        if (!from || bad) return;
        if (!coerces(from, to, values[declare ? 0 : i] || '')) {
          bad = `Cannot coerce ${typeName(from)} to ${typeName(to)} for variable ${n}`;
        }
        if (declare) variables.set(n, to);
      });
      if (bad) {
        error(stmt, {line: 1, column: 1}, bad);
        continue;
      }
    }
    if (/^(CREATE|DROP)\b/i.test(text)) applyDdl(catalog, response.decode());
  }
  return result;
}

// BigQuery reads a name as a column when one is in scope, and as a script variable otherwise:
// the statement is analyzed with its names as written, and each one the analyzer does not
// recognize that is a variable becomes the query parameter @name, until it analyzes or fails
// otherwise. An error's position is given in the statement as written (e.at).
async function analyzeWithVariables(text, variables, analyze) {
  let current = text;
  let inserted = [];  // offsets in `current` where an '@' was added
  for (;;) {
    try {
      return await analyze(current);
    } catch (e) {
      const at = splitPosition(e.details || e.message);
      const unknown = /^Unrecognized name: (\w+)/.exec(at.message);
      const offset = offsetOf(current, at.line, at.column);
      const name = unknown && unknown[1].toLowerCase();
      if (name && variables.has(name) && !inserted.includes(offset) &&
          current.slice(offset, offset + name.length).toLowerCase() === name) {
        inserted = inserted.map(o => (o >= offset ? o + 1 : o));
        inserted.push(offset);
        current = current.slice(0, offset) + '@' + current.slice(offset);
        continue;
      }
      const original = offset - inserted.filter(o => o < offset).length;
      e.at = {...lineColumn(text, original), message: at.message};
      throw e;
    }
  }
}

function offsetOf(text, line, column) {
  let offset = 0;
  for (let l = 1; l < line; l++) offset = text.indexOf('\n', offset) + 1;
  return offset + column - 1;
}

// The types of the output columns of an analyzed SELECT.
function outputTypes(response) {
  const stmt = response.resolved_statement || {};
  const query = stmt.resolved_query_stmt_node || {};
  return (query.output_column_list || []).map(c => (c.column && c.column.type) || null);
}

// BigQuery's implicit coercions of a value into a variable: the same type, INT64 -> NUMERIC,
// BIGNUMERIC, FLOAT64; NUMERIC -> BIGNUMERIC, FLOAT64; a NULL literal to anything; a string
// literal to DATE, DATETIME, TIME, TIMESTAMP.
function coerces(from, to, valueText) {
  if (JSON.stringify(from) === JSON.stringify(to)) return true;
  const f = from.type_kind, t = to.type_kind;
  const value = valueText.trim().replace(/^\((.*)\)$/s, '$1').trim();
  if (/^NULL$/i.test(value)) return true;
  if (f === 'TYPE_INT64') return ['TYPE_NUMERIC', 'TYPE_BIGNUMERIC', 'TYPE_DOUBLE'].includes(t);
  if (f === 'TYPE_NUMERIC') return ['TYPE_BIGNUMERIC', 'TYPE_DOUBLE'].includes(t);
  if (f === 'TYPE_BIGNUMERIC') return t === 'TYPE_DOUBLE';
  if (f === 'TYPE_STRING' && /^(['"])[^'"]*\1$/.test(value)) {
    return ['TYPE_DATE', 'TYPE_DATETIME', 'TYPE_TIME', 'TYPE_TIMESTAMP'].includes(t);
  }
  return false;
}

function typeName(type) {
  const kind = String(type.type_kind).replace(/^TYPE_/, '');
  return kind === 'DOUBLE' ? 'FLOAT64' : kind;
}

// "a, f(b, c), 'x,y'" -> its top-level comma-separated parts.
function splitTopLevel(text) {
  const parts = [];
  let depth = 0, start = 0, quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\')
        i++;
      else if (c === quote)
        quote = null;
    } else if (c === '\'' || c === '"' || c === '`') {
      quote = c;
    } else if (c === '(' || c === '[') {
      depth++;
    } else if (c === ')' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

// The server builds a catalog's builtin functions when it is registered, which costs more than
// most analyses: statements naming the same tables (a table's days, its guard) share one.
async function registered(client, catalog, defaultProject, paths) {
  const key = JSON.stringify([defaultProject, paths.map(p => p.join('.').toLowerCase()).sort()]);
  if (!catalog.registered.has(key)) {
    const r = await call(
        client, 'registerCatalog', {simple_catalog: catalog.proto(defaultProject, paths)});
    catalog.registered.set(key, r.registered_id);
  }
  return catalog.registered.get(key);
}

// A CREATE TABLE ... AS SELECT adds its table with the columns the analyzer derived; DROP TABLE
// removes it: later statements see what BigQuery would.
function applyDdl(catalog, response) {
  const stmt = response.resolved_statement;
  if (!stmt) return;
  if (stmt.resolved_create_statement_node) {
    const base = stmt.resolved_create_statement_node.resolved_create_table_stmt_base_node;
    const table = base &&
        (base.resolved_create_table_as_select_stmt_node || base.resolved_create_table_stmt_node);
    if (table && table.parent && table.parent.parent && table.parent.parent.name_path) {
      catalog.set(
          table.parent.parent.name_path.join('.'),
          (table.parent.column_definition_list || []).map(c => ({
                                                            name: c.name,
                                                            type: c.type,
                                                            is_writable_column: true,
                                                          })));
    }
    return;
  }
  const drop = stmt.resolved_drop_stmt_node;
  if (drop && String(drop.object_type).toUpperCase() === 'TABLE')
    catalog.drop(drop.name_path.join('.'));
}

main().catch(e => fail(e.stack || e.message));
