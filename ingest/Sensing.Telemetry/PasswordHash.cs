using System.Security.Cryptography;
using System.Text;

namespace Sensing.Telemetry;

/// <summary>
/// Salted PBKDF2-SHA256 password hashes in the form <c>pbkdf2-sha256$&lt;iterations&gt;$&lt;salt&gt;$&lt;hash&gt;</c>
/// (base64), so neither configuration nor the registry file ever holds a password. Shared by the cockpit's sign-in
/// (<c>Auth:Users</c>) and the embedded broker's device and service credentials (<c>Broker:Users</c>, the registry's
/// <c>credentials</c>). BCL only, like the rest of this project.
/// </summary>
public static class PasswordHash
{
    private const string Scheme = "pbkdf2-sha256";
    private const int Iterations = 100_000;

    public static string Create(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Iterations, HashAlgorithmName.SHA256, 32);
        return $"{Scheme}${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    /// <summary>True when <paramref name="encoded"/> is a well-formed hash (to refuse a configured plain password at start).</summary>
    public static bool IsWellFormed(string? encoded)
    {
        var parts = encoded?.Split('$');
        if (parts is not { Length: 4 } || parts[0] != Scheme || !int.TryParse(parts[1], out var iterations) || iterations < 1) return false;
        Span<byte> scratch = stackalloc byte[128];
        return Convert.TryFromBase64String(parts[2], scratch, out _) && Convert.TryFromBase64String(parts[3], scratch, out var length) && length > 0;
    }

    public static bool Verify(string password, string encoded)
    {
        var parts = encoded.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], out var iterations) || iterations < 1)
        {
            return false;
        }
        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var expected = Convert.FromBase64String(parts[3]);
            var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
