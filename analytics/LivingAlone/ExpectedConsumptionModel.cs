using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers.FastTree;

namespace Sensing.Analytics.LivingAlone;

/// <summary>
/// What a household uses in an hour relative to its usual hourly level, learned across households with ML.NET
/// (FastTree regression). The features describe the household's own usual day at that hour (by day type and over all
/// days), the population's usual day for households like it, how its last week compares with its usual level (the
/// season, a change of habits), and how much of its own history there is (a cold-start household leans on the
/// population). So one model serves a frugal widow and a family of five, and what it learns across the population is
/// applied to each household's own rhythm.
/// <para>
/// Scoring does not go through a <c>PredictionEngine</c>: the trained tree ensemble is flattened into arrays once
/// (<see cref="CompiledTrees"/>) and walked directly, which gives the same figure (a test compares them) at a fraction
/// of the cost, allocation-free and thread-safe; a city's worth of households is scored every hour.
/// </para>
/// </summary>
public sealed class ExpectedConsumptionModel
{
    /// <summary>Fixed, so retraining on the same history gives the same model and a replay gives the same alerts.</summary>
    private const int Seed = 20261124;

    private readonly MLContext _ml;
    private readonly ITransformer _transformer;
    private readonly DataViewSchema _schema;
    private readonly CompiledTrees _trees;

    private ExpectedConsumptionModel(MLContext ml, ITransformer transformer, DataViewSchema schema)
    {
        _ml = ml;
        _transformer = transformer;
        _schema = schema;
        _trees = CompiledTrees.From(FindTrees(transformer));
    }

    /// <summary>Trees in the ensemble; a model that learned nothing has none.</summary>
    public int TreeCount => _trees.Count;

    /// <summary>
    /// Trains on household-hours whose label is the hour's use over the household's usual hourly level.
    /// Every hyperparameter below is chosen for a population model of smooth, few features, not tuned per seed.
    /// </summary>
    public static ExpectedConsumptionModel Train(IReadOnlyList<UsageRow> rows)
    {
        ArgumentOutOfRangeException.ThrowIfZero(rows.Count);
        var ml = new MLContext(Seed);
        var data = ml.Data.LoadFromEnumerable(rows);
        var trainer = ml.Regression.Trainers.FastTree(new FastTreeRegressionTrainer.Options
        {
            LabelColumnName = nameof(UsageRow.Label),
            FeatureColumnName = nameof(UsageRow.Features),
            // 16 leaves ≈ depth 4: enough for hour × day type × meter × own share × recent level to interact, too few
            // to memorise a household.
            NumberOfLeaves = 16,
            // A leaf must average at least 50 household-hours, so it describes the population, not one noisy day.
            MinimumExampleCountPerLeaf = 50,
            // 100 trees at rate 0.1: the usual shrinkage pairing; a handful of smooth features converge well before that.
            NumberOfTrees = 100,
            LearningRate = 0.1,
            // One thread: deterministic split finding, and the second core stays with ingest during the daily retrain.
            NumberOfThreads = 1,
            Seed = Seed,
        });
        var model = trainer.Fit(data);
        return new ExpectedConsumptionModel(ml, model, data.Schema);
    }

    /// <summary>Expected use relative to the household's usual hourly level (may dip slightly below zero near a zero label).</summary>
    public float Predict(ReadOnlySpan<float> features) => _trees.Score(features);

    /// <summary>The same prediction through ML.NET's own engine: what <see cref="Predict"/> must equal (tests, tools).</summary>
    internal float PredictThroughMlNet(float[] features)
    {
        using var engine = _ml.Model.CreatePredictionEngine<UsageRow, UsagePrediction>(_transformer, _schema);
        return engine.Predict(new UsageRow { Features = features }).Score;
    }

