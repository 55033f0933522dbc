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
/// A regression tree ensemble flattened into arrays: per node the feature, the threshold and the two children (a
/// negative child ~k is leaf k), per tree the offset of its nodes and leaves. Walking it is what ML.NET's FastTree does
/// for one row, without the data-view machinery around it.
/// </summary>
internal sealed class CompiledTrees
{
    private readonly int[] _nodeOffset;
    private readonly int[] _leafOffset;
    private readonly int[] _feature;
    private readonly float[] _threshold;
    private readonly int[] _left;
    private readonly int[] _right;
    private readonly double[] _leaf;
    private readonly double[] _weight;
    private readonly double _bias;

    private CompiledTrees(int[] nodeOffset, int[] leafOffset, int[] feature, float[] threshold, int[] left, int[] right, double[] leaf, double[] weight, double bias)
    {
        (_nodeOffset, _leafOffset, _feature, _threshold, _left, _right, _leaf, _weight, _bias) = (nodeOffset, leafOffset, feature, threshold, left, right, leaf, weight, bias);
    }

    public int Count => _weight.Length;

    public static CompiledTrees From(RegressionTreeEnsemble ensemble)
    {
        var trees = ensemble.Trees;
        var nodeOffset = new int[trees.Count];
        var leafOffset = new int[trees.Count];
        int nodes = 0, leaves = 0;
        for (var t = 0; t < trees.Count; t++)
        {
            if (trees[t].CategoricalSplitFlags.Any(f => f))
                throw new InvalidDataException("a categorical split: the welfare model has numeric features only");
            nodeOffset[t] = nodes;
            leafOffset[t] = leaves;
            nodes += trees[t].NumberOfNodes;
            leaves += trees[t].NumberOfLeaves;
        }
        var feature = new int[nodes];
        var threshold = new float[nodes];
        var left = new int[nodes];
        var right = new int[nodes];
        var leaf = new double[leaves];
        for (var t = 0; t < trees.Count; t++)
        {
            var tree = trees[t];
            for (var n = 0; n < tree.NumberOfNodes; n++)
            {
                feature[nodeOffset[t] + n] = tree.NumericalSplitFeatureIndexes[n];
                threshold[nodeOffset[t] + n] = tree.NumericalSplitThresholds[n];
                left[nodeOffset[t] + n] = tree.LeftChild[n];
                right[nodeOffset[t] + n] = tree.RightChild[n];
            }
            for (var l = 0; l < tree.NumberOfLeaves; l++)
                leaf[leafOffset[t] + l] = tree.LeafValues[l];
        }
        return new CompiledTrees(nodeOffset, leafOffset, feature, threshold, left, right, leaf, [.. ensemble.TreeWeights], ensemble.Bias);
    }

    public float Score(ReadOnlySpan<float> features)
    {
        var sum = _bias;
        for (var t = 0; t < _weight.Length; t++)
        {
            var offset = _nodeOffset[t];
            // A tree of one leaf has no nodes: its only leaf is ~0.
            var node = _leafOffset.Length > t && (t + 1 < _nodeOffset.Length ? _nodeOffset[t + 1] : _feature.Length) == offset ? ~0 : 0;
            while (node >= 0)
            {
                var i = offset + node;
                // FastTree sends a value at or below the threshold to the left child.
                node = features[_feature[i]] <= _threshold[i] ? _left[i] : _right[i];
            }
            sum += _weight[t] * _leaf[_leafOffset[t] + ~node];
        }
        return (float)sum;
    }
}
