#!/usr/bin/env node
// Example Node.js client for the icp-scoring gRPC service (icp.v1.Scoring).
//
// As a library:
//   const icp = require('./client');
//   const client = icp.createClient('127.0.0.1:50051');
//   const result = await icp.score({ id: 'v-1', industry: 'Software' }, { client });
//   const { bundle_version, results } = await icp.scoreBatch([record1, record2], { client });
//   const stream = new icp.ScoreStream({ client });
//   const response = await stream.send([record1, record2]);   // one response per send, in order
//   await stream.end();
//
// As a script: JSON records (one per line, proto field names) from a file or stdin, one JSON
// Result per line on stdout:
//   node client.js --address 127.0.0.1:50051 --mode batch records.jsonl
//
// The .proto is loaded at run time (no generated code). Field names stay as in the .proto
// (keepCase: true); enums are strings ("HOLDS"); int64 values (ExplainedReason.points/weight,
// CriterionInfo.weight) are JS numbers, which is exact for the small integers the service uses;
// results carry every field, defaults included (qualified: false, score: 0, errors: []).
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const DEFAULT_ADDRESS = '127.0.0.1:50051';
const DEFAULT_DEADLINE_MS = 10000;
// Copying this client out of the repository? Point ICP_PROTO_PATH at your copy of scoring.proto.
const PROTO_PATH = process.env.ICP_PROTO_PATH || path.resolve(__dirname, '../../proto/icp/v1/scoring.proto');
const LOADER_OPTIONS = {
  keepCase: true, // record and result fields are named as in the .proto: funding_stage, bundle_version
  longs: Number, // int64 → number (the service's int64 values are small integers)
  enums: String, // Outcome → "HOLDS" | "FAILS" | "UNKNOWN"
  defaults: true, // decoded messages list every field: qualified: false, score: 0, errors: []
  oneofs: false,
};

const packageDefinition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
const icpV1 = grpc.loadPackageDefinition(packageDefinition).icp.v1;
const RECORD_FIELDS = new Set(packageDefinition['icp.v1.Record'].type.field.map((f) => f.name));
const RESULT_FIELDS = packageDefinition['icp.v1.Result'].type.field.map((f) => f.name);

