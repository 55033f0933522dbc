#!/usr/bin/env python3
# Puts each sample of `perf script -F comm,tid,ip,sym,dso` into the first stage of the service its stack passes through
# and prints the shares (benchmarks/README.md, "Where the time goes: CPU profile of the whole service").
# Usage: python3 benchmarks/profile/perf-stages.py perf.txt
import sys, collections
# Classifies each perf sample by stage, from its whole stack (innermost first), first matching rule wins.
rules = [
 ("GC", ["gc_heap", "WKS::", "SVR::", ".NET BGC", "GCHeap", "GarbageCollect"]),
 ("DuckDB store write (appender, SQL)", ["DuckDbReadingStore", "DuckDBAppender", "DuckDB.NET"]),
 ("DuckDB native (engine threads, unattributed)", ["libduckdb.so"]),
 ("Tiles", ["Sensing.Cockpit.Tiles", "TileBoard", "TileBroadcaster"]),
 ("Analytics", ["Sensing.Analytics"]),
 ("SignalR/ASP.NET", ["SignalR", "AspNetCore"]),
 ("Normalize", ["Sensing.Ingest.Normalization"]),
 ("Registry / consumption", ["Sensing.Ingest.Registry", "Sensing.Ingest.Consumption", "DeriveConsumption"]),
 ("Spool / store writer", ["Sensing.Ingest.Spool"]),
 ("Ingest pipeline (batching, ack)", ["Sensing.Ingest.Pipeline", "AcknowledgementFor"]),
 ("MQTT receive/ack (MQTTnet, intake, sockets)", ["MQTTnet", "Sensing.Ingest.Mqtt", "System.Net.Sockets", "__send", "__libc_recv", "tcp_", "sock_"]),
 ("Thread pool idle spin / yield", ["LowLevelLifoSemaphore", "__sched_yield", "ThreadPoolWorkQueue::Dispatch"]),
 ("JIT", ["libclrjit.so", ".NET Tiered Com"]),
]
samples = collections.Counter(); total = 0
block = []
def flush(block):
    global total
    if not block: return
    total += 1
    head, frames = block[0], block[1:]
    text = head + "\n" + "\n".join(frames)
    for name, keys in rules:
        if any(k in text for k in keys):
            samples[name] += 1; return
    # leaf dso
    leaf = frames[0] if frames else ""
    if "kallsyms" in leaf: samples["kernel (other)"] += 1
    elif "libc.so" in leaf: samples["libc (malloc etc., other)"] += 1
    elif "libcoreclr" in leaf: samples["runtime (other)"] += 1
    else: samples["other managed/unknown"] += 1
for line in open(sys.argv[1]):
    if not line.strip():
        flush(block); block = []; continue
    block.append(line.rstrip())
flush(block)
for k, v in samples.most_common(): print(f"{100*v/total:5.1f}%  {k}")
print("samples", total)
