using Microsoft.AspNetCore.Http.HttpResults;
using Sensing.Cockpit.Access;

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
        SignInRequest request, UserDirectory users, TokenIssuer tokens)
    {
        if (string.IsNullOrEmpty(request.Username) || string.IsNullOrEmpty(request.Password))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["credentials"] = ["username and password are required"] });
        }
        var user = users.SignIn(request.Username, request.Password);
        if (user is null)
        {
            return TypedResults.Unauthorized();
        }
        return TypedResults.Ok(new SignInResponse(tokens.Issue(user), (int)tokens.Lifetime.TotalSeconds, user.Role, user.Grids, user.Community, user.Leads));
    }
}
