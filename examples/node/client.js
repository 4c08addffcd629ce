#!/usr/bin/env node
// podcache from Node.js: Set, Get, GetMany and Delete against the sidecar, with @grpc/grpc-js and
// @grpc/proto-loader (npm install in this folder). The protos are loaded at run time.
//   node client.js --addr 127.0.0.1:7070 --keyspace sessions
// Exits 0 when every step behaved as documented.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const definition = protoLoader.loadSync('podcache/v1/cache.proto', {
  includeDirs: [path.join(__dirname, '..', '..', 'proto')],
  keepCase: true, longs: Number, enums: String, defaults: true,
});
const { Cache } = grpc.loadPackageDefinition(definition).podcache.v1;

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 5000);
    client[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function main() {
  const addr = arg('addr', '127.0.0.1:7070');
  const keyspace = arg('keyspace', 'sessions');
  const client = new Cache(addr, grpc.credentials.createInsecure());
  const fail = (what) => { throw new Error(what); };

  await call(client, 'Set', { keyspace, key: Buffer.from('js:1'), value: Buffer.from('hello from node'), ttl_ms: 60000 });
  const got = await call(client, 'Get', { keyspace, key: Buffer.from('js:1') });
  console.log('get js:1 ->', got.value.toString(), 'source', got.source, 'ttl_ms', got.ttl_ms);
  if (got.value.toString() !== 'hello from node') fail('wrong value');

  await call(client, 'Set', { keyspace, key: Buffer.from('js:2'), value: Buffer.from('second') });
  const many = await call(client, 'GetMany', { keyspace, keys: ['js:1', 'js:2', 'js:none'].map((k) => Buffer.from(k)) });
  for (const r of many.results) console.log('getmany', r.key.toString(), '->', r.code, r.value.toString());
  if (many.results.map((r) => r.code).join() !== [0, 0, grpc.status.NOT_FOUND].join()) fail('wrong GetMany codes');

  await call(client, 'Delete', { keyspace, key: Buffer.from('js:1') });
  try {
    await call(client, 'Get', { keyspace, key: Buffer.from('js:1') });
    fail('js:1 still there after Delete');
  } catch (err) {
    if (err.code !== grpc.status.NOT_FOUND) throw err;
    console.log('get js:1 after delete -> NOT_FOUND');
  }
  client.close();
  console.log('node client: ok');
}

main().catch((err) => { console.error('node client failed:', err.message); process.exit(1); });