    /// <summary>Mean absolute error and R² of the predictions against the rows' labels.</summary>
    public (double MeanAbsoluteError, double RSquared) Measure(IReadOnlyList<UsageRow> rows)
    {
        if (rows.Count == 0) return (double.NaN, double.NaN);
        double mean = 0;
        foreach (var row in rows) mean += row.Label;
        mean /= rows.Count;
        double absolute = 0, residual = 0, total = 0;
        foreach (var row in rows)
        {
            var error = row.Label - Predict(row.Features);
            absolute += Math.Abs(error);
            residual += error * error;
            total += (row.Label - mean) * (row.Label - mean);
        }
        return (absolute / rows.Count, total > 0 ? 1 - residual / total : double.NaN);
    }

    /// <summary>Writes the ML.NET model (a zip with the transformer chain and its input schema).</summary>
    public void Save(Stream stream) => _ml.Model.Save(_transformer, _schema, stream);

    /// <exception cref="InvalidDataException">The stream is not a model this class wrote.</exception>
    public static ExpectedConsumptionModel Load(Stream stream)
    {
        var ml = new MLContext(Seed);
        ITransformer transformer;
        DataViewSchema schema;
        try
        {
            transformer = ml.Model.Load(stream, out schema);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException or IOException)
        {
            throw new InvalidDataException($"not an ML.NET model: {ex.Message}", ex);
        }
        return new ExpectedConsumptionModel(ml, transformer, schema);
    }

    private static RegressionTreeEnsemble FindTrees(ITransformer transformer)
    {
        // Trained: the prediction transformer itself. Loaded: ML.NET wraps it in a chain of one.
        var candidates = transformer is IEnumerable<ITransformer> chain ? chain : [transformer];
        foreach (var candidate in candidates)
        {
            if (candidate is RegressionPredictionTransformer<FastTreeRegressionModelParameters> fastTree)
                return fastTree.Model.TrainedTreeEnsemble;
        }
        throw new InvalidDataException($"the model holds no FastTree regression ({transformer.GetType().Name})");
    }

    /// <summary>ML.NET output schema: the regression's score is the expected relative use.</summary>
    private sealed class UsagePrediction
    {
        [ColumnName("Score")]
        public float Score { get; set; }
    }
}

/// <summary>ML.NET input schema: one household-hour of one meter (see <see cref="UsageFeatures"/> for the order).</summary>
public sealed class UsageRow
{
    [VectorType(UsageFeatures.Count)]
    public float[] Features { get; set; } = new float[UsageFeatures.Count];

    /// <summary>The hour's use over the household's usual hourly level (training only).</summary>
    public float Label { get; set; }
}

/// <summary>Positions in the feature vector; the model is trained and scored with exactly this order.</summary>
public static class UsageFeatures
{
    public const int Count = 9;
    /// <summary>Local hour of day, 0–23.</summary>
    public const int HourOfDay = 0;
    /// <summary>1 on Saturday and Sunday (local).</summary>
    public const int IsWeekend = 1;
    public const int IsElectricity = 2;
    /// <summary>1 for a household the registry marks as elderly living alone.</summary>
    public const int IsElderly = 3;
    /// <summary>The household's usual share at this hour on this day type (blended with the population's while history is short).</summary>
    public const int Share = 4;
    /// <summary>The household's usual share at this hour over all days (blended likewise).</summary>
    public const int ShareAll = 5;
    /// <summary>The population's usual share at this hour and day type for households of this kind.</summary>
    public const int PriorShare = 6;
    /// <summary>The household's last week over its usual level: the season, a change of habits.</summary>
    public const int Recent = 7;
    /// <summary>How much of the shares is the household's own: its days of history over 14, at most 1.</summary>
    public const int OwnWeight = 8;
}

/// <summary>
/// A regression tree ensemble flattened into arrays: per node its split (feature and threshold side by side) and its
/// two children (a node, or ~k for leaf k of the whole ensemble), per tree its root, per leaf its value already times
/// its tree's weight. Walking it is what ML.NET's FastTree does for one row, without the data-view machinery around it.
/// <para>
/// It is the hot path of scoring (two predictions per household-hour, a hundred trees each): a node's split is one
/// 8-byte read and its children sit side by side, and indices are checked once, when the trees are compiled, so the
/// walk reads the arrays without bounds checks. (Picking the child by index instead of by a branch was measured too:
/// its chain of dependent loads cost 40 % more CPU than the branches on the bench population.)
/// </para>
/// </summary>
internal sealed class CompiledTrees
{
    private readonly Split[] _splits;
    private readonly int[] _children;
    private readonly int[] _roots;
    private readonly double[] _leaves;
    private readonly double _bias;
    private readonly int _features;

