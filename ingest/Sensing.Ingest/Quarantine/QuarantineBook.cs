using System.Collections.Concurrent;

namespace Sensing.Ingest.Quarantine;

/// <summary>One vendor source that sent messages no registry device is mapped to (yet).</summary>
/// <param name="Source">The vendor source id, e.g. <c>chirpstack:0004a30b001c0530</c>.</param>
/// <param name="Format">The format that quarantined it (<c>chirpstack</c>).</param>
/// <param name="Topic">The topic of its latest quarantined message.</param>
/// <param name="Messages">Quarantined messages since this process started (or since the book was restored from the store).</param>
public sealed record QuarantinedSource(string Source, string Format, string Topic, long Messages, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);

/// <summary>
/// What is in quarantine, by vendor source. A vendor message whose source id maps to no registry device is not
/// guessed into some community: it is dead-lettered with a reason built by <see cref="Reason"/> (the durable copy of
/// the message lives in the dead-letter store), and its source is booked here so admins can see what is waiting
/// (<c>GET /api/devices/quarantined</c>, <c>/metrics</c>) and so <see cref="QuarantineRelease"/> knows where to look
/// when the source is registered. Thread-safe: normalizers book, the API reads, the release service releases.
/// Bounded: a flood of made-up device ids is counted, but only the first <see cref="MaxSources"/> are listed.
/// </summary>
public sealed class QuarantineBook : IMetricsSource
{
    public const int MaxSources = 10_000;

    /// <summary>Every quarantine reason starts with this, followed by the source id and a space.</summary>
    public const string ReasonPrefix = "quarantined: unknown device ";

    private readonly ConcurrentDictionary<string, Entry> _sources = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _quarantinedByFormat = new(StringComparer.Ordinal);
    private long _replayed;
    private long _replayFailures;

    /// <summary>The dead-letter reason for a message of an unknown source; <see cref="SourceOf"/> reads the source back.</summary>
    public static string Reason(string source) =>
        $"{ReasonPrefix}{source} (register it with POST /api/devices and source={source}; its quarantined messages are then ingested)";

    /// <summary>The source id a quarantine reason names, or null for any other reason.</summary>
    public static string? SourceOf(string reason)
    {
        if (!reason.StartsWith(ReasonPrefix, StringComparison.Ordinal)) return null;
        var rest = reason.AsSpan(ReasonPrefix.Length);
        var end = rest.IndexOf(' ');
        return end <= 0 ? null : rest[..end].ToString();
    }

    public int Count => _sources.Count;

    /// <summary>Books one quarantined message of <paramref name="source"/>; returns the dead-letter reason for it.</summary>
    public string Hold(string source, string format, string topic, DateTimeOffset receivedAt)
    {
        Counted(format);
        Remember(source, format, topic, receivedAt, 1);
        return Reason(source);
    }

    /// <summary>
    /// Lists an unknown source seen in a message that is kept anyway (a heartbeat for many cameras, one channel of a
    /// meter whose other channels are registered): admins see it waiting, <c>/metrics</c> does not count a quarantined message.
    /// </summary>
    public void Note(string source, string format, string topic, DateTimeOffset receivedAt) => Remember(source, format, topic, receivedAt, 1);

    /// <summary>Counts one message dead-lettered as quarantined.</summary>
    public void Counted(string format) => _quarantinedByFormat.GetOrAdd(format, static _ => new StrongBox()).Increment();

    /// <summary>Books a message found in the dead-letter store after a restart, without counting it again in <c>/metrics</c>.</summary>
    public void Restore(string source, string format, string topic, DateTimeOffset receivedAt) => Remember(source, format, topic, receivedAt, 1);

    /// <summary>Forgets a source (it has been registered); returns what was known about it, or null.</summary>
    public QuarantinedSource? Release(string source) => _sources.TryRemove(source, out var entry) ? entry.View() : null;

    public QuarantinedSource? Find(string source) => _sources.TryGetValue(source, out var entry) ? entry.View() : null;

    public IReadOnlyList<QuarantinedSource> Sources =>
        [.. _sources.Values.Select(e => e.View()).OrderBy(s => s.Source, StringComparer.Ordinal)];

    internal void Replayed(int messages) => Interlocked.Add(ref _replayed, messages);

    internal void ReplayFailed() => Interlocked.Increment(ref _replayFailures);

    public long Quarantined(string format) => _quarantinedByFormat.TryGetValue(format, out var box) ? box.Value : 0;

    public long ReplayedMessages => Interlocked.Read(ref _replayed);

    public void Collect(ICollection<MetricSample> samples)
    {
        foreach (var (format, box) in _quarantinedByFormat.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            samples.Add(new("sensing_quarantined_messages_total", "Vendor messages dead-lettered as quarantined because their source maps to no registry device.", "counter",
                box.Value, $"format=\"{format}\""));
        }
        samples.Add(new("sensing_quarantined_sources", "Vendor sources with quarantined messages waiting for registration.", "gauge", _sources.Count));
        samples.Add(new("sensing_quarantine_replayed_total", "Quarantined messages re-ingested after their source was registered.", "counter", ReplayedMessages));
        samples.Add(new("sensing_quarantine_replay_failures_total", "Releases that could not read the dead-letter store (retried at the next registration or restart).", "counter",
            Interlocked.Read(ref _replayFailures)));
    }

    private void Remember(string source, string format, string topic, DateTimeOffset receivedAt, long messages)
    {
        if (!_sources.TryGetValue(source, out var entry))
        {
            if (_sources.Count >= MaxSources) return;
            entry = _sources.GetOrAdd(source, s => new Entry(s, format, topic, receivedAt));
        }
        entry.Add(format, topic, receivedAt, messages);
    }

    private sealed class StrongBox
    {
        private long _value;
        public long Value => Interlocked.Read(ref _value);
        public void Increment() => Interlocked.Increment(ref _value);
    }

    private sealed class Entry(string source, string format, string topic, DateTimeOffset seen)
    {
        private readonly Lock _lock = new();
        private string _format = format;
        private string _topic = topic;
        private long _messages;
        private DateTimeOffset _first = seen;
        private DateTimeOffset _last = seen;

        public void Add(string format, string topic, DateTimeOffset seen, long messages)
        {
            lock (_lock)
            {
                _messages += messages;
                if (seen < _first) _first = seen;
                if (seen >= _last)
                {
                    _last = seen;
                    _topic = topic;
                    _format = format;
                }
            }
        }

        public QuarantinedSource View()
        {
            lock (_lock) return new QuarantinedSource(source, _format, _topic, _messages, _first, _last);
        }
    }
}
