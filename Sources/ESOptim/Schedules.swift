// Per-iteration schedules exactly as DINO/EsViT build them (docs/algorithm.md §5.2, §4.1), in closed form:
//   warmup: linspace(start, base, W) with both endpoints (iteration 0 is `start`, W−1 is `base`)
//   then for i = 0..<M (M = total − W): final + ½(base − final)(1 + cos(π i / M))
// Used for lr (base = base_lr · global_batch / 256, final = min_lr), weight decay (no warmup)
// and teacher momentum (no warmup). The teacher temperature is a per-epoch linear ramp.
import Foundation

public struct CosineSchedule: Codable, Equatable, Sendable {
    public let base: Double, final: Double
    public let totalIterations: Int, warmupIterations: Int
    public let warmupStart: Double

    public init(base: Double, final: Double, epochs: Int, iterationsPerEpoch: Int, warmupEpochs: Int = 0, warmupStart: Double = 0) {
        self.init(base: base, final: final, totalIterations: epochs * iterationsPerEpoch,
                  warmupIterations: warmupEpochs * iterationsPerEpoch, warmupStart: warmupStart)
    }

    public init(base: Double, final: Double, totalIterations: Int, warmupIterations: Int = 0, warmupStart: Double = 0) {
        self.base = base; self.final = final
        self.totalIterations = totalIterations; self.warmupIterations = min(warmupIterations, totalIterations)
        self.warmupStart = warmupStart
    }

    /// Value at global iteration `it` (clamped to the last iteration).
    public func value(at it: Int) -> Double {
        let i = min(max(it, 0), max(totalIterations - 1, 0))
        if i < warmupIterations {
            if warmupIterations == 1 { return warmupStart }          // np.linspace(start, base, 1) = [start]
            return warmupStart + (base - warmupStart) * Double(i) / Double(warmupIterations - 1)
        }
        let M = totalIterations - warmupIterations
        let k = i - warmupIterations
        return final + 0.5 * (base - final) * (1 + cos(Double.pi * Double(k) / Double(M)))
    }
}

/// Teacher temperature per epoch: linear warmup_temp → temp over `warmupEpochs` epochs
/// (endpoints included, like np.linspace), then constant.
public struct TeacherTemperature: Codable, Equatable, Sendable {
    public let warmupTemp: Double, temp: Double, warmupEpochs: Int

    public init(warmupTemp: Double, temp: Double, warmupEpochs: Int) {
        self.warmupTemp = warmupTemp; self.temp = temp; self.warmupEpochs = warmupEpochs
    }

    public func value(epoch: Int) -> Double {
        if epoch >= warmupEpochs || warmupEpochs <= 0 { return temp }
        if warmupEpochs == 1 { return warmupTemp }
        return warmupTemp + (temp - warmupTemp) * Double(epoch) / Double(warmupEpochs - 1)
    }
}

/// The peak learning rate: the base lr is per 256 images, scaled linearly by the global batch
/// (DINO's and EsViT's rule). The one place it is computed.
public enum LearningRate {
    public static func peak(base: Double, globalBatch: Int) -> Double { base * Double(globalBatch) / 256 }
}

/// DistributedSampler padding + drop_last: iterations per epoch = ⌊⌈N / G⌉ / B⌋.
public func iterationsPerEpoch(samples N: Int, worldSize G: Int, batchPerRank B: Int) -> Int {
    ((N + G - 1) / G) / B
}