    private readonly record struct Split(int Feature, float Threshold);

    private CompiledTrees(Split[] splits, int[] children, int[] roots, double[] leaves, double bias)
    {
        (_splits, _children, _roots, _leaves, _bias) = (splits, children, roots, leaves, bias);
        _features = splits.Length == 0 ? 0 : splits.Max(s => s.Feature) + 1;
    }

    public int Count => _roots.Length;

    public static CompiledTrees From(RegressionTreeEnsemble ensemble)
    {
        var trees = ensemble.Trees;
        var weights = ensemble.TreeWeights;
        int nodes = 0, leaves = 0;
        foreach (var tree in trees)
        {
            if (tree.CategoricalSplitFlags.Any(f => f))
                throw new InvalidDataException("a categorical split: the welfare model has numeric features only");
            nodes += tree.NumberOfNodes;
            leaves += tree.NumberOfLeaves;
        }
        var splits = new Split[nodes];
        var children = new int[2 * nodes];
        var roots = new int[trees.Count];
        var values = new double[leaves];
        int nodeOffset = 0, leafOffset = 0;
        for (var t = 0; t < trees.Count; t++)
        {
            var tree = trees[t];
            // A tree of one leaf has no nodes: its root is its only leaf.
            roots[t] = tree.NumberOfNodes == 0 ? ~leafOffset : nodeOffset;
            int Child(int child)
            {
                var index = child >= 0 ? nodeOffset + child : ~(leafOffset + ~child);
                if (child >= tree.NumberOfNodes || ~child >= tree.NumberOfLeaves)
                    throw new InvalidDataException($"tree {t} points at a node or leaf it does not have ({child})");
                return index;
            }
            for (var n = 0; n < tree.NumberOfNodes; n++)
            {
                var feature = tree.NumericalSplitFeatureIndexes[n];
                if (feature < 0) throw new InvalidDataException($"tree {t} splits on feature {feature}");
                splits[nodeOffset + n] = new Split(feature, tree.NumericalSplitThresholds[n]);
                children[2 * (nodeOffset + n)] = Child(tree.LeftChild[n]);
                children[2 * (nodeOffset + n) + 1] = Child(tree.RightChild[n]);
            }
            for (var l = 0; l < tree.NumberOfLeaves; l++)
                values[leafOffset + l] = weights[t] * tree.LeafValues[l];
            nodeOffset += tree.NumberOfNodes;
            leafOffset += tree.NumberOfLeaves;
        }
        return new CompiledTrees(splits, children, roots, values, ensemble.Bias);
    }

    public float Score(ReadOnlySpan<float> features)
    {
        // The one check that makes the unchecked reads below safe: every split's feature is within the row.
        if (features.Length < _features)
            throw new ArgumentException($"a row of {features.Length} features; the trees split on {_features}", nameof(features));
        ref var feature0 = ref MemoryMarshal.GetReference(features);
        ref var split0 = ref MemoryMarshal.GetArrayDataReference(_splits);
        ref var child0 = ref MemoryMarshal.GetArrayDataReference(_children);
        var sum = _bias;
        foreach (var root in _roots)
        {
            var node = root;
            while (node >= 0)
            {
                var split = Unsafe.Add(ref split0, node);
                // FastTree sends a value at or below the threshold to the left child (and NaN to the right).
                if (Unsafe.Add(ref feature0, split.Feature) <= split.Threshold) node = Unsafe.Add(ref child0, 2 * node);
                else node = Unsafe.Add(ref child0, 2 * node + 1);
            }
            sum += _leaves[~node];
        }
        return (float)sum;
    }
}
