// Anchor benchmark for datomspace's BenchmarkSessionGet: Holepunch Hypercore 11 (JavaScript)
// fetching single random blocks of a remote core on a replicating session. Two corestores in one
// process replicate over an in-process stream pair; the reader's clone knows the core's length
// (update({wait: true})) but holds no block, and each core.get(i) of a random block it does not
// hold is one request to the writer for that block and its proof. It prints one JSON line with
// the p50, p90 and p99 latency.
//
// Node resolves imports next to the script, so copy it into a scratch folder first:
//   mkdir -p /tmp/hc-get && cd /tmp/hc-get && npm init -y >/dev/null
//   npm i hypercore@11.37.1 corestore@7.12.5 && cp PATH/TO/hypercore-get.mjs .
//   node hypercore-get.mjs /tmp/hc-get/data 100000 1024 200
// Arguments: <data dir> [blocks] [block size] [reads]
import Corestore from 'corestore'
import fs from 'fs'

const dir = process.argv[2] || '/tmp/hc-get-bench'
const N = +(process.argv[3] || 100000)
const SIZE = +(process.argv[4] || 1024)
const READS = +(process.argv[5] || 200)
fs.rmSync(dir, { recursive: true, force: true })

const a = new Corestore(dir + '/a')
const core = a.get({ name: 'bench' })
await core.ready()
const block = Buffer.alloc(SIZE, 7)
for (let i = 0; i < N; i += 1000) {
  const batch = []
  for (let j = 0; j < 1000 && i + j < N; j++) batch.push(block)
  await core.append(batch)
}

const b = new Corestore(dir + '/b')
const clone = b.get({ key: core.key })
await clone.ready()
const s1 = a.replicate(true)
const s2 = b.replicate(false)
s1.pipe(s2).pipe(s1)
await clone.update({ wait: true })
if (clone.length !== N || clone.contiguousLength !== 0) throw new Error(`clone length ${clone.length}, contiguous ${clone.contiguousLength}`)

// A deterministic sequence of distinct random blocks (xorshift32).
let x = 2463534242
const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % N }
const seen = new Set()
const lat = []
for (let r = 0; r < READS; r++) {
  let i = next()
  while (seen.has(i)) i = next()
  seen.add(i)
  const t0 = process.hrtime.bigint()
  const data = await clone.get(i)
  lat.push(Number(process.hrtime.bigint() - t0) / 1e6)
  if (data.length !== SIZE) throw new Error(`block ${i} has ${data.length} bytes`)
}
lat.sort((p, q) => p - q)
const at = (f) => lat[Math.floor(lat.length * f)]
console.log(JSON.stringify({ op: 'get_remote_random', blocks: N, size: SIZE, reads: READS, p50_ms: at(0.5), p90_ms: at(0.9), p99_ms: at(0.99) }))
await a.close(); await b.close()
process.exit(0)
