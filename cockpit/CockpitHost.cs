using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Sensing.Analytics;
using Sensing.Cockpit.Access;
using Sensing.Cockpit.Alerts;
using Sensing.Cockpit.Apis;
using Sensing.Cockpit.Audit;
using Sensing.Cockpit.Hubs;
using Sensing.Cockpit.ScaleOut;
using Sensing.Cockpit.Tiles;
using Sensing.Ingest;
using Sensing.Ingest.Registry;
using Sensing.Simulators;
using Sensing.Storage;

namespace Sensing.Cockpit;

/// <summary>Authorization policies of the API, by who does what in a control room.</summary>
public static class CockpitPolicies
{
    public const string Admin = "admin";
    /// <summary>People who see across grids: admins, operators, engineers.</summary>
    public const string ControlRoom = "control-room";
    /// <summary>People who act on alerts and households: admins, operators, grid workers (within their grids).</summary>
    public const string Responder = "responder";
}

/// <summary>
/// The one-command host: composes broker, ingest, store, analytics, demo feed and the cockpit in one process.
/// <see cref="Build"/> is what <c>Program</c> runs and what end-to-end tests start on free ports.
/// </summary>
public static class CockpitHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // The web root belongs to this assembly, wherever the process was started from (tests, `dotnet run`).
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables(prefix: "SENSING_");
        builder.Configuration.AddCommandLine(args);
        if (builder.Configuration["urls"] is null && builder.Configuration["ASPNETCORE_URLS"] is null)
        {
            builder.WebHost.UseUrls("http://localhost:5080");
        }
        configure?.Invoke(builder);
        var arenasCapped = NativeAllocator.LimitArenas(builder.Configuration);

        builder.Services
            .AddSensingStore(builder.Configuration)
            .AddSensingIngest(builder.Configuration)
            .AddSensingAnalytics(builder.Configuration)
            .AddSensingCockpit(builder.Configuration);
        if (UserDirectory.DemoEnabled(builder.Configuration))
        {
            builder.Services.AddSensingDemo(builder.Configuration);
        }

        var app = builder.Build();
        if (arenasCapped)
        {
            app.Logger.LogInformation("C allocator capped at {Arenas} arenas ({Key})", app.Configuration.GetValue(NativeAllocator.ArenasKey, NativeAllocator.DefaultArenas), NativeAllocator.ArenasKey);
        }
        // The signing key is checked now, not at the first request: a service without one must refuse to start.
        app.Services.GetRequiredService<TokenIssuer>();
        // So is the audit log's file: a service that cannot record sign-ins must not take any.
        app.Services.GetRequiredService<AuditLog>();
        if (UserDirectory.DemoEnabled(app.Configuration))
        {
            // Before any stage starts: a message queued at the broker must find the demo's devices already registered.
            app.Services.GetRequiredService<DeviceRegistry>().Load(DemoWorld.Create(app.Configuration.GetValue("Demo:Seed", DemoWorld.DefaultSeed)));
        }
        app.MapSensingCockpit();
        return app;
    }

    public static IServiceCollection AddSensingCockpit(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SensingOptions>().Bind(configuration.GetSection(SensingOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<UserDirectory>();
        services.AddSingleton<TokenIssuer>();
        services.AddOptions<AuditOptions>().Bind(configuration.GetSection(AuditOptions.Section))
            // With the data it speaks about, as the models and the spool are.
            .PostConfigure(o => o.Path = configuration[$"{AuditOptions.Section}:Path"] ?? Path.Combine(
                Path.GetDirectoryName(configuration["Store:Path"] ?? "data/sensing.duckdb") is { Length: > 0 } folder ? folder : ".", "audit.jsonl"))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<AuditLog>();
        // Every alert action this instance's book makes, once persisted, goes to the audit log (see AlertAudit).
        services.AddSingleton<IAlertReplica, AlertAudit>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<TokenIssuer>((jwt, issuer) =>
        {
            jwt.MapInboundClaims = false;
            jwt.TokenValidationParameters = issuer.ValidationParameters();
            jwt.Events = new JwtBearerEvents
            {
                // Browsers cannot set headers on WebSockets: SignalR sends the token as access_token in the query.
                OnMessageReceived = context =>
                {
                    if (context.HttpContext.Request.Path.StartsWithSegments("/hubs")
                        && context.Request.Query["access_token"] is { Count: > 0 } token)
                    {
                        context.Token = token;
                    }
                    return Task.CompletedTask;
                },
            };
        });
        services.AddAuthorizationBuilder()
            .AddPolicy(CockpitPolicies.Admin, p => p.RequireRole(Roles.Admin))
            .AddPolicy(CockpitPolicies.ControlRoom, p => p.RequireRole(Roles.Admin, Roles.Operator, Roles.Engineer))
            .AddPolicy(CockpitPolicies.Responder, p => p.RequireRole(Roles.Admin, Roles.Operator, Roles.Worker));

        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            // The only limited endpoint is sign-in: a refused attempt is an attempt too, and goes to the audit log.
            limiter.OnRejected = (rejected, ct) => AccessApi.RecordRateLimitedAsync(rejected.HttpContext, ct);
            limiter.AddPolicy(AccessApi.SignInRateLimit, context =>
            {
                var permits = context.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.SignInPermitsPerMinute;
                return RateLimitPartition.GetFixedWindowLimiter(context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = TimeSpan.FromMinutes(1) });
            });
        });

        services.ConfigureHttpJsonOptions(json => ConfigureJson(json.SerializerOptions));
        // Fix: a refused hub call (HubException, e.g. acknowledging a resolved alert) was logged by SignalR as an error
        // with a stack trace, so routine refusals looked like faults. HubRefusalLog now logs refusals as information
        // and real faults as errors; the dispatcher's own failure log is quieted to avoid logging them twice.
        services.AddSignalR(hubs => hubs.AddFilter<HubRefusalLog>()).AddJsonProtocol(json => ConfigureJson(json.PayloadSerializerOptions));
        services.AddLogging(logging => logging.AddFilter(HubRefusalLog.DispatcherCategory, LogLevel.Critical));
        services.AddProblemDetails();
        services.AddExceptionHandler<Apis.StoreUnavailableHandler>();

        services.AddOptions<AlertBookOptions>().Bind(configuration.GetSection(AlertBookOptions.Section))
            .PostConfigure<IOptions<Sensing.Storage.StoreOptions>>((o, store) => o.UnsavedPath = string.IsNullOrWhiteSpace(o.UnsavedPath)
                ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(store.Value.Path)) ?? ".", "alerts-unsaved.jsonl")
                : Path.GetFullPath(o.UnsavedPath))
            .Validate(o => o.IncidentWindow >= TimeSpan.Zero, "Alerts:IncidentWindow must not be negative.").ValidateOnStart();
        services.AddOptions<ResponseDeadlineOptions>().Bind(configuration.GetSection(ResponseDeadlineOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ResponseDeadlineOptions>, ResponseDeadlineValidation>();
        // The book's clock is the host's unless a test registered a fake one under this key first.
        services.TryAddKeyedSingleton<TimeProvider>(AlertBook.ClockKey, (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.AddSingleton<AlertBook>();
        services.AddSingleton<IAlertSink>(sp => sp.GetRequiredService<AlertBook>());
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<AlertBook>());
        services.AddHostedService(sp => sp.GetRequiredService<AlertBook>());
        services.AddHostedService<EscalationWatcher>();
        services.AddSingleton<IngestFigures>();
        services.AddSingleton<TileStoreReads>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<TileStoreReads>());
        services.AddSingleton<DeadLetteringDevices>();
        services.AddSingleton<GatePassesToday>();
        services.AddSingleton<TileBoard>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<TileBoard>());
        services.AddSingleton<TileWatchers>();
        services.AddSingleton<IMetricsSource>(sp => sp.GetRequiredService<TileWatchers>());
        services.AddSingleton<IMetricsSource, ProcessMetrics>();
        services.AddSingleton<Charts.ChartBoard>();
        services.AddHostedService<TileBroadcaster>();
        // After the book: its replication starts once the book has loaded.
        services.AddSensingBackplane(configuration);
        return services;
    }

    /// <summary>The demo feed, resuming each meter's register from the store (the demo registry is seeded in <see cref="Build"/>).</summary>
    public static IServiceCollection AddSensingDemo(this IServiceCollection services, IConfiguration configuration)
    {
        return services.AddSensingDemoFeed(configuration, async (sp, ct) =>
        {
            var store = sp.GetRequiredService<IReadingStore>();
            var registers = new Dictionary<string, (DateTimeOffset Time, double Total)>(StringComparer.Ordinal);
            foreach (var metric in new[] { Metrics.WaterTotal, Metrics.ElectricityTotal })
            {
                foreach (var last in await store.LatestPerDeviceAsync(metric, ct))
                {
                    registers[last.Device] = (last.Time, last.Value);
                }
            }
            return registers;
        });
    }

    public static WebApplication MapSensingCockpit(this WebApplication app)
    {
        // First, so every response carries the headers, whichever middleware answers it.
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();

        var api = app.MapGroup("/api").RequireAuthorization();
        api.MapAccessApi();
        api.MapRegistryApi();
        api.MapHouseholdPrivacyApi();
        api.MapReadingsApi();
        api.MapAlertsApi();
        api.MapExportApi();
        api.MapChartsApi();
        api.MapAuditApi();

        // A connection lives as long as its token: when it expires the hub closes the connection, and the page must
        // sign in again, as it must for the API. Without this a phone kept its pushes for good after sign-out time.
        app.MapHub<CockpitHub>("/hubs/cockpit", hub => hub.CloseOnAuthenticationExpiration = true);
        app.MapHub<WorkerHub>("/hubs/worker", hub => hub.CloseOnAuthenticationExpiration = true);
        app.MapOperationsEndpoints();
        return app;
    }

    /// <summary>One JSON shape everywhere (API and hubs): snake_case names, enums as their contract strings.</summary>
    public static void ConfigureJson(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never;
    }
}
