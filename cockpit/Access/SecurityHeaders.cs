namespace Sensing.Cockpit.Access;

/// <summary>
/// The browser-facing hardening headers, on every response the cockpit sends: pages, static files, API answers
/// (refusals included: 401, 403, 429 and problem details), hub negotiation. Set when the response starts, so
/// whatever middleware or endpoint answered, the headers are there.
/// <para>
/// The content security policy fits the two pages as they are: every script, style and font is served by the cockpit
/// itself (wwwroot, and lib/ copied from npm at build time), never from a CDN; SignalR talks to the page's own origin
/// ('self' covers ws:/wss: to it); ECharts writes inline <c>style</c> attributes into its tooltips and chart
/// containers, hence 'unsafe-inline' for styles only. No inline script is allowed, no plugin, no framing by anyone.
/// </para>
/// </summary>
public static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>The page needs no device sensor, camera, microphone or location: a worker reports by tapping, not by GPS.</summary>
    public const string PermissionsPolicy =
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

    /// <summary>A year; sent only over HTTPS (a browser ignores it over HTTP, and a plain-HTTP LAN install must stay reachable).</summary>
    public const string StrictTransportSecurity = "max-age=31536000; includeSubDomains";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Permissions-Policy"] = PermissionsPolicy;
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            if (http.Request.IsHttps) headers.StrictTransportSecurity = StrictTransportSecurity;
            // API answers carry residents' data (households, alerts with evidence, readings): no browser or proxy
            // may keep a copy. Hub negotiation too (it carries the connection token).
            if (http.Request.Path.StartsWithSegments("/api") || http.Request.Path.StartsWithSegments("/hubs"))
            {
                headers.CacheControl = "no-store";
                headers.Pragma = "no-cache";
            }
            return Task.CompletedTask;
        }, context);
        return next(context);
    });
}
