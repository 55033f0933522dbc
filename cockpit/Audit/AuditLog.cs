using System.ComponentModel.DataAnnotations;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Sensing.Cockpit.Audit;

/// <summary>
/// Section <c>Audit</c>: <c>"Audit": { "Path": "data/audit.jsonl" }</c>. Default: <c>audit.jsonl</c> beside
/// <c>Store:Path</c>, so it lives (and is backed up) with the data it speaks about.
/// </summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    [Required] public string Path { get; set; } = "data/audit.jsonl";
}

/// <summary>
/// What an audit entry is about: <c>sign_in</c>, <c>alert</c> (an alert's action), <c>registry</c> (a change to devices or
/// households), <c>privacy</c> (a resident's contact read or changed, a household exported or erased).
/// </summary>
public static class AuditKinds
{
    public const string SignIn = "sign_in";
    public const string Alert = "alert";
    public const string Registry = "registry";
    public const string Privacy = "privacy";

    public static bool IsKnown(string kind) => kind is SignIn or Alert or Registry or Privacy;
}

/// <summary>How a sign-in attempt ended. Never with the password: not even a wrong one (it is often a near miss of the right one).</summary>
public static class SignInOutcomes
{
    public const string Success = "success";
    public const string WrongPassword = "wrong_password";
    public const string UnknownUser = "unknown_user";
    public const string RateLimited = "rate_limited";
    public const string Invalid = "invalid_request";
}

/// <summary>
/// One line of the audit log. <see cref="Action"/> is what was done (<c>sign_in</c>; an alert action such as
/// <c>acknowledged</c>; <c>upsert_device</c>, <c>mark_away</c>…), <see cref="Outcome"/> how it ended (sign-ins:
/// <see cref="SignInOutcomes"/>; changes that happened: <c>done</c>), <see cref="Subject"/> what it was done to (an
/// alert, device or household id), <see cref="Remote"/> the client's address (null for the system's own steps).
/// </summary>
public sealed record AuditEntry(
    DateTimeOffset At,
    string Kind,
    string Action,
    string Outcome,
    string? User,
    string? Role,
    string? Remote,
    string? Subject = null,
    string? Detail = null);

/// <summary>
/// The audit log: sign-in attempts, alert actions and registry changes, appended one JSON object per line to a file
/// (<see cref="AuditOptions.Path"/>) and written as a structured log event. A plain append-only file survives restarts,
/// needs no store (InfluxDB keeps no such records), and can be shipped or inspected with any tool. Read by admins
/// through <c>GET /api/audit</c>.
/// <para>
/// Every append reaches the operating system before the call returns, so it survives the process; sign-ins and registry
/// changes are also forced to disk (fsync: they are rare, rate-limited, and recorded nowhere else). Alert actions are
/// not forced: analytics can raise them in bursts, and each is stored with its alert in the same write anyway. A line
/// cut short by a crash is skipped when reading, and the next append starts on a line of its own.
/// </para>
/// </summary>
public sealed class AuditLog : IDisposable
{
    /// <summary>The file's JSON: snake_case, no nulls, so a line reads like the API's answer.</summary>
    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly Lock _gate = new();
    private readonly FileStream _file;
    private readonly TimeProvider _time;
    private readonly ILogger<AuditLog> _logger;

    public AuditLog(IOptions<AuditOptions> options, TimeProvider time, ILogger<AuditLog> logger)
    {
        _time = time;
        _logger = logger;
        FilePath = System.IO.Path.GetFullPath(options.Value.Path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(FilePath)!);
        // Readers open the file themselves (FileShare.ReadWrite); only this stream writes.
        _file = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 4096, FileOptions.None);
        if (_file.Length > 0 && LastByte(FilePath) != (byte)'\n')
        {
            // The previous process died mid-line: end it, so the next entry is a whole line.
            _file.WriteByte((byte)'\n');
            _file.Flush(flushToDisk: true);
        }
    }

    public string FilePath { get; }

    /// <summary>Now on the host's clock (wall clock: who did what, when).</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>A step a signed-in caller took over HTTP: by whom (the token's user and role), from where, done.</summary>
    public void Record(HttpContext http, string kind, string action, string subject, string? detail = null)
    {
        var caller = Access.CallerScope.Of(http.User);
        Record(new AuditEntry(Now, kind, action, "done", caller.User, caller.Role, http.Connection.RemoteIpAddress?.ToString(), subject, detail));
    }

    public void Record(AuditEntry entry)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(entry, s_json);
        try
        {
            lock (_gate)
            {
                _file.Write(line);
                _file.WriteByte((byte)'\n');
                _file.Flush(flushToDisk: entry.Kind != AuditKinds.Alert);
            }
        }
        catch (IOException ex)
        {
            // The action itself has happened (an alert acknowledged, a token issued): refusing it now would not undo it.
            // A full or failing disk is loud instead.
            _logger.LogError(ex, "Could not append to the audit log {Path}", FilePath);
        }
        var level = entry.Kind == AuditKinds.SignIn && entry.Outcome != SignInOutcomes.Success ? LogLevel.Warning : LogLevel.Information;
        _logger.Log(level, "Audit {Kind} {Action} {Outcome} by {User} ({Role}) from {Remote} on {Subject}: {Detail}",
            entry.Kind, entry.Action, entry.Outcome, entry.User, entry.Role, entry.Remote, entry.Subject, entry.Detail);
    }

    /// <summary>Entries at or after <paramref name="since"/>, of one kind or all, newest first, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<AuditEntry> Read(DateTimeOffset? since, string? kind, int limit)
    {
        // The newest `limit` matches of one pass over the file: memory stays at `limit` entries whatever its size.
        var newest = new Queue<AuditEntry>(Math.Min(limit, 1024));
        lock (_gate)
        {
            using var reader = new StreamReader(new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite), Encoding.UTF8);
            while (reader.ReadLine() is { } line)
            {
                if (line.Length == 0) continue;
                AuditEntry? entry;
                try
                {
                    entry = JsonSerializer.Deserialize<AuditEntry>(line, s_json);
                }
                catch (JsonException)
                {
                    continue; // a line cut short by a crash
                }
                if (entry is null || (since is not null && entry.At < since) || (kind is not null && entry.Kind != kind)) continue;
                newest.Enqueue(entry);
                if (newest.Count > limit) newest.Dequeue();
            }
        }
        return [.. newest.Reverse()];
    }

    public void Dispose() => _file.Dispose();

    private static int LastByte(string path)
    {
        using var read = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        if (read.Length == 0) return -1;
        read.Seek(-1, SeekOrigin.End);
        return read.ReadByte();
    }
}
