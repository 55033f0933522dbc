namespace Sensing.Simulators;

/// <summary>Order-free randomness: SplitMix64 over the inputs, so a value depends on what it is for, not on when it was drawn.</summary>
internal static class Noise
{
    public static ulong Hash(ulong a, ulong b, ulong c) => Mix(Mix(Mix(a) ^ b) ^ c);

    /// <summary>A stable key for a string (FNV-1a); <see cref="string.GetHashCode()"/> is randomized per process.</summary>
    public static ulong Key(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var ch in text)
            hash = (hash ^ ch) * 1099511628211UL;
        return hash;
    }

    public static double Unit(ulong hash) => (hash >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal value (Box–Muller on two uniforms drawn from the hash).</summary>
    public static double Gaussian(ulong hash)
    {
        var u1 = 1.0 - Unit(hash);
        var u2 = Unit(Mix(hash));
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>The SplitMix64 finalizer: a bijective scramble of 64 bits.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