/// Every per-iteration value of the recipe (docs/algorithm.md §5.1-5.3) from the global iteration number:
/// lr (from the peak, `LearningRate.peak`: linear warmup, cosine to min_lr), weight decay (cosine),
/// teacher momentum (cosine to 1), teacher temperature (per epoch), last-layer freezing
/// (epoch < freeze_last_layer) and the clipping threshold.
/// Two ways to give the lengths: upstream's, in epochs (the temperature ramp and the freeze step
/// once per epoch), or ours for runs sized in iterations (--iterations, --time-budget): every
/// length is a number of iterations and the temperature ramps every iteration. `rampUnit` is the
/// number of iterations per ramp step: iterations per epoch, or 1.
public struct TrainingSchedule: Codable, Equatable, Sendable {
    public let lr: CosineSchedule, weightDecay: CosineSchedule, momentum: CosineSchedule
    public let teacherTemperature: TeacherTemperature
    public let iterationsPerEpoch: Int
    /// Ramp steps (see `rampUnit`) during which the last layer stays frozen.
    public let freezeLastLayerSteps: Int
    public let clipGrad: Double
    /// Iterations per step of the temperature ramp and of the freeze (epoch mode: iterations per
    /// epoch; iteration mode: 1).
    public let rampUnit: Int
    /// First iteration with the region loss (the paper's late schedule, e.g. 200 of 300 epochs);
    /// 0: from the start. Before it the objective trains the view loss alone.
    public var regionStartIteration = 0

    public init(peakLR: Double, minLR: Double, warmupEpochs: Int, weightDecay: Double, weightDecayEnd: Double,
                momentumTeacher: Double, warmupTeacherTemp: Double, teacherTemp: Double, warmupTeacherTempEpochs: Int,
                epochs: Int, iterationsPerEpoch ipe: Int, freezeLastLayerEpochs: Int, clipGrad: Double) {
        lr = CosineSchedule(base: peakLR, final: minLR, epochs: epochs, iterationsPerEpoch: ipe, warmupEpochs: warmupEpochs)
        self.weightDecay = CosineSchedule(base: weightDecay, final: weightDecayEnd, epochs: epochs, iterationsPerEpoch: ipe)
        momentum = CosineSchedule(base: momentumTeacher, final: 1, epochs: epochs, iterationsPerEpoch: ipe)
        teacherTemperature = TeacherTemperature(warmupTemp: warmupTeacherTemp, temp: teacherTemp, warmupEpochs: warmupTeacherTempEpochs)
        iterationsPerEpoch = ipe; freezeLastLayerSteps = freezeLastLayerEpochs; self.clipGrad = clipGrad
        rampUnit = max(ipe, 1)
    }

    /// Iteration mode: the run is `total` iterations; warmups and the freeze are iteration counts
    /// (fractions of the run resolved by the caller). The temperature ramps per iteration, with
    /// both endpoints (iteration 0 at the warmup temperature, iteration W−1 at the final one).
    public init(peakLR: Double, minLR: Double, warmupIterations: Int, weightDecay: Double, weightDecayEnd: Double,
                momentumTeacher: Double, warmupTeacherTemp: Double, teacherTemp: Double, warmupTeacherTempIterations: Int,
                totalIterations total: Int, iterationsPerEpoch ipe: Int, freezeLastLayerIterations: Int, clipGrad: Double) {
        lr = CosineSchedule(base: peakLR, final: minLR, totalIterations: total, warmupIterations: warmupIterations)
        self.weightDecay = CosineSchedule(base: weightDecay, final: weightDecayEnd, totalIterations: total)
        momentum = CosineSchedule(base: momentumTeacher, final: 1, totalIterations: total)
        teacherTemperature = TeacherTemperature(warmupTemp: warmupTeacherTemp, temp: teacherTemp, warmupEpochs: warmupTeacherTempIterations)
        iterationsPerEpoch = ipe; freezeLastLayerSteps = freezeLastLayerIterations; self.clipGrad = clipGrad
        rampUnit = 1
    }

    public struct Values: Sendable, Equatable {
        public let lr: Double, weightDecay: Double, momentum: Double, teacherTemperature: Double
        public let freezeLastLayer: Bool, clipGrad: Double
        /// The region loss is on at this iteration (with a region head; see regionStartIteration).
        public let regionLoss: Bool
    }

    public func values(at it: Int) -> Values {
        let step = it / rampUnit
        return Values(lr: lr.value(at: it), weightDecay: weightDecay.value(at: it), momentum: momentum.value(at: it),
                      teacherTemperature: teacherTemperature.value(epoch: step), freezeLastLayer: step < freezeLastLayerSteps,
                      clipGrad: clipGrad, regionLoss: it >= regionStartIteration)
    }
}
