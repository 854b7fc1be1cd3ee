// Anchor benchmark: replication of an encrypted core in Holepunch Hypercore 11 (JavaScript), the
// reference for datomspace's BenchmarkEncryptedReplication (protocols/bench_encrypted_test.go).
// A writer corestore appends blocks to a core opened with an encryption key (Hypercore's
// default scheme); a second corestore in the same process, given the same key, downloads every
// block over an in-process stream pair. It then reads every block back (decrypting it). It
// prints one JSON line: op "replicate_encrypted", the download's MBps, and the read's read_MBps.
//
// Node resolves imports next to the script, so copy it into a scratch folder first:
//   mkdir -p /tmp/hc-enc && cd /tmp/hc-enc && npm init -y >/dev/null
//   npm i hypercore@11.37.1 corestore@7.12.5 && cp PATH/TO/testnet/anchor/hypercore-encrypted.mjs .
//   node hypercore-encrypted.mjs /tmp/hc-enc/data 2000 65536 100
// Arguments: <data dir> [blocks] [block size] [batch size]
import Corestore from 'corestore'
import fs from 'fs'

const dir = process.argv[2] || '/tmp/hc-enc-bench'
const N = +(process.argv[3] || 2000)
const SIZE = +(process.argv[4] || 65536)
const BATCH = +(process.argv[5] || 100)
fs.rmSync(dir, { recursive: true, force: true })

const encryptionKey = Buffer.alloc(32, 0x42)
const a = new Corestore(dir + '/a')
const core = a.get({ name: 'bench-enc', encryption: { key: encryptionKey } })
await core.ready()
const block = Buffer.alloc(SIZE, 7)
for (let i = 0; i < N; i += BATCH) {
  const batch = []
  for (let j = 0; j < BATCH && i + j < N; j++) batch.push(block)
  await core.append(batch)
}

const b = new Corestore(dir + '/b')
const clone = b.get({ key: core.key, encryption: { key: encryptionKey } })
await clone.ready()
const s1 = a.replicate(true)
const s2 = b.replicate(false)
s1.pipe(s2).pipe(s1)
let t0 = process.hrtime.bigint()
await clone.update({ wait: true })
await clone.download({ start: 0, end: core.length }).done()
const s = Number(process.hrtime.bigint() - t0) / 1e9

t0 = process.hrtime.bigint()
let ok = true
for (let i = 0; i < N; i++) {
  const got = await clone.get(i)
  if (i === 0 || i === N - 1) ok = ok && got.equals(block)
}
const r = Number(process.hrtime.bigint() - t0) / 1e9
const stored = clone.state.byteLength // padding included, as the Merkle tree counts it

console.log(JSON.stringify({
  op: 'replicate_encrypted', blocks: clone.contiguousLength, size: SIZE, seconds: s,
  blocks_per_s: clone.contiguousLength / s, MBps: clone.contiguousLength * SIZE / s / 1e6,
  read_seconds: r, read_MBps: N * SIZE / r / 1e6, plaintext_ok: ok,
  byteLength: clone.byteLength, storedByteLength: stored
}))
await a.close(); await b.close()
process.exit(ok ? 0 : 1)
