using Microsoft.Extensions.Options;

namespace Sensing.Cockpit.Alerts;

/// <summary>
/// Looks for passed response deadlines every <see cref="ResponseDeadlineOptions.CheckEvery"/> on the alert book's
/// clock and has the book escalate them (<see cref="AlertBook.EscalateDueAsync"/>). A periodic timer rather than a
/// sleep until the next deadline: alerts come and go all the time, and a few seconds of lateness is nothing against
/// deadlines of minutes, while one timer created at start keeps a fake clock in tests free of races.
/// </summary>
public sealed class EscalationWatcher(
    AlertBook alerts,
    [FromKeyedServices(AlertBook.ClockKey)] TimeProvider time,
    IOptions<ResponseDeadlineOptions> options,
    ILogger<EscalationWatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Escalate)
        {
            logger.LogInformation("Escalation is left to another instance (Alerts:Deadlines:Escalate=false)");
            return;
        }
        using var timer = new PeriodicTimer(options.Value.CheckEvery, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await alerts.EscalateDueAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Not the store (a refused write is kept by the book and written later): something unforeseen, so the
                // watcher keeps ticking rather than leave every later deadline unwatched.
                logger.LogError(ex, "Could not escalate overdue alerts; trying again in {Interval}", options.Value.CheckEvery);
            }
        }
    }
}
