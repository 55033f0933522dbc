using Microsoft.AspNetCore.SignalR;

namespace Sensing.Cockpit.Hubs;

/// <summary>
/// Logs hub method failures by what they are. A <see cref="HubException"/> is a refusal the caller is meant to read
/// ("already resolved", "not in your grids"): a worker tapping twice is routine, so it is logged as information.
/// Anything else is a fault and is logged as an error. SignalR's own dispatcher logs every failure, refusals
/// included, as an error with a stack trace, so <see cref="CockpitHost"/> quiets that category and this filter
/// takes its place.
/// </summary>
internal sealed class HubRefusalLog(ILogger<HubRefusalLog> logger) : IHubFilter
{
    /// <summary>The category whose "Failed to invoke hub method" error this filter replaces.</summary>
    public const string DispatcherCategory = "Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher";

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            return await next(invocationContext);
        }
        catch (HubException ex)
        {
            logger.LogInformation("Hub method {Method} refused for {User}: {Reason}", invocationContext.HubMethodName, invocationContext.Context.UserIdentifier, ex.Message);
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Hub method {Method} failed", invocationContext.HubMethodName);
            throw;
        }
    }
}
