using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sensing.Testing;

/// <summary>Keeps every log line (Information and above) of a host or a component, so a test can count how often something was reported.</summary>
public sealed class LogBook : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Lines { get; } = new();

    public int Count(LogLevel level, string contains) => Lines.Count(l => l.Level == level && l.Message.Contains(contains, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogBook book, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) book.Lines.Enqueue((logLevel, category, formatter(state, exception)));
        }
    }
}
