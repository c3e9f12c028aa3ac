// Is the teacher collapsing? DINO's two failure modes show in the teacher's output distributions
// (DINO §5.3): uniform collapse — every per-sample distribution tends to uniform, so the mean
// per-sample entropy tends to ln K — and one-dimension collapse — every sample puts its mass on
// the same few dimensions, so the entropy of the batch-averaged distribution tends to 0. In both,
// KL(teacher ‖ student) tends to 0 because there is nothing left to learn. TeacherSummary holds
// these numbers for the view and region heads (all-reduced over ranks and micro-batches);
// CollapseMonitor warns once when a signature persists over consecutive logging intervals.
import ESObjective
import Foundation

public struct TeacherSummary: Sendable {
    public struct Head: Sendable {
        /// Entropy of the batch-averaged teacher distribution (nats; ln K at most).
        public let batchEntropy: Double
        /// Mean entropy of the teacher's per-sample distributions.
        public let sampleEntropy: Double
        /// KL(teacher ‖ student) averaged like the loss: the cross-entropy minus the teacher entropy.
        public let kl: Double

        public init(batchEntropy: Double, sampleEntropy: Double, kl: Double) {
            self.batchEntropy = batchEntropy; self.sampleEntropy = sampleEntropy; self.kl = kl
        }

        init<C: Collection>(probabilitySum: C, entropySum: Double, rows: Double, loss: Double, pairEntropy: Double) where C.Element == Double {
            var h = 0.0
            for s in probabilitySum { let p = s / max(rows, 1); if p > 0 { h -= p * log(p) } }
            batchEntropy = h
            sampleEntropy = entropySum / max(rows, 1)
            kl = loss - pairEntropy
        }

        /// From one head's reduced teacher sums and its mean loss.
        init(_ t: ObjectiveSums.TeacherHead, loss: Double) {
            self.init(probabilitySum: t.probabilitySum, entropySum: t.entropySum, rows: t.rows, loss: loss, pairEntropy: t.pairEntropy)
        }
    }
    public let view: Head
    public let region: Head?
    public let classes: Int

    /// log.txt fields.
    public var fields: [String: Any] {
        var f: [String: Any] = ["teacher_entropy_view": view.batchEntropy, "teacher_sample_entropy_view": view.sampleEntropy, "kl_view": view.kl]
        if let r = region {
            f["teacher_entropy_region"] = r.batchEntropy; f["teacher_sample_entropy_region"] = r.sampleEntropy; f["kl_region"] = r.kl
        }
        return f
    }

    /// The progress line's part: "H(mean) 8.10 H(sample) 1.23 KL 4.56 / region …" (ln K in front).
    public var line: String {
        func part(_ h: Head) -> String { String(format: "H(mean) %.2f H(sample) %.2f KL %.2f", h.batchEntropy, h.sampleEntropy, h.kl) }
        return String(format: "teacher (ln K %.2f): view ", log(Double(classes))) + part(view) + (region.map { "; region " + part($0) } ?? "")
    }
}

/// Warns once when a collapse signature holds for `patience` consecutive logging intervals.
public struct CollapseMonitor: Sendable {
    public enum Kind: String, Sendable { case uniform, oneDimension = "one-dimension" }
    /// Per-sample entropy above this share of ln K: uniform collapse.
    public static let uniformShare = 0.95
    /// Batch-mean entropy below this share of ln K: the batch uses only a few dimensions.
    public static let oneDimensionShare = 0.25
    public let patience: Int
    var streak: [Kind: Int] = [:]
    public private(set) var warned = false

    public init(patience: Int = 3) { self.patience = patience }

    public static func signature(_ h: TeacherSummary.Head, classes: Int) -> Kind? {
        let lnK = log(Double(classes))
        if h.sampleEntropy > uniformShare * lnK { return .uniform }
        if h.batchEntropy < oneDimensionShare * lnK { return .oneDimension }
        return nil
    }

    /// Feeds one interval; returns the warning the first time a signature has persisted.
    public mutating func observe(_ s: TeacherSummary, iteration: Int) -> String? {
        var seen: [(String, TeacherSummary.Head, Kind)] = []
        for (name, head) in [("view", s.view), ("region", s.region)] {
            guard let head, let kind = CollapseMonitor.signature(head, classes: s.classes) else { continue }
            seen.append((name, head, kind))
        }
        for kind in [Kind.uniform, .oneDimension] {
            streak[kind] = seen.contains { $0.2 == kind } ? (streak[kind] ?? 0) + 1 : 0
        }
        guard !warned, let (name, head, kind) = seen.first(where: { (streak[$0.2] ?? 0) >= patience }) else { return nil }
        warned = true
        let lnK = log(Double(s.classes))
        let what = kind == .uniform
            ? String(format: "uniform collapse of the %@ head: the teacher's per-sample entropy is %.2f of ln K = %.2f", name, head.sampleEntropy, lnK)
            : String(format: "one-dimension collapse of the %@ head: the batch-averaged teacher distribution has entropy %.2f of ln K = %.2f", name, head.batchEntropy, lnK)
        let remedy = kind == .uniform
            ? "sharpen the teacher (lower \(option(\.config.teacherTemp)) / \(option(\.config.warmupTeacherTemp))), "
                + "or slow it down (raise \(option(\.config.momentumTeacher)))"
            : "the center is not keeping up: raise \(option(\.config.teacherTemp)) a little, raise \(option(\.config.momentumTeacher)), "
                + "lower \(option(\.config.lr)) or lengthen the lr warmup"
        return "warning: \(what), for \(patience) logging intervals in a row (iteration \(iteration), KL(teacher ‖ student) \(String(format: "%.3f", head.kl))). "
            + "The representation is probably not learning. Usual remedies: \(remedy). This warning is printed once."
    }
}
