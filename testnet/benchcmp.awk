# benchcmp.awk: prints datomspace's benchmark figures beside the JavaScript anchor's, with ratios.
# usage: awk -f benchcmp.awk anchor.txt bench.txt
# anchor.txt holds the anchor's JSON lines (1 KiB run first, then 64 KiB); bench.txt is `go test -bench` output.
FNR == NR {
	if ($0 ~ /"op":"append_batched"/ && !("batched" in anchor)) anchor["batched"] = num($0, "blocks_per_s")
	if ($0 ~ /"op":"append_single"/ && !("single" in anchor)) anchor["single"] = num($0, "blocks_per_s")
	if ($0 ~ /"op":"replicate_full"/) {
		if (!("repl1k" in anchor)) anchor["repl1k"] = num($0, "blocks_per_s")
		else anchor["repl64k"] = num($0, "MBps")
	}
	next
}
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) val[name, $(i+1)] = $i
}
function num(line, key,   m) {
	if (match(line, "\"" key "\":[0-9.e+]+")) { m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3); return m + 0 }
	return 0
}
function row(what, ours, theirs, target) {
	if (ours == "" || theirs == 0) return
	printf "%-52s %14.0f %14.0f %8.1fx   (target %s)\n", what, ours, theirs, ours / theirs, target
}
END {
	printf "\n%-52s %14s %14s %9s\n", "figure", "datomspace", "hypercore", "ratio"
	row("batched append 1 KiB x1000, durable (blocks/s)", val["BenchmarkAppendBatched/durable", "blocks/s"], anchor["batched"], ">= 10x")
	row("batched append 1 KiB x1000, bulk (blocks/s)", val["BenchmarkAppendBatched/bulk", "blocks/s"], anchor["batched"], ">= 10x")
	row("single appends, 8 writers, durable (appends/s)", val["BenchmarkAppendConcurrent", "appends/s"], anchor["single"], ">= 5x")
	row("replicate 100k x 1 KiB (blocks/s)", val["BenchmarkReplicate1KiB", "blocks/s"], anchor["repl1k"], ">= 20x")
	row("replicate 2k x 64 KiB (MB/s)", val["BenchmarkReplicate64KiB", "MB/s"], anchor["repl64k"], ">= 3x")
	if (val["BenchmarkProofRandomBlock", "proofs/s"] != "")
		printf "%-52s %14.0f   (target >= 20000/s)\n", "proof gen+verify, random block of 1M (proofs/s)", val["BenchmarkProofRandomBlock", "proofs/s"]
	if (val["BenchmarkOpenManyCores", "open-s"] != "")
		printf "%-52s %14.3f s, %.1f MB peak RSS   (target < 0.5 s, < 150 MB)\n", "open 10,000-core store + one header", val["BenchmarkOpenManyCores", "open-s"], val["BenchmarkOpenManyCores", "peak-RSS-MB"]
}
