using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Audit;

namespace Sensing.Cockpit.Apis;

public sealed record SignInRequest(string? Username, string? Password);
public sealed record SignInResponse(string AccessToken, int ExpiresIn, string Role, IReadOnlyList<string> Grids, string? Community, IReadOnlyList<string> Leads);
public sealed record DemoLogin(string Username, string Password);
public sealed record ClientConfig(bool Demo, DemoLogin? DemoLogin, string TimeZone);

public static class AccessApi
{
    public const string SignInRateLimit = "sign-in";

    public static RouteGroupBuilder MapAccessApi(this RouteGroupBuilder api)
    {
        api.MapPost("/auth/token", SignIn)
            .AllowAnonymous()
            .RequireRateLimiting(SignInRateLimit)
            .WithName("SignIn")
            .WithSummary("Exchanges a username and password for a bearer token.");

        api.MapGet("/config", (IConfiguration configuration, Microsoft.Extensions.Options.IOptions<SensingOptions> sensing) =>
                TypedResults.Ok(new ClientConfig(
                    UserDirectory.DemoEnabled(configuration),
                    // The wall screen signs itself in as the demo operator, so a newcomer sees live tiles at once.
                    UserDirectory.DemoEnabled(configuration) ? new DemoLogin("operator", "operator-demo") : null,
                    sensing.Value.TimeZone)))
            .AllowAnonymous()
            .WithName("ClientConfig")
            .WithSummary("What the web pages need before sign-in: demo mode and the time zone.");
        return api;
    }

    private static Results<Ok<SignInResponse>, ValidationProblem, UnauthorizedHttpResult> SignIn(
        SignInRequest request, UserDirectory users, TokenIssuer tokens, AuditLog audit, HttpContext http)
    {
        if (string.IsNullOrEmpty(request.Username) || string.IsNullOrEmpty(request.Password))
        {
            RecordSignIn(audit, http, request.Username, SignInOutcomes.Invalid, role: null);
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["credentials"] = ["username and password are required"] });
        }
        var user = users.SignIn(request.Username, request.Password, out var knownUser);
        if (user is null)
        {
            RecordSignIn(audit, http, request.Username, knownUser ? SignInOutcomes.WrongPassword : SignInOutcomes.UnknownUser, role: null);
            return TypedResults.Unauthorized();
        }
        RecordSignIn(audit, http, user.Username, SignInOutcomes.Success, user.Role);
        return TypedResults.Ok(new SignInResponse(tokens.Issue(user), (int)tokens.Lifetime.TotalSeconds, user.Role, user.Grids, user.Community, user.Leads));
    }

    /// <summary>
    /// A sign-in the rate limit refused: recorded with the username it tried, read from the small JSON body (at most
    /// <see cref="MaxAuditedBody"/> bytes; a bigger or broken body is recorded without a name). Guessing is what the
    /// limit is there for, so the guesses are worth seeing.
    /// </summary>
    public static async ValueTask RecordRateLimitedAsync(HttpContext http, CancellationToken cancellationToken)
    {
        string? username = null;
        if (http.Request.ContentLength is null or <= MaxAuditedBody)
        {
            try
            {
                var buffer = new byte[MaxAuditedBody];
                var read = 0;
                while (read < buffer.Length && await http.Request.Body.ReadAsync(buffer.AsMemory(read), cancellationToken) is var n and > 0) read += n;
                if (read < buffer.Length)
                {
                    var options = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
                    username = System.Text.Json.JsonSerializer.Deserialize<SignInRequest>(buffer.AsSpan(0, read), options)?.Username;
                }
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or IOException or BadHttpRequestException)
            {
                // Recorded without a name: the attempt itself is what matters.
            }
        }
        RecordSignIn(http.RequestServices.GetRequiredService<AuditLog>(), http, username, SignInOutcomes.RateLimited, role: null);
    }

    private const int MaxAuditedBody = 4096;

    /// <summary>Usernames are what the client typed: capped, so a megabyte "username" does not become a megabyte log line.</summary>
    private static void RecordSignIn(AuditLog audit, HttpContext http, string? username, string outcome, string? role) =>
        audit.Record(new AuditEntry(audit.Now, AuditKinds.SignIn, "sign_in", outcome,
            username is { Length: > 128 } ? username[..128] + "…" : username, role, http.Connection.RemoteIpAddress?.ToString()));
}
