namespace Sensing.Ingest.Pipeline;

/// <summary>Ingest's counters and its view of health, for <c>/metrics</c> and <c>/healthz</c>.</summary>
public sealed class IngestMetrics(IngestQueue queue) : IMetricsSource
{
    private long _received;
    private long _stored;
    private long _acknowledged;
    private long _taken;
    private long _clockAhead;
    private long _clockBehind;
    private long _deadLetters;
    private long _storeWrites;
    private long _storeWriteTicks;
    private long _storeFailures;
    private int _brokerConnected;
    private int _storeHealthy = 1;

    public long MessagesReceived => Interlocked.Read(ref _received);
    public long ReadingsStored => Interlocked.Read(ref _stored);
    /// <summary>Messages the pipeline has made durable and acknowledged (or, for QoS 0, finished with).</summary>
    public long MessagesAcknowledged => Interlocked.Read(ref _acknowledged);
    public long DeadLetters => Interlocked.Read(ref _deadLetters);
    public bool BrokerConnected => Volatile.Read(ref _brokerConnected) == 1;
    public bool StoreHealthy => Volatile.Read(ref _storeHealthy) == 1;
    /// <summary>True once the pipeline has seeded its state from the store and is taking messages.</summary>
    public bool PipelineReady { get; internal set; }
    /// <summary>
    /// Messages received and not yet acknowledged: those waiting in the queue and those in the pipeline's batches
    /// (being normalized, written or acknowledged).
    /// </summary>
    public int QueueDepth => queue.Depth + (int)Math.Max(0, Interlocked.Read(ref _taken) - Interlocked.Read(ref _acknowledged));

    internal void Received() => Interlocked.Increment(ref _received);
    internal void ClockSkewed(bool ahead) => Interlocked.Increment(ref ahead ? ref _clockAhead : ref _clockBehind);
    public long ClockSkewedMessages(bool ahead) => Interlocked.Read(ref ahead ? ref _clockAhead : ref _clockBehind);
    internal void Taken(int count) => Interlocked.Add(ref _taken, count);
    internal void Acknowledged(int count) => Interlocked.Add(ref _acknowledged, count);
    internal void DeadLettered(int count) => Interlocked.Add(ref _deadLetters, count);
    internal void SetBrokerConnected(bool connected) => Volatile.Write(ref _brokerConnected, connected ? 1 : 0);

    internal void StoreWritten(int readings, TimeSpan took)
    {
        Interlocked.Add(ref _stored, readings);
        Interlocked.Increment(ref _storeWrites);
        Interlocked.Add(ref _storeWriteTicks, took.Ticks);
        Volatile.Write(ref _storeHealthy, 1);
    }

    internal void StoreFailed()
    {
        Interlocked.Increment(ref _storeFailures);
        Volatile.Write(ref _storeHealthy, 0);
    }

    public void Collect(ICollection<MetricSample> samples)
    {
        samples.Add(new("sensing_messages_received_total", "MQTT messages taken in by ingest.", "counter", MessagesReceived));
        samples.Add(new("sensing_messages_acknowledged_total", "Messages made durable (store or spool) and then acknowledged to the broker.", "counter", MessagesAcknowledged));
        samples.Add(new("sensing_readings_stored_total", "Readings durably written to the store.", "counter", ReadingsStored));
        samples.Add(new("sensing_deadletters_total", "Messages dead-lettered with a reason.", "counter", DeadLetters));
        samples.Add(new("sensing_clock_skew_deadletters_total", "Messages dead-lettered because their reading time lay beyond Ingest:MaxClockAheadSeconds / MaxClockBehindSeconds of their receipt.", "counter", ClockSkewedMessages(true), "direction=\"ahead\""));
        samples.Add(new("sensing_clock_skew_deadletters_total", "Messages dead-lettered because their reading time lay beyond Ingest:MaxClockAheadSeconds / MaxClockBehindSeconds of their receipt.", "counter", ClockSkewedMessages(false), "direction=\"behind\""));
        samples.Add(new("sensing_store_writes_total", "Batch writes to the store.", "counter", Interlocked.Read(ref _storeWrites)));
        samples.Add(new("sensing_store_write_seconds_total", "Time spent in store batch writes; divide by sensing_store_writes_total for the mean latency.", "counter",
            TimeSpan.FromTicks(Interlocked.Read(ref _storeWriteTicks)).TotalSeconds));
        samples.Add(new("sensing_store_write_failures_total", "Store batch writes that failed and were retried.", "counter", Interlocked.Read(ref _storeFailures)));
        samples.Add(new("sensing_ingest_queue_depth", "Messages received but not yet stored (unacknowledged at the broker).", "gauge", QueueDepth));
        samples.Add(new("sensing_broker_connected", "1 when ingest's MQTT client is connected.", "gauge", BrokerConnected ? 1 : 0));
    }
}
