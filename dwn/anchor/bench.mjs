// bench.mjs is the dwn-sdk-js 0.5.2 side of the DWN benchmarks (dwn/dwntest/bench.go): the same
// work on a Dwn with its LevelDB stores in Node.
//
//   RecordsWrite with 1 KiB of data: writes/s, messages signed before the clock starts.
//   RecordsQuery by schema over 10,000 records (and 1,000 others): median latency.
//
// Usage: node bench.mjs [writes] [queries]   (run.sh installs the packages in a scratch folder)
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as ed from '@noble/ed25519';
import { base58btc } from 'multiformats/bases/base58';
import {
  DataStoreLevel, DataStream, Dwn, EventEmitterStream, EventLogLevel, MessageStoreLevel,
  PrivateKeySigner, RecordsQuery, RecordsWrite, ResumableTaskStoreLevel,
} from '@tbd54566975/dwn-sdk-js';
import { DidDht, DidJwk, DidKey, DidResolverCacheLevel, DidWeb, UniversalResolver } from '@web5/dids';

const writes = Number(process.argv[2] ?? 2000);
const queries = Number(process.argv[3] ?? 20);
const b64u = (b) => Buffer.from(b).toString('base64url');

async function persona(n) {
  const d = new Uint8Array(32).fill(n);
  const x = await ed.getPublicKeyAsync(d);
  const mb = base58btc.encode(new Uint8Array([0xed, 0x01, ...x]));
  const did = 'did:key:' + mb;
  const keyId = did + '#' + mb;
  return { did, signer: new PrivateKeySigner({ privateJwk: { kty: 'OKP', crv: 'Ed25519', x: b64u(x), d: b64u(d) }, keyId, algorithm: 'EdDSA' }) };
}

let clock = Date.UTC(2025, 0, 1);
// the resolver dwn-sdk-js makes by default, made once: two Dwns cannot share its cache's folder
const cacheDir = fs.mkdtempSync('/tmp/dwn-bench-cache-');
const didResolver = new UniversalResolver({ didResolvers: [DidDht, DidJwk, DidKey, DidWeb], cache: new DidResolverCacheLevel({ location: cacheDir + '/RESOLVERCACHE' }) });
const ts = () => new Date(clock++).toISOString().replace('Z', '000Z');

async function openDwn() {
  const dir = fs.mkdtempSync('/tmp/dwn-bench-');
  const dwn = await Dwn.create({
    messageStore: new MessageStoreLevel({ blockstoreLocation: dir + '/MS', indexLocation: dir + '/MI' }),
    dataStore: new DataStoreLevel({ blockstoreLocation: dir + '/DS' }),
    eventLog: new EventLogLevel({ location: dir + '/EL' }),
    resumableTaskStore: new ResumableTaskStoreLevel({ location: dir + '/RT' }),
    eventStream: new EventEmitterStream(),
    didResolver,
  });
  return { dwn, dir };
}

const alice = await persona(1);

// writes
{
  const data = new TextEncoder().encode('0123456789abcdef'.repeat(64));
  const msgs = [];
  for (let i = 0; i < writes; i++) {
    const t = ts();
    msgs.push((await RecordsWrite.create({ signer: alice.signer, data, dataFormat: 'application/octet-stream', schema: 'https://example.com/bench', messageTimestamp: t, dateCreated: t })).message);
  }
  const { dwn, dir } = await openDwn();
  const t0 = performance.now();
  for (const m of msgs) {
    const r = await dwn.processMessage(alice.did, m, { dataStream: DataStream.fromBytes(data) });
    if (r.status.code !== 202) throw new Error(JSON.stringify(r.status));
  }
  const s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ bench: 'RecordsWrite1KiB', writes, seconds: s, writesPerSecond: writes / s }));
  await dwn.close();
  fs.rmSync(dir, { recursive: true });
}

// queries over 10,000 records
{
  const { dwn, dir } = await openDwn();
  const data = new TextEncoder().encode('{"n":1}');
  for (let i = 0; i < 11000; i++) {
    const t = ts();
    const schema = i % 11 === 10 ? 'https://example.com/other' : 'https://example.com/bench';
    const m = (await RecordsWrite.create({ signer: alice.signer, data, dataFormat: 'application/json', schema, messageTimestamp: t, dateCreated: t })).message;
    const r = await dwn.processMessage(alice.did, m, { dataStream: DataStream.fromBytes(data) });
    if (r.status.code !== 202) throw new Error(JSON.stringify(r.status));
  }
  const times = [];
  let n = 0;
  for (let i = 0; i < queries; i++) {
    const q = (await RecordsQuery.create({ signer: alice.signer, filter: { schema: 'https://example.com/bench' }, messageTimestamp: ts() })).message;
    const t0 = performance.now();
    const r = await dwn.processMessage(alice.did, q);
    times.push(performance.now() - t0);
    n = r.entries.length;
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ bench: 'RecordsQuery10k', records: n, queries, p50ms: times[Math.floor(times.length / 2)] }));
  await dwn.close();
  fs.rmSync(dir, { recursive: true });
}
fs.rmSync(cacheDir, { recursive: true });
