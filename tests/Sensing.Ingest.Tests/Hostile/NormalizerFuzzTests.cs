using FsCheck;
using FsCheck.Fluent;
using Xunit.Abstractions;

namespace Sensing.Ingest.Tests.Hostile;

/// <summary>
/// Hostile input against every normalizer (issue 9): generated structured-but-wrong payloads and the hand-made corpus.
/// Whatever arrives, the normalizer does not throw, a refusal carries a specific reason (and becomes a dead letter),
/// and what is accepted is a valid canonical reading. A failing property prints the input (format, recipe, topic,
/// payload head) and FsCheck's replay seed.
/// </summary>
public sealed class NormalizerFuzzTests(ITestOutputHelper output)
{
    /// <summary>1,200 inputs per format, about 11,000 in all: the fast set's share of fuzzing (a few seconds).</summary>
    private const int InputsPerFormat = 1_200;

    public static TheoryData<string> Formats => [.. HostileInputs.Formats];

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_normalizer_never_throws_and_refuses_with_a_specific_reason_or_gives_valid_readings(string format)
    {
        var rig = new FuzzRig();
        var received = 0;
        Prop.ForAll(HostileInputs.For(format).ToArbitrary(), input =>
            {
                // Receive times move on, as they do live (Sparkplug keeps per-node order by them).
                rig.Run(input, FuzzRig.ReceivedAt.AddSeconds(received++));
            })
            .Check(Config.QuickThrowOnFailure.WithMaxTest(InputsPerFormat).WithEndSize(60).WithQuietOnSuccess(true));

        output.WriteLine(rig.Report());
        var tally = rig.Tallies[format];
        // The generator reaches every outcome: a fuzzer that only ever hits the first check proves little.
        Assert.True(tally.Of("refused") > InputsPerFormat / 4, $"{format}: only {tally.Of("refused")} refusals");
        Assert.True(tally.Of("accepted") > 0, $"{format}: no input was accepted, so valid readings were never checked");
        Assert.True(tally.Reasons.Count >= 5, $"{format}: only {tally.Reasons.Count} distinct reasons");
    }

    public static TheoryData<string, string> CorpusFiles
    {
        get
        {
            var rows = new TheoryData<string, string>();
            foreach (var file in Corpus.Files()) rows.Add(file.Format, file.Name);
            return rows;
        }
    }

    /// <summary>Every hand-made malformed payload is refused (a dead letter), with a reason that names the problem.</summary>
    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void A_corpus_payload_is_refused_with_a_specific_reason(string format, string name)
    {
        var file = Corpus.Files().Single(f => f.Format == format && f.Name == name);
        var rig = new FuzzRig();
        var input = new FuzzInput(format, file.Topic, file.Payload, "corpus " + name);

        var outcome = rig.Run(input);

        output.WriteLine(rig.Report(reasons: 1));
        Assert.Equal(FuzzOutcome.Refused, outcome);
    }
}