// google.rpc.Status and google.rpc.BadRequest, the error details the server sends in the
// `grpc-status-details-bin` trailer. Declared here (a few fields) rather than shipping their
// .proto files; proto-loader builds the decoders from this JSON descriptor.
const statusTypes = protoLoader.fromJSON(
  {
    nested: {
      google: {
        nested: {
          protobuf: {
            nested: {
              Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
            },
          },
          rpc: {
            nested: {
              Status: {
                fields: {
                  code: { type: 'int32', id: 1 },
                  message: { type: 'string', id: 2 },
                  details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
                },
              },
              BadRequest: {
                fields: { field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 } },
                nested: {
                  FieldViolation: {
                    fields: { field: { type: 'string', id: 1 }, description: { type: 'string', id: 2 } },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
  LOADER_OPTIONS,
);
const BAD_REQUEST_TYPE_URL = 'type.googleapis.com/google.rpc.BadRequest';

/** A Scoring stub. Plaintext unless you pass `credentials` (grpc.credentials.createSsl(...)). */
function createClient(address = DEFAULT_ADDRESS, { credentials, channelOptions } = {}) {
  return new icpV1.Scoring(address, credentials || grpc.credentials.createInsecure(), channelOptions);
}

let sharedClient = null;

function clientFor(options) {
  if (options.client) return options.client;
  if (!sharedClient) sharedClient = createClient(options.address || process.env.ICP_ADDRESS || DEFAULT_ADDRESS);
  return sharedClient;
}

/** Close the shared client that score/scoreBatch/ScoreStream create when given no `client`. */
function close() {
  if (sharedClient) sharedClient.close();
  sharedClient = null;
}

function callOptions(options) {
  const ms = options.deadlineMs === undefined ? DEFAULT_DEADLINE_MS : options.deadlineMs;
  return ms ? { deadline: new Date(Date.now() + ms) } : {};
}

function batchRequest(records, options) {
  // An array is a list of Record objects; anything else is a ColumnarRecords object
  // ({ ids: [...], columns: [{ field, values: [...], present: [...] }] }).
  const request = { explain: !!options.explain, per_profile: !!options.perProfile };
  if (Array.isArray(records)) request.records = records;
  else request.columns = records;
  return request;
}

/**
 * Score one record. Resolves to the Result; rejects with the grpc-js error (use
 * `describeError(error)` for the code name and the field violations).
 * options: { client, address, deadlineMs, explain, perProfile }
 */
function score(record, options = {}) {
  const request = { record, explain: !!options.explain, per_profile: !!options.perProfile };
  return new Promise((resolve, reject) => {
    clientFor(options).Score(request, callOptions(options), (error, response) => {
      if (error) reject(error);
      else resolve(response.result);
    });
  });
}

/**
 * Score many records in one call: an array of Records, or a ColumnarRecords object. Resolves to
 * { bundle_version, results } (results in input order; a malformed record gets a Result with
 * `errors` instead of a score, the rest are scored).
 */
function scoreBatch(records, options = {}) {
  return new Promise((resolve, reject) => {
    clientFor(options).ScoreBatch(batchRequest(records, options), callOptions(options), (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}

/**
 * A ScoreStream call: `send(records)` writes one ScoreBatchRequest and resolves to its
 * ScoreBatchResponse (the server answers each request, in order), so several sends may be in
 * flight at once. `end()` half-closes and resolves when the server has finished. The deadline
 * (options.deadlineMs) covers the whole stream. A failure rejects every pending send and `end()`.
 */
class ScoreStream {
  constructor(options = {}) {
    this.options = options;
    this.pending = [];
    this.error = null;
    this.finished = new Promise((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    this.finished.catch(() => {}); // observed through end()
    this.call = clientFor(options).ScoreStream(callOptions(options));
    this.call.on('data', (response) => {
      const waiter = this.pending.shift();
      if (waiter) waiter.resolve(response);
    });
    this.call.on('error', (error) => this.fail(error));
    this.call.on('status', (status) => {
      if (status.code !== grpc.status.OK) return; // 'error' handles failures
      const unanswered = this.pending.splice(0);
      unanswered.forEach((w) => w.reject(new Error('the stream ended before answering this request')));
      this.resolveFinished();
    });
  }

  fail(error) {
    this.error = error;
    this.pending.splice(0).forEach((w) => w.reject(error));
    this.rejectFinished(error);
  }

  send(records) {
    if (this.error) return Promise.reject(this.error);
    const answer = new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
    answer.catch(() => {}); // the caller may await it later; don't report it as unhandled meanwhile
    this.call.write(batchRequest(records, this.options));
    return answer;
  }

  end() {
    this.call.end();
    return this.finished;
  }

  cancel() {
    this.call.cancel();
  }
}

/**
 * { code, codeName, message, violations: [{ field, description }] } for a grpc-js error. The
 * violations come from the google.rpc.BadRequest in the `grpc-status-details-bin` trailer
 * (INVALID_ARGUMENT for a malformed record, RESOURCE_EXHAUSTED naming the limit).
 */
function describeError(error) {
  const codeName = Object.keys(grpc.status).find((name) => grpc.status[name] === error.code) || String(error.code);
  const described = { code: error.code, codeName, message: error.details || error.message, violations: [] };
  const raw = error.metadata ? error.metadata.get('grpc-status-details-bin') : [];
  if (raw.length) {
    const status = statusTypes['google.rpc.Status'].deserialize(raw[0]);
    for (const detail of status.details) {
      if (detail.type_url === BAD_REQUEST_TYPE_URL) {
        const badRequest = statusTypes['google.rpc.BadRequest'].deserialize(detail.value);
        described.violations.push(...badRequest.field_violations.map(({ field, description }) => ({ field, description })));
      }
    }
  }
  return described;
}

function isGrpcError(error) {
  return typeof error.code === 'number' && 'details' in error && 'metadata' in error;
}

/** Human-readable lines for stderr: "CODE: message" then one line per field violation. */
function formatError(error) {
  if (!isGrpcError(error)) return error.message;
  const { codeName, message, violations } = describeError(error);
  return [`${codeName}: ${message}`, ...violations.map((v) => `  field ${v.field}: ${v.description}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `usage: node client.js [--address HOST:PORT] [--mode score|batch|stream] [--deadline-ms MS]
                      [--batch-size N] [--explain] [--per-profile] [FILE | -]

Reads JSON records (one per line, proto field names) from FILE or stdin and prints one JSON
Result per line. score: one Score call per record; batch: ScoreBatch calls of --batch-size
records; stream: one ScoreStream call sending batches of --batch-size records.
Exit status: 0 ok; 1 a call failed (score mode: any record); 2 bad usage or input.`;

function parseArgs(argv) {
  const args = { address: DEFAULT_ADDRESS, mode: 'score', deadlineMs: DEFAULT_DEADLINE_MS, batchSize: 500, explain: false, perProfile: false, input: '-' };
  const value = (i, name) => {
    if (i >= argv.length) throw new UsageError(`${name} needs a value`);
    return argv[i];
  };
  const positive = (text, name) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer, not '${text}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--address') args.address = value(++i, arg);
    else if (arg === '--mode') args.mode = value(++i, arg);
    else if (arg === '--deadline-ms') args.deadlineMs = positive(value(++i, arg), arg);
    else if (arg === '--batch-size') args.batchSize = positive(value(++i, arg), arg);
    else if (arg === '--explain') args.explain = true;
    else if (arg === '--per-profile') args.perProfile = true;
    else if (arg === '-h' || arg === '--help') args.help = true;
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else args.input = arg;
  }
  if (!['score', 'batch', 'stream'].includes(args.mode)) throw new UsageError(`--mode must be score, batch or stream, not '${args.mode}'`);
  return args;
}

class UsageError extends Error {}

async function* readRecords(input) {
  const source = input === '-' ? process.stdin : fs.createReadStream(input);
  const lines = readline.createInterface({ input: source, crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (!line.trim()) continue;
    let record;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`line ${number}: not JSON: ${error.message}`);
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new UsageError(`line ${number}: not a JSON object`);
    // protobufjs drops unknown keys silently; a typo would become a missing field.
    const unknown = Object.keys(record).filter((key) => !RECORD_FIELDS.has(key));
    if (unknown.length) throw new UsageError(`line ${number}: unknown Record field(s) ${unknown.join(', ')}`);
    yield { number, record };
  }
}

async function* chunks(items, size) {
  let chunk = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length) yield chunk;
}

function print(result) {
  // The .proto's field order (protobufjs lists repeated fields first), every field present.
  const ordered = Object.fromEntries(RESULT_FIELDS.map((name) => [name, result[name]]));
  process.stdout.write(`${JSON.stringify(ordered)}\n`);
}

async function main(argv) {
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = { client: createClient(args.address), deadlineMs: args.deadlineMs, explain: args.explain, perProfile: args.perProfile };
  try {
    if (args.mode === 'score') {
      let failed = 0;
      for await (const { number, record } of readRecords(args.input)) {
        try {
          print(await score(record, options));
        } catch (error) {
          if (!isGrpcError(error)) throw error;
          failed += 1;
          process.stderr.write(`line ${number}${record.id ? ` (id ${record.id})` : ''}: ${formatError(error)}\n`);
          if (error.code !== grpc.status.INVALID_ARGUMENT) return 1; // the call, not the record, failed
        }
      }
      return failed ? 1 : 0;
    }
    const batches = chunks(readRecords(args.input), args.batchSize);
    if (args.mode === 'batch') {
      for await (const batch of batches) {
        const response = await scoreBatch(batch.map((item) => item.record), options);
        response.results.forEach(print);
      }
      return 0;
    }
    const stream = new ScoreStream(options);
    const inFlight = [];
    try {
      for await (const batch of batches) {
        inFlight.push(stream.send(batch.map((item) => item.record)));
        if (inFlight.length >= 4) (await inFlight.shift()).results.forEach(print);
      }
      while (inFlight.length) (await inFlight.shift()).results.forEach(print);
      await stream.end();
    } catch (error) {
      stream.cancel();
      throw error;
    }
    return 0;
  } catch (error) {
    if (!isGrpcError(error)) throw error;
    process.stderr.write(`${formatError(error)}\n`);
    return 1;
  } finally {
    options.client.close();
  }
}

module.exports = { createClient, score, scoreBatch, ScoreStream, describeError, formatError, isGrpcError, close, PROTO_PATH, LOADER_OPTIONS };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`${error instanceof UsageError ? `${error.message}\n${USAGE}` : error.stack}\n`);
      process.exitCode = 2;
    },
  );
}
