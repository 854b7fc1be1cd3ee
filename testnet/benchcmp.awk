# benchcmp.awk: prints datomspace's benchmark figures beside the JavaScript anchor's, with ratios.
# usage: awk -f benchcmp.awk anchor.txt bench.txt
# anchor.txt holds the anchors' JSON lines (the plain replication's 1 KiB run first, then 64 KiB);
# bench.txt is `go test -bench` output. Kubo's figures come from the blob benchmarks themselves.
FNR == NR {
	if ($0 ~ /"op":"append_batched"/ && !("batched" in anchor)) anchor["batched"] = num($0, "blocks_per_s")
	if ($0 ~ /"op":"append_single"/ && !("single" in anchor)) anchor["single"] = num($0, "blocks_per_s")
	if ($0 ~ /"op":"replicate_encrypted"/) anchor["replenc"] = num($0, "MBps")
	if ($0 ~ /"bench":"RecordsWrite1KiB"/) anchor["dwn_writes"] = num($0, "writesPerSecond")
	if ($0 ~ /"bench":"RecordsQuery10k"/) anchor["dwn_query"] = num($0, "p50ms")
	if ($0 ~ /"op":"get_remote_random"/) anchor["get_p50"] = num($0, "p50_ms")
	if ($0 ~ /"op":"replicate_full"/) {
		if (!("repl1k" in anchor)) anchor["repl1k"] = num($0, "blocks_per_s")
		else anchor["repl64k"] = num($0, "MBps")
	}
	next
}
# A benchmark run several times (-count N) is summarised by its median; spread[] keeps min–max.
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) {
		k = name SUBSEP $(i+1)
		cnt[k]++; sample[k, cnt[k]] = $i + 0
		val[k] = median(k)
		spread[k] = cnt[k] > 1 ? sprintf("median of %d, %s–%s", cnt[k], short(lo(k)), short(hi(k))) : ""
	}
}
function median(k,   a, m, i, j, t) {
	m = cnt[k]
	for (i = 1; i <= m; i++) a[i] = sample[k, i]
	for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
}
function lo(k,   i, v) { v = sample[k, 1]; for (i = 2; i <= cnt[k]; i++) if (sample[k, i] < v) v = sample[k, i]; return v }
function hi(k,   i, v) { v = sample[k, 1]; for (i = 2; i <= cnt[k]; i++) if (sample[k, i] > v) v = sample[k, i]; return v }
function short(v) { return v >= 10000 ? sprintf("%.0fk", v / 1000) : sprintf("%.0f", v) }
function num(line, key,   m) {
	if (match(line, "\"" key "\":[0-9.e+]+")) { m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3); return m + 0 }
	return 0
}
function lower(what, ours, theirs, unit, target) { # a time: lower is better; the ratio is theirs / ours
	if (ours == "" || theirs == 0) return
	printf "%-52s %11.2f %s %11.2f %s %8.1fx   (target %s)\n", what, ours, unit, theirs, unit, theirs / ours, target
}
function row(what, ours, theirs, target, k) {
	if (ours == "" || theirs == 0) return
	printf "%-52s %14.0f %14.0f %8.1fx   (target %s)%s\n", what, ours, theirs, ours / theirs, target, \
		spread[k] != "" ? "  [" spread[k] "]" : ""
}
END {
	printf "\n%-52s %14s %14s %9s\n", "figure", "datomspace", "hypercore", "ratio"
	row("batched append 1 KiB x1000, durable (blocks/s)", val["BenchmarkAppendBatched/durable", "blocks/s"], anchor["batched"], ">= 10x")
	row("batched append 1 KiB x1000, bulk (blocks/s)", val["BenchmarkAppendBatched/bulk", "blocks/s"], anchor["batched"], ">= 10x")
	row("single appends, 8 writers, durable (appends/s)", val["BenchmarkAppendConcurrent", "appends/s"], anchor["single"], ">= 5x")
	row("replicate 100k x 1 KiB, synced at end (blocks/s)", val["BenchmarkDownload1KiB", "blocks/s"], anchor["repl1k"], ">= 20x", "BenchmarkDownload1KiB" SUBSEP "blocks/s")
	row("replicate 2k x 64 KiB, synced at end (MB/s)", val["BenchmarkDownload64KiB", "MB/s"], anchor["repl64k"], ">= 3x", "BenchmarkDownload64KiB" SUBSEP "MB/s")
	if (val["BenchmarkFirstBlock", "ms/first-block"] != "")
		printf "%-52s %14.2f ms   (target < 50 ms)\n", "connect to first verified block", val["BenchmarkFirstBlock", "ms/first-block"]
	if (val["BenchmarkLiveAppend", "p50-ms"] != "")
		printf "%-52s %14.2f ms   (target p50 < 5 ms)\n", "live append to follower, p50", val["BenchmarkLiveAppend", "p50-ms"]
	if (val["BenchmarkFindProviders", "median-ms"] != "")
		printf "%-52s %14.2f ms   (target < 50 ms)\n", "DHT find providers, 20 peers, median", val["BenchmarkFindProviders", "median-ms"]
	if (val["BenchmarkTransact/durable", "datoms/s"] != "")
		printf "%-52s %14.0f   (target >= 200000/s)\n", "transact 1M datoms x1000/tx, indexed, durable", val["BenchmarkTransact/durable", "datoms/s"]
	if (val["BenchmarkTransact/nondurable", "datoms/s"] != "")
		printf "%-52s %14.0f\n", "transact 1M datoms x1000/tx, indexed, bulk", val["BenchmarkTransact/nondurable", "datoms/s"]
	if (val["BenchmarkIndexWritesOnly", "datoms/s"] != "")
		printf "%-52s %14.0f\n", "  Badger floor: the same index keys written alone", val["BenchmarkIndexWritesOnly", "datoms/s"]
	if (val["BenchmarkMillion/pull", "p50-µs"] != "")
		printf "%-52s %14.1f µs   (target p50 < 50 µs)\n", "pull by entity, 1M datoms, p50", val["BenchmarkMillion/pull", "p50-µs"]
	j = val["BenchmarkMillion/join", "ms/query"]; n = val["BenchmarkMillion/join-naive-log-scan", "ns/op"]
	if (j != "")
		printf "%-52s %14.1f ms   (target < 100 ms)\n", "two-clause join over 1M datoms, column cache warm", j
	if (val["BenchmarkMillion/join", "first-ms"] != "")
		printf "%-52s %14.1f ms, second %.1f ms, third (during the build) %.1f ms\n", "  first query", val["BenchmarkMillion/join", "first-ms"], val["BenchmarkMillion/join", "second-ms"], val["BenchmarkMillion/join", "third-ms"]
	if (val["BenchmarkMillion/join", "max-ms"] != "")
		printf "%-52s %14.1f ms   (target < 100 ms)\n", "  slowest of the twenty queries", val["BenchmarkMillion/join", "max-ms"]
	if (val["BenchmarkMillion/join-uncached", "ns/op"] != "")
		printf "%-52s %14.1f ms\n", "  with the column cache off", val["BenchmarkMillion/join-uncached", "ns/op"] / 1e6
	if (j != "" && n != "")
		printf "%-52s %14.1fx   (target >= 50x)\n", "join vs naive scan of the log", n / 1e6 / j
	if (val["BenchmarkProofRandomBlock", "proofs/s"] != "")
		printf "%-52s %14.0f   (target >= 20000/s)\n", "proof gen+verify, random block of 1M (proofs/s)", val["BenchmarkProofRandomBlock", "proofs/s"]
	printf "\n%-52s %14s %14s %9s\n", "SDK, encryption", "datomspace", "hypercore", "ratio"
	lower("Get of a random block of a remote 100k core, p50", val["BenchmarkSessionGet", "p50-ms"], anchor["get_p50"], "ms", "p50 < 5 ms")
	pe = val["BenchmarkEncryptedReplication/plain/download", "MB/s"]; ee = val["BenchmarkEncryptedReplication/encrypted/download", "MB/s"]
	row("replicate 2k x 64 KiB encrypted (MB/s)", ee, anchor["replenc"], ">= 3x")
	if (pe != "" && ee != "")
		printf "%-52s %13.0f%%   (target >= 80%% of plain, %.0f MB/s)\n", "  encrypted vs plain", 100 * ee / pe, pe
	printf "\n%-52s %14s %14s %9s\n", "blobs (Kubo v0.39 in the same run)", "datomspace", "kubo", "ratio"
	lower("add 256 MiB of random bytes", val["BenchmarkAdd256MiB", "s/add"], val["BenchmarkAdd256MiB", "kubo-s"], "s", ">= 1.5x")
	lower("fetch 256 MiB between two peers, fast path", val["BenchmarkFetch256MiB", "fast-s"], val["BenchmarkFetch256MiB", "kubo-s"], "s", ">= 5x")
	lower("fetch 256 MiB between two peers, bitswap", val["BenchmarkFetch256MiB", "bitswap-s"], val["BenchmarkFetch256MiB", "kubo-s"], "s", ">= 1x")
	if (val["BenchmarkFetchRSS1GiB", "peak-RSS-MB"] != "")
		printf "%-52s %14.0f MB   (target < 200 MB)\n", "peak RSS of the fetching process, 1 GiB", val["BenchmarkFetchRSS1GiB", "peak-RSS-MB"]
	printf "\n%-52s %14s %14s %9s\n", "DWN (dwn-sdk-js 0.5.2, LevelDB, in the same run)", "datomspace", "dwn-sdk-js", "ratio"
	row("RecordsWrite, 1 KiB data, on cores (writes/s)", val["BenchmarkRecordsWrite", "writes/s"], anchor["dwn_writes"], ">= 3x")
	lower("RecordsQuery over 10,000 records by schema, p50", val["BenchmarkRecordsQuery", "p50-ms"], anchor["dwn_query"], "ms", ">= 3x")
	if (val["BenchmarkSync10k", "records/s"] != "")
		printf "%-52s %14.0f records/s (10,000 records in %.1f s; no anchor)\n", "a second node syncs 10,000 records", val["BenchmarkSync10k", "records/s"], 10000 / val["BenchmarkSync10k", "records/s"]
	printf "\n%s\n", "data assets"
	if (val["BenchmarkDecide", "ns/op"] != "")
		printf "%-52s %14.1f µs   (target < 100 µs)\n", "grant check per session open", val["BenchmarkDecide", "ns/op"] / 1000
	if (val["BenchmarkCheckProof1M", "ns/op"] != "")
		printf "%-52s %14.2f ms   (target < 5 ms)\n", "check-proof on a 1M-block core", val["BenchmarkCheckProof1M", "ns/op"] / 1e6
	printf "\n%s\n", "DOIP"
	if (val["BenchmarkRetrievePipelined", "ops/s"] != "")
		printf "%-52s %14.0f   (target >= 5000/s)\n", "Retrieve of a small object, pipelined on TLS (ops/s)", val["BenchmarkRetrievePipelined", "ops/s"]
	if (val["BenchmarkRetrieveLargeElement", "MB/s"] != "")
		printf "%-52s %14.0f   (target >= 200 MB/s)\n", "Retrieve of a 100 MiB element (MB/s)", val["BenchmarkRetrieveLargeElement", "MB/s"]
	if (val["BenchmarkSearch100k", "p50-ms"] != "")
		printf "%-52s %14.1f ms   (target p50 < 20 ms)\n", "Search over 100,000 objects, two terms, p50", val["BenchmarkSearch100k", "p50-ms"]
	if (val["BenchmarkOpenManyCores", "open-s"] != "")
		printf "%-52s %14.3f s, %.1f MB peak RSS   (target < 0.5 s, < 150 MB)\n", "open 10,000-core store + one header", val["BenchmarkOpenManyCores", "open-s"], val["BenchmarkOpenManyCores", "peak-RSS-MB"]
}
