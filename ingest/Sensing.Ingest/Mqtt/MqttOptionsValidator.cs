using Microsoft.Extensions.Options;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;

namespace Sensing.Ingest.Mqtt;

/// <summary>
/// Checks <see cref="MqttOptions"/> at start (<c>ValidateOnStart</c>), beyond the data annotations: combinations that
/// cannot work, topic filters the broker would refuse, and the TLS files (loaded, so a wrong path or key fails the
/// start with the key's name instead of every connection attempt later).
/// </summary>
internal sealed class MqttOptionsValidator : IValidateOptions<MqttOptions>
{
    public ValidateOptionsResult Validate(string? name, MqttOptions options)
    {
        var failures = new List<string>();
        var tlsKeys = new (string Key, bool Set)[]
        {
            ("Mqtt:CaFile", !string.IsNullOrWhiteSpace(options.CaFile)),
            ("Mqtt:AllowUntrustedCertificates", options.AllowUntrustedCertificates),
            ("Mqtt:TlsServerName", !string.IsNullOrWhiteSpace(options.TlsServerName)),
            ("Mqtt:ClientCertificateFile", !string.IsNullOrWhiteSpace(options.ClientCertificateFile)),
            ("Mqtt:ClientKeyFile", !string.IsNullOrWhiteSpace(options.ClientKeyFile)),
        };
        if (options.Embedded && options.UseTls)
        {
            failures.Add("Mqtt:UseTls is for an external broker: set Mqtt:Embedded=false (the embedded broker listens without TLS).");
        }
        if (options.Embedded && !string.IsNullOrEmpty(options.SharedGroup))
        {
            failures.Add("Mqtt:SharedGroup needs an external broker with MQTT 5 shared subscriptions (mosquitto 2, EMQX, HiveMQ…): set Mqtt:Embedded=false; the embedded broker serves one ingest.");
        }
        if (!options.UseTls && tlsKeys.FirstOrDefault(k => k.Set) is { Key: { } tlsKey })
        {
            failures.Add($"{tlsKey} is set but Mqtt:UseTls is false: set Mqtt:UseTls=true to connect with TLS.");
        }
        if (options.AllowUntrustedCertificates && !string.IsNullOrWhiteSpace(options.CaFile))
        {
            failures.Add("Mqtt:AllowUntrustedCertificates and Mqtt:CaFile contradict each other: trust the CA (Mqtt:CaFile), or accept any certificate (test rigs only).");
        }
        if (!string.IsNullOrWhiteSpace(options.ClientKeyFile) && string.IsNullOrWhiteSpace(options.ClientCertificateFile))
        {
            failures.Add("Mqtt:ClientKeyFile is set without Mqtt:ClientCertificateFile.");
        }
        if (string.IsNullOrEmpty(options.Username) && !string.IsNullOrEmpty(options.Password))
        {
            failures.Add("Mqtt:Password is set without Mqtt:Username.");
        }
        if (options.SharedGroup is { } group && (group.Length == 0 || group.IndexOfAny(['/', '+', '#']) >= 0))
        {
            failures.Add($"Mqtt:SharedGroup '{group}' must be a non-empty name without '/', '+' or '#' (it becomes one level of $share/<group>/<filter>).");
        }

        CheckFilters(options.Topics, "Mqtt:Topics", failures);
        CheckFilters(options.UnsharedTopics, "Mqtt:UnsharedTopics", failures);
        foreach (var unshared in options.UnsharedTopics)
        {
            foreach (var shared in options.Topics)
            {
                if (TopicFilters.Overlap(shared, unshared))
                {
                    failures.Add($"Mqtt:UnsharedTopics '{unshared}' overlaps Mqtt:Topics '{shared}': a message matching both would reach ingest twice. Narrow Mqtt:Topics (e.g. sensing/+/gate/#, sensing/+/parking/#, sensing/+/camera/#).");
                }
            }
        }

        if (options.UseTls && failures.Count == 0)
        {
            try
            {
                BrokerTls.Load(options);
            }
            catch (InvalidOperationException e)
            {
                failures.Add(e.Message);
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckFilters(string[]? filters, string key, List<string> failures)
    {
        foreach (var filter in filters ?? [])
        {
            try
            {
                if (string.IsNullOrWhiteSpace(filter)) throw new MqttProtocolViolationException("empty");
                if (filter.StartsWith("$share/", StringComparison.Ordinal)) throw new MqttProtocolViolationException("set Mqtt:SharedGroup instead of writing $share/ into the filter");
                MqttTopicValidator.ThrowIfInvalidSubscribe(filter);
            }
            catch (MqttProtocolViolationException e)
            {
                failures.Add($"{key} '{filter}' is not a valid MQTT topic filter: {e.Message}");
            }
        }
    }
}

/// <summary>MQTT topic filter arithmetic the broker does not do for us.</summary>
public static class TopicFilters
{
    /// <summary>
    /// True when some topic matches both filters. Level by level: <c>#</c> matches whatever is left (also nothing:
    /// <c>a/#</c> matches <c>a</c>), <c>+</c> any one level, other levels must be equal.
    /// <c>sensing/#</c> and <c>sensing/+/meter/#</c> overlap; <c>sensing/+/gate/#</c> and <c>sensing/+/meter/#</c> do not.
    /// </summary>
    public static bool Overlap(string a, string b)
    {
        var left = a.Split('/');
        var right = b.Split('/');
        for (var i = 0; ; i++)
        {
            var l = i < left.Length ? left[i] : null;
            var r = i < right.Length ? right[i] : null;
            if (l == "#" || r == "#") return true;
            if (l is null || r is null) return l is null && r is null;
            if (l != "+" && r != "+" && l != r) return false;
        }
    }
}
